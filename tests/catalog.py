"""The error catalog (fixtures/reference/error-catalog.json, copied from ../shared/reference) as test cases."""
from __future__ import annotations

import json
import re
from pathlib import Path

CATALOG = Path(__file__).resolve().parents[1] / "fixtures" / "reference" / "error-catalog.json"

# The catalog's suggested exception names that netnswrap spells differently.
RENAMED = {"CommandNotFound": "ToolNotFound", "Timeout": "CommandTimeout",
           "CommandFailed": "CommandError"}


def load_cases() -> list:
    return json.loads(CATALOG.read_text())["cases"]


def expected(case: dict):
    """(exception class name or None for success, batch line or None) the catalog suggests."""
    text = case["exception"]
    if text.startswith("(success"):
        return None, None
    batch = re.match(r"BatchError\((?:line=(\d+), cause=(\w+)|lines=\[(\d+))", text)
    if batch:
        line = int(batch.group(1) or batch.group(3))
        cause = batch.group(2) or "LinkNotFound"  # lines=[2,4]: both lines are missing devices
        return RENAMED.get(cause, cause), line
    name = re.match(r"\w+", text).group(0)
    return RENAMED.get(name, name), None
