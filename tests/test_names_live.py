"""Valid input accepted, live, in namespaces of ours (prefix ``nwhd``): MTUs
the device allows (its own limits, the kernel's answer), and namespaces
other tools made under names netnswrap would not create. The kernel's
answers come from ``tests/kernel.py``."""
from __future__ import annotations

import os
import subprocess

import pytest

import netnswrap as nw
from netnswrap.pytest_plugin import cannot_create_namespaces
from netnswrap.validate import check_netns_name, check_netns_ref

import kernel
from test_peers_live import ip

pytestmark = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "-")


@pytest.fixture
def netns(netns_factory):
    return netns_factory("nwhd")


# --- MTU: the device's limits -------------------------------------------------------

def test_lo_takes_its_default_mtu_and_more(netns):
    assert kernel.link(netns.name, "lo")["max_mtu"] == 0  # no upper limit of its own
    for mtu in (1500, 65536, 70000, 2 ** 31 - 1):
        netns.link_set("lo", mtu=mtu)
        assert kernel.link(netns.name, "lo")["mtu"] == mtu


def test_a_veth_refuses_what_is_beyond_its_limits_through_the_kernel(netns):
    ip("-n", netns.name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    limits = kernel.link(netns.name, "v0")
    for mtu, said in ((limits["max_mtu"] + 1, "greater than device maximum"),
                      (limits["min_mtu"] - 1, "less than device minimum")):
        with pytest.raises(nw.InvalidMTU, match=said) as caught:
            netns.link_set("v0", mtu=mtu)
        assert caught.value.argv is not None  # the kernel's answer, not a guess before it
    assert kernel.link(netns.name, "v0")["mtu"] == 1500
    netns.link_set("v0", mtu=limits["max_mtu"])
    assert kernel.link(netns.name, "v0")["mtu"] == limits["max_mtu"]


def test_beyond_what_ip_reads_is_refused_before_anything_runs(netns):
    for mtu in (2 ** 31, -1, 1500.0, "1500"):
        with pytest.raises(nw.InvalidMTU) as caught:
            netns.link_set("lo", mtu=mtu)
        assert caught.value.argv is None


# --- namespaces other tools made ---------------------------------------------------

@pytest.fixture
def odd():
    """A namespace ``ip netns add`` makes under a name netnswrap would not
    create (spaces, a quote, a leading '-'), with a veth ``oa`` to its ``ob``
    in a namespace of ours; deleted afterwards whatever happens."""
    name = f"nwhd{os.getpid()} made by 'other' tools"
    ip("netns", "add", name)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_the_rule_for_reported_names_is_permissive_and_the_one_for_new_names_strict(odd):
    assert check_netns_ref(odd) == odd
    for reported in ("-x", "a\tb", "a\nb", "é" * 127, "..."):
        assert check_netns_ref(reported) == reported
    for bad in ("", ".", "..", "a/b", "a\0b", "x" * 256, None, 3):
        with pytest.raises(nw.InvalidName):
            check_netns_ref(bad)
    with pytest.raises(nw.InvalidName):
        check_netns_name(odd)
    with pytest.raises(nw.InvalidName):
        nw.netns_add(odd)  # typed for a new namespace: still refused


def test_topology_reads_a_namespace_other_tools_named(odd, netns):
    ip("-n", odd, "link", "add", "oa", "type", "veth", "peer", "name", "ob", "netns", netns.name)
    topology = nw.Netns().topology()
    space = next(s for s in topology["namespaces"] if s["name"] == odd)
    assert space["readable"] and sorted(link["ifname"] for link in space["links"]) == ["lo", "oa"]
    pair = next(p for p in topology["veth_pairs"] if p[0] and p[0]["netns"] in (odd, netns.name))
    assert {(end["netns"], end["ifname"]) for end in pair} == {(odd, "oa"), (netns.name, "ob")}


def test_a_handle_on_a_namespace_other_tools_named_reads_it(odd):
    assert [link["ifname"] for link in nw.Netns(odd).link_list()] == ["lo"]


def test_a_peer_in_a_namespace_other_tools_named_is_resolved(odd, netns):
    ip("-n", odd, "link", "add", "oa", "type", "veth", "peer", "name", "ob", "netns", netns.name)
    assert netns.veth_peer("ob")["netns"] == odd


def test_a_namespace_other_tools_named_can_be_deleted(odd):
    nw.netns_del(odd)
    assert odd not in kernel.namespaces()
