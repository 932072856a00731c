"""Veth peers: the other end of a veth, wherever it lives.

An ifindex is only looked up inside the namespace the nsid names (see
:mod:`netnswrap.nsids`), and the link found there must point back (its own
``link_index``), so repeated ifindexes (every container's ``eth0`` is often
2) never mix.

Commands per answer (``ip -V`` aside, asked once per runner): 2 for a peer
in the handle's own namespace (3 from a PID handle, which must learn whether
that PID is in the caller's namespace), 3 for a peer in a named namespace or
in the caller's seen from a named one, 4 for one only a process holds (and
for the caller's seen from a PID handle); ``cross_check=True`` adds
``ethtool -S``. ``benchmarks/bench_peer.py`` counts and times them.
"""
from __future__ import annotations

import json
from typing import List, Optional, Tuple, TypedDict, cast

from .containers import held_by, list_containers
from .errors import InvalidArgument, NetnsWrapError, NotSupported, ParseError, ToolNotFound
from .nsids import (CALLER_PLACE, Handle, NsidTable, Place, describe, endpoint, lsns_rows, reach,
                    same_as_caller)
from .where import CALLER


class Endpoint(TypedDict):
    """Where an end of a veth is (see :mod:`netnswrap.nsids` for ``netns``/``pid``)."""

    netns: Optional[str]
    pid: Optional[int]
    ifname: str
    ifindex: int


class Peer(Endpoint, total=False):
    """:class:`Endpoint`, and for a peer only processes hold the containers holding it."""

    containers: List[dict]


def veth_peer(handle: Handle, dev: str, cross_check: bool = False, containers: bool = False) -> Peer:
    """The other end of veth ``dev`` in ``handle``'s namespace:
    ``{"netns": name or None, "pid": int or None, "ifname": str, "ifindex": int}``
    (see the module docstring for where ``netns``/``pid`` point).

    Equivalent to: ``ip -d -j link show dev DEV`` (``link_index``,
    ``link_netnsid``), then ``ip -j netns list`` (and, for a namespace
    without a name, ``lsns -J -t net``) to name the nsid and ``ip -d -j link
    show`` there. ``cross_check`` also reads ``ethtool -S DEV``
    (``peer_ifindex``), which must agree (a missing ethtool is tolerated).
    With ``containers``, a peer only processes hold also names the
    ``containers`` that hold it (``docker ps -q`` + ``docker inspect``,
    podman, nerdctl, crictl alike; no process for an engine not installed).
    """
    link = handle.link_show(dev)
    index = peer_index(handle, dev, link, cross_check)
    place, links = _peer_side(handle, link, index)
    peer = mate(links if links is not None else reach(place, handle).link_list(), link, index)
    if peer is None:
        raise NetnsWrapError(f"the peer of {dev} (ifindex {index}) is not in {describe(place)}")
    found = cast(Peer, endpoint(place, peer))
    if containers and place[1] is not None:  # a namespace only processes hold: a container's?
        found["containers"] = held_by([place[1]], list_containers(handle.runner)[0])
    return found


def _peer_side(handle: Handle, link: dict, index: Optional[int]) -> Tuple[Place, Optional[List[dict]]]:
    """Where the peer of ``link`` is, and that namespace's links if they were read on the way."""
    if "link_netnsid" not in link:
        same = handle.pid is not None and same_as_caller(handle)
        return (CALLER_PLACE if same else (handle.name, handle.pid)), None
    table = NsidTable(handle)
    nsid = link["link_netnsid"]
    name = next((name for name, known in table.named.items() if known == nsid), None)
    if name is not None:
        return (name, None), None
    if handle.name is not None and handle.tools()["json"]:
        return _caller_or_held(handle, table, link, index)
    return table.place(nsid), None


# Read in the caller's namespace by one ip: a named handle's lsns, then the
# caller's links (dumping them makes the kernel assign the nsids they show),
# then the caller's nsids of named namespaces.
CALLER_VIEW = "netns exec {name} lsns -J -t net\nlink show\nnetns list\n"


def _caller_or_held(handle: Handle, table: NsidTable, link: dict,
                    index: Optional[int]) -> Tuple[Place, Optional[List[dict]]]:
    """The peer of ``link`` in named namespace H, when H's nsid for its
    namespace names no named one: the caller's namespace (its link at
    ``index`` points back, and at H by the caller's own nsid for H) or one
    only a process holds (lsns run in H names it). One process: ``ip -d -j
    -force -batch -`` of :data:`CALLER_VIEW`, in the caller's namespace."""
    from .batch_script import line_safe, line_word  # a name ip -batch cannot carry, or must quote
    if not line_safe(handle.name):
        return table.place(link["link_netnsid"]), None
    # -force: lsns sometimes exits 1 without a word (a process ended while it
    # read /proc); the other lines still run, and the usual way asks again.
    result = handle.at(CALLER).run(("ip", "-force", "-d", "-j", "-batch", "-"),
                                   input=CALLER_VIEW.format(name=line_word(handle.name)), check=False)
    values = _json_values(result.stdout, result.command)
    if len(values) != 3:  # that, a dry run, or a failure: ask the usual way
        return table.place(link["link_netnsid"]), None
    held, links, named = values
    own_nsid = next((entry.get("id") for entry in named if entry.get("name") == handle.name), None)
    peer = mate(links, link, index)
    if peer is not None and own_nsid is not None and peer.get("link_netnsid") == own_nsid:
        return CALLER_PLACE, links
    table.held_from(lsns_rows(held, result.command))
    name, row = table.target(link["link_netnsid"])
    return ((name, None) if name is not None else (None, cast(dict, row)["pid"])), None


def _json_values(text: str, command: str) -> list:
    """The JSON values ``text`` holds one after another (ip -batch prints one per line of its script)."""
    decoder, at = json.JSONDecoder(), 0
    values: list = []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return values
        try:
            value, at = decoder.raw_decode(text, at)
        except ValueError as exc:
            raise ParseError(f"unexpected output from {command}: {exc}") from None
        values.append(value)


def kind(link: dict) -> Optional[str]:
    return (link.get("linkinfo") or {}).get("info_kind")


def peer_index(handle: Handle, dev: str, link: dict, cross_check: bool = False) -> Optional[int]:
    """The peer's ifindex: ip's ``link_index`` (``ethtool -S`` ``peer_ifindex``
    where ip shows neither it nor the peer's name ``link``, or with
    ``cross_check``, when the two must agree; None: the peer is ``link``).
    A device that is no veth is :class:`InvalidArgument` saying what it is."""
    link_kind = kind(link)
    # `ip -d` shows every veth's kind; busybox's ip shows no kinds at all.
    if link_kind != "veth" and (link_kind is not None or not handle.busybox()):
        raise InvalidArgument(f"{dev} is {_what(link)}, not a veth: it has no peer")
    from_ip = link.get("link_index")
    from_ethtool = None
    if cross_check or (from_ip is None and "link" not in link):  # `link`: the peer's name, here
        try:  # by its name: ethtool's ioctl does not know altnames
            from_ethtool = handle.ethtool_stats(link.get("ifname", dev)).get("peer_ifindex")
        except (ToolNotFound, NotSupported):
            from_ethtool = None
    if None not in (from_ip, from_ethtool) and from_ip != from_ethtool:
        raise NetnsWrapError(f"{dev}: ip says the peer is ifindex {from_ip}, ethtool -S says "
                             f"{from_ethtool}; the pair changed while it was read")
    if from_ip is None and from_ethtool is None and "link" not in link:  # busybox: ethtool knows no peer
        raise InvalidArgument(f"{dev} is not a veth ({_what(link)}): it has no peer")
    return from_ethtool if from_ip is None else from_ip


def _what(link: dict) -> str:
    """What ip says a device is: ``a bridge device``, ``a loopback device``, ``an ether device``."""
    what = kind(link) or link.get("link_type") or "network"
    return f"{'an' if what[0] in 'aeiou' else 'a'} {what} device"


def points_back(candidate: dict, link: dict) -> bool:
    """Whether ``candidate``'s own peer is ``link`` (as far as its dict tells)."""
    if "link_index" in candidate:
        return candidate["link_index"] == link["ifindex"]
    return candidate.get("link", link["ifname"]) == link["ifname"]


def mate(links: List[dict], link: dict, index: Optional[int]) -> Optional[dict]:
    """The link among ``links`` (one namespace's) at the other end of ``link``."""
    for candidate in links:
        same = candidate.get("ifindex") == index if index is not None else candidate.get("ifname") == link.get("link")
        if same and candidate is not link and points_back(candidate, link):
            return candidate
    return None
