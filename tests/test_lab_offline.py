"""Plan and export offline, on real recordings: ``nw.topology()`` and the
sysctls of each example lab as it stood applied on a live host
(fixtures/lab/*.live.json, made by fixtures/lab/record.py).

The applied example, and its export, plan to nothing against the recorded
state; each drift made in the recorded state is planned as exactly its fix.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import netnswrap as nw
from netnswrap.lab.export import spec_of
from netnswrap.lab.live import State
from netnswrap.lab.plan import lines, record
from netnswrap.lab.spec import load
from netnswrap.runners import DryRunRunner

from lab_helpers import EXAMPLES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lab"
NAMES = ("star", "three-tier", "docker-host")


def recording(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.live.json").read_text())


def state_of(recorded: dict) -> State:
    """The recorded host as the plan's live state (the same ``ip -d -j`` dicts it reads)."""
    spaces = recorded["topology"]["namespaces"]
    return State(namespaces={space["name"] for space in spaces},
                 links={space["name"]: {link["ifname"]: link for link in space["links"]} for space in spaces},
                 routes={space["name"]: space["routes"] for space in spaces},
                 sysctls=recorded["sysctls"])


def planned(spec, state: State) -> list:
    batch = nw.Netns(runner=DryRunRunner()).batch()
    record(load(spec), state, batch)
    return [line for _, group in lines(batch) for line in group]


@pytest.mark.parametrize("name", NAMES)
def test_the_applied_example_plans_to_nothing(name):
    assert planned(str(EXAMPLES / f"{name}.yml"), state_of(recording(name))) == []


@pytest.mark.parametrize("name", NAMES)
def test_the_export_describes_the_recorded_host(name):
    recorded = recording(name)
    names = sorted(space["name"] for space in recorded["topology"]["namespaces"])
    exported = spec_of(recorded["topology"], names, recorded["sysctls"])
    assert sorted(exported["namespaces"]) == names
    assert planned(exported, state_of(recorded)) == []
    example = load(str(EXAMPLES / f"{name}.yml"))
    again = load(exported)
    assert {frozenset((v.a, v.b)) for v in again.veths} == {frozenset((v.a, v.b)) for v in example.veths}
    for ns, space in example.namespaces.items():
        assert again.namespaces[ns].sysctls == {k: str(v) for k, v in space.sysctls.items()}
        assert {dev: link.kind for dev, link in again.namespaces[ns].links.items()} == \
            {dev: link.kind for dev, link in space.links.items()}
        for dev, wanted in space.interfaces.items():
            got = again.namespaces[ns].interfaces[dev]
            assert set(wanted.addresses) <= set(got.addresses) and got.up == wanted.up, (ns, dev)
            assert wanted.mtu in (None, got.mtu) and wanted.master in (None, got.master), (ns, dev)
        assert {(r.dst, r.via, r.metric) for r in space.routes} <= \
            {(r.dst, r.via, r.metric) for r in again.namespaces[ns].routes}


def drifted(name: str, ns: str, change) -> State:
    recorded = copy.deepcopy(recording(name))
    space = next(s for s in recorded["topology"]["namespaces"] if s["name"] == ns)
    change(space)
    return state_of(recorded)


def link(space: dict, dev: str) -> dict:
    return next(entry for entry in space["links"] if entry["ifname"] == dev)


def test_drift_in_the_recorded_state_is_planned_as_its_fix():
    spec = str(EXAMPLES / "three-tier.yml")

    def no_address(space):
        info = link(space, "eth0")["addr_info"]
        info[:] = [a for a in info if a.get("local") != "10.70.3.11"]
    assert planned(spec, drifted("three-tier", "tt-db1", no_address)) == ["ip -n tt-db1 addr add 10.70.3.11/24 dev eth0"]

    def down(space):
        link(space, "br-app")["flags"].remove("UP")
    assert planned(spec, drifted("three-tier", "tt-core", down)) == ["ip -n tt-core link set dev br-app up"]

    def mtu(space):
        link(space, "uplink")["mtu"] = 1500
    assert planned(spec, drifted("three-tier", "tt-core", mtu)) == ["ip -n tt-core link set dev uplink mtu 9000"]

    def no_route(space):
        space["routes"] = [r for r in space["routes"] if r.get("dst") != "10.70.3.0/24"]
    assert planned(spec, drifted("three-tier", "tt-edge", no_route)) == \
        ["ip -n tt-edge route add 10.70.3.0/24 via 10.70.0.6 metric 10"]

    def other_gateway(space):
        next(r for r in space["routes"] if r.get("dst") == "default")["gateway"] = "10.70.1.99"
    assert planned(spec, drifted("three-tier", "tt-web2", other_gateway)) == \
        ["ip -n tt-web2 route replace default via 10.70.1.1"]

    def no_master(space):
        del link(space, "db1")["master"]
    assert planned(spec, drifted("three-tier", "tt-core", no_master)) == ["ip -n tt-core link set dev db1 master br-db"]


def test_a_missing_veth_end_is_made_again_with_all_its_settings():
    def gone(space):  # as the kernel leaves it: the link and the routes through it gone
        space["links"] = [entry for entry in space["links"] if entry["ifname"] != "eth0"]
        space["routes"] = [route for route in space["routes"] if route.get("dev") != "eth0"]
    state = drifted("star", "star-h4", gone)
    state.links["star-hub"].pop("p4")  # deleting one end deletes the other
    assert planned(str(EXAMPLES / "star.yml"), state) == [
        "ip -n star-hub link add p4 up master br0 type veth peer name eth0 netns star-h4",
        "ip -n star-h4 link set dev eth0 up mtu 1400",
        "ip -n star-h4 addr add 10.60.0.5/24 dev eth0",
        "ip -n star-h4 addr add fd60::5/64 dev eth0",
        "ip -n star-h4 route add default via 10.60.0.1",
    ]


def test_a_sysctl_written_with_leading_zeros_is_the_value_the_kernel_reads_back():
    from netnswrap.lab.plan import _sysctl_words
    assert _sysctl_words("01") == _sysctl_words("1") == ["1"]
    assert _sysctl_words("1024\t65000") == _sysctl_words("1024 65000") != _sysctl_words("1024 65001")
    assert _sysctl_words("-1") == ["-1"] and _sysctl_words("on") == ["on"]
