"""``Netns``: one handle per network namespace, with every operation.

A handle is the caller's own namespace (``Netns()``), a named one
(``Netns("blue")``) or a process's (``Netns.from_pid(1503)``). Each method
validates its arguments, builds the command (:mod:`netnswrap.commands`),
places it in the handle's namespace (:func:`netnswrap.commands.place`), runs
it through the handle's runner, raises the typed error of a failure
(:func:`netnswrap.errors.classify`) and parses the output.
"""
from __future__ import annotations

import json
import os
import re
from typing import List, Optional, Sequence

from . import commands
from .errors import (InvalidArgument, LinkExists, LinkNotFound, NamespaceNotFound, NetnsWrapError,
                     ParseError)
from .runners import Result, Runner, get_runner
from .validate import check_netns_name, check_pid, check_runner, check_timeout

# Kinds the kernel marks netns-local (NETIF_F_NETNS_LOCAL; dev->netns_local
# in 6.12-6.14, dev->netns_immutable since 6.15): they never change namespace.
NETNS_LOCAL_KINDS = frozenset({"bridge", "bond", "team", "vrf", "openvswitch", "batadv", "wpan",
                               "lowpan"})
_IPROUTE2_VERSION = re.compile(r"iproute2-(?:(\d+)\.(\d+)|ss(\d{6}))")

# `ip netns del` returns before the kernel has torn the namespace down: its
# veth ends in other namespaces vanish milliseconds later, so a name reused
# at once may still be taken. Once a runner has deleted a namespace, a create
# or move through it that meets LinkExists is tried again after each of these
# pauses (about 2 s in all) before the error is raised. The number of tries is
# fixed, so a replayed recording retries exactly as often as the live run did.
TEARDOWN_RETRIES = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.5, 0.5, 0.5)


class Netns:
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
        if name is not None and pid is not None:
            raise InvalidArgument("Netns takes a name or a pid, not both")
        self.name = check_netns_name(name) if name is not None else None
        self.pid = int(check_pid(pid)) if pid is not None else None
        self._runner = check_runner(runner) if runner is not None else None
        self._owned = False

    @classmethod
    def from_pid(cls, pid: int, *, runner: Optional[Runner] = None) -> "Netns":
        """The namespace process ``pid`` is in: commands run as ``nsenter -t PID -n …``."""
        check_pid(pid)  # None here would silently mean the caller's own namespace
        return cls(pid=pid, runner=runner)

    @property
    def runner(self) -> Runner:
        return self._runner if self._runner is not None else get_runner()

    def __repr__(self) -> str:
        where = f"{self.name!r}" if self.name else (f"pid={self.pid}" if self.pid else "")
        return f"Netns({where})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Netns) and (self.name, self.pid) == (other.name, other.pid)

    def __hash__(self) -> int:
        return hash((self.name, self.pid))

    def __enter__(self) -> "Netns":
        return self

    def __exit__(self, *exc_info) -> None:
        if self._owned:
            self._owned = False
            try:
                self.netns_del(self.name)
            except NamespaceNotFound:  # already deleted inside the block
                pass

    # --- running ------------------------------------------------------------

    def run(self, argv: Sequence[str], *, input: Optional[str] = None,
            timeout: Optional[float] = None, check: bool = True) -> Result:
        """Run ``argv`` in this namespace; with ``check`` raise the typed error of a failure."""
        known = self.runner.facts.get("ip", {})  # probed by reads only: writes add no `ip -V`
        placed = commands.place(argv, self.name, self.pid, ip_has_netns=not known.get("busybox"))
        result = self.runner.run(placed, input=input, timeout=timeout)
        return result.check() if check else result

    def tools(self) -> dict:
        """What the ``ip`` behind this handle's runner can do, learnt once per
        runner from ``ip -V``: ``{"json": bool, "busybox": bool, "version": (major, minor) or None}``."""
        facts = self.runner.facts
        if "ip" not in facts:
            result = self.runner.run(commands.ip_version())
            facts["ip"] = _ip_tools(result.stdout + result.stderr)
        return facts["ip"]

    def _read_json_or_text(self, json_argv: Sequence[str], text_argv: Sequence[str], parser) -> list:
        if self.tools()["json"]:
            return _loads(self.run(json_argv))
        from .parsing import parse
        return parse(parser, self.run(text_argv).stdout)

    # --- namespaces ---------------------------------------------------------

    def _names(self) -> "Netns":
        """Where namespace names are made and removed: the caller's namespace.
        (``ip -n NS netns add X`` would bind X in ip's private mount namespace,
        gone when ip exits.)"""
        return self if self.name is None and self.pid is None else Netns(runner=self._runner)

    def netns_add(self, name: str) -> "Netns":
        """Create a named namespace and return its handle (a context manager
        that deletes it on exit). Names are the host's, so this runs in the
        caller's namespace whatever the handle. Equivalent to: ``ip netns add NAME``"""
        self._names().run(commands.netns_add(name))
        created = Netns(name, runner=self._runner)
        created._owned = True
        return created

    def netns_del(self, name: str) -> None:
        """Delete a named namespace (run in the caller's namespace, like
        :meth:`netns_add`). Equivalent to: ``ip netns del NAME``"""
        self._names().run(commands.netns_del(name))
        self.runner.facts["netns_deleted"] = True

    def netns_list(self) -> List[dict]:
        """Named namespaces, as ``[{"name": str, "id": int}]`` (``id`` only where
        this namespace has an nsid for it). Equivalent to: ``ip -j netns list``"""
        from .parsers import ip_netns
        return self._read_json_or_text(commands.netns_list(), commands.netns_list(json=False), ip_netns)

    def netns_exists(self, name: str) -> bool:
        """Whether a namespace of that name exists. Equivalent to: ``ip netns list | grep -qx NAME``"""
        check_netns_name(name)
        return any(entry.get("name") == name for entry in self.netns_list())

    def netns_pids(self, name: str) -> List[int]:
        """PIDs of the processes in a named namespace. Equivalent to: ``ip netns pids NAME``"""
        return [int(word) for word in self.run(commands.netns_pids(name)).stdout.split()]

    def netns_identify(self, pid: int) -> Optional[str]:
        """The name of the namespace process ``pid`` is in, or None if it has
        none. Equivalent to: ``ip netns identify PID``"""
        names = self.run(commands.netns_identify(pid)).stdout.split()
        return names[0] if names else None

    def netns_attach(self, name: str, pid: int) -> "Netns":
        """Give the namespace of process ``pid`` a name; returns its handle
        (run in the caller's namespace, like :meth:`netns_add`).
        Equivalent to: ``ip netns attach NAME PID``"""
        self._names().run(commands.netns_attach(name, pid))
        return Netns(name, runner=self._runner)

    # --- links --------------------------------------------------------------

    def link_list(self) -> List[dict]:
        """Every link, as ``ip -j`` dicts. Equivalent to: ``ip -d -j link show``"""
        from .parsers import ip_link
        text_argv = commands.link_list(json=False, details=not self.tools()["busybox"])
        return self._read_json_or_text(commands.link_list(), text_argv, ip_link)

    def link_show(self, dev: str) -> dict:
        """One link (``LinkNotFound`` if missing). Equivalent to: ``ip -d -j link show dev DEV``"""
        from .parsers import ip_link
        json_argv = commands.link_show(dev)  # validates dev before `ip -V` runs
        text_argv = commands.link_show(dev, json=False, details=not self.tools()["busybox"])
        links = self._read_json_or_text(json_argv, text_argv, ip_link)
        if not links:
            raise LinkNotFound(f'Device "{dev}" does not exist.')
        return links[0]

    def veth_add(self, name: str, peer: str, *, peer_netns=None) -> None:
        """Create a veth pair; the peer end directly in ``peer_netns`` (a name,
        a ``Netns`` or a PID) when given.
        Equivalent to: ``ip link add NAME type veth peer name PEER [netns NS]``"""
        self._run_reusing_names(commands.veth_add(name, peer, _netns_arg(peer_netns)))

    def bridge_add(self, name: str) -> None:
        """Create a bridge. Equivalent to: ``ip link add NAME type bridge``"""
        self._run_reusing_names(commands.bridge_add(name))

    def link_set(self, dev: str, *, up: Optional[bool] = None, mtu: Optional[int] = None,
                 master: Optional[str] = None, nomaster: bool = False, netns=None,
                 name: Optional[str] = None, address: Optional[str] = None) -> None:
        """Change a link: state, MTU, bridge, namespace (a name, ``Netns`` or
        PID), name, MAC. Equivalent to: ``ip link set dev DEV [up|down] [mtu N]
        [master BR|nomaster] [netns NS] [name NEW] [address LLADDR]``"""
        argv = commands.link_set(dev, up=up, mtu=mtu, master=master, nomaster=nomaster,
                                 netns=_netns_arg(netns), name=name, address=address)
        # A move and/or rename alone is one atomic change, safe to retry.
        renames_only = up is None and mtu is None and master is None and not nomaster and address is None
        self._run_reusing_names(argv) if renames_only else self.run(argv)

    def _run_reusing_names(self, argv: Sequence[str]) -> None:
        """Run a link create/move/rename, retrying a LinkExists that may be a
        deleted namespace's link not yet torn down (see ``TEARDOWN_RETRIES``)."""
        for pause in TEARDOWN_RETRIES if self.runner.facts.get("netns_deleted") else ():
            try:
                self.run(argv)
                return
            except LinkExists:
                self.runner.pause(pause)
        self.run(argv)

    def link_set_up(self, dev: str) -> None:
        """Equivalent to: ``ip link set dev DEV up``"""
        self.link_set(dev, up=True)

    def link_set_down(self, dev: str) -> None:
        """Equivalent to: ``ip link set dev DEV down``"""
        self.link_set(dev, up=False)

    def link_del(self, dev: str) -> None:
        """Delete a link (both ends of a veth). Equivalent to: ``ip link del DEV``"""
        self.run(commands.link_del(dev))

    # --- addresses ----------------------------------------------------------

    def addr_list(self, dev: Optional[str] = None) -> List[dict]:
        """Links with their ``addr_info``. Equivalent to: ``ip -j addr show [dev DEV]``"""
        from .parsers import ip_addr
        return self._read_json_or_text(commands.addr_list(dev), commands.addr_list(dev, json=False), ip_addr)

    def addr_add(self, dev: str, cidr: str) -> None:
        """Equivalent to: ``ip addr add CIDR dev DEV``"""
        self.run(commands.addr_add(dev, cidr))

    def addr_del(self, dev: str, cidr: str) -> None:
        """Equivalent to: ``ip addr del CIDR dev DEV``"""
        self.run(commands.addr_del(dev, cidr))

    # --- ethtool ------------------------------------------------------------

    def ethtool_stats(self, dev: str) -> dict:
        """NIC counters as ``{name: int}``. Equivalent to: ``ethtool -S DEV``"""
        from .parsers import ethtool_stats
        return self._parse(ethtool_stats, commands.ethtool_stats(dev))

    def ethtool_features(self, dev: str) -> dict:
        """Offload features as ``{name: {"active": bool, "fixed": bool, …}}``.
        Equivalent to: ``ethtool -k DEV``"""
        from .parsers import ethtool_features
        return self._parse(ethtool_features, commands.ethtool_features(dev))

    def ethtool_driver(self, dev: str) -> dict:
        """Driver information with snake_case keys. Equivalent to: ``ethtool -i DEV``"""
        from .parsers import ethtool_driver
        return self._parse(ethtool_driver, commands.ethtool_driver(dev))

    def _parse(self, parser, argv) -> dict:
        from .parsing import parse
        return parse(parser, self.run(argv).stdout)

    def can_move(self, dev: str) -> bool:
        """Whether ``dev`` may change namespace (it is not netns-local).

        The first source that knows decides:

        1. ``"netns-immutable": true`` in ``ip -d -j link show dev DEV``
           (iproute2 >= 6.17 on kernels >= 6.15) → False;
        2. ``netns-local`` in ``ethtool -k DEV`` (kernels before 6.12 report
           it, ``on [fixed]`` for such devices) → its opposite;
        3. the device itself: loopback, the kinds the kernel makes netns-local
           (bridge, bond, team, vrf, openvswitch, batadv, wpan, lowpan) and
           wireless devices (named ``wl…``) → False; anything else → True.

        Step 3 also answers on new iproute2 where the kernel (6.12–6.14) has
        neither the ethtool feature nor the link attribute.
        Equivalent to: ``ethtool -k DEV | grep netns-local``
        """
        link = self.link_show(dev)
        if link.get("netns-immutable"):
            return False
        try:
            local = self.ethtool_features(dev).get("netns-local")
        except NetnsWrapError:  # no ethtool, or no features for this device
            local = None
        if local is not None:
            return not local["active"]
        kind = (link.get("linkinfo") or {}).get("info_kind")
        return not (link.get("link_type") == "loopback" or kind in NETNS_LOCAL_KINDS
                    or link.get("ifname", "").startswith("wl"))

    # --- programs -----------------------------------------------------------

    def exec(self, argv: Sequence[str], *, timeout: Optional[float] = None,
             check: bool = True) -> Result:
        """Run a program in this namespace and return its :class:`Result`;
        with ``check`` a non-zero exit raises :class:`CommandError`.
        Equivalent to: ``ip netns exec NAME ARGV…`` / ``nsenter -t PID -n ARGV…``"""
        return self.run(commands.program(argv), timeout=check_timeout(timeout), check=check)

    # --- peers, topology, batches ------------------------------------------

    def veth_peer(self, dev: str) -> dict:
        """The other end of veth ``dev``: ``{"netns", "pid", "ifname", "ifindex"}``.
        Equivalent to: ``ip -d -j link show dev DEV`` (``link_index``,
        ``link_netnsid``), cross-checked with ``ethtool -S DEV`` ``peer_ifindex``."""
        from .topology import veth_peer
        return veth_peer(self, dev)

    def topology(self) -> dict:
        """Every namespace this one can see, with links, addresses, veth pairs
        and bridges, as one JSON-ready dict. Equivalent to: ``ip -all netns exec
        ip -d -j addr show`` plus ``lsns -J -t net``."""
        from .topology import topology
        return topology(self)

    def batch(self):
        """Collect changes and run them at ``ip -batch`` speed when the block ends.
        Equivalent to: ``ip -batch -``"""
        from .batch import Batch
        return Batch(self)


def _netns_arg(netns):
    """A namespace reference for ``netns …``: a name, a PID, or a ``Netns``."""
    if isinstance(netns, Netns):
        if netns.name is not None:
            return netns.name
        return netns.pid if netns.pid is not None else os.getpid()
    return netns


def _ip_tools(version_text: str) -> dict:
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


def _loads(result: Result) -> list:
    text = result.stdout.strip()
    if not text:
        return []
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ParseError(f"not JSON from {result.command}: {exc}") from None
