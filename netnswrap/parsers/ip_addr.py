r"""netnswrap parser for `ip addr show` text (iproute2 of any version, busybox).

Reads normal, `-o`, `-d` and `-s` output of iproute2 and busybox `ip addr`
and gives what `ip -j addr show` prints for the same state: one dict per
link (the same link keys as the `ip_link` parser) with an `addr_info` list.

Usage (module):

    import jc
    import netnswrap.parsers.ip_addr
    result = jc.parse(netnswrap.parsers.ip_addr, ip_addr_text)

Schema (link keys as in `netnswrap.parsers.ip_link`, plus):

    [
      {
        "ifindex":                integer,
        "ifname":                 string,
        ...
        "addr_info": [
          {
            "family":              string,    # inet, inet6
            "local":               string,
            "address":             string,    # peer of a point-to-point address
            "prefixlen":           integer,
            "metric":              integer,
            "broadcast":           string,
            "anycast":             string,
            "scope":               string,
            "secondary":           boolean,   # inet
            "temporary":           boolean,   # inet6
            "dynamic":             boolean,
            "noprefixroute":       boolean,
            "mngtmpaddr":          boolean,
            "tentative":           boolean,
            "dadfailed":           boolean,
            "deprecated":          boolean,
            "nodad":               boolean,
            "optimistic":          boolean,
            "home":                boolean,
            "autojoin":            boolean,
            "stable-privacy":      boolean,
            "label":               string,    # inet
            "valid_life_time":     integer,   # forever: 4294967295
            "preferred_life_time": integer    # forever: 4294967295
          }
        ]
      }
    ]

Examples:

    >>> text = '''4: v2@v3: <BROADCAST,MULTICAST,UP> mtu 1400 qdisc noqueue state DOWN group default qlen 1000
    ...     link/ether ce:c8:45:8f:d3:9c brd ff:ff:ff:ff:ff:ff
    ...     inet 10.9.1.1 peer 10.9.1.2/32 scope global v2
    ...        valid_lft forever preferred_lft forever'''
    >>> parse(text)[0]["addr_info"][0]["address"]
    '10.9.1.2'
"""
from __future__ import annotations

from typing import Dict, List, Union

from ..errors import ParseError
from ._common import FOREVER, ParserInfo, text_of, to_int
from ._iplink_text import parse_records

__version__ = ParserInfo.version


class info(ParserInfo):
    """Parser metadata (jc contract)."""
    description = "`ip addr show` command parser (iproute2 and busybox text)"
    magic_commands = ["ip addr", "ip address", "ip addr show", "ip a"]


# IFA_F_* bits, for old iproute2 that prints unknown ones as `flags HEX`
_FLAG_BITS = [(0x01, "secondary"), (0x02, "nodad"), (0x04, "optimistic"),
              (0x08, "dadfailed"), (0x10, "home"), (0x20, "deprecated"),
              (0x40, "tentative"), (0x100, "mngtmpaddr"), (0x200, "noprefixroute"),
              (0x400, "autojoin"), (0x800, "stable-privacy")]
_FLAG_WORDS = {name for _, name in _FLAG_BITS} | {"temporary", "dynamic"}
_VALUE_KEYS = {"brd": "broadcast", "any": "anycast", "scope": "scope"}


def _prefix(addr: str) -> tuple:
    """Split `ADDR/LEN` into (ADDR, LEN or None)."""
    host, slash, plen = addr.partition("/")
    return host, (to_int(plen, "prefix length") if slash else None)


def _set_flag(entry: Dict, name: str) -> None:
    if name == "secondary" and entry["family"] == "inet6":
        name = "temporary"          # IFA_F_SECONDARY is "temporary" for IPv6
    entry[name] = True


def _address(tokens: List[str]) -> Dict:
    """`inet[6] ADDR[/LEN] [peer P/LEN] [metric N] [brd B] [any A] scope S FLAGS… [LABEL]`."""
    if len(tokens) < 2:
        raise ParseError(f"address line without an address: {' '.join(tokens)!r}")
    entry: Dict = {"family": tokens[0]}
    entry["local"], plen = _prefix(tokens[1])
    i = 2
    if i + 1 < len(tokens) and tokens[i] == "peer":
        entry["address"], plen = _prefix(tokens[i + 1])
        i += 2
    if plen is not None:
        entry["prefixlen"] = plen
    while i < len(tokens):
        tok = tokens[i]
        if tok in _VALUE_KEYS and i + 1 < len(tokens):
            entry[_VALUE_KEYS[tok]] = tokens[i + 1]
            i += 1
        elif tok == "metric" and i + 1 < len(tokens):
            entry["metric"] = to_int(tokens[i + 1], "metric")
            i += 1
        elif tok == "flags" and i + 1 < len(tokens):
            bits = int(tokens[i + 1], 16) if all(
                c in "0123456789abcdefABCDEF" for c in tokens[i + 1]) else None
            if bits is None:
                raise ParseError(f"bad address flags {tokens[i + 1]!r}")
            for bit, name in _FLAG_BITS:
                if bits & bit:
                    _set_flag(entry, name)
            i += 1
        elif tok in _FLAG_WORDS:
            _set_flag(entry, tok)
        elif i == len(tokens) - 1 and entry["family"] == "inet":
            entry["label"] = tok
        i += 1
    return entry


def _lifetimes(tokens: List[str], entry: Dict) -> None:
    """`valid_lft N|forever preferred_lft N|forever` (N as `123sec`)."""
    keys = {"valid_lft": "valid_life_time", "preferred_lft": "preferred_life_time"}
    for name, value in zip(tokens[::2], tokens[1::2]):
        if name in keys:
            entry[keys[name]] = FOREVER if value == "forever" else to_int(
                value[:-3] if value.endswith("sec") else value, name)


def _process(proc_data: List[Dict]) -> List[Dict]:
    """Types are final after the raw pass; nothing to convert."""
    return proc_data


def parse(data: Union[str, bytes], raw: bool = False, quiet: bool = False) -> List[Dict]:
    """Parse the text output of `ip [-d] [-s] [-o] addr show` (or busybox `ip addr`).

    Returns a list of link dicts, each with `addr_info`, keyed like
    `ip -j addr show`; raises ParseError for malformed input; empty input gives [].
    """
    text = text_of(data)
    if not text.strip():
        return []
    result = []
    for link, lines in parse_records(text):
        addrs: List[Dict] = []
        for line in lines:
            tokens = line.split()
            if tokens[0] == "valid_lft":
                if not addrs:
                    raise ParseError(f"lifetimes before any address: {line!r}")
                _lifetimes(tokens, addrs[-1])
            else:
                addrs.append(_address(tokens))
        link["addr_info"] = addrs
        result.append(link)
    return result if raw else _process(result)
