"""Veth peers and the topology of a whole host.

**Where a namespace is** — one convention for :func:`veth_peer`'s answer and
the endpoints of :func:`topology`: ``netns`` is its name when it has one
(``/run/netns/NAME``); otherwise ``pid`` is the lowest PID of a process in it
(a container); both are None for the caller's own namespace, the one
``Netns()`` addresses (on a docker host: the host). So ``Netns(netns)``,
``Netns.from_pid(pid)`` or ``Netns()`` reaches the other end.

**nsids are per namespace**: ``link_netnsid`` N of a link in namespace X names
the namespace that *X* calls N. X's table is read inside X: ``ip -j netns
list`` for named namespaces, the NETNSID column of ``lsns -J -t net`` for
those held by processes. An ifindex is only looked up inside the namespace
the nsid names, and the link found there must point back (its own
``link_index``), so repeated ifindexes (every container's ``eth0`` is often
2) never mix.
"""
from __future__ import annotations

import json
import re
from typing import Dict, Iterator, List, Optional, Tuple

from . import commands
from .errors import (InvalidArgument, NamespaceNotFound, NetnsWrapError, NotSupported, ParseError,
                     ProcessNotFound, ToolNotFound)
from .netns import Netns, _loads

Place = Tuple[Optional[str], Optional[int]]

_HEADER = "\nnetns: "  # what `ip -all netns exec` prints before each namespace's output
_INODE = re.compile(r"net:\[(\d+)\]")


def veth_peer(handle: Netns, dev: str) -> dict:
    """The other end of veth ``dev`` in ``handle``'s namespace:
    ``{"netns": name or None, "pid": int or None, "ifname": str, "ifindex": int}``
    (see the module docstring for where ``netns``/``pid`` point).

    Equivalent to: ``ip -d -j link show dev DEV`` (``link_index``,
    ``link_netnsid``) and ``ethtool -S DEV`` (``peer_ifindex``, fallback and
    cross-check; a missing ethtool is tolerated), then ``ip -j netns list`` /
    ``lsns -J -t net`` to name the nsid and ``ip -d -j link show`` there.
    """
    link = handle.link_show(dev)
    kind = _kind(link)
    if kind not in (None, "veth"):
        raise InvalidArgument(f"{dev} is a {kind} device, not a veth: it has no peer")
    index = _peer_index(handle, dev, link)
    if "link_netnsid" in link:
        place = _Table(handle).place(link["link_netnsid"])
    else:
        place = (handle.name, handle.pid)
    there = reach(place, handle)
    peer = _mate(there.link_list(), link, index)
    if peer is None:
        raise NetnsWrapError(f"the peer of {dev} (ifindex {index}) is not in {describe(place)}")
    return endpoint(place, peer)


def topology(handle: Netns) -> dict:
    """Every network namespace ``handle``'s namespace can see, as one
    JSON-ready dict::

        {"namespaces": [{"name", "pid", "pids", "command", "nsid", "inode",
                         "current", "caller", "links": [ip -d -j addr dicts]}],
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
    show`` and ``nsenter -t PID -n ip -d -j addr show`` for each namespace
    only processes hold.
    """
    table = _Table(handle)
    caller, members = _members(handle)
    here = caller  # a named handle's namespace is found by its name
    if handle.pid is not None:
        here = next((inode for inode, pids in members.items() if handle.pid in pids), None)
    spaces = _spaces(table, handle, here, caller, members)
    _read_links(handle, spaces)
    return {"namespaces": spaces, "veth_pairs": _pairs(spaces, table, handle),
            "bridges": _bridges(spaces)}


# --- where a namespace is -----------------------------------------------------

def place(space: dict) -> Place:
    """``(netns, pid)`` of a :func:`topology` namespace, as in its endpoints."""
    if space["name"] is not None:
        return space["name"], None
    return (None, None) if space["caller"] else (None, space["pid"])


def reach(where: Place, like: Netns) -> Netns:
    """A handle on the namespace at ``where``, with ``like``'s runner."""
    name, pid = where
    return Netns(name, pid=pid, runner=like.runner)


def describe(where: Place) -> str:
    """``netns blue`` / ``PID 1503`` / ``the caller's namespace``."""
    name, pid = where
    if name is not None:
        return f"netns {name}"
    return f"PID {pid}" if pid is not None else "the caller's namespace"


def endpoint(where: Place, link: dict) -> dict:
    return {"netns": where[0], "pid": where[1], "ifname": link["ifname"], "ifindex": link["ifindex"]}


class _Table:
    """What one namespace calls the others: its nsids of named namespaces
    (``ip -j netns list``) and of process-held ones (``lsns -J -t net``), both
    read inside it; ``held`` is read only when asked for."""

    def __init__(self, handle: Netns):
        self.handle = handle
        self.named: Dict[str, Optional[int]] = {e["name"]: e.get("id") for e in handle.netns_list()}
        self._held: Optional[List[dict]] = None

    @property
    def held(self) -> List[dict]:
        if self._held is None:
            self._held = _lsns(self.handle)
        return self._held

    def target(self, nsid: int) -> Tuple[Optional[str], Optional[dict]]:
        """The namespace this one calls ``nsid``: ``(name, None)`` or ``(None, lsns row)``."""
        for name, known in self.named.items():
            if known == nsid:
                return name, None
        for row in self.held:
            if row["nsid"] == nsid:
                return (row["name"], None) if row["name"] in self.named else (None, row)
        where = describe((self.handle.name, self.handle.pid))
        raise NamespaceNotFound(f"nsid {nsid} of {where} names a namespace with neither "
                                "a name nor a process: it cannot be entered")

    def place(self, nsid: int) -> Place:
        name, row = self.target(nsid)
        if name is not None:
            return name, None
        return (None, None) if row["inode"] == _inode(Netns(runner=self.handle.runner)) else (None, row["pid"])


def _lsns(handle: Netns) -> List[dict]:
    """``lsns -J -t net`` → ``[{"inode", "nsid", "pid", "nprocs", "command", "name"}]``."""
    result = handle.run(commands.netns_processes())
    if not result.stdout.strip():
        return []
    try:
        return [{"inode": int(row["ns"]), "nsid": _nsid(row.get("netnsid")),
                 "pid": int(row["pid"]) if row.get("pid") is not None else None,
                 "nprocs": int(row.get("nprocs") or 0), "command": row.get("command"),
                 "name": _netns_name(row.get("nsfs"))}
                for row in _flat(json.loads(result.stdout)["namespaces"])]
    except (ValueError, KeyError, TypeError) as exc:
        raise ParseError(f"unexpected output from {result.command}: {exc!r}") from None


def _flat(rows: List[dict]) -> Iterator[dict]:
    """lsns's rows, flattened: it nests a namespace under the one its process's
    parent is in (``children``), e.g. a container under the host's."""
    for row in rows:
        yield row
        yield from _flat(row.get("children") or [])


def _nsid(value) -> Optional[int]:
    """lsns's NETNSID: a number, or ``unassigned``."""
    return int(value) if str(value).isdigit() else None


def _netns_name(nsfs: Optional[str]) -> Optional[str]:
    """The name of a namespace bound under ``/run/netns`` (lsns's NSFS column, one path a line)."""
    for path in (nsfs or "").split("\n"):
        for prefix in ("/run/netns/", "/var/run/netns/"):
            if path.startswith(prefix):
                return path[len(prefix):]
    return None


def _members(handle: Netns) -> Tuple[Optional[int], Dict[int, List[int]]]:
    """The inode of the caller's namespace and ``{inode: [PIDs]}`` of every
    namespace that processes are in (the reading shell left out), in one
    process; ``(None, {})`` on a dry run.
    Equivalent to: ``sh -c 'echo $$; stat -L -c "%n %i" /proc/[0-9]*/ns/net'``"""
    result = Netns(runner=handle.runner).run(commands.netns_members())
    lines = result.stdout.split("\n")
    members: Dict[int, List[int]] = {}
    caller = None
    try:
        reader = int(lines[0]) if lines[0] else None
        for line in filter(None, lines[1:]):
            path, inode = line.rsplit(" ", 1)
            pid = int(path.split("/")[2])
            if pid == reader:
                caller = int(inode)
            else:
                members.setdefault(int(inode), []).append(pid)
    except (ValueError, IndexError) as exc:
        raise ParseError(f"unexpected output from {result.command}: {exc}") from None
    return caller, {inode: sorted(pids) for inode, pids in members.items()}


def _inode(handle: Netns) -> Optional[int]:
    """The inode of ``handle``'s namespace (None on a dry run). Equivalent to: ``readlink /proc/self/ns/net``"""
    result = handle.run(commands.netns_self())
    text = result.stdout.strip()
    if not text:
        return None
    found = _INODE.fullmatch(text)
    if not found:
        raise ParseError(f"unexpected output from {result.command}: {text!r}")
    return int(found.group(1))


# --- peers --------------------------------------------------------------------

def _kind(link: dict) -> Optional[str]:
    return (link.get("linkinfo") or {}).get("info_kind")


def _peer_index(handle: Netns, dev: str, link: dict) -> Optional[int]:
    """The peer's ifindex: ip's ``link_index``, cross-checked with ethtool's ``peer_ifindex``."""
    from_ip = link.get("link_index")
    try:
        from_ethtool = handle.ethtool_stats(dev).get("peer_ifindex")
    except (ToolNotFound, NotSupported):
        from_ethtool = None
    if None not in (from_ip, from_ethtool) and from_ip != from_ethtool:
        raise NetnsWrapError(f"{dev}: ip says the peer is ifindex {from_ip}, ethtool -S says "
                             f"{from_ethtool}; the pair changed while it was read")
    return from_ethtool if from_ip is None else from_ip


def _points_back(candidate: dict, link: dict) -> bool:
    """Whether ``candidate``'s own peer is ``link`` (as far as its dict tells)."""
    if "link_index" in candidate:
        return candidate["link_index"] == link["ifindex"]
    return candidate.get("link", link["ifname"]) == link["ifname"]


def _mate(links: List[dict], link: dict, index: Optional[int]) -> Optional[dict]:
    """The link among ``links`` (one namespace's) at the other end of ``link``."""
    for candidate in links:
        same = candidate.get("ifindex") == index if index is not None else candidate.get("ifname") == link.get("link")
        if same and candidate is not link and _points_back(candidate, link):
            return candidate
    return None


def _pairs(spaces: List[dict], table: _Table, handle: Netns) -> List[list]:
    """Each veth once, with its peer: inside one namespace by ``link``; across
    namespaces by ifindexes that point at each other, and where that fits more
    than one namespace, by the nsid table of the veth's own namespace."""
    tables = {id(space): table for space in spaces if space["current"]}

    def table_of(space: dict) -> _Table:
        if id(space) not in tables:
            tables[id(space)] = _Table(reach(place(space), handle))
        return tables[id(space)]

    across: Dict[int, List[Tuple[dict, dict]]] = {}  # ifindex → veths whose peer is elsewhere
    for space in spaces:
        for link in space["links"]:
            if _kind(link) == "veth" and "link_netnsid" in link:
                across.setdefault(link["ifindex"], []).append((space, link))
    done, pairs = set(), []
    for space in spaces:
        for link in space["links"]:
            if _kind(link) != "veth" or (id(space), link["ifindex"]) in done:
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
        mate = _mate(space["links"], link, link.get("link_index") if "link" not in link else None)
        return (space, mate) if mate else None
    found = [(other, mate) for other, mate in across.get(link.get("link_index"), [])
             if other is not space and _points_back(mate, link) and (id(other), mate["ifindex"]) not in done]
    if len(found) < 2:
        return found[0] if found else None
    try:
        name, row = table_of(space).target(link["link_netnsid"])
    except (NamespaceNotFound, ProcessNotFound):  # out of reach, or its process just ended
        return None
    return next(((other, mate) for other, mate in found
                 if (other["name"] == name if name is not None else other["inode"] == row["inode"])), None)


# --- namespaces, links, bridges --------------------------------------------------

def _spaces(table: _Table, handle: Netns, here: Optional[int], caller: Optional[int],
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
            "current": False, "caller": False, "links": []}


def _read_links(handle: Netns, spaces: List[dict]) -> None:
    """Fill each namespace's ``links``: every named one through a single
    ``ip -all netns exec``, the others one ``ip`` each. A namespace that
    vanished while it was read (its process ended) is left out."""
    show = commands.addr_list(details=True)
    named = {space["name"]: space for space in spaces if space["name"] is not None}
    if named:
        for name, links in _split_all(handle.run(commands.netns_exec_all(show)).stdout, named).items():
            named[name]["links"] = links
    for space in [s for s in spaces if s["name"] is None]:
        try:
            space["links"] = _loads((handle if space["current"] else reach(place(space), handle)).run(show))
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
            for space in spaces for link in space["links"] if _kind(link) == "bridge"]
