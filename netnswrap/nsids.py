"""What one namespace calls the others (nsids), and which processes hold which namespace.

**nsids are per namespace**: ``link_netnsid`` N of a link in namespace X names
the namespace that *X* calls N. X's table is read inside X: ``ip -j netns
list`` for named namespaces, the NETNSID column of ``lsns -J -t net`` for
those held by processes.

**Where a namespace is** — one convention for peers and topology endpoints:
``netns`` is its name when it has one (``/run/netns/NAME``); otherwise
``pid`` is the lowest PID of a process in it (a container); both are None
for the caller's own namespace.
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .errors import NamespaceNotFound, ParseError
from .where import CALLER, Argv, Where

Place = Tuple[Optional[str], Optional[int]]
Handle = Any  # a netnswrap.Netns (not imported: it imports this module)

_INODE = re.compile(r"net:\[(\d+)\]")

# ``lsns -J -t net``: the network namespaces processes are in, with the
# lowest PID of each and its nsid as seen from where lsns runs.
LSNS: Argv = ("lsns", "-J", "-t", "net")
# The shell's own PID, then each process with the inode of its network namespace.
MEMBERS: Argv = ("sh", "-c", 'echo $$; stat -L -c "%n %i" /proc/[0-9]*/ns/net 2>/dev/null; true')
# The namespace a command runs in, as ``net:[INODE]``.
SELF: Argv = ("readlink", "/proc/self/ns/net")


def place(space: dict) -> Place:
    """``(netns, pid)`` of a :func:`topology` namespace, as in its endpoints."""
    if space["name"] is not None:
        return space["name"], None
    return (None, None) if space["caller"] else (None, space["pid"])


def reach(where: Place, like: Handle) -> Handle:
    """A handle on the namespace at ``where``, with ``like``'s runner."""
    return like.at(Where(*where))


def describe(where: Place) -> str:
    """``netns blue`` / ``PID 1503`` / ``the caller's namespace``."""
    name, pid = where
    if name is not None:
        return f"netns {name}"
    return f"PID {pid}" if pid is not None else "the caller's namespace"


def endpoint(where: Place, link: dict) -> dict:
    return {"netns": where[0], "pid": where[1], "ifname": link["ifname"], "ifindex": link["ifindex"]}


class NsidTable:
    """What one namespace calls the others: its nsids of named namespaces
    (``ip -j netns list``) and of process-held ones (``lsns -J -t net``), both
    read inside it; ``held`` is read only when asked for."""

    def __init__(self, handle: Handle):
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
        return (None, None) if row["inode"] == inode(self.handle.at(CALLER)) else (None, row["pid"])


def _lsns(handle: Handle) -> List[dict]:
    """``lsns -J -t net`` → ``[{"inode", "nsid", "pid", "nprocs", "command", "name"}]``."""
    result = handle.run(LSNS)
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


def members(handle: Handle) -> Tuple[Optional[int], Dict[int, List[int]]]:
    """The inode of the caller's namespace and ``{inode: [PIDs]}`` of every
    namespace that processes are in (the reading shell left out), in one
    process; ``(None, {})`` on a dry run.
    Equivalent to: ``sh -c 'echo $$; stat -L -c "%n %i" /proc/[0-9]*/ns/net'``"""
    result = handle.at(CALLER).run(MEMBERS)
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


def inode(handle: Handle) -> Optional[int]:
    """The inode of ``handle``'s namespace (None on a dry run). Equivalent to: ``readlink /proc/self/ns/net``"""
    result = handle.run(SELF)
    text = result.stdout.strip()
    if not text:
        return None
    found = _INODE.fullmatch(text)
    if not found:
        raise ParseError(f"unexpected output from {result.command}: {text!r}")
    return int(found.group(1))


