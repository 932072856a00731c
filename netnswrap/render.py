"""A :func:`~netnswrap.host_topology.topology` dict as text for people: a tree
(``netnswrap topology``) or a Graphviz graph (``netnswrap topology --dot``)."""
from __future__ import annotations

import json
from typing import Dict, List, Optional, Tuple

from .containers import label
from .errors import PERMISSION_HINT
from .nsids import describe, place


def tree(topology: dict) -> str:
    """One block per namespace, one line per link, veth peers and bridge ports
    named, then one line per route of its main table (the ``fe80::/64`` routes
    the kernel gives every interface left out)::

        the caller's namespace (current)  88 processes, PID 2 kthreadd
          ├─ 3: docker0  bridge UP  172.17.0.1/16  ports veth30314cf
          ├─ 5: veth30314cf  veth UP  master docker0  ⇄ eth0 (4) in PID 1503
          ├─ route default via 10.0.2.2 dev eth0 proto dhcp
          └─ route 172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1
    """
    peers = _peers(topology)
    ports = {_key((b["netns"], b["pid"]), b): b["ports"] for b in topology["bridges"]}
    lines: List[str] = []
    hidden = topology.get("hidden_processes", 0)
    for space in topology["namespaces"]:
        lines.append(_title(space, hidden))
        items = [_link_line(link, peers.get(_key(place(space), link)), ports.get(_key(place(space), link)))
                 for link in space["links"]]
        items += [_route_line(route) for route in space.get("routes", ()) if not _link_local(route)]
        for n, item in enumerate(items):
            lines.append(f"  {'└─' if n == len(items) - 1 else '├─'} {item}")
    return "".join(line + "\n" for line in lines + _notes(topology))


def _notes(topology: dict) -> List[str]:
    """What could not be read, said once: namespaces by reason, hidden processes."""
    reasons: Dict[str, int] = {}
    for space in topology["namespaces"]:
        if not space.get("readable", True):
            why = (space.get("error") or "").rsplit(": ", 1)[-1] or "unknown reason"
            reasons[why] = reasons.get(why, 0) + 1
    notes = []
    for why, count in reasons.items():
        hint = f"; {PERMISSION_HINT}" if why in ("Operation not permitted", "Permission denied") else ""
        notes.append(f"note: {count} namespace{'s' * (count > 1)} could not be read ({why}{hint}): "
                     "marked unreadable, their links are unknown, not empty")
    hidden = topology.get("hidden_processes", 0)
    if hidden:
        notes.append(f"note: {hidden} process{'es' * (hidden > 1)} hidden from this user: process "
                     "counts are of those it may inspect (at least)")
    return ([""] if notes else []) + notes


def dot(topology: dict) -> str:
    """A Graphviz ``graph``: a cluster per namespace, a box per link (loopback
    left out), a solid edge per veth pair, a dashed one from each bridge port
    to its bridge. Render with ``dot -Tsvg``."""
    out = ["graph topology {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    node: Dict[Tuple, str] = {}
    for n, space in enumerate(topology["namespaces"]):
        label = _name(space) + ("" if space.get("readable", True) else " (unreadable)")
        out += [f"  subgraph cluster_{n} {{", f"    label={_quote(label)};"]
        for link in space["links"]:
            if link.get("link_type") == "loopback":
                continue
            node[_key(place(space), link)] = ident = f"n{n}_{link['ifindex']}"
            label = "\n".join([link["ifname"]] + _addresses(link))
            out.append(f"    {ident} [label={_quote(label)}];")
        out.append("  }")
    for a, b in topology["veth_pairs"]:
        ends = [node.get(_key((end["netns"], end["pid"]), end)) for end in (a, b) if end]
        if len(ends) == 2 and None not in ends:
            out.append(f"  {ends[0]} -- {ends[1]} [label=veth];")
    for bridge in topology["bridges"]:
        where = (bridge["netns"], bridge["pid"])
        for port in bridge["ports"]:
            ports = [ident for (w, _, name), ident in node.items() if w == where and name == port]
            out += [f"  {ident} -- {node[_key(where, bridge)]} [style=dashed];" for ident in ports]
    return "\n".join(out + ["}"]) + "\n"


def _key(where, link: dict) -> Tuple:
    return (tuple(where), link["ifindex"], link["ifname"])


def _peers(topology: dict) -> Dict[Tuple, Optional[dict]]:
    """Each veth end → the other end (None when out of sight)."""
    peers: Dict[Tuple, Optional[dict]] = {}
    for a, b in topology["veth_pairs"]:
        peers[_key((a["netns"], a["pid"]), a)] = b
        if b:
            peers[_key((b["netns"], b["pid"]), b)] = a
    return peers


def _name(space: dict) -> str:
    if space["name"] is not None:
        return f"netns {space['name']}"
    if space["caller"]:
        return "the caller's namespace"
    held = ", ".join(label(container) for container in space.get("containers", ()))
    return f"PID {space['pid']} {held}" if held else f"PID {space['pid']}"


def _title(space: dict, hidden: int = 0) -> str:
    by_pid = place(space)[1] is not None
    command = f" ({space['command']})" if by_pid and space["command"] else ""
    words = [_name(space) + command + (" (current)" if space["current"] else "")]
    if space["nsid"] is not None:
        words.append(f"nsid {space['nsid']}")
    count = len(space["pids"])
    if count:
        holder = f", PID {space['pid']} {space['command']}" if space["command"] and not by_pid else ""
        words.append(f"{'at least ' if hidden else ''}{count} process{'es' if count > 1 else ''}{holder}")
    if not space.get("readable", True):
        words.append("unreadable")
    return "  ".join(words)


def _addresses(link: dict) -> List[str]:
    return [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", ()) if "local" in a]


def _link_line(link: dict, peer: Optional[dict], ports: Optional[List[str]]) -> str:
    kind = (link.get("linkinfo") or {}).get("info_kind") or link.get("link_type", "")
    words = [f"{link['ifindex']}: {link['ifname']}", f"{kind} {link.get('operstate', '')}".strip()]
    words += _addresses(link)
    if link.get("master"):
        words.append(f"master {link['master']}")
    if ports is not None:
        words.append("ports " + (", ".join(ports) or "none"))
    if kind == "veth":
        words.append(f"⇄ {peer['ifname']} ({peer['ifindex']}) in {describe((peer['netns'], peer['pid']))}"
                     if peer else "⇄ peer out of sight")
    return "  ".join(words)


def _link_local(route: dict) -> bool:
    return route.get("dst") == "fe80::/64" and route.get("protocol") == "kernel"


def _route_line(route: dict) -> str:
    """A route as ``ip route`` prints it: ``route DST [via GW] [dev DEV] [proto P]
    [scope S] [src SRC] [metric N]`` (and its type when not unicast)."""
    words = ["route"] + ([route["type"]] if "type" in route else []) + [route.get("dst", "?")]
    for key, word in (("gateway", "via"), ("dev", "dev"), ("protocol", "proto"), ("scope", "scope"),
                      ("prefsrc", "src"), ("metric", "metric")):
        if key in route:
            words += [word, str(route[key])]
    return " ".join(words + list(route.get("flags", ())))


def _quote(text: str) -> str:
    """A Graphviz double-quoted string (its escapes are JSON's, for what we print)."""
    return json.dumps(text, ensure_ascii=False)
