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
import shlex
from typing import Dict, List, Optional, Tuple

from .containers import held_by, list_containers
from .errors import NetnsWrapError, ParseError, ProcessNotFound, first_line
from .named_loop import each_named, split_named
from .nsids import Handle, NsidTable, endpoint, members as read_members, place, reach
from .ops.addr import list_ as addr_list
from .ops.route import list_ as route_list
from .parsing import load_json_list
from .peers import kind, mate, points_back



def topology(handle: Handle) -> dict:
    """Every network namespace ``handle``'s namespace can see, as one
    JSON-ready dict::

        {"namespaces": [{"name", "pid", "pids", "command", "nsid", "inode",
                         "current", "caller", "readable", "error", "links": [ip -d -j addr dicts],
                         "routes": [ip -j route dicts: the main table, IPv4 and IPv6]}],
         "veth_pairs": [[endpoint, endpoint or None]],
         "bridges": [{"netns", "pid", "ifname", "ifindex", "ports": [ifname]}],
         "hidden_processes": int, "warnings": [str]}

    ``pids`` are the processes in the namespace (the reading commands
    excluded; without root only those this user may inspect, the others
    counted in ``hidden_processes``), ``pid`` the lowest of them and
    ``command`` its command line, ``nsid`` what the handle's namespace calls
    it (as its ``link_netnsid`` shows, also for an nsid the reading made the
    kernel assign), ``current`` marks the handle's namespace and ``caller``
    the caller's own. A namespace that could not be entered (not root) has
    ``"readable": False`` and ``error`` saying why (its ``links`` are
    unknown, not empty); any other has ``"readable": True, "error": None``.
    An endpoint is ``{"netns", "pid", "ifname", "ifindex"}`` as
    :func:`veth_peer` returns; a veth whose peer is out of sight is paired
    with None. A namespace containers hold names them in ``containers``
    (``[{"engine", "id", "name", "image"}]``, one listing per installed
    engine); an engine that is missing or down is left out and said in
    ``warnings``.

    Equivalent to: ``ip -j netns list; lsns -J -t net; stat -L -c "%n %i"
    /proc/[0-9]*/ns/net; ip -d -j addr show; ip -all netns exec ip -d -j addr
    show``, ``ip -j route show table all``; for the named namespaces one
    process: ``for n in NAMES; do ip -n "$n" -d -j -batch - <<EOF (addr show,
    route show table all) EOF; done``; and ``nsenter -t PID -n ip -d -j addr
    show`` and ``… ip -j route show table all`` for each namespace only
    processes hold; ``docker ps -q`` + ``docker inspect …`` (podman, nerdctl,
    crictl alike) for the containers.
    """
    table = NsidTable(handle)
    caller, members, hidden = read_members(handle)
    here = caller  # a named handle's namespace is found by its name
    if handle.pid is not None:
        here = next((inode for inode, pids in members.items() if handle.pid in pids), None)
    spaces = _spaces(table, handle, here, caller, members)
    _read_links(handle, spaces)
    table = _renumbered(table, handle, spaces)
    by_pid, warnings = list_containers(handle.runner)  # the engines answer in the caller's namespace
    for space in spaces:
        space["containers"] = held_by(space["pids"], by_pid)
    return {"namespaces": spaces, "veth_pairs": _pairs(spaces, table, handle),
            "bridges": _bridges(spaces), "hidden_processes": hidden, "warnings": warnings}


def _renumbered(table: NsidTable, handle: Handle, spaces: List[dict]) -> NsidTable:
    """The handle's nsid table as it is after the dumps. Dumping a link whose
    peer another namespace made (``ip link add … peer … netns X``) makes the
    kernel assign the nsid it shows; when the handle's links show one its
    table lacks, the table is read again and each namespace's ``nsid`` set
    from it, so that it matches the ``link_netnsid`` its peers show."""
    shown = {link["link_netnsid"] for space in spaces if space["current"] for link in space["links"]
             if "link_netnsid" in link}
    if shown <= table.known():
        return table
    table = NsidTable(handle)
    for space in spaces:
        if space["name"] in table.named:
            space["nsid"] = table.named[space["name"]]
    if not shown <= table.known():  # a namespace only processes hold: lsns has its nsid
        nsids = {row["inode"]: row["nsid"] for row in table.held}
        for space in spaces:
            if space["name"] is None and space["inode"] in nsids:
                space["nsid"] = nsids[space["inode"]]
    return table


def _pairs(spaces: List[dict], table: NsidTable, handle: Handle) -> List[list]:
    """Each veth once, with its peer: inside one namespace by ``link``; across
    namespaces by ifindexes that point at each other, and where that fits more
    than one namespace, by the nsid table of the veth's own namespace."""
    tables = {id(space): table for space in spaces if space["current"]}
    # A veth whose peer may be out of sight is paired only when the nsids agree.
    uncertain = any(not space["readable"] for space in spaces)

    def table_of(space: dict) -> NsidTable:
        if id(space) not in tables:
            tables[id(space)] = NsidTable(reach(place(space), handle))
        return tables[id(space)]

    across: Dict[int, List[Tuple[dict, dict]]] = {}  # ifindex → veths whose peer is elsewhere
    for space in spaces:
        for link in space["links"]:
            if kind(link) == "veth" and "link_netnsid" in link:
                across.setdefault(link["ifindex"], []).append((space, link))
    done: set = set()
    pairs: List[list] = []
    for space in spaces:
        for link in space["links"]:
            if kind(link) != "veth" or (id(space), link["ifindex"]) in done:
                continue
            found = _mate_of(space, link, across, table_of, done, uncertain)
            pair = [endpoint(place(space), link), endpoint(place(found[0]), found[1]) if found else None]
            done.add((id(space), link["ifindex"]))
            if found:
                done.add((id(found[0]), found[1]["ifindex"]))
            pairs.append(pair)
    return pairs


def _mate_of(space: dict, link: dict, across: Dict[int, List[Tuple[dict, dict]]],
             table_of, done: set, uncertain: bool = False) -> Optional[Tuple[dict, dict]]:
    if "link_netnsid" not in link:
        found = mate(space["links"], link, link.get("link_index") if "link" not in link else None)
        return (space, found) if found else None
    candidates = [(other, end) for other, end in across.get(link.get("link_index", -1), [])
                  if other is not space and points_back(end, link) and (id(other), end["ifindex"]) not in done]
    if not candidates or (len(candidates) == 1 and not uncertain):
        return candidates[0] if candidates else None
    try:
        name, row = table_of(space).target(link["link_netnsid"])
    except NetnsWrapError:  # out of reach, its process just ended, a name it cannot take: unpaired
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
            "current": False, "caller": False, "readable": True, "error": None, "links": [], "routes": []}


# A named namespace is read by one `ip -d -j -batch -` that prints its links
# with their addresses, then its routes (of every table: the one listing of
# both families): the routes cost no process of their own. -d applies to both
# lines; _main_table drops the keys it adds to routes.
NAMED_READ = ("ip", "-d", "-j", "-batch", "-")
NAMED_LINES = ("addr show", "route show table all")
NAMED_INPUT = "".join(f"{line}\n" for line in NAMED_LINES)  # NAMED_READ's standard input
# What `ip -d -j route` prints and `ip -j route` leaves out: values that are the defaults.
_ROUTE_DETAILS = {"type": "unicast", "table": "main", "protocol": "boot", "scope": "global"}


def _main_table(routes: list) -> list:
    """The routes of the main table, as ``ip -j route show`` prints them."""
    return [{key: value for key, value in route.items() if _ROUTE_DETAILS.get(key) != value}
            for route in routes if route.get("table", "main") == "main"]


def _read_links(handle: Handle, spaces: List[dict]) -> None:
    """Fill each namespace's ``links`` (``ip -d -j addr show``) and ``routes``
    (its main table, IPv4 and IPv6): every named one through a single process
    (:func:`each_named` of :data:`NAMED_READ`), the others two ``ip`` each. A
    namespace that vanished while it was read is left out; one that could not
    be entered (not root, a broken ``/run/netns`` entry) is marked
    ``"readable": False`` with the ``error`` saying why."""
    named = {space["name"]: space for space in spaces if space["name"] is not None and space["readable"]}
    show = NAMED_READ
    if named:
        result = handle.run(each_named(list(named), show, NAMED_INPUT))
        found = _split_all(result.stdout, named, arrays=len(NAMED_LINES))
        for name, why in _refused(result.stderr, named).items():
            if why.endswith("No such file or directory"):  # deleted since it was listed
                spaces.remove(named.pop(name))
            else:
                named[name].update(readable=False, error=why)
        for name, space in named.items():
            if name in found:
                links, routes = (found[name] + [[]])[:2]
                space.update(links=links, routes=_main_table(routes))
            elif space["readable"]:
                space.update(readable=False, error=f"{shlex.join(show)} printed nothing there")
    for space in [s for s in spaces if s["name"] is None]:
        here = handle if space["current"] else reach(place(space), handle)
        try:
            space["links"] = load_json_list(here.run(addr_list(details=True)))
            space["routes"] = _main_table(load_json_list(here.run(route_list(table="all"))))
        except ProcessNotFound:
            spaces.remove(space)
        except NetnsWrapError as exc:
            space.update(readable=False, error=first_line(exc.stderr) or exc.message)


def _refused(stderr: str, names) -> Dict[str, str]:
    """``{name: why}`` for each namespace ``ip -all netns exec`` could not
    enter (it says so on stderr, carries on with the others, and exits 0)."""
    refused = {}
    for name in names:
        for said in (f'setting the network namespace "{name}" failed: ',
                     f'Cannot open network namespace "{name}": '):
            at = stderr.find(said)
            if at >= 0:
                refused[name] = _why(name, said + stderr[at + len(said):].split("\n", 1)[0])
                break
    return refused


def _why(name: Optional[str], said: str) -> str:
    """What ip said about a namespace it could not enter; a name under
    ``/run/netns`` that is no namespace (a plain file, or one no longer
    mounted: setns says EINVAL) named as such."""
    if name is not None and said.endswith("failed: Invalid argument"):
        return f"{said}: /run/netns/{name} is not a network namespace (a plain file, or no longer mounted)"
    return said


def _split_all(text: str, names, arrays: int = 1) -> Dict[str, list]:
    """``ip -all netns exec … -j …`` output → ``{name: parsed JSON}``.

    Each namespace's output follows ``\\nnetns: NAME\\n``; names are matched
    against the known ones (longest first), so even a name with a newline is
    read right. A namespace whose command printed nothing is left out. With
    ``arrays`` > 1 each namespace's command printed up to that many JSON
    arrays one after another (``ip -j -batch``): its value is the list of them.
    """
    decoder = json.JSONDecoder()
    found: Dict[str, list] = {}
    for name, printed in split_named(text, names).items():
        if not printed.startswith("["):
            continue
        try:
            values, start = [], 0
            while True:  # `ip -j -batch` prints each line's array on a line of its own
                value, at = decoder.raw_decode(printed, start)
                values.append(value)
                if len(values) == arrays or not printed.startswith("\n[", at):
                    break
                start = at + 1
        except ValueError as exc:
            raise ParseError(f"ip -all netns exec: bad JSON for netns {name!r}: {exc}") from None
        found[name] = values[0] if arrays == 1 else values
    return found


def _bridges(spaces: List[dict]) -> List[dict]:
    return [dict(endpoint(place(space), link),
                 ports=[port["ifname"] for port in space["links"] if port.get("master") == link["ifname"]])
            for space in spaces for link in space["links"] if kind(link) == "bridge"]
