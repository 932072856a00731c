"""Programs run inside a namespace: ``ip netns exec`` / ``nsenter``."""
from __future__ import annotations

from typing import Dict, Optional, Sequence

from ..process import Process, check_env
from ..runners import Result
from ..validate import check_argv, check_timeout
from . import Reads


class ProgramOps(Reads):
    def exec(self, argv: Sequence[str], *, timeout: Optional[float] = None,
             check: bool = True) -> Result:
        """Run a program in this namespace and return its :class:`Result`;
        with ``check`` a non-zero exit raises :class:`CommandError`. An ``ip``
        command runs inside the namespace too (``ip netns exec NS ip …``).
        Equivalent to: ``ip netns exec NAME ARGV…`` / ``nsenter -t PID -n ARGV…``"""
        return self.run(check_argv(argv), timeout=check_timeout(timeout), check=check,
                        as_program=True)

    def spawn(self, argv: Sequence[str], *, env: Optional[Dict[str, str]] = None) -> Process:
        """Start a program in this namespace in the background, in a process
        group of its own, and return its :class:`~netnswrap.process.Process`
        (``lines()``, ``wait()``, ``terminate()``, ``kill()``; a context
        manager that kills the group). ``env`` adds variables to the inherited
        environment. A namespace that cannot be entered raises its typed error
        (``NamespaceNotFound``…) here, not as the program's exit status: it is
        entered once with ``true`` first.
        Equivalent to: ``ip netns exec NAME true; ip netns exec NAME ARGV… &`` /
        ``nsenter -t PID -n true; nsenter -t PID -n ARGV… &``"""
        argv, env = check_argv(argv), check_env(env)
        if not self.where.is_caller:
            self.exec(["true"])
        return self.start(argv, env=env)
