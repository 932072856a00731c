"""``Netns``: one handle per network namespace, with every operation.

A handle is the caller's own namespace (``Netns()``), a named one
(``Netns("blue")``) or a process's (``Netns.from_pid(1503)``). Its methods
come from the per-object mixins of :mod:`netnswrap.ops`; this module runs
them: it places each command in the handle's namespace
(:meth:`netnswrap.where.Where.place`), runs it through the handle's runner,
raises the typed error of a failure and parses the output.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

from .errors import InvalidArgument, LinkExists, NamespaceNotFound, NetnsWrapError
from .ops import Write
from .ops.all import ReadMethods, WriteMethods
from .defaults import get_runner
from .runners import IpTools, Result, Runner
from .validate import check_flag, check_pid, check_runner
from .where import CALLER, Argv, Where

if TYPE_CHECKING:  # loaded by the calls that need them, not by `import netnswrap`
    from .batching import Batch
    from .peers import Peer
    from .process import Process

_IPROUTE2_VERSION = re.compile(r"iproute2-(?:(\d+)\.(\d+)|ss(\d{6}))")

# `ip netns del` returns before the kernel has torn the namespace down: its
# veth ends in other namespaces vanish milliseconds later, so a name reused
# at once may still be taken. Once a runner has deleted a namespace, a create
# or move through it that meets LinkExists is tried again after each of these
# pauses (about 2 s in all) before the error is raised. The number of tries is
# fixed, so a replayed recording retries exactly as often as the live run did.
TEARDOWN_RETRIES = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.5, 0.5, 0.5)
# Pauses between the rounds of killing a namespace's processes before deleting it.
KILL_ROUNDS = (0.01, 0.05, 0.1, 0.2, 0.5)


def kill_processes_in(handle: "Netns", names: Sequence[str]) -> List[str]:
    """Kill (SIGKILL) every process in each named namespace of ``names`` that
    exists, whoever started it, round after round until none is left; the
    names that exist are returned. Each round is one process listing who is
    where (:func:`~netnswrap.nsids.named_members`: every process read once)
    and one ``kill`` — not two per namespace — run from the caller's namespace.
    Equivalent to: ``kill -KILL $(ip netns pids NAME)`` for each NAME"""
    from .nsids import named_members
    here, caller, pauses = handle.at(CALLER), handle.runner.caller_pid(), iter(KILL_ROUNDS)
    while True:
        listed = named_members(here)
        left = {name: [pid for pid in listed[name] if pid != caller] for name in names if name in listed}
        if not any(left.values()):
            return [name for name in names if name in listed]
        pause = next(pauses, None)
        if pause is None:
            raise NetnsWrapError("processes keep appearing in " + "; ".join(
                f"netns {name}: {' '.join(map(str, pids))}" for name, pids in left.items() if pids))
        here.run(("kill", "-KILL", *sorted({str(pid) for pids in left.values() for pid in pids})), check=False)
        here.runner.pause(pause)


class Netns(WriteMethods, ReadMethods):
    """A network namespace to run commands in.

    ``Netns()`` is the caller's own namespace, ``Netns(name)`` a named one
    (``ip -n NAME …``, ``ip netns exec NAME …``), ``Netns.from_pid(pid)``
    the one a process is in (``nsenter -t PID -n …``). ``runner`` defaults
    to the runner in effect at each call (see :func:`netnswrap.use_runner`).

    A handle returned by :meth:`netns_add` is also a context manager that
    deletes its namespace when the block ends, whatever happened inside.
    """

    def __init__(self, name: Optional[str] = None, *, runner: Optional[Runner] = None,
                 pid: Optional[int] = None):
        self.where = Where(name, pid)
        self.container: Optional[Dict[str, str]] = None  # set by from_container
        self._runner = check_runner(runner) if runner is not None else None
        self._owned = False

    @classmethod
    def from_pid(cls, pid: int, *, runner: Optional[Runner] = None) -> "Netns":
        """The namespace process ``pid`` is in: commands run as ``nsenter -t PID -n …``."""
        check_pid(pid)  # None here would silently mean the caller's own namespace
        return cls(pid=pid, runner=runner)

    @classmethod
    def from_container(cls, ref: str, *, engine: Optional[str] = None,
                       runner: Optional[Runner] = None) -> "Netns":
        """The namespace of container ``ref`` (name, full ID or unique ID
        prefix) of docker, podman, nerdctl or crictl (``engine=None``: each
        installed one, in that order); ``.container`` is ``{"engine", "id",
        "name", "image"}``. The engines run in the caller's namespace,
        through the runner (recorded, replayed, dry-run like any command).
        Equivalent to: ``docker inspect --type container REF`` (see
        :func:`netnswrap.containers.find_container`), then ``nsenter -t PID -n …``"""
        from .containers import FIELDS, find_container
        found = find_container(cls(runner=runner).runner.run, ref, engine)
        handle = cls.from_pid(found["pid"], runner=runner)
        handle.container = {key: found[key] for key in FIELDS}
        return handle

    @property
    def name(self) -> Optional[str]:
        return self.where.name

    @property
    def pid(self) -> Optional[int]:
        return self.where.pid

    @property
    def runner(self) -> Runner:
        return self._runner if self._runner is not None else get_runner()

    def at(self, where: Where) -> "Netns":
        """A handle on ``where`` with this handle's runner."""
        return Netns(where.name, pid=where.pid, runner=self._runner)

    def __repr__(self) -> str:
        where = f"{self.name!r}" if self.name else (f"pid={self.pid}" if self.pid else "")
        return f"Netns({where})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Netns) and self.where == other.where

    def __hash__(self) -> int:
        return hash(self.where)

    def __enter__(self) -> "Netns":
        return self

    def __exit__(self, *exc_info) -> None:
        if self._owned and self.name is not None:
            self._owned = False
            try:
                self.kill_processes()
                self.netns_del(self.name)
            except NamespaceNotFound:  # already deleted inside the block
                pass

    def kill_processes(self) -> None:
        """Kill (SIGKILL) every process in this named namespace, whoever
        started it, until none is left (a program that forks as it dies is
        caught on the next round): no program keeps a deleted namespace
        alive. A namespace that does not exist has none.
        Equivalent to: ``kill -KILL $(ip netns pids NAME)``"""
        if self.name is None:
            raise InvalidArgument("kill_processes needs a named namespace")
        kill_processes_in(self.at(CALLER), [self.name])

    # --- running ------------------------------------------------------------

    def run(self, argv: Sequence[str], *, input: Optional[str] = None,
            timeout: Optional[float] = None, check: bool = True, as_program: bool = False) -> Result:
        """Run ``argv`` in this namespace; with ``check`` raise the typed error of a failure.
        ``as_program`` runs even an ``ip`` command as ``ip netns exec NS ip …``."""
        known = self.runner.facts.ip  # probed by reads only: writes add no `ip -V`
        ip_has_netns = not (known and known["busybox"])
        result = self.runner.run(self.where.place(argv, ip_has_netns, as_program), input=input,
                                 timeout=timeout)
        return result.check() if check else result

    def tools(self) -> IpTools:
        """What the ``ip`` behind this handle's runner can do, learnt once per
        runner from ``ip -V``: ``{"json": bool, "busybox": bool, "version": (major, minor) or None}``."""
        facts = self.runner.facts
        if facts.ip is None:
            result = self.runner.run(("ip", "-V"))
            facts.ip = ip_tools(result.stdout + result.stderr)
        return facts.ip

    def busybox(self) -> bool:
        return self.tools()["busybox"]

    def read(self, json_argv: Argv, text_argv: Argv, parser) -> list:
        if self.tools()["json"]:
            from .parsing import load_json_list
            return load_json_list(self.run(json_argv))
        from .parsing import parse
        return parse(parser, self.run(text_argv).stdout)

    # --- changes ------------------------------------------------------------

    def _apply(self, write: Write) -> None:
        """Run a change now; a create, move or rename that meets LinkExists
        after this runner deleted a namespace is retried (see ``TEARDOWN_RETRIES``)."""
        here = self if not write.in_caller else self.at(CALLER)
        for pause in TEARDOWN_RETRIES if write.reuses_name and self.runner.facts.netns_deleted else ():
            try:
                here.run(write.argv)
                return
            except LinkExists:
                self.runner.pause(pause)
        here.run(write.argv)
        if write.deletes_netns:
            self.runner.facts.netns_deleted = True

    def _scope(self, name: str, created: bool) -> "Netns":
        handle = Netns(name, runner=self._runner)
        handle._owned = created
        return handle

    def _caller_pid(self) -> int:
        return self.runner.caller_pid()

    def start(self, argv: Argv, *, env: Optional[Dict[str, str]] = None) -> "Process":
        known = self.runner.facts.ip
        placed = self.where.place(argv, not (known and known["busybox"]), as_program=True)
        return self.runner.spawn(placed, env=env)

    # --- peers, topology, batches ------------------------------------------

    def veth_peer(self, dev: str, *, cross_check: bool = False, containers: bool = False) -> "Peer":
        """The other end of veth ``dev``: ``{"netns", "pid", "ifname", "ifindex"}``;
        ``cross_check`` also asks ethtool, which must agree; ``containers``
        adds, for a peer only processes hold, the ``containers`` holding it
        (one listing per installed engine).
        Equivalent to: ``ip -d -j link show dev DEV`` (``link_index``,
        ``link_netnsid``) [and ``ethtool -S DEV`` ``peer_ifindex``]
        [and ``docker ps -q`` + ``docker inspect …``]."""
        from .peers import veth_peer
        return veth_peer(self, dev, check_flag(cross_check, "cross_check") or False,
                         check_flag(containers, "containers") or False)

    def topology(self) -> dict:
        """Every namespace this one can see, with links, addresses, veth pairs
        and bridges, as one JSON-ready dict (namespaces it cannot enter marked
        ``"readable": False``). Equivalent to: ``ip -n NS -d -j addr show`` for
        each named namespace (one ``sh`` loop) plus ``lsns -J -t net``."""
        from .host_topology import topology
        return topology(self)

    def batch(self) -> "Batch":
        """Collect changes and run them at ``ip -batch`` speed when the block ends.
        Equivalent to: ``ip -batch FILE``"""
        from .batching import Batch
        return Batch(self)


def ip_tools(version_text: str) -> IpTools:
    """What ``ip -V`` says about the ``ip`` in use."""
    if "BusyBox" in version_text:
        return {"json": False, "busybox": True, "version": None}
    found = _IPROUTE2_VERSION.search(version_text)
    if not found:  # unknown (or a dry run): assume a modern iproute2
        return {"json": True, "busybox": False, "version": None}
    if found.group(3):  # old "ss" date versions; -j arrived in ss171113 (4.14)
        return {"json": found.group(3) >= "171113", "busybox": False, "version": None}
    version = (int(found.group(1)), int(found.group(2)))
    return {"json": version >= (4, 14), "busybox": False, "version": version}
