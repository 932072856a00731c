"""Kernel parameters inside a namespace: ``sysctl -n KEY`` / ``sysctl -w KEY=VALUE``.

``sysctl`` (package procps) runs inside the namespace: ``ip netns exec NS
sysctl …`` for a named one, ``nsenter -t PID -n sysctl …`` for a process's,
plain ``sysctl …`` in the caller's. Only the network namespace changes, so
only ``net.*`` keys belong to it: setting any other key there (``kernel.*``,
``vm.*``) would change the whole host, and is refused.

In a batch, a setting runs as the line ``netns exec NS sysctl -q -w
KEY=VALUE`` of the one ``ip -batch`` (``-q``: it prints nothing, so the
batch's progress count stays exact); a batch can run a program only in a
named namespace, so it refuses a setting in the caller's or a process's
namespace. A setting is not undone (the old value is not known).
"""
from __future__ import annotations

from ..errors import InvalidArgument
from ..validate import check_sysctl_key, check_sysctl_value
from ..where import Argv, Where
from . import Changes, Reads, Write


def get(key: str) -> Argv:
    """``sysctl -n KEY``"""
    return ("sysctl", "-n", check_sysctl_key(key))


def set_(where: Where, key: str, value) -> Write:
    """``sysctl -q -w KEY=VALUE`` in ``where``: for a named namespace the
    write is ``ip netns exec NS sysctl -q -w KEY=VALUE`` run from the caller's
    namespace (a line an ``ip -batch`` can run)."""
    setting = f"{check_sysctl_key(key)}={check_sysctl_value(value)}"
    if not where.is_caller and not key.startswith(("net.", "net/")):
        raise InvalidArgument(f"sysctl key {key!r} is not per network namespace: setting it in "
                              f"{where} would change the whole host (only net.* keys are)")
    argv: Argv = ("sysctl", "-q", "-w", setting)
    if where.name is None:
        return Write(argv)
    return Write(("ip", "netns", "exec", where.name) + argv, in_caller=True, touches=(where,))


class SysctlWrites(Changes):
    def sysctl_set(self, key: str, value) -> None:
        """Set a kernel parameter in this namespace, e.g.
        ``sysctl_set("net.ipv4.ip_forward", 1)``; outside the caller's
        namespace only ``net.*`` keys. Equivalent to: ``sysctl -w KEY=VALUE``
        (``ip netns exec NS sysctl -q -w KEY=VALUE``)"""
        self._apply(set_(self.where, key, value))


class SysctlReads(Reads):
    def sysctl_get(self, key: str) -> str:
        """A kernel parameter as seen in this namespace (a str, as ``sysctl``
        prints it: several values are tab-separated).
        Equivalent to: ``sysctl -n KEY`` (``ip netns exec NS sysctl -n KEY``)"""
        out = self.run(get(key), as_program=True).stdout
        return out[:-1] if out.endswith("\n") else out
