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
import warnings
from typing import Dict, List, Optional, Set, Tuple, cast

from .batch_script import Op, Plan, Segment, check_line, ifindexes, made_link, ran
from .classify import classify
from .errors import (AddressNotFound, InvalidArgument, LinkNotFound, NamespaceNotFound, NetnsWrapError,
                     RouteNotFound)
from .ops import Undo, Write
from .runners import SCRATCH_ROOT, Runner
from .where import CALLER, Where

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
    steps = undo_steps(done)
    moved_out = _moves_back(steps)
    guarded = [step for step in steps if _deleted_namespace(step) in moved_out]
    failures = _run_undo(runner, base, directory, [step for step in steps if step not in guarded], 0)
    deletions = []
    for step in guarded:  # a namespace links were moved back out of goes last, if they went
        name = cast(str, _deleted_namespace(step))
        listed = runner.run(step.where.place(("ip", "-j", "-n", name, "link", "show")))
        try:
            left = {link.get("ifname") for link in json.loads(listed.stdout or "[]")} & moved_out[name]
        except ValueError:
            left = set()
        if left:
            failures.append(f"netns {name} kept: {', '.join(sorted(left))} could not be moved back out of it")
        else:
            deletions.append(step)
    failures += _run_undo(runner, base, directory, deletions, len(steps))
    if failures:
        warnings.warn(f"netnswrap: the undo of the batch in {directory} was incomplete: "
                      + "; ".join(failures), RuntimeWarning, stacklevel=3)
    else:
        runner.remove_dir(directory)
    return failures


def _run_undo(runner: Runner, base: Where, directory: str, steps: List[Op], first: int) -> List[str]:
    """Run undo ``steps`` (scripts ``undo{first}``…); their failures."""
    failures: List[str] = []
    for number, (at, segments) in enumerate(undo_runs(steps, base), first):
        plan = Plan(at, segments, directory, name=f"undo{number}", undo=True)
        for path, text in plan.files.items():
            runner.write_file(path, text)
        result = runner.run(at.place(plan.argv, as_program=True))
        failures += [line for line in result.stderr.splitlines() if _failed(line)]
    return failures


def _moves_back(steps: List[Op]) -> Dict[str, Set[str]]:
    """``{namespace: {link}}``: the links ``steps`` move back out of a
    namespace they then delete (the batch made it)."""
    deleted = {_deleted_namespace(step) for step in steps} - {None}
    moved: Dict[str, Set[str]] = {}
    for step in steps:
        words, name = step.write.argv, step.where.name
        if name is not None and name in deleted and words[1:3] == ("link", "set") and "netns" in words:
            moved.setdefault(name, set()).add(words[4] if words[3] == "dev" else words[3])
    return moved


def _deleted_namespace(step: Op) -> Optional[str]:
    return step.write.argv[3] if step.write.argv[1:3] == ("netns", "del") else None


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
    the batch ran (newer than its output) with all in it, and a link that is
    not the batch's (:func:`_links_made_again`); a move back into the
    caller's namespace names it by ``runner``'s PID (the record's owner is
    gone). A record that cannot be read is
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
    done = _to_caller(ops[:ran(printed, ops)], owner, runner.caller_pid())
    made_again = _made_again(runner, out, done)
    others = _links_made_again(runner, done, ifindexes(printed), owner)
    failures = undo(runner, base, directory, [
        op for number, op in enumerate(done) if number not in others and not made_again & _namespaces_of(op)])
    return "its undo failed: " + "; ".join(failures) if failures else None


def _to_caller(done: List[Op], owner: int, caller: int) -> List[Op]:
    """``done`` with the caller's namespace, which the dead ``owner``'s PID
    named (``netns PID`` of a move back), named by ``caller``'s: the PID is
    gone, the namespace is not (a move back to it would fail, and the
    namespace it is in be deleted with the link)."""
    def fixed(undo: Optional[Undo]) -> Optional[Undo]:
        if undo is None or undo.argv[-2:] != ("netns", str(owner)):
            return undo
        return Undo(undo.argv[:-1] + (str(caller),), undo.where, undo.removes)
    return [Op(op.where, Write(op.write.argv, undo=fixed(op.write.undo)), op.touches) for op in done]


def _namespaces_of(op: Op) -> Set[str]:
    """The named namespaces ``op`` and its undo act in (or make)."""
    undo_where = op.write.undo.where if op.write.undo is not None else None
    names = {op.where.name, undo_where.name if undo_where else None, _created_namespace(op)}
    return {name for name in names if name is not None}


def _created_namespace(op: Op) -> Optional[str]:
    """The namespace whose creation ``op`` is, if it is one."""
    return op.write.argv[3] if op.write.argv[1:3] == ("netns", "add") else None


def _made_again(runner: Runner, out: str, done: List[Op]) -> Set[str]:
    """The named namespaces ``done`` acts in that were made after the batch's
    ip ended (their nsfs inode is newer than the output ip last wrote):
    nothing in them is the batch's."""
    names = sorted(set().union(*map(_namespaces_of, done))) if done else []
    if not names:
        return set()
    result = runner.run(("stat", "-L", "-c", "%.9Y %n", out, *(f"/run/netns/{n}" for n in names)))
    times = {}
    for line in result.stdout.splitlines():
        stamp, _, path = line.partition(" ")
        times[path] = float(stamp)
    ended = times.get(out, float("inf"))
    return {name for name in names if times.get(f"/run/netns/{name}", 0.0) > ended}


def _links_made_again(runner: Runner, done: List[Op], shown: List[int], owner: int) -> Set[int]:
    """Which of ``done`` not to undo because they would act on another's
    link: each link the batch made is followed through the batch's later
    renames and moves to where it should be now; when no link there has the
    ifindex its marker showed (someone deleted it and made one again, or
    renamed theirs over it), or a place it was at before holds a link now,
    neither its making nor its renames and moves are undone (a link of the
    batch's may stay: never one of someone else's is deleted or renamed).
    Each namespace's links are read once (``ip -j link show``)."""
    listings: Dict[Where, Dict[str, int]] = {}

    def ifindex(where: Where, name: str) -> Optional[int]:
        if where not in listings:
            result = runner.run(where.place(("ip", "-j", "link", "show")))
            try:
                listings[where] = {link["ifname"]: link["ifindex"] for link in json.loads(result.stdout or "[]")}
            except (ValueError, KeyError, TypeError):
                listings[where] = {}
        return listings[where].get(name)

    again: Set[int] = set()
    for number, op in enumerate(done):
        name = made_link(op)
        if name is None or number >= len(shown):
            continue
        chain, places = [number], [(op.where, name)]
        for later, step in enumerate(done[number + 1:], number + 1):
            change = _rename_or_move(step, *places[-1], owner)
            if change is not None:
                chain.append(later)
                places.append(change)
        # Its undo takes it back through every earlier place: one held by
        # another link (another's, as it is at the last) would be hit instead.
        if ifindex(*places[-1]) != shown[number] or any(ifindex(*place) is not None for place in places[:-1]):
            again.update(chain)
    return again


def _rename_or_move(op: Op, where: Where, name: str, owner: int) -> Optional[Tuple[Where, str]]:
    """Where link ``name`` of ``where`` is after ``op``, if ``op`` renames or
    moves it (``netns OWNER``, the dead owner's PID, is the caller's namespace)."""
    words = op.write.argv
    if op.where != where or words[1:3] != ("link", "set"):
        return None
    device, rest = (words[4], words[5:]) if words[3] == "dev" else (words[3], words[4:])
    if device != name:
        return None
    values, at = {}, 0
    while at < len(rest):  # `link set` words: flags, or keywords with a value
        if rest[at] in ("up", "down", "nomaster"):
            at += 1
        else:
            values[rest[at]] = rest[at + 1] if at + 1 < len(rest) else ""
            at += 2
    if "netns" not in values and "name" not in values:
        return None
    target = values.get("netns")
    if target == str(owner):
        where = CALLER
    elif target is not None:
        where = Where(pid=int(target)) if target.isdigit() else Where(target)
    return where, values.get("name", name)
