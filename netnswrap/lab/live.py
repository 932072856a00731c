"""What a lab's namespaces hold now, read with one process whatever their number.

The lab's namespaces are read together: one process for the links with
their addresses and the routes (the routes only when the file declares
some), one more for the sysctls (only when it declares some) — not one
process started from Python per namespace. Each is a ``sh`` loop
(:func:`netnswrap.named_loop.each_named`) that skips the namespaces that
do not exist (no ``/run/netns/NAME``: so no ``ip netns list`` is needed
first) and runs ``ip -n NS …`` in each of the others (for the links and
routes one ``ip -n NS -d -j -batch -`` of both reads).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, List, Set

from ..classify import classify
from ..errors import NetnsWrapError, ParseError, PermissionDenied
from ..ops.addr import list_ as addr_list
from ..ops.route import list_ as route_list
from ..named_loop import each_named, split_named
from ..where import Argv
from .spec import Lab


@dataclass
class State:
    """The live side of a plan, for the lab's namespaces that exist:
    ``links[ns][ifname]`` (``ip -d -j addr show`` dicts, addresses in
    ``addr_info``), ``routes[ns]`` (``ip -j route show table all``) and
    ``sysctls[ns][key]`` (only the keys the lab declares)."""

    namespaces: Set[str] = field(default_factory=set)
    links: Dict[str, Dict[str, dict]] = field(default_factory=dict)
    routes: Dict[str, List[dict]] = field(default_factory=dict)
    sysctls: Dict[str, Dict[str, str]] = field(default_factory=dict)


def read(handle, lab: Lab) -> State:
    """The live state of ``lab``'s namespaces, seen from ``handle``'s runner.

    Equivalent to: in each of the lab's namespaces that exist (``/run/netns/NAME``),
    ``ip -n NS -d -j -batch -`` of ``addr show`` (and ``route show table all``
    when the lab declares routes), all from one ``sh``; and ``ip netns exec NS
    sysctl -e KEY…`` likewise when it declares sysctls."""
    names = sorted(lab.namespaces)
    routes = any(space.routes for space in lab.namespaces.values())
    shows = [addr_list(details=True)] + ([route_list(table="all")] if routes else [])
    found = read_json(handle, shows, names)
    state = State(namespaces=set(found))
    state.links = {ns: {link["ifname"]: link for link in lists[0]} for ns, lists in found.items()}
    if routes:
        state.routes = {ns: lists[1] for ns, lists in found.items()}
    keys = tuple(sorted({key for space in lab.namespaces.values() for key in space.sysctls}))
    if keys and found:
        state.sysctls = read_sysctls(handle, keys, sorted(found))
    return state


def read_json(handle, shows: List[Argv], wanted: List[str]) -> Dict[str, List[list]]:
    """``{namespace: [JSON list of each of shows]}`` for each of ``wanted``
    that exists, from one process: ``ip -n NS -d -j -batch -`` of the
    ``shows`` (``ip -j … show`` commands, read with ``-d``) in each. A
    namespace whose output is short (it vanished, ip failed) is an error."""
    lines = "".join(" ".join(show[show.index("-j") + 1:]) + "\n" for show in shows)
    result = handle.run(each_named(wanted, ("ip", "-d", "-j", "-batch", "-"), lines, existing=True), check=False)
    decoder = json.JSONDecoder()
    found: Dict[str, List[list]] = {}
    for ns, text in split_named(result.stdout, wanted).items():
        lists: List[list] = []
        at = 0
        try:
            while len(lists) < len(shows):
                at = len(text) - len(text[at:].lstrip())
                if at == len(text):
                    break
                value, at = decoder.raw_decode(text, at)
                lists.append(value if isinstance(value, list) else [])
        except ValueError as exc:
            raise ParseError(f"ip -n {ns} -d -j -batch: bad JSON: {exc}", argv=result.argv) from None
        found[ns] = lists
    short = sorted(ns for ns, lists in found.items() if len(lists) < len(shows))
    if short:
        refused = classify(result.argv, result.returncode or 1, result.stdout, result.stderr)
        if isinstance(refused, PermissionDenied):  # says what rights are needed
            raise refused
        raise NetnsWrapError(f"reading namespace {', '.join(short)} failed: {result.stderr.strip() or 'no output'}",
                             argv=result.argv, returncode=result.returncode, stdout=result.stdout,
                             stderr=result.stderr)
    return found


def read_sysctls(handle, keys: Argv, names: List[str]) -> Dict[str, Dict[str, str]]:
    """``{namespace: {key: value}}`` of ``keys`` in each of ``names`` (a key
    a namespace lacks is left out). Equivalent to: ``ip netns exec NS sysctl -e KEY…`` in each"""
    result = handle.run(each_named(names, ("sysctl", "-e") + keys, existing=True), check=False)
    return {ns: sysctl_values(text) for ns, text in split_named(result.stdout, names).items()}


def sysctl_values(text: str) -> Dict[str, str]:
    """``sysctl KEY…`` output (``key = value`` lines) → ``{key: value}``;
    several values (tab-separated) are kept as one string."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            values[key] = value
    return values
