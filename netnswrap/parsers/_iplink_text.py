"""The link part of `ip link` / `ip addr` text, shared by ip_link and ip_addr.

Reads the record header (`N: NAME[@LINK]: <FLAGS> mtu …`), the `link/TYPE`
line, `-d` details (linkinfo kind and slave lines, queue and size limits),
`-s`/`-s -s` statistics in old and new layouts, `altname` and `alias` lines,
from iproute2 of any version and from busybox `ip`, normal or `-o` (one
line per record, `\\` separators).  Lines it does not own (addresses) are
handed back to the caller.  Keys and types are those of `ip -j -d -s`.
"""
from __future__ import annotations

import re
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from ..errors import ParseError
from ._common import scalar, to_int

HEADER = re.compile(r"(\d+):\s+([^\s:]+):\s+<([^>]*)>(.*)$")
ONELINE_ADDR = re.compile(r"(\d+):\s+([^\s:]+)\s+(inet6?\s.*)$")
_SEPARATOR = re.compile(r"\\(?=\s|$)")
_STATS_HEADER = re.compile(r"(RX|TX)(?: errors)?:\s")
ADDRESS_WORDS = ("inet", "inet6", "valid_lft")

# header line: text key -> (json key, converter)
_HEADER_KEYS = {
    "mtu": ("mtu", int), "qdisc": ("qdisc", str), "master": ("master", str),
    "state": ("operstate", str), "mode": ("linkmode", str),
    "group": ("group", str), "qlen": ("txqlen", int),
}
# details printed after the kind lines (or on the link/ line when there is no kind)
_TAIL_KEYS = {
    "addrgenmode": ("inet6_addr_gen_mode", str),
    "numtxqueues": ("num_tx_queues", int), "numrxqueues": ("num_rx_queues", int),
    "gso_max_size": ("gso_max_size", int), "gso_max_segs": ("gso_max_segs", int),
    "tso_max_size": ("tso_max_size", int), "tso_max_segs": ("tso_max_segs", int),
    "gro_max_size": ("gro_max_size", int),
    "gso_ipv4_max_size": ("gso_ipv4_max_size", int),
    "gro_ipv4_max_size": ("gro_ipv4_max_size", int),
    "parentbus": ("parentbus", str), "parentdev": ("parentdev", str),
}


def _netnsid(value: str) -> int:
    return -1 if value == "unknown" else int(value)


# details of the link/ line
_LINK_KEYS = dict(_TAIL_KEYS, **{
    "permaddr": ("permaddr", str),
    "link-netns": ("link_netns", str), "link-netnsid": ("link_netnsid", _netnsid),
    "promiscuity": ("promiscuity", int), "allmulti": ("allmulti", int),
    "minmtu": ("min_mtu", int), "maxmtu": ("max_mtu", int),
    "protodown": ("proto_down", lambda v: v == "on"),
})

# statistics column names -> stats64 keys
_STATS_KEYS = {
    "overrun": "over_errors", "missed": "missed_errors", "mcast": "multicast",
    "carrier": "carrier_errors", "collsns": "collisions",
    "length": "length_errors", "crc": "crc_errors", "frame": "frame_errors",
    "fifo": "fifo_errors", "aborted": "aborted_errors", "window": "window_errors",
    "heartbeat": "heartbeat_errors", "heartbt": "heartbeat_errors",
    "transns": "carrier_changes", "otherhost": "otherhost_dropped",
}


def _pairs(tokens: List[str], out: Dict, table: Dict) -> None:
    """Read `key value` pairs whose key is in `table`; skip unknown tokens."""
    i = 0
    while i < len(tokens):
        spec = table.get(tokens[i])
        if spec is None or i + 1 >= len(tokens):
            i += 1
            continue
        key, conv = spec
        try:
            out[key] = conv(tokens[i + 1])
        except ValueError as exc:
            raise ParseError(f"bad value for {tokens[i]!r}: {tokens[i + 1]!r}") from exc
        i += 2


# ---- linkinfo kind / slave details (`ip -d`) -------------------------------

def _srcport(tokens: List[str], i: int, data: Dict) -> int:
    data["port_range"] = {"low": to_int(tokens[i + 1], "srcport"),
                          "high": to_int(tokens[i + 2], "srcport")}
    return i + 3


def _ttl(tokens: List[str], i: int, data: Dict) -> int:
    value = tokens[i + 1]
    if value == "inherit":
        data["ttl_inherit"] = True
    else:
        data["ttl"] = 0 if value == "auto" else to_int(value, "ttl")
    return i + 2


def _vlan_flags(tokens: List[str], i: int, data: Dict) -> int:
    data["flags"] = [f for f in tokens[i][1:-1].split(",") if f]
    return i + 1


def _generic(renames: Dict[str, str], keep: Tuple[str, ...] = (),
             flags: Optional[Mapping[str, Tuple[str, object]]] = None,
             special: Optional[Dict[str, Callable]] = None) -> Callable:
    """Build a reader for `key value …` detail tokens.

    `renames` maps text keys to JSON keys, `keep` lists keys whose values
    stay strings, `flags` maps bare words to (key, value), and `special`
    maps a word to a function(tokens, i, data) -> next index.
    """
    flags = flags or {}
    special = special or {}

    def read(tokens: List[str]) -> Dict:
        data: Dict = {}
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            handler = special.get(tok[0] if tok[:1] == "<" else tok)
            if tok in flags:
                key, value = flags[tok]
                data[key] = value
                i += 1
            elif handler is not None:
                try:
                    i = handler(tokens, i, data)
                except IndexError:
                    break
            elif tok == "ad_info":          # bond: a nested block, always last
                data["ad_info"] = read(tokens[i + 1:])
                break
            elif re.fullmatch(r"[a-z][a-z0-9_]*", tok) and i + 1 < len(tokens):
                value = tokens[i + 1]
                data[renames.get(tok, tok)] = value if tok in keep else scalar(value)
                i += 2
            else:
                i += 1
        return data
    return read


_BRIDGE_INTERVALS = {
    f"mcast_{n}_interval": f"mcast_{n}_intvl"
    for n in ("last_member", "membership", "querier", "query",
              "query_response", "startup_query")
}
_VXLAN_FLAGS = {
    "udpcsum": ("udp_csum", True), "noudpcsum": ("udp_csum", False),
    "udp6zerocsumtx": ("udp_zero_csum6_tx", True),
    "noudp6zerocsumtx": ("udp_zero_csum6_tx", False),
    "udp6zerocsumrx": ("udp_zero_csum6_rx", True),
    "noudp6zerocsumrx": ("udp_zero_csum6_rx", False),
    "nolearning": ("learning", False), "learning": ("learning", True),
    "proxy": ("proxy", True), "rsc": ("rsc", True), "l2miss": ("l2miss", True),
    "l3miss": ("l3miss", True), "external": ("external", True),
    "vnifilter": ("vnifilter", True), "gbp": ("gbp", True), "gpe": ("gpe", True),
    "remcsumtx": ("remcsum_tx", True), "remcsumrx": ("remcsum_rx", True),
    "localbypass": ("localbypass", True), "nolocalbypass": ("localbypass", False),
}
_KIND_READERS: Dict[str, Callable] = {
    "bridge": _generic(
        dict(_BRIDGE_INTERVALS, designated_root="root_id", group_address="group_addr",
             mcast_last_member_count="mcast_last_member_cnt",
             mcast_startup_query_count="mcast_startup_query_cnt"),
        keep=("group_fwd_mask", "bridge_id", "designated_root", "vlan_protocol")),
    "bridge_slave": _generic(
        dict(port_id="id", port_no="no", designated_bridge="bridge_id",
             designated_root="root_id", mcast_router="multicast_router",
             mcast_fast_leave="fastleave"),
        keep=("group_fwd_mask", "group_fwd_mask_str", "port_id", "port_no")),
    "bond": _generic({}),
    "bond_slave": _generic({}),
    "macvlan": _generic({}, flags={"nopromisc": ("nopromisc", True)}),
    "macvtap": _generic({}, flags={"nopromisc": ("nopromisc", True)}),
    "tun": _generic({}, keep=("user", "group"),
                    flags={"multi_queue": ("multi_queue", True)}),
    "vrf": _generic({}),
    "vrf_slave": _generic({}),
    "vlan": _generic({}, keep=("protocol",), special={"<": _vlan_flags}),
    "vxlan": _generic(
        dict(dev="link", dstport="port", flowlabel="label", maxaddress="limit"),
        keep=("group", "remote", "local", "tos", "df", "flowlabel"),
        flags=_VXLAN_FLAGS, special={"srcport": _srcport, "ttl": _ttl}),
}


def _kind_line(tokens: List[str], link: Dict) -> None:
    """`KIND opts… [addrgenmode …]` or `KIND_slave opts… [addrgenmode …]`."""
    kind, rest = tokens[0], tokens[1:]
    stop = next((i for i, t in enumerate(rest) if t in _TAIL_KEYS), len(rest))
    opts, tail = rest[:stop], rest[stop:]
    info = link.setdefault("linkinfo", {})
    if kind.endswith("_slave"):
        info["info_slave_kind"] = kind[:-len("_slave")]
        prefix = "info_slave_data"
    else:
        info["info_kind"] = kind
        prefix = "info_data"
    reader = _KIND_READERS.get(kind)
    if opts and reader is not None:
        data = reader(opts)
        if data:
            info[prefix] = data
    _pairs(tail, link, _TAIL_KEYS)


# ---- the record --------------------------------------------------------------

def _header(match: "re.Match", link: Dict) -> None:
    link["ifindex"] = int(match.group(1))
    name, _, lower = match.group(2).partition("@")
    if not name:
        raise ParseError(f"empty interface name in {match.group(0)!r}")
    if lower == "NONE":
        link["link"] = None
    elif re.fullmatch(r"if\d+", lower):
        link["link_index"] = int(lower[2:])
    elif lower == name:      # busybox: peer's ifindex resolved in this namespace
        link["link_index"] = link["ifindex"]
    elif lower:
        link["link"] = lower
    link["ifname"] = name
    link["flags"] = [f for f in match.group(3).split(",") if f]
    _pairs(match.group(4).split(), link, _HEADER_KEYS)


def _link_line(tokens: List[str], link: Dict) -> None:
    """`link/TYPE [ADDR [brd|peer ADDR]] [permaddr …] [link-netns…] [-d details]`."""
    link["link_type"] = tokens[0][len("link/"):]
    i = 1
    if i < len(tokens) and tokens[i] not in _LINK_KEYS:
        link["address"] = tokens[i]
        i += 1
        if i + 1 < len(tokens) and tokens[i] in ("brd", "peer"):
            if tokens[i] == "peer":
                link["link_pointtopoint"] = True
            link["broadcast"] = tokens[i + 1]
            i += 2
    _pairs(tokens[i:], link, _LINK_KEYS)


def _stats(names: List[str], values: List[str], link: Dict) -> None:
    direction = "rx" if names[0].startswith("RX") else "tx"
    cols = names[2:] if names[1] == "errors:" else names[1:]
    if len(values) != len(cols):
        raise ParseError(f"statistics: {len(cols)} columns but {len(values)} values")
    block = link.setdefault("stats64", {}).setdefault(direction, {})
    for col, value in zip(cols, values):
        block[_STATS_KEYS.get(col, col)] = to_int(value, f"{direction} {col}")


def split_lines(text: str) -> List[str]:
    """Lines of the output, with `-o` records (`\\` separators) unfolded."""
    return _SEPARATOR.sub("\n", text).splitlines()


def parse_records(text: str) -> List[Tuple[Dict, List[str]]]:
    """Parse `ip link`/`ip addr` text into (link dict, address lines) pairs.

    The address lines (`inet …`, `inet6 …`, `valid_lft …`) are returned
    untouched, in order, for the caller to read.
    """
    records: List[Tuple[Dict, List[str]]] = []
    link: Optional[Dict] = None
    extra: List[str] = []
    lines = split_lines(text)
    n = 0
    while n < len(lines):
        line = lines[n].strip()
        n += 1
        if not line:
            continue
        match = HEADER.match(line)
        if match:
            link, extra = {}, []
            _header(match, link)
            records.append((link, extra))
            continue
        match = ONELINE_ADDR.match(line)
        if match:                      # `ip -o addr`: one address per record
            index = int(match.group(1))
            if link is None or link.get("ifindex") != index or "flags" in link:
                link, extra = {"ifindex": index, "ifname": match.group(2)}, []
                records.append((link, extra))
            extra.append(match.group(3))
            continue
        if link is None:
            raise ParseError(f"not ip link/addr output: {line[:60]!r}")
        tokens = line.split()
        word = tokens[0]
        if word.startswith("link/"):
            _link_line(tokens, link)
        elif word in ADDRESS_WORDS:
            extra.append(line)
        elif _STATS_HEADER.match(line):
            if n >= len(lines):
                raise ParseError(f"statistics header without values: {line!r}")
            _stats(tokens, lines[n].split(), link)
            n += 1
        elif word == "altname" and len(tokens) == 2:
            link.setdefault("altnames", []).append(tokens[1])
        elif word == "alias":
            link["ifalias"] = line[len("alias"):].strip()
        elif ("link_type" in link and re.fullmatch(r"[a-z][\w-]*", word)
              and word != "vf" and not _has_kind(link, word)):
            _kind_line(tokens, link)
        # anything else (vf lists, qos maps, elisions) is not part of the contract
    return records


def _has_kind(link: Dict, word: str) -> bool:
    """True when `word` cannot start a new kind line (already have that kind)."""
    info = link.get("linkinfo", {})
    if word.endswith("_slave"):
        return "info_slave_kind" in info
    return "info_kind" in info or "info_slave_kind" in info
