r"""netnswrap parser for `ip neigh` text (iproute2 of any version, busybox).

Reads the normal, `-o`, `-s` and `-d` output of `ip [-4|-6] neigh show`
(also `show dev X`, `show proxy`, `show nud all`, `ip neigh get`) and of
busybox `ip neigh`, and gives the dictionaries `ip -j neigh` prints for the
same state (with the same options), for every field the text shows: `state`
is a list, `router`/`proxy`/`extern_learn`/… are keys whose value is null
(as `ip -j` prints them), `-s` counters are `refcnt`, `used`, `confirmed`,
`updated`, `probes`.  Busybox always prints the `-s` counters; old
iproute2's `nud reachable` is read as state ["REACHABLE"].

Usage (module):

    import jc
    import netnswrap.parsers.ip_neigh
    result = jc.parse(netnswrap.parsers.ip_neigh, ip_neigh_text)

Schema (keys appear only when the text shows them):

    [
      {
        "deleted":       boolean,    # `ip monitor` "Deleted"
        "miss":          null,       # `ip monitor` "miss"
        "dst":           string,
        "dev":           string,     # absent for `ip neigh show dev X`
        "lladdr":        string,
        "router":        null,
        "proxy":         null,
        "managed":       null,
        "extern_learn":  null,
        "offload":       null,
        "extern_valid":  null,
        "refcnt":        integer,    # -s
        "used":          integer,    # -s, seconds
        "confirmed":     integer,    # -s, seconds
        "updated":       integer,    # -s, seconds
        "probes":        integer,    # -s
        "state":         [string],   # REACHABLE, STALE, FAILED, NOARP, PERMANENT, ...
        "protocol":      string
      }
    ]

Examples:

    >>> parse("fe80::2 dev eth0 lladdr 52:56:00:00:00:02 router STALE")
    [{'dst': 'fe80::2', 'dev': 'eth0', 'lladdr': '52:56:00:00:00:02', 'router': None, 'state': ['STALE']}]
    >>> parse("172.16.11.113 dev enp0s25  FAILED")[0]["state"]
    ['FAILED']
"""
from __future__ import annotations

import re
from typing import Dict, List, Union

from ..errors import ParseError
from ._common import ParserInfo, text_of, to_int
from ._iplink_text import split_lines

__version__ = ParserInfo.version


class info(ParserInfo):
    """Parser metadata (jc contract)."""
    description = "`ip neigh` command parser (iproute2 and busybox text)"
    magic_commands = ["ip neigh", "ip neigh show", "ip neighbor", "ip neighbour", "ip n"]


STATES = ("INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE", "FAILED", "NOARP", "PERMANENT")
NULL_FLAGS = frozenset(["router", "proxy", "managed", "extern_learn", "offload", "extern_valid"])
_DESTINATION = re.compile(r"[0-9A-Za-z:][\w.:%-]*")
# `used U/C/T`; iproute2 6.1 glues the next word on: `used 0/60/0probes 0`
_USED = re.compile(r"(\d+)/(\d+)/(\d+)(probes)?")


def _value(tokens: List[str], i: int) -> str:
    if i + 1 >= len(tokens):
        raise ParseError(f"{tokens[i]!r} without a value in {' '.join(tokens)!r}")
    return tokens[i + 1]


def _states(word: str) -> List[str]:
    """`STALE`, busybox `NOARP,PERMANENT` -> the states; [] if word is not a state list."""
    parts = word.split(",")
    return parts if all(p in STATES for p in parts) else []


def _neighbour(tokens: List[str]) -> Dict:
    """One record: `[Deleted|miss] DST [dev D] [lladdr L] [FLAGS] [ref N] [used U/C/T] [probes N] [STATE…] [proto P]`."""
    entry: Dict = {}
    i = 0
    if tokens[0] == "Deleted":
        entry["deleted"] = True
        i += 1
    elif tokens[0] == "miss":
        entry["miss"] = None
        i += 1
    if i >= len(tokens) or not _DESTINATION.fullmatch(tokens[i]) or re.fullmatch(r"\d+:", tokens[i]):
        raise ParseError(f"not an ip neigh line: {' '.join(tokens)[:80]!r}")
    entry["dst"] = tokens[i]
    i += 1
    while i < len(tokens):
        word = tokens[i]
        states = _states(word)
        if word in ("dev", "lladdr"):
            entry[word] = _value(tokens, i)
            i += 2
        elif word in NULL_FLAGS:
            entry[word] = None
            i += 1
        elif word == "ref":
            entry["refcnt"] = to_int(_value(tokens, i), "ref")
            i += 2
        elif word == "used":
            match = _USED.fullmatch(_value(tokens, i))
            if not match:
                raise ParseError(f"used: expected U/C/T, got {tokens[i + 1]!r}")
            entry.update(used=int(match.group(1)), confirmed=int(match.group(2)),
                         updated=int(match.group(3)))
            i += 2
            if match.group(4):
                entry["probes"] = to_int(_value(tokens, i - 1), "probes")
                i += 1
        elif word == "probes":
            entry["probes"] = to_int(_value(tokens, i), "probes")
            i += 2
        elif states:
            entry.setdefault("state", []).extend(states)
            i += 1
        elif word == "nud":                      # ancient iproute2: `nud reachable`
            state = _value(tokens, i).upper()
            if state not in STATES:
                raise ParseError(f"unknown neighbour state {tokens[i + 1]!r}")
            entry.setdefault("state", []).append(state)
            i += 2
        elif word == "proto":
            entry["protocol"] = _value(tokens, i)
            i += 2
        else:
            raise ParseError(f"unexpected {word!r} in neighbour {' '.join(tokens)!r}")
    return entry


def _process(proc_data: List[Dict]) -> List[Dict]:
    """Types are final after the raw pass; nothing to convert."""
    return proc_data


def parse(data: Union[str, bytes], raw: bool = False, quiet: bool = False) -> List[Dict]:
    """Parse the text output of `ip [-s] [-o] neigh show|get` (or busybox `ip neigh`).

    Returns a list of neighbour dicts keyed like `ip -j neigh`; raises
    ParseError for malformed input; empty input gives [].
    """
    text = text_of(data)
    if not text.strip():
        return []
    records: List[List[str]] = []
    for line in split_lines(text):
        tokens = line.split()
        if not tokens:
            continue
        if line[0].isspace():               # a record folded by its author (`\` + indent)
            if not records:
                raise ParseError(f"continuation line before any neighbour: {line.strip()[:60]!r}")
            records[-1].extend(tokens)
        else:
            records.append(tokens)
    result = [_neighbour(tokens) for tokens in records]
    return result if raw else _process(result)
