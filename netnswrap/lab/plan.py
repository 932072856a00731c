"""From a lab and the live state to the changes that converge one to the other.

:func:`record` compares a :class:`~netnswrap.lab.spec.Lab` with the
:class:`~netnswrap.lab.live.State` of its namespaces and records the
changes into a batch (the same change methods as a handle): nothing for
what already matches. What the file declares and how it is compared:

- a namespace: made when missing;
- a link (bridge, macvlan, vxlan…): made when missing; when a link of that
  name has another kind, or options the live link shows otherwise (a VXLAN
  id, a macvlan mode, the lower device…), it is deleted and made again;
- a veth pair: made when either end is missing; an end that exists but is
  no veth, or whose peer is not the declared other end, is deleted (with
  whatever peer it has) and the pair made again;
- each interface the file makes, and ``lo``: up unless ``up: false``; its
  ``mtu`` and ``master`` when declared (not declared: left as they are);
- addresses: each declared one is added when missing;
- routes: each declared one is added when no route has its destination,
  metric and table, and replaced when one has them but another gateway,
  device or source;
- sysctls: set when their value differs.

Left alone — never deleted or changed: namespaces, links and routes the file
does not declare; addresses an interface has beyond the declared ones;
the MTU, master and sysctls the file does not name.

Changes are recorded in phases (namespaces; deletions; links, veths,
links standing on other devices — each made in its declared state and
master, as ``ip link add p1 up master br0 type veth …``, a master of a
link of the first phase set later —; the MTUs, states and masters left to
change; sysctls; addresses; routes); the batch groups each namespace's
lines and keeps every dependency.
"""
from __future__ import annotations

import ipaddress
from typing import Dict, List, Optional, Set, Tuple

from ..validate import check_ip
from .export import link_spec
from .live import State
from .spec import Interface, Lab, Namespace, Route, creation_order, route_key


def record(lab: Lab, state: State, batch) -> None:
    """Record into ``batch`` the changes that bring ``state`` to ``lab``."""
    scopes = {}
    for name in lab.namespaces:
        scopes[name] = batch.netns(name) if name in state.namespaces else batch.netns_add(name)
    live = {name: dict(state.links.get(name, {})) for name in lab.namespaces}
    # Deletions: a link of the wrong kind, a veth end paired elsewhere.
    for name, space in lab.namespaces.items():
        for dev, link in space.links.items():
            have = live[name].get(dev)
            if have is not None and not _same_link(link.kind, link.words(), have):
                scopes[name].link_del(dev)
                _gone(live[name], dev)
    for veth in lab.veths:
        (a, a_dev), (b, b_dev) = veth.a, veth.b
        ends = live[a].get(a_dev), live[b].get(b_dev)
        if ends[0] is not None and ends[1] is not None and _paired(ends[0], ends[1], a == b):
            continue
        for (ns, dev), end in zip((veth.a, veth.b), ends):
            if end is not None and dev in live[ns]:  # deleting one end may take the other
                scopes[ns].link_del(dev)
                _forget_peer(live, ns, end)
                _gone(live[ns], dev)
    # Creations, each link made with its state (and its master, once
    # the links that may be masters are there), as a person writes `ip link add`.
    for name, space in lab.namespaces.items():
        for dev in creation_order(space):
            link = space.links[dev]
            if dev not in live[name] and not link.options.get("link") and not link.options.get("dev"):
                made = _made_with(space, dev, master=False)
                scopes[name].link_add(dev, link.kind, **made, **link.options)
                live[name][dev] = _as_made(made)
    for veth in lab.veths:
        (a, a_dev), (b, b_dev) = veth.a, veth.b
        if a_dev not in live[a]:
            made = _made_with(lab.namespaces[a], a_dev)
            scopes[a].veth_add(a_dev, b_dev, peer_netns=scopes[b] if b != a else None, **made)
            live[a][a_dev], live[b][b_dev] = _as_made(made), _as_made({})
    for name, space in lab.namespaces.items():
        for dev in creation_order(space):
            link = space.links[dev]
            if dev not in live[name] and (link.options.get("link") or link.options.get("dev")):
                made = _made_with(space, dev)
                scopes[name].link_add(dev, link.kind, **made, **link.options)
                live[name][dev] = _as_made(made)
    # Settings of each interface left to change (stand-ins in `live` say how links were made).
    for name, space in lab.namespaces.items():
        for dev in _lower_first(space):
            change = _settings(space.interfaces[dev], live[name].get(dev))
            if change:
                scopes[name].link_set(dev, **change)
    for name, space in lab.namespaces.items():
        have = state.sysctls.get(name, {})
        for key, value in space.sysctls.items():
            if _sysctl_words(have.get(key, "")) != _sysctl_words(value):
                scopes[name].sysctl_set(key, value)
    for name, space in lab.namespaces.items():
        for dev, wanted in space.interfaces.items():
            present = _addresses(live[name].get(dev))
            for cidr in wanted.addresses:
                if cidr not in present:
                    scopes[name].addr_add(dev, cidr)
    for name, space in lab.namespaces.items():
        _routes(space, state.routes.get(name, []) if name in state.namespaces else [], scopes[name])


def lines(batch) -> List[Tuple[str, List[str]]]:
    """The batch's changes as the command lines a handle would run, in the
    order the batch runs them, grouped: ``[(where, [line…])]``, ``where``
    being ``netns NAME`` or ``the caller's namespace``."""
    import shlex
    groups: List[Tuple[str, List[str]]] = []
    for segment in batch.segments():
        for op in segment.ops:
            inside = op.write.argv[:3] == ("ip", "netns", "exec")  # a program in a namespace (sysctl)
            label = str(op.write.touches[0] if inside else op.where)
            if not groups or groups[-1][0] != label:
                groups.append((label, []))
            groups[-1][1].append(shlex.join(op.where.place(op.write.argv)))
    return groups


def _same_link(kind: str, words: Dict[str, str], have: dict) -> bool:
    """Whether live link ``have`` is of ``kind`` with the options ``words``
    (as far as ``ip -d -j`` shows them)."""
    found = link_spec(have)
    if found is None or found["kind"] != kind:
        return False
    shown = {key: value for key, value in found.items() if key != "kind"}
    try:
        live_words = _words(kind, shown)
    except ValueError:
        return False
    return all(live_words.get(key, value) == value for key, value in words.items())


def _words(kind: str, options: dict) -> Dict[str, str]:
    from ..ops.kinds import check_options
    return check_options(kind, options)


def _paired(a: dict, b: dict, same_namespace: bool) -> bool:
    """Whether live links ``a`` and ``b`` are the two ends of one veth: both
    veths pointing at each other (by name within a namespace, by ifindex
    across namespaces)."""
    if any((link.get("linkinfo") or {}).get("info_kind") != "veth" for link in (a, b)):
        return False
    if same_namespace:
        return a.get("link") == b["ifname"] and b.get("link") == a["ifname"]
    return ("link_netnsid" in a and "link_netnsid" in b and a.get("link_index") == b["ifindex"]
            and b.get("link_index") == a["ifindex"])


def _forget_peer(live: Dict[str, Dict[str, dict]], ns: str, end: dict) -> None:
    """Deleting veth ``end`` deletes its peer too: drop the peer from ``live``
    where it is one of the lab's namespaces' links."""
    if (end.get("linkinfo") or {}).get("info_kind") != "veth":
        return
    if "link_netnsid" not in end:
        _gone(live[ns], end.get("link", ""))
        return
    for links in live.values():
        for dev, other in list(links.items()):
            if other is not end and other.get("ifindex") == end.get("link_index") \
                    and other.get("link_index") == end.get("ifindex") and "link_netnsid" in other:
                del links[dev]


def _gone(links: Dict[str, dict], dev: str) -> None:
    """Drop deleted ``dev`` from one namespace's ``links``, with what the kernel
    takes along: links standing on it (``link``) go, its ports lose their master."""
    links.pop(dev, None)
    for name, other in list(links.items()):
        if other.get("link") == dev and "link_netnsid" not in other and name in links:
            _gone(links, name)
        elif other.get("master") == dev:
            links[name] = {key: value for key, value in other.items() if key != "master"}


def _settings(wanted: Interface, have: Optional[dict]) -> dict:
    """The ``link_set`` options that bring ``have`` (None: made by this plan) to ``wanted``."""
    have = have or {"flags": [], "mtu": None}
    change: dict = {}
    if wanted.mtu is not None and have.get("mtu") != wanted.mtu:
        change["mtu"] = wanted.mtu
    if wanted.master is not None and have.get("master") != wanted.master:
        change["master"] = wanted.master
    if wanted.up != ("UP" in have.get("flags", [])):
        change["up"] = wanted.up
    return change


def _lower_first(space: Namespace) -> List[str]:
    """The namespace's interfaces, each after the device it stands on (a
    macvlan's MTU may only be raised once its lower device's is): veth ends
    and ``lo``, then its links in the order they are made."""
    return ([dev for dev in space.interfaces if dev not in space.links]
            + [dev for dev in creation_order(space) if dev in space.interfaces])


def _made_with(space: Namespace, dev: str, master: bool = True) -> dict:
    """The ``up`` and ``master`` a new link ``dev`` is made with: what the
    file declares for it (its master only with ``master``). Not its MTU,
    set afterwards: a link made on this one (a macvlan) takes this one's MTU
    as it is made, so when it is made would matter, and a bridge's MTU given
    as it is made gives way to its first port's (``link set`` marks it as
    the user's)."""
    wanted = space.interfaces.get(dev)
    made = _settings(wanted, None) if wanted is not None else {}
    made.pop("mtu", None)
    if not master:
        made.pop("master", None)
    return made


def _as_made(made: dict) -> dict:
    """A stand-in for the live link that a creation with ``made`` gives."""
    return {"flags": ["UP"] if made.get("up") else [], "mtu": None, "master": made.get("master")}


def _addresses(link: Optional[dict]) -> Set[str]:
    return {str(ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}"))
            for a in (link or {}).get("addr_info", []) if "local" in a and "prefixlen" in a}


def _routes(space: Namespace, have: List[dict], scope) -> None:
    live: Dict[tuple, dict] = {}
    for route in have:
        if route.get("type", "unicast") != "unicast" or "dst" not in route:
            continue
        try:
            key = route_key(route["dst"], route.get("gateway"), route.get("metric"), route.get("table"),
                            route.get("pref"))
        except ValueError:  # a destination this plan never declares
            continue
        live.setdefault(key, route)
    for wanted in space.routes:
        found = live.get(wanted.key())
        if found is None:
            scope.route_add(wanted.dst, **wanted.options())
        elif not _same_route(wanted, found):
            scope.route_replace(wanted.dst, **wanted.options())


def _same_route(route: Route, have: dict) -> bool:
    gateway = have.get("gateway")
    return ((route.via is None and gateway is None) or (gateway is not None and route.via == check_ip(gateway))) \
        and (route.dev is None or route.dev == have.get("dev")) \
        and (route.src is None or route.src == have.get("prefsrc"))


def _sysctl_words(value: str) -> list:
    """A sysctl value as the kernel reads it back: words, a number as its
    value (``01`` is ``1``)."""
    return [str(int(word)) if word.lstrip("-").isdigit() else word for word in value.split()]
