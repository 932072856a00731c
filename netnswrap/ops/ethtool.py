"""NIC facts through ``ethtool``: statistics, offload features, driver."""
from __future__ import annotations

from ..validate import check_ifname
from ..where import Argv
from . import Reads


def stats_argv(dev: str) -> Argv:
    """``ethtool -S DEV``"""
    return ("ethtool", "-S", check_ifname(dev))


def features_argv(dev: str) -> Argv:
    """``ethtool -k DEV``"""
    return ("ethtool", "-k", check_ifname(dev))


def driver_argv(dev: str) -> Argv:
    """``ethtool -i DEV``"""
    return ("ethtool", "-i", check_ifname(dev))


def features(handle: Reads, dev: str) -> dict:
    """``ethtool -k DEV`` in ``handle``'s namespace, parsed."""
    from ..parsers import ethtool_features
    from ..parsing import parse
    return parse(ethtool_features, handle.run(features_argv(dev)).stdout)


class EthtoolReads(Reads):
    def ethtool_stats(self, dev: str) -> dict:
        """NIC counters as ``{name: int}``. Equivalent to: ``ethtool -S DEV``"""
        from ..parsers import ethtool_stats
        from ..parsing import parse
        return parse(ethtool_stats, self.run(stats_argv(dev)).stdout)

    def ethtool_features(self, dev: str) -> dict:
        """Offload features as ``{name: {"active": bool, "fixed": bool, …}}``.
        Equivalent to: ``ethtool -k DEV``"""
        return features(self, dev)

    def ethtool_driver(self, dev: str) -> dict:
        """Driver information with snake_case keys. Equivalent to: ``ethtool -i DEV``"""
        from ..parsers import ethtool_driver
        from ..parsing import parse
        return parse(ethtool_driver, self.run(driver_argv(dev)).stdout)
