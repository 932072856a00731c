r"""netnswrap parser for `ip netns list` and `ip netns list-id` text.

`ip netns list` lines are `NAME` or `NAME (id: N)` and give
`{"name": str, "id": int}` (no `id` when the namespace has no nsid here),
as `ip -j netns list` does.  `ip netns list-id` lines are `nsid N` or
`nsid N (iproute2 netns name: NAME)` and give `{"nsid": int, "name": str}`
as `ip -j netns list-id` does.  A name containing a newline cannot be told
apart in text; use `ip -j netns list` when that matters.

Usage (module):

    import jc
    import netnswrap.parsers.ip_netns
    result = jc.parse(netnswrap.parsers.ip_netns, ip_netns_list_text)

Schema:

    [
      {
        "name":   string,
        "id":     integer,     # ip netns list
        "nsid":   integer      # ip netns list-id
      }
    ]

Examples:

    >>> parse("blue (id: 0)\nred\n")
    [{'name': 'blue', 'id': 0}, {'name': 'red'}]
"""
from __future__ import annotations

import re
from typing import Dict, List, Union

from ..errors import ParseError
from ._common import ParserInfo, text_of

__version__ = ParserInfo.version


class info(ParserInfo):
    """Parser metadata (jc contract)."""
    description = "`ip netns list` and `ip netns list-id` command parser"
    magic_commands = ["ip netns", "ip netns list", "ip netns list-id"]


_LIST = re.compile(r"(?P<name>.+?)(?: \(id: (?P<id>-?\d+)\))?")
_LIST_ID = re.compile(r"nsid (?P<nsid>\d+)(?: \(iproute2 netns name: (?P<name>.+)\))?")


def _process(proc_data: List[Dict]) -> List[Dict]:
    """Types are final after the raw pass; nothing to convert."""
    return proc_data


def parse(data: Union[str, bytes], raw: bool = False, quiet: bool = False) -> List[Dict]:
    """Parse the text output of `ip netns list` or `ip netns list-id`.

    Raises ParseError for malformed input; empty input gives [].
    """
    text = text_of(data)
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    result: List[Dict] = []
    list_id = bool(lines) and _LIST_ID.fullmatch(lines[0]) is not None
    for line in lines:
        if list_id:
            match = _LIST_ID.fullmatch(line)
            if not match:
                raise ParseError(f"not an 'ip netns list-id' line: {line[:60]!r}")
            entry: Dict = {"nsid": int(match.group("nsid"))}
        else:
            match = _LIST.fullmatch(line)
            if not match or "/" in match.group("name"):
                raise ParseError(f"not an 'ip netns list' line: {line[:60]!r}")
            entry = {}
        if match.group("name") is not None:
            entry["name"] = match.group("name")
        if not list_id and match.group("id") is not None:
            entry["id"] = int(match.group("id"))
        result.append(entry)
    return result if raw else _process(result)
