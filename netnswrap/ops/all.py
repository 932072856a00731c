"""Every object's mixins in one place: a handle is :class:`WriteMethods` and
:class:`ReadMethods`, a batch scope :class:`WriteMethods` only. A new object's module
is added here, once."""
from __future__ import annotations

from .addr import AddrReads, AddrWrites
from .ethtool import EthtoolReads
from .link import LinkReads, LinkWrites
from .neigh import NeighReads, NeighWrites
from .netns import NetnsReads, NetnsWrites
from .program import ProgramOps
from .route import RouteReads, RouteWrites
from .sysctl import SysctlReads, SysctlWrites


class WriteMethods(NetnsWrites, LinkWrites, AddrWrites, RouteWrites, NeighWrites, SysctlWrites):
    """Every change method: run now by a handle, later by a batch."""


class ReadMethods(NetnsReads, LinkReads, AddrReads, RouteReads, NeighReads, SysctlReads, EthtoolReads,
            ProgramOps):
    """Every question (and program) method: a handle's only."""
