"""Named network namespaces: ``ip netns add/del/attach/list/pids/identify``.

Names are the host's, so the changes run in the caller's namespace whatever
the handle (``ip -n NS netns add X`` would bind X in ip's private mount
namespace, gone when ip exits).
"""
from __future__ import annotations

from typing import List, Optional

from ..validate import check_netns_name, check_netns_ref, check_pid
from ..where import Argv, Where
from . import Changes, Reads, S, Undo, Write


def add(name: str) -> Write:
    """``ip netns add NAME`` (undone by ``ip netns del NAME``)"""
    check_netns_name(name)
    return Write(("ip", "netns", "add", name), in_caller=True, touches=(Where(name),),
                 undo=Undo(("ip", "netns", "del", name)))


def delete(name: str) -> Write:
    """``ip netns del NAME`` (not undone: what was inside is gone)"""
    return Write(("ip", "netns", "del", check_netns_ref(name)), in_caller=True, touches=(Where(name),),
                 deletes_netns=True)


def attach(name: str, pid: int) -> Write:
    """``ip netns attach NAME PID`` (undone by ``ip netns del NAME``, which
    removes the name only: the process keeps its namespace)"""
    check_netns_name(name)
    return Write(("ip", "netns", "attach", name, check_pid(pid)), in_caller=True, touches=(Where(name),),
                 undo=Undo(("ip", "netns", "del", name)))


def list_(json: bool = True) -> Argv:
    """``ip -j netns list`` (``ip netns list`` with ``json=False``)"""
    return ("ip", "-j", "netns", "list") if json else ("ip", "netns", "list")


def list_id() -> Argv:
    """``ip netns list-id``"""
    return ("ip", "netns", "list-id")


def pids(name: str) -> Argv:
    """``ip netns pids NAME``"""
    return ("ip", "netns", "pids", check_netns_ref(name))


def identify(pid: int) -> Argv:
    """``ip netns identify PID``"""
    return ("ip", "netns", "identify", check_pid(pid))


class NetnsWrites(Changes):
    def netns_add(self: S, name: str) -> S:
        """Create a named namespace. A handle returns the new namespace's
        handle, a context manager that deletes it when the block ends; a
        batch returns the scope for changes inside it.
        Equivalent to: ``ip netns add NAME``"""
        self._apply(add(name))
        return self._scope(name, created=True)

    def netns_del(self, name: str) -> None:
        """Delete a named namespace. Equivalent to: ``ip netns del NAME``"""
        self._apply(delete(name))

    def netns_attach(self: S, name: str, pid: int) -> S:
        """Give the namespace of process ``pid`` a name; returns its handle
        (or batch scope). Equivalent to: ``ip netns attach NAME PID``"""
        self._apply(attach(name, pid))
        return self._scope(name, created=False)


class NetnsReads(Reads):
    def netns_list(self) -> List[dict]:
        """Named namespaces, as ``[{"name": str, "id": int}]`` (``id`` only where
        this namespace has an nsid for it). Equivalent to: ``ip -j netns list``"""
        from ..parsers import ip_netns
        return self.read(list_(), list_(json=False), ip_netns)

    def netns_exists(self, name: str) -> bool:
        """Whether a namespace of that name exists.
        Equivalent to: ``ip netns list | grep -qx NAME``"""
        check_netns_ref(name)
        return any(entry.get("name") == name for entry in self.netns_list())

    def netns_pids(self, name: str) -> List[int]:
        """PIDs of the processes in a named namespace. Equivalent to: ``ip netns pids NAME``"""
        return [int(word) for word in self.run(pids(name)).stdout.split()]

    def netns_identify(self, pid: int) -> Optional[str]:
        """The name of the namespace process ``pid`` is in, or None if it has
        none. Equivalent to: ``ip netns identify PID``"""
        names = self.run(identify(pid)).stdout.split()
        return names[0] if names else None
