"""Taking a batch back: its undo, its record (``journal.json``) and ``cleanup``.

The undo of what ran is each change's :class:`~netnswrap.ops.Undo`, newest
first, run by ``ip [-n NS] -force -batch`` from a script that goes on past
a failing ip (as ``-force`` goes on past a failing line). A
step that runs in a namespace no batch line can enter by name (a process's,
or the caller's from a process's batch) gets an ``ip`` of its own there, in
order. A failing step whose object is already gone (deleted with its
namespace) is fine; any other failure is reported and the run's directory
stays as a record of it.
"""
from __future__ import annotations

import json
import re
import warnings
from typing import Dict, List, Optional, Set, Tuple

from .batch_script import Op, Plan, Segment, check_line, ifindexes, made_link, ran
from .classify import classify
from .errors import (AddressNotFound, InvalidArgument, LinkNotFound, NamespaceNotFound, NetnsWrapError,
                     RouteNotFound)
from .ops import Undo, Write
from .runners import SCRATCH_ROOT, Runner
from .where import Where

# An undo step that meets these found its object already gone: nothing to take back.
_GONE = (LinkNotFound, NamespaceNotFound, AddressNotFound, RouteNotFound)
# What an undo may run, as recorded in a journal: ip OBJECT COMMAND …
_UNDO_COMMANDS = {("netns", "del"), ("link", "del"), ("link", "set"), ("addr", "del"), ("addr", "add"),
                  ("route", "del"), ("route", "add"), ("neigh", "del"), ("neigh", "add"), ("tuntap", "del")}


def undo_steps(done: List[Op]) -> List[Op]:
    """The ops that take ``done`` back, newest first. What was made inside a
    namespace the batch created goes with it (renames and moves back still run)."""
    doomed = {Where(op.write.argv[3]) for op in done if op.write.argv[1:3] == ("netns", "add")}
    steps = []
    for op in reversed(done):
        undo: Optional[Undo] = op.write.undo
        if undo is None:
            continue
        where = undo.where or op.where
        if where in doomed and undo.removes:
            continue
        steps.append(Op(where, Write(undo.argv), frozenset({where})))
    return steps


def undo_runs(steps: List[Op], base: Where) -> List[Tuple[Where, List[Segment]]]:
    """Steps in order as undo scripts (:class:`Plan`): one at ``base`` as long
    as the steps are there or in named namespaces, one of their own where
    they are in a namespace no batch line can name."""
    runs: List[Tuple[Where, List[Segment]]] = []
    for step in steps:
        at = base if step.where == base or step.where.name is not None else step.where
        if not runs or runs[-1][0] != at:
            runs.append((at, []))
        segments = runs[-1][1]
        if not segments or segments[-1].where != step.where:
            segments.append(Segment(step.where))
        segments[-1].ops.append(step)
    return runs


def undo_ran(runner: Runner, plan: Plan, out: str) -> List[str]:
    """Take back what of ``plan`` ran (``out`` holds its markers): see :func:`undo`."""
    return undo(runner, plan.base, plan.main.rsplit("/", 1)[0], plan.ops[:ran(out, plan.ops)])


def undo(runner: Runner, base: Where, directory: str, done: List[Op]) -> List[str]:
    """Take back ``done``, newest first. Returns the undo's failures (none:
    the run's directory is removed; else it stays, and a warning says so)."""
    failures: List[str] = []
    for number, (at, segments) in enumerate(undo_runs(undo_steps(done), base)):
        plan = Plan(at, segments, directory, name=f"undo{number}", undo=True)
        for path, text in plan.files.items():
            runner.write_file(path, text)
        result = runner.run(at.place(plan.argv, as_program=True))
        failures += [line for line in result.stderr.splitlines() if _failed(line)]
    if failures:
        warnings.warn(f"netnswrap: the undo of the batch in {directory} was incomplete: "
                      + "; ".join(failures), RuntimeWarning, stacklevel=3)
    else:
        runner.remove_dir(directory)
    return failures


def _failed(line: str) -> bool:
    """Whether a line of an undo's stderr says a step really failed."""
    if not line.strip() or line.startswith("Command failed"):
        return False
    error = classify(("ip",), 1, "", line)
    return not isinstance(error, _GONE)


def journal(plan: Plan, owner: int) -> str:
    """The record of a run: who ran it and, per op in order, where it ran
    and how to undo it — enough for :func:`cleanup` to finish the job."""
    def where(w: Where) -> dict:
        return {"name": w.name, "pid": w.pid}
    ops = [{"where": where(op.where), "argv": list(op.write.argv),
            "undo": None if op.write.undo is None else {
                "argv": list(op.write.undo.argv), "removes": op.write.undo.removes,
                "where": where(op.write.undo.where) if op.write.undo.where else None}}
           for op in plan.ops]
    head = json.dumps({"owner": owner, "base": where(plan.base)})[:-1]
    return head + ', "ops": [\n' + ",\n".join(json.dumps(op) for op in ops) + "\n]}\n"


def from_journal(text: str) -> Tuple[int, Where, List[Op]]:
    """A record read back, every word checked as a batch line's would be and
    every undo one of the commands an undo runs; anything else is a ValueError."""
    data = json.loads(text)

    def where(w) -> Where:
        if not isinstance(w, dict) or set(w) != {"name", "pid"}:
            raise ValueError(f"not a namespace: {w!r}")
        try:  # (a name goes into the undo script quoted, as `ip -n NAME`)
            return Where(w["name"], w["pid"])
        except InvalidArgument as exc:
            raise ValueError(str(exc)) from None

    def argv(words) -> tuple:
        if not isinstance(words, list) or len(words) < 3 or words[0] != "ip" \
                or not all(isinstance(word, str) and word for word in words):
            raise ValueError(f"not an ip command: {words!r}")
        check_line(words)
        return tuple(words)

    ops = []
    for entry in data["ops"]:
        undo, recorded = None, entry["undo"]
        if recorded is not None:
            steps = argv(recorded["argv"])
            if tuple(steps[1:3]) not in _UNDO_COMMANDS:
                raise ValueError(f"not an undo: {steps!r}")
            undo = Undo(steps, where(recorded["where"]) if recorded["where"] else None,
                        bool(recorded["removes"]))
        ops.append(Op(where(entry["where"]), Write(argv(entry["argv"]), undo=undo), frozenset()))
    owner = data["owner"]
    if not isinstance(owner, int) or isinstance(owner, bool) or owner <= 0:
        raise ValueError(f"not a PID: {owner!r}")
    return owner, where(data["base"]), ops


def cleanup(runner: Optional[Runner] = None) -> List[str]:
    """Finish batches whose process died: for each record in /run/netnswrap
    (a directory of root's, never a link) whose owner is gone and whose
    ``ip`` has ended, undo exactly the changes it says ran, and remove it.
    Left alone: records of running batches; a record whose undo had already
    started (it is reported: what it did is not known exactly, so nothing
    is run twice); a namespace the record names that was made again after
    the batch ran (newer than its output), and a link it made that was made
    again (another ifindex than its marker showed). A record that cannot be read is
    reported too, after the others are done. Returns the directories finished.
    Equivalent to: ``sh UNDO`` (``ip [-n NS] -force -batch FILE`` lines) per record found by
    ``find /run/netnswrap -mindepth 1 -maxdepth 1 -type d -user root -name 'batch.*'``"""
    from .defaults import get_runner
    runner = runner or get_runner()
    safe = runner.run(("find", SCRATCH_ROOT, "-maxdepth", "0", "-type", "d", "-user", "root", "!", "-perm", "/022"))
    if safe.ok and not safe.stdout.strip():
        raise NetnsWrapError(f"{SCRATCH_ROOT} is not a directory of root's that only root may write: "
                             "its records are not trusted")
    listing = runner.run(("find", SCRATCH_ROOT, "-mindepth", "1", "-maxdepth", "1", "-type", "d",
                          "-user", "root", "-name", "batch.*"))
    finished, problems = [], []
    for directory in sorted(listing.stdout.split("\n")) if listing.ok else []:
        problem = _finish(runner, directory) if directory else "skip"
        if problem is None:
            finished.append(directory)
        elif problem != "skip":
            problems.append(f"{directory}: {problem}")
    if problems:
        raise NetnsWrapError("cleanup left records it cannot finish: " + "; ".join(problems)
                             + (f" (finished: {', '.join(finished)})" if finished else ""))
    return finished


def _finish(runner: Runner, directory: str) -> Optional[str]:
    """Undo one record; None when done, "skip" when it is no leftover, else why not."""
    text = runner.read_file(f"{directory}/journal.json")
    if not text:
        return "skip"  # no record (yet): nothing of it ran
    try:
        owner, base, ops = from_journal(text)
    except (ValueError, KeyError, TypeError) as exc:
        return f"journal.json is not a netnswrap batch record ({exc})"
    if runner.read_file(f"/proc/{owner}/stat"):
        return "skip"  # its owner is still running
    if not runner.run(("flock", "-n", f"{directory}/out", "true")).ok:
        return "skip"  # its ip is still running
    if runner.read_file(f"{directory}/undo0"):
        return "its undo had started when its process died: check by hand, then remove the directory"
    out = f"{directory}/out"
    printed = runner.read_file(out)
    done = ops[:ran(printed, ops)]
    made_again = _made_again(runner, out, done)
    links_again = _links_made_again(runner, done, ifindexes(printed))
    failures = undo(runner, base, directory, [op for number, op in enumerate(done) if number not in links_again
                                              and _created_namespace(op) not in made_again])
    return "its undo failed: " + "; ".join(failures) if failures else None


def _created_namespace(op: Op) -> Optional[str]:
    """The namespace whose creation ``op`` is, if it is one."""
    return op.write.argv[3] if op.write.argv[1:3] == ("netns", "add") else None


def _links_made_again(runner: Runner, done: List[Op], shown: List[int]) -> Set[int]:
    """Which of ``done`` made a link whose name another link has now (its
    ifindex is not the one its marker showed): someone deleted the batch's
    and made one again. A link the batch itself renamed or moved later is
    not looked for (its undo takes it back first). One ``ip -o link show``
    per namespace that has such links."""
    made = {number: name for number, name in ((n, made_link(op)) for n, op in enumerate(done))
            if name is not None and number < len(shown) and not _moved_later(done[number + 1:], name)}
    again: Set[int] = set()
    listings: Dict[Where, Dict[str, int]] = {}
    for number, name in made.items():
        where = done[number].where
        if where not in listings:
            result = runner.run(where.place(("ip", "-o", "link", "show")))
            listings[where] = {found.group(2): int(found.group(1))
                               for found in _SHOWN.finditer(result.stdout)} if result.ok else {}
        if name in listings[where] and listings[where][name] != shown[number]:
            again.add(number)
    return again


# A link in ``ip -o link show``: "IFINDEX: NAME[@PEER]: <FLAGS>…"
_SHOWN = re.compile(r"^(\d+): ([^\s:@]+)(?:@[^\s:]*)?: ", re.M)


def _moved_later(later: List[Op], name: str) -> bool:
    """Whether one of ``later`` renames link ``name`` or moves it to another namespace."""
    return any(op.write.argv[1:3] == ("link", "set") and name in op.write.argv[3:5]
               and ({"name", "netns"} & set(op.write.argv[5:])) for op in later)


def _made_again(runner: Runner, out: str, done: List[Op]) -> set:
    """Namespaces the batch made that exist now but were made after its ip
    ended (their nsfs inode is newer than the output ip last wrote)."""
    names = [name for name in map(_created_namespace, done) if name is not None]
    if not names:
        return set()
    result = runner.run(("stat", "-L", "-c", "%.9Y %n", out, *(f"/run/netns/{n}" for n in names)))
    times = {}
    for line in result.stdout.splitlines():
        stamp, _, path = line.partition(" ")
        times[path] = float(stamp)
    ended = times.get(out, float("inf"))
    return {name for name in names if times.get(f"/run/netns/{name}", 0.0) > ended}
