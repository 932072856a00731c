"""The exception hierarchy: classes only (which failure raises which is
:mod:`netnswrap.classify`'s job)."""
from __future__ import annotations

import shlex
from typing import Optional, Sequence

PERMISSION_HINT = "needs root or CAP_NET_ADMIN/CAP_SYS_ADMIN"


class NetnsWrapError(Exception):
    """Base of every error netnswrap raises.

    Errors that come from a command that ran carry it: ``argv`` (tuple of
    str), ``returncode``, ``stdout`` and ``stderr``; otherwise those are
    ``None``/empty.
    """

    batch_line: Optional[int] = None  # the line of an ip -batch script the failure came from
    undo_failed: Sequence[str] = ()   # what a failed batch's undo could not take back

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
