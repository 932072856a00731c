"""Routes: ``ip route add/replace/del/show/get``.

A batch undoes ``route_add`` with ``ip route del`` and the same selectors
(destination, gateway, device, metric, table). ``route_replace`` is not
undone: the batch cannot know whether it replaced a route it did not make,
and taking a replace back by a delete would destroy that route. A
``route_del`` is undone by adding the route back as the deletion named it,
when it named a gateway or a device (``ip route add DST via GW dev DEV
metric N table T``; its ``src``, protocol and scope are not restored); a
deletion by destination alone is not undone.
"""
from __future__ import annotations

from typing import List, Optional

from ..errors import InvalidArgument, RouteNotFound
from ..validate import (check_family, check_ifname, check_ip, check_route_dst, check_table,
                        check_u32, ip_version)
from ..where import Argv
from . import Changes, Reads, Undo, Write


def _selectors(dst: str, via: Optional[str], dev: Optional[str], src: Optional[str],
               metric: Optional[int], table) -> Argv:
    """``DST [via GW] [dev DEV] [src SRC] [metric N] [table T]``, each checked;
    a gateway or source of another IP version than a network destination is refused."""
    dst = check_route_dst(dst)
    family = ip_version(dst)
    argv: Argv = (dst,)
    if via is not None:
        via = check_ip(via, "gateway", family)
        family = family or ip_version(via)
        argv += ("via", via)
    if dev is not None:
        argv += ("dev", check_ifname(dev))
    if src is not None:
        argv += ("src", check_ip(src, "source address", family))
    if metric is not None:
        argv += ("metric", check_u32(metric, "metric"))
    if table is not None:
        argv += ("table", check_table(table))
    return argv


def _change(verb: str, dst: str, via=None, dev=None, src=None, metric=None, table=None) -> Argv:
    if verb != "del" and via is None and dev is None:
        raise InvalidArgument(f"route_{verb}({dst!r}) needs a gateway (via=) or a device (dev=)")
    return ("ip", "route", verb) + _selectors(dst, via, dev, src, metric, table)


def add(dst: str, *, via: Optional[str] = None, dev: Optional[str] = None,
        src: Optional[str] = None, metric: Optional[int] = None, table=None) -> Write:
    """``ip route add DST [via GW] [dev DEV] [src SRC] [metric N] [table T]``
    (undone by ``ip route del`` with the same selectors)"""
    argv = _change("add", dst, via, dev, src, metric, table)
    return Write(argv, undo=Undo(_change("del", dst, via, dev, None, metric, table), removes=True))


def replace(dst: str, *, via: Optional[str] = None, dev: Optional[str] = None,
            src: Optional[str] = None, metric: Optional[int] = None, table=None) -> Write:
    """``ip route replace DST …`` (not undone: see the module docstring)"""
    return Write(_change("replace", dst, via, dev, src, metric, table))


def delete(dst: str, *, via: Optional[str] = None, dev: Optional[str] = None,
           metric: Optional[int] = None, table=None) -> Write:
    """``ip route del DST [via GW] [dev DEV] [metric N] [table T]`` (undone by
    ``ip route add`` of the same when a gateway or device is named)"""
    argv = _change("del", dst, via, dev, None, metric, table)
    back = _change("add", dst, via, dev, None, metric, table) if via or dev else None
    return Write(argv, undo=Undo(back) if back else None)


def list_(table=None, family: Optional[int] = None, json: bool = True) -> Argv:
    """``ip [-4|-6] -j route show [table T]`` (without ``-j`` with ``json=False``)"""
    option = check_family(family)
    argv: Argv = ("ip",) + ((option,) if option else ()) + ("-j",) * json + ("route", "show")
    return argv + ("table", check_table(table, listing=True)) if table is not None else argv


def get(addr: str, json: bool = True) -> Argv:
    """``ip -j route get ADDR`` (without ``-j`` with ``json=False``)"""
    return ("ip",) + ("-j",) * json + ("route", "get", check_ip(addr))


class RouteWrites(Changes):
    def route_add(self, dst: str, *, via: Optional[str] = None, dev: Optional[str] = None,
                  src: Optional[str] = None, metric: Optional[int] = None, table=None) -> None:
        """Add a route (``RouteExists`` if there is one with that destination,
        metric and table). ``dst`` is ``"default"``, an address or a CIDR
        network, IPv4 or IPv6; ``dev`` alone makes a link route.
        Equivalent to: ``ip route add DST [via GW] [dev DEV] [src SRC] [metric N] [table T]``"""
        self._apply(add(dst, via=via, dev=dev, src=src, metric=metric, table=table))

    def route_replace(self, dst: str, *, via: Optional[str] = None, dev: Optional[str] = None,
                      src: Optional[str] = None, metric: Optional[int] = None, table=None) -> None:
        """Add a route, or change the one with that destination, metric and
        table (a batch does not undo it).
        Equivalent to: ``ip route replace DST [via GW] [dev DEV] [src SRC] [metric N] [table T]``"""
        self._apply(replace(dst, via=via, dev=dev, src=src, metric=metric, table=table))

    def route_del(self, dst: str, *, via: Optional[str] = None, dev: Optional[str] = None,
                  metric: Optional[int] = None, table=None) -> None:
        """Delete the first route that matches (``RouteNotFound`` if none).
        Equivalent to: ``ip route del DST [via GW] [dev DEV] [metric N] [table T]``"""
        self._apply(delete(dst, via=via, dev=dev, metric=metric, table=table))


class RouteReads(Reads):
    def route_list(self, *, table=None, family: Optional[int] = None) -> List[dict]:
        """Routes of the main table (or ``table``: an id, a name or ``"all"``),
        as ``ip -j`` dicts. Like ``ip route``, without ``family`` only IPv4
        routes are listed; ``family=6`` lists IPv6 ones.
        Equivalent to: ``ip [-4|-6] -j route show [table T]``"""
        from ..parsers import ip_route
        return self.read(list_(table, family), list_(table, family, json=False), ip_route)

    def route_get(self, addr: str) -> dict:
        """The route the kernel would use to reach ``addr`` (``RouteNotFound``
        when there is none). Equivalent to: ``ip -j route get ADDR``"""
        from ..parsers import ip_route
        routes = self.read(get(addr), get(addr, json=False), ip_route)
        if not routes:
            raise RouteNotFound(f"no route to {addr}")
        return routes[0]
