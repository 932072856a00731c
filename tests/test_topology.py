"""Veth peers, topology and its renderings, offline.

A recorded docker host (``fixtures/cassettes/topology-docker-host.json``,
recorded by ``tests/test_topology_live.py``: a named host namespace with a
bridge, two ``unshare --net`` containers whose ``eth0`` both have ifindex 2)
replays the real thing; a small fake runner covers what that host does not
show (ambiguous ifindexes, ethtool missing or disagreeing, odd output).
"""
from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

import netnswrap as nw
from netnswrap.nsids import MEMBERS, lsns_and_caller as lsns_and_caller_argv
from netnswrap import render
from netnswrap.runners import Result, Runner
from netnswrap.containers import ENGINES
from netnswrap.host_topology import NAMED_INPUT, NAMED_READ, _split_all
from netnswrap.named_loop import each_named

CASSETTE = Path(__file__).parent.parent / "fixtures" / "cassettes" / "topology-docker-host.json"
RECORDED = Path(__file__).parent.parent / "fixtures" / "reference" / "recorded"


@pytest.fixture
def docker():
    runner = nw.ReplayRunner(CASSETTE)
    scenario = runner.meta["scenario"]
    scenario["runner"] = runner
    return scenario


def ifindex_of(topology, where, ifname):
    space = next(s for s in topology["namespaces"] if (s["name"], s["pid"]) == where)
    return next(link["ifindex"] for link in space["links"] if link["ifname"] == ifname)


# --- the recorded docker host ---------------------------------------------------

def test_topology_of_the_recorded_docker_host(docker):
    topology = nw.Netns(runner=docker["runner"]).topology()
    assert json.loads(json.dumps(topology)) == topology
    spaces = [(s["name"], s["pid"], s["command"], s["current"], s["caller"]) for s in topology["namespaces"]]
    assert spaces[0][3:] == (True, True)
    assert (docker["host"], None, None, False, False) in spaces
    for pid in docker["pids"]:
        assert (None, pid, "sleep 600", False, False) in spaces
    assert [ifindex_of(topology, (None, pid), "eth0") for pid in docker["pids"]] == [2, 2]
    pairs = [[(end["netns"], end["pid"], end["ifname"]) for end in pair] for pair in topology["veth_pairs"]]
    assert sorted(pairs) == [[(docker["host"], None, veth), (None, pid, "eth0")]
                             for pid, veth in zip(docker["pids"], docker["veths"])]
    assert [(b["netns"], b["ifname"], b["ports"]) for b in topology["bridges"]] == [
        (docker["host"], docker["bridge"], docker["veths"])]


def test_topology_seen_from_a_container(docker):
    nw.Netns(runner=docker["runner"]).topology()  # recorded first
    topology = nw.Netns.from_pid(docker["pids"][0], runner=docker["runner"]).topology()
    current = next(s for s in topology["namespaces"] if s["current"])
    assert (current["name"], current["pid"], current["caller"], current["pids"]) == (None, docker["pids"][0], False, [docker["pids"][0]])
    host = next(s for s in topology["namespaces"] if s["name"] == docker["host"])
    eth0 = next(link for link in current["links"] if link["ifname"] == "eth0")
    assert eth0["link_netnsid"] == host["nsid"] == 0  # nsids as the container sees them
    assert [s["current"] for s in topology["namespaces"] if s["caller"]] == [False]


@pytest.mark.parametrize("n", [0, 1])
def test_veth_peer_both_ways_on_the_recorded_host(docker, n):
    runner, pid, veth = docker["runner"], docker["pids"][n], docker["veths"][n]
    topology = nw.Netns(runner=runner).topology()
    host_end = {"netns": docker["host"], "pid": None, "ifname": veth,
                "ifindex": ifindex_of(topology, (docker["host"], None), veth)}
    container_end = {"netns": None, "pid": pid, "ifname": "eth0", "ifindex": 2}
    assert nw.Netns(docker["host"], runner=runner).veth_peer(veth) == container_end
    assert nw.Netns.from_pid(pid, runner=runner).veth_peer("eth0") == host_end


def test_tree_names_every_namespace_link_peer_and_port(docker):
    text = render.tree(nw.Netns(runner=docker["runner"]).topology())
    lines = text.splitlines()
    assert lines[0].startswith("the caller's namespace (current)")
    assert f"netns {docker['host']}" in lines
    assert any(line.startswith(f"PID {docker['pids'][0]} (sleep 600)") for line in lines)
    bridge = next(line for line in lines if f" {docker['bridge']}  bridge UP" in line)
    assert "172.31.250.1/24" in bridge and "ports nk5veth0, nk5veth1" in bridge
    assert any("nk5veth1  veth UP" in line and f"⇄ eth0 (2) in PID {docker['pids'][1]}" in line for line in lines)
    assert any("eth0  veth UP  172.31.250.2/24" in line and "⇄ nk5veth0" in line
               and f"in netns {docker['host']}" in line for line in lines)


def test_dot_is_a_graph_of_clusters_pairs_and_ports(docker):
    text = render.dot(nw.Netns(runner=docker["runner"]).topology())
    assert text.startswith("graph topology {") and text.endswith("}\n")
    assert text.count("subgraph cluster_") == 4  # caller, host, two containers
    assert text.count("[label=veth];") == 2 and text.count("[style=dashed];") == 2
    assert f'label="netns {docker["host"]}";' in text
    assert '[label="eth0\\n172.31.250.3/24' in text
    assert text.count("{") == text.count("}")


# --- a fake host: what the recording does not show ------------------------------

class Fake(Runner):
    """Answers from ``{command line: stdout or exception}``; an unknown command fails the test."""

    def __init__(self, answers):
        super().__init__()
        self.facts.ip = {"json": True, "busybox": False, "version": (6, 1)}
        self.answers = answers
        self.ran = []

    def run(self, argv, *, input=None, timeout=None):
        line = shlex.join(argv)
        if argv[0] in ENGINES and line not in self.answers:  # no container engine on this host
            raise nw.ToolNotFound(argv[0])
        self.ran.append(line)
        assert line in self.answers, f"unexpected command: {line}"
        answer = self.answers[line]
        if isinstance(answer, Exception):
            raise answer
        return Result(tuple(argv), 0, answer if isinstance(answer, str) else json.dumps(answer), "")


def veth(ifindex, name, peer_index, netnsid=None):
    link = {"ifindex": ifindex, "ifname": name, "link_index": peer_index,
            "linkinfo": {"info_kind": "veth"}, "addr_info": []}
    return dict(link, link_netnsid=netnsid) if netnsid is not None else link


LO = {"ifindex": 1, "ifname": "lo", "link_type": "loopback", "addr_info": []}


def lsns(*rows):
    return {"namespaces": [{"ns": ns, "type": "net", "nprocs": 1, "pid": pid, "user": "root",
                            "netnsid": nsid, "nsfs": None, "command": "sleep 600"} for ns, pid, nsid in rows]}


# h1's routes as `ip -d -j route show table all` prints them: main table (IPv4, IPv6), table 100, local
H1_ROUTES = [
    {"type": "unicast", "dst": "default", "gateway": "10.0.0.254", "dev": "va", "table": "main",
     "protocol": "boot", "scope": "global", "flags": []},
    {"type": "unicast", "dst": "10.0.0.0/24", "dev": "va", "table": "main", "protocol": "kernel",
     "scope": "link", "prefsrc": "10.0.0.1", "flags": []},
    {"type": "unicast", "dst": "10.5.0.0/16", "gateway": "10.0.0.9", "dev": "va", "table": "100",
     "protocol": "boot", "scope": "global", "flags": []},
    {"type": "local", "dst": "10.0.0.1", "dev": "va", "table": "local", "protocol": "kernel",
     "scope": "host", "prefsrc": "10.0.0.1", "flags": []},
    {"type": "unicast", "dst": "fe80::/64", "dev": "va", "table": "main", "protocol": "kernel",
     "scope": "global", "metric": 256, "flags": [], "pref": "medium"},
    {"type": "unicast", "dst": "2001:db8::/64", "gateway": "fe80::1", "dev": "va", "table": "main",
     "protocol": "boot", "scope": "global", "metric": 1024, "flags": [], "pref": "medium"},
]
# The same main-table routes as `ip -j route show` prints them (without -d's defaults)
H1_MAIN = [
    {"dst": "default", "gateway": "10.0.0.254", "dev": "va", "flags": []},
    {"dst": "10.0.0.0/24", "dev": "va", "protocol": "kernel", "scope": "link", "prefsrc": "10.0.0.1", "flags": []},
    {"dst": "fe80::/64", "dev": "va", "protocol": "kernel", "metric": 256, "flags": [], "pref": "medium"},
    {"dst": "2001:db8::/64", "gateway": "fe80::1", "dev": "va", "metric": 1024, "flags": [], "pref": "medium"},
]


def with_caller(table: dict, caller: int = 100) -> str:
    """What :func:`netnswrap.nsids.lsns_and_caller` prints: the caller's namespace, then lsns."""
    return f"net:[{caller}]\n" + json.dumps(table)


def lsns_and_caller(prefix: str) -> str:
    """The command line of :func:`netnswrap.nsids.lsns_and_caller` placed by ``prefix``."""
    return f"{prefix} " + shlex.join(lsns_and_caller_argv(os.getpid()))


def caller_view(h1_lsns: dict) -> str:
    """What ``ip -force -d -j -batch -`` of :data:`netnswrap.peers.CALLER_VIEW` for h1
    prints: lsns run in h1, the caller's links, the caller's nsids of h1 and h2."""
    return "\n".join(json.dumps(value) for value in (h1_lsns, [LO], [{"name": "h1"}, {"name": "h2"}])) + "\n"


def two_hosts():
    """Host namespaces h1, h2, each with veth ifindex 3 to a container's eth0
    ifindex 2 (PIDs 11, 12): the ifindexes alone fit both ways round."""
    return {
        "ip -j netns list": [{"name": "h1"}, {"name": "h2"}],
        "readlink /proc/self/ns/net": "net:[100]\n",
        shlex.join(MEMBERS):  # the reading shell is PID 99, in the caller's namespace
            "99\n/proc/1/ns/net 100\n/proc/11/ns/net 201\n/proc/12/ns/net 202\n/proc/99/ns/net 100\n",
        "lsns -J -t net": lsns((100, 1, "unassigned"), (201, 11, "unassigned"), (202, 12, "unassigned")),
        shlex.join(each_named(["h1", "h2"], NAMED_READ, NAMED_INPUT)):  # links, then routes
            "\nnetns: h1\n" + json.dumps([LO, veth(3, "va", 2, 0)]) + "\n" + json.dumps(H1_ROUTES) +
            "\n\nnetns: h2\n" + json.dumps([LO, veth(3, "vb", 2, 0)]) + "\n[]\n",
        "ip -d -j addr show": [LO],
        "ip -j route show table all": [],
        "nsenter -t 11 -n ip -j route show table all": [],
        "nsenter -t 12 -n ip -j route show table all": [],
        "nsenter -t 11 -n ip -d -j addr show": [LO, veth(2, "eth0", 3, 0)],
        "nsenter -t 12 -n ip -d -j addr show": [LO, veth(2, "eth0", 3, 0)],
        "ip -n h1 -j netns list": [{"name": "h1"}, {"name": "h2"}],
        "ip netns exec h1 lsns -J -t net": lsns((100, 1, "unassigned"), (201, 11, "0"), (202, 12, "1")),
        "ip -force -d -j -batch -": caller_view(lsns((100, 1, "unassigned"), (201, 11, "0"), (202, 12, "1"))),
        "ip -n h2 -j netns list": [{"name": "h1"}, {"name": "h2"}],
        "ip netns exec h2 lsns -J -t net": lsns((100, 1, "unassigned"), (201, 11, "1"), (202, 12, "0")),
        "ip -n h1 -d -j link show dev va": [veth(3, "va", 2, 0)],
        "ip netns exec h1 ethtool -S va": "NIC statistics:\n     peer_ifindex: 2\n",
        "nsenter -t 11 -n ip -d -j link show": [LO, veth(2, "eth0", 3, 0)],
    }


def test_repeated_ifindexes_are_told_apart_by_each_namespaces_nsids():
    runner = Fake(two_hosts())
    pairs = nw.Netns(runner=runner).topology()["veth_pairs"]
    assert [[(end["netns"], end["pid"], end["ifname"]) for end in pair] for pair in pairs] == [
        [("h1", None, "va"), (None, 11, "eth0")], [("h2", None, "vb"), (None, 12, "eth0")]]
    assert "ip netns exec h1 lsns -J -t net" in runner.ran


def test_each_namespace_carries_its_main_table_of_both_families_and_the_tree_prints_it():
    runner = Fake(two_hosts())
    topology = nw.Netns(runner=runner).topology()
    h1, h2 = (next(s for s in topology["namespaces"] if s["name"] == name) for name in ("h1", "h2"))
    assert h1["routes"] == H1_MAIN
    assert h2["routes"] == [] and all("routes" in space for space in topology["namespaces"])
    assert [s["links"][-1]["ifname"] for s in (h1, h2)] == ["va", "vb"]  # from the same read
    # the named ones in the one process that reads their links, then one each
    assert sum("route show" in line for line in runner.ran) == 4 and len(runner.ran) == len(set(runner.ran))
    block = render.tree(topology).split("netns h1\n")[1].split("\n\n")[0].splitlines()
    routes = [line for line in block if "route " in line]
    assert routes == ["  ├─ route default via 10.0.0.254 dev va",
                      "  ├─ route 10.0.0.0/24 dev va proto kernel scope link src 10.0.0.1",
                      "  └─ route 2001:db8::/64 via fe80::1 dev va metric 1024"]


def test_veth_peer_looks_the_index_up_only_in_the_namespace_the_nsid_names():
    assert nw.Netns("h1", runner=Fake(two_hosts())).veth_peer("va") == {
        "netns": None, "pid": 11, "ifname": "eth0", "ifindex": 2}


def test_veth_peer_in_the_callers_namespace_is_netns_none_pid_none():
    answers = two_hosts()
    answers["nsenter -t 11 -n ip -d -j link show dev eth0"] = [veth(2, "eth0", 7, 0)]
    answers["nsenter -t 11 -n ethtool -S eth0"] = "NIC statistics:\n     peer_ifindex: 7\n"
    answers["nsenter -t 11 -n ip -j netns list"] = [{"name": "h1"}, {"name": "h2"}]
    answers[lsns_and_caller("nsenter -t 11 -n")] = with_caller(lsns((100, 1, "0"), (201, 11, "unassigned")))
    answers["ip -d -j link show"] = [LO, veth(7, "vethc", 2, 0)]
    assert nw.Netns.from_pid(11, runner=Fake(answers)).veth_peer("eth0") == {
        "netns": None, "pid": None, "ifname": "vethc", "ifindex": 7}


def test_veth_peer_in_the_same_namespace_from_recorded_outputs():
    ecv0 = (RECORDED / "ip-n-ecns1-d-j-link-show-ecv0.json").read_text()
    runner = Fake({"ip -n ecns1 -d -j link show dev ecv0": ecv0,
                   "ip netns exec ecns1 ethtool -S ecv0": "NIC statistics:\n     peer_ifindex: 3\n",
                   "ip -n ecns1 -d -j link show": (RECORDED / "ip-n-ecns1-d-j-link-show.json").read_text()})
    assert nw.Netns("ecns1", runner=runner).veth_peer("ecv0") == {
        "netns": "ecns1", "pid": None, "ifname": "ecv1", "ifindex": 3}


def test_veth_peer_into_a_named_namespace_from_recorded_outputs():
    runner = Fake({"ip -n ecns1 -d -j link show dev ecva": (RECORDED / "ip-n-ecns1-d-j-link-show-ecva.json").read_text(),
                   "ip netns exec ecns1 ethtool -S ecva": (RECORDED / "ethtool-S-veth-ecva.txt").read_text(),
                   "ip -n ecns1 -j netns list": [{"name": "ecns2", "id": 0}, {"name": "ecns1"}],
                   "ip -n ecns2 -d -j link show": (RECORDED / "ip-n-ecns2-d-j-link-show.json").read_text()})
    peer = nw.Netns("ecns1", runner=runner).veth_peer("ecva")
    assert (peer["netns"], peer["pid"], peer["ifindex"]) == ("ecns2", None, 2)


def without(answers, line, error):
    return dict(answers, **{line: error})


def test_veth_peer_without_ethtool_uses_ip_alone():
    runner = Fake(without(two_hosts(), "ip netns exec h1 ethtool -S va", nw.ToolNotFound("ethtool")))
    assert nw.Netns("h1", runner=runner).veth_peer("va")["pid"] == 11


def test_veth_peer_refuses_when_ip_and_ethtool_disagree():
    runner = Fake(without(two_hosts(), "ip netns exec h1 ethtool -S va", "NIC statistics:\n     peer_ifindex: 9\n"))
    assert nw.Netns("h1", runner=runner).veth_peer("va")["pid"] == 11  # ethtool is asked only on request
    with pytest.raises(nw.NetnsWrapError, match="ethtool -S says 9"):
        nw.Netns("h1", runner=runner).veth_peer("va", cross_check=True)


def test_veth_peer_of_a_device_that_is_no_veth():
    runner = Fake({"ip -d -j link show dev br0": [{"ifindex": 4, "ifname": "br0", "linkinfo": {"info_kind": "bridge"}}]})
    with pytest.raises(nw.InvalidArgument, match="br0 is a bridge device, not a veth"):
        nw.Netns(runner=runner).veth_peer("br0")
    assert runner.ran == ["ip -d -j link show dev br0"]


def test_veth_peer_whose_nsid_names_no_reachable_namespace():
    answers = without(two_hosts(), "ip -force -d -j -batch -", caller_view(lsns((100, 1, "unassigned"))))
    with pytest.raises(nw.NamespaceNotFound, match="nsid 0 of netns h1 names a namespace with neither"):
        nw.Netns("h1", runner=Fake(answers)).veth_peer("va")


def test_an_ambiguous_veth_whose_nsid_leads_nowhere_stays_unpaired():
    answers = without(two_hosts(), "ip netns exec h1 lsns -J -t net", lsns((100, 1, "unassigned")))
    pairs = nw.Netns(runner=Fake(answers)).topology()["veth_pairs"]
    assert [[(end["netns"], end["pid"], end["ifname"]) if end else None for end in pair] for pair in pairs] == [
        [("h1", None, "va"), None], [("h2", None, "vb"), (None, 12, "eth0")], [(None, 11, "eth0"), None]]


def test_bad_device_name_fails_before_any_command():
    runner = Fake({})
    with pytest.raises(nw.InvalidArgument):
        nw.Netns(runner=runner).veth_peer("no/slash")
    assert runner.ran == []


def test_a_container_that_exits_while_read_is_left_out():
    answers = without(two_hosts(), "nsenter -t 12 -n ip -d -j addr show",
                      nw.ProcessNotFound("nsenter: cannot open /proc/12/ns/net: No such file or directory"))
    topology = nw.Netns(runner=Fake(answers)).topology()
    assert 12 not in [s["pid"] for s in topology["namespaces"]]


def test_dry_run_topology_runs_only_reads_and_is_empty():
    runner = nw.DryRunRunner()
    assert nw.Netns(runner=runner).topology() == {"namespaces": [], "veth_pairs": [], "bridges": [],
                                                  "hidden_processes": 0, "warnings": []}
    engines = [" ".join(argv) for argv in runner.commands[4:]]
    assert [" ".join(argv) for argv in runner.commands[:4]] == [
        "ip -V", "ip -j netns list", " ".join(MEMBERS), "lsns -J -t net"]
    assert engines and all(line.split()[0] in ENGINES for line in engines)  # their listings only


# --- ip -all netns exec output --------------------------------------------------

def test_split_all_reads_names_with_newlines_and_skips_silent_namespaces():
    text = "\nnetns: a\nb\n[1]\n\nnetns: a\n\nnetns: c\n[{\"x\": \"\\nnetns: d\"}]\n"
    assert _split_all(text, ["a", "a\nb", "c"]) == {"a\nb": [1], "c": [{"x": "\nnetns: d"}]}


def test_split_all_ignores_namespaces_it_was_not_asked_about():
    assert _split_all("\nnetns: new\n[1]\n\nnetns: a\n[2]\n", ["a"]) == {"a": [2]}


def test_split_all_reads_several_arrays_of_a_batch_per_namespace():
    text = "\nnetns: a\n[1]\n[2]\n\nnetns: b\n[3]\n\nnetns: c\n"
    assert _split_all(text, ["a", "b", "c"], arrays=2) == {"a": [[1], [2]], "b": [[3]]}
    assert _split_all(text, ["a", "b", "c"]) == {"a": [1], "b": [3]}


def test_split_all_bad_json_is_a_parse_error():
    with pytest.raises(nw.ParseError, match="netns 'a'"):
        _split_all("\nnetns: a\n[{\n", ["a"])
