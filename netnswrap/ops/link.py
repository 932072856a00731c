"""Links: ``ip link add/set/del/show`` and whether a device may change namespace."""
from __future__ import annotations

from typing import List, Optional

from ..errors import InvalidArgument, LinkNotFound, NetnsWrapError
from ..validate import check_flag, check_ifname, check_lladdr, check_mtu, check_new_ifname
from ..where import Argv, Where
from . import Changes, Reads, Undo, Write, where_of
from . import kinds

# Kinds the kernel marks netns-local (NETIF_F_NETNS_LOCAL; dev->netns_local
# in 6.12-6.14, dev->netns_immutable since 6.15): they never change namespace.
NETNS_LOCAL_KINDS = frozenset({"bridge", "bond", "team", "vrf", "openvswitch", "batadv", "wpan",
                               "lowpan"})

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


def device(dev: str) -> Argv:
    """A device name for ``ip link add/set/del``: bare, or after ``dev`` when
    ip would read it as a keyword (then ``ip link add up type veth`` would
    create a veth named by the kernel, with IFF_UP set)."""
    check_ifname(dev)
    keyword = dev in _LINK_KEYWORDS or any(word.startswith(dev) for word in _LINK_KEYWORD_PREFIXES)
    return ("dev", dev) if keyword else (dev,)


def show(obj: str, json: bool, details: bool) -> Argv:
    """``ip [-d] [-j] OBJ show``"""
    return ("ip",) + ("-d",) * details + ("-j",) * json + (obj, "show")


def list_(json: bool = True, details: bool = True) -> Argv:
    """``ip -d -j link show`` (without ``-j`` with ``json=False``, without
    ``-d`` with ``details=False``: busybox ``ip`` has neither)"""
    return show("link", json, details)


def sysfs_dir(dev: str) -> Argv:
    """``ls /sys/class/net/DEV`` as DEV's namespace sees it: sysfs shows the
    namespace of whoever mounted it, so it is mounted afresh in a mount
    namespace of its own (as ``ip netns exec`` does; ``nsenter -n`` does not)."""
    return ("unshare", "-m", "sh", "-c",
            'umount -l /sys 2>/dev/null; mount -t sysfs sysfs /sys && exec ls "/sys/class/net/$1"', "sh",
            check_ifname(dev))


def show_dev(dev: str, json: bool = True, details: bool = True) -> Argv:
    """``ip -d -j link show dev DEV`` (options as in :func:`list_`)"""
    return list_(json, details) + ("dev", check_ifname(dev))


def settings(up: bool = False, mtu: Optional[int] = None, master: Optional[str] = None) -> Argv:
    """A new link's state, MTU and master as words of ``ip link add``: ``[up] [mtu N] [master BR]``."""
    if not isinstance(up, bool):
        raise InvalidArgument(f"invalid up {up!r}: must be True or False")
    return (("up",) if up else ()) + (("mtu", check_mtu(mtu)) if mtu is not None else ()) \
        + (("master", check_ifname(master)) if master is not None else ())


def create(name: str, kind_args: Argv, set_words: Argv = ()) -> Write:
    """``ip link add NAME [up] [mtu N] [master BR] KIND_ARGS…`` (``set_words``:
    :func:`settings`; undone by ``ip link del NAME``)"""
    return Write(("ip", "link", "add") + device(check_new_ifname(name)) + set_words + kind_args,
                 undo=Undo(("ip", "link", "del") + device(name), removes=True), reuses_name=True)


def veth(name: str, peer: str, peer_netns: Optional[str] = None,
         peer_where: Optional[Where] = None, set_words: Argv = ()) -> Write:
    """``ip link add NAME [up] [mtu N] [master BR] type veth peer name PEER [netns NS]``

    ``peer_netns`` is the ``netns`` argument (:meth:`Where.ref`), ``peer_where``
    the namespace it names; ``set_words`` (:func:`settings`) apply to NAME's end."""
    args: Argv = ("type", "veth", "peer", "name", check_new_ifname(peer))
    write = create(name, args + (("netns", peer_netns) if peer_netns is not None else ()), set_words)
    return Write(write.argv, touches=(peer_where,) if peer_where else (), undo=write.undo,
                 reuses_name=True)


def set_(dev: str, *, up: Optional[bool] = None, mtu: Optional[int] = None,
         master: Optional[str] = None, nomaster: bool = False, netns: Optional[str] = None,
         name: Optional[str] = None, address: Optional[str] = None) -> Argv:
    """``ip link set dev DEV [up|down] [mtu N] [master BR|nomaster] [netns NS] [name NEW] [address LLADDR]``

    ``netns`` is the ``netns`` argument as :meth:`Where.ref` gives it. A move
    alone is written as the seed and ip-link(8) write it: ``ip link set DEV netns NS``.
    """
    argv: Argv = ("ip", "link", "set", "dev", check_ifname(dev))
    check_flag(up, "up")
    check_flag(nomaster, "nomaster")
    if netns is not None and not nomaster and all(v is None for v in (up, mtu, master, name, address)):
        return ("ip", "link", "set") + device(dev) + ("netns", netns)
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
        argv += ("netns", netns)
    if name is not None:
        argv += ("name", check_new_ifname(name))
    if address is not None:
        argv += ("address", check_lladdr(address))
    if len(argv) == 5:
        raise InvalidArgument(f"link_set({dev!r}) needs at least one change: "
                              "up, mtu, master, nomaster, netns, name or address")
    return argv


def delete(dev: str) -> Write:
    """``ip link del DEV`` (not undone)"""
    return Write(("ip", "link", "del") + device(dev))


class LinkWrites(Changes):
    def veth_add(self, name: str, peer: str, *, peer_netns=None, up: bool = False,
                 mtu: Optional[int] = None, master: Optional[str] = None) -> None:
        """Create a veth pair; the peer end directly in ``peer_netns`` (a name,
        a ``Netns``, a batch scope or a PID) when given. ``up``, ``mtu`` and
        ``master`` apply to NAME's end, as it is made.
        Equivalent to: ``ip link add NAME [up] [mtu N] [master BR] type veth peer name PEER [netns NS]``"""
        there = where_of(peer_netns) if peer_netns is not None else None
        set_words = settings(up, mtu, master)
        self._apply(veth(name, peer, self._ref(there) if there else None, there, set_words))

    def bridge_add(self, name: str) -> None:
        """Create a bridge. Equivalent to: ``ip link add NAME type bridge``"""
        self.link_add(name, "bridge")

    def link_add(self, name: str, kind: str, *, up: bool = False, mtu: Optional[int] = None,
                 master: Optional[str] = None, **options) -> None:
        """Create a link of ``kind`` with that kind's options (see
        :data:`netnswrap.ops.kinds.KINDS`): ``veth`` (``peer=``,
        ``peer_netns=``), ``bridge``, ``dummy``, ``macvlan``/``ipvlan``
        (``link=``, ``mode=``), ``vlan`` (``link=``, ``id=``), ``vxlan``
        (``id=``, ``remote=``, ``local=``, ``dstport=``, ``dev=``), ``bond``
        (``mode=``), ``tun``/``tap``, ``gre``/``ipip`` (``remote=``,
        ``local=``). An option the kind does not take is an
        ``InvalidArgument`` naming the ones it does; a kind the kernel lacks
        raises ``NotSupported`` naming it. ``up``, ``mtu`` and ``master``
        apply as the link is made (to NAME's end of a veth) — through an ``ip
        link set`` right after for tun/tap (``ip tuntap add`` takes none) and
        for a bridge's MTU (given to ``ip link add``, the bridge's first port
        would replace it); a handle deletes the link again when that fails.
        Equivalent to: ``ip link add NAME [up] [mtu N] [master BR] [link DEV] type KIND
        [OPTION VALUE]…`` (``ip tuntap add mode tun|tap name NAME``, then ``ip
        link set dev NAME [up] [mtu N] [master BR]`` when given, for tun/tap)"""
        words = kinds.check_options(kind, options)
        settings(up, mtu, master)  # checked before anything runs
        if kind == "veth":
            self.veth_add(name, words["peer"], peer_netns=options.get("peer_netns"), up=up, mtu=mtu,
                          master=master)
        elif kind in ("tun", "tap"):
            self._made_then_set(kinds.tuntap(name, kind), name, up=up, mtu=mtu, master=master)
        elif kind == "bridge":
            self._made_then_set(create(name, kinds.args(kind, words), settings(up, None, master)), name, mtu=mtu)
        else:
            self._apply(create(name, kinds.args(kind, words), settings(up, mtu, master)))

    def _made_then_set(self, write: Write, name: str, *, up: bool = False, mtu: Optional[int] = None,
                       master: Optional[str] = None) -> None:
        """Make a link with ``write``, then ``ip link set`` what is given of
        ``up``, ``mtu`` and ``master``; a handle whose ``link set`` fails
        deletes the link it just made (a batch's undo does that)."""
        self._apply(write)
        if not (up or mtu is not None or master is not None):
            return
        try:
            self.link_set(name, up=up or None, mtu=mtu, master=master)
        except NetnsWrapError:  # the kernel's refusal (an MTU out of range is InvalidMTU: no CommandError)
            if write.undo is not None:
                self._apply(Write(write.undo.argv))
            raise

    def link_set(self, dev: str, *, up: Optional[bool] = None, mtu: Optional[int] = None,
                 master: Optional[str] = None, nomaster: bool = False, netns=None,
                 name: Optional[str] = None, address: Optional[str] = None) -> None:
        """Change a link: state, MTU, bridge, namespace (a name, ``Netns``,
        batch scope or PID), name, MAC. In a batch, a move and a rename are
        undone (moved back, renamed back); state, MTU, master and MAC are not.
        Equivalent to: ``ip link set dev DEV [up|down] [mtu N] [master BR|nomaster]
        [netns NS] [name NEW] [address LLADDR]``"""
        there = where_of(netns) if netns is not None else None
        argv = set_(dev, up=up, mtu=mtu, master=master, nomaster=nomaster,
                    netns=self._ref(there) if there else None, name=name, address=address)
        undo = None
        if there is not None or name is not None:
            back = set_(name or dev, netns=self._ref(self.where) if there else None,
                        name=dev if name is not None else None)
            undo = Undo(back, where=there)
        # A move and/or rename alone is one atomic change, safe to retry.
        alone = up is None and mtu is None and master is None and not nomaster and address is None
        self._apply(Write(argv, touches=(there,) if there else (), undo=undo, reuses_name=alone))

    def link_set_up(self, dev: str) -> None:
        """Equivalent to: ``ip link set dev DEV up``"""
        self.link_set(dev, up=True)

    def link_set_down(self, dev: str) -> None:
        """Equivalent to: ``ip link set dev DEV down``"""
        self.link_set(dev, up=False)

    def link_del(self, dev: str) -> None:
        """Delete a link (both ends of a veth). Equivalent to: ``ip link del DEV``"""
        self._apply(delete(dev))


class LinkReads(Reads):
    def link_list(self) -> List[dict]:
        """Every link, as ``ip -j`` dicts. Equivalent to: ``ip -d -j link show``"""
        from ..parsers import ip_link
        return self.read(list_(), list_(json=False, details=not self.busybox()), ip_link)

    def link_show(self, dev: str) -> dict:
        """One link (``LinkNotFound`` if missing). Equivalent to: ``ip -d -j link show dev DEV``"""
        from ..parsers import ip_link
        json_argv = show_dev(dev)  # validates dev before `ip -V` runs
        links = self.read(json_argv, show_dev(dev, json=False, details=not self.busybox()), ip_link)
        if not links:
            raise LinkNotFound(f'Device "{dev}" does not exist.')
        return links[0]

    def can_move(self, dev: str) -> bool:
        """Whether ``dev`` may change namespace (it is not netns-local).

        The first source that knows decides:

        1. ``"netns-immutable": true`` in ``ip -d -j link show dev DEV``
           (iproute2 >= 6.17 on kernels >= 6.15) → False;
        2. ``netns-local`` in ``ethtool -k DEV`` (kernels before 6.12 report
           it, ``on [fixed]`` for such devices) → its opposite;
        3. the device itself: loopback and the kinds the kernel makes
           netns-local (bridge, bond, team, vrf, openvswitch, batadv, wpan,
           lowpan) → False; another kind → True;
        4. a device without a kind (hardware): a wireless one (``wireless``
           or ``phy80211`` in its sysfs directory, read inside its namespace)
           → False; anything else → True. Where sysfs cannot be read (not
           root), the answer is True, as its kind alone says.

        Steps 3-4 answer on new iproute2 where the kernel (6.12–6.14) has
        neither the ethtool feature nor the link attribute.
        Equivalent to: ``ethtool -k DEV | grep netns-local``
        """
        from .ethtool import features
        link = self.link_show(dev)
        if link.get("netns-immutable"):
            return False
        name = link.get("ifname", dev)  # ethtool and sysfs know the name, not an altname
        try:
            local = features(self, name).get("netns-local")
        except NetnsWrapError:  # no ethtool, or no features for this device
            local = None
        if local is not None:
            return not local["active"]
        kind = (link.get("linkinfo") or {}).get("info_kind")
        if link.get("link_type") == "loopback" or kind in NETNS_LOCAL_KINDS:
            return False
        if kind is not None:
            return True
        try:
            entries = self.run(sysfs_dir(name), as_program=True).stdout.split()
        except NetnsWrapError:  # not root (no mount namespace of its own), or no unshare
            return True
        return not {"wireless", "phy80211"} & set(entries)
