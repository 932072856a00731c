"""jc-compatible parsers for the outputs netnswrap reads.

Each module follows jc's parser contract (``info``, ``__version__``,
``parse(data, raw=False, quiet=False)``), so ``jc.parse(module, text)``
works; :func:`netnswrap.parsing.parse` is the one place that calls jc.
"""
from . import (ethtool_driver, ethtool_features, ethtool_stats, ip_addr, ip_link, ip_neigh,
               ip_netns, ip_route)

__all__ = ["ip_link", "ip_addr", "ip_netns", "ip_route", "ip_neigh", "ethtool_stats",
           "ethtool_features", "ethtool_driver"]
