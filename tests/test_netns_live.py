"""The seed walkthrough and every Netns operation, live, as root.

Everything happens in throwaway namespaces (prefix ``nw4``) made by the
plugin's ``netns_factory``; every step is checked against the kernel's own
``ip -j`` output (:mod:`kernel`), not against what netnswrap says.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

import netnswrap as nw
from netnswrap.pytest_plugin import unique_netns_name

import kernel


def quiet_ipv6(*handles: nw.Netns) -> None:
    """No IPv6 duplicate address detection in these namespaces, so address
    flags (``tentative``) do not change between two reads."""
    for handle in handles:
        subprocess.run(["ip", "netns", "exec", handle.name, "sysctl", "-qw",
                        "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0"],
                       check=True)


@pytest.fixture
def netns(netns_factory):
    """One throwaway namespace with this file's prefix."""
    return netns_factory("nw4")


@pytest.fixture
def two(netns_factory):
    """netns1 and netns2 of the seed."""
    return netns_factory("nw4"), netns_factory("nw4")


def test_seed_walkthrough(two):
    netns1, netns2 = two
    assert {netns1.name, netns2.name} <= kernel.namespaces()
    # a new namespace has only lo, down
    assert [(l["ifname"], l["operstate"]) for l in kernel.ip_json(netns1.name, "link")] == [("lo", "DOWN")]

    # ip link add veth0 type veth peer name veth1   (in netns2, the seed's "host")
    netns2.veth_add("veth0", "veth1")
    veth0, veth1 = kernel.link(netns2.name, "veth0"), kernel.link(netns2.name, "veth1")
    assert veth0["linkinfo"]["info_kind"] == veth1["linkinfo"]["info_kind"] == "veth"
    assert veth0["link"] == "veth1"

    # ip link set veth1 netns netns1
    netns2.link_set("veth1", netns=netns1.name)
    assert not kernel.has_link(netns2.name, "veth1")
    moved = kernel.link(netns1.name, "veth1")
    assert moved["address"] == veth1["address"]
    assert "link_netnsid" in kernel.link(netns2.name, "veth0")

    # ip netns exec netns1 ip addr add 10.1.1.1/24 dev veth1; ip addr add 10.1.1.2/24 dev veth0
    netns1.addr_add("veth1", "10.1.1.1/24")
    netns2.addr_add("veth0", "10.1.1.2/24")
    assert kernel.ipv4(netns1.name, "veth1") == ["10.1.1.1/24"]
    assert kernel.ipv4(netns2.name, "veth0") == ["10.1.1.2/24"]

    # ip netns exec netns1 ip link set dev veth1 up; ip link set dev veth0 up
    netns1.link_set_up("veth1")
    netns2.link_set_up("veth0")
    assert "UP" in kernel.link(netns1.name, "veth1")["flags"]
    assert "UP" in kernel.link(netns2.name, "veth0")["flags"]

    # ip netns exec netns1 ping 10.1.1.2; ping 10.1.1.1
    sent_before = kernel.ip_json(netns1.name, "-s", "link", "show", "dev", "veth1")[0]["stats64"]["tx"]["packets"]
    there = netns1.exec(["ping", "-c", "1", "-W", "10", "10.1.1.2"])
    back = netns2.exec(["ping", "-c", "1", "-W", "10", "10.1.1.1"])
    assert there.returncode == back.returncode == 0
    assert " 0% packet loss" in there.stdout and " 0% packet loss" in back.stdout
    assert kernel.ip_json(netns1.name, "-s", "link", "show", "dev", "veth1")[0]["stats64"]["tx"]["packets"] > sent_before

    # ip netns exec netns1 ethtool -S veth1 → peer_ifindex; ip netns exec netns2 ip link | grep N → veth0
    peer_ifindex = netns1.ethtool_stats("veth1")["peer_ifindex"]
    assert peer_ifindex == kernel.link(netns2.name, "veth0")["ifindex"]
    assert [l["ifname"] for l in netns2.link_list() if l["ifindex"] == peer_ifindex] == ["veth0"]
    assert netns2.ethtool_stats("veth0")["peer_ifindex"] == kernel.link(netns1.name, "veth1")["ifindex"]

    # ethtool -k … netns-local: lo stays, veth may move
    assert netns1.can_move("lo") is False
    assert netns1.can_move("veth1") is True


def build_seed_state(netns1: nw.Netns, netns2: nw.Netns) -> None:
    """The walkthrough's end state plus a bridge, built with ip directly."""
    quiet_ipv6(netns1, netns2)
    for command in (f"-n {netns2.name} link add veth0 type veth peer name veth1 netns {netns1.name}",
                    f"-n {netns2.name} link add br0 type bridge",
                    f"-n {netns2.name} link set veth0 master br0",
                    f"-n {netns1.name} addr add 10.1.1.1/24 dev veth1",
                    f"-n {netns1.name} addr add fd00::1/64 dev veth1",
                    f"-n {netns2.name} addr add 10.1.1.2/24 dev br0",
                    f"-n {netns1.name} link set veth1 up",
                    f"-n {netns2.name} link set veth0 up"):
        subprocess.run(["ip", *command.split()], check=True)


def test_reads_are_the_kernels_own_json(two):
    netns1, netns2 = two
    build_seed_state(netns1, netns2)
    assert netns1.link_list() == kernel.ip_json(netns1.name, "-d", "link", "show")
    assert netns1.link_show("veth1") == kernel.link(netns1.name, "veth1")
    assert netns2.link_show("veth0") == kernel.link(netns2.name, "veth0")
    assert netns1.addr_list() == kernel.ip_json(netns1.name, "addr", "show")
    assert netns2.addr_list("br0") == kernel.ip_json(netns2.name, "addr", "show", "dev", "br0")
    assert netns2.link_show("veth0")["master"] == "br0"
    mine = {e["name"]: e for e in nw.netns_list() if e["name"] in (netns1.name, netns2.name)}
    assert mine == {e["name"]: e for e in kernel.ip_json(None, "netns", "list")
                    if e["name"] in (netns1.name, netns2.name)}


def test_module_functions_act_on_the_callers_namespace():
    assert nw.link_show("lo") == kernel.link(None, "lo")  # only read: the caller's namespace is shared
    with nw.use_runner(nw.DryRunRunner()) as dry:
        for name in ("link_list", "netns_list", "addr_list"):
            getattr(nw, name)()
            getattr(nw.Netns(), name)()
    ran = [argv for argv in dry.commands if argv != ["ip", "-V"]]
    assert ran[0::2] == ran[1::2] and ran[0] == ["ip", "-d", "-j", "link", "show"]


def test_ethtool_features_and_driver(two):
    netns1, netns2 = two
    build_seed_state(netns1, netns2)
    features = netns1.ethtool_features("veth1")
    raw = subprocess.run(["ip", "netns", "exec", netns1.name, "ethtool", "--json", "-k", "veth1"],
                         capture_output=True, text=True, check=True).stdout
    expected = json.loads(raw)[0]
    del expected["ifname"]
    assert {name: {k: v for k, v in f.items() if k in ("active", "fixed")} for name, f in features.items()} \
        == {name: {k: v for k, v in f.items() if k in ("active", "fixed")} for name, f in expected.items()}
    driver = netns1.ethtool_driver("veth1")
    assert driver["driver"] == "veth" and driver["supports_statistics"] is True
    assert netns1.ethtool_stats("veth1")["peer_ifindex"] == kernel.link(netns2.name, "veth0")["ifindex"]


def test_can_move_agrees_with_the_kernel(two):
    netns1, netns2 = two
    build_seed_state(netns1, netns2)
    for dev in ("lo", "br0", "veth0"):
        said = netns2.can_move(dev)
        moved = subprocess.run(["ip", "-n", netns2.name, "link", "set", dev, "netns", netns1.name],
                               capture_output=True, text=True)
        assert said == (moved.returncode == 0), (dev, moved.stderr)
    assert (netns2.can_move("lo"), kernel.has_link(netns1.name, "br0"), kernel.has_link(netns1.name, "veth0")) \
        == (False, False, True)


@pytest.mark.parametrize("form", ["name", "handle", "pid", "pid handle"])
def test_netns_arguments_take_a_name_a_handle_or_a_pid(two, form):
    netns1, netns2 = two
    with kernel.parked(["ip", "netns", "exec", netns1.name]) as process:
        target = {"name": netns1.name, "handle": netns1, "pid": process.pid,
                  "pid handle": nw.Netns.from_pid(process.pid)}[form]
        netns2.veth_add("va0", "va1", peer_netns=target)
        assert kernel.has_link(netns1.name, "va1") and not kernel.has_link(netns2.name, "va1")
        netns2.veth_add("vb0", "vb1")
        netns2.link_set("vb1", netns=target)
        assert kernel.has_link(netns1.name, "vb1") and not kernel.has_link(netns2.name, "vb1")
        netns1.link_set("vb1", netns=target, name="vb2", up=True)  # same namespace: stays, renamed
        assert "UP" in kernel.link(netns1.name, "vb2")["flags"]


def test_process_namespace_reads_and_writes(netns_factory):
    netns1 = netns_factory("nw4")
    with kernel.parked(["ip", "netns", "exec", netns1.name]) as process:
        inside = nw.Netns.from_pid(process.pid)
        assert (inside.name, inside.pid) == (None, process.pid)
        inside.bridge_add("brp")
        assert kernel.link(netns1.name, "brp")["linkinfo"]["info_kind"] == "bridge"
        inside.addr_add("brp", "10.7.0.1/24")
        assert kernel.ipv4(netns1.name, "brp") == ["10.7.0.1/24"]
        assert inside.link_list() == kernel.ip_json(netns1.name, "-d", "link", "show")
        assert inside.addr_list("lo") == kernel.ip_json(netns1.name, "addr", "show", "dev", "lo")
        assert inside.exec(["ip", "-j", "link"]).argv[:4] == ("nsenter", "-t", str(process.pid), "-n")


def test_unnamed_namespace_of_a_process(netns_factory):
    netns1 = netns_factory("nw4")
    with kernel.parked(["unshare", "--net"]) as process:
        container = nw.Netns.from_pid(process.pid)
        assert [l["ifname"] for l in container.link_list()] == ["lo"]
        assert nw.netns_identify(process.pid) is None
        netns1.veth_add("veth30314cf", "eth0", peer_netns=process.pid)
        theirs = subprocess.run(["nsenter", "-t", str(process.pid), "-n", "ip", "-d", "-j", "link", "show", "eth0"],
                                capture_output=True, text=True, check=True).stdout
        assert container.link_show("eth0") == json.loads(theirs)[0]
        assert container.ethtool_stats("eth0")["peer_ifindex"] == kernel.link(netns1.name, "veth30314cf")["ifindex"]


def test_bridge_and_link_changes(netns):
    quiet_ipv6(netns)
    netns.bridge_add("br0")
    assert kernel.link(netns.name, "br0")["linkinfo"]["info_kind"] == "bridge"
    netns.veth_add("veth0", "veth1")
    netns.link_set("veth0", master="br0", up=True)
    assert kernel.link(netns.name, "veth0")["master"] == "br0"
    assert "UP" in kernel.link(netns.name, "veth0")["flags"]
    netns.link_set("veth0", nomaster=True)
    assert "master" not in kernel.link(netns.name, "veth0")
    netns.link_set("veth1", mtu=1400, address="02:00:5e:10:00:01", name="veth9")
    changed = kernel.link(netns.name, "veth9")
    assert (changed["mtu"], changed["address"]) == (1400, "02:00:5e:10:00:01")
    assert not kernel.has_link(netns.name, "veth1")
    netns.link_set_down("veth0")
    assert "UP" not in kernel.link(netns.name, "veth0")["flags"]
    netns.link_del("veth0")  # takes the peer with it
    assert not kernel.has_link(netns.name, "veth0") and not kernel.has_link(netns.name, "veth9")
    netns.link_del("br0")
    assert [l["ifname"] for l in kernel.ip_json(netns.name, "link")] == ["lo"]


def test_addresses_added_and_deleted(netns):
    netns.addr_add("lo", "10.9.0.1/8")
    netns.addr_add("lo", "fd00:9::1/64")
    info = kernel.ip_json(netns.name, "addr", "show", "dev", "lo")[0]["addr_info"]
    assert {(a["local"], a["prefixlen"]) for a in info} >= {("10.9.0.1", 8), ("fd00:9::1", 64)}
    netns.addr_del("lo", "10.9.0.1/8")
    netns.addr_del("lo", "fd00:9::1/64")
    info = kernel.ip_json(netns.name, "addr", "show", "dev", "lo")[0]["addr_info"]
    assert not {a["local"] for a in info} & {"10.9.0.1", "fd00:9::1"}


def test_exec_runs_in_the_namespace(netns):
    done = netns.exec(["ls", "/sys/class/net"])  # ip netns exec mounts the namespace's /sys
    assert done.argv == ("ip", "netns", "exec", netns.name, "ls", "/sys/class/net")
    assert (done.returncode, done.stdout) == (0, "lo\n")
    failed = netns.exec(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    assert (failed.returncode, failed.stdout, failed.stderr) == (3, "out\n", "err\n")
    with pytest.raises(nw.CommandError) as caught:
        netns.exec(["sh", "-c", "echo out; echo err >&2; exit 3"])
    error = caught.value
    assert type(error) is nw.CommandError
    assert (error.argv, error.returncode, error.stdout, error.stderr) == (failed.argv, 3, "out\n", "err\n")
    assert netns.name in str(error) and "exit status 3" in str(error)


def test_exec_timeout_kills_the_program(netns):
    with pytest.raises(nw.CommandTimeout) as caught:
        netns.exec(["sleep", "600"], timeout=0.5)
    assert caught.value.argv == ("ip", "netns", "exec", netns.name, "sleep", "600")
    assert nw.netns_pids(netns.name) == []
    assert subprocess.run(["ip", "netns", "pids", netns.name], capture_output=True, text=True).stdout == ""


def test_netns_exists_pids_identify(netns):
    assert nw.netns_exists(netns.name) and netns.name in kernel.namespaces()
    assert not nw.netns_exists(unique_netns_name("nw4"))
    assert nw.netns_pids(netns.name) == []
    with kernel.parked(["ip", "netns", "exec", netns.name]) as process:
        assert nw.netns_pids(netns.name) == [process.pid]
        assert nw.netns_identify(process.pid) == netns.name
    assert nw.netns_identify(os.getpid()) is None


def test_netns_attach_names_a_process_namespace():
    name = unique_netns_name("nw4")
    with kernel.parked(["unshare", "--net"]) as process:
        try:
            handle = nw.netns_attach(name, process.pid)
            assert handle == nw.Netns(name) and name in kernel.namespaces()
            assert nw.netns_identify(process.pid) == name
            handle.addr_add("lo", "10.8.0.1/8")
            seen = subprocess.run(["nsenter", "-t", str(process.pid), "-n", "ip", "-4", "-j", "addr", "show", "lo"],
                                  capture_output=True, text=True, check=True).stdout
            assert '"local":"10.8.0.1"' in seen
        finally:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
    assert name not in kernel.namespaces()


def test_netns_add_context_manager_deletes_on_exit():
    name = unique_netns_name("nw4")
    with nw.netns_add(name) as handle:
        assert handle.name == name and name in kernel.namespaces()
    assert name not in kernel.namespaces()


@pytest.mark.parametrize("raised", [RuntimeError, KeyboardInterrupt])
def test_netns_add_context_manager_deletes_on_exception(raised):
    name = unique_netns_name("nw4")
    try:
        with pytest.raises(raised):
            with nw.netns_add(name) as handle:
                handle.bridge_add("br0")
                raise raised()
        assert name not in kernel.namespaces()
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_netns_add_context_manager_when_deleted_inside():
    name = unique_netns_name("nw4")
    with nw.netns_add(name):
        nw.netns_del(name)
    assert name not in kernel.namespaces()


def test_netns_add_context_manager_deletes_on_ctrl_c():
    name = unique_netns_name("nw4")
    script = ("import sys, time, netnswrap as nw\n"
              "with nw.netns_add(sys.argv[1]):\n"
              "    print('ready', flush=True)\n"
              "    time.sleep(600)\n")
    child = subprocess.Popen([sys.executable, "-c", script, name], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        assert name in kernel.namespaces()
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=120)
        assert "KeyboardInterrupt" in stderr
        assert name not in kernel.namespaces()
    finally:
        child.kill()
        child.wait()
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_the_seed_example_script_runs_and_leaves_nothing_behind():
    script = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "seed_walkthrough.py")
    child = subprocess.Popen([sys.executable, script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = child.communicate(timeout=300)
    assert child.returncode == 0, stderr
    for error in ("NamespaceExists", "NamespaceNotFound", "LinkExists", "LinkNotFound", "AddressExists",
                  "AddressNotFound", "DeviceCannotMove", "InvalidMTU", "CommandError"):
        assert f": {error}: " in stdout
    assert "0% packet loss" in stdout and "lo: netns-local: stays" in stdout
    assert not {name for name in kernel.namespaces() if name.startswith(f"seed{child.pid}-")}
