"""A batch's script: its changes in execution order, as the files ``ip -batch`` reads.

Each change line is followed by a progress marker (``link show dev lo``,
one line of output with ``-o``), so that ip's output tells exactly how many
changes ran; after a line that makes a link the marker shows that link
(``link show dev NAME``), so the output also tells the ifindex it got.
Nothing here runs a process.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .classify import classify
from .errors import InvalidArgument, NetnsWrapError
from .ops import Write
from .result import Result
from .where import Argv, Where

MARKER = "link show dev lo"
MARKER_ROOM = 1024  # bytes of output per marker (`ip -o link show` prints 145-450: a veth names its peer's netns)
_MARKED = re.compile(r"^(\d+): ", re.M)  # each marker's line: the ifindex of the link it shows
# The batch's script (its ip processes, one after another, stopping at the
# first that fails), with their output written over OUT (room reserved
# before, so that no marker is lost to a full disk), holding a lock on OUT
# while it runs (so that `cleanup` can tell a batch still running from one
# whose owner died).
RUN_SCRIPT = 'exec flock "$2" sh -e "$1" 1<>"$2"'
# What a word of a batch line cannot carry bare: whitespace splits words, '#'
# starts a comment anywhere, a leading quote opens a quoted word, a trailing
# '\' joins lines. Such a word goes in double quotes (iproute2's makeargs reads
# a word that starts with a quote up to the same quote), which cannot hold '"',
# '#' (a comment even there), '\' or a line break: those cannot go at all.
_UNSAFE = re.compile(r"[\s#\"'\\]")
_UNQUOTABLE = re.compile(r"[\"#\\\n\r\v\f]")
ANY = object()  # stands for "every namespace" in ordering (a PID target other than the base)


@dataclass(eq=False)
class Op:
    """One change as recorded: where it runs and the :class:`Write`."""

    where: Where
    write: Write
    touches: frozenset


def line_safe(word: str) -> bool:
    """Whether ``word`` can go into an ``ip -batch`` line as one word (bare or quoted)."""
    return not _UNQUOTABLE.search(word)


def line_word(word: str) -> str:
    """``word`` as a batch line carries it: bare, or in double quotes when it
    is empty or holds spaces, tabs or a single quote (``"KEY=1024 65000"``)."""
    return word if word and not _UNSAFE.search(word) else f'"{word}"'


def check_line(argv) -> None:
    for word in argv:
        if not line_safe(word):
            raise InvalidArgument(f"{word!r} cannot go into an ip -batch line "
                                  "(no '\"', '#', backslashes or line breaks)")


def made_link(op: Op) -> Optional[str]:
    """The name of the link ``op`` makes (``ip link add``, ``ip tuntap add``), if it makes one."""
    undo = op.write.undo
    if undo is not None and undo.removes and undo.argv[1:3] in (("link", "del"), ("tuntap", "del")):
        return undo.argv[-1]
    return None


def marker(op: Op) -> str:
    """The progress marker after ``op``'s line: the link it makes, else ``lo``."""
    name = made_link(op)
    return MARKER if name is None else f"link show dev {line_word(name)}"


@dataclass(eq=False)
class Segment:
    """Consecutive ops that run in one namespace."""

    where: Where
    ops: List[Op] = field(default_factory=list)


def schedule(ops: List[Op], base: Where) -> List[Segment]:
    """Segments in execution order: each op goes right after the last one it
    depends on (one touching a namespace it touches), joining that segment
    when it runs in the same namespace; ops of the script's own namespace go
    as early as they may, a new segment of another namespace goes last."""
    segments: List[Segment] = []
    latest: dict = {}  # namespace -> the last segment touching it (ANY: the last such op's)
    for op in ops:
        if ANY in op.touches:
            before = segments[-1:]
        else:
            before = [latest[t] for t in op.touches | {ANY} if t in latest]
        last = max((segments.index(seg) for seg in before), default=-1)
        if last >= 0 and segments[last].where == op.where:
            segment = segments[last]
        else:
            segment = Segment(op.where)
            segments.insert(last + 1 if op.where == base else len(segments), segment)
        segment.ops.append(op)
        latest.update(dict.fromkeys(op.touches, segment))
    return segments


def _line(argv: Argv) -> str:
    return " ".join(map(line_word, argv[1:]))  # a batch line is an ip command without "ip"


class Plan:
    """Segments turned into files of ``directory``: one per segment, its lines
    for ``ip -batch`` (``{name}.N``), and a shell script ``name`` running them
    in order — ``ip -o -batch FILE`` at ``base``, ``ip -n NS -o -batch FILE``
    in a named namespace — and where each op's line is. ``undo``: ``ip
    -force`` goes on past a failing line, the script past a failing ip, and
    there are no markers. Every segment runs at ``base`` or in a named
    namespace (which ``ip -n`` enters by its name)."""

    def __init__(self, base: Where, segments: List[Segment], directory: str, *, name: str = "main",
                 undo: bool = False):
        self.base = base
        self.ops = [op for seg in segments for op in seg.ops]
        self.main = f"{directory}/{name}"
        self.out = f"{directory}/out"
        self.journal = f"{directory}/journal.json"
        self.line_of: Dict[int, Tuple[str, int]] = {}  # id(op) -> (script, line number)
        options = ("-force",) if undo else ("-o",)
        runs: List[str] = []
        self.files: Dict[str, str] = {}
        for number, seg in enumerate(segments):
            if seg.where != base and seg.where.name is None:
                raise NetnsWrapError(f"a batch line cannot enter {seg.where} from {base}")
            path = f"{self.main}.{number}"
            lines: List[str] = []
            for op in seg.ops:
                lines.append(_line(op.write.argv))
                self.line_of[id(op)] = (path, len(lines))
                lines += [] if undo else [marker(op)]
            self.files[path] = "".join(line + "\n" for line in lines)
            enter = ("-n", seg.where.name) if seg.where != base and seg.where.name is not None else ()
            runs.append(shlex.join(("ip", *enter, *options, "-batch", path)))
        self.files[self.main] = "".join(line + "\n" for line in runs)
        self.argv: Argv = (("sh", self.main) if undo
                           else ("sh", "-c", RUN_SCRIPT, "netnswrap-batch", self.main, self.out))

    def error(self, result: Result, out: str) -> NetnsWrapError:
        """The error of the op that failed (the one after the last marker),
        as a handle would have raised it."""
        done = ran(out, self.ops)
        failed = self.ops[done] if done < len(self.ops) else None
        argv = failed.where.place(failed.write.argv) if failed else result.argv
        error = classify(argv, result.returncode, result.stdout, result.stderr)
        if error is None:  # cannot be: the result failed
            error = NetnsWrapError(f"ip -batch failed with exit status {result.returncode}")
        error.batch_line = self.line_of[id(failed)][1] if failed else None
        return error


def ran(out: str, ops: list) -> int:
    """How many ops ran, from the markers in ip's output."""
    return min(len(_MARKED.findall(out)), len(ops))


def ifindexes(out: str) -> List[int]:
    """The ifindex each marker in ip's output shows, in order (the k-th is
    the k-th op's: ``lo``'s, or the link that op made)."""
    return [int(found) for found in _MARKED.findall(out)]


