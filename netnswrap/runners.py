"""Runners: what turns an argv into a :class:`Result`.

A runner has one method, ``run(argv, *, input=None, timeout=None)``, and
never raises for a non-zero exit status: it reports what happened, the API
layer decides what that means (see :func:`Result.check`). The live runner,
:class:`~netnswrap.shrunner.ShRunner`, is the only code that imports ``sh``;
:class:`DryRunRunner` runs nothing. The default runner is process-wide and
set with :func:`use_runner`.
"""
from __future__ import annotations

import contextlib
import shlex
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Sequence, Tuple

from .errors import classify


@dataclass(frozen=True)
class Result:
    """What a command did: its argv, exit status and decoded output."""

    argv: Tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def command(self) -> str:
        """The command as a shell line."""
        return shlex.join(self.argv)

    def check(self) -> "Result":
        """This result, or the typed error (:func:`~netnswrap.errors.classify`) if it failed."""
        error = classify(self.argv, self.returncode, self.stdout, self.stderr)
        if error is not None:
            raise error
        return self


class Runner:
    """Base of runners: subclasses implement :meth:`run`.

    ``facts`` caches what was learnt about the tools behind this runner
    (e.g. whether ``ip`` speaks JSON), so it is decided once per runner.
    """

    def __init__(self) -> None:
        self.facts: dict = {}

    def run(self, argv: Sequence[str], *, input: Optional[str] = None,
            timeout: Optional[float] = None) -> Result:
        raise NotImplementedError

    def pause(self, seconds: float) -> None:
        """Let ``seconds`` pass before the next command (a runner that runs
        nothing live, like a replay or a dry run, need not wait)."""
        time.sleep(seconds)


@dataclass
class DryRunRunner(Runner):
    """Runs nothing: records each argv (as a list) in ``.commands`` and
    answers success with empty output. ``print_commands=True`` also prints
    each command line as it would run."""

    print_commands: bool = False
    commands: List[List[str]] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def run(self, argv, *, input=None, timeout=None) -> Result:
        self.commands.append(list(argv))
        if self.print_commands:
            print(shlex.join(argv) + (f" <<'EOF'\n{input}EOF" if input else ""))
        return Result(tuple(argv), 0, "", "")

    def pause(self, seconds: float) -> None:
        """Nothing runs, so nothing needs to settle."""


_default_lock = threading.Lock()
_default: Optional[Runner] = None


def get_runner() -> Runner:
    """The default runner: the one :func:`use_runner` set, else a :class:`ShRunner`."""
    global _default
    with _default_lock:
        if _default is None:
            from .shrunner import ShRunner
            _default = ShRunner()
        return _default


@contextlib.contextmanager
def use_runner(runner: Runner) -> Iterator[Runner]:
    """Make ``runner`` the default runner for the duration of the block.

    The default is process-wide (every thread sees it), so set it from one
    thread at a time; handles given ``runner=`` explicitly are not affected.
    """
    global _default
    from .validate import check_runner
    check_runner(runner)
    with _default_lock:
        previous, _default = _default, runner
    try:
        yield runner
    finally:
        with _default_lock:
            _default = previous
