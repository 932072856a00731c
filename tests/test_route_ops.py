"""Routes, neighbours, sysctls and link kinds offline: the exact command lines
(on every kind of handle and in a batch), validation before anything runs,
what a batch undoes, and typed errors raised from recorded failures."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

import netnswrap as nw
from netnswrap.batch_script import MARKER, check_line
from netnswrap.ops import kinds, neigh, route, sysctl
from netnswrap.runners import Result, Runner
from netnswrap.where import Where

RECORDED = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "reference"
                       / "route-errors.json").read_text())["cases"]


def ran(call, where=None):
    """The command lines ``call(handle)`` runs on a dry-run handle (``ip -V`` left out)."""
    runner = nw.DryRunRunner()
    handle = nw.Netns.from_pid(where, runner=runner) if isinstance(where, int) else nw.Netns(where, runner=runner)
    call(handle)
    return [shlex.join(argv) for argv in runner.commands if argv != ["ip", "-V"]]


@pytest.mark.parametrize("call, line", [
    (lambda h: h.route_add("10.2.0.0/16", via="10.1.0.1"), "ip -n h1 route add 10.2.0.0/16 via 10.1.0.1"),
    (lambda h: h.route_add("default", via="10.1.0.1"), "ip -n h1 route add default via 10.1.0.1"),
    (lambda h: h.route_add("10.3.0.0/24", dev="eth0"), "ip -n h1 route add 10.3.0.0/24 dev eth0"),
    (lambda h: h.route_add("10.9.9.9", dev="eth0", src="10.1.0.2", metric=7, table=100),
     "ip -n h1 route add 10.9.9.9 dev eth0 src 10.1.0.2 metric 7 table 100"),
    (lambda h: h.route_add("2001:DB8:0:1::/64", via="2001:db8::1", table="main"),
     "ip -n h1 route add 2001:db8:0:1::/64 via 2001:db8::1 table main"),
    (lambda h: h.route_add("default", via="fe80::1", dev="eth0"), "ip -n h1 route add default via fe80::1 dev eth0"),
    (lambda h: h.route_replace("10.2.0.0/16", via="10.1.0.9", metric=0),
     "ip -n h1 route replace 10.2.0.0/16 via 10.1.0.9 metric 0"),
    (lambda h: h.route_del("10.2.0.0/16"), "ip -n h1 route del 10.2.0.0/16"),
    (lambda h: h.route_del("default", via="10.1.0.1", table="4294967295"),
     "ip -n h1 route del default via 10.1.0.1 table 4294967295"),
    (lambda h: h.route_list(), "ip -n h1 -j route show"),
    (lambda h: h.route_list(table="all", family=6), "ip -n h1 -6 -j route show table all"),
    (lambda h: h.neigh_add("10.1.0.5", "02:AA:00:00:00:05", "eth0"),
     "ip -n h1 neigh add 10.1.0.5 lladdr 02:aa:00:00:00:05 dev eth0"),
    (lambda h: h.neigh_del("2001:db8::5", "eth0"), "ip -n h1 neigh del 2001:db8::5 dev eth0"),
    (lambda h: h.neigh_list("eth0"), "ip -n h1 -j neigh show dev eth0"),
    (lambda h: h.sysctl_set("net.ipv4.ip_forward", 1), "ip netns exec h1 sysctl -q -w net.ipv4.ip_forward=1"),
    (lambda h: h.sysctl_get("net.ipv6.conf.all.forwarding"),
     "ip netns exec h1 sysctl -n net.ipv6.conf.all.forwarding"),
])
def test_commands_in_a_named_namespace(call, line):
    assert ran(call, "h1") == [line]


def test_route_get_runs_ip_route_get_and_an_empty_answer_is_not_found():
    with pytest.raises(nw.RouteNotFound):
        assert ran(lambda h: h.route_get("10.2.0.1"), "h1") == ["ip -n h1 -j route get 10.2.0.1"]
    runner = nw.DryRunRunner()
    with pytest.raises(nw.RouteNotFound, match="no route to 10.2.0.1"):
        nw.Netns("h1", runner=runner).route_get("10.2.0.1")
    assert runner.commands[-1] == ["ip", "-n", "h1", "-j", "route", "get", "10.2.0.1"]


@pytest.mark.parametrize("where, prefix", [(None, ""), (4242, "nsenter -t 4242 -n ")])
def test_sysctl_in_the_callers_and_a_process_namespace(where, prefix):
    assert ran(lambda h: h.sysctl_set("net.ipv4.conf.all.forwarding", "1"), where) == [
        f"{prefix}sysctl -q -w net.ipv4.conf.all.forwarding=1"]
    assert ran(lambda h: h.sysctl_get("kernel.ostype"), where) == [f"{prefix}sysctl -n kernel.ostype"]
    assert ran(lambda h: h.route_add("default", via="10.0.0.1"), where) == [
        f"{prefix}ip route add default via 10.0.0.1"]


@pytest.mark.parametrize("kind, options, line", [
    ("veth", {"peer": "p0"}, "ip -n h1 link add x0 type veth peer name p0"),
    ("veth", {"peer": "p0", "peer_netns": "h2"}, "ip -n h1 link add x0 type veth peer name p0 netns h2"),
    ("veth", {"peer": "p0", "peer_netns": 77}, "ip -n h1 link add x0 type veth peer name p0 netns 77"),
    ("bridge", {}, "ip -n h1 link add x0 type bridge"),
    ("dummy", {}, "ip -n h1 link add x0 type dummy"),
    ("macvlan", {"link": "eth0", "mode": "bridge"}, "ip -n h1 link add x0 link eth0 type macvlan mode bridge"),
    ("ipvlan", {"link": "eth0", "mode": "l3s"}, "ip -n h1 link add x0 link eth0 type ipvlan mode l3s"),
    ("vlan", {"link": "eth0", "id": 100}, "ip -n h1 link add x0 link eth0 type vlan id 100"),
    ("vxlan", {"id": 42, "remote": "10.0.0.2", "local": "10.0.0.1", "dstport": 4789, "dev": "eth0"},
     "ip -n h1 link add x0 type vxlan id 42 remote 10.0.0.2 local 10.0.0.1 dstport 4789 dev eth0"),
    ("vxlan", {"id": 7, "dstport": None}, "ip -n h1 link add x0 type vxlan id 7"),  # None: not given
    ("bond", {"mode": "802.3ad"}, "ip -n h1 link add x0 type bond mode 802.3ad"),
    ("bond", {}, "ip -n h1 link add x0 type bond"),
    ("tun", {}, "ip -n h1 tuntap add mode tun name x0"),
    ("tap", {}, "ip -n h1 tuntap add mode tap name x0"),
    ("gre", {"remote": "192.0.2.2", "local": "192.0.2.1"}, "ip -n h1 link add x0 type gre remote 192.0.2.2 local 192.0.2.1"),
    ("ipip", {"remote": "192.0.2.2"}, "ip -n h1 link add x0 type ipip remote 192.0.2.2"),
])
def test_link_add_builds_each_kinds_command(kind, options, line):
    assert ran(lambda h: h.link_add("x0", kind, **options), "h1") == [line]


def test_veth_add_and_bridge_add_are_the_same_commands_as_link_add():
    assert ran(lambda h: h.bridge_add("br0"), "h1") == ran(lambda h: h.link_add("br0", "bridge"), "h1")
    assert (ran(lambda h: h.veth_add("a", "b", peer_netns="h2"), "h1")
            == ran(lambda h: h.link_add("a", "veth", peer="b", peer_netns="h2"), "h1"))


def test_a_link_is_made_with_its_state_mtu_and_master_in_its_add_line():
    assert ran(lambda h: h.veth_add("p1", "eth0", peer_netns="h2", up=True, mtu=1400, master="br0"), "h1") == [
        "ip -n h1 link add p1 up mtu 1400 master br0 type veth peer name eth0 netns h2"]
    assert ran(lambda h: h.link_add("mv0", "macvlan", link="eth0", mode="bridge", up=True), "h1") == [
        "ip -n h1 link add mv0 up link eth0 type macvlan mode bridge"]
    # a bridge's MTU goes through link set (given to link add, its first port would replace it)
    assert ran(lambda h: h.link_add("br0", "bridge", up=True, mtu=9000), "h1") == [
        "ip -n h1 link add br0 up type bridge", "ip -n h1 link set dev br0 mtu 9000"]
    # ip tuntap add takes none of them: a link set follows
    assert ran(lambda h: h.link_add("tap0", "tap", up=True, master="br0"), "h1") == [
        "ip -n h1 tuntap add mode tap name tap0", "ip -n h1 link set dev tap0 up master br0"]
    b = nw.Netns(runner=nw.DryRunRunner()).batch()
    b.link_add("tap0", "tap", mtu=1300)
    b.veth_add("va", "vb", up=True)
    assert lines(b.script("/d")[1]["/d/main.0"]) == [
        "tuntap add mode tap name tap0", "link set dev tap0 mtu 1300", "link add va up type veth peer name vb"]


@pytest.mark.parametrize("call, words", [
    (lambda h: h.veth_add("a", "b", up="yes"), "invalid up 'yes'"),
    (lambda h: h.veth_add("a", "b", up=None), "invalid up None: must be True or False"),
    (lambda h: h.link_add("br0", "bridge", mtu=2**31), "invalid MTU"),
    (lambda h: h.link_add("br0", "bridge", master="a b"), "whitespace"),
    (lambda h: h.link_add("tap0", "tap", mtu=-5), "invalid MTU -5"),
])
def test_bad_settings_at_creation_are_refused_before_anything_runs(call, words):
    runner = nw.DryRunRunner()
    with pytest.raises(nw.InvalidArgument, match=words):
        call(nw.Netns("h1", runner=runner))
    assert runner.commands == []


@pytest.mark.parametrize("call, words", [
    (lambda h: h.route_add("10.1.2.0/16", via="10.0.0.1"), "host bits set"),
    (lambda h: h.route_add("10.1.0.0/33", dev="eth0"), "10.1.0.0/33"),
    (lambda h: h.route_add("deafult", via="10.0.0.1"), "'deafult'"),
    (lambda h: h.route_add("10.1.0.0/16"), "needs a gateway (via=) or a device (dev=)"),
    (lambda h: h.route_add("10.1.0.0/16", via="2001:db8::1"), "must be an IPv4 address"),
    (lambda h: h.route_add("2001:db8::/64", via="10.0.0.1"), "must be an IPv6 address"),
    (lambda h: h.route_add("default", via="10.0.0.1", src="2001:db8::1"), "must be an IPv4 address"),
    (lambda h: h.route_add("10.1.0.0/16", via="10.0.0.0/24"), "no prefix length"),
    (lambda h: h.route_add("10.1.0.0/16", dev="a b"), "whitespace"),
    (lambda h: h.route_add("10.1.0.0/16", dev="eth0", metric=-1), "invalid metric -1"),
    (lambda h: h.route_add("10.1.0.0/16", dev="eth0", metric=2**32), "4294967295"),
    (lambda h: h.route_add("10.1.0.0/16", dev="eth0", metric=True), "invalid metric True"),
    (lambda h: h.route_add("10.1.0.0/16", dev="eth0", table=0), "invalid routing table 0"),
    (lambda h: h.route_add("10.1.0.0/16", dev="eth0", table="all"), "invalid routing table 'all'"),
    (lambda h: h.route_add("10.1.0.0/16", dev="eth0", table="main; reboot"), "invalid routing table"),
    (lambda h: h.route_del("10.1.0.0/16", table=2**32), "invalid routing table"),
    (lambda h: h.route_list(family=5), "invalid family 5"),
    (lambda h: h.route_list(table=""), "invalid routing table ''"),
    (lambda h: h.route_get("10.0.0.0/8"), "no prefix length"),
    (lambda h: h.neigh_add("10.0.0.5", "zz", "eth0"), "invalid link-layer address"),
    (lambda h: h.neigh_add("10.0.0.5/32", "02:00:00:00:00:01", "eth0"), "invalid address"),
    (lambda h: h.neigh_del("10.0.0.5", None), "interface name None"),
    (lambda h: h.sysctl_set("net.ipv4.ip_forward", True), "invalid sysctl value True"),
    (lambda h: h.sysctl_set("net.ipv4.ip_forward", ""), "invalid sysctl value ''"),
    (lambda h: h.sysctl_set("net.ipv4.ip_forward", "1\nkernel.x=1"), "newlines"),
    (lambda h: h.sysctl_set("net.ipv4.ip_forward=1", 1), "invalid sysctl key"),
    (lambda h: h.sysctl_set("net ipv4", 1), "invalid sysctl key"),
    (lambda h: h.sysctl_set("-a", 1), "invalid sysctl key"),
    (lambda h: h.sysctl_set("net..ipv4", 1), "'..' component"),
    (lambda h: h.sysctl_set("net/../../etc", 1), "'..' component"),
    (lambda h: h.sysctl_set("kernel.hostname", "x"), "would change the whole host"),
    (lambda h: h.sysctl_get("net.ipv4.*"), "invalid sysctl key"),
    (lambda h: h.link_add("x0", "bridge", mode="x"), "link kind 'bridge' does not take mode (it takes no options)"),
    (lambda h: h.link_add("x0", "vxlan", vni=5), "does not take vni (it takes id=, remote=, local=, dstport=, dev=)"),
    (lambda h: h.link_add("x0", "vxlan", remote="10.0.0.1"), "link kind 'vxlan' needs id="),
    (lambda h: h.link_add("x0", "vxlan", id=2**24), "invalid VXLAN id (VNI) 16777216"),
    (lambda h: h.link_add("x0", "vxlan", id=1, dstport=65536), "invalid vxlan dstport"),
    (lambda h: h.link_add("x0", "vlan", link="eth0"), "link kind 'vlan' needs id="),
    (lambda h: h.link_add("x0", "vlan", link="eth0", id=4095), "invalid VLAN id 4095"),
    (lambda h: h.link_add("x0", "macvlan", mode="bridge"), "needs link="),
    (lambda h: h.link_add("x0", "macvlan", link="eth0", mode="l2"), "invalid macvlan mode 'l2'"),
    (lambda h: h.link_add("x0", "bond", mode="lacp"), "invalid bond mode 'lacp'"),
    (lambda h: h.link_add("x0", "gre", remote="2001:db8::1"), "must be an IPv4 address"),
    (lambda h: h.link_add("x0", "veth"), "link kind 'veth' needs peer="),
    (lambda h: h.link_add("x0", "veth", peer="p0", peer_netns=3.5), "not a namespace: 3.5"),
    (lambda h: h.link_add("x%d", "tap"), "'%'"),
    (lambda h: h.link_add("x0", "wireguard"), "unknown link kind 'wireguard': must be one of veth, bridge"),
])
def test_bad_values_are_refused_before_anything_runs(call, words):
    runner = nw.DryRunRunner()
    with pytest.raises(nw.InvalidArgument) as caught:
        call(nw.Netns("h1", runner=runner))
    assert words in str(caught.value) and caught.value.argv is None
    assert [argv for argv in runner.commands if argv != ["ip", "-V"]] == []


def test_sysctl_keys_that_are_not_per_namespace_are_read_anywhere_but_set_only_in_the_callers():
    assert ran(lambda h: h.sysctl_set("kernel.hostname", "x")) == ["sysctl -q -w kernel.hostname=x"]
    with pytest.raises(nw.InvalidArgument, match="PID 4242 would change the whole host"):
        ran(lambda h: h.sysctl_set("vm.swappiness", 1), 4242)


# --- batches --------------------------------------------------------------------

def lines(text):
    """A script without its progress markers (``lo``'s, or a link just made)."""
    return [line for line in text.splitlines() if not line.startswith("link show dev ")]


def routed(b):
    b.link_add("br0", "bridge")
    r = b.netns_add("r")
    r.sysctl_set("net.ipv4.ip_forward", 1)
    r.link_add("eth1", "veth", peer="eth0", peer_netns="h1")
    r.route_add("10.99.0.0/16", via="10.76.1.2", metric=10)
    r.neigh_add("10.76.1.2", "02:00:00:00:00:02", "eth1")
    r.link_add("tap0", "tap")
    r.route_replace("default", via="10.76.1.2")
    r.route_del("10.98.0.0/16", dev="eth1")


def test_a_batch_takes_every_new_change_as_ip_batch_lines():
    b = nw.Netns(runner=nw.DryRunRunner()).batch()
    routed(b)
    text, files = b.script("/d")
    assert text == "ip -o -batch /d/main.0\nip -n r -o -batch /d/main.1\n"
    assert lines(files["/d/main.0"]) == ["link add br0 type bridge", "netns add r",
                                         "netns exec r sysctl -q -w net.ipv4.ip_forward=1"]
    assert lines(files["/d/main.1"]) == [
        "link add eth1 type veth peer name eth0 netns h1", "route add 10.99.0.0/16 via 10.76.1.2 metric 10",
        "neigh add 10.76.1.2 lladdr 02:00:00:00:00:02 dev eth1", "tuntap add mode tap name tap0",
        "route replace default via 10.76.1.2", "route del 10.98.0.0/16 dev eth1"]
    markers = [text.count("\nlink show dev ") for text in (files["/d/main.0"], files["/d/main.1"])]
    assert markers == [3, 6]  # one after each change
    assert files["/d/main.1"].count(MARKER) == 4  # lo's; after a link made, that link's


def test_a_batch_refuses_a_sysctl_outside_a_named_namespace():
    for handle in (nw.Netns(runner=nw.DryRunRunner()), nw.Netns.from_pid(4242, runner=nw.DryRunRunner())):
        with pytest.raises(nw.InvalidArgument, match="only in a named namespace"):
            handle.batch().sysctl_set("net.ipv4.ip_forward", 1)
    with pytest.raises(nw.InvalidArgument, match="cannot go into an ip -batch line"):
        nw.batch().netns("r").sysctl_set("net.core.somaxconn", 'a"b')


def test_a_word_with_spaces_tabs_or_a_single_quote_goes_into_a_batch_line_in_double_quotes():
    b = nw.Netns(runner=nw.DryRunRunner()).batch()
    b.netns("r").sysctl_set("net.ipv4.ip_local_port_range", "1024\t65000")
    b.netns("r").link_add("q'1", "bridge")
    _, files = b.script("/d")
    assert lines(files["/d/main.0"]) == ['netns exec r sysctl -q -w "net.ipv4.ip_local_port_range=1024\t65000"']
    assert lines(files["/d/main.1"]) == ['link add "q\'1" type bridge']
    for word in ('a"b', "a#b", "a\\b"):  # what double quotes cannot hold
        with pytest.raises(nw.InvalidArgument, match="cannot go into an ip -batch line"):
            b.netns("r").sysctl_set("net.core.somaxconn", word)
    with pytest.raises(nw.InvalidArgument, match="cannot go into an ip -batch line"):
        check_line(("a\nb",))


def test_what_a_batch_undoes():
    assert route.add("10.1.0.0/16", via="10.0.0.1", src="10.0.0.2", metric=5, table=7).undo.argv == (
        "ip", "route", "del", "10.1.0.0/16", "via", "10.0.0.1", "metric", "5", "table", "7")
    assert route.replace("default", via="10.0.0.1").undo is None  # it may have replaced a route it did not make
    assert route.delete("10.1.0.0/16", dev="eth0", table=7).undo.argv == (
        "ip", "route", "add", "10.1.0.0/16", "dev", "eth0", "table", "7")
    assert route.delete("10.1.0.0/16").undo is None  # not enough to add it back
    assert neigh.add("10.0.0.5", "02:00:00:00:00:05", "eth0").undo.argv == (
        "ip", "neigh", "del", "10.0.0.5", "dev", "eth0")
    assert neigh.delete("10.0.0.5", "eth0").undo is None
    assert sysctl.set_(Where("r"), "net.ipv4.ip_forward", 1).undo is None
    assert kinds.tuntap("t0", "tun").undo.argv == ("ip", "tuntap", "del", "mode", "tun", "name", "t0")


class Recorded(Runner):
    """Answers every command with one recorded failure."""

    def __init__(self, case_id):
        super().__init__()
        self.facts.ip = {"json": True, "busybox": False, "version": (6, 1)}
        self.case = next(case for case in RECORDED if case["id"] == case_id)

    def run(self, argv, *, input=None, timeout=None):
        return Result(tuple(argv), self.case["rc"], self.case["stdout"], self.case["stderr"])


@pytest.mark.parametrize("case_id, call, error", [
    ("route-add-exists", lambda h: h.route_add("10.20.0.0/16", via="10.9.0.2"), nw.RouteExists),
    ("route-del-missing", lambda h: h.route_del("10.30.0.0/16"), nw.RouteNotFound),
    ("route-add-gw-unreachable", lambda h: h.route_add("10.40.0.0/16", via="10.8.0.1"), nw.InvalidArgument),
    ("route-get-unreachable", lambda h: h.route_get("10.99.0.1"), nw.RouteNotFound),
    ("neigh-add-missing-dev", lambda h: h.neigh_add("10.9.0.7", "02:00:00:00:00:07", "nosuch"), nw.LinkNotFound),
    ("sysctl-get-unknown", lambda h: h.sysctl_get("net.ipv4.nosuch"), nw.InvalidArgument),
    ("sysctl-missing-netns-exec", lambda h: h.sysctl_set("net.ipv4.ip_forward", 1), nw.ToolNotFound),
    ("link-add-dummy", lambda h: h.link_add("x0", "dummy"), nw.NotSupported),
    ("link-add-vlan", lambda h: h.link_add("x1", "vlan", link="v0", id=5), nw.NotSupported),
    ("link-add-bond", lambda h: h.link_add("x2", "bond", mode="active-backup"), nw.NotSupported),
    ("tuntap-add-exists", lambda h: h.link_add("tap0", "tap"), nw.LinkExists),
])
def test_handles_raise_the_typed_error_of_a_recorded_failure(case_id, call, error):
    with pytest.raises(error) as caught:
        call(nw.Netns("nwrtrec", runner=Recorded(case_id)))
    assert type(caught.value) is error


def test_module_level_functions_are_the_callers_handle_methods():
    for name in ("route_list", "route_add", "route_replace", "route_del", "route_get", "neigh_list",
                 "neigh_add", "neigh_del", "sysctl_get", "sysctl_set", "link_add"):
        function = getattr(nw, name)
        assert function.__self__ == nw.Netns() and function.__func__ is getattr(nw.Netns, name)
        assert name in nw.__all__ and name in nw.HANDLE_METHODS


# --- text where ip has no -j: busybox, iproute2 before 4.14 -----------------------

PARSERS = Path(__file__).resolve().parents[1] / "fixtures" / "parsers"
BUSYBOX = "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.\n"


class Texts(Runner):
    """``ip -V`` says ``version``; each command line of ``answers`` prints that fixture's text."""

    def __init__(self, version, answers):
        super().__init__()
        self.version, self.answers, self.ran = version, answers, []

    def run(self, argv, *, input=None, timeout=None):
        self.ran.append(shlex.join(argv))
        if list(argv) == ["ip", "-V"]:
            return Result(tuple(argv), 0, self.version, "")
        return Result(tuple(argv), 0, (PARSERS / f"{self.answers[shlex.join(argv)]}.out").read_text(), "")


def expected(fixture):
    return json.loads((PARSERS / f"{fixture}.json").read_text())


def test_busybox_reads_routes_and_neighbours_as_text_into_the_same_dicts():
    bb = "nsenter --net=/run/netns/h1 ip"  # busybox has no ip -n
    runner = Texts(BUSYBOX, {f"{bb} route show": "ip_route--live-busybox-4-route",
                             f"{bb} -6 route show": "ip_route--live-busybox-6-route",
                             f"{bb} neigh show": "ip_neigh--live-busybox-neigh"})
    h1 = nw.Netns("h1", runner=runner)
    assert h1.route_list() == expected("ip_route--live-busybox-4-route")
    assert h1.route_list(family=6) == expected("ip_route--live-busybox-6-route")
    assert h1.neigh_list() == expected("ip_neigh--live-busybox-neigh")
    assert runner.ran == ["ip -V", f"{bb} route show", f"{bb} -6 route show", f"{bb} neigh show"]


def test_old_iproute2_reads_route_get_and_neighbours_as_text():
    runner = Texts("ip utility, iproute2-ss161212\n", {
        "ip -n h1 route get 10.9.9.9": "ip_route--live-get-via",
        "ip -n h1 neigh show dev v0": "ip_neigh--live-neigh-dev"})
    h1 = nw.Netns("h1", runner=runner)
    assert h1.route_get("10.9.9.9") == expected("ip_route--live-get-via")[0]
    assert h1.neigh_list("v0") == expected("ip_neigh--live-neigh-dev")


def test_operation_not_supported_names_the_master_only_where_one_is_given():
    from netnswrap.classify import classify
    said = "RTNETLINK answers: Operation not supported\n"
    error = classify(("ip", "link", "set", "dev", "t0", "master", "lo"), 2, "", said)
    assert type(error) is nw.NotSupported and "a master must be a bridge, bond or vrf (master 'lo')" in str(error)
    error = classify(("ip", "link", "add", "v0", "master", "lo", "type", "veth", "peer", "name", "v1"), 2, "", said)
    assert "(master 'lo'), or link kind 'veth' is not supported" in str(error)
    # a device called "master" is no master keyword, nor "type" a kind
    error = classify(("ip", "link", "set", "dev", "master", "address", "02:00:00:00:00:01"), 2, "", said)
    assert type(error) is nw.NotSupported and "master" not in str(error).split("(command:")[0]
    error = classify(("ip", "link", "add", "dev", "type", "type", "dummy"), 2, "", said)
    assert "link kind 'dummy' is not supported" in str(error)
