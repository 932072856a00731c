"""Each SPEC §3 method builds exactly its command, placed in the handle's namespace."""
from __future__ import annotations

import pytest

import netnswrap as nw
from netnswrap.ops import ethtool, link
from netnswrap.runners import Facts, Result
from netnswrap.where import Where


@pytest.fixture
def runner(mocker):
    """A runner whose every command succeeds with empty output (no `ip -V` facts: iproute2)."""
    fake = mocker.Mock(spec=nw.Runner)
    fake.facts = Facts(ip={"json": True, "busybox": False, "version": (6, 1)})
    fake.caller_pid.return_value = 4242
    fake.run.side_effect = lambda argv, **kw: Result(tuple(argv), 0, "[]" if "-j" in argv else "", "")
    return fake


def ran(runner):
    return [" ".join(call.args[0]) for call in runner.run.call_args_list]


CASES = [
    (lambda h: h.netns_add("blue"), "ip netns add blue"),
    (lambda h: h.netns_del("blue"), "ip netns del blue"),
    (lambda h: h.netns_list(), "ip -j netns list"),
    (lambda h: h.netns_exists("blue"), "ip -j netns list"),
    (lambda h: h.netns_pids("blue"), "ip netns pids blue"),
    (lambda h: h.netns_identify(1503), "ip netns identify 1503"),
    (lambda h: h.netns_attach("blue", 1503), "ip netns attach blue 1503"),
    (lambda h: h.link_list(), "ip -d -j link show"),
    (lambda h: h.veth_add("veth0", "veth1"), "ip link add veth0 type veth peer name veth1"),
    (lambda h: h.veth_add("veth0", "eth0", peer_netns=1503),
     "ip link add veth0 type veth peer name eth0 netns 1503"),
    (lambda h: h.veth_add("veth0", "veth1", peer_netns=nw.Netns("red")),
     "ip link add veth0 type veth peer name veth1 netns red"),
    (lambda h: h.bridge_add("docker0"), "ip link add docker0 type bridge"),
    (lambda h: h.link_set("veth1", netns="netns1"), "ip link set veth1 netns netns1"),
    (lambda h: h.link_set("veth1", netns=nw.Netns.from_pid(1503)), "ip link set veth1 netns 1503"),
    (lambda h: h.link_set("veth0", up=True, mtu=9000, master="docker0"),
     "ip link set dev veth0 up mtu 9000 master docker0"),
    (lambda h: h.link_set("veth0", up=False, nomaster=True, name="v0", address="02:00:00:00:00:01"),
     "ip link set dev veth0 down nomaster name v0 address 02:00:00:00:00:01"),
    (lambda h: h.link_set_up("veth1"), "ip link set dev veth1 up"),
    (lambda h: h.link_set_down("veth1"), "ip link set dev veth1 down"),
    (lambda h: h.link_del("veth0"), "ip link del veth0"),
    (lambda h: h.link_del("up"), "ip link del dev up"),
    (lambda h: h.addr_list(), "ip -j addr show"),
    (lambda h: h.addr_list("veth0"), "ip -j addr show dev veth0"),
    (lambda h: h.addr_add("veth1", "10.1.1.1/24"), "ip addr add 10.1.1.1/24 dev veth1"),
    (lambda h: h.addr_del("veth1", "fd00::1/64"), "ip addr del fd00::1/64 dev veth1"),
    (lambda h: h.ethtool_stats("veth1"), "ethtool -S veth1"),
    (lambda h: h.ethtool_features("veth1"), "ethtool -k veth1"),
    (lambda h: h.ethtool_driver("veth1"), "ethtool -i veth1"),
    (lambda h: h.exec(["ping", "-c", "1", "10.1.1.2"]), "ping -c 1 10.1.1.2"),
]


@pytest.mark.parametrize("call, line", CASES, ids=[line for _, line in CASES])
def test_caller_namespace_runs_the_plain_command(runner, call, line):
    call(nw.Netns(runner=runner))
    assert ran(runner) == [line]


def placed(line: str, where: str) -> str:
    if line.startswith(("ip netns add ", "ip netns del ", "ip netns attach ")):
        return line  # namespace names are made in the caller's namespace, whatever the handle
    if where == "pid":
        return "nsenter -t 1503 -n " + line
    return line.replace("ip ", "ip -n netns1 ", 1) if line.startswith("ip ") else "ip netns exec netns1 " + line


@pytest.mark.parametrize("where", ["name", "pid"])
@pytest.mark.parametrize("call, line", CASES, ids=[line for _, line in CASES])
def test_other_namespaces_place_the_command(runner, call, line, where):
    handle = nw.Netns("netns1", runner=runner) if where == "name" else nw.Netns.from_pid(1503, runner=runner)
    call(handle)
    assert ran(runner) == [placed(line, where)]


def test_link_show_adds_dev(runner):
    runner.run.side_effect = lambda argv, **kw: Result(tuple(argv), 0, '[{"ifname": "veth1"}]', "")
    assert nw.Netns("netns1", runner=runner).link_show("veth1") == {"ifname": "veth1"}
    assert ran(runner) == ["ip -n netns1 -d -j link show dev veth1"]


def test_seed_walkthrough_under_dry_run():
    """The seed's eight steps produce exactly the seed's command lines."""
    dry = nw.DryRunRunner()
    with nw.use_runner(dry):
        netns1 = nw.netns_add("netns1")
        nw.veth_add("veth0", "veth1")
        nw.link_set("veth1", netns="netns1")
        netns1.addr_add("veth1", "10.1.1.1/24")
        nw.addr_add("veth0", "10.1.1.2/24")
        netns1.link_set_up("veth1")
        nw.link_set_up("veth0")
    assert dry.commands == [
        ["ip", "netns", "add", "netns1"],
        ["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"],
        ["ip", "link", "set", "veth1", "netns", "netns1"],
        ["ip", "-n", "netns1", "addr", "add", "10.1.1.1/24", "dev", "veth1"],
        ["ip", "addr", "add", "10.1.1.2/24", "dev", "veth0"],
        ["ip", "-n", "netns1", "link", "set", "dev", "veth1", "up"],
        ["ip", "link", "set", "dev", "veth0", "up"],
    ]


def test_placement_for_an_ip_without_netns_support():
    assert Where("blue").place(("ip", "link"), ip_has_netns=False) == \
        ("nsenter", "--net=/run/netns/blue", "ip", "link")


def test_builders_return_tuples_of_str():
    for argv in (link.veth("a", "b", "7").argv, link.set_("a", mtu=1500),
                 Where(pid=3).place(ethtool.stats_argv("a"))):
        assert isinstance(argv, tuple) and all(isinstance(arg, str) for arg in argv)


def test_use_runner_restores_the_previous_default():
    outer, inner = nw.DryRunRunner(), nw.DryRunRunner()
    with nw.use_runner(outer):
        with nw.use_runner(inner):
            nw.link_set_up("a")
        nw.link_set_up("b")
    assert inner.commands == [["ip", "link", "set", "dev", "a", "up"]]
    assert outer.commands == [["ip", "link", "set", "dev", "b", "up"]]
    with pytest.raises(nw.InvalidArgument):
        with nw.use_runner("not a runner"):
            pass


def test_link_exists_is_retried_a_fixed_number_of_times_only_after_a_deletion(runner):
    from netnswrap.handle import TEARDOWN_RETRIES
    runner.run.side_effect = lambda argv, **kw: Result(
        tuple(argv), *((2, "", "RTNETLINK answers: File exists\n") if argv[1] == "link" else (0, "", "")))
    handle = nw.Netns(runner=runner)
    with pytest.raises(nw.LinkExists):
        handle.veth_add("v0", "v1")
    assert runner.run.call_count == 1 and not runner.pause.called  # no deletion yet: at once
    handle.netns_del("gone")
    runner.run.reset_mock()
    with pytest.raises(nw.LinkExists):
        handle.veth_add("v0", "v1")
    assert runner.run.call_count == len(TEARDOWN_RETRIES) + 1
    assert [call.args[0] for call in runner.pause.call_args_list] == list(TEARDOWN_RETRIES)
