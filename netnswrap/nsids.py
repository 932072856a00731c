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
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple, cast

from .errors import NamespaceNotFound, ParseError
from .where import CALLER, Argv, Where

Place = Tuple[Optional[str], Optional[int]]
Handle = Any  # a netnswrap.Netns (not imported: it imports this module)

_INODE = re.compile(r"net:\[(\d+)\]")

# ``lsns -J -t net``: the network namespaces processes are in, with the
# lowest PID of each and its nsid as seen from where lsns runs.
LSNS: Argv = ("lsns", "-J", "-t", "net")
# The shell's own PID, then each process with the inode of its network namespace
# (stat's complaints too: a process this user may not inspect is counted as hidden).
_PROCESSES = 'echo $$; stat -L -c "%n %i" /proc/[0-9]*/ns/net 2>&1'
MEMBERS: Argv = ("sh", "-c", f"{_PROCESSES}; true")
# MEMBERS, then a NUL, then "INODE NAME" and a NUL for each named namespace.
NAMED_MEMBERS: Argv = ("sh", "-c", f'{_PROCESSES}; printf "\\0"; '
                       'cd /run/netns 2>/dev/null && stat -L --printf "%i %n\\0" -- * .[!.]* ..?* 2>/dev/null; true')


class Members(NamedTuple):
    """Who is in which namespace, as :func:`members` reads it."""

    caller: Optional[int]             # the inode of the caller's namespace
    pids: Dict[int, List[int]]        # {inode: [PIDs]} of every namespace processes are in
    hidden: int                       # processes this user may not inspect
# The namespace a command runs in, as ``net:[INODE]``.
SELF: Argv = ("readlink", "/proc/self/ns/net")
# Where the caller's own namespace is.
CALLER_PLACE: Place = (None, None)


def lsns_and_caller(caller_pid: int) -> Argv:
    """The caller's namespace (``net:[INODE]`` of process ``caller_pid``), then
    ``lsns -J -t net``, in one process: ``sh -c 'readlink /proc/PID/ns/net && exec lsns -J -t net'``"""
    return ("sh", "-c", 'readlink "/proc/$1/ns/net" && exec lsns -J -t net', "sh", str(caller_pid))


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
        self._caller: Optional[int] = None  # the caller's inode, when read with ``held``

    @property
    def held(self) -> List[dict]:
        if self._held is None:
            self._held, _ = _lsns(self.handle)
        return self._held

    def held_from(self, rows: List[dict]) -> None:
        """Take ``held`` as read elsewhere (lsns run in this namespace)."""
        self._held = rows

    def known(self) -> set:
        """The nsids this table names (``held`` only if it was read)."""
        return {nsid for nsid in self.named.values() if nsid is not None} | {
            row["nsid"] for row in self._held or () if row["nsid"] is not None}

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
        """Where the namespace this one calls ``nsid`` is (see the module docstring).
        A name costs no command beyond ``ip -j netns list``; a namespace
        without one costs one more (``lsns``, with the caller's namespace
        read by the same process when this one is not the caller's)."""
        name = next((name for name, known in self.named.items() if known == nsid), None)
        if name is not None:
            return name, None
        if self._held is None and not self.handle.where.is_caller:
            self._held, self._caller = _lsns(self.handle, self.handle.runner.caller_pid())
        name, found = self.target(nsid)
        if name is not None:
            return name, None
        row = cast(dict, found)  # no name: a row of lsns
        if self.handle.where.is_caller:  # an nsid never names the namespace that holds it
            return None, row["pid"]
        caller = self._caller if self._caller is not None else inode(self.handle.at(CALLER))
        return CALLER_PLACE if row["inode"] == caller else (None, row["pid"])


def _lsns(handle: Handle, caller_pid: Optional[int] = None) -> Tuple[List[dict], Optional[int]]:
    """``lsns -J -t net`` in ``handle``'s namespace → ``[{"inode", "nsid", "pid",
    "nprocs", "command", "name"}]``; with ``caller_pid``, read with
    :func:`lsns_and_caller`, also the caller's inode (else None)."""
    argv = LSNS if caller_pid is None else lsns_and_caller(caller_pid)
    result = handle.run(argv, check=False)
    if result.returncode == 1 and not result.stderr:  # lsns lost a race with a process ending
        result = handle.run(argv, check=False)
    result.check()
    text, caller = result.stdout, None
    if caller_pid is not None and text.strip():
        first, _, text = text.partition("\n")
        caller = _inode_of(first, result.command)
    try:
        return (lsns_rows(json.loads(text), result.command) if text.strip() else []), caller
    except ValueError as exc:
        raise ParseError(f"unexpected output from {result.command}: {exc!r}") from None


def lsns_rows(data, command: str) -> List[dict]:
    """``lsns -J -t net``'s JSON → ``[{"inode", "nsid", "pid", "nprocs", "command", "name"}]``."""
    try:
        return [{"inode": int(row["ns"]), "nsid": _nsid(row.get("netnsid")),
                 "pid": int(row["pid"]) if row.get("pid") is not None else None,
                 "nprocs": int(row.get("nprocs") or 0), "command": row.get("command"),
                 "name": _netns_name(row.get("nsfs"))}
                for row in _flat(data["namespaces"])]
    except (ValueError, KeyError, TypeError) as exc:
        raise ParseError(f"unexpected output from {command}: {exc!r}") from None


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


def members(handle: Handle) -> Members:
    """The inode of the caller's namespace, ``{inode: [PIDs]}`` of every
    namespace that processes are in (the reading shell left out) and how
    many processes were hidden (others' ``/proc/PID/ns/net`` when not root,
    or a PID 1 that protects itself), in one process; ``(None, {}, 0)`` on a
    dry run. Equivalent to: ``sh -c 'echo $$; stat -L -c "%n %i" /proc/[0-9]*/ns/net'``"""
    result = handle.at(CALLER).run(MEMBERS)
    return _members(result.stdout, result.command)


def named_members(handle: Handle) -> Dict[str, List[int]]:
    """``{name: [PIDs]}`` of every named namespace (the reading shell left
    out; a name with none has ``[]``), in one process that reads every
    process's namespace once, whatever the number of names (``ip netns pids``
    reads them all for each name).
    Equivalent to: ``stat -L -c "%n %i" /proc/[0-9]*/ns/net; cd /run/netns && stat -L --printf "%i %n\\0" -- * .[!.]* ..?*``"""
    result = handle.at(CALLER).run(NAMED_MEMBERS)
    processes, _, named = result.stdout.partition("\0")
    pids = _members(processes, result.command).pids
    found: Dict[str, List[int]] = {}
    for entry in filter(None, named.split("\0")):
        inode, _, name = entry.partition(" ")
        if not inode.isdigit():
            raise ParseError(f"unexpected output from {result.command}: {entry!r}")
        found[name] = pids.get(int(inode), [])
    return found


def _members(text: str, command: str) -> Members:
    """:data:`MEMBERS`'s output read."""
    lines = text.split("\n")
    members: Dict[int, List[int]] = {}
    caller, hidden = None, 0
    try:
        reader = int(lines[0]) if lines[0] else None
        for line in filter(None, lines[1:]):
            if line.startswith("stat:"):  # gone since the glob, or hidden from this user
                hidden += line.endswith("Permission denied")
                continue
            path, inode = line.rsplit(" ", 1)
            pid = int(path.split("/")[2])
            if pid == reader:
                caller = int(inode)
            else:
                members.setdefault(int(inode), []).append(pid)
    except (ValueError, IndexError) as exc:
        raise ParseError(f"unexpected output from {command}: {exc}") from None
    return Members(caller, {inode: sorted(pids) for inode, pids in members.items()}, hidden)


def inode(handle: Handle) -> Optional[int]:
    """The inode of ``handle``'s namespace (None on a dry run). Equivalent to: ``readlink /proc/self/ns/net``"""
    result = handle.run(SELF)
    return _inode_of(result.stdout, result.command)


def same_as_caller(handle: Handle) -> bool:
    """Whether ``handle``'s namespace is the caller's (False on a dry run).
    Equivalent to: ``readlink /proc/self/ns/net /proc/CALLER/ns/net`` in it"""
    result = handle.run(SELF + (f"/proc/{handle.runner.caller_pid()}/ns/net",))
    inodes = [_inode_of(line, result.command) for line in result.stdout.split()]
    return len(inodes) == 2 and inodes[0] == inodes[1]


def _inode_of(text: str, command: str) -> Optional[int]:
    """``net:[INODE]`` → INODE ('' → None)."""
    text = text.strip()
    if not text:
        return None
    found = _INODE.fullmatch(text)
    if not found:
        raise ParseError(f"unexpected output from {command}: {text!r}")
    return int(found.group(1))


