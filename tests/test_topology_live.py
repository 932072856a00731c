"""Veth peers and the topology, live, as root, on the seed's docker host.

The host is a namespace of ours (prefix ``nwk5``) with a bridge like
``docker0``; the "containers" are ``unshare --net sleep`` processes, each
joined by a veth whose end inside is ``eth0`` — so both ``eth0`` share an
ifindex, as on a real docker host. Expected answers come from the kernel
(``ip -j`` and ``nsenter`` run directly), never from netnswrap. Other
sessions' namespaces exist on this machine: only our own objects are asserted.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

import netnswrap as nw
from netnswrap.pytest_plugin import cannot_create_namespaces, unique_netns_name

import kernel

pytestmark = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "-")


def sh(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def pid_link(pid: int, dev: str) -> dict:
    """``nsenter -t PID -n ip -d -j link show dev DEV`` (the kernel's answer)."""
    return json.loads(sh("nsenter", "-t", str(pid), "-n", "ip", "-d", "-j", "link", "show", "dev", dev))[0]


@contextlib.contextmanager
def docker_host(prefix: str = "nwk5"):
    """A namespace ``host`` with bridge ``nk5docker0`` (172.31.250.1/24) and two
    containers (PIDs) whose ``eth0`` (172.31.250.2, .3) pair with host veths
    ``nk5veth0``/``nk5veth1`` on the bridge. Removed afterwards, whatever happens."""
    host = unique_netns_name(prefix)
    sh("ip", "netns", "add", host)
    try:
        with kernel.parked(["unshare", "--net"]) as one, kernel.parked(["unshare", "--net"]) as two:
            pids = [one.pid, two.pid]
            sh("ip", "-n", host, "link", "add", "nk5docker0", "type", "bridge")
            sh("ip", "-n", host, "addr", "add", "172.31.250.1/24", "dev", "nk5docker0")
            sh("ip", "-n", host, "link", "set", "nk5docker0", "up")
            veths = []
            for n, pid in enumerate(pids):
                veth = f"nk5veth{n}"
                sh("ip", "-n", host, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", str(pid))
                sh("ip", "-n", host, "link", "set", veth, "master", "nk5docker0", "up")
                sh("nsenter", "-t", str(pid), "-n", "ip", "addr", "add", f"172.31.250.{n + 2}/24", "dev", "eth0")
                sh("nsenter", "-t", str(pid), "-n", "ip", "link", "set", "eth0", "up")
                veths.append(veth)
            yield SimpleNamespace(host=host, pids=pids, veths=veths, bridge="nk5docker0")
    finally:
        subprocess.run(["ip", "netns", "del", host], capture_output=True)


@pytest.fixture
def docker():
    with docker_host() as made:
        yield made


def test_both_containers_eth0_share_an_ifindex(docker):
    assert pid_link(docker.pids[0], "eth0")["ifindex"] == pid_link(docker.pids[1], "eth0")["ifindex"]


@pytest.mark.parametrize("n", [0, 1])
def test_host_veth_to_container(docker, n):
    eth0 = pid_link(docker.pids[n], "eth0")
    assert nw.Netns(docker.host).veth_peer(docker.veths[n]) == {
        "netns": None, "pid": docker.pids[n], "ifname": "eth0", "ifindex": eth0["ifindex"]}


@pytest.mark.parametrize("n", [0, 1])
def test_container_eth0_to_host(docker, n):
    veth = kernel.link(docker.host, docker.veths[n])
    assert nw.Netns.from_pid(docker.pids[n]).veth_peer("eth0") == {
        "netns": docker.host, "pid": None, "ifname": docker.veths[n], "ifindex": veth["ifindex"]}


def test_topology_holds_the_whole_docker_host(docker):
    topology = nw.Netns().topology()
    json.dumps(topology)  # JSON-ready
    spaces = {(s["name"], s["pid"]): s for s in topology["namespaces"]}
    host = spaces[(docker.host, None)]
    assert {link["ifname"] for link in host["links"]} == {
        link["ifname"] for link in kernel.ip_json(docker.host, "link", "show")}
    assert "172.31.250.1/24" in [f"{a['local']}/{a['prefixlen']}" for link in host["links"]
                                 if link["ifname"] == docker.bridge for a in link["addr_info"]]
    for n, pid in enumerate(docker.pids):
        container = spaces[(None, pid)]
        assert container["command"] == "sleep 600" and container["pids"] == [pid]
        eth0 = next(link for link in container["links"] if link["ifname"] == "eth0")
        assert eth0["ifindex"] == pid_link(pid, "eth0")["ifindex"]
        assert f"172.31.250.{n + 2}" in [a["local"] for a in eth0["addr_info"]]
        veth = kernel.link(docker.host, docker.veths[n])
        pair = [{"netns": docker.host, "pid": None, "ifname": docker.veths[n], "ifindex": veth["ifindex"]},
                {"netns": None, "pid": pid, "ifname": "eth0", "ifindex": eth0["ifindex"]}]
        assert pair in topology["veth_pairs"] or pair[::-1] in topology["veth_pairs"]
    bridge = next(b for b in topology["bridges"] if b["netns"] == docker.host)
    assert (bridge["ifname"], sorted(bridge["ports"])) == (docker.bridge, sorted(docker.veths))


def test_topology_from_a_container(docker):
    topology = nw.Netns.from_pid(docker.pids[0]).topology()
    current = [s for s in topology["namespaces"] if s["current"]]
    assert [(s["name"], s["pid"], s["caller"]) for s in current] == [(None, docker.pids[0], False)]
    veth = kernel.link(docker.host, docker.veths[0])
    assert current[0]["links"][-1]["link_netnsid"] == next(
        s["nsid"] for s in topology["namespaces"] if s["name"] == docker.host)
    pair = [{"netns": None, "pid": docker.pids[0], "ifname": "eth0", "ifindex": pid_link(docker.pids[0], "eth0")["ifindex"]},
            {"netns": docker.host, "pid": None, "ifname": docker.veths[0], "ifindex": veth["ifindex"]}]
    assert pair in topology["veth_pairs"] or pair[::-1] in topology["veth_pairs"]


def test_seed_pairs_between_named_namespaces_and_inside_one(netns_factory):
    one, two = netns_factory("nwk5"), netns_factory("nwk5")
    sh("ip", "-n", one.name, "link", "add", "nk5a", "type", "veth", "peer", "name", "nk5b", "netns", two.name)
    sh("ip", "-n", one.name, "link", "add", "nk5c", "type", "veth", "peer", "name", "nk5d")
    b, d = kernel.link(two.name, "nk5b"), kernel.link(one.name, "nk5d")
    assert one.veth_peer("nk5a") == {"netns": two.name, "pid": None, "ifname": "nk5b", "ifindex": b["ifindex"]}
    assert two.veth_peer("nk5b")["netns"] == one.name
    assert one.veth_peer("nk5c") == {"netns": one.name, "pid": None, "ifname": "nk5d", "ifindex": d["ifindex"]}


def test_peer_in_the_callers_own_namespace_is_netns_none_pid_none(netns_factory):
    """The caller runs in an unnamed namespace of its own (``unshare --net``),
    as a script on a docker host runs in the host's."""
    netns = netns_factory("nwk5")
    script = ("import json, sys; sys.path.insert(0, sys.argv[2]); import netnswrap as nw, kernel; name = sys.argv[1]; "
              "nw.Netns().veth_add('nk5in', 'nk5out', peer_netns=name); "
              "print(json.dumps([nw.Netns(name).veth_peer('nk5out'), nw.Netns().veth_peer('nk5in'), "
              "kernel.link(None, 'nk5in'), kernel.link(name, 'nk5out')]))")
    there, here, inside, out = json.loads(sh("unshare", "--net", sys.executable, "-c", script, netns.name,
                                           os.path.dirname(__file__)))
    assert there == {"netns": None, "pid": None, "ifname": "nk5in", "ifindex": inside["ifindex"]}
    assert here == {"netns": netns.name, "pid": None, "ifname": "nk5out", "ifindex": out["ifindex"]}


def test_veth_peer_without_ethtool(docker, monkeypatch, tmp_path):
    """ethtool is the cross-check only: without it the answer is the same."""
    for tool in ("ip", "nsenter", "lsns", "readlink"):
        (tmp_path / tool).symlink_to(sh("sh", "-c", f"command -v {tool}").strip())
    monkeypatch.setenv("PATH", str(tmp_path))
    assert nw.Netns(docker.host).veth_peer(docker.veths[0])["pid"] == docker.pids[0]


def record(path: str) -> None:
    """Record the docker host into the cassette ``path``: ``topology()`` from
    the caller's namespace and from container 0, then ``veth_peer`` both ways
    for both containers. The scenario's names and PIDs go into ``meta``."""
    from netnswrap.cassette import RecordingRunner

    sh("mount", "-t", "tmpfs", "nwk5-netns", "/run/netns")  # only our namespaces are named
    with docker_host() as made:
        runner = RecordingRunner(path, meta={"scenario": {"host": made.host, "pids": made.pids,
                                                          "veths": made.veths, "bridge": made.bridge}})
        nw.Netns(runner=runner).topology()
        nw.Netns.from_pid(made.pids[0], runner=runner).topology()
        for pid, veth in zip(made.pids, made.veths):
            nw.Netns(made.host, runner=runner).veth_peer(veth)
            nw.Netns.from_pid(pid, runner=runner).veth_peer("eth0")
        runner.save()


if __name__ == "__main__":
    # A clean host to record (own mount, PID and network namespaces: no other sessions' objects):
    # unshare -m -p -n -f --mount-proc python tests/test_topology_live.py fixtures/cassettes/topology-docker-host.json
    record(sys.argv[1])
