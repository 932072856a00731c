"""What a lab's namespaces hold now, read with one process whatever their number.

The lab's namespaces are read together: one process for the links with
their addresses and the routes (the routes only when the file declares
some), one more for the sysctls (only when it declares some) — not one
process started from Python per namespace. Each is a ``sh`` loop that skips
the namespaces that do not exist (no ``/run/netns/NAME``: so no ``ip netns
list`` is needed first) and runs ``ip -n NS …`` in each of the others (for
the links and routes one ``ip -n NS -d -j -batch -`` of both reads). It
prints what ``ip -all netns exec`` prints (a ``netns: NAME`` header before
each one's output) without its two hazards: it reads only the lab's
namespaces, not every one on the host, and a namespace deleted while it is
read is an error line, where ``ip -all netns exec`` (iproute2 6.1) lets the
child that failed to enter it carry on iterating as a second reader — under
churn (many namespaces made and deleted meanwhile) the processes double at
each such namespace, observed here as ~600 processes still running after
ten minutes.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Set

from ..classify import classify
from ..errors import NetnsWrapError, ParseError, PermissionDenied
from ..ops.addr import list_ as addr_list
from ..ops.route import list_ as route_list
from ..host_topology import split_named
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


def in_each(names: Iterable[str], argv: Argv, stdin: Optional[str] = None) -> Argv:
    """One process running ``argv`` in each named namespace ``names`` that
    exists (``/run/netns/NAME``; the others are skipped), each one's output
    after a ``\\nnetns: NAME\\n`` header (as ``ip -all netns exec`` prints it):
    ``ip -n NS …`` for an ``ip`` command, ``ip netns exec NS …`` for another
    program; ``stdin`` is piped into each (``ip -batch -``).
    Equivalent to: ``sh -c 'for ns; do [ -e "/run/netns/$ns" ] || continue; printf "\\nnetns: %s\\n" "$ns";
    ip -n "$ns" ARGV…; done' sh NAME…``"""
    run = f'ip -n "$ns" {shlex.join(argv[1:])}' if argv[0] == "ip" else f'ip netns exec "$ns" {shlex.join(argv)}'
    loop = f'for ns; do [ -e "/run/netns/$ns" ] || continue; printf "\\nnetns: %s\\n" "$ns"; {run}; done'
    if stdin is None:
        return ("sh", "-c", loop, "sh", *names)
    return ("sh", "-c", loop.replace(run, f'printf %s "$input" | {run}').replace("for ns;", 'input=$1; shift; for ns;'),
            "sh", stdin, *names)


def read_json(handle, shows: List[Argv], wanted: List[str]) -> Dict[str, List[list]]:
    """``{namespace: [JSON list of each of shows]}`` for each of ``wanted``
    that exists, from one process: ``ip -n NS -d -j -batch -`` of the
    ``shows`` (``ip -j … show`` commands, read with ``-d``) in each. A
    namespace whose output is short (it vanished, ip failed) is an error."""
    lines = "".join(" ".join(show[show.index("-j") + 1:]) + "\n" for show in shows)
    result = handle.run(in_each(wanted, ("ip", "-d", "-j", "-batch", "-"), stdin=lines), check=False)
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


def existing(handle, names: Iterable[str]) -> List[str]:
    """Which of the named namespaces ``names`` exist (have ``/run/netns/NAME``).
    Equivalent to: ``sh -c 'for ns; do [ -e "/run/netns/$ns" ] && echo "$ns"; done' sh NAME…``
    (not ``ip netns list``, which fails on another's half-deleted namespace)"""
    names = list(names)
    script = 'for ns; do [ -e "/run/netns/$ns" ] && printf "%s\\n" "$ns"; done; true'
    listed = set(handle.run(("sh", "-c", script, "sh", *names)).stdout.split("\n"))
    return [name for name in names if name in listed]


def read_sysctls(handle, keys: Argv, names: List[str]) -> Dict[str, Dict[str, str]]:
    """``{namespace: {key: value}}`` of ``keys`` in each of ``names`` (a key
    a namespace lacks is left out). Equivalent to: ``ip netns exec NS sysctl -e KEY…`` in each"""
    result = handle.run(in_each(names, ("sysctl", "-e") + keys), check=False)
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
