"""Batches: collect changes, run them at ``ip -batch`` speed, all or nothing.

    with nw.batch() as b:                      # nothing runs inside the block
        b.bridge_add("br0")
        b.link_set_up("br0")
        h1 = b.netns_add("h1")                 # a scope: changes made inside h1
        b.veth_add("v1", "eth0", peer_netns=h1)
        b.link_set("v1", master="br0", up=True)
        h1.addr_add("eth0", "10.0.0.1/24")
        h1.link_set_up("eth0")
                                               # the block ends: one `ip -batch`

A batch scope has the same change methods as a handle (the ``…Writes``
mixins of :mod:`netnswrap.ops`): each validates when called, so a bad value
raises before anything runs; an exception inside the block discards the
batch. When the block ends the changes run as ONE process in the caller's
namespace (a process's, for a handle from ``Netns.from_pid``):
``ip -o -batch MAIN``, whose script holds the changes made there and, for
each named namespace, a line ``netns exec NS ip -o -batch FILE`` that runs
that namespace's lines (batch lines cannot carry ``-n``; iproute2 forks
these itself, far cheaper than a process started from Python). Changes are
regrouped so that each namespace's lines run together, but never across a
dependency (a namespace is created before a link moves into it).

**Files.** Each run has a directory of its own, made by the runner
(``mktemp -d -p /run/netnswrap``): the scripts, a record of the run
(``journal.json``) and ip's output (``out``). Nothing is shared between
batches, a stale file is never read, a short write is an error before ``ip``
runs, and the directory is removed whatever the outcome — except when the
batch could not be undone (then ``netnswrap cleanup`` finishes the job).

**Progress.** After every change line the script has ``link show dev lo``,
which prints one line (``-o``); counting those lines in ``out`` tells
exactly how many changes ran, even when ``ip`` stopped while parsing a line
(it then prints no ``Command failed`` line) or was killed.

**Failure and undo.** A failing line raises the typed error of the command
it came from, with ``argv`` as a handle would have run it (``ip -n h1 addr
add …``) and ``batch_line`` its line in its script; first, what ran is
undone, newest first, in one ``ip -force -batch``: created namespaces and
links are deleted, added addresses removed, removed addresses added back,
moved links moved back where they were (before a namespace the batch made is
deleted, so a link that existed before the batch is never destroyed with
it), renamed links renamed back. Not undone: deletions (``netns_del``,
``link_del``: what they removed is gone) and a link's state, MTU, master and
MAC.

**Interrupts.** A first Ctrl-C while ``ip`` runs lets it run on to its end
(or first failure), then undoes everything that ran and raises
``KeyboardInterrupt``: what ran is known exactly. A second Ctrl-C, or a
timeout, kills ``ip`` at once; what the markers show ran is undone, but the
one change ``ip`` was making when it died may stay. If the Python process
is killed, ``ip`` goes on to the end or its first failure, and
:func:`cleanup` (``netnswrap cleanup``) later undoes exactly what the record
says ran — nothing that netnswrap did not create.
"""
from __future__ import annotations

import contextlib
import json
import re
import signal
import threading
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple

from .classify import classify
from .errors import InvalidArgument, NetnsWrapError
from .ops import Changes, Undo, Write, where_of
from .ops.addr import AddrWrites
from .ops.link import LinkWrites
from .ops.netns import NetnsWrites
from .ops.neigh import NeighWrites
from .ops.route import RouteWrites
from .ops.sysctl import SysctlWrites
from .runners import SCRATCH_ROOT, Result, Runner
from .validate import check_netns_name
from .where import CALLER, Argv, Where

MARKER = "link show dev lo"
_MARKED = re.compile(r"^1: lo[:@]", re.M)
# The batch's ip, with its output in OUT, holding a lock on OUT while it runs
# (so that `cleanup` can tell a batch still running from one whose owner died).
RUN_SCRIPT = 'exec flock "$2" ip -o -batch "$1" >"$2"'
# What a batch line cannot carry: whitespace splits words, '#' starts a
# comment anywhere, a leading quote opens a quoted word, a trailing '\' joins lines.
_UNSAFE = re.compile(r"[\s#\"'\\]")
_ANY = object()  # stands for "every namespace" in ordering (a PID target other than the base)


@dataclass(eq=False)
class Op:
    """One change as recorded: where it runs and the :class:`Write`."""

    where: Where
    write: Write
    touches: frozenset


class BatchNetns(NetnsWrites, LinkWrites, AddrWrites, RouteWrites, NeighWrites, SysctlWrites):
    """The change methods of a :class:`~netnswrap.Netns`, recorded into a
    batch instead of run. ``b.netns(name)`` and ``b.netns_add(name)`` return
    one for changes made inside namespace ``name``."""

    def __init__(self, batch: "Batch", where: Where):
        self._batch = batch
        self.where = where

    @property
    def name(self) -> Optional[str]:
        return self.where.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.where})"

    def netns(self, name) -> "BatchNetns":
        """Changes made inside namespace ``name`` (a name or a named ``Netns``);
        they run as ``ip -n NAME …`` would."""
        where = where_of(name)
        if where.name is None:
            raise InvalidArgument(f"a batch scope needs a named namespace, not {name!r}")
        _check_line((check_netns_name(where.name),))  # a name ip reads in a batch line, typed by the user
        return BatchNetns(self._batch, where)

    def _apply(self, write: Write) -> None:
        self._batch.record(self.where, write)

    def _scope(self, name: str, created: bool) -> "BatchNetns":
        return self.netns(name)

    def _caller_pid(self) -> int:
        return self._batch.runner.caller_pid()


class Batch(BatchNetns):
    """Changes to run together at ``ip -batch`` speed; see the module docstring.

    ``with handle.batch() as b: …`` runs them when the block ends (and not at
    all if it raises); without ``with``, call :meth:`run`.
    Equivalent to: ``ip -o -batch FILE`` (with ``netns exec NS ip -o -batch FILE`` lines)
    """

    def __init__(self, handle):
        self.handle = handle
        # The script runs in the caller's namespace, or a process's (nsenter
        # -n enters only the network namespace). Never as `ip -n NAME -batch`:
        # that ip has a mount namespace of its own, where a `netns add`
        # would mount the new namespace and lose it on exit. A named handle's
        # changes go into a `netns exec` line like any other namespace's.
        self.base = CALLER if handle.where.name is not None else handle.where
        self.ops: List[Op] = []
        super().__init__(self, handle.where)

    @property
    def runner(self) -> Runner:
        return self.handle.runner

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.ops = []
            return
        self.run()

    def record(self, where: Where, write: Write) -> None:
        _check_line(write.argv)
        if write.in_caller:
            where = self.base
        touched: set = {where, *write.touches}
        touched = {_ANY if t.name is None and t != self.base else t for t in touched}
        self.ops.append(Op(where, write, frozenset(touched)))

    def script(self, directory: str = f"{SCRATCH_ROOT}/batch.XXXXXXXX") -> Tuple[str, Dict[str, str]]:
        """The main script the pending changes make, and the per-namespace
        scripts it runs (``{path: text}``), for a run in ``directory``."""
        plan = Plan(self.base, schedule(self.ops, self.base), directory)
        return plan.files[plan.main], {p: t for p, t in plan.files.items() if p != plan.main}

    def run(self) -> None:
        """Run the pending changes: one ``ip -batch`` process.

        On a failing line, undo what had been done and raise the error of the
        command that line came from (see the module docstring)."""
        ops, self.ops = self.ops, []
        if not ops:
            return
        runner = self.runner
        directory = runner.scratch_dir()
        plan = Plan(self.base, schedule(ops, self.base), directory)
        try:
            for path, text in plan.files.items():
                runner.write_file(path, text)
            runner.write_file(plan.journal, journal(plan, runner.caller_pid()))
        except BaseException:
            runner.remove_dir(directory)
            raise
        interrupted: list = []
        try:
            with _ctrl_c_held(interrupted):
                result = self.handle.at(self.base).run(plan.argv, check=False, as_program=True)
        except BaseException:  # a second Ctrl-C, a timeout: ip was killed; undo what ran
            undo_ran(runner, plan, runner.read_file(plan.out))
            raise
        if any(op.write.deletes_netns for op in plan.ops):
            runner.facts.netns_deleted = True
        if result.ok and not interrupted:
            runner.remove_dir(directory)
            return
        error = plan.error(result, runner.read_file(plan.out)) if not result.ok else None
        undo_ran(runner, plan, runner.read_file(plan.out))
        if interrupted:
            raise KeyboardInterrupt
        raise error or NetnsWrapError("unreachable")


@contextlib.contextmanager
def _ctrl_c_held(interrupted: list) -> Iterator[None]:
    """While the batch's ip runs, a first Ctrl-C is noted in ``interrupted``
    (ip runs on to its end or first failure, so that what ran is known
    exactly and can be undone); a second one interrupts at once. Only the
    main thread receives signals: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def note(signum, frame):
        interrupted.append(signum)
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _check_line(argv) -> None:
    for word in argv:
        if _UNSAFE.search(word):
            raise InvalidArgument(f"{word!r} cannot go into an ip -batch line "
                                  "(no whitespace, '#', quotes or backslashes)")


@dataclass(eq=False)
class Segment:
    """Consecutive ops that run in one namespace."""

    where: Where
    ops: List[Op] = field(default_factory=list)


def schedule(ops: List[Op], base: Where) -> List[Segment]:
    """Segments in execution order: each op goes right after the last one it
    depends on (one touching a namespace it touches), joining that segment
    when it runs in the same namespace; ops of the script's own namespace go
    as early as they may, a new segment of another namespace goes last."""
    segments: List[Segment] = []
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
            segment = Segment(op.where)
            segments.insert(last + 1 if op.where == base else len(segments), segment)
        segment.ops.append(op)
        latest.update(dict.fromkeys(op.touches, segment))
    return segments


def _line(argv: Argv) -> str:
    return " ".join(argv[1:])  # a batch line is an ip command without "ip"


class Plan:
    """Segments turned into files of ``directory``: the main script, one per
    other namespace, and where each op's line is."""

    def __init__(self, base: Where, segments: List[Segment], directory: str, *, undo: bool = False):
        self.base = base
        self.ops = [op for seg in segments for op in seg.ops]
        self.main = f"{directory}/{'undo' if undo else 'main'}"
        self.out = f"{directory}/out"
        self.journal = f"{directory}/journal.json"
        self.line_of: Dict[int, Tuple[str, int]] = {}  # id(op) -> (script, line number)
        options = "-force" if undo else "-o"
        per_op = [] if undo else [MARKER]
        main: List[str] = []
        self.files: Dict[str, str] = {}
        for number, seg in enumerate(segments):
            lines = main if seg.where == base else []
            path = self.main if seg.where == base else f"{directory}/{'undo' if undo else 'ns'}{number}"
            for op in seg.ops:
                lines.append(_line(op.write.argv))
                self.line_of[id(op)] = (path, len(lines))
                lines += per_op
            if seg.where != base:
                self.files[path] = "".join(line + "\n" for line in lines)
                main.append(f"netns exec {seg.where.name} ip {options} -batch {path}")
        self.files[self.main] = "".join(line + "\n" for line in main)
        self.argv: Argv = (("ip", "-force", "-batch", self.main) if undo
                           else ("sh", "-c", RUN_SCRIPT, "netnswrap-batch", self.main, self.out))

    def error(self, result: Result, out: str) -> NetnsWrapError:
        """The error of the op that failed (the one after the last marker),
        as a handle would have raised it."""
        done = ran(out, self.ops)
        failed = self.ops[done] if done < len(self.ops) else None
        argv = failed.where.place(failed.write.argv) if failed else result.argv
        error = classify(argv, result.returncode, result.stdout, result.stderr)
        if error is None:  # cannot be: the result failed
            error = NetnsWrapError(f"ip -batch failed with exit status {result.returncode}")
        error.batch_line = self.line_of[id(failed)][1] if failed else None
        return error


def ran(out: str, ops: list) -> int:
    """How many ops ran, from the markers in ip's output."""
    return min(len(_MARKED.findall(out)), len(ops))


def undo_steps(done: List[Op]) -> List[Op]:
    """The ops that take ``done`` back, newest first. What was made inside a
    namespace the batch created goes with it (renames and moves back still run)."""
    doomed = {Where(op.write.argv[3]) for op in done if op.write.argv[1:3] == ("netns", "add")}
    steps = []
    for op in reversed(done):
        undo: Optional[Undo] = op.write.undo
        if undo is None:
            continue
        where = undo.where or op.where
        if where in doomed and undo.removes:
            continue
        steps.append(Op(where, Write(undo.argv), frozenset({where})))
    return steps


def undo_ran(runner: Runner, plan: Plan, out: str) -> None:
    """Take back what ran (``out`` holds its markers), then remove the run's
    directory; if this is interrupted, the directory stays for :func:`cleanup`."""
    directory = plan.main.rsplit("/", 1)[0]
    steps = undo_steps(plan.ops[:ran(out, plan.ops)])
    if steps:
        undo = Plan(plan.base, _in_order(steps), directory, undo=True)
        for path, text in undo.files.items():
            runner.write_file(path, text)
        runner.run(plan.base.place(undo.argv))
    runner.remove_dir(directory)


def _in_order(steps: List[Op]) -> List[Segment]:
    """Consecutive steps of one namespace as a segment, never reordered."""
    segments: List[Segment] = []
    for step in steps:
        if not segments or segments[-1].where != step.where:
            segments.append(Segment(step.where))
        segments[-1].ops.append(step)
    return segments


def journal(plan: Plan, owner: int) -> str:
    """The record of a run: who ran it and, per op in order, where it ran
    and how to undo it — enough for :func:`cleanup` to finish the job."""
    def where(w: Where) -> dict:
        return {"name": w.name, "pid": w.pid}
    ops = [{"where": where(op.where), "argv": list(op.write.argv),
            "undo": None if op.write.undo is None else {
                "argv": list(op.write.undo.argv), "removes": op.write.undo.removes,
                "where": where(op.write.undo.where) if op.write.undo.where else None}}
           for op in plan.ops]
    head = json.dumps({"owner": owner, "base": where(plan.base)})[:-1]
    return head + ', "ops": [\n' + ",\n".join(json.dumps(op) for op in ops) + "\n]}\n"


def _from_journal(text: str) -> Tuple[int, Where, List[Op]]:
    data = json.loads(text)
    def where(w) -> Where:
        return Where(w["name"], w["pid"])
    ops = []
    for entry in data["ops"]:
        u = entry["undo"]
        undo = None if u is None else Undo(tuple(u["argv"]), where(u["where"]) if u["where"] else None,
                                            u["removes"])
        ops.append(Op(where(entry["where"]), Write(tuple(entry["argv"]), undo=undo), frozenset()))
    return int(data["owner"]), where(data["base"]), ops


def cleanup(runner: Optional[Runner] = None) -> List[str]:
    """Finish batches whose process died: for each record in /run/netnswrap
    whose owner is gone and whose ``ip`` has ended, undo exactly the changes
    it says ran, and remove it. Records of running batches are left alone.
    Returns the directories it finished.
    Equivalent to: ``ip -force -batch UNDO`` per record found by ``ls /run/netnswrap``"""
    from .defaults import get_runner
    runner = runner or get_runner()
    listing = runner.run(("ls", SCRATCH_ROOT))
    finished = []
    for entry in sorted(listing.stdout.split()) if listing.ok else []:
        directory = f"{SCRATCH_ROOT}/{entry}"
        text = runner.read_file(f"{directory}/journal.json")
        if not entry.startswith("batch.") or not text:
            continue
        try:
            owner, base, ops = _from_journal(text)
        except (ValueError, KeyError, TypeError):
            raise NetnsWrapError(f"{directory}/journal.json is not a netnswrap batch record") from None
        if runner.read_file(f"/proc/{owner}/stat"):
            continue  # its owner is still running: it is no leftover
        if not runner.run(("flock", "-n", f"{directory}/out", "true")).ok:
            continue  # its ip is still running
        plan = Plan(base, _in_order(ops), directory)
        undo_ran(runner, plan, runner.read_file(plan.out))
        finished.append(directory)
    return finished
