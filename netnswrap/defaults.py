"""The default runner: process-wide, a live :class:`~netnswrap.shrunner.ShRunner`
unless :func:`use_runner` sets another."""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator, Optional

from .runners import Runner
from .validate import check_runner

_default_lock = threading.Lock()
_default: Optional[Runner] = None


def get_runner() -> Runner:
    """The default runner: the one :func:`use_runner` set, else a :class:`ShRunner`."""
    global _default
    with _default_lock:
        if _default is None:
            from .shrunner import ShRunner  # sh is loaded by the first command only
            _default = ShRunner()
        return _default


@contextlib.contextmanager
def use_runner(runner: Runner) -> Iterator[Runner]:
    """Make ``runner`` the default runner for the duration of the block.

    The default is process-wide (every thread sees it), so set it from one
    thread at a time; handles given ``runner=`` explicitly are not affected.
    """
    global _default
    check_runner(runner)
    with _default_lock:
        previous, _default = _default, runner
    try:
        yield runner
    finally:
        with _default_lock:
            _default = previous
