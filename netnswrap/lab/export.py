"""A live host read back into a topology file that builds it again.

:func:`export` reads :func:`~netnswrap.host_topology.topology` and writes, for
the named namespaces asked for, what the file format can say:

- links of the kinds ``link_add`` makes (bridge, macvlan, ipvlan, vxlan,
  vlan, dummy, bond, tun, tap, gre, ipip) with the options ``ip -d -j``
  shows; a link standing on a device that is not exported is left out;
- veth pairs whose two ends are in exported namespaces (a veth to the
  caller's namespace, a container or a namespace not asked for is left out,
  and so are its settings);
- per interface: addresses (not IPv6 link-local ones, not the ``127.0.0.1/8``
  and ``::1/128`` of ``lo``, not dynamic ones: the kernel or a daemon makes
  those), the MTU when it is not the usual one (1500; 65536 for ``lo``),
  ``master``, and ``up: false`` for an interface that is down;
- routes of the main table that are no kernel, router-advertisement or
  redirect routes, with a single next hop on an exported interface;
- the sysctls ``net.ipv4.ip_forward`` and ``net.ipv6.conf.all.forwarding``
  when they are not 0.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

from ..errors import NamespaceNotFound, NetnsWrapError, PermissionDenied
from ..validate import check_netns_name
from .live import read_sysctls
from .spec import MASTER_KINDS

EXPORTED_SYSCTLS = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding")
USUAL_MTU = 1500
LO_MTU = 65536
SKIPPED_PROTOCOLS = ("kernel", "ra", "redirect")
# ip -d -j info_data key of each option ``link_add`` takes, per kind
INFO_DATA = {"macvlan": {"mode": "mode"}, "ipvlan": {"mode": "mode"}, "vlan": {"id": "id"},
             "vxlan": {"id": "id", "dstport": "port", "local": "local", "remote": "remote", "dev": "link"},
             "bond": {"mode": "mode"}, "gre": {"local": "local", "remote": "remote"},
             "ipip": {"local": "local", "remote": "remote"}}
LOWER = ("macvlan", "ipvlan", "vlan")  # kinds whose ``link=`` is ip's ``link``
# Reads of topology() before giving up on one that shows a namespace without
# links: `ip -all netns exec` (iproute2 6.1) prints a namespace's output
# out of place, or not at all, when another namespace vanishes while it runs.
READS = 3


def link_spec(link: dict) -> Optional[dict]:
    """A live link (``ip -d -j`` dict) as a file's link entry: ``{"kind":
    KIND, OPTION: VALUE…}``; None for ``lo``, veths, and kinds or lower
    devices the format cannot say (a lower device in another namespace)."""
    info = link.get("linkinfo") or {}
    kind = info.get("info_kind")
    data = info.get("info_data") or {}
    if kind == "tun":
        kind = data.get("type")
    if kind not in ("bridge", "dummy", "tun", "tap") and kind not in INFO_DATA:
        return None
    entry: dict = {"kind": kind}
    if kind in LOWER:
        if "link" not in link or "link_netnsid" in link:
            return None
        entry["link"] = link["link"]
    for option, key in INFO_DATA.get(kind, {}).items():
        value = data.get(key)
        if value is not None and value != "any":
            entry[option] = value
    return entry


def export(handle, namespaces=None) -> dict:
    """A topology (the file format's shape) of the named namespaces
    ``namespaces`` (all named ones when None) as ``handle`` sees them.

    Equivalent to: what :func:`netnswrap.host_topology.topology` reads, and
    ``ip netns exec NS sysctl -e net.ipv4.ip_forward net.ipv6.conf.all.forwarding``
    for each (in one process, see :func:`netnswrap.named_loop.each_named`)."""
    wanted = None if namespaces is None else \
        [check_netns_name(name) for name in ([namespaces] if isinstance(namespaces, str) else namespaces)]
    for attempt in range(READS):
        topology = handle.topology()
        named = {space["name"]: space for space in topology["namespaces"] if space["name"] is not None}
        chosen = sorted(named) if wanted is None else wanted
        missing = [name for name in chosen if name not in named]
        if missing:
            raise NamespaceNotFound(f"no namespace named {', '.join(map(repr, missing))} to export")
        refused = [f"{name}: {named[name]['error']}" for name in chosen if not named[name].get("readable", True)]
        if refused:  # not a passing failure: without the rights to enter them
            raise PermissionDenied("cannot read " + "; ".join(refused))
        # Every namespace has lo: no links at all is a read that went wrong (see READS).
        unread = [name for name in chosen if not named[name]["links"]]
        if not unread:
            break
    else:
        raise NetnsWrapError(f"topology() read no links in {', '.join(unread)} ({READS} times)")
    return spec_of(topology, chosen, read_sysctls(handle, EXPORTED_SYSCTLS, chosen) if chosen else {})


def spec_of(topology: dict, chosen: List[str], sysctls: Dict[str, Dict[str, str]]) -> dict:
    """The topology file of namespaces ``chosen`` of a :func:`~netnswrap.host_topology.topology`
    dict, with ``sysctls`` (``{namespace: {key: value}}``; the ones of
    :data:`EXPORTED_SYSCTLS` that are not 0 are kept). No command runs."""
    named = {space["name"]: space for space in topology["namespaces"] if space["name"] is not None}
    veths, ends = _veths(_paired_again(topology["veth_pairs"], [named[name] for name in chosen]), set(chosen))
    spec: dict = {"namespaces": {}}
    for name in chosen:
        kept = {key: value for key, value in sysctls.get(name, {}).items()
                if key in EXPORTED_SYSCTLS and value != "0"}
        spec["namespaces"][name] = _namespace(named[name], ends.get(name, set()), kept)
    if veths:
        spec["links"] = veths
    return spec


def _paired_again(pairs: List[list], spaces: List[dict]) -> List[list]:
    """``pairs`` with the veths left unpaired between ``spaces`` paired where
    exactly one other unpaired end points back (by ifindex, ``link_index``).
    ``topology()`` leaves a veth unpaired when the nsid table that would
    tell two look-alike candidates apart cannot be read — as happens while
    other namespaces are made and deleted (``ip netns list`` inside then
    fails on a half-deleted one)."""
    alone = [pair[0] for pair in pairs if pair[1] is None and pair[0] is not None]
    if not alone:
        return pairs
    where = {(space["name"], link["ifname"]): link for space in spaces for link in space["links"]}
    ends = [end for end in alone if (end["netns"], end["ifname"]) in where]
    matched = []
    for end in ends:
        link = where[(end["netns"], end["ifname"])]
        found = [other for other in ends if other is not end and other["ifindex"] == link.get("link_index")
                 and where[(other["netns"], other["ifname"])].get("link_index") == end["ifindex"]]
        if len(found) == 1 and (found[0], end) not in matched:
            matched.append((end, found[0]))
    done = {id(end) for pair in matched for end in pair}
    return [pair for pair in pairs if id(pair[0]) not in done] + [list(pair) for pair in matched]


def _veths(pairs: List[list], chosen: set) -> Tuple[List[dict], Dict[str, Set[str]]]:
    veths = []
    ends: Dict[str, Set[str]] = {}
    for pair in pairs:
        if None in pair or any(end["netns"] not in chosen for end in pair):
            continue
        first, second = sorted(pair, key=lambda end: (end["netns"], end["ifname"]))
        veths.append({"endpoints": [f"{first['netns']}:{first['ifname']}", f"{second['netns']}:{second['ifname']}"]})
        for end in pair:
            ends.setdefault(end["netns"], set()).add(end["ifname"])
    return sorted(veths, key=lambda v: v["endpoints"]), ends


def _namespace(space: dict, veth_ends: set, sysctls: Dict[str, str]) -> dict:
    links = {link["ifname"]: link for link in space["links"]}
    made = {dev: entry for dev, entry in ((dev, link_spec(link)) for dev, link in links.items()) if entry}
    exported = set(made) | veth_ends | {"lo"}
    while True:  # a link standing on a device that is not exported cannot be made
        orphans = [dev for dev, entry in made.items()
                   if any(entry.get(o) is not None and entry[o] not in exported for o in ("link", "dev"))]
        if not orphans:
            break
        for dev in orphans:
            del made[dev]
            exported.discard(dev)
    out: dict = {}
    if sysctls:
        out["sysctls"] = sysctls
    if made:
        out["links"] = {dev: made[dev] for dev in sorted(made)}
    interfaces = {}
    for dev in sorted(exported & set(links)):
        settings = _interface(links[dev], made)
        if settings:
            interfaces[dev] = settings
    if interfaces:
        out["interfaces"] = interfaces
    routes = [entry for entry in map(lambda r: _route(r, exported), space.get("routes", [])) if entry]
    if routes:
        out["routes"] = routes
    return out


def _interface(link: dict, made: Dict[str, dict]) -> dict:
    lo = link.get("link_type") == "loopback"
    addresses = []
    for info in link.get("addr_info", []):
        if "local" not in info or info.get("dynamic"):
            continue
        if info.get("family") == "inet6" and info.get("scope") == "link":
            continue
        if lo and info.get("scope") == "host" and info["local"] in ("127.0.0.1", "::1"):
            continue
        addresses.append(f"{info['local']}/{info['prefixlen']}")
    settings: dict = {}
    if addresses:
        settings["addresses"] = addresses
    if link.get("mtu") not in (None, LO_MTU if lo else USUAL_MTU):
        settings["mtu"] = link["mtu"]
    master = link.get("master")
    if master in made and made[master]["kind"] in MASTER_KINDS:
        settings["master"] = master
    if "UP" not in link.get("flags", []):
        settings["up"] = False
    return settings


def _route(route: dict, exported: set) -> Optional[dict]:
    if route.get("type", "unicast") != "unicast" or route.get("protocol") in SKIPPED_PROTOCOLS:
        return None
    if "nexthops" in route or "nhid" in route or "dst" not in route or route.get("dev") not in exported:
        return None
    gateway = route.get("gateway")
    six = "pref" in route
    entry: dict = {"dst": "::/0" if route["dst"] == "default" and six and not gateway else route["dst"]}
    if gateway:
        entry["via"] = gateway
    entry["dev"] = route["dev"]
    if route.get("prefsrc"):
        entry["src"] = route["prefsrc"]
    metric = route.get("metric", 0)
    if metric != (1024 if six else 0):
        entry["metric"] = metric
    return entry

