"""Declarative labs, live, as root: apply builds, a second apply runs
nothing, drift is named exactly and fixed, what the file does not declare
is left alone, a failure leaves nothing, export builds the lab again.

Every namespace has a prefix of its own (``nwlb`` + PID + a counter) and is
deleted after the test, whatever happened.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import netnswrap as nw
from netnswrap.pytest_plugin import cannot_create_namespaces

import kernel
from lab_helpers import EXAMPLES, new_prefix, ours, prefixed, remove, renamed_snapshot, snapshot

pytestmark = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "root")


@pytest.fixture
def prefix():
    """Namespace prefixes of this test; all their namespaces are deleted after it."""
    made = []

    def make() -> str:
        made.append(new_prefix())
        return made[-1]

    yield make
    for p in made:
        remove(p)


def ip(*argv: str) -> None:
    subprocess.run(("ip",) + argv, check=True, capture_output=True)


def small_lab(p: str) -> dict:
    r, h = p + "r", p + "h1"
    return {"namespaces": {
        r: {"links": {"br0": {"kind": "bridge"}},
            "interfaces": {"br0": {"addresses": ["10.76.9.1/24"]}, "eth1": {"addresses": ["10.76.1.1/24"]}}},
        h: {"interfaces": {"eth0": {"addresses": ["10.76.1.2/24", "fd76::2/64"], "mtu": 1400}},
            "routes": [{"dst": "default", "via": "10.76.1.1"},
                       {"dst": "10.50.0.0/16", "via": "10.76.1.1", "metric": 7}]}},
        "links": [{"endpoints": [f"{r}:eth1", f"{h}:eth0"]}]}


@pytest.mark.parametrize("name", ["star.yml", "three-tier.yml", "docker-host.yml"])
def test_example_builds_converges_and_round_trips(prefix, name):
    first, second = prefix(), prefix()
    spec = prefixed(EXAMPLES / name, first)
    ran = nw.apply(spec)
    assert ran and ran == [line for line in ran if line.startswith(("ip ",))]
    assert nw.plan(spec) == [] and nw.apply(spec) == []  # converged: nothing runs
    built = snapshot(spec["namespaces"])
    assert set(built["namespaces"]) == set(spec["namespaces"]) == set(ours(first))
    # export, rename, apply beside it: the same lab under other names
    exported = nw.export(sorted(spec["namespaces"]))
    again = nw.lab.rename(exported, {ns: second + ns[len(first):] for ns in exported["namespaces"]})
    nw.apply(again)
    assert snapshot(again["namespaces"]) == renamed_snapshot(built, first, second)
    assert nw.plan(again) == []
    nw.destroy(spec)
    assert ours(first) == [] and len(ours(second)) == len(spec["namespaces"])


def test_three_tier_routes_traffic_through_both_routers(prefix):
    p = prefix()
    nw.apply(prefixed(EXAMPLES / "three-tier.yml", p))
    ping = subprocess.run(["ip", "netns", "exec", p + "tt-client", "ping", "-c", "1", "-W", "5", "10.70.3.11"],
                          capture_output=True, text=True)
    assert ping.returncode == 0, ping.stdout + ping.stderr


def test_drift_is_named_exactly_and_fixed(prefix):
    p = prefix()
    lab = small_lab(p)
    r, h = p + "r", p + "h1"
    nw.apply(lab)
    routes = [f"ip -n {h} route add default via 10.76.1.1", f"ip -n {h} route add 10.50.0.0/16 via 10.76.1.1 metric 7"]
    drifts = [
        (("-n", h, "addr", "del", "10.76.1.2/24", "dev", "eth0"),  # the kernel drops the routes through it too
         [f"ip -n {h} addr add 10.76.1.2/24 dev eth0"] + routes),
        (("-n", h, "route", "del", "default"), routes[:1]),
        (("-n", r, "link", "set", "eth1", "down"), [f"ip -n {r} link set dev eth1 up"]),
        (("-n", r, "link", "set", "br0", "down"), [f"ip -n {r} link set dev br0 up"]),
        (("-n", h, "link", "set", "eth0", "mtu", "1300"), [f"ip -n {h} link set dev eth0 mtu 1400"]),
        (("-n", r, "link", "del", "eth1"),  # both ends go: made again, with every setting of both
         [f"ip -n {r} link add eth1 up type veth peer name eth0 netns {h}",
          f"ip -n {r} addr add 10.76.1.1/24 dev eth1", f"ip -n {h} link set dev eth0 up mtu 1400",
          f"ip -n {h} addr add 10.76.1.2/24 dev eth0", f"ip -n {h} addr add fd76::2/64 dev eth0"] + routes),
    ]
    for drift, fix in drifts:
        ip(*drift)
        assert nw.plan(lab) == fix, drift
        assert nw.apply(lab) == fix
        assert nw.plan(lab) == []
    assert kernel.link(h, "eth0")["mtu"] == 1400 and "UP" in kernel.link(r, "eth1")["flags"]


def test_a_link_of_another_kind_is_made_again(prefix):
    p = prefix()
    lab = small_lab(p)
    r = p + "r"
    nw.apply(lab)
    ip("-n", r, "link", "del", "br0")
    ip("-n", r, "tuntap", "add", "mode", "tap", "name", "br0")
    assert nw.plan(lab) == [f"ip -n {r} link del br0", f"ip -n {r} link add br0 up type bridge",
                            f"ip -n {r} addr add 10.76.9.1/24 dev br0"]
    nw.apply(lab)
    assert kernel.link(r, "br0")["linkinfo"]["info_kind"] == "bridge" and nw.plan(lab) == []


def test_what_the_file_does_not_declare_is_left_alone(prefix):
    p = prefix()
    lab = small_lab(p)
    r, h, other = p + "r", p + "h1", p + "other"
    nw.apply(lab)
    ip("-n", h, "addr", "add", "10.9.9.9/32", "dev", "eth0")           # an extra address on a declared interface
    ip("-n", h, "route", "add", "10.55.0.0/16", "via", "10.76.1.1")   # an extra route
    ip("-n", h, "route", "add", "10.50.0.0/16", "via", "10.76.1.1")   # same destination, another metric
    ip("-n", r, "link", "add", "extra0", "type", "bridge")            # an extra link
    ip("-n", r, "link", "set", "lo", "mtu", "9000")                   # a setting the file does not name
    ip("netns", "add", other)                                         # an extra namespace
    assert nw.plan(lab) == [] and nw.apply(lab) == []
    assert "10.9.9.9/32" in kernel.ipv4(h, "eth0") and kernel.has_link(r, "extra0")
    assert kernel.link(r, "lo")["mtu"] == 9000
    assert {route["dst"] for route in kernel.ip_json(h, "route")} >= {"10.55.0.0/16", "10.50.0.0/16"}
    assert nw.destroy(lab) == [f"ip netns del {r}", f"ip netns del {h}"]
    assert ours(p) == [other] and nw.destroy(lab) == []


def test_a_failing_apply_is_undone(prefix):
    p = prefix()
    lab = small_lab(p)
    nw.apply(lab)
    before = snapshot(lab["namespaces"])
    bigger = json.loads(json.dumps(lab))
    bigger["namespaces"][p + "h2"] = {"interfaces": {"eth0": {"addresses": ["10.76.2.2/24"]}},
                                      "routes": [{"dst": "10.60.0.0/16", "via": "10.99.0.1"}]}  # unreachable gateway
    bigger["links"].append({"endpoints": [f"{p}r:eth2", f"{p}h2:eth0"]})
    bigger["namespaces"][p + "r"]["interfaces"]["eth2"] = {"addresses": ["10.76.2.1/24"], "master": "br0"}
    with pytest.raises(nw.NetnsWrapError, match="invalid gateway") as caught:  # the kernel's refusal
        nw.apply(bigger)
    assert caught.value.batch_line is not None and "10.99.0.1" in caught.value.command
    assert ours(p) == sorted(lab["namespaces"])  # h2 is gone again
    assert snapshot(lab["namespaces"]) == before


def test_cli_plan_apply_export_destroy(prefix, tmp_path, capsys):
    from netnswrap.cli import main
    p = prefix()
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(small_lab(p)))
    assert main(["apply", str(path), "--plan"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# the caller's namespace\nip netns add ") and f"# netns {p}h1\nip -n {p}h1 " in out
    assert main(["apply", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.endswith(f"applied {path}: {len(nw.lab.plan(small_lab(p + 'x')))} changes\n")  # as many as a fresh plan
    assert main(["apply", str(path), "--plan"]) == 0
    assert capsys.readouterr().out == f"nothing to do: the host matches {path}\n"
    assert main(["export", p + "r", p + "h1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == nw.export([p + "r", p + "h1"])
    assert main(["export", p + "r"]) == 0
    assert "br0: {kind: bridge}" in capsys.readouterr().out
    assert main(["destroy", str(path)]) == 0
    assert capsys.readouterr().out == f"ip netns del {p}r\nip netns del {p}h1\n" and ours(p) == []


def test_a_changed_route_is_replaced_and_a_stray_veth_made_again(prefix):
    p = prefix()
    lab = small_lab(p)
    r, h = p + "r", p + "h1"
    nw.apply(lab)
    ip("-n", h, "route", "replace", "10.50.0.0/16", "via", "10.76.1.5", "metric", "7")
    assert nw.plan(lab) == [f"ip -n {h} route replace 10.50.0.0/16 via 10.76.1.1 metric 7"]
    nw.apply(lab)
    assert kernel.ip_json(h, "route", "show", "10.50.0.0/16")[0]["gateway"] == "10.76.1.1"
    # eth1 a veth again, but paired with x0 beside it: deleted (x0 with it) and made as declared
    ip("-n", r, "link", "del", "eth1")
    ip("-n", r, "link", "add", "eth1", "type", "veth", "peer", "name", "x0")
    fix = nw.plan(lab)
    assert fix[:2] == [f"ip -n {r} link del eth1", f"ip -n {r} link add eth1 up type veth peer name eth0 netns {h}"]
    nw.apply(lab)
    assert nw.plan(lab) == [] and not kernel.has_link(r, "x0")


def test_a_sysctl_set_back_by_hand_is_set_again(prefix):
    p = prefix()
    spec = prefixed(EXAMPLES / "docker-host.yml", p)
    nw.apply(spec)
    host = p + "dk-host"
    subprocess.run(["ip", "netns", "exec", host, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0"], check=True)
    assert nw.plan(spec) == [f"ip netns exec {host} sysctl -q -w net.ipv4.ip_forward=1"]
    nw.apply(spec)
    assert nw.Netns(host).sysctl_get("net.ipv4.ip_forward") == "1" and nw.plan(spec) == []


def test_a_sysctl_of_several_values_is_declared_applied_and_compared(prefix):
    host = prefix() + "sv"
    spec = {"namespaces": {host: {"sysctls": {"net.ipv4.ping_group_range": "0 2147483647",
                                              "net.ipv4.ip_local_port_range": "20000\t30000"}}}}
    ran = nw.apply(spec)  # one batch: the values go into its lines in double quotes
    assert f"ip netns exec {host} sysctl -q -w 'net.ipv4.ping_group_range=0 2147483647'" in ran
    assert subprocess.run(["ip", "netns", "exec", host, "sysctl", "-n", "net.ipv4.ping_group_range"],
                          capture_output=True, text=True).stdout == "0\t2147483647\n"
    assert nw.plan(spec) == []
    subprocess.run(["ip", "netns", "exec", host, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=20000 30001"],
                   check=True)
    assert nw.plan(spec) == [f"ip netns exec {host} sysctl -q -w 'net.ipv4.ip_local_port_range=20000\t30000'"]
    nw.apply(spec)
    assert nw.plan(spec) == []


def test_mtus_hold_after_apply_of_a_bridge_and_a_macvlan_on_a_veth(prefix):
    # a bridge's MTU given as it is made gives way to its first port's; a
    # macvlan takes its lower device's MTU as it is made: MTUs go after
    p = prefix()
    r, h = p + "r", p + "h"
    lab = {"namespaces": {r: {"links": {"br0": {"kind": "bridge"}, "mv0": {"kind": "macvlan", "link": "v2"}},
                              "interfaces": {"br0": {"mtu": 9000}, "p1": {"master": "br0"}, "v2": {"mtu": 9000}}},
                          h: {}},
           "links": [{"endpoints": [f"{r}:p1", f"{h}:eth0"]}, {"endpoints": [f"{r}:v2", f"{h}:eth1"]}]}
    nw.apply(lab)
    assert nw.plan(lab) == []
    mtus = {dev: kernel.link(r, dev)["mtu"] for dev in ("br0", "p1", "v2", "mv0")}
    assert mtus == {"br0": 9000, "p1": 1500, "v2": 9000, "mv0": 1500}  # (made before v2 went up to 9000)


def test_an_mtu_raised_on_a_device_and_what_stands_on_it_goes_lower_first(prefix):
    p = prefix()
    m, n = p + "m", p + "n"
    # "a0" sorts before "v0", the veth end it stands on
    lab = {"namespaces": {m: {"links": {"a0": {"kind": "macvlan", "link": "v0"}},
                              "interfaces": {"a0": {"mtu": 9000}, "v0": {"mtu": 9000}}}, n: {}},
           "links": [{"endpoints": [f"{m}:v0", f"{n}:v1"]}]}
    nw.apply(lab)
    assert nw.plan(lab) == []
    ip("-n", m, "link", "set", "a0", "mtu", "1500")
    ip("-n", m, "link", "set", "v0", "mtu", "1500")  # drift: both down again
    assert nw.plan(lab) == [f"ip -n {m} link set dev v0 mtu 9000", f"ip -n {m} link set dev a0 mtu 9000"]
    nw.apply(lab)
    assert kernel.link(m, "a0")["mtu"] == kernel.link(m, "v0")["mtu"] == 9000


def test_destroy_kills_what_runs_in_the_namespaces_it_deletes(prefix, tmp_path):
    p = prefix()
    lab = small_lab(p)
    nw.apply(lab)
    inside = [subprocess.Popen(["ip", "netns", "exec", p + name, "sleep", "300"]) for name in ("h1", "r")]
    try:
        for process, name in zip(inside, ("h1", "r")):
            assert kernel.eventually(lambda: process.pid in nw.netns_pids(p + name))
        runner = nw.RecordingRunner(tmp_path / "destroy.json", inner=nw.ShRunner())
        ran = nw.destroy(lab, runner=runner)
        assert [process.wait(timeout=10) for process in inside] == [-9, -9]
        assert not {p + "r", p + "h1"} & kernel.namespaces()
        assert sorted(ran) == sorted(f"ip netns del {p}{name}" for name in ("r", "h1"))
        # whatever the number of namespaces: a listing, one kill, a listing that finds none, the batch
        processes = [entry["argv"][0] for entry in runner.interactions
                     if entry["argv"][0] not in ("mktemp", "tee", "fallocate", "rm")]  # (the batch's files)
        assert processes == ["sh", "kill", "sh", "sh"]
    finally:
        for process in inside:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_without_the_rights_export_says_which_are_needed(prefix):
    p = prefix()
    ip("netns", "add", p + "x")
    done = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-net_admin,-sys_admin", "--",
                           sys.executable, "-m", "netnswrap", "export", p + "x"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("netnswrap: error: cannot read") and "needs root" in done.stderr
