"""Where a command runs: one value for a named namespace, a process's, or the caller's own.

:class:`Where` is the only code that puts a command into a namespace:

- ``ip …``   → ``ip -n NAME …``            (a named namespace)
- any other  → ``ip netns exec NAME …``    (a named namespace)
- anything   → ``nsenter -t PID -n …``     (a process's namespace)
- anything   → unchanged                    (the caller's namespace)

and that says how a ``netns …`` argument names it (:meth:`Where.ref`).
Nothing here runs a process.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from .errors import InvalidArgument
from .validate import check_netns_ref, check_pid

Argv = Tuple[str, ...]
_NUMBER = re.compile(r"^\+?(0[xX][0-9a-fA-F]+|[0-9]+)$")


@dataclass(frozen=True)
class Where:
    """A named namespace (``name``), a process's (``pid``) or, with neither,
    the caller's own namespace — whatever process that is when a command runs."""

    name: Optional[str] = None
    pid: Optional[int] = None

    def __post_init__(self) -> None:
        if self.name is not None and self.pid is not None:
            raise InvalidArgument("a namespace is given by a name or a pid, not both")
        if self.name is not None:
            check_netns_ref(self.name)  # it may be one other tools made: names typed for new ones are checked where they are made
        if self.pid is not None:
            check_pid(self.pid)

    @property
    def is_caller(self) -> bool:
        return self.name is None and self.pid is None

    def place(self, argv: Sequence[str], ip_has_netns: bool = True, as_program: bool = False) -> Argv:
        """``argv`` as it runs inside this namespace.

        ``as_program`` runs even an ``ip`` command as a program inside the
        namespace (``ip netns exec NAME ip …``: ``ip -n`` would keep the
        caller's mount namespace view of ``/run/netns``, sysfs aside).
        ``ip_has_netns=False`` is for an ``ip`` without ``-n`` or ``netns
        exec`` (busybox): a named namespace is then entered with ``nsenter
        --net=/run/netns/NAME``.
        """
        argv = tuple(argv)
        if self.pid is not None:
            return ("nsenter", "-t", str(self.pid), "-n") + argv
        if self.name is None:
            return argv
        if not ip_has_netns:
            return ("nsenter", f"--net=/run/netns/{self.name}") + argv
        if argv[0] == "ip" and not as_program:
            return ("ip", "-n", self.name) + argv[1:]
        return ("ip", "netns", "exec", self.name) + argv

    def ref(self, caller_pid: int) -> str:
        """This namespace as the argument of ``ip link … netns …``.

        A name as it is — but a name that strtol() reads as a number (``1``,
        ``+1``, ``0x1``) as its path ``/run/netns/NAME``, since ip takes such a
        word for a PID when no namespace has that name; a process's namespace
        by its PID; the caller's by ``caller_pid`` (a process in it, told by
        the runner, so that a recording replays in another process).
        """
        if self.name is not None:
            return f"/run/netns/{self.name}" if _NUMBER.match(self.name) else self.name
        return str(self.pid if self.pid is not None else check_pid(caller_pid))

    def __str__(self) -> str:
        """``netns blue`` / ``PID 1503`` / ``the caller's namespace``."""
        if self.name is not None:
            return f"netns {self.name}"
        return f"PID {self.pid}" if self.pid is not None else "the caller's namespace"


CALLER = Where()
