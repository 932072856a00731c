"""The one table that maps a failed command to its exception.

Every failure a tool reports goes through :func:`classify`: it reads the
stderr lines (iproute2's ``Error: …`` and ``RTNETLINK answers: …``
spellings, busybox's ``ip: …``, ethtool and nsenter) and, where the message
alone is ambiguous, the argv that was run. Rules are chosen by the real tool
and object of the argv (the command inside ``ip -n``, ``ip netns exec`` and
``nsenter``): an object's own table (:data:`OBJECT_RULES`, e.g. ``ip route``)
is read before the general one, so ``RTNETLINK answers: File exists`` from
``ip route add`` is a :class:`RouteExists`, not a :class:`LinkExists`. The
rules follow ``fixtures/reference/error-catalog.md`` §1.
"""
from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional, Sequence, Type, Union

from .validate import ifname_problem
from .errors import (AddressExists, AddressNotFound, CommandError, CommandTimeout, DeviceCannotMove,
                     InvalidAddress, InvalidArgument, InvalidMTU, InvalidName, LinkExists,
                     LinkNotFound, NamespaceExists, NamespaceNotFound, NetnsWrapError, NotSupported,
                     PermissionDenied, ProcessNotFound, RouteExists, RouteNotFound, ToolNotFound,
                     ToolUnsupported, UsageError, first_line)


def inner_command(argv: Sequence[str]) -> tuple:
    """The tool command inside namespace placement and privilege wrappers.

    ``ip -n NS link set …`` → ``ip link set …``; ``ip netns exec NS X …`` →
    ``X …``; ``nsenter -t PID -n X …`` / ``nsenter --net=F X …`` → ``X …``;
    ``setpriv … X`` → ``X``; ``busybox ip`` → ``ip``.
    """
    args = list(argv)
    while args:
        head = args[0].rsplit("/", 1)[-1]
        if head == "busybox" and len(args) > 1:
            args = args[1:]
        elif head in ("nsenter", "setpriv"):
            rest = args[1:]
            while rest and rest[0].startswith("-"):
                takes_value = rest[0] in ("-t", "--target")
                rest = rest[2:] if takes_value else rest[1:]
            if not rest:
                return tuple(args)
            args = rest
        elif head == "ip" and args[1:3] == ["netns", "exec"] and len(args) > 4:
            args = args[4:]
        elif head == "ip" and len(args) > 2 and args[1] == "-n":
            args = [args[0]] + args[3:]
        else:
            break
    if args:
        args[0] = args[0].rsplit("/", 1)[-1]
    return tuple(args)


def _ip_words(argv: Sequence[str]) -> list:
    """ip's object and command words, options dropped: ['link', 'set', …]."""
    cmd = inner_command(argv)
    if not cmd or cmd[0] != "ip":
        return []
    return [w for w in cmd[1:] if not w.startswith("-")]


def _ip_object(argv: Sequence[str]) -> str:
    words = _ip_words(argv)
    if not words:
        return ""
    for full, short in (("link", "link"), ("address", "addr"), ("netns", "netns"),
                        ("route", "route"), ("neighbour", "neigh"), ("neighbor", "neigh")):
        if full.startswith(words[0]):
            return short
    return words[0]


def _is_move(argv: Sequence[str]) -> bool:
    words = _ip_words(argv)
    return _ip_object(argv) == "link" and "set" in words[1:2] and "netns" in words


def _has_bad_ifname(argv: Sequence[str]) -> bool:
    words = _ip_words(argv)
    if _ip_object(argv) != "link" or len(words) < 3:
        return False
    names = [words[2]] if words[1] in ("add", "set", "del", "delete") else []
    names += [b for a, b in zip(words, words[1:]) if a in ("name", "dev")]
    return any(ifname_problem(n) for n in names)


def _invalid_value(argv: Sequence[str]) -> Type[NetnsWrapError]:
    if _is_move(argv):
        return DeviceCannotMove
    if _ip_object(argv) == "link" and "mtu" in _ip_words(argv)[2:]:
        return InvalidMTU  # a kernel without extack refusing the MTU
    if _has_bad_ifname(argv):
        return InvalidName
    return InvalidArgument


def _file_exists(argv: Sequence[str]) -> Type[NetnsWrapError]:
    return {"addr": AddressExists, "netns": NamespaceExists}.get(_ip_object(argv), LinkExists)


def _cannot_assign(argv: Sequence[str]) -> Type[NetnsWrapError]:
    return AddressNotFound if _ip_object(argv) == "addr" else InvalidAddress


def _cannot_open_netns(argv: Sequence[str]) -> Type[NetnsWrapError]:
    return ProcessNotFound if "identify" in _ip_words(argv) else NamespaceNotFound


def _busybox_bad_value(argv: Sequence[str], match: "re.Match") -> Type[NetnsWrapError]:
    return {"name": InvalidName, "netns": ToolUnsupported}.get(match.group("kw"), InvalidArgument)


def _busybox_usage(argv: Sequence[str]) -> Type[NetnsWrapError]:
    unsupported = {"netns", "-n", "-j", "-json", "-batch", "-d", "-details", "-force"}
    return ToolUnsupported if unsupported & set(argv) else UsageError


def _ethtool_usage(argv: Sequence[str]) -> Type[NetnsWrapError]:
    return ToolUnsupported if "--json" in inner_command(argv) else UsageError


Rule = Union[Type[NetnsWrapError], Callable]

# (regex applied to each stderr line, exception class or function of argv[, match])
RULES: list = [
    (r'^Cannot create namespace file "[^"]*": File exists$', NamespaceExists),
    (r'^Cannot remove namespace file "[^"]*": No such file or directory$', NamespaceNotFound),
    (r'^Cannot open network namespace "[^"]*": No such file or directory$', NamespaceNotFound),
    (r"^Cannot open network namespace: No such file or directory$", _cannot_open_netns),
    (r'^Invalid netns name ".*"$', InvalidName),
    (r"^Bind /proc/\d+/ns/net -> .* failed: No such file or directory$", ProcessNotFound),
    (r"^No netns name specified$", UsageError),
    (r'^exec of ".*" failed: No such file or directory$', ToolNotFound),
    (r'^setting the network namespace "[^"]*" failed: Invalid argument$', NamespaceNotFound),  # not a namespace: a plain file, or unmounted
    (r'^setting the network namespace "[^"]*" failed: (Operation not permitted|Permission denied)$',
     PermissionDenied),
    (r"^mount --make-shared /run/netns failed: (Operation not permitted|Permission denied)$",
     PermissionDenied),
    (r"^Error: The interface netns is immutable\.$", DeviceCannotMove),
    (r"^Error: An interface with the same name exists in the target netns\.$", LinkExists),
    (r"^Error: ipv[46]: [Aa]ddress already assigned\.$", AddressExists),
    (r"^Error: ipv[46]: [Aa]ddress not found\.$", AddressNotFound),
    (r"^Error: mtu (greater than device maximum|less than device minimum)\.$", InvalidMTU),
    (r"^Error: Unknown device type\.$", NotSupported),
    (r"^Error: Attribute failed policy validation\.$", _invalid_value),
    (r"^(ip: )?RTNETLINK answers: File exists$", _file_exists),
    (r"^(ip: )?RTNETLINK answers: No such process$", ProcessNotFound),
    (r"^(ip: )?RTNETLINK answers: No such device$", LinkNotFound),
    (r"^(ip: )?RTNETLINK answers: Operation not supported$", NotSupported),
    (r"^(ip: )?RTNETLINK answers: Cannot assign requested address$", _cannot_assign),
    (r"^(ip: )?RTNETLINK answers: Numerical result out of range$", InvalidAddress),
    (r"^(ip: )?RTNETLINK answers: Invalid argument$", _invalid_value),
    (r"^(ip: )?RTNETLINK answers: (Operation not permitted|Permission denied)$", PermissionDenied),
    (r'^Error: argument ".*" is wrong: "(name|dev)" not a valid ifname$', InvalidName),
    (r'^Error: argument ".*" is wrong: Invalid "netns" value$', NamespaceNotFound),
    (r'^Error: argument ".*" is wrong: Device does not exist$', LinkNotFound),  # master/link DEV missing
    (r'^Error: argument ".*" is wrong: .*$', InvalidArgument),
    (r'^Error: any valid prefix is expected rather than ".*"\.$', InvalidAddress),
    (r'^Error: (inet|inet6) prefix is expected rather than ".*"\.$', InvalidAddress),
    (r'^".*" is invalid lladdr\.$', InvalidAddress),
    (r"^Invalid address length \d+ - must be \d+ bytes$", InvalidAddress),
    (r'^Device ".*" does not exist\.$', LinkNotFound),
    (r'^Cannot find device ".*"$', LinkNotFound),
    (r"^Not enough information: .*$", UsageError),
    (r'^Error: either ".*" is duplicate, or ".*" is a garbage\.$', UsageError),
    (r'^Object ".*" is unknown, try "ip help"\.$', UsageError),
    (r'^Option ".*" is unknown, try "ip -help"\.$', UsageError),
    (r'^Command ".*" is unknown, try "ip .* help"\.$', UsageError),
    (r'^Cannot open file ".*" for reading: .*$', InvalidArgument),
    (r"^ip: can't find device '.*'$", LinkNotFound),
    (r"^ip: SIOC\w+: No such device$", LinkNotFound),
    (r"^ip: SIOCSIFMTU: Invalid argument$", InvalidMTU),
    (r"^ip: SIOCSIFHWADDR: Cannot assign requested address$", InvalidAddress),
    (r"^ip: SIOCSIFNAME: File exists$", LinkExists),
    (r"^ip: SIOC\w+: (Operation not permitted|Permission denied)$", PermissionDenied),
    (r"^ip: invalid argument '.*' to '(?P<kw>.*)'$", _busybox_bad_value),
    (r'^ip: ".*" is invalid lladdr$', InvalidAddress),
    (r"^ip: wrong address \(.*\) length: expected \d+ bytes$", InvalidAddress),
    (r'^ip: an inet prefix is expected rather than ".*"$', InvalidAddress),
    (r"^BusyBox v\S+ .*multi-call binary\.$", _busybox_usage),
    (r"^netlink error: no device matches name", LinkNotFound),
    (r"^netlink error: bit name not found", InvalidArgument),
    (r"^netlink error: (Operation not permitted|Permission denied)$", PermissionDenied),
    (r"^Cannot get .*: No such device$", LinkNotFound),
    (r"^Cannot get .*: Operation not supported$", NotSupported),
    (r"^no stats available$", NotSupported),
    (r"^Could not change any device features$", NotSupported),
    (r"^ethtool: bad command line argument\(s\)$", _ethtool_usage),
    (r"^nsenter: (cannot open|can't open) '?/proc/\d+/ns/\w+'?: No such file or directory$",
     ProcessNotFound),
    (r"^nsenter: (cannot open|can't open) '?.*?'?: No such file or directory$", NamespaceNotFound),
    (r"^nsenter: (cannot open|can't open) .*: Permission denied$", PermissionDenied),
    (r"^nsenter: (reassociate to namespace '.*' failed|setns\(\): can't reassociate to namespace '.*'):"
     r" (Operation not permitted|Permission denied)$", PermissionDenied),
    (r"^nsenter: reassociate to namespace '.*' failed: Invalid argument$", InvalidArgument),
    (r"^nsenter: failed to execute .*: No such file or directory$", ToolNotFound),
    (r"(Operation not permitted|Permission denied)$", PermissionDenied),
    (r": No such device$", LinkNotFound),
]
# Words of `ip link add/set` followed by a value (which may look like a keyword: a device called "master").
_TAKES_VALUE = frozenset({"dev", "name", "link", "master", "type", "netns", "address", "mtu", "alias", "group"})


def _word_after(argv: Sequence[str], keyword: str) -> Optional[str]:
    """The value after ``keyword`` in an ``ip OBJECT COMMAND …`` (a keyword's
    value is never taken for a keyword)."""
    words = _ip_words(argv)[2:]
    at = 0
    while at < len(words) - 1:
        if words[at] == keyword:
            return words[at + 1]
        at += 2 if words[at] in _TAKES_VALUE else 1
    return None


def _kind_missing(argv: Sequence[str]):
    """NotSupported, naming the kind of an ``ip link add … type KIND``."""
    kind = _word_after(argv, "type") if _ip_words(argv)[1:2] == ["add"] else None
    return (NotSupported, f"link kind {kind!r} is not supported by this kernel") if kind else NotSupported


def _not_supported(argv: Sequence[str]):
    """NotSupported for ``ip link add/set … [master DEV]``: naming the master
    when one is given (a device that takes no ports, ``lo`` or a veth, says
    this too), else the kind, as :func:`_kind_missing`."""
    master = _word_after(argv, "master")
    if master is None:
        return _kind_missing(argv)
    kind = _word_after(argv, "type") if _ip_words(argv)[1:2] == ["add"] else None
    return (NotSupported, f"not supported: a master must be a bridge, bond or vrf (master {master!r})"
            + (f", or link kind {kind!r} is not supported by this kernel" if kind else ""))


def _gateway_unreachable(argv: Sequence[str]):
    """A gateway the kernel cannot reach directly (``ip route add/replace``),
    or no route at all (``ip route get``)."""
    words = _ip_words(argv)
    if words[1:2] == ["get"]:
        return RouteNotFound, f"no route to {words[2] if len(words) > 2 else 'that address'}"
    via, dev = _word_after(argv, "via"), _word_after(argv, "dev")
    if via is None:
        return InvalidArgument
    return InvalidArgument, (f"gateway {via} is not on a network connected to "
                             f"{f'device {dev}' if dev else 'this namespace'}")


# Rules of one `ip` object (or of another tool, by its name), read before RULES
# for a command on it. Evidence: fixtures/reference/route-errors.json. A
# function may return (class, note): the message is then "note: line".
OBJECT_RULES: Dict[str, list] = {
    "route": [
        (r"^(ip: )?RTNETLINK answers: File exists$", RouteExists),
        (r"^(ip: )?RTNETLINK answers: No such process$", RouteNotFound),
        (r"^Error: FIB table does not exist\.$", RouteNotFound),
        (r"^Error: Nexthop has invalid gateway\.$", _gateway_unreachable),
        (r"^(ip: )?RTNETLINK answers: (Network is unreachable|No route to host)$", _gateway_unreachable),
        (r"^Error: Invalid prefsrc address\.$", InvalidAddress),
        (r"^Error: Invalid prefix for given prefix length\.$", InvalidAddress),
        (r'^Error: (inet|inet6) address is expected rather than ".*"\.$', InvalidAddress),
    ],
    "neigh": [  # an entry that exists or is missing: no typed class (not a link's)
        (r"^(ip: )?RTNETLINK answers: (File exists|No such file or directory)$", CommandError),
        (r"^Device and destination are required arguments\.$", UsageError),
        (r"^ip: invalid argument '(add|del|delete|change|replace)' to 'ip'$", ToolUnsupported),
    ],
    "link": [
        (r"^Error: Unknown device type\.$", _kind_missing),
        (r"^Error: tun/tap creation via rtnetlink is not supported\.$", NotSupported),
        (r"^(ip: )?RTNETLINK answers: Operation not supported$", _not_supported),
        (r"^Error: A VXLAN device with the specified VNI already exists\.$", LinkExists),
    ],
    "tuntap": [
        (r"^ioctl\(TUNSETIFF\): Device or resource busy$", LinkExists),
    ],
    "sysctl": [
        (r"^sysctl: cannot stat /proc/sys/.*: No such file or directory$", InvalidArgument),
        (r'^sysctl: setting key ".*": Invalid argument$', InvalidArgument),
        (r"^sysctl: permission denied on key", PermissionDenied),
    ],
}


def _compile(rules: list) -> List[tuple]:
    return [(re.compile(pattern), target) for pattern, target in rules]


_COMPILED = _compile(RULES)
_COMPILED_BY_OBJECT = {obj: _compile(rules) + _COMPILED for obj, rules in OBJECT_RULES.items()}
# What `ip -batch` prints after a failing line: the script (`-` for stdin) and the line number.
BATCH_FAILED = re.compile(r"^Command failed (?P<file>.*):(?P<line>\d+)$")
_EXEC_WRAPPERS = ("nsenter",)


def _runs_a_program(argv: Sequence[str]) -> bool:
    """True when argv executes another program whose exit status it passes on."""
    args = list(argv)
    head = args[0].rsplit("/", 1)[-1] if args else ""
    return head in _EXEC_WRAPPERS or (head == "ip" and args[1:3] == ["netns", "exec"])


def _resolve(target: Rule, argv: Sequence[str], match: "re.Match"):
    if isinstance(target, type):
        return target
    if target is _busybox_bad_value:
        return target(argv, match)
    return target(argv)


def classify(argv: Sequence[str], returncode: int, stdout: str = "", stderr: str = ""
             ) -> Optional[NetnsWrapError]:
    """The exception for a finished command, or None when it succeeded.

    The first rule of :data:`RULES` that matches a stderr line wins. An
    ``ip -batch`` failure (``Command failed FILE:N``) gives the error of the
    line before it, with ``batch_line`` = N. A program run through
    ``ip netns exec``/``nsenter`` that fails on its own gives plain
    :class:`CommandError` with the program's exit status.
    """
    if returncode == 0:
        return None
    inner = inner_command(argv)
    if inner[:1] == ("timeout",) and returncode == 124:  # coreutils timeout(1) gave up
        return CommandTimeout(argv, _seconds(inner[1:]), stdout, stderr, returncode)
    lines = [line.rstrip("\r") for line in (stderr or "").splitlines()]
    batch_line = None
    for index, line in enumerate(lines):
        found = BATCH_FAILED.match(line)
        if found:
            batch_line = int(found.group("line"))
            lines = lines[:index]
            break
    cls: Type[NetnsWrapError] = CommandError
    message = first_line("\n".join(lines))
    rules = _COMPILED_BY_OBJECT.get(_ip_object(argv) or (inner[0] if inner else ""), _COMPILED)
    for line in lines:
        for pattern, target in rules:
            found = pattern.search(line)
            if found:
                resolved = _resolve(target, argv, found)
                cls, note = resolved if isinstance(resolved, tuple) else (resolved, None)
                message = f"{note}: {line.strip()}" if note else line.strip()
                break
        else:
            continue
        break
    if cls is CommandError and not message:
        message = (f"{inner_command(argv)[0] if _runs_a_program(argv) else argv[0]}"
                   f" failed with exit status {returncode}")
    if cls is ToolNotFound:
        error: NetnsWrapError = ToolNotFound(_missing_program(message), argv=argv, returncode=returncode,
                                             stdout=stdout, stderr=stderr)
    else:
        error = cls(message, argv=argv, returncode=returncode, stdout=stdout, stderr=stderr)
    error.batch_line = batch_line
    return error


def _seconds(args: Sequence[str]) -> float:
    """The duration given to timeout(1), e.g. '1', '2.5s', '1m' (0 if unreadable)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    for arg in args:
        if not arg.startswith("-"):
            try:
                return float(arg[:-1]) * units[arg[-1]] if arg[-1:] in units else float(arg)
            except ValueError:
                return 0.0
    return 0.0


def _missing_program(message: str) -> str:
    found = re.search(r'exec of "(.*)" failed|failed to execute (.*): No such', message)
    return next((g for g in found.groups() if g), "program") if found else "program"
