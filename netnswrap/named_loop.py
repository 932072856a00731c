"""One process for many named namespaces: a command run in each, and its
output split back by namespace.

It prints what ``ip -all netns exec`` prints (a ``netns: NAME`` header
before each namespace's output) without its hazards: it reads only the
namespaces it is given, not every one on the host, and a namespace it cannot
enter (not root, or deleted meanwhile) is an error line on stderr, where
``ip -all netns exec`` (iproute2 6.1) lets the child that failed to enter
it carry on iterating as a second reader — under churn the processes
double at each such namespace (observed: ~600 still running after ten
minutes). Reading many namespaces this way costs one process started from
Python, not one per namespace.
"""
from __future__ import annotations

import shlex
from typing import Dict, Iterable, Optional

from .errors import InvalidArgument
from .where import Argv

HEADER = "\nnetns: "  # what `ip -all netns exec` prints before each namespace's output
_END = "NETNSWRAP_EOF"  # the end of each_named's here-document


def each_named(names: Iterable[str], argv: Argv, stdin: Optional[str] = None, *,
               existing: bool = False) -> Argv:
    """One ``sh`` running ``argv`` in each named namespace of ``names``, one
    after another, each one's output after a ``\\nnetns: NAME\\n`` header:
    ``ip -n NS …`` for an ``ip`` command, ``ip netns exec NS …`` for another
    program. ``stdin`` is each one's standard input,
    lines (the lines of an ``ip -batch -``), given as a here-document (a
    pipe from ``printf`` would cost a process per namespace); ``existing``
    skips, without a header, the names that have no ``/run/netns/NAME``.
    The shell exits 0: what failed says so on stderr.
    Equivalent to: ``sh -c 'for ns; do [ -e "/run/netns/$ns" ] || continue;
    printf "\\nnetns: %s\\n" "$ns"; ip -n "$ns" ARGS… <<EOF …; done' sh NAME…``"""
    if argv[0] == "ip":
        run = f'ip -n "$ns" {shlex.join(argv[1:])}'
    else:
        run = f'ip netns exec "$ns" {shlex.join(argv)}'
    if stdin is not None:
        lines = stdin if stdin.endswith("\n") or not stdin else stdin + "\n"
        if _END in lines.split("\n"):
            raise InvalidArgument(f"standard input with a line {_END!r} cannot go into a here-document")
        run += f" <<'{_END}'\n{lines}{_END}\n"
    else:
        run += "; "
    skip = '[ -e "/run/netns/$ns" ] || continue; ' if existing else ""
    return ("sh", "-c", f'for ns; do {skip}printf "\\nnetns: %s\\n" "$ns"; {run}done; true', "sh", *names)


def split_named(text: str, names) -> Dict[str, str]:
    """Output of one command per named namespace, each after a ``\\nnetns:
    NAME\\n`` header (:func:`each_named`, ``ip -all netns exec``) → ``{name:
    what it printed there}``. Names are matched against the known ones
    (longest first), so even a name with a newline is read right."""
    known = sorted(names, key=len, reverse=True)
    found: Dict[str, str] = {}
    at = text.find(HEADER)
    while at >= 0:
        at += len(HEADER)
        name = next((n for n in known if text.startswith(n + "\n", at)), None)
        if name is not None:
            at += len(name) + 1  # (the next header is after the name: a name may hold one)
        end = text.find(HEADER, at)
        if name is not None:
            found[name] = text[at:end if end >= 0 else len(text)]
        at = end
    return found
