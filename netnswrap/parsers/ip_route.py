r"""netnswrap parser for `ip route` text (iproute2 of any version, busybox).

Reads the normal, `-d`, `-o` and `-s` output of `ip [-4|-6|-M] route show`
(any table, `table all`), `ip route get` (with its `cache` line) and
busybox `ip route`, and gives the dictionaries `ip -j route` prints for the
same state (with the same options), for every field the text shows.  Old
layouts (double spaces, trailing spaces, `realms`, `mtu lock`, tab- or
space-indented `nexthop` lines, lines folded with `\`) are read too.

As in `ip -j`: `type` is there only when the text names it (not for
unicast unless `-d`), `table` only when not main (unless `-d`), `flags` is
always a list, `metrics` a list of one object, `nexthops` a list of objects
each with `flags`.  Two departures, both where `ip -j` itself is not plain
JSON or not the state: a key that `ip -j` prints twice in one object (an
`encap` section's `dst`, `src` or `tos` after the route's own) is kept as
`encap_dst`, `encap_src`, `encap_tos`; an old negative `error -113` is
given as the unsigned number current iproute2 prints (`4294967183`).

Usage (module):

    import jc
    import netnswrap.parsers.ip_route
    result = jc.parse(netnswrap.parsers.ip_route, ip_route_text)

    # or without jc:
    result = netnswrap.parsers.ip_route.parse(ip_route_text)

Schema (keys appear only when the text shows them, `flags` always):

    [
      {
        "deleted":        boolean,     # `ip monitor` "Deleted"
        "type":           string,      # local, broadcast, blackhole, unreachable, ...
        "dst":            string,      # "default", "10.0.0.0/8", "fd00::1", MPLS label
        "from":           string,      # source selector (`from ADDR`)
        "src":            string,      # `from 0/N`
        "nhid":           integer,
        "to":             string,      # MPLS `as to LABEL`
        "encap":          string,      # mpls, ip, ip6, seg6, ...
        "mode":           string,      # seg6
        "segs":           [string],    # seg6
        "encap_dst":      string,      # mpls label stack, ip/ip6 tunnel dst
        "encap_src":      string,
        "encap_tos":      integer,
        "id":             integer,     # ip/ip6 encap
        "ttl":            integer,
        "hoplimit":       integer,
        "tc":             integer,
        "tos":            string,
        "gateway":        string,      # `via ADDR`
        "via":            {"family": string, "host": string},   # `via inet6 ADDR`
        "dev":            string,
        "table":          string,
        "protocol":       string,
        "scope":          string,
        "prefsrc":        string,      # `src ADDR`
        "metric":         integer,
        "flags":          [string],    # onlink, linkdown, dead, ...
        "mark":           integer,
        "flow":           {"from": string, "to": string},       # realms
        "uid":            integer,
        "cache":          [string],    # route get: [], ["local"], ...
        "expires":        integer,     # seconds
        "error":          integer,
        "users":          integer,
        "used":           integer,
        "age":            integer,
        "ipid":           string,
        "ts":             string,
        "tsage":          integer,
        "metrics":        [{"mtu": integer, "rtt": integer, "advmss": integer,
                            "hoplimit": integer, "initcwnd": integer,
                            "congestion": string, "ecn": null, ...}],
        "iif":            string,
        "pref":           string,      # low, medium, high
        "ttl-propogate":  boolean,     # (sic, as iproute2 spells it)
        "nh_info":        {"id": integer, "gateway": string, "dev": string,
                           "scope": string, "protocol": string, "flags": [string],
                           "group": [{"id": integer, "weight": integer}], ...},
        "nexthops": [
          {"gateway": string, "via": object, "dev": string, "weight": integer,
           "flags": [string], "encap": string, "to": string, "flow": object}
        ]
      }
    ]

Examples:

    >>> text = '''default via 10.0.2.2 dev enp0s3 proto dhcp metric 100
    ... 10.70.0.0/16
    ... \tnexthop via 10.1.0.2 dev v0 weight 1
    ... \tnexthop via 10.2.0.2 dev v2 weight 3 linkdown'''
    >>> parse(text)[0]
    {'dst': 'default', 'gateway': '10.0.2.2', 'dev': 'enp0s3', 'protocol': 'dhcp', 'metric': 100, 'flags': []}
    >>> parse(text)[1]["nexthops"][1]
    {'gateway': '10.2.0.2', 'dev': 'v2', 'weight': 3, 'flags': ['linkdown']}
"""
from __future__ import annotations

import re
from typing import Callable, Dict, List, Union

from ..errors import ParseError
from ._common import ParserInfo, text_of, to_int
from ._iplink_text import split_lines

__version__ = ParserInfo.version


class info(ParserInfo):
    """Parser metadata (jc contract)."""
    description = "`ip route` command parser (iproute2 and busybox text)"
    magic_commands = ["ip route", "ip route show", "ip route list", "ip r", "ip route get"]


TYPES = frozenset(["unicast", "local", "broadcast", "anycast", "multicast", "blackhole",
                   "unreachable", "prohibit", "throw", "nat", "xresolve", "none"])
FLAGS = frozenset(["dead", "onlink", "pervasive", "offload", "trap", "notify", "linkdown",
                   "unresolved", "rt_offload", "rt_trap", "rt_offload_failed"])
FAMILIES = frozenset(["inet", "inet6", "mpls", "link", "bridge", "packet", "ipx", "dnet"])
_METRICS = frozenset(["mtu", "window", "rtt", "rttvar", "ssthresh", "cwnd", "advmss",
                      "reordering", "hoplimit", "initcwnd", "features", "rto_min",
                      "initrwnd", "quickack", "congctl", "fastopen_no_cookie"])
_STRINGS = {"dev": "dev", "table": "table", "proto": "protocol", "scope": "scope",
            "src": "prefsrc", "tos": "tos", "iif": "iif", "pref": "pref"}
_INTS = {"nhid": "nhid", "metric": "metric", "uid": "uid", "users": "users", "used": "used"}
_SECONDS = {"expires": "expires", "age": "age", "tsage": "tsage"}
# keys `ip -j` prints after `flags`: `flags` goes in before the first of them
_AFTER_FLAGS = frozenset(["mark", "flow", "uid", "cache", "expires", "error", "users", "used",
                          "age", "ipid", "ts", "tsage", "metrics", "iif", "pref",
                          "ttl-propogate", "nh_info", "nexthops"])
_DESTINATION = re.compile(r"[0-9A-Za-z:][\w.:%/-]*")
_ENCAP_CLASH = frozenset(["dst", "src", "tos"])


def _need(tokens: List[str], i: int, n: int = 1) -> None:
    if i + n >= len(tokens):
        raise ParseError(f"{tokens[i]!r} without a value in {' '.join(tokens)!r}")


def _put(route: Dict, key: str, value) -> None:
    if key in _AFTER_FLAGS:
        route.setdefault("flags", [])
    route[key] = value


def _seconds(value: str, what: str) -> int:
    return to_int(value[:-3] if value.endswith("sec") else value, what)


def _millis(value: str, what: str) -> int:
    """rtt-like metric text: `250ms`, `1.5s`, or a bare number (old iproute2)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s)?", value)
    if not match:
        raise ParseError(f"{what}: expected a time like 250ms, got {value!r}")
    number = float(match.group(1))
    return int(round(number * 1000)) if match.group(2) == "s" else int(number)


def _hex(value: str, what: str) -> str:
    if not re.fullmatch(r"(0x)?[0-9a-fA-F]+", value):
        raise ParseError(f"{what}: expected a hex number, got {value!r}")
    return hex(int(value, 16))


# ---- the parts of a route line -------------------------------------------------

def _metric(tokens: List[str], i: int, route: Dict) -> int:
    """`NAME [lock] VALUE` of RTA_METRICS -> route["metrics"][0][NAME]."""
    name = tokens[i]
    i += 1
    if i < len(tokens) and tokens[i] == "lock":
        i += 1
    if i >= len(tokens):
        raise ParseError(f"metric {name!r} without a value")
    value = tokens[i]
    metrics = route.get("metrics") or [{}]
    _put(route, "metrics", metrics)
    box = metrics[0]
    if name == "features":
        while i < len(tokens) and tokens[i] in ("ecn", "tcp_usec_ts"):
            box[tokens[i]] = None
            i += 1
        if i < len(tokens) and tokens[i].startswith("0x"):
            box["features"] = _hex(tokens[i], "features")
            i += 1
        return i
    if name == "congctl":
        box["congestion"] = value
    elif name in ("rtt", "rttvar", "rto_min"):
        box[name] = _millis(value, name)
    else:
        number = to_int(value, name)
        if not (name == "hoplimit" and number in (-1, 4294967295)):   # "unset", not printed now
            box[name] = number
    return i + 1


def _via(tokens: List[str], i: int, route: Dict) -> int:
    """`via ADDR` -> gateway; `via FAMILY ADDR` -> via {family, host}."""
    _need(tokens, i)
    if tokens[i + 1] in FAMILIES and i + 2 < len(tokens):
        route["via"] = {"family": tokens[i + 1], "host": tokens[i + 2]}
        return i + 3
    route["gateway"] = tokens[i + 1]
    return i + 2


def _realms(tokens: List[str], i: int, route: Dict) -> int:
    """`realm TO` or `realms FROM/TO` (old: `realms TO`) -> flow."""
    _need(tokens, i)
    source, slash, dest = tokens[i + 1].rpartition("/")
    _put(route, "flow", {"from": source, "to": dest} if slash else {"to": dest})
    return i + 2


def _cache(tokens: List[str], i: int, route: Dict) -> int:
    """`cache [<local,brd>]` of `ip route get` (RTM_F_CLONED) -> cache list."""
    flags: List[str] = []
    i += 1
    if i < len(tokens) and tokens[i].startswith("<"):
        word = tokens[i]
        if not word.endswith(">"):
            raise ParseError(f"unterminated cache flags {word!r}")
        flags = [f for f in word[1:-1].split(",") if f and not re.fullmatch(r"[0-9a-f]+", f)]
        i += 1
    _put(route, "cache", flags)
    return i


def _error(tokens: List[str], i: int, route: Dict) -> int:
    _need(tokens, i)
    _put(route, "error", to_int(tokens[i + 1], "error") & 0xFFFFFFFF)
    return i + 2


def _mark(tokens: List[str], i: int, route: Dict) -> int:
    _need(tokens, i)
    value = tokens[i + 1]
    _put(route, "mark", int(_hex(value, "mark"), 16) if value.startswith("0x")
         else to_int(value, "mark"))
    return i + 2


def _as_to(tokens: List[str], i: int, route: Dict) -> int:
    _need(tokens, i, 2)
    if tokens[i + 1] != "to":
        raise ParseError(f"expected 'as to LABEL', got {' '.join(tokens[i:i + 3])!r}")
    route["to"] = tokens[i + 2]
    return i + 3


def _from(tokens: List[str], i: int, route: Dict) -> int:
    _need(tokens, i)
    value = tokens[i + 1]
    route["src" if re.fullmatch(r"0/\d+", value) else "from"] = value
    return i + 2


def _hexkey(tokens: List[str], i: int, route: Dict) -> int:
    _need(tokens, i)
    _put(route, tokens[i], _hex(tokens[i + 1], tokens[i]))
    return i + 2


def _ttl_propagate(tokens: List[str], i: int, route: Dict) -> int:
    _need(tokens, i)
    _put(route, "ttl-propogate", tokens[i + 1] == "enabled")
    return i + 2


# encap TYPE … : per type, the words of its section (and how many values each takes)
def _encap_mpls(tokens: List[str], i: int, route: Dict) -> int:
    if i < len(tokens) and re.fullmatch(r"\d+(/\d+)*", tokens[i]):
        route["encap_dst"] = tokens[i]
        i += 1
    if i + 1 < len(tokens) and tokens[i] == "ttl":
        route["ttl"] = to_int(tokens[i + 1], "ttl")
        i += 2
    return i


def _encap_seg6(tokens: List[str], i: int, route: Dict) -> int:
    if i + 1 < len(tokens) and tokens[i] == "mode":
        route["mode"] = tokens[i + 1]
        i += 2
    if i + 2 < len(tokens) and tokens[i] == "segs" and tokens[i + 2] == "[":
        end = tokens.index("]", i) if "]" in tokens[i:] else -1
        if end < 0:
            raise ParseError("seg6 segment list without ']'")
        route["segs"] = tokens[i + 3:end]
        i = end + 1
    if i + 1 < len(tokens) and tokens[i] == "hmac":
        route["hmac"] = _hex(tokens[i + 1], "hmac")
        i += 2
    return i


_TUNNEL_WORDS = {"id": int, "src": str, "dst": str, "ttl": int, "tos": int, "hoplimit": int,
                 "tc": int, "key": None, "csum": None, "seq": None}


def _encap_tunnel(tokens: List[str], i: int, route: Dict) -> int:
    """ip/ip6 encap: `id N src A dst B ttl N tos N key csum seq` (each at most once)."""
    seen = set()
    while i < len(tokens) and tokens[i] in _TUNNEL_WORDS and tokens[i] not in seen:
        word = tokens[i]
        seen.add(word)
        key = "encap_" + word if word in _ENCAP_CLASH else word
        conv = _TUNNEL_WORDS[word]
        if conv is None:
            route[key] = True
            i += 1
            continue
        _need(tokens, i)
        route[key] = to_int(tokens[i + 1], word) if conv is int else tokens[i + 1]
        i += 2
    return i


def _encap_other(tokens: List[str], i: int, route: Dict) -> int:
    """Other encap types: `word value` pairs up to the next route word."""
    while i + 1 < len(tokens) and tokens[i] not in _HANDLERS and tokens[i] not in FLAGS:
        word = tokens[i]
        route["encap_" + word if word in _ENCAP_CLASH else word] = tokens[i + 1]
        i += 2
    return i


_ENCAPS = {"mpls": _encap_mpls, "seg6": _encap_seg6, "ip": _encap_tunnel, "ip6": _encap_tunnel}


def _encap(tokens: List[str], i: int, route: Dict) -> int:
    _need(tokens, i)
    kind = tokens[i + 1]
    route["encap"] = kind
    return _ENCAPS.get(kind, _encap_other)(tokens, i + 2, route)


def _value(key: str, conv: Callable) -> Callable:
    def read(tokens: List[str], i: int, route: Dict) -> int:
        _need(tokens, i)
        _put(route, key, conv(tokens[i + 1], tokens[i]))
        return i + 2
    return read


_HANDLERS: Dict[str, Callable] = {
    "from": _from, "as": _as_to, "encap": _encap, "via": _via, "realm": _realms,
    "realms": _realms, "cache": _cache, "error": _error, "mark": _mark,
    "ipid": _hexkey, "ts": _hexkey, "ttl-propogate": _ttl_propagate,
    "ttl-propagate": _ttl_propagate,
}
_HANDLERS.update({word: _value(key, lambda v, w: v) for word, key in _STRINGS.items()})
_HANDLERS.update({word: _value(key, to_int) for word, key in _INTS.items()})
_HANDLERS.update({word: _value(key, _seconds) for word, key in _SECONDS.items()})
_HANDLERS.update({word: _metric for word in _METRICS})


def _read(tokens: List[str], i: int, route: Dict, handlers: Dict[str, Callable] = _HANDLERS) -> None:
    """Read `keyword value…` tokens from index i into route."""
    while i < len(tokens):
        word = tokens[i]
        if word in FLAGS:
            route.setdefault("flags", []).append(word)
            i += 1
            continue
        handler = handlers.get(word)
        if handler is None:
            raise ParseError(f"unexpected {word!r} in route {' '.join(tokens)!r}")
        i = handler(tokens, i, route)


def _start(tokens: List[str]) -> Dict:
    """`[Deleted] [TYPE] DST …` -> the route dict of one record's first line."""
    route: Dict = {}
    i = 0
    if tokens[0] == "Deleted":
        route["deleted"] = True
        i += 1
    if i + 1 < len(tokens) and tokens[i] in TYPES:
        route["type"] = tokens[i]
        i += 1
    if i >= len(tokens):
        raise ParseError(f"route without a destination: {' '.join(tokens)!r}")
    dst = tokens[i]
    if dst in _HANDLERS or dst in FLAGS or not _DESTINATION.fullmatch(dst) or re.fullmatch(r"\d+:", dst):
        raise ParseError(f"not an ip route line: {' '.join(tokens)[:80]!r}")
    route["dst"] = dst
    _read(tokens, i + 1, route)
    return route


_NEXTHOP_HANDLERS = dict(_HANDLERS, weight=_value("weight", to_int))


def _nexthop(tokens: List[str]) -> Dict:
    """One `nexthop [encap…] [as to L] [via [FAMILY] GW] [realms…] dev D [weight W] FLAGS`."""
    entry: Dict = {}
    _read(tokens, 0, entry, _NEXTHOP_HANDLERS)
    entry.setdefault("flags", [])
    return entry


def _nh_group(tokens: List[str], i: int, entry: Dict) -> int:
    """`group ID[,WEIGHT]/ID…` of a nexthop object."""
    _need(tokens, i)
    group = []
    for member in tokens[i + 1].split("/"):
        ident, comma, weight = member.partition(",")
        item = {"id": to_int(ident, "group id")}
        if comma:
            item["weight"] = to_int(weight, "group weight")
        group.append(item)
    entry["group"] = group
    return i + 2


def _null(tokens: List[str], i: int, entry: Dict) -> int:
    entry[tokens[i]] = None
    return i + 1


# `nh_info …` (ip -d, a route with nhid): the nexthop object as `ip nexthop` prints it
_NH_HANDLERS: Dict[str, Callable] = dict(_HANDLERS, id=_value("id", to_int), group=_nh_group, blackhole=_null,
                                     fdb=_null, type=_value("type", lambda v, w: v))


def _nh_info(tokens: List[str]) -> Dict:
    """`nh_info id N [group …] [via GW] [dev D] [scope S] [blackhole] [proto P] FLAGS [fdb]`."""
    entry: Dict = {}
    _read(tokens, 0, entry, _NH_HANDLERS)
    entry.setdefault("flags", [])
    return entry


def _process(proc_data: List[Dict]) -> List[Dict]:
    """Types are final after the raw pass; nothing to convert."""
    return proc_data


def parse(data: Union[str, bytes], raw: bool = False, quiet: bool = False) -> List[Dict]:
    """Parse the text output of `ip [-d] [-o] [-s] route show|get` (or busybox `ip route`).

    Returns a list of route dicts keyed like `ip -j route`; raises
    ParseError for malformed input; empty input gives [].
    """
    text = text_of(data)
    if not text.strip():
        return []
    routes: List[Dict] = []
    for line in split_lines(text):
        tokens = line.split()
        if not tokens:
            continue
        if not line[0].isspace():
            routes.append(_start(tokens))
            continue
        if not routes:
            raise ParseError(f"continuation line before any route: {line.strip()[:60]!r}")
        route = routes[-1]
        if tokens[0] == "nexthop":
            _put(route, "nexthops", route.get("nexthops", []))
            route["nexthops"].append(_nexthop(tokens[1:]))
        elif tokens[0] == "nh_info":
            _put(route, "nh_info", _nh_info(tokens[1:]))
        elif "nexthops" in route:
            raise ParseError(f"unexpected line after nexthops: {line.strip()[:60]!r}")
        else:
            _read(tokens, 0, route)
    for route in routes:
        route.setdefault("flags", [])
    return routes if raw else _process(routes)
