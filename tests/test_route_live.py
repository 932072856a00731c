"""Routes, neighbours, sysctls and link kinds, live, as root, checked against
the kernel's own ``ip -j`` (tests/kernel.py runs iproute2 directly).

Everything lives in throwaway namespaces named ``nwrt<PID>-…`` (the plugin's
``netns_factory``, or names made here and deleted after the test whatever
happened); the caller's own namespace is only read, and a sysctl of the
caller's namespace is set only inside ``unshare --net``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import netnswrap as nw
from netnswrap import render
from netnswrap.pytest_plugin import unique_netns_name

import kernel

PREFIX = "nwrt"
PING = ["ping", "-c", "1", "-W", "5"]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "router.py"


@pytest.fixture
def names():
    """Make unique namespace names; whatever of them exists after the test is deleted."""
    made = []

    def make(*roles):
        made.extend(unique_netns_name(f"{PREFIX}{role}") for role in roles)
        return made[-len(roles):]

    yield make
    for name in made:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def wire(r, h1, h2) -> None:
    """h1 ── eth1 [r] eth2 ── h2: on handles or batch scopes alike."""
    for number, host in ((1, h1), (2, h2)):
        r.link_add(f"eth{number}", "veth", peer="eth0", peer_netns=host)
        r.addr_add(f"eth{number}", f"10.76.{number}.1/24")
        host.addr_add("eth0", f"10.76.{number}.2/24")
        r.link_set_up(f"eth{number}")
        host.link_set_up("eth0")
        host.link_set_up("lo")
        host.route_add("default", via=f"10.76.{number}.1")
    r.sysctl_set("net.ipv4.ip_forward", 1)


def sysctl(netns: str, key: str) -> str:
    return subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-n", key], capture_output=True,
                          text=True, check=True).stdout.strip()


def check_routed(r: nw.Netns, h1: nw.Netns, h2: nw.Netns) -> None:
    assert sysctl(r.name, "net.ipv4.ip_forward") == "1" == r.sysctl_get("net.ipv4.ip_forward")
    assert sysctl(h1.name, "net.ipv4.ip_forward") == "0"  # only the router forwards
    h1.exec([*PING, "10.76.2.2"])
    h2.exec([*PING, "10.76.1.2"])
    path = h1.route_get("10.76.2.2")
    assert (path["dst"], path["gateway"], path["dev"], path["prefsrc"]) == ("10.76.2.2", "10.76.1.1",
                                                                           "eth0", "10.76.1.2")
    assert h2.route_get("10.76.1.2")["gateway"] == "10.76.2.1"
    assert "gateway" not in r.route_get("10.76.2.2")  # the router reaches both directly
    for host in (h1, h2):
        assert host.route_list() == kernel.ip_json(host.name, "route", "show")


def test_three_namespaces_routed_step_by_step(netns_factory):
    r, h1, h2 = (netns_factory(PREFIX) for _ in range(3))
    wire(r, h1, h2)
    check_routed(r, h1, h2)
    with pytest.raises(nw.RouteExists):
        h1.route_add("default", via="10.76.1.1")
    h2.route_del("default")  # h2 cannot answer any more
    with pytest.raises(nw.CommandError) as caught:
        h1.exec([*PING[:-1], "1", "10.76.2.2"])
    assert caught.value.returncode == 1 and "ping" in caught.value.command
    with pytest.raises(nw.RouteNotFound):
        h2.route_del("default")
    with pytest.raises(nw.RouteNotFound):
        h2.route_get("10.76.1.2")
    with pytest.raises(nw.InvalidArgument, match="gateway 10.8.0.1 is not on a network connected"):
        h2.route_add("default", via="10.8.0.1")
    h2.route_replace("default", via="10.76.2.1")
    h1.exec([*PING, "10.76.2.2"])


def test_three_namespaces_routed_as_one_batch(names):
    rname, h1name, h2name = names("r", "h", "h")
    with nw.batch() as b:
        r, h1, h2 = b.netns_add(rname), b.netns_add(h1name), b.netns_add(h2name)
        wire(r, h1, h2)
    check_routed(nw.Netns(rname), nw.Netns(h1name), nw.Netns(h2name))


def state(netns: str) -> tuple:
    """What the batch below may change: IPv4 routes of every table, IPv6 ones of
    table 100 (the kernel's own IPv6 link-local routes come and go with links),
    permanent neighbours, link names."""
    return (kernel.ip_json(netns, "-4", "route", "show", "table", "all"),
            [route for route in kernel.ip_json(netns, "-6", "route", "show", "table", "all")
             if route.get("table") == "100"],
            kernel.ip_json(netns, "neigh", "show", "nud", "permanent"),
            sorted(link["ifname"] for link in kernel.ip_json(netns, "link", "show")))


def test_a_failed_batch_undoes_its_routes_neighbours_and_links(netns_factory):
    r, h1, h2 = (netns_factory(PREFIX) for _ in range(3))
    wire(r, h1, h2)
    before = {ns.name: state(ns.name) for ns in (r, h1)}
    with pytest.raises(nw.RouteExists) as caught:
        with nw.batch() as b:
            b.netns(r.name).route_add("10.99.0.0/16", via="10.76.2.2", metric=10)
            b.netns(r.name).route_add("2001:db8:99::/64", dev="eth2", table=100)
            b.netns(r.name).neigh_add("10.76.1.9", "02:00:00:00:00:09", "eth1")
            b.netns(r.name).link_add("tap0", "tap")
            b.netns(r.name).link_add("mv0", "macvlan", link="eth1", mode="bridge")
            b.netns(h1.name).route_add("10.98.0.0/16", via="10.76.1.1", table=7)
            b.netns(h1.name).route_add("default", via="10.76.1.1")  # exists: the batch fails here
    assert caught.value.argv[:3] == ("ip", "-n", h1.name) and "default" in caught.value.argv
    assert {ns.name: state(ns.name) for ns in (r, h1)} == before


def test_routes_of_both_families_and_other_tables(netns):
    netns.link_add("v0", "veth", peer="v1")
    netns.addr_add("v0", "10.9.0.1/24")
    netns.addr_add("v0", "2001:db8:9::1/64")
    netns.link_set_up("v0")
    netns.link_set_up("v1")
    netns.route_add("10.20.0.0/16", via="10.9.0.2", metric=5)
    netns.route_add("10.21.0.0/16", dev="v0", src="10.9.0.1", table=100)
    netns.route_add("2001:db8:20::/64", via="2001:db8:9::2", table=100)
    netns.route_add("::/0", dev="v0", metric=7)
    for table, family in ((None, None), (None, 6), (100, 4), (100, 6), ("all", None), ("all", 6)):
        args = ["-6"] * (family == 6) + ["route", "show"] + (["table", str(table)] if table else [])
        assert netns.route_list(table=table, family=family) == kernel.ip_json(netns.name, *args)
    routes = netns.route_list(table=100, family=6)
    assert [(x["dst"], x["gateway"]) for x in routes] == [("2001:db8:20::/64", "2001:db8:9::2")]
    netns.route_del("10.21.0.0/16", table=100)
    netns.route_del("::/0", metric=7)
    assert [x["dst"] for x in netns.route_list(table=100)] == []
    assert "default" not in [x["dst"] for x in netns.route_list(family=6)]


def test_neighbours(netns):
    netns.link_add("v0", "veth", peer="v1")
    netns.neigh_add("10.9.0.5", "02:AA:00:00:00:05", "v0")
    netns.neigh_add("2001:db8::5", "02:aa:00:00:00:06", "v0")
    entries = netns.neigh_list("v0")
    assert entries == kernel.ip_json(netns.name, "neigh", "show", "dev", "v0")
    assert {(e["dst"], e["lladdr"], tuple(e["state"])) for e in entries} == {
        ("10.9.0.5", "02:aa:00:00:00:05", ("PERMANENT",)), ("2001:db8::5", "02:aa:00:00:00:06", ("PERMANENT",))}
    assert netns.neigh_list() == kernel.ip_json(netns.name, "neigh", "show")
    with pytest.raises(nw.CommandError) as caught:
        netns.neigh_add("10.9.0.5", "02:aa:00:00:00:05", "v0")
    assert not isinstance(caught.value, nw.LinkExists)
    netns.neigh_del("10.9.0.5", "v0")
    assert [e["dst"] for e in netns.neigh_list("v0")] == ["2001:db8::5"]
    with pytest.raises(nw.LinkNotFound):
        netns.neigh_add("10.9.0.7", "02:aa:00:00:00:07", "nosuch")


def test_sysctl_in_a_named_a_process_and_the_callers_namespace(netns):
    netns.sysctl_set("net.ipv4.conf.all.forwarding", "1")
    assert sysctl(netns.name, "net.ipv4.ip_forward") == "1"  # the same switch, as the kernel has it
    assert netns.sysctl_get("net.ipv4.ip_local_port_range") == sysctl(netns.name, "net.ipv4.ip_local_port_range")
    netns.sysctl_set("net.ipv4.ip_local_port_range", "20000\t30000")
    assert netns.sysctl_get("net.ipv4.ip_local_port_range") == "20000\t30000"
    with kernel.parked(["ip", "netns", "exec", netns.name]) as process:
        there = nw.Netns.from_pid(process.pid)
        assert there.sysctl_get("net.ipv4.ip_forward") == "1"
        there.sysctl_set("net.ipv4.ip_forward", 0)
        assert sysctl(netns.name, "net.ipv4.ip_forward") == "0"
    with pytest.raises(nw.InvalidArgument):
        netns.sysctl_get("net.ipv4.nosuch")
    with pytest.raises(nw.InvalidArgument):
        netns.sysctl_set("net.ipv4.ip_forward", "abc")
    # The caller's namespace: a fresh one of a child, so the host's stays as it is.
    script = ("import netnswrap as nw; nw.sysctl_set('net.ipv4.ip_forward', 1); "
              "print(nw.sysctl_get('net.ipv4.ip_forward'), nw.Netns().sysctl_get('net.ipv6.conf.all.forwarding'))")
    done = subprocess.run(["unshare", "--net", sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["1", "0"]


def test_a_missing_sysctl_is_tool_not_found_naming_procps(netns, tmp_path, monkeypatch):
    for tool in ("ip", "nsenter"):
        (tmp_path / tool).symlink_to(subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True,
                                                    text=True, check=True).stdout.strip())
    runner = nw.ShRunner()
    with kernel.parked(["ip", "netns", "exec", netns.name]) as process:
        monkeypatch.setenv("PATH", str(tmp_path))  # only ip and nsenter from here on
        for handle in (nw.Netns(netns.name, runner=runner), nw.Netns.from_pid(process.pid, runner=runner),
                       nw.Netns(runner=runner)):
            with pytest.raises(nw.ToolNotFound) as caught:
                handle.sysctl_get("net.ipv4.ip_forward")
            assert (caught.value.tool, caught.value.package) == ("sysctl", "procps")


def test_link_kinds_live_and_the_ones_this_kernel_lacks(netns_factory):
    netns, other = netns_factory(PREFIX), netns_factory(PREFIX)
    netns.link_add("v0", "veth", peer="p0", peer_netns=other)
    netns.link_add("br0", "bridge")
    netns.link_add("mv0", "macvlan", link="v0", mode="bridge")
    netns.link_add("vx0", "vxlan", id=42, dstport=4789, local="10.9.0.1", remote="10.9.0.2")
    netns.link_add("tap0", "tap")
    netns.link_add("tun0", "tun")
    assert kernel.link(other.name, "p0")["linkinfo"]["info_kind"] == "veth"
    kinds = {name: kernel.link(netns.name, name)["linkinfo"] for name in ("br0", "mv0", "vx0", "tap0", "tun0")}
    assert {name: info["info_kind"] for name, info in kinds.items()} == {
        "br0": "bridge", "mv0": "macvlan", "vx0": "vxlan", "tap0": "tun", "tun0": "tun"}
    assert kinds["mv0"]["info_data"]["mode"] == "bridge"
    assert (kinds["vx0"]["info_data"]["id"], kinds["vx0"]["info_data"]["port"]) == (42, 4789)
    assert (kinds["tap0"]["info_data"]["type"], kinds["tun0"]["info_data"]["type"]) == ("tap", "tun")
    with pytest.raises(nw.LinkExists):
        netns.link_add("tap0", "tap")
    for kind, options in (("dummy", {}), ("vlan", {"link": "v0", "id": 5}), ("bond", {"mode": "active-backup"}),
                          ("ipvlan", {"link": "v0"}), ("gre", {"remote": "192.0.2.2"}), ("ipip", {"remote": "192.0.2.2"})):
        try:
            netns.link_add(f"k{kind}", kind, **options)
        except nw.NotSupported as error:  # this kernel has no such module
            assert f"link kind {kind!r} is not supported by this kernel" in str(error)
        else:
            assert kernel.link(netns.name, f"k{kind}")["linkinfo"]["info_kind"] == kind


def test_links_made_with_their_state_mtu_and_master(netns_factory):
    netns, other = netns_factory(PREFIX), netns_factory(PREFIX)
    netns.bridge_add("br0")
    netns.veth_add("p1", "eth0", peer_netns=other, up=True, mtu=1400, master="br0")
    netns.link_add("tap0", "tap", up=True, mtu=1300, master="br0")
    for dev, mtu in (("p1", 1400), ("tap0", 1300)):
        link = kernel.link(netns.name, dev)
        assert ("UP" in link["flags"], link["mtu"], link.get("master")) == (True, mtu, "br0"), dev
    peer = kernel.link(other.name, "eth0")
    assert ("UP" in peer["flags"], peer["mtu"], peer.get("master")) == (False, 1500, None)
    with pytest.raises(nw.LinkNotFound):  # a master that is not there: nothing made
        netns.veth_add("p2", "x2", master="br9")
    assert not kernel.has_link(netns.name, "p2") and not kernel.has_link(netns.name, "x2")
    with pytest.raises(nw.LinkNotFound):  # a tap made, then its link set failing: deleted again
        netns.link_add("tap9", "tap", up=True, master="br9")
    for kind in ("tap", "bridge"):  # a refused MTU is InvalidMTU (no CommandError): deleted too
        with pytest.raises(nw.InvalidMTU):
            netns.link_add("k9", kind, mtu=70000)
        assert not kernel.has_link(netns.name, "k9"), kind
    assert not kernel.has_link(netns.name, "tap9")
    with pytest.raises(nw.NotSupported, match="a master must be a bridge, bond or vrf \\(master 'lo'\\)"):
        netns.veth_add("p3", "x3", master="lo")
    # a bridge's MTU stays when its first port joins
    netns.link_add("br1", "bridge", up=True, mtu=9000)
    netns.veth_add("p4", "x4", master="br1", up=True)
    assert kernel.link(netns.name, "br1")["mtu"] == 9000


# Run in mount and network namespaces of its own with an empty /run/netns: the
# topology of the whole host is then only what the test makes (gone when it exits).
TOPOLOGY = """
import json, subprocess, sys
sys.path.insert(0, sys.argv[1])
subprocess.run(["mount", "-t", "tmpfs", "nwrt-netns", "/run/netns"], check=True)
import netnswrap as nw, kernel
from test_route_live import wire
r, h1, h2 = (nw.netns_add(name) for name in ("r", "h1", "h2"))
wire(r, h1, h2)
h1.route_add("10.55.0.0/16", via="10.76.1.1", table=100)
topology = nw.topology()
main = {name: kernel.ip_json(name, "route", "show") + kernel.ip_json(name, "-6", "route", "show")
        for name in ("r", "h1", "h2")}
print(json.dumps({"topology": topology, "main": main}))
"""


def test_topology_carries_each_namespaces_main_table():
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "--net", sys.executable, "-c",
                           TOPOLOGY, str(Path(__file__).parent)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    spaces = {space["name"]: space for space in seen["topology"]["namespaces"] if space["name"]}
    assert set(spaces) == {"r", "h1", "h2"}
    def settled(routes):  # the kernel adds fe80::/64 once IPv6 is up on a link: it may come in between
        return sorted(json.dumps(route) for route in routes if route["dst"] != "fe80::/64")
    for name, main in seen["main"].items():
        assert settled(spaces[name]["routes"]) == settled(main)
    assert {"dst": "default", "gateway": "10.76.1.1", "dev": "eth0", "flags": []} in spaces["h1"]["routes"]
    assert "10.55.0.0/16" not in [route["dst"] for route in spaces["h1"]["routes"]]  # table 100
    lines = render.tree(seen["topology"]).splitlines()
    block = lines[lines.index("netns h1") + 1:]
    block = block[:next((n for n, line in enumerate(block) if not line.startswith("  ")), len(block))]
    assert "  ├─ route default via 10.76.1.1 dev eth0" in block


def test_router_example_runs(names):
    prefix = names("ex")[0]
    done = subprocess.run([sys.executable, str(EXAMPLE), prefix], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(EXAMPLE.parents[1])))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(" 0% packet loss") == 2
    assert f"{prefix}-h1: 10.76.2.2 via 10.76.1.1 dev eth0 src 10.76.1.2" in done.stdout
    assert not [name for name in kernel.namespaces() if name.startswith(prefix)]
