"""netnswrap: Linux network namespaces, veth pairs, bridges, addresses and NIC
statistics through the real tools (``ip``, ``ethtool``, ``nsenter``), run via
``sh`` and parsed into ``ip -j``-shaped dicts — live, recorded, replayed or
dry-run.

    import netnswrap as nw
    with nw.netns_add("blue") as blue:
        nw.veth_add("veth0", "veth1", peer_netns=blue)
        blue.addr_add("veth1", "10.1.1.1/24")

Module-level functions act on the caller's own namespace with the default
runner: ``nw.link_list()`` is ``nw.Netns().link_list()``.
"""
from __future__ import annotations

import functools

from .errors import (AddressExists, AddressNotFound, CassetteError, CommandError, CommandTimeout,
                     DeviceCannotMove, InvalidAddress, InvalidArgument, InvalidMTU, InvalidName,
                     LinkExists, LinkNotFound, NamespaceExists, RouteExists, RouteNotFound, ContainerNotFound, NamespaceNotFound, NetnsWrapError,
                     NotSupported, ParseError, PermissionDenied, ProcessNotFound, ReplayMismatch,
                     ToolNotFound, ToolUnsupported, UsageError)
from .netns import Netns
from .runners import DryRunRunner, Result, Runner, get_runner, use_runner

# Loaded now: importing a submodule later would set nw.batch / nw.topology to
# the module, over the functions of those names defined below.
from . import batch as _batch, topology as _topology  # noqa: F401

__version__ = "0.1.0"

# The methods of Netns that are also module-level functions on the caller's namespace.
HANDLE_METHODS = (
    "netns_add", "netns_del", "netns_list", "netns_exists", "netns_pids", "netns_identify",
    "netns_attach", "link_list", "link_show", "veth_add", "bridge_add", "link_set",
    "link_set_up", "link_set_down", "link_del", "addr_list", "addr_add", "addr_del",
    "ethtool_stats", "ethtool_features", "ethtool_driver", "can_move", "exec", "veth_peer",
    "topology", "batch",
)


def _on_own_namespace(name: str):
    method = getattr(Netns, name)

    @functools.wraps(method)
    def function(*args, **kwargs):
        return method(Netns(), *args, **kwargs)
    return function


for _name in HANDLE_METHODS:
    globals()[_name] = _on_own_namespace(_name)
del _name


def __getattr__(name: str):
    # Runners that bring in more code load when first asked for.
    if name == "ShRunner":
        from .shrunner import ShRunner
        return ShRunner
    if name in ("RecordingRunner", "ReplayRunner"):
        from . import cassette
        return getattr(cassette, name)
    raise AttributeError(f"module 'netnswrap' has no attribute {name!r}")


__all__ = [
    "Netns", "Result", "Runner", "DryRunRunner", "ShRunner", "RecordingRunner", "ReplayRunner",
    "use_runner", "get_runner", "NetnsWrapError", "CommandError", "NamespaceExists",
    "NamespaceNotFound", "LinkExists", "LinkNotFound", "AddressExists", "AddressNotFound",
    "RouteExists", "RouteNotFound", "ContainerNotFound", "PermissionDenied", "DeviceCannotMove", "ProcessNotFound", "NotSupported", "ToolUnsupported",
    "InvalidArgument", "InvalidName", "InvalidAddress", "InvalidMTU", "UsageError",
    "ToolNotFound", "CommandTimeout", "ParseError", "ReplayMismatch", "CassetteError",
    *HANDLE_METHODS,
]
