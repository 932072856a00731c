"""Containers by name: the PID, and so the network namespace, of a container
of docker, podman, nerdctl (containerd) or crictl (Kubernetes CRI pods and
containers).

Every engine is asked through its own command line, run by the caller's
``run`` (a runner's ``run``, or any callable taking an argv and returning a
:class:`~netnswrap.runners.Result`), so lookups record, replay and dry-run
like every other command. The engines must run in the caller's namespace
(their sockets and state are there): pass a plain runner's ``run``.

A container is the dict ``{"engine", "id", "name", "image", "pid"}``; ``pid``
is 0 when it has no process (created, exited). :func:`find_container` answers
"which container is REF?", :func:`list_containers` "which containers run, by
PID?" (for ``topology()``), one listing per installed engine.
"""
from __future__ import annotations

import json
import re
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .errors import (CommandError, CommandTimeout, ContainerNotFound, InvalidArgument, NetnsWrapError,
                     ParseError, PermissionDenied, ProcessNotFound, ToolNotFound, first_line)
from .runners import Result
from .validate import check_runner

ENGINES = ("docker", "podman", "nerdctl", "crictl")
FIELDS = ("engine", "id", "name", "image")  # what a handle's ``.container`` carries
# The daemon each engine talks to, for "cannot reach the daemon (is … running?)".
DAEMONS = {"docker": "dockerd", "podman": "the podman service", "nerdctl": "containerd",
           "crictl": "the CRI runtime (containerd or CRI-O)"}
# Names and IDs all four engines accept: docker's and podman's name rule
# ([a-zA-Z0-9][a-zA-Z0-9_.-]*) covers Kubernetes names and hex IDs.
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")

Run = Callable[[Sequence[str]], Result]
Argv = Tuple[str, ...]


class EngineUnavailable(CommandError):
    """The engine is installed but its daemon (dockerd, containerd, the CRI
    runtime) does not answer."""


class AmbiguousContainer(ContainerNotFound):
    """The reference fits several containers: an ID prefix too short, or a
    name that pods of several Kubernetes namespaces share."""


class ContainerNotRunning(ProcessNotFound):
    """The container exists but has no process (created or exited): it holds
    no network namespace to enter."""


# --- checks -----------------------------------------------------------------

def check_container_ref(ref) -> str:
    """A container name, full ID or ID prefix: 1–255 of ``[A-Za-z0-9_.-]``,
    starting with a letter or digit (the rule docker and podman give names)."""
    if not isinstance(ref, str) or not _REF.fullmatch(ref):
        raise InvalidArgument(f"invalid container {ref!r}: must be a name, ID or ID prefix made of"
                              " letters, digits, '_', '.', '-' (starting with a letter or digit)")
    return ref


def check_engine(engine) -> str:
    """One of :data:`ENGINES`."""
    if engine not in ENGINES:
        raise InvalidArgument(f"invalid container engine {engine!r}: must be one of {', '.join(ENGINES)}")
    return engine


def _runner_call(run) -> Run:
    """``run`` itself when callable, else the ``run`` method of a runner."""
    return run if callable(run) else check_runner(run).run


# --- argv builders ------------------------------------------------------------

# Each engine's inspect, to which the names or IDs are appended (crictl: of pods).
INSPECT: Dict[str, Argv] = {
    "docker": ("docker", "inspect", "--type", "container"),
    "podman": ("podman", "inspect", "--type", "container"),
    "nerdctl": ("nerdctl", "inspect", "--mode", "dockercompat", "--type", "container"),
    "crictl": ("crictl", "inspectp", "-o", "json"),
}
CRICTL_INSPECT_CONTAINER: Argv = ("crictl", "inspect", "-o", "json")
# Each engine's listing of what runs: (the IDs command, the inspect given all the
# IDs at once), or for podman (its ps, None): its JSON carries the PIDs itself.
LISTINGS: Dict[str, List[Tuple[Argv, Optional[Argv]]]] = {
    "docker": [(("docker", "ps", "-q", "--no-trunc"), INSPECT["docker"])],
    "podman": [(("podman", "ps", "--format", "json"), None)],
    "nerdctl": [(("nerdctl", "ps", "-q", "--no-trunc"), INSPECT["nerdctl"])],
    "crictl": [(("crictl", "pods", "-q", "--state", "ready"), INSPECT["crictl"]),
               (("crictl", "ps", "-q"), CRICTL_INSPECT_CONTAINER)],
}


def inspect_argv(engine: str, ref: str) -> List[str]:
    """The command that inspects one container by name, ID or ID prefix
    (crictl: one pod by ID or prefix; :func:`crictl_by_name` finds names)."""
    return [*INSPECT[check_engine(engine)], check_container_ref(ref)]


def crictl_by_name(ref: str) -> List[Tuple[Argv, Argv]]:
    """crictl's lookups by exact name: (IDs of the pods named ``ref``, their
    inspect), then the same for containers, stopped ones included."""
    exact = "^" + re.escape(check_container_ref(ref)) + "$"  # --name is a regular expression
    return [(("crictl", "pods", "-q", "--name", exact), INSPECT["crictl"]),
            (("crictl", "ps", "-a", "-q", "--name", exact), CRICTL_INSPECT_CONTAINER)]


# --- parsers ------------------------------------------------------------------

def _json_values(engine: str, text: str) -> List[dict]:
    """Every object in ``text``: one JSON array, or objects one after another
    (crictl prints one document per ID)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        try:
            value, at = decoder.raw_decode(text, at)
        except ValueError as exc:
            raise ParseError(f"{engine}: output is not JSON: {exc}") from None
        values.extend(value if isinstance(value, list) else [value])
        while at < len(text) and text[at].isspace():
            at += 1
    if not all(isinstance(value, dict) for value in values):
        raise ParseError(f"{engine}: expected JSON objects, got {text[:80]!r}")
    return values


def _pid(engine: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParseError(f"{engine}: PID {value!r} is not a number")
    return value


def parse_inspect(engine: str, text: str) -> List[dict]:
    """``docker inspect``, ``podman inspect`` or ``nerdctl inspect --mode
    dockercompat`` output (a JSON array) → containers."""
    found = []
    for item in _json_values(engine, text):
        config = item.get("Config") or {}
        try:
            state, ident, name = item["State"] or {}, item["Id"], item["Name"]
        except KeyError as exc:
            raise ParseError(f"{engine}: inspect output lacks {exc}") from None
        image = config.get("Image") or item.get("ImageName") or item.get("Image") or ""
        found.append({"engine": engine, "id": ident, "name": name.lstrip("/"), "image": image,
                      "pid": _pid(engine, state.get("Pid", 0))})
    return found


def parse_podman_ps(text: str) -> List[dict]:
    """``podman ps --format json`` output → containers."""
    found = []
    for item in _json_values("podman", text):
        try:
            found.append({"engine": "podman", "id": item["Id"], "name": (item.get("Names") or [""])[0],
                          "image": item.get("Image") or "", "pid": _pid("podman", item.get("Pid", 0))})
        except KeyError as exc:
            raise ParseError(f"podman: ps output lacks {exc}") from None
    return found


def parse_crictl(text: str) -> List[dict]:
    """``crictl inspectp`` (pods) or ``crictl inspect`` (containers) output →
    containers; a pod's image is its sandbox (pause) image."""
    found = []
    for item in _json_values("crictl", text):
        status, info = item.get("status") or {}, item.get("info") or {}
        try:
            ident, name = status["id"], status["metadata"]["name"]
        except (KeyError, TypeError) as exc:
            raise ParseError(f"crictl: inspect output lacks {exc}") from None
        image = (status.get("image") or {}).get("image") or info.get("image") or ""
        found.append({"engine": "crictl", "id": ident, "name": name, "image": image,
                      "pid": _pid("crictl", info.get("pid", 0))})
    return found


def parse(engine: str, text: str) -> List[dict]:
    """Any inspect output of ``engine`` → containers."""
    return parse_crictl(text) if engine == "crictl" else parse_inspect(engine, text)


def parse_ids(text: str) -> List[str]:
    """``ps -q`` output → IDs."""
    return text.split()


# --- failures -------------------------------------------------------------------

# (stderr pattern, error class); the first that matches wins. docker's
# permission error also says "connect to the Docker daemon", so it comes first.
_FAILURES = [
    (re.compile(r"permission denied", re.I), PermissionDenied),
    (re.compile(r"cannot connect to|daemon running|containerd socket|code = Unavailable|connection refused"
                r"|failed to dial|connect: no such file", re.I), EngineUnavailable),
    (re.compile(r"multiple IDs|more than one|ambiguous", re.I), AmbiguousContainer),
    (re.compile(r"no such (container|object)|code = NotFound|not found", re.I), ContainerNotFound),
]


def _failure(engine: str, ref: Optional[str], result: Result) -> NetnsWrapError:
    """The typed error of a failed engine command."""
    stderr = result.stderr or ""
    cls = next((cls for pattern, cls in _FAILURES if pattern.search(stderr)), CommandError)
    message = {
        EngineUnavailable: f"{engine}: cannot reach the daemon (is {DAEMONS[engine]} running?)",
        PermissionDenied: f"{engine}: permission denied talking to {DAEMONS[engine]}",
        AmbiguousContainer: f"{engine}: {ref!r} matches several containers: give more of the ID",
        ContainerNotFound: f"{engine}: no container {ref!r}",
    }.get(cls, f"{engine}: {first_line(stderr) or f'failed with exit status {result.returncode}'}")
    return cls(message, argv=result.argv, returncode=result.returncode, stdout=result.stdout,
               stderr=stderr)


def _ask(run: Run, argv: Sequence[str]) -> Result:
    """``run(argv)``; a run that raises for a failure (``Netns.run``) gives its Result back."""
    try:
        return run(argv)
    except ToolNotFound:
        raise
    except CommandError as exc:
        return Result(tuple(exc.argv or argv), exc.returncode or 1, exc.stdout, exc.stderr)


# --- lookups ------------------------------------------------------------------------

def _inspect(run: Run, engine: str, argv: Sequence[str], ref: str) -> List[dict]:
    """The containers an inspect found; its typed error if it failed."""
    result = _ask(run, argv)
    if result.returncode != 0:
        raise _failure(engine, ref, result)
    return parse(engine, result.stdout)


def _listed(run: Run, engine: str, ids_argv: Sequence[str], inspect: Optional[Sequence[str]]) -> List[dict]:
    """The containers whose IDs ``ids_argv`` prints, inspected in one command
    (or, when ``inspect`` is None, podman's ps JSON itself)."""
    result = _ask(run, ids_argv)
    if result.returncode != 0:
        raise _failure(engine, None, result)
    if inspect is None:
        return parse_podman_ps(result.stdout)
    ids = parse_ids(result.stdout)
    if not ids:
        return []
    answer = _ask(run, [*inspect, *ids])
    # A container that stopped between the two commands fails the inspect;
    # the others are printed all the same.
    if answer.returncode != 0 and not answer.stdout.strip():
        raise _failure(engine, None, answer)
    return parse(engine, answer.stdout)


def _find_in(run: Run, engine: str, ref: str) -> List[dict]:
    """What ``engine`` knows as ``ref``: its typed error when nothing."""
    if engine != "crictl":
        return _inspect(run, engine, inspect_argv(engine, ref), ref)
    for argv in (inspect_argv("crictl", ref), [*CRICTL_INSPECT_CONTAINER, ref]):  # pod, container IDs
        try:
            return _inspect(run, engine, argv, ref)
        except AmbiguousContainer:
            raise
        except ContainerNotFound:
            pass
    for ids_argv, inspect in crictl_by_name(ref):
        found = _listed(run, engine, ids_argv, inspect)
        if len(found) > 1:
            raise AmbiguousContainer(f"crictl: {len(found)} are named {ref!r}: give the ID",
                                     argv=ids_argv, returncode=0)
        if found:
            return found
    raise ContainerNotFound(f"crictl: no pod or container {ref!r}", argv=ids_argv, returncode=0)


def find_container(run, ref: str, engine: Optional[str] = None) -> dict:
    """The running container ``ref`` (name, full ID or unique ID prefix) as
    ``{"engine", "id", "name", "image", "pid"}``.

    Equivalent to: ``docker inspect --type container REF`` (``podman inspect
    --type container REF``, ``nerdctl inspect --mode dockercompat --type
    container REF``; for crictl ``crictl inspectp -o json REF``, ``crictl
    inspect -o json REF``, then the pods and containers named REF). With
    ``engine=None`` the installed engines are asked in the order of
    :data:`ENGINES` until one knows ``ref``.

    Raises :class:`~netnswrap.errors.ContainerNotFound` when no engine knows
    ``ref`` (:class:`AmbiguousContainer` when it fits several),
    :class:`~netnswrap.errors.ToolNotFound` when no engine (or not
    ``engine``) is installed, :class:`EngineUnavailable` when a daemon that
    might know ``ref`` does not answer (another failure of an engine that
    might know it: that engine's error), :class:`ContainerNotRunning` when
    the container has no process. Every engine that answered is named in the
    message.
    """
    check_container_ref(ref)
    engines = (check_engine(engine),) if engine is not None else ENGINES
    call = _runner_call(run)
    missing: List[ToolNotFound] = []
    unreachable: List[NetnsWrapError] = []
    unknown: List[NetnsWrapError] = []
    for name in engines:
        try:
            found = _find_in(call, name, ref)
        except ToolNotFound as exc:
            missing.append(exc)
        except AmbiguousContainer:
            raise
        except ContainerNotFound as exc:
            unknown.append(exc)
        except CommandError as exc:  # daemon down, no permission, another failure: it might know ref
            unreachable.append(exc)
        else:
            if found:
                return _running(found[0], ref)
            unknown.append(ContainerNotFound(f"{name}: no container {ref!r}"))  # a dry run's empty answer
    if unreachable or unknown:
        # An engine that could not answer might have known ref: its error wins.
        first = (unreachable + unknown)[0]
        raise type(first)("; ".join(e.message for e in unreachable + unknown), argv=first.argv,
                          returncode=first.returncode, stdout=first.stdout, stderr=first.stderr)
    if engine is not None:
        raise missing[0]
    raise ToolNotFound(" or ".join(ENGINES))


def _running(container: dict, ref: str) -> dict:
    if container["pid"] <= 0:
        raise ContainerNotRunning(f"{container['engine']}: container {container['name']!r} is not"
                                  " running: it has no network namespace to enter")
    return container


def list_containers(run) -> Tuple[Dict[int, List[dict]], List[str]]:
    """The running containers of every installed engine, by PID, and a
    warning for each engine skipped (not installed, daemon down).

    Equivalent to: ``docker ps -q --no-trunc`` + one ``docker inspect --type
    container ID…``; ``podman ps --format json``; ``nerdctl ps -q --no-trunc``
    + one ``nerdctl inspect``; ``crictl pods -q --state ready`` + one ``crictl
    inspectp``, ``crictl ps -q`` + one ``crictl inspect``. An engine that
    fails, hangs past the runner's timeout or prints what cannot be parsed is
    a warning, never an error (a replay missing these commands still raises
    :class:`~netnswrap.errors.ReplayMismatch`).
    """
    call = _runner_call(run)
    by_pid: Dict[int, List[dict]] = {}
    warnings: List[str] = []
    for engine in ENGINES:
        try:
            found = [container for ids_argv, inspect in LISTINGS[engine]
                     for container in _listed(call, engine, ids_argv, inspect)]
        except ToolNotFound:
            warnings.append(f"{engine}: not installed, skipped")
            continue
        except (CommandError, CommandTimeout, ParseError) as exc:  # not a replay that misses: that is loud
            text = exc.message if exc.message.startswith(f"{engine}:") else f"{engine}: {exc.message}"
            warnings.append(f"{text}, skipped")
            continue
        for container in found:
            if container["pid"] > 0:
                by_pid.setdefault(container["pid"], []).append(container)
    return by_pid, warnings


def held_by(pids: Iterable[int], by_pid: Dict[int, List[dict]]) -> List[dict]:
    """The containers of :func:`list_containers`' ``by_pid`` whose process is
    one of ``pids`` (a namespace's members), each once, as ``{"engine", "id",
    "name", "image"}``: what ``topology()`` puts in a namespace's ``containers``."""
    held: Dict[Tuple[str, str], dict] = {}
    for pid in pids:
        for container in by_pid.get(pid, ()):
            held.setdefault((container["engine"], container["id"]), {key: container[key] for key in FIELDS})
    return list(held.values())


def label(container: dict) -> str:
    """How the tree and DOT name a container: ``docker web``."""
    return f"{container['engine']} {container['name']}"
