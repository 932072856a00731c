"""The live runner: runs commands through the ``sh`` package.

This is the only module that imports ``sh``, and only when a command runs,
so ``import netnswrap``, parsing and replay work on machines without it.
"""
from __future__ import annotations

import contextlib
import gc
import heapq
import itertools
import logging  # noqa: F401 - sh imports it; loaded first, its fork hooks are not added during a fork (_before_fork)
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
import warnings
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .errors import CommandError, CommandTimeout, InvalidArgument, NetnsWrapError, ToolNotFound
from .process import Process, check_env, forget_programs
from .runners import SCRATCH_ROOT, Result, Runner
from .validate import check_argv, check_timeout

# Exit statuses sh must hand back instead of raising: all of them, including
# the negative ones of a child killed by a signal.
_ANY_STATUS = tuple(range(-64, 256))

# Spawns are serialised across threads. sh forks the whole interpreter and
# turns the garbage collector off from just before the fork until the parent
# resumes, so that no finaliser runs in the child before exec; a second
# thread's spawn ending in between would turn it back on under the first's
# fork. Only the spawn is locked (until the child has exec'd): waiting for
# commands and reading their output go on in parallel.
_spawn_lock = threading.Lock()
# The thread spawning (holding the lock), and whether the collector was on
# before sh turned it off: what a child forked meanwhile needs (_after_fork).
_spawner: Optional[int] = None
_collecting = True


@contextlib.contextmanager
def _spawning() -> Iterator[None]:
    """Hold the spawn lock, noting who holds it."""
    global _spawner, _collecting
    with _spawn_lock:
        _spawner, _collecting = threading.get_ident(), gc.isenabled()
        try:
            yield
        finally:
            _spawner = None


# sh, imported on the first command. A fork while another thread imports it
# (sh and what it imports, asyncio and ssl among them, take a while) would
# leave the child half-made modules whose import locks nobody releases: the
# import holds _import_lock, and a fork holds it too (_before_fork).
_sh: Any = None
_import_lock = threading.RLock()  # re-entrant: the importing thread itself may fork


def _import_sh():
    """The ``sh`` module, imported by the first command (see above)."""
    global _sh
    if _sh is None:
        with _import_lock:
            import sh
            _sh = sh
    return _sh


# Python 3.12+ warns at every fork() from a process with threads (sh's own
# reader threads suffice) that the child may deadlock on a lock another thread
# held. sh's child runs only os-level calls between fork and exec (no import,
# no logging, nothing of netnswrap's), and the spawn lock above keeps two
# spawns from interleaving: that risk is handled, so exactly this warning,
# raised from sh's fork, is silenced; the same text from anywhere else, and
# every other warning, still shows. A module-level filter (installed on the
# first spawn, again if a test framework reset the filters), not
# warnings.catch_warnings, which is not thread-safe.
FORK_WARNING = (r"This process \(pid=\d+\) is multi-threaded, use of fork\(\) may lead to "
                r"deadlocks in the child\.")


def quiet_fork_warning() -> None:
    """Install the filter for sh's fork warning, unless it is in place."""
    if not any(entry[0] == "ignore" and entry[1] is not None and entry[1].pattern == FORK_WARNING
               for entry in warnings.filters):
        warnings.filterwarnings("ignore", message=FORK_WARNING, category=DeprecationWarning, module=r"sh\Z")


class ShRunner(Runner):
    """Runs each command as a child process via ``sh``.

    No tty, ``LC_ALL=C`` on top of the caller's environment, output decoded
    as UTF-8, any exit status returned (never raised). The child runs in a
    process group of its own: past ``timeout`` seconds (default 60; ``None``
    for no limit) the whole group is killed and :class:`CommandTimeout` is
    raised; on Ctrl-C the group is killed before ``KeyboardInterrupt`` goes on.
    A missing program raises :class:`ToolNotFound` naming its package.
    :meth:`spawn` starts a program in the background the same way and
    returns its :class:`~netnswrap.process.Process` at once.
    """

    def __init__(self, timeout: Optional[float] = 60.0):
        super().__init__()
        self.timeout = check_timeout(timeout)

    def run(self, argv: Sequence[str], *, input: Optional[str] = None,
            timeout: Optional[float] = None) -> Result:
        sh = _import_sh()
        argv = check_argv(argv)
        limit = self.timeout if timeout is None else check_timeout(timeout)
        check_exec_size(argv)
        quiet_fork_warning()
        program = _program(sh, argv)
        # _close_fds=False: Python opens every fd close-on-exec (PEP 446), so the
        # child's fd-by-fd closing loop in sh is redundant (~1 ms a process).
        running = deadline = None
        try:
            with _spawning(), _ctrl_c_deferred(), _exec_failure(sh, argv):
                running = program(*argv[1:], _bg=True, _bg_exc=False, _tty_out=False,
                                  _env=dict(os.environ, LC_ALL="C"), _in=input,
                                  _ok_code=_ANY_STATUS, _new_group=True, _close_fds=False)
            # sh's own _timeout polls every 0.1 s, which would dominate short
            # commands; one watchdog thread for all commands costs nothing until a
            # deadline passes (a thread per command cost ~0.1 ms to start).
            if limit:
                deadline = _watchdog.watch(limit, running.pid)
            running.wait()
        except BaseException:
            if running is not None:
                _kill_group(running.pid)
            raise
        finally:
            expired = deadline is not None and _watchdog.cancel(deadline)
        assert running is not None
        result = Result(argv, running.exit_code, _text(running.stdout), _text(running.stderr))
        if expired:
            raise CommandTimeout(argv, limit or 0.0, result.stdout, result.stderr)
        return result

    def spawn(self, argv: Sequence[str], *, env: Optional[Dict[str, str]] = None,
              stdin=None, stdout=None, stderr=None) -> Process:
        """Start ``argv`` in the background, leading a process group of its
        own, and return its :class:`~netnswrap.process.Process` at once (no
        time limit here: see ``Process.wait`` and ``Process.lines``).

        ``env``: variables set on top of the inherited environment and
        ``LC_ALL=C``. ``stdin``: None (the program reads nothing, as from
        /dev/null), a str (written to it, then closed), or a file object or
        descriptor it reads itself. ``stdout``/``stderr``: None (read as they
        come, kept by the Process), or a file object or descriptor the program
        writes to itself (then not kept). Equivalent to: ``ARGV… &``"""
        sh = _import_sh()
        argv = check_argv(argv)
        variables = check_env(env) or {}
        check_exec_size(argv)
        quiet_fork_warning()
        program = _program(sh, argv)
        process = Process(argv)
        # No tty of sh's making; sh refuses to be told so when stdout is a terminal already.
        no_tty = {} if stdout is not None and _is_terminal(stdout) else {"_tty_out": False}
        running = None
        with open(os.devnull, "rb") as nothing:
            try:
                with _spawning(), _ctrl_c_deferred(), _exec_failure(sh, argv):
                    running = program(*argv[1:], _bg=True, _bg_exc=False, **no_tty,
                                      _env={**os.environ, "LC_ALL": "C", **variables},
                                      _in=nothing if stdin is None else stdin,
                                      _out=process.add_stdout if stdout is None else stdout,
                                      _err=process.add_stderr if stderr is None else stderr,
                                      _encoding="utf-8", _decode_errors="replace",
                                      _ok_code=_ANY_STATUS, _new_group=True, _close_fds=False)
                group = _Group(running.pid)
                process.attach(running.pid, group.signal)
                threading.Thread(target=_watch, args=(running, process, group), daemon=True,
                                 name=f"netnswrap spawn {running.pid}").start()
            except BaseException:
                if running is not None:
                    _kill_group(running.pid)
                raise
        return process

    def scratch_dir(self) -> str:
        """A new private directory under /run/netnswrap (root's, mode 0700;
        refused if anyone else could write there, since root runs what it
        holds), or under the temporary directory for a user who cannot
        create /run/netnswrap (nothing that needs the files works for them).
        Equivalent to: ``mktemp -d -p /run/netnswrap batch.XXXXXXXX``"""
        try:
            os.makedirs(SCRATCH_ROOT, mode=0o700, exist_ok=True)
        except PermissionError:
            return tempfile.mkdtemp(prefix="netnswrap-batch.")
        except OSError as exc:
            raise NetnsWrapError(f"cannot create {SCRATCH_ROOT}: {exc.strerror or exc}") from None
        info = os.lstat(SCRATCH_ROOT)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
            raise NetnsWrapError(f"{SCRATCH_ROOT} must be a directory of yours that no one else can write to")
        try:
            return tempfile.mkdtemp(prefix="batch.", dir=SCRATCH_ROOT)
        except OSError as exc:
            raise NetnsWrapError(f"cannot create a directory in {SCRATCH_ROOT}: {exc.strerror or exc}") from None

    def write_file(self, path: str, text: str) -> None:
        """Create ``path`` (it must not exist) holding all of ``text``; a short
        write (a full disk) is a :class:`NetnsWrapError`. Equivalent to: ``tee PATH <<EOF``"""
        data = text.encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        except OSError as exc:
            raise NetnsWrapError(f"cannot write {path}: {exc.strerror or exc}") from None

    def read_file(self, path: str) -> str:
        """``path``'s text, '' if it is missing. Equivalent to: ``cat PATH``"""
        try:
            with open(path, "rb") as file:
                return _text(file.read())
        except OSError:
            return ""

    def reserve_file(self, path: str, size: int) -> None:
        """Equivalent to: ``fallocate -l SIZE PATH`` (a full disk is a
        :class:`NetnsWrapError` now, not a lost write later)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.posix_fallocate(fd, 0, size)
            finally:
                os.close(fd)
        except OSError as exc:
            raise NetnsWrapError(f"cannot reserve {size} bytes for {path}: {exc.strerror or exc}") from None

    def remove_dir(self, path: str) -> None:
        """Equivalent to: ``rm -rf PATH``"""
        shutil.rmtree(path, ignore_errors=True)


# What execve() takes (include/uapi/linux/binfmts.h): one argument or
# environment string of at most MAX_ARG_STRLEN bytes with its NUL; all of them,
# with a pointer each, within ARG_MAX (`getconf ARG_MAX`, a quarter of the stack limit).
MAX_ARG_STRLEN = 32 * os.sysconf("SC_PAGE_SIZE")


def check_exec_size(argv: Sequence[str]) -> None:
    """Refuse (:class:`InvalidArgument` naming the kernel's limit) an argv too
    long to execute, before anything forks. Commands of less than 32 KiB of
    text, all of netnswrap's own, pass on a length sum alone."""
    if sum(map(len, argv)) * 4 < MAX_ARG_STRLEN:  # at most 4 bytes a character in UTF-8
        return
    sizes = [len(arg.encode("utf-8", "surrogateescape")) + 1 for arg in argv]
    longest = max(range(len(sizes)), key=sizes.__getitem__)
    if sizes[longest] > MAX_ARG_STRLEN:
        raise InvalidArgument(f"argument {longest} of {argv[0]} is {sizes[longest] - 1} bytes: the kernel "
                              f"takes at most {MAX_ARG_STRLEN - 1} bytes in one argument (MAX_ARG_STRLEN)")
    environment = sum(len(key) + len(value) + 2 for key, value in os.environ.items())
    total = sum(sizes) + environment + 8 * (len(sizes) + len(os.environ) + 2)
    arg_max = os.sysconf("SC_ARG_MAX")
    if total > arg_max:
        raise InvalidArgument(f"the command line of {argv[0]} and the environment are {total} bytes: the "
                              f"kernel takes at most {arg_max} (ARG_MAX, `getconf ARG_MAX`)")


@contextlib.contextmanager
def _exec_failure(sh, argv: Sequence[str]) -> Iterator[None]:
    """A child that forked but could not exec (sh's ``ForkException``: no
    permission, not an executable format, too long for execve) is reaped at
    once — no zombie per failure — and reported as a typed error."""
    try:
        yield
    except sh.ForkException as exc:
        _reap_unexecuted(exc)
        reason = str(exc).strip().splitlines()[-1].strip()  # the last line of the child's traceback
        if "[Errno 2]" in reason:  # removed since its PATH lookup was cached
            _programs.clear()
            raise ToolNotFound(argv[0], argv=argv) from None
        if "[Errno 7]" in reason:  # E2BIG: what check_exec_size could not foresee
            raise InvalidArgument(f"{argv[0]} cannot be executed: {reason} (ARG_MAX, `getconf ARG_MAX`)",
                                  argv=argv) from None
        raise CommandError(f"{argv[0]} cannot be executed: {reason}", argv=argv) from None


def _reap_unexecuted(exc: BaseException) -> None:
    """Wait for the child whose exec failed: sh raises from the constructor of
    its process object, which knows the child's PID, and forgets it."""
    trace = exc.__traceback__
    while trace is not None:
        owner = trace.tb_frame.f_locals.get("self")
        pid = getattr(owner, "pid", None)
        if type(owner).__name__ == "OProc" and isinstance(pid, int):
            try:
                os.waitpid(pid, 0)  # it has written the error and calls _exit(255)
            except ChildProcessError:
                pass
            return
        trace = trace.tb_next


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) back while a child is spawned, then deliver it.

    sh returns the running command some time after the fork; a
    ``KeyboardInterrupt`` raised in between would leave a child nobody kills.
    Held back, it arrives once the child's process group is known. Only the
    main thread receives signals, so elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            signal.raise_signal(signal.SIGINT)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


# sh.Command(name) looks the program up in PATH (~0.15 ms): once per name and
# PATH (and sh.Command itself, which a test may replace).
_programs: Dict[Tuple[str, Optional[str], Any], Any] = {}


def _program(sh, argv: Sequence[str]):
    """The ``sh.Command`` of ``argv[0]``; :class:`ToolNotFound` if PATH has none."""
    key = (argv[0], os.environ.get("PATH"), sh.Command)
    program = _programs.get(key)
    if program is None:
        try:
            program = _programs[key] = sh.Command(argv[0])
        except sh.CommandNotFound:
            raise ToolNotFound(argv[0], argv=argv) from None
    return program


class _Watchdog:
    """One daemon thread that kills a command's process group when its
    deadline passes: a deadline is ``[when, number, pgid, state]`` in a heap."""

    PENDING, CANCELLED, EXPIRED = range(3)

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        """Start empty: also in a forked child, where no thread is left (only
        the forking one is copied), no deadline is the child's (the parent's
        commands are not its to kill), and the condition's lock may be held by
        a thread that is gone; the next :meth:`watch` starts a thread."""
        self._condition = threading.Condition()
        self._heap: List[list] = []
        self._numbers = itertools.count()
        self._thread: Optional[threading.Thread] = None

    def watch(self, seconds: float, pgid: int) -> list:
        """Kill group ``pgid`` ``seconds`` from now unless :meth:`cancel` comes first."""
        deadline = [time.monotonic() + seconds, next(self._numbers), pgid, self.PENDING]
        with self._condition:
            heapq.heappush(self._heap, deadline)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="netnswrap watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0] is deadline:
                self._condition.notify()
        return deadline

    def cancel(self, deadline: list) -> bool:
        """Stop watching; True if the deadline had passed (the group was killed)."""
        with self._condition:
            if deadline[3] == self.PENDING:
                deadline[3] = self.CANCELLED
            return deadline[3] == self.EXPIRED

    def _run(self) -> None:
        with self._condition:
            while True:
                while self._heap and self._heap[0][3] == self.CANCELLED:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._condition.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._condition.wait(delay)
                    continue
                deadline = heapq.heappop(self._heap)
                deadline[3] = self.EXPIRED
                _kill_group(deadline[2])


_watchdog = _Watchdog()


def _after_fork() -> None:
    """In a child forked from a process using this runner (os.fork,
    multiprocessing's 'fork'), only the forking thread lives on: a lock
    another thread held would stay held forever (the spawn lock, sh's import),
    the watchdog thread recorded as started is gone (timeouts would go
    unenforced), the collector sh turned off for a spawn under way would stay
    off, and the programs spawned so far are the parent's. Start afresh.
    (sh's own children, forked while spawning, are left as they are: they exec.)"""
    global _spawn_lock, _import_lock, _spawner
    if _spawner == threading.get_ident():
        return
    if _spawner is not None and _collecting:
        gc.enable()
    _spawn_lock, _import_lock, _spawner = threading.Lock(), threading.RLock(), None
    _watchdog.forget()
    forget_programs(os.getppid())


def _before_fork() -> None:
    """Wait for an import of sh under way in another thread (see _import_sh)."""
    _import_lock.acquire()


def _after_fork_in_parent() -> None:
    _import_lock.release()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork)


def _is_terminal(stream) -> bool:
    """``stream`` (a file or a descriptor) is a terminal."""
    try:
        return os.isatty(stream if isinstance(stream, int) else stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def _kill_group(pgid: int, signum: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


class _Group:
    """A spawned program's process group, signalled only until its leader's
    end is seen: while the leader is not reaped its ID cannot be anyone else's."""

    def __init__(self, pgid: int):
        self.pgid = pgid
        self._lock = threading.Lock()
        self._open = True

    def signal(self, signum: int) -> None:
        with self._lock:
            if self._open:
                _kill_group(self.pgid, signum)

    def close(self) -> None:
        """The leader has exited: kill what it left running in its group, and
        signal the group no more."""
        with self._lock:
            if self._open:
                _kill_group(self.pgid)
                self._open = False


def _watch(running, process: Process, group: _Group) -> None:
    """A spawned program's own thread: sees it exit (without reaping it, so
    its group is still its own), kills the rest of its group, reaps it once
    its output is read, and finishes the Process."""
    try:
        try:
            os.waitid(os.P_PID, running.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:  # sh's reader thread reaped it first
            pass
        group.close()
        running.wait()
    finally:
        process.finish(running.exit_code if running.exit_code is not None else -signal.SIGKILL)
