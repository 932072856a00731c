"""Addresses: ``ip addr add/del/show``."""
from __future__ import annotations

from typing import List, Optional

from ..validate import check_cidr, check_ifname
from ..where import Argv
from . import Changes, Reads, Undo, Write
from .link import show


def list_(dev: Optional[str] = None, json: bool = True, details: bool = False) -> Argv:
    """``ip [-d] -j addr show [dev DEV]`` (``ip addr show …`` with ``json=False``;
    ``-d`` adds link details: ``linkinfo``, ``link_netnsid``…)"""
    argv = show("addr", json, details)
    return argv + ("dev", check_ifname(dev)) if dev is not None else argv


def _change(verb: str, dev: str, cidr: str) -> Argv:
    return ("ip", "addr", verb, check_cidr(cidr), "dev", check_ifname(dev))


def add(dev: str, cidr: str) -> Write:
    """``ip addr add CIDR dev DEV`` (undone by ``ip addr del``)"""
    return Write(_change("add", dev, cidr), undo=Undo(_change("del", dev, cidr), removes=True))


def delete(dev: str, cidr: str) -> Write:
    """``ip addr del CIDR dev DEV`` (undone by ``ip addr add``, without the
    address's flags and lifetimes)"""
    return Write(_change("del", dev, cidr), undo=Undo(_change("add", dev, cidr)))


def flush(dev: str) -> Write:
    """``ip addr flush dev DEV`` (not undone: what it removed is not known beforehand)"""
    return Write(("ip", "addr", "flush", "dev", check_ifname(dev)))


class AddrWrites(Changes):
    def addr_add(self, dev: str, cidr: str) -> None:
        """Equivalent to: ``ip addr add CIDR dev DEV``"""
        self._apply(add(dev, cidr))

    def addr_del(self, dev: str, cidr: str) -> None:
        """Equivalent to: ``ip addr del CIDR dev DEV``"""
        self._apply(delete(dev, cidr))

    def addr_flush(self, dev: str) -> None:
        """Remove every address of ``dev`` (not undone by a failed batch).
        Equivalent to: ``ip addr flush dev DEV``"""
        self._apply(flush(dev))


class AddrReads(Reads):
    def addr_list(self, dev: Optional[str] = None) -> List[dict]:
        """Links with their ``addr_info``. Equivalent to: ``ip -j addr show [dev DEV]``"""
        from ..parsers import ip_addr
        return self.read(list_(dev), list_(dev, json=False), ip_addr)
