"""Checks on every value a user passes, run before any command is built.

Each ``check_*`` returns the value in the form the command line needs, or
raises :class:`~netnswrap.errors.InvalidArgument` (a ``ValueError``) naming
the value and the rule it breaks. iproute2 itself accepts some names that it
then prints ambiguously (a newline, a leading ``-``, spaces in namespace
names: error-catalog §0), so these rules are stricter than ``ip``'s.
"""
from __future__ import annotations

import functools
import ipaddress
import math
import re
from numbers import Real
from typing import Optional, Sequence

from .errors import InvalidAddress, InvalidArgument, InvalidMTU, InvalidName

IFNAMSIZ = 16          # kernel limit, including the terminating NUL
ALTIFNAMSIZ = 128      # kernel limit of an alternative name (altname), NUL included
NAME_MAX = 255         # a namespace name is a file name under /run/netns
MTU_MAX = 2**31 - 1    # ip reads `mtu N` as an int (the netlink attribute is a u32)
PID_MAX = 4194304      # PID_MAX_LIMIT on 64-bit kernels
_WHITESPACE = re.compile(r"\s")
_LLADDR = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){1,31}$")


def _name_problem(name, max_bytes: int, forbidden: str) -> Optional[str]:
    if not isinstance(name, str):
        return f"must be a str, not {type(name).__name__}"
    return _str_name_problem(str.__str__(name), max_bytes, forbidden)  # (a plain str: the cache's key)


@functools.lru_cache(maxsize=4096)
def _str_name_problem(name: str, max_bytes: int, forbidden: str) -> Optional[str]:
    """(remembered: a lab or a batch checks each name several times)"""
    if name in ("", ".", ".."):
        return "must not be empty, '.' or '..'"
    if name.startswith("-"):
        return "must not start with '-' (it would read as an option)"
    if "\ufffd" in name or any("\ud800" <= ch <= "\udfff" for ch in name):
        return ("is not valid UTF-8 as read (U+FFFD or a lone surrogate stands for bytes "
                "that were lost): it cannot be given back to a tool")
    if not name.isprintable() or _WHITESPACE.search(name):
        return "must not contain whitespace or control characters"
    bad = sorted({ch for ch in name if ch in forbidden})
    if bad:
        return "must not contain " + " or ".join(repr(ch) for ch in bad)
    if len(name.encode()) > max_bytes:
        return f"must be at most {max_bytes} bytes (UTF-8), not {len(name.encode())}"
    return None


def ifname_problem(name) -> Optional[str]:
    """Why ``name`` is not a valid name for a new interface, or None if it is."""
    return _name_problem(name, IFNAMSIZ - 1, "/:")


def check_ifname(name) -> str:
    """An existing device, by its name or an alternative name (``ip link
    property add dev DEV altname ALT``): 1–127 bytes, no '/', whitespace or
    control characters, not '.'/'..', not starting with '-'. Names of new
    devices follow the kernel's stricter rule: :func:`check_new_ifname`."""
    problem = _name_problem(name, ALTIFNAMSIZ - 1, "/")
    if problem:
        raise InvalidName(f"invalid interface name {name!r}: {problem}")
    return name


def check_new_ifname(name) -> str:
    """A name for a device to create or rename to: 1–15 bytes, no '/', ':',
    whitespace or control characters, not '.'/'..', not starting with '-', and
    no '%' (the kernel would make ``a%d`` into ``a0``, a name the caller cannot know)."""
    problem = ifname_problem(name)
    if problem:
        raise InvalidName(f"invalid interface name {name!r}: {problem}")
    if "%" in name:
        raise InvalidName(f"invalid interface name {name!r}: must not contain '%' "
                          "(the kernel would replace %d with a number of its choice)")
    return name


def check_netns_name(name) -> str:
    """A name for a new namespace: 1–255 bytes, no '/', whitespace or control
    characters, not '.'/'..', not starting with '-'."""
    problem = _name_problem(name, NAME_MAX, "/")
    if problem:
        raise InvalidName(f"invalid namespace name {name!r}: {problem}")
    return name


def check_netns_ref(name) -> str:
    """The name of an existing namespace, as the system reports it (other
    tools may have made it with spaces or odd characters): any file name
    under ``/run/netns``, i.e. 1–255 bytes, no '/' or NUL, not '.'/'..'."""
    if not isinstance(name, str):
        raise InvalidName(f"invalid namespace name {name!r}: must be a str, not {type(name).__name__}")
    size = len(name.encode(errors="surrogateescape"))
    if name in ("", ".", "..") or "/" in name or "\0" in name or size > NAME_MAX:
        raise InvalidName(f"invalid namespace name {name!r}: must be a file name under /run/netns "
                          f"(1–{NAME_MAX} bytes, no '/' or NUL, not '.' or '..')")
    return name


def check_cidr(cidr) -> str:
    """An IPv4 or IPv6 address with its prefix length, e.g. '10.1.1.1/24'."""
    if not isinstance(cidr, str) or "/" not in cidr:
        raise InvalidAddress(f"invalid address {cidr!r}: must be ADDRESS/PREFIXLEN, e.g. 10.1.1.1/24")
    return _canonical_cidr(str.__str__(cidr))


@functools.lru_cache(maxsize=4096)
def _canonical_cidr(cidr: str) -> str:
    """A valid CIDR's canonical spelling (remembered: a lab or a batch checks
    each address several times, and ipaddress is the costly part)."""
    try:
        return str(ipaddress.ip_interface(cidr))
    except ValueError as exc:
        raise InvalidAddress(f"invalid address {cidr!r}: {exc}") from None


def check_lladdr(address) -> str:
    """A link-layer address: hex byte pairs separated by ':' (e.g. 02:00:00:00:00:01)."""
    if not isinstance(address, str) or not _LLADDR.fullmatch(address):
        raise InvalidAddress(f"invalid link-layer address {address!r}: must be hex pairs like 02:00:5e:10:00:01")
    return address.lower()


def check_mtu(mtu) -> str:
    """An MTU: an int within 0..2147483647. The device's own limits
    (``min_mtu``/``max_mtu`` in ``ip -d -j link``: 68..65535 for a veth, none
    for ``lo``) are the kernel's to apply: its refusal is :class:`InvalidMTU`."""
    if isinstance(mtu, bool) or not isinstance(mtu, int) or not 0 <= mtu <= MTU_MAX:
        raise InvalidMTU(f"invalid MTU {mtu!r}: must be an int within 0..{MTU_MAX}")
    return str(mtu)


def check_pid(pid) -> str:
    """A process ID: an int within 1..4194304 (the kernel's PID_MAX_LIMIT)."""
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid <= PID_MAX:
        raise InvalidArgument(f"invalid PID {pid!r}: must be an int within 1..{PID_MAX}")
    return str(pid)


def check_timeout(timeout) -> Optional[float]:
    """A timeout in seconds: a positive finite number, or None for no limit."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, Real) or not 0 < float(timeout) < math.inf:
        raise InvalidArgument(f"invalid timeout {timeout!r}: must be a positive number of seconds or None")
    return float(timeout)


def check_argv(argv) -> tuple:
    """A command to execute: a non-empty list or tuple of str without NUL bytes,
    whose program name is neither empty nor starts with '-' (``nsenter -t PID -n
    -r …`` would read it as an option of nsenter)."""
    if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence) or not argv:
        raise InvalidArgument(f"invalid command {argv!r}: must be a non-empty list of str (no shell is used)")
    for arg in argv:
        if not isinstance(arg, str) or "\0" in arg:
            raise InvalidArgument(f"invalid command argument {arg!r}: must be a str without NUL bytes")
    if not argv[0] or argv[0].startswith("-"):
        raise InvalidArgument(f"invalid program {argv[0]!r}: must not be empty or start with '-'")
    return tuple(argv)


def check_flag(value, what: str) -> Optional[bool]:
    """A yes/no option: True, False or None (not a str such as 'down', which is truthy)."""
    if value is not None and not isinstance(value, bool):
        raise InvalidArgument(f"invalid {what} {value!r}: must be True, False or None")
    return value


def check_runner(runner):
    """A runner: anything with a ``run(argv)`` method."""
    if not callable(getattr(runner, "run", None)):
        raise InvalidArgument(f"not a runner: {runner!r} (needs a run(argv) method)")
    return runner


# --- routes, neighbours, sysctls, link kinds ------------------------------------

U32_MAX = 2**32 - 1
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_SYSCTL_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@+%/-]*")


def check_ip(address, what: str = "address", family: Optional[int] = None) -> str:
    """One IPv4 or IPv6 address without a prefix length (of IP version
    ``family`` when given), in its canonical spelling."""
    value = _parsed_ip(str.__str__(address)) if isinstance(address, str) else None
    if value is None:
        raise InvalidAddress(f"invalid {what} {address!r}: must be one IPv4 or IPv6 address "
                             "(no prefix length), e.g. 10.1.1.1 or 2001:db8::1")
    if family is not None and value.version != family:
        raise InvalidAddress(f"invalid {what} {address!r}: must be an IPv{family} address here")
    return str(value)


@functools.lru_cache(maxsize=4096)
def _parsed_ip(address: str):
    """``ipaddress.ip_address(address)``, None if it is none (remembered, as :func:`_canonical_cidr`)."""
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def check_route_dst(dst) -> str:
    """A route's destination: ``"default"``, an address (a host route) or a
    network in CIDR form with no host bits set (``10.1.0.0/16``,
    ``2001:db8::/64``), in its canonical spelling."""
    if dst == "default":
        return dst
    if not isinstance(dst, str) or "/" not in dst:
        return check_ip(dst, "route destination")
    try:
        return str(ipaddress.ip_network(dst))
    except ValueError as exc:
        raise InvalidAddress(f"invalid route destination {dst!r}: {exc} (must be 'default', an "
                             "address or a network such as 10.1.0.0/16)") from None


def ip_version(value: str) -> Optional[int]:
    """4 or 6 for a checked address or network, None for ``default``."""
    if not isinstance(value, str):
        raise ValueError(f"not an address or network: {value!r}")
    return _ip_version(str.__str__(value))


@functools.lru_cache(maxsize=4096)
def _ip_version(value: str) -> Optional[int]:
    return None if value == "default" else ipaddress.ip_network(value).version


def check_u32(value, what: str, low: int = 0) -> str:
    """An int within low..4294967295 (a netlink u32), as a str."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= U32_MAX:
        raise InvalidArgument(f"invalid {what} {value!r}: must be an int within {low}..{U32_MAX}")
    return str(value)


def check_table(table, *, listing: bool = False) -> str:
    """A routing table: an id (1..4294967295, an int or its digits) or a name
    (``main``, ``local``, a name from ``rt_tables``); ``listing`` also takes
    ``all`` (every table, ``ip route show table all``)."""
    if isinstance(table, str) and table.isascii() and table.isdigit():
        table = int(table)
    if isinstance(table, int) and not isinstance(table, bool):
        return check_u32(table, "routing table", low=1)
    if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table) or (table == "all" and not listing):
        raise InvalidArgument(f"invalid routing table {table!r}: must be an id (1..{U32_MAX}) or a "
                              "name such as main or local" + (" (or all)" if listing else ""))
    return table


def check_family(family) -> Optional[str]:
    """An IP version for listing: None (ip's default), 4 or 6 → ``-4``/``-6``."""
    if family is None:
        return None
    if type(family) is not int or family not in (4, 6):
        raise InvalidArgument(f"invalid family {family!r}: must be 4, 6 or None")
    return f"-{family}"


def check_choice(value, what: str, choices: Sequence[str]) -> str:
    """One of ``choices`` (a str)."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidArgument(f"invalid {what} {value!r}: must be one of {', '.join(choices)}")
    return value


def check_sysctl_key(key) -> str:
    """A sysctl key as ``sysctl`` takes it (``net.ipv4.ip_forward``, or with
    '/' separators): letters, digits and ``_ . : @ + % / -``, no whitespace,
    no '=', no '..' or empty component, not starting with '-' or '/'."""
    if not isinstance(key, str) or not _SYSCTL_KEY.fullmatch(key):
        raise InvalidArgument(f"invalid sysctl key {key!r}: must be a dotted name such as "
                              "net.ipv4.ip_forward (no whitespace, '=' or leading '-' or '/')")
    parts = re.split(r"[./]", key)
    if "" in parts or ".." in key:
        raise InvalidArgument(f"invalid sysctl key {key!r}: has an empty or '..' component")
    return key


def check_sysctl_value(value) -> str:
    """A value for ``sysctl -w``: an int or a non-empty str without newlines
    or control characters (a str may hold spaces or tabs, e.g. ``"1024\\t65000"``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip() or not value.replace("\t", " ").isprintable():
        raise InvalidArgument(f"invalid sysctl value {value!r}: must be an int or a non-empty str "
                              "without newlines or control characters")
    return value
