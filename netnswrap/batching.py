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
namespace (a process's, for a handle from ``Netns.from_pid``): a shell
script of ``ip -o -batch FILE`` for the changes made there and ``ip -n NS
-o -batch FILE`` for each named namespace's, one after another, stopping
at the first that fails (batch lines cannot carry ``-n``; these ip
processes start far cheaper from one shell than from Python, and cheaper
than ``netns exec`` lines of one ip). Changes are regrouped so that each
namespace's lines run together, but never across a dependency (a namespace
is created before a link moves into it).

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
add …``) and ``batch_line`` its line in its file; first, what ran is
undone, newest first, by ``ip -force -batch`` (one script again): created namespaces and
links are deleted, added addresses removed, removed addresses added back,
moved links moved back where they were (before a namespace the batch made is
deleted, so a link that existed before the batch is never destroyed with
it: such a namespace is deleted last, and kept, with a failure reported, if
a link is still in it), renamed links renamed back. Not undone: deletions (``netns_del``,
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
import signal
import threading
from typing import Dict, Iterator, List, Optional, Tuple

from .batch_script import ANY, MARKER_ROOM, Op, Plan, Segment, check_line, schedule
from .batch_undo import journal, undo_ran
from .errors import InvalidArgument, NetnsWrapError
from .ops import Write, where_of
from .ops.all import WriteMethods
from .runners import SCRATCH_ROOT, Runner
from .validate import check_netns_name
from .where import CALLER, Where


class BatchNetns(WriteMethods):
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
        check_line((check_netns_name(where.name),))  # a name ip reads in a batch line, typed by the user
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
    Equivalent to: ``sh -e SCRIPT`` of ``ip -o -batch FILE`` and ``ip -n NS -o -batch FILE`` lines
    """

    def __init__(self, handle):
        self.handle = handle
        # The script runs in the caller's namespace, or a process's (nsenter
        # -n enters only the network namespace). Never all in `ip -n NAME`:
        # that ip has a mount namespace of its own, where a `netns add`
        # would mount the new namespace and lose it on exit. A named handle's
        # changes go into an `ip -n NAME` file like any other namespace's.
        self.base = CALLER if handle.where.name is not None else handle.where
        self.ops: List[Op] = []
        self._scheduled: Tuple[int, List[Segment]] = (0, [])  # (how many ops, their order)
        super().__init__(self, handle.where)

    @property
    def runner(self) -> Runner:
        return self.handle.runner

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.ops, self._scheduled = [], (0, [])
            return
        self.run()

    def record(self, where: Where, write: Write) -> None:
        if write.argv[0] != "ip":  # a batch line is an ip command; a program runs as `netns exec NS …`
            raise InvalidArgument(f"a batch runs a program ({write.argv[0]}) only in a named namespace, "
                                  f"not in {where}: run it outside the batch")
        check_line(write.argv)
        if write.undo is not None:
            try:
                check_line(write.undo.argv)  # (a move back names the namespace it came from)
            except InvalidArgument as exc:
                raise InvalidArgument(f"{exc}: this change could not be undone") from None
        if write.in_caller:
            where = self.base
        touched: set = {where, *write.touches}
        touched = {ANY if t.name is None and t != self.base else t for t in touched}
        self.ops.append(Op(where, write, frozenset(touched)))

    def segments(self) -> List[Segment]:
        """The pending changes in the order they will run, by namespace
        (worked out once for a given set of changes: they are only added to)."""
        if self._scheduled[0] != len(self.ops):
            self._scheduled = (len(self.ops), schedule(self.ops, self.base))
        return self._scheduled[1]

    def script(self, directory: str = f"{SCRATCH_ROOT}/batch.XXXXXXXX") -> Tuple[str, Dict[str, str]]:
        """The shell script the pending changes make, and the files of batch
        lines its ip processes read (``{path: text}``), for a run in ``directory``."""
        plan = Plan(self.base, self.segments(), directory)
        return plan.files[plan.main], {p: t for p, t in plan.files.items() if p != plan.main}

    def run(self) -> None:
        """Run the pending changes: one process (a shell running the ``ip -batch``es).

        On a failing line, undo what had been done and raise the error of the
        command that line came from (see the module docstring)."""
        if not self.ops:
            return
        segments, self.ops, self._scheduled = self.segments(), [], (0, [])
        runner = self.runner
        directory = runner.scratch_dir()
        plan = Plan(self.base, segments, directory)
        try:
            runner.write_file(plan.journal, journal(plan, runner.caller_pid()))  # first: a record of it all
            for path, text in plan.files.items():
                runner.write_file(path, text)
            runner.reserve_file(plan.out, MARKER_ROOM * (len(plan.ops) + 1))
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
        out = runner.read_file(plan.out)
        error = plan.error(result, out) if not result.ok else None
        failures = undo_ran(runner, plan, out)
        if interrupted:
            raise KeyboardInterrupt
        if error is None:
            raise NetnsWrapError("unreachable: a batch that neither failed nor was interrupted")
        if failures:
            error.undo_failed = failures
            error.message += f" (its undo was incomplete, the record stays in {directory}: {'; '.join(failures)})"
        raise error


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
