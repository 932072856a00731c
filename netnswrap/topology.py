"""The topology of a whole host: every namespace, its links, veth pairs and bridges.

**Where a namespace is** — one convention for :func:`veth_peer`'s answer and
the endpoints of :func:`topology`: ``netns`` is its name when it has one
(``/run/netns/NAME``); otherwise ``pid`` is the lowest PID of a process in it
(a container); both are None for the caller's own namespace, the one
``Netns()`` addresses (on a docker host: the host). So ``Netns(netns)``,
``Netns.from_pid(pid)`` or ``Netns()`` reaches the other end.

"""
from __future__ import annotations

import json
from typing import Dict, List, Optional, Tuple

from .errors import NamespaceNotFound, ParseError, ProcessNotFound
from .nsids import Handle, NsidTable, endpoint, members as read_members, place, reach
from .ops.addr import list_ as addr_list
from .ops.route import list_ as route_list
from .parsing import load_json_list
from .peers import kind, mate, points_back
from .where import Argv

_HEADER = "\nnetns: "  # what `ip -all netns exec` prints before each namespace's output


def netns_exec_all(argv: Argv) -> Argv:
    """``ip -all netns exec ARGV…``: ARGV in every named namespace, each
    one's output after a ``\\nnetns: NAME\\n`` header."""
    return ("ip", "-all", "netns", "exec") + argv


def topology(handle: Handle) -> dict:
    """Every network namespace ``handle``'s namespace can see, as one
    JSON-ready dict::

        {"namespaces": [{"name", "pid", "pids", "command", "nsid", "inode",
                         "current", "caller", "links": [ip -d -j addr dicts],
                         "routes": [ip -j route dicts: the main table, IPv4 and IPv6]}],
         "veth_pairs": [[endpoint, endpoint or None]],
         "bridges": [{"netns", "pid", "ifname", "ifindex", "ports": [ifname]}]}

    ``pids`` are the processes in the namespace (the reading commands
    excluded), ``pid`` the lowest of them and ``command`` its command line,
    ``nsid`` what the handle's namespace calls it,
    ``current`` marks the handle's namespace and ``caller`` the caller's own.
    An endpoint is ``{"netns", "pid", "ifname", "ifindex"}`` as
    :func:`veth_peer` returns; a veth whose peer is out of sight is paired
    with None.

    Equivalent to: ``ip -j netns list; lsns -J -t net; stat -L -c "%n %i"
    /proc/[0-9]*/ns/net; ip -d -j addr show; ip -all netns exec ip -d -j addr
    show; ip -all netns exec ip -j route show table all`` and ``nsenter -t PID
    -n ip -d -j addr show`` (and ``… ip -j route show table all``) for each
    namespace only processes hold.
    """
    table = NsidTable(handle)
    caller, members = read_members(handle)
    here = caller  # a named handle's namespace is found by its name
    if handle.pid is not None:
        here = next((inode for inode, pids in members.items() if handle.pid in pids), None)
    spaces = _spaces(table, handle, here, caller, members)
    _read_links(handle, spaces)
    _read_routes(handle, spaces)
    return {"namespaces": spaces, "veth_pairs": _pairs(spaces, table, handle),
            "bridges": _bridges(spaces)}


def _pairs(spaces: List[dict], table: NsidTable, handle: Handle) -> List[list]:
    """Each veth once, with its peer: inside one namespace by ``link``; across
    namespaces by ifindexes that point at each other, and where that fits more
    than one namespace, by the nsid table of the veth's own namespace."""
    tables = {id(space): table for space in spaces if space["current"]}

    def table_of(space: dict) -> NsidTable:
        if id(space) not in tables:
            tables[id(space)] = NsidTable(reach(place(space), handle))
        return tables[id(space)]

    across: Dict[int, List[Tuple[dict, dict]]] = {}  # ifindex → veths whose peer is elsewhere
    for space in spaces:
        for link in space["links"]:
            if kind(link) == "veth" and "link_netnsid" in link:
                across.setdefault(link["ifindex"], []).append((space, link))
    done, pairs = set(), []
    for space in spaces:
        for link in space["links"]:
            if kind(link) != "veth" or (id(space), link["ifindex"]) in done:
                continue
            found = _mate_of(space, link, across, table_of, done)
            pair = [endpoint(place(space), link), endpoint(place(found[0]), found[1]) if found else None]
            done.add((id(space), link["ifindex"]))
            if found:
                done.add((id(found[0]), found[1]["ifindex"]))
            pairs.append(pair)
    return pairs


def _mate_of(space: dict, link: dict, across: Dict[int, List[Tuple[dict, dict]]],
             table_of, done: set) -> Optional[Tuple[dict, dict]]:
    if "link_netnsid" not in link:
        found = mate(space["links"], link, link.get("link_index") if "link" not in link else None)
        return (space, found) if found else None
    candidates = [(other, end) for other, end in across.get(link.get("link_index"), [])
                  if other is not space and points_back(end, link) and (id(other), end["ifindex"]) not in done]
    if len(candidates) < 2:
        return candidates[0] if candidates else None
    try:
        name, row = table_of(space).target(link["link_netnsid"])
    except (NamespaceNotFound, ProcessNotFound):  # out of reach, or its process just ended
        return None
    return next(((other, end) for other, end in candidates
                 if (other["name"] == name if name is not None else other["inode"] == row["inode"])), None)


# --- namespaces, links, bridges --------------------------------------------------

def _spaces(table: NsidTable, handle: Handle, here: Optional[int], caller: Optional[int],
            members: Dict[int, List[int]]) -> List[dict]:
    """The namespaces: named ones, then those lsns finds held by processes."""
    spaces = {name: _space(name, nsid) for name, nsid in table.named.items()}
    for row in table.held:
        space = spaces.get(row["name"]) or spaces.setdefault(row["inode"], _space(None, row["nsid"]))
        pids = members.get(row["inode"], [])
        if row["pid"] in pids or not members:  # else lsns named itself, gone by now
            space.update(pid=row["pid"], command=row["command"])
        elif pids:
            space["pid"] = pids[0]
        space.update(inode=row["inode"], pids=pids or ([space["pid"]] if space["pid"] else []))
    for space in spaces.values():
        space["current"] = (space["name"] == handle.name if handle.name
                            else here is not None and space["inode"] == here)
        space["caller"] = caller is not None and space["inode"] == caller
    return sorted(spaces.values(), key=lambda s: (not s["current"], not s["caller"], s["name"] is None,
                                                  s["name"] or "", s["pid"] or 0))


def _space(name: Optional[str], nsid: Optional[int]) -> dict:
    return {"name": name, "pid": None, "pids": [], "command": None, "nsid": nsid, "inode": None,
            "current": False, "caller": False, "links": [], "routes": []}


def _read_links(handle: Handle, spaces: List[dict]) -> None:
    """Fill each namespace's ``links`` (see :func:`_read_each`)."""
    _read_each(handle, spaces, addr_list(details=True), "links")


def _read_routes(handle: Handle, spaces: List[dict]) -> None:
    """Fill each namespace's ``routes`` with its main table, IPv4 and IPv6
    (``table all`` is the one listing of both families; the other tables'
    routes are left out)."""
    _read_each(handle, spaces, route_list(table="all"), "routes",
               lambda routes: [route for route in routes if route.get("table", "main") == "main"])


def _read_each(handle: Handle, spaces: List[dict], show: Argv, key: str, keep=list) -> None:
    """Set each namespace's ``key`` to ``keep`` of what ``show`` prints there:
    every named one through a single ``ip -all netns exec``, the others one
    ``ip`` each. A namespace that vanished while it was read (its process
    ended) is left out."""
    named = {space["name"]: space for space in spaces if space["name"] is not None}
    if named:
        for name, found in _split_all(handle.run(netns_exec_all(show)).stdout, named).items():
            named[name][key] = keep(found)
    for space in [s for s in spaces if s["name"] is None]:
        try:
            space[key] = keep(load_json_list((handle if space["current"] else reach(place(space), handle)).run(show)))
        except ProcessNotFound:
            spaces.remove(space)


def _split_all(text: str, names) -> Dict[str, list]:
    """``ip -all netns exec … -j …`` output → ``{name: parsed JSON}``.

    Each namespace's output follows ``\\nnetns: NAME\\n``; names are matched
    against the known ones (longest first), so even a name with a newline is
    read right. A namespace whose command printed nothing is left out.
    """
    decoder = json.JSONDecoder()
    known = sorted(names, key=len, reverse=True)
    found: Dict[str, list] = {}
    at = text.find(_HEADER)
    while at >= 0:
        at += len(_HEADER)
        name = next((n for n in known if text.startswith(n + "\n", at)), None)
        if name is not None and text.startswith("[", at + len(name) + 1):
            try:
                found[name], at = decoder.raw_decode(text, at + len(name) + 1)
            except ValueError as exc:
                raise ParseError(f"ip -all netns exec: bad JSON for netns {name!r}: {exc}") from None
        at = text.find(_HEADER, at)
    return found


def _bridges(spaces: List[dict]) -> List[dict]:
    return [dict(endpoint(place(space), link),
                 ports=[port["ifname"] for port in space["links"] if port.get("master") == link["ifname"]])
            for space in spaces for link in space["links"] if kind(link) == "bridge"]
