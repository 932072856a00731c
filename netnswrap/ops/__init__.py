"""Operations, one module per object; a change is a value, :class:`Write`.

Each module holds the pure argv builders of one object and its methods as
mixins: ``…Writes`` classes (changes: used by both a :class:`~netnswrap.Netns`,
which runs them now, and a batch scope, which runs them later with their
undo) and ``…Reads`` classes (questions: a handle only). A mixin method
validates, builds a :class:`Write` and hands it to ``self._apply``; it never
knows which of the two it is in. Nothing in this package runs a process
itself or imports the handle, the batch or a runner.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple, TypeVar

from ..errors import InvalidArgument
from ..runners import Result
from ..process import Process
from ..where import Argv, Where

S = TypeVar("S", bound="Changes")


@dataclass(frozen=True)
class Undo:
    """How a batch takes a change back: ``argv`` run at ``where`` (None: where
    the change ran). ``removes``: it only removes what the change made, so it
    is skipped inside a namespace the undo deletes anyway (a rename or a move
    back is never skipped: a link that existed must come back out whole)."""

    argv: Argv
    where: Optional[Where] = None
    removes: bool = False


@dataclass(frozen=True)
class Write:
    """One change: ``argv`` as the namespace it runs in would run it.

    ``in_caller``: runs in the caller's namespace whatever the handle
    (namespace names are the host's: ``ip netns add/del/attach``).
    ``touches``: the other namespaces it needs (a batch orders by them).
    ``undo``: how a failed batch takes it back (None: it cannot be, see the
    batch's docs). ``reuses_name``: a create, move or rename that may meet a
    name still held by a namespace being torn down (retried, see
    ``netnswrap.handle.TEARDOWN_RETRIES``). ``deletes_netns``: deletes a
    namespace, which arms that retry for the runner.
    """

    argv: Argv
    in_caller: bool = False
    touches: Tuple[Where, ...] = ()
    undo: Optional[Undo] = None
    reuses_name: bool = False
    deletes_netns: bool = False


def where_of(netns) -> Where:
    """A namespace reference as a :class:`Where`: a name (str), a PID (int), a
    :class:`Where`, or anything that has one as ``.where`` (a handle, a batch scope)."""
    if isinstance(netns, Where):
        return netns
    if isinstance(getattr(netns, "where", None), Where):
        return netns.where
    if isinstance(netns, int) and not isinstance(netns, bool):
        return Where(pid=netns)
    if isinstance(netns, str):
        return Where(name=netns)
    raise InvalidArgument(f"not a namespace: {netns!r} (a name, a PID, or a Netns)")


class Changes:
    """What a ``…Writes`` mixin needs of the object it is mixed into."""

    where: Where

    def _apply(self, write: Write) -> None:
        """Run ``write`` now (a handle) or later (a batch)."""
        raise NotImplementedError

    def _scope(self: S, name: str, created: bool) -> S:
        """The same kind of object for namespace ``name`` (``created``: this
        object just made it)."""
        raise NotImplementedError

    def _caller_pid(self) -> int:
        """A process in the caller's namespace, as the runner knows it."""
        raise NotImplementedError

    def _ref(self, where: Where) -> str:
        """``where`` as the argument of ``netns …``."""
        return where.ref(self._caller_pid())


class Reads:
    """What a ``…Reads`` mixin needs of the handle it is mixed into."""

    where: Where

    def run(self, argv: Sequence[str], *, input: Optional[str] = None,
            timeout: Optional[float] = None, check: bool = True, as_program: bool = False) -> Result:
        """Run ``argv`` in this namespace (``as_program``: even an ``ip`` command
        through ``ip netns exec``, not ``ip -n``)."""
        raise NotImplementedError

    def read(self, json_argv: Argv, text_argv: Argv, parser) -> list:
        """``json_argv``'s JSON list, or ``text_argv``'s text through ``parser``
        where ``ip`` has no ``-j`` (busybox, iproute2 < 4.14)."""
        raise NotImplementedError

    def start(self, argv: Argv, *, env: Optional[Dict[str, str]] = None) -> Process:
        """Start ``argv`` as a program in this namespace, in the background."""
        raise NotImplementedError

    def busybox(self) -> bool:
        """Whether the ``ip`` behind this handle is busybox's."""
        raise NotImplementedError
