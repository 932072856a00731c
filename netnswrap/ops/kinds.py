"""Link kinds for ``link_add(name, kind, **options)``: one table row per kind.

A row names the options the kind takes, how each is checked and spelt on
the command line, and which are required. ``link=`` (the lower device) goes
before ``type`` (``ip link add NAME link DEV type vlan id 5``), every other
option after it. ``tun``/``tap`` devices are made by ``ip tuntap`` (the
kernel refuses them through ``ip link add``). ``veth`` is built by
:func:`netnswrap.ops.link.veth` (its ``peer_netns`` is a namespace).

Adding a kind is one row here; :meth:`~netnswrap.ops.link.LinkWrites.link_add`
builds the command.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Tuple

from ..errors import InvalidArgument
from ..validate import check_choice, check_ifname, check_ip, check_new_ifname
from ..where import Argv
from . import Undo, Write, where_of

Check = Callable[[object], str]


def _range(what: str, low: int, high: int) -> Check:
    def check(value) -> str:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidArgument(f"invalid {what} {value!r}: must be an int within {low}..{high}")
        return str(value)
    return check


def _one_of(what: str, *choices: str) -> Check:
    return lambda value: check_choice(value, what, choices)


def _ip(what: str, family=None) -> Check:
    return lambda value: check_ip(value, what, family)


def _namespace(value) -> str:
    """A namespace reference (name, PID, handle): checked here, placed by veth_add."""
    return str(where_of(value))


_LINK: Check = check_ifname
MACVLAN_MODES = ("private", "vepa", "bridge", "passthru", "source")
IPVLAN_MODES = ("l2", "l3", "l3s")
BOND_MODES = ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb",
              "balance-alb")


@dataclass(frozen=True)
class Kind:
    """``options``: name → check (returns the command-line word); ``required``
    options must be given."""

    options: Dict[str, Check] = field(default_factory=dict)
    required: Tuple[str, ...] = ()


KINDS: Dict[str, Kind] = {
    "veth": Kind({"peer": check_new_ifname, "peer_netns": _namespace}, required=("peer",)),
    "bridge": Kind(),
    "dummy": Kind(),
    "macvlan": Kind({"link": _LINK, "mode": _one_of("macvlan mode", *MACVLAN_MODES)},
                    required=("link",)),
    "ipvlan": Kind({"link": _LINK, "mode": _one_of("ipvlan mode", *IPVLAN_MODES)},
                   required=("link",)),
    "vlan": Kind({"link": _LINK, "id": _range("VLAN id", 0, 4094)}, required=("link", "id")),
    "vxlan": Kind({"id": _range("VXLAN id (VNI)", 0, 2**24 - 1), "remote": _ip("vxlan remote"),
                   "local": _ip("vxlan local"), "dstport": _range("vxlan dstport", 0, 65535),
                   "dev": check_ifname}, required=("id",)),
    "bond": Kind({"mode": _one_of("bond mode", *BOND_MODES)}),
    "gre": Kind({"remote": _ip("gre remote", 4), "local": _ip("gre local", 4)}),
    "ipip": Kind({"remote": _ip("ipip remote", 4), "local": _ip("ipip local", 4)}),
    "tun": Kind(),
    "tap": Kind(),
}


def check_options(kind: str, options: dict) -> Dict[str, str]:
    """``options`` of ``kind`` checked, as command-line words (an option given
    as None is left out); a kind or option the table does not know is an
    :class:`InvalidArgument` naming what it takes."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidArgument(f"unknown link kind {kind!r}: must be one of {', '.join(KINDS)}")
    row = KINDS[kind]
    given = {key: value for key, value in options.items() if value is not None}
    unknown = sorted(set(given) - set(row.options))
    if unknown:
        takes = ", ".join(f"{name}=" for name in row.options) or "no options"
        raise InvalidArgument(f"link kind {kind!r} does not take {', '.join(unknown)} "
                              f"(it takes {takes})")
    missing = [name for name in row.required if name not in given]
    if missing:
        raise InvalidArgument(f"link kind {kind!r} needs {', '.join(f'{m}=' for m in missing)}")
    return {key: row.options[key](value) for key, value in given.items()}


def args(kind: str, words: Dict[str, str]) -> Argv:
    """What follows ``ip link add NAME`` for ``kind`` with checked ``words``
    (:func:`check_options`): ``[link DEV] type KIND [OPTION VALUE]…``."""
    lower: Argv = ("link", words["link"]) if "link" in words else ()
    data = tuple(word for key, value in words.items() if key != "link" for word in (key, value))
    return lower + ("type", kind) + data


def tuntap(name: str, mode: str) -> Write:
    """``ip tuntap add mode tun|tap name NAME`` (undone by ``ip tuntap del
    mode tun|tap name NAME``)"""
    made: Argv = ("mode", check_choice(mode, "tuntap mode", ("tun", "tap")), "name",
                  check_new_ifname(name))
    return Write(("ip", "tuntap", "add") + made, undo=Undo(("ip", "tuntap", "del") + made, removes=True),
                 reuses_name=True)
