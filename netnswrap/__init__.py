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

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (AddressExists, AddressNotFound, CassetteError, CommandError, CommandTimeout,
                     ContainerNotFound, DeviceCannotMove, InvalidAddress, InvalidArgument, InvalidMTU,
                     InvalidName, LinkExists, LinkNotFound, NamespaceExists, NamespaceNotFound,
                     NetnsWrapError, NotSupported, ParseError, PermissionDenied, ProcessNotFound,
                     ReplayMismatch, RouteExists, RouteNotFound, ToolNotFound, ToolUnsupported,
                     UsageError)

__version__ = "0.2.0"

# The methods of Netns that are also module-level functions on the caller's namespace.
HANDLE_METHODS = (
    "netns_add", "netns_del", "netns_list", "netns_exists", "netns_pids", "netns_identify",
    "netns_attach", "link_list", "link_show", "veth_add", "bridge_add", "link_add", "link_set",
    "link_set_up", "link_set_down", "link_del", "addr_list", "addr_add", "addr_del", "addr_flush",
    "ethtool_stats", "ethtool_features", "ethtool_driver", "can_move", "exec", "spawn",
    "route_list", "route_add", "route_replace", "route_del", "route_get", "neigh_list", "neigh_add",
    "neigh_del", "sysctl_get", "sysctl_set", "veth_peer", "topology", "batch",
)

# What the package exports, and the module that holds it: loaded when first
# asked for, so that `import netnswrap` costs no more than the exceptions.
_LAZY = {"Netns": "handle", "Result": "result", "Runner": "runners", "DryRunRunner": "runners",
         "ShRunner": "shrunner", "RecordingRunner": "cassette", "ReplayRunner": "cassette",
         "use_runner": "defaults", "get_runner": "defaults", "cleanup": "batch_undo",
         "Process": "process", "plan": "lab", "apply": "lab", "destroy": "lab", "export": "lab"}


def __getattr__(name: str) -> Any:
    """A module-level function (a bound method of ``Netns()``, the caller's
    namespace with the default runner of each call) or an export, loaded
    once and kept."""
    if name in HANDLE_METHODS:
        from .handle import Netns
        value = getattr(Netns(), name)
    elif name == "lab":  # the declarative labs' package (nw.lab.rename, nw.lab.dump…)
        value = importlib.import_module(f"{__name__}.lab")
    elif name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    else:
        raise AttributeError(f"module 'netnswrap' has no attribute {name!r}")
    globals()[name] = value
    return value


if TYPE_CHECKING:  # what __getattr__ gives, for type checkers
    from .batch_undo import cleanup
    from .cassette import RecordingRunner, ReplayRunner
    from .defaults import get_runner, use_runner
    from .handle import Netns
    from . import lab, lab as _lab
    from .process import Process
    from .result import Result
    from .runners import DryRunRunner, Runner
    from .shrunner import ShRunner

    apply, destroy, export, plan = _lab.apply, _lab.destroy, _lab.export, _lab.plan
    _caller = Netns()
    netns_add = _caller.netns_add
    netns_del = _caller.netns_del
    netns_list = _caller.netns_list
    netns_exists = _caller.netns_exists
    netns_pids = _caller.netns_pids
    netns_identify = _caller.netns_identify
    netns_attach = _caller.netns_attach
    link_list = _caller.link_list
    link_show = _caller.link_show
    veth_add = _caller.veth_add
    bridge_add = _caller.bridge_add
    link_add = _caller.link_add
    link_set = _caller.link_set
    link_set_up = _caller.link_set_up
    link_set_down = _caller.link_set_down
    link_del = _caller.link_del
    addr_list = _caller.addr_list
    addr_add = _caller.addr_add
    addr_del = _caller.addr_del
    addr_flush = _caller.addr_flush
    ethtool_stats = _caller.ethtool_stats
    ethtool_features = _caller.ethtool_features
    ethtool_driver = _caller.ethtool_driver
    can_move = _caller.can_move
    exec = _caller.exec
    spawn = _caller.spawn
    route_list = _caller.route_list
    route_add = _caller.route_add
    route_replace = _caller.route_replace
    route_del = _caller.route_del
    route_get = _caller.route_get
    neigh_list = _caller.neigh_list
    neigh_add = _caller.neigh_add
    neigh_del = _caller.neigh_del
    sysctl_get = _caller.sysctl_get
    sysctl_set = _caller.sysctl_set
    veth_peer = _caller.veth_peer
    topology = _caller.topology
    batch = _caller.batch


__all__ = [
    "Netns", "Result", "Runner", "DryRunRunner", "ShRunner", "RecordingRunner", "ReplayRunner",
    "Process", "use_runner", "get_runner", "cleanup", "NetnsWrapError", "CommandError",
    "NamespaceExists", "NamespaceNotFound", "LinkExists", "LinkNotFound", "AddressExists",
    "AddressNotFound", "RouteExists", "RouteNotFound", "ContainerNotFound", "PermissionDenied",
    "DeviceCannotMove", "ProcessNotFound", "NotSupported", "ToolUnsupported", "InvalidArgument",
    "InvalidName", "InvalidAddress", "InvalidMTU", "UsageError", "ToolNotFound", "CommandTimeout",
    "ParseError", "ReplayMismatch", "CassetteError", "plan", "apply", "destroy", "export",
    *HANDLE_METHODS,
]
