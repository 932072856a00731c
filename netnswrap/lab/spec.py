"""Topology files: read a YAML or JSON lab description and check it whole.

:func:`load` turns a file (or a dict of the same shape) into a :class:`Lab`:
plain values, every name, address, route and option checked by the same
rules the change methods use (the builders of :mod:`netnswrap.ops` are run on
each entry), before anything runs. A mistake is a :class:`SpecError` (an
``InvalidArgument``) naming the file, its line when the file is YAML or JSON,
the place in the document (``links[3].endpoints[1]``), the rule and what was
given. The shape is documented in ``netnswrap/data/topology.schema.json``.
"""
from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ..errors import InvalidArgument
from ..ops import kinds, route as route_ops, sysctl as sysctl_ops
from ..ops.link import create as link_create, set_ as link_set
from ..validate import (check_cidr, check_flag, check_ip, check_mtu, check_netns_name, check_new_ifname,
                        check_route_dst, check_sysctl_value, check_table, ip_version)
from ..where import Where
from .yaml_data import load_yaml

Path = Tuple[Union[str, int], ...]

TOP_KEYS = ("namespaces", "links")
NAMESPACE_KEYS = ("sysctls", "links", "interfaces", "routes")
INTERFACE_KEYS = ("addresses", "mtu", "master", "up")
ROUTE_KEYS = ("dst", "via", "dev", "src", "metric", "table")
VETH_KEYS = ("endpoints",)
# Kinds whose options name another interface of the same namespace.
LOWER_OPTIONS = ("link", "dev")
MASTER_KINDS = ("bridge", "bond")
# Routing tables iproute2 names (rt_tables): a route's table compares by these names.
TABLE_NAMES = {"253": "default", "254": "main", "255": "local"}


class SpecError(InvalidArgument):
    """A topology that breaks a rule: ``source`` (the file, or ``<dict>``),
    ``line`` (1-based, where known), ``place`` (``links[3].endpoints[1]``)
    and ``rule`` (what is wrong, with what was given)."""

    def __init__(self, source: str, place: str, rule: str, line: Optional[int] = None):
        self.source, self.place, self.rule, self.line = source, place, rule, line
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {place}: {rule}" if place else f"{where}: {rule}")


@dataclass(frozen=True)
class Interface:
    """Settings of one interface: ``up`` unless the file says ``up: false``."""

    addresses: Tuple[str, ...] = ()
    mtu: Optional[int] = None
    master: Optional[str] = None
    up: bool = True


@dataclass(frozen=True)
class Route:
    """A route as declared (``dst``… as given, checked) and the key the kernel
    tells routes apart by: destination, metric and table (:meth:`key`)."""

    dst: str
    via: Optional[str] = None
    dev: Optional[str] = None
    src: Optional[str] = None
    metric: Optional[int] = None
    table: Optional[str] = None

    def options(self) -> dict:
        """The keyword arguments of ``route_add``/``route_replace``."""
        return {"via": self.via, "dev": self.dev, "src": self.src, "metric": self.metric,
                "table": self.table}

    def key(self) -> tuple:
        return route_key(self.dst, self.via, self.metric, self.table, None)


@dataclass(frozen=True)
class Link:
    """A link the file makes inside a namespace: its kind and that kind's options."""

    kind: str
    options: Dict[str, object] = field(default_factory=dict)

    def words(self) -> Dict[str, str]:
        """The options as command-line words (compared with the live link's)."""
        return kinds.check_options(self.kind, self.options)


@dataclass
class Namespace:
    """One declared namespace. ``interfaces`` holds every interface the file
    makes here (its links, its veth ends) and ``lo``, declared or not."""

    name: str
    sysctls: Dict[str, str] = field(default_factory=dict)
    links: Dict[str, Link] = field(default_factory=dict)
    interfaces: Dict[str, Interface] = field(default_factory=dict)
    routes: List[Route] = field(default_factory=list)


@dataclass(frozen=True)
class Veth:
    """A veth pair: ``(namespace, ifname)`` at each end; made from ``a``."""

    a: Tuple[str, str]
    b: Tuple[str, str]


@dataclass
class Lab:
    """A checked topology: ``source`` names where it came from."""

    source: str
    namespaces: Dict[str, Namespace]
    veths: List[Veth]


def route_key(dst: str, via: Optional[str], metric: Optional[int], table, pref) -> tuple:
    """``(destination, metric, table)`` as the kernel keys a route: a default
    route spelt as the family's ``0.0.0.0/0`` or ``::/0``, the family's
    default metric (0 for IPv4, 1024 for IPv6) and table ``main`` filled in.
    ``pref`` (``ip -j`` shows it on IPv6 routes only) tells the family of a
    default route without a gateway; None means IPv4 there, as ``ip route add``."""
    family = ip_version(dst) if dst != "default" else None
    if family is None:
        family = ip_version(via) if via else (6 if pref else 4)
    dst = ("::/0" if family == 6 else "0.0.0.0/0") if dst == "default" else str(ipaddress.ip_network(dst))
    name = str(table) if table is not None else "main"
    return (dst, metric if metric is not None else (1024 if family == 6 else 0),
            TABLE_NAMES.get(name, name))


# --- reading -----------------------------------------------------------------------


def load(spec) -> Lab:
    """A checked :class:`Lab` from ``spec``: a path to a YAML or JSON file
    (``.json``: JSON; anything else: YAML, of which JSON is a part), a dict in
    the documented shape, or a :class:`Lab` (returned as it is)."""
    if isinstance(spec, Lab):
        return spec
    if isinstance(spec, dict):
        return _Checker("<dict>", None).lab(screen("<dict>", spec))
    if not isinstance(spec, (str, os.PathLike)):
        raise InvalidArgument(f"a topology is a path or a dict, not {type(spec).__name__}")
    source = os.fspath(spec)
    try:
        with open(source, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(source, "", f"cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    return _Checker(source, text).lab(screen(source, parse(source, text)))


# How deep a topology may nest: its shape needs 6 levels; far deeper input
# would only exhaust the parsers' stacks (a crash, not an error).
MAX_DEPTH = 32
_OPENERS, _CLOSERS = "[{", "]}"


def parse(source: str, text: str):
    """The data of a topology file's ``text``: JSON for a ``.json`` name, else
    YAML (ruamel.yaml's safe loading, its parser in C when ``ruamel.yaml.clib``
    is there: :func:`~netnswrap.lab.yaml_data.load_yaml`).
    Brackets nested deeper than :data:`MAX_DEPTH` are refused before either
    parser sees them."""
    depth = deepest = 0
    for char in text:
        if char in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif char in _CLOSERS:
            depth = max(depth - 1, 0)
    if deepest > MAX_DEPTH:  # (brackets inside quoted strings count too: no real topology has 32)
        raise SpecError(source, "", f"nested deeper than {MAX_DEPTH} levels of brackets")
    if source.endswith(".json"):
        try:
            return json.loads(text, object_pairs_hook=lambda pairs: _unique_keys(source, pairs))
        except json.JSONDecodeError as exc:
            raise SpecError(source, "", f"not valid JSON: {exc.msg}", exc.lineno) from None
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    try:
        return load_yaml(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SpecError(source, "", f"not valid YAML: {exc.problem or exc.context}",
                        mark.line + 1 if mark else None) from None
    except YAMLError as exc:
        raise SpecError(source, "", f"not valid YAML: {exc}") from None


def _unique_keys(source: str, pairs: list) -> dict:
    """A JSON object, refused when it gives a key twice (json would keep the
    last silently; ruamel.yaml refuses a YAML mapping that does)."""
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise SpecError(source, "", f"not valid JSON: the key {key!r} is given twice in one object")
        found[key] = value
    return found


def screen(source: str, data):
    """``data`` itself, once it is plain data a checker can walk: nested no
    deeper than :data:`MAX_DEPTH`, no part used twice (a YAML alias: a
    chain of them would blow a message up to gigabytes), and every mapping
    key a string or an int (a namespace called ``1``)."""
    seen: set = set()

    def walk(value, path: Path) -> None:  # value: a dict or a list
        if len(path) > MAX_DEPTH:
            raise SpecError(source, place_text(path[:MAX_DEPTH]), f"nested deeper than {MAX_DEPTH} levels")
        if id(value) in seen:
            raise SpecError(source, place_text(path), "a part used twice (a YAML anchor and alias): "
                            "write each part out")
        seen.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if type(key) not in (str, int):  # (a bool is no int here)
                raise SpecError(source, place_text(path), f"a key must be a string; given {_short(key)}")
            if isinstance(item, (dict, list)):
                walk(item, path + (key,))

    if isinstance(data, (dict, list)):
        walk(data, ())
    return data


def _short(value) -> str:
    """``repr(value)``, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def place_text(path: Path) -> str:
    """``("links", 3, "endpoints", 1)`` → ``links[3].endpoints[1]`` (a key
    that is not a plain word is quoted: ``interfaces["eth0.5"]``)."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        elif step.replace("_", "a").replace("-", "a").isalnum():
            out += f".{step}" if out else step
        else:
            out += f"[{json.dumps(step)}]"
    return out


def line_of(text: Optional[str], path: Path) -> Optional[int]:
    """The 1-based line of ``path`` in a YAML/JSON ``text`` (None when unknown)."""
    if text is None:
        return None
    from ruamel.yaml import YAML
    try:
        node = YAML(typ="rt").load(text)
    except Exception:  # not even loadable: the caller reports that instead
        return None
    line = None
    for step in path:
        try:
            if isinstance(step, int):
                line, node = node.lc.item(step)[0], node[step]
            else:
                line, node = node.lc.key(step)[0], node[step]
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    return None if line is None else line + 1


def rename(spec, names: Dict[str, str]) -> dict:
    """A copy of the topology ``spec`` (a dict, or a path to a file) with
    namespaces renamed by ``names`` (``{old: new}``; others keep theirs) —
    e.g. to build an exported lab again beside the original."""
    data = parse(os.fspath(spec), open(spec, encoding="utf-8").read()) if not isinstance(spec, dict) else spec
    data = json.loads(json.dumps(data))  # a deep copy of plain data

    def moved(endpoint):
        if isinstance(endpoint, str) and ":" in endpoint:
            ns, dev = endpoint.rsplit(":", 1)
            return f"{names.get(ns, ns)}:{dev}"
        return endpoint
    if isinstance(data.get("namespaces"), dict):
        data["namespaces"] = {names.get(k, k): v for k, v in data["namespaces"].items()}
    for link in data.get("links") or []:
        if isinstance(link, dict) and isinstance(link.get("endpoints"), list):
            link["endpoints"] = [moved(end) for end in link["endpoints"]]
    return data


# --- checking ----------------------------------------------------------------------


class _Checker:
    """Checks one document; each problem raises a :class:`SpecError` at its place."""

    def __init__(self, source: str, text: Optional[str]):
        self.source, self.text = source, text

    def fail(self, path: Path, rule: str):
        raise SpecError(self.source, place_text(path), rule, line_of(self.text, path))

    def check(self, path: Path, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, its InvalidArgument raised at ``path``."""
        try:
            return fn(*args, **kwargs)
        except InvalidArgument as exc:
            self.fail(path, str(exc))

    def mapping(self, path: Path, value, keys: Sequence[str], what: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"{what} must be a mapping, not {_kind(value)}: {value!r}")
        for key in value:
            if not isinstance(key, str) or key not in keys:
                self.fail(path + (str(key),), f"unknown key {key!r} in {what}: must be one of {', '.join(keys)}")
        return value

    def names(self, path: Path, value, what: str) -> dict:
        """A mapping whose keys are names (namespaces, links, interfaces)."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"{what} must be a mapping of names, not {_kind(value)}: {value!r}")
        return value

    def lab(self, data) -> Lab:
        if not isinstance(data, dict):
            self.fail((), f"a topology must be a mapping with namespaces: (and links:), not {_kind(data)}")
        self.mapping((), data, TOP_KEYS, "the topology")
        spaces = self.names(("namespaces",), data.get("namespaces"), "namespaces")
        if not spaces:
            self.fail(("namespaces",), "declares no namespace: at least one is needed")
        lab = Lab(self.source, {}, [])
        for name, body in spaces.items():
            lab.namespaces[name] = self.namespace(("namespaces", name), name, body)
        made: Dict[Tuple[str, str], Path] = {(ns, dev): ("namespaces", ns, "links", dev)
                                              for ns, space in lab.namespaces.items() for dev in space.links}
        veths = data.get("links")
        if veths is not None and not isinstance(veths, list):
            self.fail(("links",), f"links must be a list of veth pairs, not {_kind(veths)}")
        for index, entry in enumerate(veths or []):
            lab.veths.append(self.veth(("links", index), entry, lab, made))
        devices: Dict[str, set] = {name: {"lo"} for name in lab.namespaces}
        for ns, dev in made:
            devices[ns].add(dev)
        for name, space in lab.namespaces.items():
            self.settings(("namespaces", name), spaces[name] or {}, space, devices[name])
        return lab

    def namespace(self, path: Path, name, body) -> Namespace:
        self.check(path, check_netns_name, name)
        self.check(path, _batch_safe, (name,))
        body = self.mapping(path, body, NAMESPACE_KEYS, f"namespace {name!r}")
        space = Namespace(name)
        for key, value in self.names(path + ("sysctls",), body.get("sysctls"), "sysctls").items():
            write = self.check(path + ("sysctls", key), sysctl_ops.set_, Where(name), key, value)
            self.check(path + ("sysctls", key), _batch_safe, write.argv)
            space.sysctls[_dotted(key)] = check_sysctl_value(value)
        for dev, entry in self.names(path + ("links",), body.get("links"), "links").items():
            space.links[dev] = self.link(path + ("links", dev), dev, entry)
        return space

    def link(self, path: Path, dev, entry) -> Link:
        self.check(path, check_new_ifname, dev)
        if not isinstance(entry, dict) or "kind" not in entry:
            self.fail(path, f"a link is a mapping with its kind, e.g. {{kind: bridge}}; given {entry!r}")
        options = {key: value for key, value in entry.items() if key != "kind"}
        kind = entry["kind"]
        if dev == "lo":
            self.fail(path, "lo exists in every namespace: give its settings under interfaces:")
        if kind == "veth":
            self.fail(path + ("kind",), "veth pairs are declared under the top-level links: as "
                      "{endpoints: ['NS:IF', 'NS:IF']}, not inside a namespace")
        for key in options:
            if key in INTERFACE_KEYS:
                self.fail(path + (key,), f"{key!r} is a setting of the interface: put it under "
                          f"interfaces: {dev}: of this namespace")
        words = self.check(path, kinds.check_options, kind, options)
        if kind not in ("tun", "tap"):
            self.check(path, _batch_safe, link_create(dev, kinds.args(kind, words)).argv)
        return Link(kind, dict(options))

    def veth(self, path: Path, entry, lab: Lab, made: Dict[Tuple[str, str], Path]) -> Veth:
        entry = self.mapping(path, entry, VETH_KEYS, "a veth pair")
        ends = entry.get("endpoints")
        if not isinstance(ends, list) or len(ends) != 2:
            self.fail(path + ("endpoints",), f"endpoints must be a list of two 'NAMESPACE:INTERFACE' "
                      f"strings, e.g. ['r:eth1', 'h1:eth0']; given {ends!r}")
        pair = []
        for index, end in enumerate(ends):
            where = path + ("endpoints", index)
            if not isinstance(end, str) or ":" not in end:
                self.fail(where, f"an endpoint is 'NAMESPACE:INTERFACE', e.g. 'h1:eth0'; given {end!r}")
            ns, dev = end.rsplit(":", 1)
            if ns not in lab.namespaces:
                self.fail(where, f"namespace {ns!r} is not declared under namespaces: "
                          f"(declared: {', '.join(lab.namespaces)}); given {end!r}")
            self.check(where, check_new_ifname, dev)
            if dev == "lo":
                self.fail(where, f"lo exists in every namespace: it cannot be a veth end; given {end!r}")
            if (ns, dev) in made:
                self.fail(where, f"duplicate interface: {dev!r} in namespace {ns!r} is already made by "
                          f"{place_text(made[(ns, dev)])}; given {end!r}")
            made[(ns, dev)] = where
            pair.append((ns, dev))
        return Veth(pair[0], pair[1])

    def settings(self, path: Path, body: dict, space: Namespace, devices: set) -> None:
        """``interfaces`` and ``routes`` of a namespace, once every interface the
        file makes there (``devices``, ``lo`` included) is known."""
        for dev in sorted(devices):
            space.interfaces[dev] = Interface()
        seen: Dict[str, Path] = {}
        for dev, entry in self.names(path + ("interfaces",), body.get("interfaces"), "interfaces").items():
            where = path + ("interfaces", dev)
            if dev not in devices:
                self.fail(where, f"interface {dev!r} is not made by this file: declare it under "
                          f"namespaces: {space.name}: links: or as a veth endpoint under links: "
                          "(only lo exists by itself in a namespace)")
            space.interfaces[dev] = self.interface(where, entry, space, seen)
        for dev, link in space.links.items():
            for option in LOWER_OPTIONS:
                lower = link.options.get(option)
                if lower is not None and lower not in devices:
                    self.fail(path + ("links", dev, option), f"{option} {lower!r} is no interface of "
                              f"namespace {space.name!r} (interfaces: {', '.join(sorted(devices))})")
        self.check(path + ("links",), creation_order, space)
        routes = body.get("routes")
        if routes is not None and not isinstance(routes, list):
            self.fail(path + ("routes",), f"routes must be a list, not {_kind(routes)}")
        keys: Dict[tuple, int] = {}
        for index, entry in enumerate(routes or []):
            where = path + ("routes", index)
            route = self.route(where, entry, devices)
            if route.key() in keys:
                self.fail(where, f"the route to {route.dst} (metric, table) is declared twice: "
                          f"also at routes[{keys[route.key()]}]")
            keys[route.key()] = index
            space.routes.append(route)

    def interface(self, path: Path, entry, space: Namespace, seen: Dict[str, Path]) -> Interface:
        entry = self.mapping(path, entry, INTERFACE_KEYS, "an interface")
        addresses = entry.get("addresses") or []
        if not isinstance(addresses, list):
            self.fail(path + ("addresses",), f"addresses must be a list of ADDRESS/PREFIXLEN, not {addresses!r}")
        checked = []
        for index, address in enumerate(addresses):
            where = path + ("addresses", index)
            cidr = self.check(where, check_cidr, address)
            ip = cidr.split("/")[0]
            if ip in seen:
                self.fail(where, f"address {ip} is in two places in namespace {space.name!r}: "
                          f"also at {place_text(seen[ip])}; given {address!r}")
            seen[ip] = where
            checked.append(cidr)
        mtu = entry.get("mtu")
        if mtu is not None:
            self.check(path + ("mtu",), check_mtu, mtu)
        master = entry.get("master")
        dev = path[-1]
        if master is not None:
            link = space.links.get(master)
            if link is None or link.kind not in MASTER_KINDS:
                self.fail(path + ("master",), f"master must name a bridge or bond declared under "
                          f"namespaces: {space.name}: links:; given {master!r}")
            if master == dev:
                self.fail(path + ("master",), f"an interface cannot be its own master; given {master!r}")
            made = space.links.get(str(dev))
            if made is not None and made.kind == "bridge" and link is not None and link.kind == "bridge":
                self.fail(path + ("master",), f"a bridge cannot be a port of another bridge (the kernel "
                          f"refuses it); given {master!r}")
        up = entry.get("up", True)
        self.check(path + ("up",), check_flag, up, "up")
        if mtu is not None or master is not None:
            self.check(path, _batch_safe, link_set(str(dev), mtu=mtu, master=master))
        return Interface(tuple(checked), mtu, master, bool(up))

    def route(self, path: Path, entry, devices: Iterable[str]) -> Route:
        if not isinstance(entry, dict) or "dst" not in entry:
            self.fail(path, f"a route is a mapping with its dst, e.g. {{dst: default, via: 10.0.0.1}}; "
                      f"given {entry!r}")
        entry = self.mapping(path, entry, ROUTE_KEYS, "a route")
        given = Route(**{key: entry.get(key) for key in ROUTE_KEYS})
        write = self.check(path, route_ops.add, given.dst, **given.options())
        self.check(path, _batch_safe, write.argv)
        # canonical spellings, as ip prints them back
        route = Route(check_route_dst(given.dst), given.via and check_ip(given.via), given.dev,
                      given.src and check_ip(given.src), given.metric,
                      None if given.table is None else check_table(given.table))
        if route.dev is not None and route.dev not in devices:
            self.fail(path + ("dev",), f"dev {route.dev!r} is no interface of this namespace "
                      f"(interfaces: {', '.join(sorted(devices))})")
        return route


def creation_order(space: Namespace) -> List[str]:
    """The namespace's links in an order that makes each lower device
    (``link=``, ``dev=``) before what stands on it; veth ends and ``lo``
    already exist by then. A cycle is an InvalidArgument."""
    order: List[str] = []
    pending = dict(space.links)
    while pending:
        ready = [dev for dev, link in pending.items()
                 if all(link.options.get(o) not in pending for o in LOWER_OPTIONS)]
        if not ready:
            raise InvalidArgument(f"links {', '.join(sorted(pending))} stand on each other in a cycle")
        for dev in ready:
            order.append(dev)
            del pending[dev]
    return order


def _batch_safe(argv) -> None:
    """Refuse what cannot go into an ``ip -batch`` line (the rule of :mod:`netnswrap.batching`)."""
    from ..batch_script import check_line
    check_line(argv)


def _dotted(key: str) -> str:
    """A sysctl key as ``sysctl`` prints it: ``net/ipv4/conf/eth0.5/rp_filter`` →
    ``net.ipv4.conf.eth0/5.rp_filter``."""
    if "/" not in key:
        return key
    return ".".join(part.replace(".", "/") for part in key.split("/"))


def _kind(value) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
