"""veth_peer, live, as root, in namespaces of ours (prefix ``nwhd``): what it
answers for devices that are no veth, for altnames, and how many commands
an answer costs (counted on a recording). The kernel's answers come from
``tests/kernel.py`` (ip run directly), never from netnswrap."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import netnswrap as nw
from netnswrap.cassette import RecordingRunner
from netnswrap.pytest_plugin import cannot_create_namespaces

import kernel

pytestmark = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "-")

ALTNAME = "nwhd-" + "a" * 122  # 127 bytes: the kernel's limit for an altname


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


def commands(runner: RecordingRunner, call) -> list:
    """The command lines ``call()`` ran through ``runner`` (its ``ip -V`` probe made before)."""
    nw.Netns(runner=runner).tools()
    before = len(runner.interactions)
    call()
    return [" ".join(entry["argv"]) for entry in runner.interactions[before:]]


@pytest.fixture
def recorder(tmp_path):
    return RecordingRunner(tmp_path / "peer.json", inner=nw.ShRunner())


@pytest.fixture
def pair(netns_factory):
    """Named namespaces a, b: veth pa (in a) ↔ pb (in b), and sa ↔ sb both in a."""
    a, b = netns_factory("nwhd"), netns_factory("nwhd")
    ip("-n", a.name, "link", "add", "pa", "type", "veth", "peer", "name", "pb", "netns", b.name)
    ip("-n", a.name, "link", "add", "sa", "type", "veth", "peer", "name", "sb")
    return a, b


# --- what is no veth -------------------------------------------------------------

@pytest.fixture
def netns(netns_factory):
    return netns_factory("nwhd")


def test_loopback_is_no_veth(netns):
    with pytest.raises(nw.InvalidArgument, match="lo is a loopback device, not a veth: it has no peer"):
        netns.veth_peer("lo")


def test_a_physical_nic_is_no_veth():
    """The host's first NIC without a kind (``ip -d`` shows none for a physical
    device): read only, nothing is changed outside our namespaces."""
    nics = [link for link in kernel.ip_json(None, "-d", "link", "show")
            if "linkinfo" not in link and link.get("link_type") == "ether"]
    if not nics:
        pytest.skip("no physical NIC in the caller's namespace")
    dev = nics[0]["ifname"]
    with pytest.raises(nw.InvalidArgument, match=f"^{dev} is an ether device, not a veth: it has no peer$"):
        nw.Netns().veth_peer(dev)


def test_a_bridge_is_no_veth(netns):
    ip("-n", netns.name, "link", "add", "nwbr", "type", "bridge")
    with pytest.raises(nw.InvalidArgument, match="nwbr is a bridge device, not a veth"):
        netns.veth_peer("nwbr")


# --- altnames ----------------------------------------------------------------------

def test_a_127_byte_altname_names_the_device_everywhere(pair):
    a, b = pair
    ip("-n", a.name, "link", "property", "add", "dev", "pa", "altname", ALTNAME)
    assert a.link_show(ALTNAME)["ifname"] == "pa"
    a.link_set(ALTNAME, mtu=1400, up=True)
    assert kernel.link(a.name, "pa")["mtu"] == 1400
    assert a.veth_peer(ALTNAME) == {"netns": b.name, "pid": None, "ifname": "pb",
                                    "ifindex": kernel.link(b.name, "pb")["ifindex"]}
    assert a.veth_peer(ALTNAME, cross_check=True)["ifname"] == "pb"  # ethtool asked by the name
    a.addr_add(ALTNAME, "10.99.0.1/24")
    assert kernel.ipv4(a.name, "pa") == ["10.99.0.1/24"]
    assert a.can_move(ALTNAME) is True


def test_new_names_stay_within_15_bytes(pair):
    a, _ = pair
    ip("-n", a.name, "link", "property", "add", "dev", "pa", "altname", ALTNAME)
    for change in (lambda: a.link_set(ALTNAME, name="x" * 16), lambda: a.veth_add("x" * 16, "y"),
                   lambda: a.veth_add("x", "y" * 16), lambda: a.bridge_add(ALTNAME)):
        with pytest.raises(nw.InvalidName) as caught:
            change()
        assert caught.value.argv is None  # refused before anything ran
    assert sorted(link["ifname"] for link in kernel.ip_json(a.name, "link", "show")) == ["lo", "pa", "sa", "sb"]


# --- commands per answer -------------------------------------------------------------

def test_a_peer_in_a_named_namespace_costs_three_commands(pair, recorder):
    a, b = pair
    ran = commands(recorder, lambda: nw.Netns(a.name, runner=recorder).veth_peer("pa"))
    assert len(ran) <= 3, ran
    assert not any(line.startswith(("ethtool", "ip netns exec")) and "ethtool" in line for line in ran)


def test_a_peer_in_the_same_namespace_costs_two_commands(pair, recorder):
    a, _ = pair
    ran = commands(recorder, lambda: nw.Netns(a.name, runner=recorder).veth_peer("sa"))
    assert len(ran) <= 2, ran


def test_the_cross_check_costs_one_ethtool_more(pair, recorder):
    a, _ = pair
    ran = commands(recorder, lambda: nw.Netns(a.name, runner=recorder).veth_peer("pa", cross_check=True))
    assert len(ran) <= 4 and sum("ethtool -S" in line for line in ran) == 1, ran


def test_a_peer_only_a_process_holds_costs_four_commands(pair, recorder):
    a, _ = pair
    with kernel.parked(["unshare", "--net"]) as held:
        ip("-n", a.name, "link", "add", "ca", "type", "veth", "peer", "name", "eth0", "netns", str(held.pid))
        ran = commands(recorder, lambda: nw.Netns(a.name, runner=recorder).veth_peer("ca"))
        assert len(ran) <= 4, ran
        answer = json.loads(recorder.interactions[-1]["stdout"])
        assert [link["ifname"] for link in answer] == ["lo", "eth0"]
        ran = commands(recorder, lambda: nw.Netns.from_pid(held.pid, runner=recorder).veth_peer("eth0"))
        assert len(ran) <= 3, ran


# --- the caller's namespace ---------------------------------------------------------

CALLER_SCRIPT = """
import json, os, sys
sys.path.insert(0, sys.argv[2])
import netnswrap as nw
from netnswrap.cassette import RecordingRunner
name = sys.argv[1]
runner = RecordingRunner(sys.argv[3], inner=nw.ShRunner())
nw.Netns(runner=runner).veth_add("hdin", "hdout", peer_netns=name)
nw.Netns(runner=runner).veth_add("hdx", "hdy")
nw.Netns(runner=runner).tools()
answers, counts = [], []
for handle, dev in [(nw.Netns(runner=runner), "hdin"), (nw.Netns(name, runner=runner), "hdout"),
                    (nw.Netns(runner=runner), "hdx"),
                    (nw.Netns.from_pid(os.getpid(), runner=runner), "hdx"),
                    (nw.Netns.from_pid(os.getpid(), runner=runner), "hdin")]:
    before = len(runner.interactions)
    answers.append(handle.veth_peer(dev))
    counts.append(len(runner.interactions) - before)
kernel = json.loads(os.popen(f"ip -n {name} -j link show dev hdout").read())[0]
print(json.dumps([answers, counts, kernel["ifindex"]]))
"""


def test_peers_in_the_callers_namespace_from_every_kind_of_handle(netns, tmp_path):
    """The caller runs in a namespace of its own (``unshare --net``), as a
    script on a host runs in the host's; a PID handle of its own PID is the
    caller's namespace too."""
    done = subprocess.run(["unshare", "--net", sys.executable, "-c", CALLER_SCRIPT, netns.name,
                           os.path.dirname(nw.__path__[0]), str(tmp_path / "c.json")],
                          capture_output=True, text=True, check=True)
    answers, counts, hdout = json.loads(done.stdout)
    assert [(peer["netns"], peer["pid"], peer["ifname"]) for peer in answers] == [
        (netns.name, None, "hdout"), (None, None, "hdin"), (None, None, "hdy"), (None, None, "hdy"),
        (netns.name, None, "hdout")]
    assert answers[0]["ifindex"] == hdout
    assert counts[0] <= 3 and counts[1] <= 4 and counts[2] <= 2 and counts[3] <= 3 and counts[4] <= 3, counts
