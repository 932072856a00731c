"""Veth peers: the other end of a veth, wherever it lives.

An ifindex is only looked up inside the namespace the nsid names (see
:mod:`netnswrap.nsids`), and the link found there must point back (its own
``link_index``), so repeated ifindexes (every container's ``eth0`` is often
2) never mix.
"""
from __future__ import annotations

from typing import List, Optional, TypedDict

from .errors import InvalidArgument, NetnsWrapError, NotSupported, ToolNotFound
from .nsids import Handle, NsidTable, describe, endpoint, reach


class Peer(TypedDict):
    """Where the other end of a veth is (see :mod:`netnswrap.nsids` for ``netns``/``pid``)."""

    netns: Optional[str]
    pid: Optional[int]
    ifname: str
    ifindex: int


def veth_peer(handle: Handle, dev: str) -> Peer:
    """The other end of veth ``dev`` in ``handle``'s namespace:
    ``{"netns": name or None, "pid": int or None, "ifname": str, "ifindex": int}``
    (see the module docstring for where ``netns``/``pid`` point).

    Equivalent to: ``ip -d -j link show dev DEV`` (``link_index``,
    ``link_netnsid``) and ``ethtool -S DEV`` (``peer_ifindex``, fallback and
    cross-check; a missing ethtool is tolerated), then ``ip -j netns list`` /
    ``lsns -J -t net`` to name the nsid and ``ip -d -j link show`` there.
    """
    link = handle.link_show(dev)
    link_kind = kind(link)
    if link_kind not in (None, "veth"):
        raise InvalidArgument(f"{dev} is a {link_kind} device, not a veth: it has no peer")
    index = peer_index(handle, dev, link)
    if "link_netnsid" in link:
        place = NsidTable(handle).place(link["link_netnsid"])
    else:
        place = (handle.name, handle.pid)
    there = reach(place, handle)
    peer = mate(there.link_list(), link, index)
    if peer is None:
        raise NetnsWrapError(f"the peer of {dev} (ifindex {index}) is not in {describe(place)}")
    return endpoint(place, peer)


def kind(link: dict) -> Optional[str]:
    return (link.get("linkinfo") or {}).get("info_kind")


def peer_index(handle: Handle, dev: str, link: dict) -> Optional[int]:
    """The peer's ifindex: ip's ``link_index``, cross-checked with ethtool's ``peer_ifindex``."""
    from_ip = link.get("link_index")
    try:
        from_ethtool = handle.ethtool_stats(dev).get("peer_ifindex")
    except (ToolNotFound, NotSupported):
        from_ethtool = None
    if None not in (from_ip, from_ethtool) and from_ip != from_ethtool:
        raise NetnsWrapError(f"{dev}: ip says the peer is ifindex {from_ip}, ethtool -S says "
                             f"{from_ethtool}; the pair changed while it was read")
    return from_ethtool if from_ip is None else from_ip


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


