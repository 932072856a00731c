r"""netnswrap parser for `ethtool -k DEV` text.

Gives the shape of `ethtool --json -k DEV` (without its `ifname`): one
entry per feature with `active`, `fixed` and, where the text shows it,
`requested` (`on [requested off]`; equal to `active` when no note is
printed; absent for `[fixed]` features, whose requested state ethtool's
text hides).  A feature with indented sub-features (`tx-checksumming`, …)
has `fixed` and `requested` null, as in ethtool's JSON.  Any indentation (TAB, spaces)
is accepted, and `netns-local` as older kernels print it is an ordinary
feature.

Usage (module):

    import jc
    import netnswrap.parsers.ethtool_features
    result = jc.parse(netnswrap.parsers.ethtool_features, ethtool_k_text)

Schema:

    {
      "<feature>": {
        "active":     boolean,
        "fixed":      boolean/null,
        "requested":  boolean/null    # absent for [fixed] features
      }
    }

Examples:

    >>> parse("Features for lo:\nnetns-local: on [fixed]\n")
    {'netns-local': {'active': True, 'fixed': True}}
"""
from __future__ import annotations

import re
from typing import Dict, Union

from ..errors import ParseError
from ._common import ParserInfo, text_of

__version__ = ParserInfo.version


class info(ParserInfo):
    """Parser metadata (jc contract)."""
    description = "`ethtool -k` command parser"
    magic_commands = ["ethtool -k"]


_LINE = re.compile(r"([^\s:][^:]*):\s+(on|off)(?:\s+\[(fixed|requested on|requested off)\])?\s*$")
_HEADER = re.compile(r"(Features for .*|Actual changes|Offload parameters for .*):\s*$")


def _indent(line: str) -> int:
    return len(line.expandtabs(8)) - len(line.expandtabs(8).lstrip())


def _process(proc_data: Dict) -> Dict:
    """Types are final after the raw pass; nothing to convert."""
    return proc_data


def parse(data: Union[str, bytes], raw: bool = False, quiet: bool = False) -> Dict[str, Dict]:
    """Parse the text output of `ethtool -k DEV` into {feature: {active, fixed, requested}}.

    Raises ParseError for malformed input; empty input gives {}.
    """
    text = text_of(data)
    lines = [ln for ln in text.splitlines() if ln.strip() and not _HEADER.match(ln.strip())]
    features: Dict[str, Dict] = {}
    for n, line in enumerate(lines):
        match = _LINE.match(line.strip())
        if not match:
            raise ParseError(f"not a 'feature: on|off' line: {line.strip()[:60]!r}")
        name, state, note = match.groups()
        active = state == "on"
        has_children = n + 1 < len(lines) and _indent(lines[n + 1]) > _indent(line)
        if has_children and note != "fixed":
            entry = {"active": active, "fixed": None, "requested": None}
        elif note == "fixed":
            entry = {"active": active, "fixed": True}
        else:
            requested = note.endswith("on") if note and note.startswith("requested") else active
            entry = {"active": active, "fixed": False, "requested": requested}
        features[name.strip()] = entry
    return features if raw else _process(features)
