"""What the benchmarks share: their RESULTS.md sections, and re-running
themselves in a mount and network namespace of their own."""
from __future__ import annotations

import os
import re
import subprocess
import sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def write_section(title: str, section: str) -> None:
    """Replace the section of RESULTS.md that starts with ``title`` (others'
    sections stay as they are), or add it at the end."""
    text = open(RESULTS).read() if os.path.exists(RESULTS) else "# Benchmark results\n"
    pattern = re.compile(re.escape(title) + r".*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else \
        text.rstrip("\n") + "\n\n" + section
    with open(RESULTS, "w") as fh:
        fh.write(text.rstrip("\n") + "\n")


def isolate(flag: str) -> None:
    """Re-execute this script as root in a mount and network namespace of its
    own (``unshare -m -n``), with the environment variable ``flag`` set to 1
    so that the second run knows; exits with its status."""
    if os.geteuid() != 0:
        sys.exit(f"{os.path.basename(sys.argv[0])} needs root (it builds namespaces)")
    env = dict(os.environ, **{flag: "1"})
    sys.exit(subprocess.run(["unshare", "-m", "-n", "--propagation", "private", sys.executable, *sys.argv],
                            env=env).returncode)
