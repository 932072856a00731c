"""Round trip, live, on random labs: apply a generated lab, export it,
destroy it, apply the export, and compare ``nw.topology()`` before and after
(normalised: ifindexes, MACs, link-local and automatic addresses aside).

Labs are drawn from a seeded random generator: 2–4 namespaces, veth pairs
(sometimes both ends in one namespace), bridges with ports, taps, VXLANs,
macvlans on veth ends, MTUs, interfaces left down, IPv4 and IPv6 addresses,
routes through a gateway or a device, with metrics, and ip_forward.

``NW_LAB_EXAMPLES`` sets how many labs (default 5, so the suite stays
quick; the issue's run is ``NW_LAB_EXAMPLES=50``), ``NW_LAB_SEED`` the first
seed (default 1); a failure names the seed that reproduces it.
"""
from __future__ import annotations

import os
import random

import pytest

import netnswrap as nw
from netnswrap.pytest_plugin import cannot_create_namespaces

from lab_helpers import new_prefix, ours, remove, snapshot

EXAMPLES = int(os.environ.get("NW_LAB_EXAMPLES", "5"))
FIRST_SEED = int(os.environ.get("NW_LAB_SEED", "1"))

pytestmark = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "root")


def random_lab(rng: random.Random, prefix: str) -> dict:
    """A lab in the file format, every piece of it buildable."""
    names = [f"{prefix}n{i}" for i in range(rng.randint(2, 4))]
    spaces: dict = {name: {"links": {}, "interfaces": {}, "routes": []} for name in names}
    for name in names:
        space = spaces[name]
        if rng.random() < 0.5:
            space["links"]["br0"] = {"kind": "bridge"}
        if rng.random() < 0.3:
            space["links"]["tap0"] = {"kind": "tap"}
        if rng.random() < 0.3:
            space["links"]["vx0"] = {"kind": "vxlan", "id": rng.randint(1, 2**24 - 1), "dstport": 4789}
        if rng.random() < 0.3:
            space["sysctls"] = {"net.ipv4.ip_forward": "1"}
    links, counters = [], dict.fromkeys(names, 0)
    for pair in range(rng.randint(1, 4)):
        a, b = rng.choice(names), rng.choice(names)
        ends = []
        for ns in (a, b):
            counters[ns] += 1
            ends.append((ns, f"v{counters[ns]}"))
        links.append({"endpoints": [f"{ns}:{dev}" for ns, dev in ends]})
        for host, (ns, dev) in enumerate(ends, 1):
            settings: dict = {}
            space = spaces[ns]
            if rng.random() < 0.3:
                settings["mtu"] = rng.choice([1280, 1400, 1500, 9000])
            if "br0" in space["links"] and rng.random() < 0.4:
                settings["master"] = "br0"
            else:
                settings["addresses"] = [f"10.{100 + pair}.{host}.1/16"]
                if rng.random() < 0.4:
                    settings["addresses"].append(f"fd{pair:02x}::{host}/64")
            settings["up"] = rng.random() < 0.85
            # routes through the other end (when it is in another namespace), or the device
            if settings["up"] and "addresses" in settings and a != b:
                other = f"10.{100 + pair}.{3 - host}.1"
                roll = rng.random()
                if roll < 0.4:
                    route = {"dst": f"10.{200 + pair}.{host}.0/24", "via": other}
                    if rng.random() < 0.5:
                        route["metric"] = rng.randint(1, 500)
                    space["routes"].append(route)
                elif roll < 0.6:
                    space["routes"].append({"dst": f"10.{220 + pair}.{host}.0/24", "dev": dev})
                elif roll < 0.7 and len(settings["addresses"]) == 2:
                    space["routes"].append({"dst": f"fd{pair + 64:02x}:{host}::/64", "via": f"fd{pair:02x}::{3 - host}"})
            if rng.random() < 0.15 and "master" not in settings:
                space["links"][f"mv{dev}"] = {"kind": "macvlan", "link": dev, "mode": "bridge"}
            space["interfaces"][dev] = settings
    for name in names:
        space = spaces[name]
        if "br0" in space["links"] and rng.random() < 0.7:
            space["interfaces"]["br0"] = {"addresses": [f"10.{150 + names.index(name)}.0.1/24"]}
        if "tap0" in space["links"]:
            space["interfaces"]["tap0"] = {"up": rng.random() < 0.5}
    return {"namespaces": spaces, "links": links}


def retried(fn, *args, tries: int = 3):
    """``fn(*args)``, again when the core's topology read fails under other
    sessions' churn (lsns exits 1 when processes vanish while it reads)."""
    for attempt in range(tries):
        try:
            return fn(*args)
        except nw.NetnsWrapError:
            if attempt == tries - 1:
                raise


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + EXAMPLES))
def test_export_of_a_random_lab_builds_it_again(seed):
    prefix = new_prefix()
    lab = random_lab(random.Random(seed), prefix)
    try:
        nw.apply(lab)
        assert nw.plan(lab) == [], f"seed {seed}: not converged after one apply"
        names = sorted(lab["namespaces"])
        before = snapshot(names)
        exported = retried(nw.export, names)
        assert nw.plan(exported) == [], f"seed {seed}: the export does not describe the live lab"
        nw.destroy(lab)
        assert ours(prefix) == []
        nw.apply(exported)
        after = snapshot(names)
        assert after == before, f"seed {seed}: rebuilt from the export, the lab differs"
    finally:
        remove(prefix)
