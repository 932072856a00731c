r"""netnswrap parser for `ethtool -S DEV` text.

Every counter comes out as an int under its own name.  Keys are kept as
printed (spaces, colons, dots, hyphens, brackets included; the value is
what follows the last `: `).  Per-queue sub-sections (a header line
followed by more-indented lines) give keys `HEADER.NAME`, or `HEADER[N]`
for `[N]: value` lines.  `no stats available` gives {}.

Usage (module):

    import jc
    import netnswrap.parsers.ethtool_stats
    result = jc.parse(netnswrap.parsers.ethtool_stats, ethtool_s_text)

Schema:

    {
      "<counter name>":   integer
    }

Examples:

    >>> parse("NIC statistics:\n     peer_ifindex: 7\n")
    {'peer_ifindex': 7}
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Tuple, Union

from ..errors import ParseError
from ._common import ParserInfo, text_of, to_int

__version__ = ParserInfo.version


class info(ParserInfo):
    """Parser metadata (jc contract)."""
    description = "`ethtool -S` command parser"
    magic_commands = ["ethtool -S"]


_HEADERS = ("NIC statistics:", "no stats available")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _split(line: str) -> Tuple[str, Optional[str]]:
    """`NAME: VALUE` -> (NAME, VALUE); `NAME:` -> (NAME, None)."""
    text = line.strip()
    if text.endswith(":"):
        return text[:-1].strip(), None
    name, sep, value = text.rpartition(":")
    if not sep or not name.strip():
        raise ParseError(f"not a 'name: value' counter line: {text[:60]!r}")
    return name.strip(), value.strip()


def _process(proc_data: Dict) -> Dict:
    """Types are final after the raw pass; nothing to convert."""
    return proc_data


def parse(data: Union[str, bytes], raw: bool = False, quiet: bool = False) -> Dict[str, int]:
    """Parse the text output of `ethtool -S DEV` into {counter name: int}.

    Raises ParseError for malformed input; empty input gives {}.
    """
    text = text_of(data)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    stats: Dict[str, int] = {}
    repeats: Dict[str, int] = {}                    # name -> the next #N to try
    section: Optional[Tuple[str, int]] = None       # (name, indent)
    for n, line in enumerate(lines):
        if line.strip() in _HEADERS or re.fullmatch(r"\S.*statistics( for \S+)?:", line.strip()):
            section = None
            continue
        indent = _indent(line)
        if section and indent <= section[1]:
            section = None
        nxt = lines[n + 1] if n + 1 < len(lines) else ""
        if nxt and _indent(nxt) > indent and lines[n + 1].strip() not in _HEADERS:
            section = (line.strip().rstrip(":").strip(), indent)
            continue
        name, value = _split(line)
        if value is None:
            raise ParseError(f"counter without a value: {line.strip()[:60]!r}")
        if section:
            name = f"{section[0]}{name}" if name.startswith("[") else f"{section[0]}.{name}"
        key, count = name, repeats.get(name, 2)
        while key in stats:  # a repeated name: NAME#2, NAME#3…, from where the last one stopped
            key, count = f"{name}#{count}", count + 1
        repeats[name] = count
        stats[key] = to_int(value, name)
    return stats if raw else _process(stats)
