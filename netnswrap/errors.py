"""The exception hierarchy and the one table that maps a failed command to it.

Every failure a tool reports goes through :func:`classify`: it reads the
stderr lines (iproute2's ``Error: …`` and ``RTNETLINK answers: …``
spellings, busybox's ``ip: …``, ethtool and nsenter) and, where the message
alone is ambiguous, the argv that was run.  The rules follow
``shared/reference/error-catalog.md`` §1.
"""
from __future__ import annotations

import re
import shlex
from typing import Callable, Optional, Sequence, Type, Union

PERMISSION_HINT = "needs root or CAP_NET_ADMIN/CAP_SYS_ADMIN"


class NetnsWrapError(Exception):
    """Base of every error netnswrap raises.

    Errors that come from a command that ran carry it: ``argv`` (tuple of
    str), ``returncode``, ``stdout`` and ``stderr``; otherwise those are
    ``None``/empty.
    """

    def __init__(self, message: str = "", *, argv: Optional[Sequence[str]] = None,
                 returncode: Optional[int] = None, stdout: str = "", stderr: str = ""):
        self.argv = tuple(argv) if argv is not None else None
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.message = message or first_line(stderr) or type(self).__name__
        super().__init__(self.message)

    @property
    def command(self) -> str:
        """The command as a shell line ('' when no command ran)."""
        return shlex.join(self.argv) if self.argv else ""

    def __str__(self) -> str:
        if not self.argv:
            return self.message
        status = "" if self.returncode is None else f", exit status {self.returncode}"
        return f"{self.message} (command: {self.command}{status})"


class CommandError(NetnsWrapError):
    """A command ran and failed; carries argv, returncode, stdout, stderr."""


class NamespaceExists(CommandError):
    """The network namespace already exists."""


class NamespaceNotFound(CommandError):
    """No network namespace of that name."""


class LinkExists(CommandError):
    """A link of that name already exists in the namespace."""


class LinkNotFound(CommandError):
    """No link of that name in the namespace."""


class AddressExists(CommandError):
    """The address is already assigned to the device."""


class AddressNotFound(CommandError):
    """The address is not assigned to the device."""


class RouteExists(CommandError):
    """A route to that destination (with that metric, in that table) already exists."""


class RouteNotFound(CommandError):
    """No such route."""


class ContainerNotFound(CommandError):
    """No container engine knows that container (name, ID or ID prefix)."""


class PermissionDenied(CommandError):
    """The caller lacks the rights (root or CAP_NET_ADMIN/CAP_SYS_ADMIN)."""

    def __str__(self) -> str:
        return f"{super().__str__()}: {PERMISSION_HINT}"


class ProcessNotFound(CommandError):
    """No process with that PID (or it has no network namespace to enter)."""


class NotSupported(CommandError):
    """The kernel, driver or tool does not support the operation."""


class DeviceCannotMove(NotSupported):
    """The device is netns-local (netns-immutable): it cannot change namespace."""


class ToolUnsupported(NotSupported):
    """The tool in use lacks the option (busybox ``ip -n``, ethtool ``--json -S``)."""


class InvalidArgument(NetnsWrapError, ValueError):
    """A bad name, address, MTU or option.

    Raised before any process starts when netnswrap's own validation refuses a
    value (then ``argv`` is None), or when a tool or the kernel refuses one.
    """


class InvalidName(InvalidArgument):
    """An interface or namespace name that breaks the naming rules."""


class InvalidAddress(InvalidArgument):
    """An IP prefix or link-layer address that cannot be used."""


class InvalidMTU(InvalidArgument):
    """An MTU outside what the device allows."""


class UsageError(InvalidArgument):
    """The tool did not understand its command line."""


# Debian packages of the programs netnswrap runs, for install hints.
PACKAGES = {"ip": "iproute2", "ethtool": "ethtool", "nsenter": "util-linux",
            "lsns": "util-linux", "unshare": "util-linux", "busybox": "busybox",
            "ping": "iputils-ping", "sysctl": "procps", "docker": "docker.io",
            "podman": "podman", "nerdctl": "nerdctl", "crictl": "cri-tools"}


class ToolNotFound(NetnsWrapError):
    """A program is missing: ``tool`` names it, ``package`` the Debian package."""

    def __init__(self, tool: str, **kwargs):
        self.tool = tool
        self.package = package = PACKAGES.get(tool.rsplit("/", 1)[-1])
        hint = f"install the Debian package '{package}'" if package else "install it or fix PATH"
        super().__init__(f"{tool}: command not found ({hint})", **kwargs)


class CommandTimeout(NetnsWrapError):
    """A command ran past its timeout and was killed with its children."""

    def __init__(self, argv: Sequence[str], timeout: float, stdout: str = "", stderr: str = "",
                 returncode: Optional[int] = None):
        self.timeout = timeout
        super().__init__(f"timed out after {timeout:g} s and was killed", argv=argv,
                         returncode=returncode, stdout=stdout, stderr=stderr)


class ParseError(NetnsWrapError):
    """A tool's output could not be parsed."""


class ReplayMismatch(NetnsWrapError):
    """A replayed run asked for a command the cassette does not hold."""


class CassetteError(NetnsWrapError):
    """A cassette file is missing, unreadable or not a netnswrap cassette."""


def first_line(text: str) -> str:
    """The first non-empty line of ``text``, stripped ('' if none)."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


# --- the classifier ---------------------------------------------------------

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
    for full in ("link", "address", "netns"):
        if full.startswith(words[0]):
            return "addr" if full == "address" else full
    return words[0]


def _is_move(argv: Sequence[str]) -> bool:
    words = _ip_words(argv)
    return _ip_object(argv) == "link" and "set" in words[1:2] and "netns" in words


def _has_bad_ifname(argv: Sequence[str]) -> bool:
    from .validate import ifname_problem
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
_COMPILED = [(re.compile(pattern), target) for pattern, target in RULES]
# What `ip -batch` prints after a failing line: the script (`-` for stdin) and the line number.
BATCH_FAILED = re.compile(r"^Command failed (?P<file>.*):(?P<line>\d+)$")
_EXEC_WRAPPERS = ("nsenter",)


def _runs_a_program(argv: Sequence[str]) -> bool:
    """True when argv executes another program whose exit status it passes on."""
    args = list(argv)
    head = args[0].rsplit("/", 1)[-1] if args else ""
    return head in _EXEC_WRAPPERS or (head == "ip" and args[1:3] == ["netns", "exec"])


def _resolve(target: Rule, argv: Sequence[str], match: "re.Match") -> Type[NetnsWrapError]:
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
    for line in lines:
        for pattern, target in _COMPILED:
            found = pattern.search(line)
            if found:
                cls, message = _resolve(target, argv, found), line.strip()
                break
        else:
            continue
        break
    if cls is CommandError and not message:
        message = (f"{inner_command(argv)[0] if _runs_a_program(argv) else argv[0]}"
                   f" failed with exit status {returncode}")
    kwargs = dict(argv=argv, returncode=returncode, stdout=stdout, stderr=stderr)
    if cls is ToolNotFound:
        error: NetnsWrapError = ToolNotFound(_missing_program(message), **kwargs)
    else:
        error = cls(message, **kwargs)
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
