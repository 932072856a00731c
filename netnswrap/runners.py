"""Runners: what turns an argv into a :class:`Result`.

A runner has one method, ``run(argv, *, input=None, timeout=None)``, and
never raises for a non-zero exit status: it reports what happened, the API
layer decides what that means (see :func:`Result.check`). Runners that can
also start a program in the background and return at once implement
``spawn(argv, *, env=None)``, which returns a :class:`~netnswrap.process.Process`. The live runner,
:class:`~netnswrap.shrunner.ShRunner`, is the only code that imports ``sh``;
:class:`DryRunRunner` runs nothing. The default runner is process-wide and
set with :func:`use_runner`.
"""
from __future__ import annotations

import os
import shlex
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, TypedDict

from .process import Process, check_env
from .result import Result

# Where batches keep their scripts, progress and undo records (see netnswrap.batching).
SCRATCH_ROOT = "/run/netnswrap"


class IpTools(TypedDict):
    """What the ``ip`` behind a runner can do (learnt from ``ip -V``)."""

    json: bool
    busybox: bool
    version: Optional[Tuple[int, int]]


@dataclass
class Facts:
    """What a runner has learnt about the tools and the system behind it."""

    ip: Optional[IpTools] = None      # the `ip` in use, once probed
    netns_deleted: bool = False       # a namespace was deleted: retry LinkExists on reuse


class Runner:
    """Base of runners: subclasses implement :meth:`run`.

    ``facts`` caches what was learnt about the tools behind this runner
    (e.g. whether ``ip`` speaks JSON), so it is decided once per runner.

    Besides commands, a batch asks its runner for a private directory and
    files in it (:meth:`scratch_dir`, :meth:`write_file`, :meth:`read_file`,
    :meth:`remove_dir`): they live where the commands run. Here they run as
    the commands they are equivalent to (``mktemp``, ``tee``, ``cat``,
    ``rm``), so a replay answers them from its cassette and a dry run only
    prints them; the live runner does them in Python.
    """

    def __init__(self) -> None:
        self.facts = Facts()

    def run(self, argv: Sequence[str], *, input: Optional[str] = None,
            timeout: Optional[float] = None) -> Result:
        raise NotImplementedError

    def spawn(self, argv: Sequence[str], *, env: Optional[Dict[str, str]] = None,
              stdin=None, stdout=None, stderr=None) -> Process:
        """Start ``argv`` in the background and return its :class:`~netnswrap.process.Process`
        (``env``: variables added to the inherited environment; ``stdin``,
        ``stdout``, ``stderr``: None, or files of the caller's the program
        uses itself — see :meth:`ShRunner.spawn <netnswrap.shrunner.ShRunner.spawn>`).
        A runner that can only run commands to completion does not start programs."""
        raise NotImplementedError(f"{type(self).__name__} cannot start programs in the background")

    def pause(self, seconds: float) -> None:
        """Let ``seconds`` pass before the next command (a runner that runs
        nothing live, like a replay or a dry run, need not wait)."""
        time.sleep(seconds)

    def caller_pid(self) -> int:
        """A process in the caller's namespace (for ``netns PID`` arguments)."""
        return os.getpid()

    def scratch_dir(self) -> str:
        """A new directory only this batch uses. Equivalent to: ``mktemp -d -p /run/netnswrap batch.XXXXXXXX``"""
        made = self.run(MKTEMP).stdout.strip()
        return made or f"{SCRATCH_ROOT}/batch.DRYRUN"

    def write_file(self, path: str, text: str) -> None:
        """Create ``path`` holding ``text``. Equivalent to: ``tee PATH <<EOF``"""
        self.run(("tee", path), input=text).check()

    def read_file(self, path: str) -> str:
        """``path``'s text, '' if it is missing. Equivalent to: ``cat PATH``"""
        result = self.run(("cat", path))
        return result.stdout if result.ok else ""

    def reserve_file(self, path: str, size: int) -> None:
        """Create ``path`` with ``size`` bytes of room (zeros), so that what a
        command later writes over it cannot run out of space.
        Equivalent to: ``fallocate -l SIZE PATH``"""
        self.run(("fallocate", "-l", str(size), path)).check()

    def remove_dir(self, path: str) -> None:
        """Remove a :meth:`scratch_dir` and what it holds. Equivalent to: ``rm -rf PATH``"""
        self.run(("rm", "-rf", path))


@dataclass
class DryRunRunner(Runner):
    """Runs nothing: records each argv (as a list) in ``.commands`` and
    answers success with empty output. ``print_commands=True`` also prints
    each command line as it would run."""

    print_commands: bool = False
    commands: List[List[str]] = field(default_factory=list)
    facts: Facts = field(default_factory=Facts)

    def run(self, argv, *, input=None, timeout=None) -> Result:
        self.commands.append(list(argv))
        if self.print_commands:
            print(shlex.join(argv) + (f" <<'EOF'\n{input}EOF" if input else ""))
        return Result(tuple(argv), 0, "", "")

    def spawn(self, argv: Sequence[str], *, env: Optional[Dict[str, str]] = None,
              stdin=None, stdout=None, stderr=None) -> Process:
        """Records ``argv`` (printed with ``print_commands``, ``env`` as
        ``NAME=value`` before it, as a shell line) and returns a process that
        has already ended, successfully, without output."""
        env = check_env(env)
        self.commands.append(list(argv))
        if self.print_commands:
            print(" ".join([f"{name}={shlex.quote(value)}" for name, value in (env or {}).items()]
                           + [shlex.join(argv)]))
        return Process.finished(argv, 0)

    def pause(self, seconds: float) -> None:
        """Nothing runs, so nothing needs to settle."""


MKTEMP = ("mktemp", "-d", "-p", SCRATCH_ROOT, "batch.XXXXXXXX")
