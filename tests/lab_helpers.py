"""Helpers of the lab tests: throwaway prefixes, renamed example files, and
the live state in a form two builds of one lab can be compared by."""
from __future__ import annotations

import ipaddress
import itertools
import os
import subprocess
from pathlib import Path
from typing import Dict

import netnswrap as nw
from netnswrap import lab
from netnswrap.lab.export import link_spec
from netnswrap.lab.spec import parse

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "topologies"
_serial = itertools.count(1)


def new_prefix() -> str:
    """A namespace-name prefix no one else uses: ``nwlb`` + PID + a counter."""
    return f"nwlb{os.getpid()}x{next(_serial)}-"


def ours(prefix: str) -> list:
    """Named namespaces with ``prefix``, from /run/netns (not ip netns list,
    which stumbles over others' half-made namespaces)."""
    try:
        return sorted(name for name in os.listdir("/run/netns") if name.startswith(prefix))
    except FileNotFoundError:
        return []


def remove(prefix: str) -> None:
    """Delete every namespace with ``prefix`` (and only those)."""
    for name in ours(prefix):
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def prefixed(spec, prefix: str) -> dict:
    """The topology ``spec`` (a path or a dict) with ``prefix`` before every namespace name."""
    data = parse(str(spec), open(spec).read()) if not isinstance(spec, dict) else spec
    return lab.rename(data, {name: prefix + name for name in data["namespaces"]})


def snapshot(names) -> Dict[str, dict]:
    """What a lab is, as ``nw.topology()`` reads it, for the namespaces
    ``names``: per namespace, per interface its kind, kind options, MTU,
    master, admin state and addresses; the veth pairs; the main table's
    routes. Left aside: ifindexes, MACs, link-local and automatic addresses."""
    names = set(names)
    topology = steady_topology(names)
    out: Dict[str, dict] = {}
    for space in topology["namespaces"]:
        if space["name"] not in names:
            continue
        links = {}
        for link in space["links"]:
            info = link.get("linkinfo") or {}
            spec = link_spec(link)
            addresses = sorted(f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])
                               if "local" in a and not ipaddress.ip_address(a["local"]).is_link_local
                               and not ipaddress.ip_address(a["local"]).is_loopback)
            links[link["ifname"]] = {"kind": info.get("info_kind"), "options": spec, "mtu": link["mtu"],
                                     "master": link.get("master"), "up": "UP" in link["flags"],
                                     "addresses": addresses}
        routes = sorted((r.get("dst"), r.get("gateway"), r.get("dev"), r.get("metric"), r.get("prefsrc"),
                         r.get("protocol")) for r in space["routes"]
                        if not str(r.get("dst", "")).startswith("fe80"))
        out[space["name"]] = {"links": links, "routes": routes}
    pairs = sorted(sorted(f"{end['netns']}:{end['ifname']}" for end in pair) for pair in topology["veth_pairs"]
                   if all(pair) and all(end["netns"] in names for end in pair))
    return {"namespaces": out, "veths": pairs}


def steady_topology(names, tries: int = 5) -> dict:
    """``nw.topology()``, read again while it fails or leaves a veth of
    ``names`` unpaired: other sessions on this host make and delete
    namespaces and processes all the time, and then lsns may fail or the
    nsid table that tells two look-alike veth peers apart may not be read
    (the core's to harden; see the lab report)."""
    for attempt in range(tries):
        try:
            topology = nw.topology()
        except nw.NetnsWrapError:
            if attempt == tries - 1:
                raise
            continue
        if not any(None in pair and pair[0]["netns"] in names for pair in topology["veth_pairs"]):
            break
    return topology


def renamed_snapshot(snap: dict, old: str, new: str) -> dict:
    """``snap`` with namespace prefix ``old`` written as ``new``."""
    swap = lambda name: new + name[len(old):] if name.startswith(old) else name  # noqa: E731
    return {"namespaces": {swap(k): v for k, v in snap["namespaces"].items()},
            "veths": sorted(sorted(swap(end.split(":")[0]) + ":" + end.split(":")[1] for end in pair)
                            for pair in snap["veths"])}
