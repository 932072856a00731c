"""Batches: collect changes, run them at ``ip -batch`` speed, all or nothing.

    with nw.batch() as b:                      # nothing runs inside the block
        b.bridge_add("br0")
        b.link_set_up("br0")
        h1 = b.netns_add("h1")                 # a scope: changes made inside h1
        b.veth_add("v1", "eth0", peer_netns="h1")
        b.link_set("v1", master="br0", up=True)
        h1.addr_add("eth0", "10.0.0.1/24")
        h1.link_set_up("eth0")
        h1.link_set_up("lo")
                                               # the block ends: one `ip -batch -`

Every method validates its arguments when called (the builders of
:mod:`netnswrap.commands`), so a bad value raises before anything runs; an
exception inside the block discards the batch. When the block ends the
changes run as ONE process, ``ip -batch -`` in the caller's namespace
(``nsenter -t PID -n ip -batch -`` for a process's), whose script holds the
changes made there as lines and, for each named namespace, a line
``netns exec NS ip -batch FILE`` that runs that namespace's lines
(batch lines cannot carry ``-n``; iproute2 forks these itself, far cheaper
than a process started from Python). The FILEs are written just before, to
:data:`SCRIPT_DIR`, named by a hash of their content, and removed after; the
script shows their lines as comments, so a dry run, a cassette and a replay
see everything. Changes are regrouped so that each namespace's lines run
together, but never across a dependency: a namespace is created before a
link moves into it, and so on.

A failing line raises the typed error of the command that line came from,
with ``argv`` as a handle would have run it (``ip -n h1 addr add …``) and
``batch_line`` the line of the script, and first undoes what the batch had
already done: namespaces and links it created are deleted and addresses it
added are removed, newest first. Other changes to links that existed before
(state, MTU, master, namespace, name) are not reverted.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from . import commands
from .errors import BATCH_FAILED, InvalidArgument, NetnsWrapError, classify
from .netns import Netns, _netns_arg
from .validate import check_netns_name

# Where the per-namespace scripts go: a fixed path, so that the batch script
# (which names them) is the same in every run and a recording replays; only
# root may create entries in /run.
SCRIPT_DIR = "/run/netnswrap"

_QUOTED = re.compile(r'"([^"]*)"')
# What a batch line cannot carry: whitespace splits words, '#' starts a
# comment anywhere, a leading quote opens a quoted word, a trailing '\' joins lines.
_UNSAFE = re.compile(r"[\s#\"'\\]")
_ANY = object()  # touched by an op that names a namespace by PID: orders against everything
_HERE = object()  # an op runs in its scope's namespace


@dataclass(eq=False)
class _Op:
    """One change: the namespace it runs in (None = the caller's, a name or
    a PID), its argv as :mod:`netnswrap.commands` built it, the namespaces
    it touches, and what it does to the system (for undo)."""

    where: object
    argv: Tuple[str, ...]
    touches: frozenset
    effect: tuple = ()


@dataclass(eq=False)
class _Segment:
    """Consecutive ops that run in one namespace."""

    where: object
    ops: List[_Op] = field(default_factory=list)


class BatchNetns:
    """The mutating methods of a :class:`~netnswrap.Netns`, recorded into a
    batch instead of run. ``b.netns(name)`` and ``b.netns_add(name)`` return
    one for changes made inside namespace ``name``."""

    def __init__(self, batch: "Batch", where):
        self._batch = batch
        self.where = where

    @property
    def name(self) -> Optional[str]:
        return self.where if isinstance(self.where, str) else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.where!r})"

    def netns(self, name) -> "BatchNetns":
        """Changes made inside namespace ``name`` (a name or a named ``Netns``);
        they run as ``ip -n NAME …`` would."""
        return self._batch.netns(name)

    def netns_add(self, name: str) -> "BatchNetns":
        """Create a named namespace; returns the scope for changes inside it.
        Equivalent to: ``ip netns add NAME``"""
        self._record(commands.netns_add(name), (name,), ("netns+", name), self._batch.base)
        return self.netns(name)

    def netns_del(self, name: str) -> None:
        """Equivalent to: ``ip netns del NAME``"""
        self._record(commands.netns_del(name), (name,), ("netns-", name), self._batch.base)

    def veth_add(self, name: str, peer: str, *, peer_netns=None) -> None:
        """Equivalent to: ``ip link add NAME type veth peer name PEER [netns NS]``"""
        ref = self._batch._ref(peer_netns)
        where = self.where if ref is None else ref
        self._record(commands.veth_add(name, peer, ref), (ref,),
                     ("link+", ((self.where, name), (where, peer))))

    def bridge_add(self, name: str) -> None:
        """Equivalent to: ``ip link add NAME type bridge``"""
        self._record(commands.bridge_add(name), (), ("link+", ((self.where, name),)))

    def link_set(self, dev: str, *, up: Optional[bool] = None, mtu: Optional[int] = None,
                 master: Optional[str] = None, nomaster: bool = False, netns=None,
                 name: Optional[str] = None, address: Optional[str] = None) -> None:
        """Equivalent to: ``ip link set dev DEV [up|down] [mtu N] [master BR|nomaster]
        [netns NS] [name NEW] [address LLADDR]``"""
        ref = self._batch._ref(netns)
        argv = commands.link_set(dev, up=up, mtu=mtu, master=master, nomaster=nomaster,
                                 netns=ref, name=name, address=address)
        moved = (self.where if ref is None else ref, name or dev)
        self._record(argv, (ref,), ("link~", (self.where, dev), moved))

    def link_set_up(self, dev: str) -> None:
        """Equivalent to: ``ip link set dev DEV up``"""
        self.link_set(dev, up=True)

    def link_set_down(self, dev: str) -> None:
        """Equivalent to: ``ip link set dev DEV down``"""
        self.link_set(dev, up=False)

    def link_del(self, dev: str) -> None:
        """Equivalent to: ``ip link del DEV``"""
        self._record(commands.link_del(dev), (), ("link-", (self.where, dev)))

    def addr_add(self, dev: str, cidr: str) -> None:
        """Equivalent to: ``ip addr add CIDR dev DEV``"""
        argv = commands.addr_add(dev, cidr)
        self._record(argv, (), ("addr+", (self.where, dev), argv[3]))

    def addr_del(self, dev: str, cidr: str) -> None:
        """Equivalent to: ``ip addr del CIDR dev DEV``"""
        argv = commands.addr_del(dev, cidr)
        self._record(argv, (), ("addr-", (self.where, dev), argv[3]))

    def _record(self, argv, targets, effect, where=_HERE) -> None:
        _check_line(argv)
        where = self.where if where is _HERE else where
        touched = {t for t in targets if t is not None} | {where}
        touched = {_ANY if isinstance(t, int) and t != self._batch.base else t for t in touched}
        self._batch.ops.append(_Op(where, argv, frozenset(touched), effect))


class Batch(BatchNetns):
    """Changes to run together at ``ip -batch`` speed; see the module docstring.

    ``with handle.batch() as b: …`` runs them when the block ends (and not at
    all if it raises); without ``with``, call :meth:`run`.
    Equivalent to: ``ip -batch -`` (with ``netns exec NS ip -batch FILE`` lines)
    """

    def __init__(self, handle: Netns):
        self.handle = handle
        # The script runs in the caller's namespace, or a process's (nsenter
        # -n enters only the network namespace). Never as `ip -n NAME -batch`:
        # that ip has a mount namespace of its own, where a `netns add`
        # would mount the new namespace and lose it on exit. A named handle's
        # changes go into a `netns exec` line like any other namespace's.
        self.runs_in = handle if handle.name is None else Netns(runner=handle._runner)
        self.base = handle.pid
        self.ops: List[_Op] = []
        super().__init__(self, handle.name if handle.name is not None else handle.pid)

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.ops = []
            return
        self.run()

    def netns(self, name) -> BatchNetns:
        if isinstance(name, Netns):
            if name.name is None:
                raise InvalidArgument(f"a batch scope needs a named namespace, not {name!r}")
            name = name.name
        _check_line((check_netns_name(name),))
        return BatchNetns(self, name)

    def _ref(self, netns):
        """A namespace reference for ``netns …``: a name, a PID, a ``Netns`` or a scope."""
        if isinstance(netns, BatchNetns):
            return netns.where if netns.where is not None else os.getpid()
        return _netns_arg(netns)

    def script(self) -> Tuple[str, Dict[str, str]]:
        """The ``ip -batch`` script the pending changes make, and the
        per-namespace scripts it runs (``{path: text}``)."""
        plan = _Plan(self.base, _schedule(self.ops, self.base))
        return plan.text, plan.files

    def run(self) -> None:
        """Run the pending changes: one ``ip -batch -`` process.

        On a failing line, undo what had been done and raise the error of the
        command that line came from (see the module docstring)."""
        ops, self.ops = self.ops, []
        if not ops:
            return
        plan = _Plan(self.base, _schedule(ops, self.base))
        _write(plan.files)
        try:
            result = self.runs_in.run(commands.ip_batch(), input=plan.text, check=False)
        finally:
            _remove(plan.files)
        if result.ok:
            return
        failed, done, line = plan.locate(result.stderr)
        argv = _placed(failed.argv, failed.where) if failed else result.argv
        error = classify(argv, result.returncode, result.stdout, result.stderr)
        error.batch_line = line
        self._undo(plan.ops[:done])
        raise error

    def _undo(self, done: List[_Op]) -> None:
        """Delete what ``done`` created, newest first: one ``ip -force -batch -``
        where the script ran, one command each elsewhere."""
        here = []
        for where, argv in _undo_steps(done, self.base):
            if where == self.base:
                here.append(" ".join(argv[1:]) + "\n")
            else:
                self.handle.runner.run(_placed(argv, where))
        if here:
            self.runs_in.run(commands.ip_batch(force=True), input="".join(here), check=False)


def _check_line(argv) -> None:
    for word in argv:
        if _UNSAFE.search(word):
            raise InvalidArgument(f"{word!r} cannot go into an ip -batch line "
                                  "(no whitespace, '#', quotes or backslashes)")


def _placed(argv, where) -> tuple:
    """``argv`` as a handle on ``where`` would run it."""
    return commands.place(argv, where if isinstance(where, str) else None,
                          where if isinstance(where, int) else None)


def _schedule(ops: List[_Op], base) -> List[_Segment]:
    """Segments in execution order: each op goes right after the last one it
    depends on (one touching a namespace it touches), joining that segment
    when it runs in the same namespace; ops of the script's own namespace go
    as early as they may, a new segment of another namespace goes last."""
    segments: List[_Segment] = []
    latest: dict = {}  # namespace -> the last segment touching it (_ANY: the last such op's)
    for op in ops:
        if _ANY in op.touches:
            before = segments[-1:]
        else:
            before = [latest[t] for t in op.touches | {_ANY} if t in latest]
        last = max((segments.index(seg) for seg in before), default=-1)
        if last >= 0 and segments[last].where == op.where:
            segment = segments[last]
        else:
            segment = _Segment(op.where)
            segments.insert(last + 1 if op.where == base else len(segments), segment)
        segment.ops.append(op)
        latest.update(dict.fromkeys(op.touches, segment))
    return segments


class _Plan:
    """Segments turned into the batch script (``text``, and the per-namespace
    scripts in ``files``), and a failure traced back to its op."""

    def __init__(self, base, segments: List[_Segment]):
        self.base = base
        self.segments = segments
        self.ops = [op for seg in segments for op in seg.ops]
        self.position = {id(op): index for index, op in enumerate(self.ops)}
        lines: List[str] = []
        self.files: Dict[str, str] = {}
        self.at_line: Dict[int, Tuple[_Segment, Optional[_Op]]] = {}
        for seg in segments:
            if seg.where == base:
                for op in seg.ops:
                    lines.append(" ".join(op.argv[1:]))
                    self.at_line[len(lines)] = (seg, op)
                continue
            body = "".join(" ".join(op.argv[1:]) + "\n" for op in seg.ops)
            digest = hashlib.sha256(f"{seg.where}\0{body}".encode()).hexdigest()[:24]
            path = f"{SCRIPT_DIR}/{digest}.batch"
            self.files[path] = body
            lines += [f"# {seg.where}: {line}" for line in body.splitlines()]
            lines.append(f"netns exec {seg.where} ip -batch {path}")
            self.at_line[len(lines)] = (seg, None)
        self.text = "".join(line + "\n" for line in lines)

    def locate(self, stderr: str) -> Tuple[Optional[_Op], int, Optional[int]]:
        """(the failing op or None, how many ops surely ran before it, the
        failing script line) from ``Command failed -:N`` and, inside a
        namespace's script, ``Command failed FILE:K``.

        An argument ip refuses while parsing prints no such line: then the op
        is the first that holds the word the message quotes; when none does,
        only the ops before the failing process's (or namespace's) count as run."""
        outer = inner = None
        for text in stderr.splitlines():
            found = BATCH_FAILED.match(text.rstrip("\r"))
            if found and found.group("file") == "-":
                outer = outer or int(found.group("line"))
            elif found and inner is None:
                inner = int(found.group("line"))
        if outer is None:  # the batch's own ip stopped while parsing a line
            own = [op for seg in self.segments if seg.where == self.base for op in seg.ops]
            failed = _holding_word(stderr, own)
            return failed, (self.position[id(failed)] if failed else 0), None
        if outer not in self.at_line:
            return None, 0, outer
        seg, failed = self.at_line[outer]
        if failed is None and inner is not None:
            failed = seg.ops[inner - 1]
        elif failed is None:  # the namespace's ip stopped parsing, or could not enter it
            failed = _holding_word(stderr, seg.ops)
            if failed is None:
                return seg.ops[0], self.position[id(seg.ops[0])], outer
        return failed, self.position[id(failed)], outer


def _holding_word(stderr: str, ops: List[_Op]) -> Optional[_Op]:
    quoted = _QUOTED.search(stderr)
    if quoted:
        return next((op for op in ops if quoted.group(1) in op.argv[1:]), None)
    return None


def _undo_steps(done: List[_Op], base) -> List[Tuple[object, tuple]]:
    """(where, argv) that remove what ``done`` created, newest first.

    Links are followed through renames and moves; links and addresses inside
    namespaces the batch created go with the namespace."""
    created: list = []  # ["netns", name] | ["link", [[where, name], …]] | ["addr", [where, dev], cidr]
    for op in done:
        kind, *args = op.effect or (None,)
        if kind == "netns+":
            created.append(["netns", args[0]])
        elif kind == "link+":
            created.append(["link", [list(end) for end in args[0]]])
        elif kind == "addr+":
            created.append(["addr", list(args[0]), args[1]])
        elif kind == "addr-":
            created = [c for c in created if c != ["addr", list(args[0]), args[1]]]
        elif kind == "netns-":
            created = [c for c in created if not _inside(c, args[0])]
        elif kind in ("link~", "link-"):
            _follow_link(created, list(args[0]), list(args[1]) if kind == "link~" else None)
    namespaces = {c[1] for c in created if c[0] == "netns"}
    ends = [end for c in created if c[0] == "link" for end in c[1]]
    steps = []
    for entry in reversed(created):
        if entry[0] == "netns":
            steps.append((base, commands.netns_del(entry[1])))
        elif entry[0] == "link":
            outside = [end for end in entry[1] if end[0] not in namespaces]
            if outside:
                where, name = min(outside, key=lambda end: end[0] != base)
                steps.append((where, commands.link_del(name)))
        elif entry[1][0] not in namespaces and entry[1] not in ends:
            steps.append((entry[1][0], commands.addr_del(entry[1][1], entry[2])))
    return steps


def _inside(entry: list, netns) -> bool:
    """Whether deleting namespace ``netns`` takes ``entry`` with it."""
    if entry[0] == "netns":
        return entry[1] == netns
    if entry[0] == "link":
        return any(end[0] == netns for end in entry[1])
    return entry[1][0] == netns


def _follow_link(created: list, end: list, moved: Optional[list]) -> None:
    """Record that link ``end`` became ``moved`` (renamed/moved) or, with
    None, was deleted (with its veth peer and their addresses)."""
    for entry in list(created):
        if entry[0] == "link" and end in entry[1]:
            if moved is None:
                created.remove(entry)
                gone = entry[1]
                created[:] = [c for c in created if not (c[0] == "addr" and c[1] in gone)]
                return
            entry[1][entry[1].index(end)] = moved
    stays = moved is not None and moved[0] == end[0]
    for entry in list(created):
        if entry[0] == "addr" and entry[1] == end:
            if stays:
                entry[1] = moved
            else:
                created.remove(entry)


def _write(files: Dict[str, str]) -> None:
    """Write the per-namespace scripts into :data:`SCRIPT_DIR`.

    Only root writes them (only root can run ``netns exec``); elsewhere, as
    in a replay or dry run by a user, nothing is written and nothing needs
    to be. A directory someone else could write to is refused: root would
    run what they put there."""
    if not files or os.geteuid() != 0:
        return
    try:
        os.makedirs(SCRIPT_DIR, mode=0o700, exist_ok=True)
    except OSError:
        return
    info = os.lstat(SCRIPT_DIR)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        raise NetnsWrapError(f"{SCRIPT_DIR} must be a directory of root that no one else can write to")
    for path, text in files.items():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # named by its content: already what it should be
            continue
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


def _remove(files: Dict[str, str]) -> None:
    for path in files:
        try:
            os.unlink(path)
        except OSError:
            pass
