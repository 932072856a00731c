"""Cassettes: what commands answered, saved to a JSON file and replayed offline.

:class:`RecordingRunner` runs each command through another runner (by
default the live :class:`~netnswrap.shrunner.ShRunner`) and keeps every
interaction; :meth:`RecordingRunner.save` writes them to the cassette.
:class:`ReplayRunner` answers from a cassette and starts no process, so the
whole API works on a machine without ``ip``, ``ethtool`` or root.

The file is one JSON document, keys sorted, one interaction per block::

    {
      "interactions": [
        {
          "argv": ["ip", "-V"],
          "returncode": 0,
          "stderr": "",
          "stdin": null,
          "stdout": "ip utility, iproute2-6.1.0, libbpf 1.1.2\\n"
        }
      ],
      "meta": {"created": "…", "ethtool": "…", "ip": "…", "kernel": "…", …},
      "version": 1
    }

A command that could not run at all keeps the error it raised instead of a
return code: ``"error": {"kind": "ToolNotFound", "tool": "ethtool"}`` or
``"error": {"kind": "CommandTimeout", "timeout": 5.0}`` (with the output
read before the kill), and replays as that same error.

A program started in the background (``spawn``) is kept with ``"spawn": true``
and its ``env``; its ``stdout``, ``stderr`` and ``returncode`` are those it
ended with (``returncode`` null if it still ran when the cassette was saved).
It replays as a process that has already ended, yielding the same lines.
"""
from __future__ import annotations

import collections
import datetime
import difflib
import json
import math
import os
import shlex
import signal
import tempfile
import threading
from pathlib import Path
from typing import Deque, Dict, List, Optional, Sequence, Tuple

from .errors import (CassetteError, CommandTimeout, InvalidArgument, NetnsWrapError, ReplayMismatch,
                     ToolNotFound)
from .process import Process, check_env
from .runners import MKTEMP, Result, Runner
from .validate import check_runner

VERSION = 1

# What meta records about the machine, and the command that tells it.
META_PROBES = {"ip": ("ip", "-V"), "ethtool": ("ethtool", "--version"), "kernel": ("uname", "-r")}


def _is_tool(value) -> bool:
    return isinstance(value, str) and bool(value)


def _is_timeout(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0 < value < math.inf)


# The errors a runner raises instead of answering, and the field each keeps.
_ERROR_FIELDS = {"ToolNotFound": ("tool", _is_tool), "CommandTimeout": ("timeout", _is_timeout)}


class RecordingRunner(Runner):
    """Runs commands through ``inner`` (default: a new ``ShRunner``) and keeps
    every interaction for the cassette at ``path``.

    Nothing is written until :meth:`save` (also called when a ``with`` block
    around the runner ends); the file is replaced atomically, so a crash never
    leaves half a cassette. ``meta`` may be given extra JSON-ready entries
    (e.g. a scenario's names and PIDs); the tool versions and kernel are
    added on the first save, asked of ``inner`` outside the recording.
    """

    def __init__(self, path, inner: Optional[Runner] = None, *, meta: Optional[dict] = None):
        super().__init__()
        if inner is None:
            from .shrunner import ShRunner
            inner = ShRunner()
        if meta is not None and not isinstance(meta, dict):
            raise InvalidArgument(f"invalid cassette meta {meta!r}: must be a dict")
        self.path = _writable(_cassette_path(path))
        self.inner = check_runner(inner)
        self.meta = dict(meta or {})
        self.interactions: List[dict] = []
        self._probed = False
        self._running: Dict[int, Process] = {}  # id of a spawn's entry → its process, until it ends
        self._lock = threading.Lock()

    def run(self, argv: Sequence[str], *, input: Optional[str] = None,
            timeout: Optional[float] = None) -> Result:
        """Run ``argv`` through the inner runner and keep what it answered
        (or the ``ToolNotFound``/``CommandTimeout`` it raised)."""
        entry = {"argv": list(argv), "stdin": input}
        try:
            result = self.inner.run(argv, input=input, timeout=timeout)
        except (ToolNotFound, CommandTimeout) as exc:
            entry.update(_error_entry(exc))
            self._keep(entry)
            raise
        entry.update(returncode=result.returncode, stdout=result.stdout, stderr=result.stderr)
        self._keep(entry)
        return result

    def spawn(self, argv: Sequence[str], *, env: Optional[Dict[str, str]] = None,
              stdin=None, stdout=None, stderr=None) -> Process:
        """Start ``argv`` through the inner runner and keep its output and exit
        status, filled in when it ends (a cassette saved while it runs keeps
        the output so far and ``"returncode": null``). Output the program
        writes to a file of the caller's (``stdout=``/``stderr=``) is not kept."""
        entry = {"argv": list(argv), "spawn": True, "env": check_env(env),
                 "stdin": stdin if isinstance(stdin, str) else None}
        try:
            process = self.inner.spawn(argv, env=env, stdin=stdin, stdout=stdout, stderr=stderr)
        except ToolNotFound as exc:
            entry.update(_error_entry(exc))
            self._keep(entry)
            raise
        entry.update(returncode=None, stdout="", stderr="")
        with self._lock:
            self.interactions.append(entry)
            self._running[id(entry)] = process
        process.on_end(lambda ended: self._spawn_ended(entry, ended))
        return process

    def _spawn_ended(self, entry: dict, process: Process) -> None:
        with self._lock:
            entry.update(returncode=process.returncode, stdout=process.stdout, stderr=process.stderr)
            self._running.pop(id(entry), None)

    def pause(self, seconds: float) -> None:
        """As ``inner`` pauses (a live runner waits, a replay re-recorded does not)."""
        self.inner.pause(seconds)

    def caller_pid(self) -> int:
        """``inner``'s, kept in meta as ``caller_pid`` so that a replay in
        another process names the caller's namespace as this run did."""
        pid = self.inner.caller_pid()
        self.meta.setdefault("caller_pid", pid)
        return pid

    def scratch_dir(self) -> str:
        path = self.inner.scratch_dir()
        self._keep({"argv": list(MKTEMP), "stdin": None, "returncode": 0, "stdout": path + "\n", "stderr": ""})
        return path

    def write_file(self, path: str, text: str) -> None:
        self.inner.write_file(path, text)
        self._keep({"argv": ["tee", path], "stdin": text, "returncode": 0, "stdout": text, "stderr": ""})

    def read_file(self, path: str) -> str:
        text = self.inner.read_file(path)
        self._keep({"argv": ["cat", path], "stdin": None, "returncode": 0, "stdout": text, "stderr": ""})
        return text

    def reserve_file(self, path: str, size: int) -> None:
        self.inner.reserve_file(path, size)
        self._keep({"argv": ["fallocate", "-l", str(size), path], "stdin": None, "returncode": 0,
                    "stdout": "", "stderr": ""})

    def remove_dir(self, path: str) -> None:
        self.inner.remove_dir(path)
        self._keep({"argv": ["rm", "-rf", path], "stdin": None, "returncode": 0, "stdout": "", "stderr": ""})

    def _keep(self, entry: dict) -> None:
        with self._lock:
            self.interactions.append(entry)

    def save(self) -> Path:
        """Write the cassette (atomically: a temporary file in the same
        directory, then a rename) and return its path; :class:`CassetteError`
        naming the file if it cannot be written (the old file is kept)."""
        with self._lock:
            if not self._probed:
                self.meta = {**self._machine(), **self.meta}
                self._probed = True
            interactions = [dict(entry, stdout=self._running[id(entry)].stdout,
                                 stderr=self._running[id(entry)].stderr)
                            if id(entry) in self._running else entry for entry in self.interactions]
            document = {"version": VERSION, "meta": self.meta, "interactions": interactions}
        try:
            _write_atomically(_writable(self.path), dumps(document))
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename and exc.filename != str(self.path) else ""
            raise CassetteError(f"cassette {self.path} cannot be written: {exc.strerror or exc}{where}") from exc
        return self.path

    def _machine(self) -> dict:
        """Tool versions, kernel and creation time of the machine ``inner`` runs on."""
        if isinstance(getattr(self.inner, "meta", None), dict):  # re-recording a replay
            return dict(self.inner.meta)
        from . import __version__
        found: Dict[str, Optional[str]] = {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                 "netnswrap": __version__}
        for key, argv in META_PROBES.items():
            found[key] = None
            try:
                result = self.inner.run(argv)
            except NetnsWrapError:
                continue
            if result.ok and result.stdout.strip():
                found[key] = result.stdout.strip()
        return found

    def __enter__(self) -> "RecordingRunner":
        return self

    def __exit__(self, *exc_info) -> None:
        self.save()


class ReplayRunner(Runner):
    """Answers commands from the cassette at ``path``; starts no process.

    A command (argv and stdin) gets the answers recorded for it, in recorded
    order, each once; a command the cassette does not hold (or holds fewer
    times) raises :class:`ReplayMismatch` naming the nearest recorded one and
    what differs. A missing or malformed cassette raises
    :class:`CassetteError` naming the file. ``meta`` is the cassette's meta.
    """

    def __init__(self, path):
        super().__init__()
        self.path = _cassette_path(path)
        document = load(self.path)
        self.meta: dict = document["meta"]
        self.interactions: List[dict] = document["interactions"]
        self._queues: Dict[Tuple, Deque[dict]] = collections.defaultdict(collections.deque)
        for entry in self.interactions:
            key = (_spawn_key(entry["argv"], entry["stdin"], entry.get("env")) if entry.get("spawn")
                   else _key(entry["argv"], entry["stdin"]))
            self._queues[key].append(entry)
        self._lock = threading.Lock()

    @property
    def remaining(self) -> List[dict]:
        """Recorded interactions not replayed yet, in recorded order."""
        with self._lock:
            left = {id(entry) for queue in self._queues.values() for entry in queue}
        return [entry for entry in self.interactions if id(entry) in left]

    def run(self, argv: Sequence[str], *, input: Optional[str] = None,
            timeout: Optional[float] = None) -> Result:
        """The next recorded answer to ``argv`` (with ``input`` as stdin)."""
        argv = tuple(argv)
        with self._lock:
            queue = self._queues.get(_key(argv, input))
            entry = queue.popleft() if queue else None
        if entry is None:
            raise ReplayMismatch(self._mismatch(argv, input), argv=argv)
        error = entry.get("error")
        if error is not None:
            raise _error_from_entry(argv, entry, error)
        return Result(argv, entry["returncode"], entry["stdout"], entry["stderr"])

    def spawn(self, argv: Sequence[str], *, env: Optional[Dict[str, str]] = None,
              stdin=None, stdout=None, stderr=None) -> Process:
        """The recorded run of ``argv`` (with this ``env`` and str ``stdin``)
        as a process that has already ended: its lines, output and exit
        status (-9, as if killed, for one still running when the cassette was
        saved). Output meant for a file of the caller's is written there."""
        argv, env = tuple(argv), check_env(env)
        given = stdin if isinstance(stdin, str) else None
        with self._lock:
            queue = self._queues.get(_spawn_key(argv, given, env))
            entry = queue.popleft() if queue else None
        if entry is None:
            raise ReplayMismatch(f"{self._mismatch(argv, given)} (started in the background)", argv=argv)
        error = entry.get("error")
        if error is not None:
            raise _error_from_entry(argv, entry, error)
        out, err = entry["stdout"], entry["stderr"]
        if stdout is not None:
            _write_to(stdout, out)
            out = ""
        if stderr is not None:
            _write_to(stderr, err)
            err = ""
        returncode = entry["returncode"]
        return Process.finished(argv, -signal.SIGKILL if returncode is None else returncode, out, err)

    def pause(self, seconds: float) -> None:
        """A replay answers at once: nothing needs to settle."""

    def caller_pid(self) -> int:
        """The recording process's (meta ``caller_pid``), else this one's."""
        pid = self.meta.get("caller_pid")
        return pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else os.getpid()

    def _mismatch(self, argv: tuple, input: Optional[str]) -> str:
        where = f"cassette {self.path}"
        same_argv = [entry for entry in self.interactions if tuple(entry["argv"]) == argv]
        if any(entry["stdin"] == input for entry in same_argv):
            times = sum(entry["stdin"] == input for entry in same_argv)
            return f"{where} holds this command {times} time(s), all replayed already"
        if same_argv:
            nearest = max(same_argv, key=lambda entry: difflib.SequenceMatcher(
                a=entry["stdin"] or "", b=input or "", autojunk=False).ratio())
            return f"{where} holds this command only with other stdin: {_stdin_difference(nearest['stdin'], input)}"
        lines = {shlex.join(entry["argv"]): entry["argv"] for entry in self.interactions}
        closest = difflib.get_close_matches(shlex.join(argv), list(lines), n=1, cutoff=0)
        if not closest:
            return f"{where} holds no interactions"
        return (f"{where} does not hold this command; nearest recorded: {closest[0]} "
                f"({argv_difference(lines[closest[0]], argv)})")


def argv_difference(recorded: Sequence[str], asked: Sequence[str]) -> str:
    """What differs between two argvs, word by word: ``'blue' instead of 'red'``."""
    parts = []
    matcher = difflib.SequenceMatcher(a=list(recorded), b=list(asked), autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        old, new = " ".join(recorded[a1:a2]), " ".join(asked[b1:b2])
        if op == "replace":
            parts.append(f"{new!r} instead of {old!r}")
        elif op == "insert":
            parts.append(f"extra {new!r}")
        elif op == "delete":
            parts.append(f"missing {old!r}")
    return ", ".join(parts)


def _stdin_difference(recorded: Optional[str], asked: Optional[str]) -> str:
    if recorded is None or asked is None:
        return f"recorded {'no' if recorded is None else 'some'} stdin, asked with {'none' if asked is None else 'some'}"
    diff = difflib.unified_diff(recorded.splitlines(), asked.splitlines(), "recorded", "asked", lineterm="", n=0)
    return "\n" + "\n".join(diff)


def _key(argv: Sequence[str], stdin: Optional[str]) -> Tuple:
    return tuple(argv), stdin


def _spawn_key(argv: Sequence[str], stdin: Optional[str], env: Optional[dict]) -> Tuple:
    return "spawn", tuple(argv), stdin, tuple(sorted(env.items())) if env else None


def _write_to(target, text: str) -> None:
    """Replayed output for a file of the caller's: a descriptor, a text or a binary file."""
    if isinstance(target, int):
        data = memoryview(text.encode())
        while data:
            data = data[os.write(target, data):]
        return
    try:
        target.write(text)
    except TypeError:  # a binary file
        target.write(text.encode())
    if hasattr(target, "flush"):
        target.flush()


def _error_entry(exc: NetnsWrapError) -> dict:
    if isinstance(exc, ToolNotFound):
        return {"error": {"kind": "ToolNotFound", "tool": exc.tool}}
    assert isinstance(exc, CommandTimeout)
    return {"error": {"kind": "CommandTimeout", "timeout": exc.timeout},
            "stdout": exc.stdout, "stderr": exc.stderr}


def _error_from_entry(argv: tuple, entry: dict, error: dict) -> NetnsWrapError:
    if error["kind"] == "ToolNotFound":
        return ToolNotFound(error["tool"], argv=argv)
    return CommandTimeout(argv, error["timeout"], entry.get("stdout", ""), entry.get("stderr", ""))


# --- the file -----------------------------------------------------------------

def _cassette_path(path) -> Path:
    """``path`` as a :class:`~pathlib.Path`: a non-empty str or a path object."""
    if not (isinstance(path, str) and path or isinstance(path, os.PathLike)):
        raise InvalidArgument(f"invalid cassette path {path!r}: must be a non-empty str or path")
    return Path(path)


def _writable(path: Path) -> Path:
    """``path``, if a cassette can be written there; else :class:`CassetteError`
    saying why: a directory, a device or other non-regular file (never replaced),
    under a file, or in a directory without write permission."""
    try:
        if path.is_dir():
            problem = "it is a directory"
        elif path.exists() and not path.is_file():
            problem = "it is not a regular file"
        else:
            existing = next(parent for parent in path.absolute().parents if parent.exists())
            if not existing.is_dir():
                problem = f"{existing} is not a directory"
            elif not os.access(existing, os.W_OK | os.X_OK):
                problem = f"no permission to write in {existing}"
            else:
                return path
    except OSError as exc:  # e.g. a directory on the way the caller may not search
        problem = exc.strerror or str(exc)
    raise CassetteError(f"cassette {path} cannot be written: {problem}")


def dumps(document: dict) -> str:
    """The cassette as text: sorted keys, each interaction a block of one
    line per field, non-ASCII text kept as is."""
    def one_line(value) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    blocks = ["    {\n" + ",\n".join(f"      {one_line(key)}: {one_line(entry[key])}" for key in sorted(entry))
              + "\n    }" for entry in document["interactions"]]
    interactions = "[\n" + ",\n".join(blocks) + "\n  ]" if blocks else "[]"
    meta = json.dumps(document["meta"], ensure_ascii=False, sort_keys=True, indent=2).replace("\n", "\n  ")
    return (f'{{\n  "interactions": {interactions},\n  "meta": {meta},\n'
            f'  "version": {one_line(document["version"])}\n}}\n')


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load(path) -> dict:
    """Read and check a cassette; :class:`CassetteError` naming the file and
    the problem if it is missing, not JSON, another version or malformed."""
    path = _cassette_path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CassetteError(f"cassette {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteError(f"cassette {path} cannot be read: {exc}") from None
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep to read
        raise CassetteError(f"cassette {path} is not valid JSON (truncated or hand-edited?): {exc}") from None
    if not isinstance(document, dict) or "version" not in document:
        raise CassetteError(f"cassette {path} is not a netnswrap cassette (no \"version\")")
    if type(document["version"]) is not int or document["version"] != VERSION:  # not True, not 1.0
        raise CassetteError(f"cassette {path} has version {document['version']!r}; "
                            f"this netnswrap reads version {VERSION}")
    if not isinstance(document.get("meta"), dict) or not isinstance(document.get("interactions"), list):
        raise CassetteError(f"cassette {path} needs a \"meta\" object and an \"interactions\" list")
    for number, entry in enumerate(document["interactions"]):
        problem = _entry_problem(entry)
        if problem:
            raise CassetteError(f"cassette {path}: interaction {number} {problem}")
    return document


def _entry_problem(entry) -> Optional[str]:
    """Why ``entry`` is not a valid interaction (None if it is); fills in the
    fields a hand-written cassette may leave out (stdin: null, output: "")."""
    if not isinstance(entry, dict):
        return "is not an object"
    argv = entry.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(word, str) for word in argv):
        return "needs an argv: a non-empty list of str"
    for key, default in (("stdin", None), ("stdout", ""), ("stderr", "")):
        entry.setdefault(key, default)
        if not isinstance(entry[key], (str, type(default))):
            return f"has a {key} that is not text"
    spawned = entry.get("spawn", False)
    if not isinstance(spawned, bool):
        return "has a spawn that is not true or false"
    env = entry.get("env")
    if env is not None and not (isinstance(env, dict) and all(
            isinstance(name, str) and isinstance(value, str) for name, value in env.items())):
        return "has an env that is not an object of str values"
    error = entry.get("error")
    if error is None:
        returncode = entry.get("returncode")
        if returncode is None and spawned:
            pass  # still running when the cassette was saved
        elif isinstance(returncode, bool) or not isinstance(returncode, int):
            return "needs a returncode (int) or an error"
    elif (not isinstance(error, dict) or not isinstance(error.get("kind"), str)
          or error["kind"] not in _ERROR_FIELDS
          or not _ERROR_FIELDS[error["kind"]][1](error.get(_ERROR_FIELDS[error["kind"]][0]))):
        return ('has an error that is neither {"kind": "ToolNotFound", "tool": non-empty str} nor '
                '{"kind": "CommandTimeout", "timeout": positive finite number}')
    return None
