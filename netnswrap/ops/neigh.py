"""Neighbours (the ARP and NDP tables): ``ip neigh add/del/show``.

A batch undoes ``neigh_add`` with ``ip neigh del``; ``neigh_del`` is not
undone (the entry's link-layer address and state are not known).
"""
from __future__ import annotations

from typing import List, Optional

from ..validate import check_ifname, check_ip, check_lladdr
from ..where import Argv
from . import Changes, Reads, Undo, Write


def _entry(addr: str, dev: str) -> Argv:
    return (check_ip(addr), "dev", check_ifname(dev))


def add(addr: str, lladdr: str, dev: str) -> Write:
    """``ip neigh add ADDR lladdr LLADDR dev DEV`` (a permanent entry; undone
    by ``ip neigh del ADDR dev DEV``)"""
    entry = _entry(addr, dev)
    return Write(("ip", "neigh", "add", entry[0], "lladdr", check_lladdr(lladdr)) + entry[1:],
                 undo=Undo(("ip", "neigh", "del") + entry, removes=True))


def delete(addr: str, dev: str) -> Write:
    """``ip neigh del ADDR dev DEV`` (not undone)"""
    return Write(("ip", "neigh", "del") + _entry(addr, dev))


def list_(dev: Optional[str] = None, json: bool = True) -> Argv:
    """``ip -j neigh show [dev DEV]`` (without ``-j`` with ``json=False``)"""
    argv: Argv = ("ip",) + ("-j",) * json + ("neigh", "show")
    return argv + ("dev", check_ifname(dev)) if dev is not None else argv


class NeighWrites(Changes):
    def neigh_add(self, addr: str, lladdr: str, dev: str) -> None:
        """Add a permanent neighbour entry: IPv4 (ARP) or IPv6 (NDP) ``addr``
        at link-layer address ``lladdr`` on ``dev``.
        Equivalent to: ``ip neigh add ADDR lladdr LLADDR dev DEV``"""
        self._apply(add(addr, lladdr, dev))

    def neigh_del(self, addr: str, dev: str) -> None:
        """Remove the neighbour entry of ``addr`` on ``dev``.
        Equivalent to: ``ip neigh del ADDR dev DEV``"""
        self._apply(delete(addr, dev))


class NeighReads(Reads):
    def neigh_list(self, dev: Optional[str] = None) -> List[dict]:
        """Neighbour entries (``dst``, ``dev``, ``lladdr``, ``state``…), as
        ``ip -j`` dicts. Equivalent to: ``ip -j neigh show [dev DEV]``"""
        from ..parsers import ip_neigh
        return self.read(list_(dev), list_(dev, json=False), ip_neigh)
