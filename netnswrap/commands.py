"""Command lines, built as values: one pure builder per operation.

Each builder validates its arguments and returns the argv (a tuple of str)
that the caller's own namespace would run; :func:`place` then puts it into
another namespace — the only place that knows how:

- ``ip …``   → ``ip -n NAME …``            (a named namespace)
- any other  → ``ip netns exec NAME …``    (a named namespace)
- anything   → ``nsenter -t PID -n …``     (a process's namespace)

Nothing here runs a process.
"""
from __future__ import annotations

import re
from typing import Optional, Sequence, Tuple

from .errors import InvalidArgument
from .validate import (check_argv, check_cidr, check_flag, check_ifname, check_lladdr,
                       check_mtu, check_netns_name, check_pid)

Argv = Tuple[str, ...]
_NUMBER = re.compile(r"^\+?(0[xX][0-9a-fA-F]+|[0-9]+)$")


def place(argv: Sequence[str], netns: Optional[str] = None, pid: Optional[int] = None,
          ip_has_netns: bool = True) -> Argv:
    """Run ``argv`` inside a named namespace or a process's namespace.

    ``ip_has_netns=False`` is for an ``ip`` without ``-n`` (busybox): then a
    named namespace is entered with ``nsenter --net=/run/netns/NAME``.
    """
    argv = tuple(argv)
    if pid is not None:
        return ("nsenter", "-t", check_pid(pid), "-n") + argv
    if netns is None:
        return argv
    check_netns_name(netns)
    if argv[0] == "ip" and ip_has_netns:
        return ("ip", "-n", netns) + argv[1:]
    if not ip_has_netns:
        return ("nsenter", f"--net=/run/netns/{netns}") + argv
    return ("ip", "netns", "exec", netns) + argv


# --- namespaces -------------------------------------------------------------

def ip_version() -> Argv:
    """``ip -V``"""
    return ("ip", "-V")


def netns_add(name: str) -> Argv:
    """``ip netns add NAME``"""
    return ("ip", "netns", "add", check_netns_name(name))


def netns_del(name: str) -> Argv:
    """``ip netns del NAME``"""
    return ("ip", "netns", "del", check_netns_name(name))


def netns_list(json: bool = True) -> Argv:
    """``ip -j netns list`` (``ip netns list`` with ``json=False``)"""
    return ("ip", "-j", "netns", "list") if json else ("ip", "netns", "list")


def netns_list_id() -> Argv:
    """``ip netns list-id``"""
    return ("ip", "netns", "list-id")


def netns_pids(name: str) -> Argv:
    """``ip netns pids NAME``"""
    return ("ip", "netns", "pids", check_netns_name(name))


def netns_identify(pid: int) -> Argv:
    """``ip netns identify PID``"""
    return ("ip", "netns", "identify", check_pid(pid))


def netns_attach(name: str, pid: int) -> Argv:
    """``ip netns attach NAME PID``"""
    return ("ip", "netns", "attach", check_netns_name(name), check_pid(pid))


def netns_exec_all(argv: Sequence[str]) -> Argv:
    """``ip -all netns exec ARGV…``: ARGV in every named namespace, each
    one's output after a ``\\nnetns: NAME\\n`` header."""
    return ("ip", "-all", "netns", "exec") + check_argv(argv)


def netns_processes() -> Argv:
    """``lsns -J -t net``: the network namespaces processes are in, with the
    lowest PID of each and its nsid as seen from where lsns runs."""
    return ("lsns", "-J", "-t", "net")


def netns_members() -> Argv:
    """``sh -c 'echo $$; stat -L -c "%n %i" /proc/[0-9]*/ns/net'``: the shell's
    own PID, then each process with the inode of its network namespace."""
    return ("sh", "-c", 'echo $$; stat -L -c "%n %i" /proc/[0-9]*/ns/net 2>/dev/null; true')


def netns_self() -> Argv:
    """``readlink /proc/self/ns/net``: the namespace a command runs in, as ``net:[INODE]``."""
    return ("readlink", "/proc/self/ns/net")


# --- links ------------------------------------------------------------------

def _show(obj: str, json: bool, details: bool) -> Argv:
    """``ip [-d] [-j] OBJ show``"""
    return ("ip",) + ("-d",) * details + ("-j",) * json + (obj, "show")


def link_list(json: bool = True, details: bool = True) -> Argv:
    """``ip -d -j link show`` (without ``-j`` with ``json=False``, without
    ``-d`` with ``details=False``: busybox ``ip`` has neither)"""
    return _show("link", json, details)


def link_show(dev: str, json: bool = True, details: bool = True) -> Argv:
    """``ip -d -j link show dev DEV`` (options as in :func:`link_list`)"""
    return link_list(json, details) + ("dev", check_ifname(dev))


def veth_add(name: str, peer: str, peer_netns: Optional[str] = None) -> Argv:
    """``ip link add NAME type veth peer name PEER [netns NS]``

    ``peer_netns`` is a namespace name or a PID as str (``netns`` takes both).
    """
    argv = ("ip", "link", "add") + _device(name) + ("type", "veth", "peer", "name", check_ifname(peer))
    return argv + ("netns", _netns_ref(peer_netns)) if peer_netns is not None else argv


def bridge_add(name: str) -> Argv:
    """``ip link add NAME type bridge``"""
    return ("ip", "link", "add") + _device(name) + ("type", "bridge")


def link_set(dev: str, *, up: Optional[bool] = None, mtu: Optional[int] = None,
             master: Optional[str] = None, nomaster: bool = False, netns=None,
             name: Optional[str] = None, address: Optional[str] = None) -> Argv:
    """``ip link set dev DEV [up|down] [mtu N] [master BR|nomaster] [netns NS] [name NEW] [address LLADDR]``

    A move alone is written as the seed and ip-link(8) write it:
    ``ip link set DEV netns NS``.
    """
    argv = ("ip", "link", "set", "dev", check_ifname(dev))
    check_flag(up, "up")
    check_flag(nomaster, "nomaster")
    moves_only = not nomaster and all(v is None for v in (up, mtu, master, name, address))
    if netns is not None and moves_only:
        return ("ip", "link", "set") + _device(dev) + ("netns", _netns_ref(netns))
    if up is not None:
        argv += ("up",) if up else ("down",)
    if mtu is not None:
        argv += ("mtu", check_mtu(mtu))
    if master is not None and nomaster:
        raise InvalidArgument("'master' and 'nomaster' exclude each other")
    if master is not None:
        argv += ("master", check_ifname(master))
    if nomaster:
        argv += ("nomaster",)
    if netns is not None:
        argv += ("netns", _netns_ref(netns))
    if name is not None:
        argv += ("name", check_ifname(name))
    if address is not None:
        argv += ("address", check_lladdr(address))
    if len(argv) == 5:
        raise InvalidArgument(f"link_set({dev!r}) needs at least one change: "
                              "up, mtu, master, nomaster, netns, name or address")
    return argv


def link_del(dev: str) -> Argv:
    """``ip link del DEV``"""
    return ("ip", "link", "del") + _device(dev)


# Words `ip link add/set/del` reads as keywords where a device name stands
# (iproute2 ip/iplink.c iplink_parse): these as written, and the second set
# also abbreviated ("a" is "address", "no" is "nomaster", "h" is "help").
_LINK_KEYWORDS = frozenset("dev up down name index mtu inet netns multicast allmulticast promisc "
                           "trailers arp carrier vf vrf group mode state protodown protodown_reason "
                           "brd qlen xdp xdpgeneric xdpdrv xdpoffload parentdev gso_max_size "
                           "gso_max_segs gro_max_size gso_ipv4_max_size gro_ipv4_max_size".split())
_LINK_KEYWORD_PREFIXES = ("link", "address", "broadcast", "txqueuelen", "txqlen", "master",
                          "nomaster", "dynamic", "type", "alias", "numtxqueues", "numrxqueues",
                          "addrgenmode", "link-netns", "link-netnsid", "help")


def _device(dev: str) -> Argv:
    """A device name for ``ip link add/set/del``: bare, or after ``dev`` when
    ip would read it as a keyword (then ``ip link add up type veth`` would
    create a veth named by the kernel, with IFF_UP set)."""
    check_ifname(dev)
    keyword = dev in _LINK_KEYWORDS or any(word.startswith(dev) for word in _LINK_KEYWORD_PREFIXES)
    return ("dev", dev) if keyword else (dev,)


def _netns_ref(netns) -> str:
    """A namespace for ``netns …``: a name, or a PID (int).

    ip reads a name that strtol() takes for a number (``1``, ``+1``, ``0x1``)
    as a PID when no namespace has that name (``netns 1`` would move the
    device into init's namespace), so such a name is given as its path,
    ``/run/netns/NAME``.
    """
    if isinstance(netns, int) and not isinstance(netns, bool):
        return check_pid(netns)
    name = check_netns_name(netns)
    return f"/run/netns/{name}" if _NUMBER.match(name) else name


# --- addresses --------------------------------------------------------------

def addr_list(dev: Optional[str] = None, json: bool = True, details: bool = False) -> Argv:
    """``ip [-d] -j addr show [dev DEV]`` (``ip addr show …`` with ``json=False``;
    ``-d`` adds link details: ``linkinfo``, ``link_netnsid``…)"""
    argv = _show("addr", json, details)
    return argv + ("dev", check_ifname(dev)) if dev is not None else argv


def addr_add(dev: str, cidr: str) -> Argv:
    """``ip addr add CIDR dev DEV``"""
    return ("ip", "addr", "add", check_cidr(cidr), "dev", check_ifname(dev))


def addr_del(dev: str, cidr: str) -> Argv:
    """``ip addr del CIDR dev DEV``"""
    return ("ip", "addr", "del", check_cidr(cidr), "dev", check_ifname(dev))


# --- batches ----------------------------------------------------------------

def ip_batch(force: bool = False) -> Argv:
    """``ip -batch -``: the commands on stdin, one a line (``ip -force -batch -``
    with ``force``: go on past a failing line)"""
    return ("ip", "-force", "-batch", "-") if force else ("ip", "-batch", "-")


# --- ethtool and other programs ---------------------------------------------

def ethtool_stats(dev: str) -> Argv:
    """``ethtool -S DEV``"""
    return ("ethtool", "-S", check_ifname(dev))


def ethtool_features(dev: str) -> Argv:
    """``ethtool -k DEV``"""
    return ("ethtool", "-k", check_ifname(dev))


def ethtool_driver(dev: str) -> Argv:
    """``ethtool -i DEV``"""
    return ("ethtool", "-i", check_ifname(dev))


def program(argv: Sequence[str]) -> Argv:
    """Any program, e.g. ``ping -c 1 10.1.1.2`` (checked, never through a shell)."""
    return check_argv(argv)
