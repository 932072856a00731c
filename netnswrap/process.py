"""Programs in the background: the :class:`Process` a runner's ``spawn`` returns.

A live runner feeds a ``Process`` as the program writes (:meth:`Process.add_stdout`,
:meth:`Process.add_stderr`) and ends it with :meth:`Process.finish`; a replay or a
dry run hands out one that has already ended (:meth:`Process.finished`). The
reader's side is the same for all: ``lines()``, ``wait()``, ``terminate()``,
``kill()``, ``running``, ``returncode``, and ``with … as process:``, which kills
the program's process group when the block ends.

A child forked from the process that spawned (os.fork, multiprocessing's
'fork') gets copies of its Processes but not the threads that follow the
programs, which are not its children either: there a Process still running
refuses to be waited for or signalled (:class:`~netnswrap.errors.NetnsWrapError`
at once, not a wait forever), and ``with`` leaves it to the parent.
"""
from __future__ import annotations

import os
import queue
import shlex
import signal
import threading
import time
import weakref
from typing import Callable, Dict, Iterator, List, NoReturn, Optional, Sequence

from .errors import CommandTimeout, InvalidArgument, NetnsWrapError
from .result import Result
from .validate import check_timeout

# How long terminate() lets a program handle SIGTERM before SIGKILL.
TERMINATE_GRACE = 5.0

_END = object()  # in the line queue: no more lines

# The Processes of programs this process started (see forget_programs).
_attached: "weakref.WeakSet[Process]" = weakref.WeakSet()


class Process:
    """A program started in the background by ``runner.spawn(argv)``.

    ``pid`` is the program's PID (None where nothing runs: a replay, a dry
    run) and the ID of the process group it leads; ``argv`` the command as
    it was run (with the namespace prefix). Output is read as it comes, so a
    program never blocks on a full pipe: stdout both as :meth:`lines` and,
    whole, in the :class:`~netnswrap.runners.Result` of :meth:`wait`; stderr
    kept for that Result. A timeout (of :meth:`lines` or :meth:`wait`) kills
    the group and raises :class:`~netnswrap.errors.CommandTimeout` with the
    output read so far. When the program ends, what it left running in its
    group is killed too: nothing outlives it unnoticed.

    ``signal_group(signum)`` is the runner's way to signal the group while
    the program runs; None for a process that never ran.
    """

    def __init__(self, argv: Sequence[str], pid: Optional[int] = None,
                 signal_group: Optional[Callable[[int], None]] = None):
        self.argv = tuple(argv)
        self.pid = pid
        self._signal_group = signal_group
        self._lines: "queue.SimpleQueue[object]" = queue.SimpleQueue()
        self._stdout: List[str] = []
        self._stderr: List[str] = []
        self._lock = threading.Lock()
        self._ended = threading.Event()
        self._returncode: Optional[int] = None
        self._on_end: List[Callable[["Process"], None]] = []
        self._parent: Optional[int] = None  # in a forked child: the PID that started the program

    @classmethod
    def finished(cls, argv: Sequence[str], returncode: int, stdout: str = "", stderr: str = "") -> "Process":
        """A process that has already ended with this status and output."""
        process = cls(argv)
        for line in stdout.splitlines(keepends=True):
            process.add_stdout(line)
        process.add_stderr(stderr)
        process.finish(returncode)
        return process

    # --- the runner's side ------------------------------------------------------

    def attach(self, pid: int, signal_group: Callable[[int], None]) -> None:
        """The program has started: its PID, and how to signal its group."""
        self.pid, self._signal_group = pid, signal_group
        _attached.add(self)

    def add_stdout(self, line: str) -> None:
        """A line (or the last, unterminated piece) the program wrote to stdout."""
        with self._lock:
            self._stdout.append(line)
        self._lines.put(line)

    def add_stderr(self, text: str) -> None:
        """Text the program wrote to stderr."""
        with self._lock:
            self._stderr.append(text)

    def finish(self, returncode: int) -> None:
        """The program has ended (negative ``returncode``: killed by that signal)
        and all its output has been added."""
        with self._lock:
            self._returncode = returncode
            callbacks, self._on_end = self._on_end, []
        self._lines.put(_END)
        self._ended.set()
        for callback in callbacks:
            callback(self)

    def on_end(self, callback: Callable[["Process"], None]) -> None:
        """Call ``callback(process)`` once the program has ended (at once if it has)."""
        with self._lock:
            if self._returncode is None:
                self._on_end.append(callback)
                return
        callback(self)

    # --- the reader's side ------------------------------------------------------

    @property
    def running(self) -> bool:
        """True until the program has ended and its output is read."""
        return not self._ended.is_set()

    @property
    def returncode(self) -> Optional[int]:
        """The exit status once ended (negative: killed by that signal), else None."""
        return self._returncode

    @property
    def stdout(self) -> str:
        """Everything read from stdout so far."""
        with self._lock:
            return "".join(self._stdout)

    @property
    def stderr(self) -> str:
        """Everything read from stderr so far."""
        with self._lock:
            return "".join(self._stderr)

    def lines(self, timeout: Optional[float] = None) -> Iterator[str]:
        """The stdout lines as they arrive, each with its newline (as a file
        iterates; the last may lack one), until the program ends. Each line is
        handed out once, whoever iterates. Past ``timeout`` seconds (from this
        call; None: no limit) the group is killed and :class:`CommandTimeout`
        raised. (A program whose stdout went to a file of the caller's yields none.)"""
        limit = check_timeout(timeout)
        self._check_ours()
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            try:
                item = self._lines.get(timeout=None if deadline is None
                                       else max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._expire(limit)
            if item is _END:
                self._lines.put(_END)  # for any other reader
                return
            yield str(item)

    def wait(self, timeout: Optional[float] = None) -> Result:
        """Wait for the program to end and return its :class:`Result` (whole
        stdout, stderr, exit status). Past ``timeout`` seconds (None: no limit)
        the group is killed and :class:`CommandTimeout` raised."""
        limit = check_timeout(timeout)
        self._check_ours()
        if not self._ended.wait(limit):
            self._expire(limit)
        return self.result()

    def result(self) -> Result:
        """The :class:`Result` of an ended program (InvalidArgument while it runs)."""
        with self._lock:
            if self._returncode is None:
                raise InvalidArgument(f"{self.command} is still running: wait() for it first")
            return Result(self.argv, self._returncode, "".join(self._stdout), "".join(self._stderr))

    def terminate(self, grace: float = TERMINATE_GRACE, *, signum: int = signal.SIGTERM) -> None:
        """SIGTERM (or ``signum``) to the program's group; if it has not ended
        ``grace`` seconds later (default :data:`TERMINATE_GRACE`, 5 s),
        SIGKILL. Returns once it has ended.
        Equivalent to: ``kill -TERM -PGID; sleep GRACE; kill -KILL -PGID``"""
        grace = check_timeout(grace) or 0.0
        self._check_ours()
        self.send_signal(signum)
        if not self._ended.wait(grace):
            self.kill()

    def kill(self) -> None:
        """SIGKILL to the program's whole group; returns once it has ended.
        Equivalent to: ``kill -KILL -PGID``"""
        self._check_ours()
        self.send_signal(signal.SIGKILL)
        self._ended.wait()

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the program's group while it runs (after its end,
        nothing: its group ID may be someone else's by then).
        Equivalent to: ``kill -SIGNUM -PGID``"""
        self._check_ours()
        if self.running and self._signal_group is not None:
            self._signal_group(signum)

    @property
    def command(self) -> str:
        """The command as a shell line."""
        return shlex.join(self.argv)

    def __enter__(self) -> "Process":
        return self

    def __exit__(self, *exc_info) -> None:
        if self._parent is None:  # in a forked child the program is the parent's to end
            self.kill()

    def __repr__(self) -> str:
        state = "running" if self.running else f"returncode={self._returncode}"
        return f"<Process pid={self.pid} {state}: {self.command}>"

    def _check_ours(self) -> None:
        if self._parent is not None:
            raise NetnsWrapError(f"{self.command} (PID {self.pid}) was started by process {self._parent}, "
                                 f"which this one ({os.getpid()}) was forked from while it ran: only "
                                 f"process {self._parent} can wait for it or signal it")

    def _after_fork(self, parent: int) -> None:
        """This is a forked child's copy: a lock no dead thread holds, and, if
        the program still ran at the fork, the PID of the process that started it."""
        self._lock = threading.Lock()
        if self.running and self._parent is None:
            self._parent = parent

    def _expire(self, limit: Optional[float]) -> NoReturn:
        self.kill()
        with self._lock:
            stdout, stderr = "".join(self._stdout), "".join(self._stderr)
        raise CommandTimeout(self.argv, limit or 0.0, stdout, stderr, returncode=self._returncode)


def forget_programs(parent: int) -> None:
    """In a child forked from process ``parent``: the programs it had
    spawned and that still ran are its own, not this process's (the runner
    that spawns calls this after a fork)."""
    for process in list(_attached):
        process._after_fork(parent)


def check_env(env) -> Optional[Dict[str, str]]:
    """Variables for a spawned program: None, or a dict of str names (not
    empty, no '=' or NUL) to str values (no NUL)."""
    if env is None:
        return None
    if not isinstance(env, dict):
        raise InvalidArgument(f"invalid env {env!r}: must be a dict of str to str, or None")
    for name, value in env.items():
        if not isinstance(name, str) or not name or "=" in name or "\0" in name:
            raise InvalidArgument(f"invalid environment variable name {name!r}: a non-empty str without '=' or NUL")
        if not isinstance(value, str) or "\0" in value:
            raise InvalidArgument(f"invalid value {value!r} of environment variable {name}: a str without NUL")
    return dict(env)
