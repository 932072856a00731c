"""What a lab's namespaces hold now, read with a few processes whatever their number.

The lab's namespaces are read together, one process per kind of read: one
for the links and their addresses, one for the routes (only when the file
declares routes), one for the sysctls (only when it declares some), plus
``ip -j netns list`` — not one process started per namespace. Each is a
``sh`` loop running ``ip -n NS …`` for each of the lab's namespaces, which
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

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Set

from ..errors import NetnsWrapError
from ..ops.addr import list_ as addr_list
from ..ops.route import list_ as route_list
import shlex

from ..topology import _HEADER, _split_all
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

    Equivalent to: ``ip -j netns list; ip -all netns exec ip -d -j addr show``
    and, when the lab declares them, ``ip -all netns exec ip -j route show
    table all`` and ``ip -all netns exec sysctl -e KEY…``."""
    names = {entry["name"] for entry in handle.netns_list()}
    state = State(namespaces={name for name in lab.namespaces if name in names})
    if not state.namespaces:
        return state
    wanted = sorted(state.namespaces)
    links = _read_json(handle, addr_list(details=True), wanted)
    state.links = {ns: {link["ifname"]: link for link in found} for ns, found in links.items()}
    if any(lab.namespaces[ns].routes for ns in wanted):
        state.routes = _read_json(handle, route_list(table="all"), wanted)
    keys = tuple(sorted({key for ns in wanted for key in lab.namespaces[ns].sysctls}))
    if keys:
        state.sysctls = read_sysctls(handle, keys, wanted)
    return state


def in_each(names: Iterable[str], argv: Argv) -> Argv:
    """One process running ``argv`` in each named namespace ``names``, each
    one's output after a ``\\nnetns: NAME\\n`` header (as ``ip -all netns exec``
    prints it): ``ip -n NS …`` for an ``ip`` command, ``ip netns exec NS …``
    for another program.
    Equivalent to: ``sh -c 'for ns; do printf "\\nnetns: %s\\n" "$ns"; ip -n "$ns" ARGV…; done' sh NAME…``"""
    run = f'ip -n "$ns" {shlex.join(argv[1:])}' if argv[0] == "ip" else f'ip netns exec "$ns" {shlex.join(argv)}'
    return ("sh", "-c", f'for ns; do printf "\\nnetns: %s\\n" "$ns"; {run}; done', "sh", *names)


def read_sysctls(handle, keys: Argv, names: List[str]) -> Dict[str, Dict[str, str]]:
    """``{namespace: {key: value}}`` of ``keys`` in each of ``names`` (a key
    a namespace lacks is left out). Equivalent to: ``ip netns exec NS sysctl -e KEY…`` in each"""
    result = handle.run(in_each(names, ("sysctl", "-e") + keys), check=False)
    return {ns: sysctl_values(text) for ns, text in split_text(result.stdout, names).items()}


def _read_json(handle, show: Argv, wanted: List[str]) -> Dict[str, list]:
    """``show``'s JSON in each of the ``wanted`` namespaces, from one process
    (one of them missing from the output is an error)."""
    result = handle.run(in_each(wanted, show), check=False)
    found = _split_all(result.stdout, wanted)
    missing = sorted(set(wanted) - set(found))
    if missing:
        result.check()  # the error ip reported, if it reported one
        raise NetnsWrapError(f"ip -all netns exec printed nothing for {', '.join(missing)}",
                             argv=result.argv, stdout=result.stdout, stderr=result.stderr)
    return {ns: found[ns] for ns in wanted}


def split_text(text: str, names: Iterable[str]) -> Dict[str, str]:
    """:func:`in_each` output → ``{name: what CMD printed there}``
    (names matched longest first, as :func:`netnswrap.topology._split_all` does)."""
    known = sorted(names, key=len, reverse=True)
    found: Dict[str, str] = {}
    at = text.find(_HEADER)
    while at >= 0:
        at += len(_HEADER)
        name = next((n for n in known if text.startswith(n + "\n", at)), None)
        end = text.find(_HEADER, at)
        if name is not None:
            found[name] = text[at + len(name) + 1:end if end >= 0 else len(text)]
        at = end
    return found


def sysctl_values(text: str) -> Dict[str, str]:
    """``sysctl KEY…`` output (``key = value`` lines) → ``{key: value}``;
    several values (tab-separated) are kept as one string."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            values[key] = value
    return values
