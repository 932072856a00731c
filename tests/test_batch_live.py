"""Batches, live, as root, checked against the kernel's own ``ip -j``.

Every batch runs inside a throwaway namespace (prefix ``nw8``, the plugin's
``netns_factory``): the bridge and veth ends it makes live there, never in
the caller's namespace; the namespaces a batch creates get unique ``nw8``
names and are deleted after the test whatever happened.
"""
from __future__ import annotations

import subprocess
import time

import pytest

import netnswrap as nw
from netnswrap.pytest_plugin import unique_netns_name

import kernel


@pytest.fixture
def home(netns_factory):
    """The namespace the batches run in (their 'root')."""
    return netns_factory("nw8")


@pytest.fixture
def names(home):
    """Make unique namespace names; whatever of them exists after the test is deleted."""
    made = []

    def make(count):
        made.extend(unique_netns_name("nw8") for _ in range(count))
        return made[-count:]

    yield make
    for name in made:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def links(netns):
    return {link["ifname"]: link for link in kernel.ip_json(netns, "-d", "link")}


def star(b, hosts):
    b.bridge_add("br0")
    b.link_set_up("br0")
    for i, name in enumerate(hosts, 1):
        host = b.netns_add(name)
        b.veth_add(f"v{i}", "eth0", peer_netns=host)
        b.link_set(f"v{i}", master="br0", up=True)
        host.addr_add("eth0", f"10.88.0.{i}/24")
        host.link_set_up("eth0")
        host.link_set_up("lo")


def eventually(condition, timeout=10.0):
    """Wait for the kernel's asynchronous namespace cleanup (not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_star_is_built_and_torn_down(home, names):
    hosts = names(3)
    with home.batch() as b:
        star(b, hosts)
    assert set(hosts) <= kernel.namespaces()
    root = links(home.name)
    assert root["br0"]["linkinfo"]["info_kind"] == "bridge" and "UP" in root["br0"]["flags"]
    for i, name in enumerate(hosts, 1):
        assert root[f"v{i}"]["master"] == "br0" and "UP" in root[f"v{i}"]["flags"]
        inside = links(name)
        assert "UP" in inside["eth0"]["flags"] and "UP" in inside["lo"]["flags"]
        assert kernel.ipv4(name, "eth0") == [f"10.88.0.{i}/24"]
    ping = subprocess.run(["ip", "netns", "exec", hosts[0], "ping", "-c", "1", "-W", "5", "10.88.0.3"],
                          capture_output=True, text=True)
    assert ping.returncode == 0, ping.stdout + ping.stderr

    with home.batch() as b:
        for name in hosts:
            b.netns_del(name)
        b.link_del("br0")
    assert not set(hosts) & kernel.namespaces()
    assert eventually(lambda: set(links(home.name)) == {"lo"})


def test_failure_raises_the_lines_error_and_leaves_the_system_as_it_was(home, names):
    first, second = names(2)
    home.veth_add("old0", "old1")
    home.addr_add("old0", "10.88.1.1/24")
    before = set(links(home.name))
    with pytest.raises(nw.AddressExists) as raised:
        with home.batch() as b:
            b.bridge_add("br0")
            b.addr_add("old0", "10.88.1.2/24")           # on a link that was there
            b.netns_add(first)
            b.veth_add("v1", "eth0", peer_netns=first)
            b.netns(first).addr_add("eth0", "10.88.0.1/24")
            b.netns_add(second)
            b.netns(second).addr_add("lo", "10.88.0.2/24")
            b.netns(second).addr_add("lo", "10.88.0.2/24")  # fails
    assert raised.value.argv == ("ip", "-n", second, "addr", "add", "10.88.0.2/24", "dev", "lo")
    assert not {first, second} & kernel.namespaces()
    assert set(links(home.name)) == before               # br0 and v1 already gone: no waiting
    assert kernel.ipv4(home.name, "old0") == ["10.88.1.1/24"]


def test_words_in_double_quotes_run_and_are_undone(home, names):
    (first,) = names(1)
    with pytest.raises(nw.LinkExists):
        with home.batch() as b:
            inside = b.netns_add(first)
            inside.link_add("q'1", "bridge")                                # a name with a single quote
            inside.sysctl_set("net.ipv4.ping_group_range", "0 2147483647")  # a value with a space
            inside.bridge_add("q'1")                                        # fails
    assert first not in kernel.namespaces()
    with home.batch() as b:
        inside = b.netns_add(first)
        inside.link_add("q'1", "bridge", up=True)
        inside.sysctl_set("net.ipv4.ping_group_range", "0\t2147483647")
    assert "UP" in kernel.link(first, "q'1")["flags"]
    assert nw.Netns(first).sysctl_get("net.ipv4.ping_group_range") == "0\t2147483647"


def test_parse_error_without_line_number_is_undone_too(home, names):
    (first,) = names(1)
    with pytest.raises(nw.NamespaceNotFound) as raised:
        with home.batch() as b:
            b.netns_add(first)
            b.bridge_add("br0")
            b.veth_add("v1", "eth0", peer_netns="nw8-no-such-namespace")
    assert raised.value.argv == ("ip", "-n", home.name, "link", "add", "v1", "type", "veth", "peer",
                                 "name", "eth0", "netns", "nw8-no-such-namespace")
    assert first not in kernel.namespaces()
    assert set(links(home.name)) == {"lo"}


def test_existing_namespace_is_not_deleted_by_the_undo(home, names, netns_factory):
    (first,) = names(1)
    existing = netns_factory("nw8")
    with pytest.raises(nw.NamespaceExists):
        with home.batch() as b:
            b.netns_add(first)
            b.netns_add(existing.name)
    assert existing.name in kernel.namespaces()
    assert first not in kernel.namespaces()
