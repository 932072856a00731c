"""The Netns handle without a kernel: which commands it runs, and the same
dicts from JSON and from text.

The outputs below were recorded from one state (namespace ``netns1`` holding
``veth1`` 10.1.1.1/24 + fd00::1/64 nodad, its peer in ``netns2``) with
iproute2 6.1 (``ip -d -j link``, ``ip -j addr``, ``ip -d link``, ``ip addr``)
and busybox 1.35 ``ip`` (``ip link``, ``ip addr``).
"""
from __future__ import annotations

import json

import pytest

import netnswrap as nw
from netnswrap.ops.link import sysfs_dir
from netnswrap.runners import Result, Runner

IPROUTE2_6 = "ip utility, iproute2-6.1.0, libbpf 1.1.2\n"
IPROUTE2_OLD = "ip utility, iproute2-ss161212\n"
BUSYBOX = ("BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.\n\n"
           "Usage: ip [OPTIONS] address|route|link|tunnel|neigh|rule [ARGS]\n")

LINK_JSON = json.loads(
    '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue",'
    '"operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback",'
    '"address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","promiscuity":0,"allmulti":0,'
    '"min_mtu":0,"max_mtu":0,"inet6_addr_gen_mode":"eui64","num_tx_queues":1,"num_rx_queues":1,'
    '"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,'
    '"gro_max_size":65536},'
    '{"ifindex":2,"link_index":2,"ifname":"veth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],'
    '"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,'
    '"link_type":"ether","address":"02:00:00:00:01:01","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,'
    '"promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"veth"},'
    '"inet6_addr_gen_mode":"eui64","num_tx_queues":2,"num_rx_queues":2,"gso_max_size":65536,'
    '"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536}]')
LINK_TEXT = """\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00 promiscuity 0  allmulti 0 minmtu 0 maxmtu 0 \
addrgenmode eui64 numtxqueues 1 numrxqueues 1 gso_max_size 65536 gso_max_segs 65535 tso_max_size 524280 \
tso_max_segs 65535 gro_max_size 65536 
2: veth1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000
    link/ether 02:00:00:00:01:01 brd ff:ff:ff:ff:ff:ff link-netns netns2 promiscuity 0  allmulti 0 minmtu 68 \
maxmtu 65535 
    veth addrgenmode eui64 numtxqueues 2 numrxqueues 2 gso_max_size 65536 gso_max_segs 65535 \
tso_max_size 524280 tso_max_segs 65535 gro_max_size 65536 
"""
ADDR_JSON = json.loads(
    '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue",'
    '"operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback",'
    '"address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":['
    '{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo",'
    '"valid_life_time":4294967295,"preferred_life_time":4294967295},'
    '{"family":"inet6","local":"::1","prefixlen":128,"scope":"host","valid_life_time":4294967295,'
    '"preferred_life_time":4294967295}]},'
    '{"ifindex":2,"link_index":2,"ifname":"veth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],'
    '"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether",'
    '"address":"02:00:00:00:01:01","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"addr_info":['
    '{"family":"inet","local":"10.1.1.1","prefixlen":24,"scope":"global","label":"veth1",'
    '"valid_life_time":4294967295,"preferred_life_time":4294967295},'
    '{"family":"inet6","local":"fd00::1","prefixlen":64,"scope":"global","nodad":true,'
    '"valid_life_time":4294967295,"preferred_life_time":4294967295},'
    '{"family":"inet6","local":"fe80::ff:fe00:101","prefixlen":64,"scope":"link",'
    '"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]')
ADDR_TEXT = """\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host 
       valid_lft forever preferred_lft forever
2: veth1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000
    link/ether 02:00:00:00:01:01 brd ff:ff:ff:ff:ff:ff link-netns netns2
    inet 10.1.1.1/24 scope global veth1
       valid_lft forever preferred_lft forever
    inet6 fd00::1/64 scope global nodad 
       valid_lft forever preferred_lft forever
    inet6 fe80::ff:fe00:101/64 scope link 
       valid_lft forever preferred_lft forever
"""
# busybox resolves the peer's ifindex (2, in netns2) among its own links: "@veth1"
BB_ADDR_TEXT = """\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host 
       valid_lft forever preferred_lft forever
2: veth1@veth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue qlen 1000
    link/ether 02:00:00:00:01:01 brd ff:ff:ff:ff:ff:ff
    inet 10.1.1.1/24 scope global veth1
       valid_lft forever preferred_lft forever
    inet6 fd00::1/64 scope global flags 02 
       valid_lft forever preferred_lft forever
    inet6 fe80::ff:fe00:101/64 scope link 
       valid_lft forever preferred_lft forever
"""
BB_LINK_TEXT = "".join(line + "\n" for line in BB_ADDR_TEXT.splitlines()
                       if not line.lstrip().startswith(("inet", "valid_lft")))
NETNS_JSON = [{"name": "netns2", "id": 0}, {"name": "netns1"}]
NETNS_TEXT = "netns2 (id: 0)\nnetns1\n"


def block(text: str, ifindex: int) -> str:
    """One link's lines of ``ip link``/``ip addr`` text (what ``… dev DEV`` prints)."""
    start = text.index(f"{ifindex}: ")
    end = text.find(f"\n{ifindex + 1}: ", start)
    return text[start:] if end < 0 else text[start:end + 1]


def without(dicts: list, *keys: str, **extra) -> list:
    """The dicts minus keys the text cannot show, plus what it shows instead."""
    return [dict({k: v for k, v in d.items() if k not in keys}, **(extra if "link_netnsid" in d else {}))
            for d in dicts]


class FakeRunner(Runner):
    """Answers from a table {argv: stdout or (returncode, stdout, stderr)};
    ``ip -V`` says ``version``; any other command fails the test."""

    def __init__(self, version: str, answers: dict):
        super().__init__()
        self.answers = dict(answers)
        self.answers[("ip", "-V")] = (1, "", version) if "BusyBox" in version else version
        self.commands = []

    def run(self, argv, *, input=None, timeout=None) -> Result:
        argv = tuple(argv)
        self.commands.append(argv)
        if argv not in self.answers:
            raise AssertionError(f"unexpected command {argv}")
        answer = self.answers[argv]
        return Result(argv, *answer) if isinstance(answer, tuple) else Result(argv, 0, answer, "")


BB = ("nsenter", "--net=/run/netns/netns1", "ip")
BUSYBOX_ANSWERS = {
    BB + ("link", "show"): BB_LINK_TEXT,
    BB + ("link", "show", "dev", "veth1"): block(BB_LINK_TEXT, 2),
    BB + ("addr", "show"): BB_ADDR_TEXT,
    BB + ("addr", "show", "dev", "veth1"): block(BB_ADDR_TEXT, 2),
    BB + ("link", "show", "dev", "nope"): (2, "", "ip: can't find device 'nope'\n"),
    BB + ("addr", "add", "10.1.1.9/24", "dev", "veth1"): "",
    ("nsenter", "-t", "1503", "-n", "ip", "link", "show"): BB_LINK_TEXT,
}
OLD = ("ip", "-n", "netns1")
OLD_ANSWERS = {
    OLD + ("-d", "link", "show"): LINK_TEXT,
    OLD + ("-d", "link", "show", "dev", "veth1"): block(LINK_TEXT, 2),
    OLD + ("addr", "show"): ADDR_TEXT,
    OLD + ("addr", "show", "dev", "veth1"): block(ADDR_TEXT, 2),
    ("ip", "netns", "list"): NETNS_TEXT,
}
JSON_ANSWERS = {
    OLD + ("-d", "-j", "link", "show"): json.dumps(LINK_JSON),
    OLD + ("-d", "-j", "link", "show", "dev", "veth1"): json.dumps(LINK_JSON[1:]),
    OLD + ("-j", "addr", "show"): json.dumps(ADDR_JSON),
    OLD + ("-j", "addr", "show", "dev", "veth1"): json.dumps(ADDR_JSON[1:]),
    ("ip", "-j", "netns", "list"): json.dumps(NETNS_JSON),
}


def test_modern_iproute2_reads_json():
    runner = FakeRunner(IPROUTE2_6, JSON_ANSWERS)
    netns1 = nw.Netns("netns1", runner=runner)
    assert netns1.link_list() == LINK_JSON
    assert netns1.link_show("veth1") == LINK_JSON[1]
    assert netns1.addr_list() == ADDR_JSON
    assert netns1.addr_list("veth1") == ADDR_JSON[1:]
    assert nw.Netns(runner=runner).netns_list() == NETNS_JSON
    assert runner.commands[0] == ("ip", "-V") and runner.commands.count(("ip", "-V")) == 1


def test_old_iproute2_reads_text_into_the_same_dicts():
    runner = FakeRunner(IPROUTE2_OLD, OLD_ANSWERS)
    netns1 = nw.Netns("netns1", runner=runner)
    # the text names the peer's namespace where JSON gives its nsid
    assert netns1.link_list() == without(LINK_JSON, "link_netnsid", link_netns="netns2")
    assert netns1.link_show("veth1") == without(LINK_JSON, "link_netnsid", link_netns="netns2")[1]
    assert netns1.addr_list() == without(ADDR_JSON, "link_netnsid", link_netns="netns2")
    assert netns1.addr_list("veth1") == without(ADDR_JSON, "link_netnsid", link_netns="netns2")[1:]
    assert nw.Netns(runner=runner).netns_list() == NETNS_JSON
    assert runner.commands == [("ip", "-V"), *OLD_ANSWERS]


def test_busybox_reads_text_into_the_same_dicts():
    runner = FakeRunner(BUSYBOX, BUSYBOX_ANSWERS)
    netns1 = nw.Netns("netns1", runner=runner)
    # busybox prints no state, mode, group or peer namespace
    hidden = ("operstate", "linkmode", "group", "link_netnsid",
              "promiscuity", "allmulti", "min_mtu", "max_mtu", "linkinfo", "inet6_addr_gen_mode",
              "num_tx_queues", "num_rx_queues", "gso_max_size", "gso_max_segs", "tso_max_size",
              "tso_max_segs", "gro_max_size")
    assert netns1.link_list() == without(LINK_JSON, *hidden)
    assert netns1.link_show("veth1") == without(LINK_JSON, *hidden)[1]
    assert netns1.addr_list() == without(ADDR_JSON, *hidden)
    assert netns1.addr_list("veth1") == without(ADDR_JSON, *hidden)[1:]
    assert nw.Netns.from_pid(1503, runner=runner).link_list() == without(LINK_JSON, *hidden)
    assert runner.commands == [("ip", "-V"), BB + ("link", "show"), BB + ("link", "show", "dev", "veth1"),
                               BB + ("addr", "show"), BB + ("addr", "show", "dev", "veth1"),
                               ("nsenter", "-t", "1503", "-n", "ip", "link", "show")]


def test_busybox_errors_and_writes_after_a_read():
    runner = FakeRunner(BUSYBOX, BUSYBOX_ANSWERS)
    netns1 = nw.Netns("netns1", runner=runner)
    with pytest.raises(nw.LinkNotFound) as caught:
        netns1.link_show("nope")
    assert caught.value.argv == BB + ("link", "show", "dev", "nope")
    netns1.addr_add("veth1", "10.1.1.9/24")  # busybox has no `ip -n`
    assert runner.commands[-1] == BB + ("addr", "add", "10.1.1.9/24", "dev", "veth1")


def test_the_tools_are_probed_once_per_runner():
    runner = FakeRunner(BUSYBOX, BUSYBOX_ANSWERS)
    for _ in range(2):
        nw.Netns("netns1", runner=runner).link_list()
        nw.Netns.from_pid(1503, runner=runner).link_list()
    assert runner.commands.count(("ip", "-V")) == 1
    other = FakeRunner(IPROUTE2_OLD, OLD_ANSWERS)
    nw.Netns("netns1", runner=other).link_list()
    assert other.commands[0] == ("ip", "-V")
    with nw.use_runner(runner):
        assert nw.Netns("netns1").tools() == {"json": False, "busybox": True, "version": None}
    assert runner.commands.count(("ip", "-V")) == 1


@pytest.mark.parametrize("version, speaks_json", [
    (IPROUTE2_6, True), ("ip utility, iproute2-4.14.1\n", True), ("ip utility, iproute2-4.9.0\n", False),
    (IPROUTE2_OLD, False), ("ip utility, iproute2-ss171113\n", True), (BUSYBOX, False),
    ("something else\n", True),
])
def test_json_support_from_ip_version(version, speaks_json):
    assert nw.Netns(runner=FakeRunner(version, {})).tools()["json"] is speaks_json


def test_netns_queries_read_plain_output():
    runner = FakeRunner(IPROUTE2_6, {
        **JSON_ANSWERS,
        ("ip", "netns", "pids", "netns1"): "1503\n1504\n",
        ("ip", "netns", "pids", "netns2"): "",
        ("ip", "netns", "identify", "1503"): "netns1\n",
        ("ip", "netns", "identify", "1"): "\n",
        ("ip", "netns", "attach", "ctr", "1503"): "",
    })
    assert nw.Netns(runner=runner).netns_exists("netns1")
    assert not nw.Netns(runner=runner).netns_exists("netns3")
    root = nw.Netns(runner=runner)
    assert (root.netns_pids("netns1"), root.netns_pids("netns2")) == ([1503, 1504], [])
    assert (root.netns_identify(1503), root.netns_identify(1)) == ("netns1", None)
    attached = root.netns_attach("ctr", 1503)
    assert attached == nw.Netns("ctr")
    with attached:  # a name given to a running process's namespace is not deleted
        pass
    assert runner.commands[-1] == ("ip", "netns", "attach", "ctr", "1503")


def can_move_runner(link: dict, features: str = None) -> FakeRunner:
    ethtool = ("ip", "netns", "exec", "netns1", "ethtool", "-k", link["ifname"])
    sysfs = ("ip", "netns", "exec", "netns1") + sysfs_dir(link["ifname"])
    return FakeRunner(IPROUTE2_6, {
        OLD + ("-d", "-j", "link", "show", "dev", link["ifname"]): json.dumps([link]),
        ethtool: (0, features, "") if features else (1, "", "Cannot get device features: Operation not supported\n"),
        sysfs: "addr_len\naddress\ndevice\nifindex\nphy80211\nwireless\n",  # a wireless NIC's
    })


VETH = {"ifindex": 2, "ifname": "veth1", "link_type": "ether", "linkinfo": {"info_kind": "veth"}}
BRIDGE = {"ifindex": 3, "ifname": "br0", "link_type": "ether", "linkinfo": {"info_kind": "bridge"}}
LO = {"ifindex": 1, "ifname": "lo", "link_type": "loopback"}
WIFI = {"ifindex": 4, "ifname": "wlan0", "link_type": "ether"}


@pytest.mark.parametrize("link, features, movable, ran_ethtool", [
    (dict(VETH, **{"netns-immutable": True}), None, False, False),   # 1. iproute2 >= 6.17 says so
    (VETH, "Features for veth1:\nnetns-local: on [fixed]\n", False, True),  # 2. ethtool says so
    (BRIDGE, "Features for br0:\nnetns-local: off [fixed]\n", True, True),
    (VETH, "Features for veth1:\nrx-checksumming: on\n", True, True),  # 3. kernel >= 6.12: the kind
    (BRIDGE, "Features for br0:\nrx-checksumming: on\n", False, True),
    (LO, None, False, True),
    (WIFI, None, False, True),
    (VETH, None, True, True),
])
def test_can_move_decision_order(link, features, movable, ran_ethtool):
    runner = can_move_runner(link, features)
    assert nw.Netns("netns1", runner=runner).can_move(link["ifname"]) is movable
    assert any("ethtool" in argv for argv in runner.commands) is ran_ethtool


def test_exec_and_errors_carry_the_command():
    argv = ("ip", "netns", "exec", "netns1", "ping", "-c", "1", "10.1.1.2")
    runner = FakeRunner(IPROUTE2_6, {argv: (1, "1 packets transmitted, 0 received\n", "")})
    netns1 = nw.Netns("netns1", runner=runner)
    assert netns1.exec(["ping", "-c", "1", "10.1.1.2"], check=False) == Result(argv, 1, runner.answers[argv][1], "")
    with pytest.raises(nw.CommandError) as caught:
        netns1.exec(["ping", "-c", "1", "10.1.1.2"])
    assert (caught.value.argv, caught.value.returncode) == (argv, 1)
    assert "0 received" in caught.value.stdout


@pytest.mark.parametrize("call, error", [
    (lambda h: h.link_set("veth1", mtu=2 ** 31), nw.InvalidMTU),  # more than ip reads
    (lambda h: h.link_set("veth1", mtu=-1), nw.InvalidMTU),
    (lambda h: h.link_set("veth1"), nw.InvalidArgument),
    (lambda h: h.link_set("veth1", master="br0", nomaster=True), nw.InvalidArgument),
    (lambda h: h.veth_add("a-name-far-too-long", "veth1"), nw.InvalidName),
    (lambda h: h.veth_add("veth0", "veth1", peer_netns=0), nw.InvalidArgument),
    (lambda h: h.link_set("veth1", netns="bad/name"), nw.InvalidName),
    (lambda h: h.link_show("bad/name"), nw.InvalidName),
    (lambda h: h.can_move("bad/name"), nw.InvalidName),
    (lambda h: h.addr_list("bad name"), nw.InvalidName),
    (lambda h: h.ethtool_stats(""), nw.InvalidName),
    (lambda h: h.netns_exists("bad/name"), nw.InvalidName),
    (lambda h: h.netns_identify(0), nw.InvalidArgument),
    (lambda h: h.addr_add("veth1", "10.1.1.300/24"), nw.InvalidAddress),
    (lambda h: h.exec("ping 10.1.1.2"), nw.InvalidArgument),
    (lambda h: h.exec(["sleep", "1"], timeout=0), nw.InvalidArgument),
    (lambda h: nw.Netns.from_pid(-1), nw.InvalidArgument),
    (lambda h: nw.Netns("netns1", pid=1), nw.InvalidArgument),
])
def test_bad_input_is_refused_before_any_process(call, error):
    runner = nw.DryRunRunner()
    with pytest.raises(error) as caught:
        call(nw.Netns("netns1", runner=runner))
    assert caught.value.argv is None and runner.commands == []


def test_namespace_references_in_commands():
    runner = nw.DryRunRunner()
    netns1 = nw.Netns("netns1", runner=runner)
    for target, word in [("netns2", "netns2"), (nw.Netns("netns2"), "netns2"), (1503, "1503"),
                         (nw.Netns.from_pid(1503), "1503")]:
        netns1.veth_add("veth0", "veth1", peer_netns=target)
        netns1.link_set("veth0", netns=target)
        assert runner.commands[-2:] == [
            ["ip", "-n", "netns1", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", word],
            ["ip", "-n", "netns1", "link", "set", "veth0", "netns", word]]


class Respawning(Runner):
    """Each listing shows process 4242 again in namespace b (a supervisor
    outside restarts it); a and c are empty, d does not exist."""

    def __init__(self):
        super().__init__()
        self.ran = []

    def run(self, argv, *, input=None, timeout=None):
        self.ran.append(tuple(argv))
        # who is where (nsids.NAMED_MEMBERS): the reading shell, every process's namespace, then the names
        out = ("99\n/proc/1/ns/net 100\n/proc/4242/ns/net 202\n/proc/99/ns/net 100\n\x00"
               "201 a\x00202 b\x00203 c\x00" if argv[0] == "sh" else "")
        return Result(tuple(argv), 0, out, "")

    def pause(self, seconds):
        pass


def test_processes_that_keep_appearing_are_named_with_their_namespace():
    from netnswrap.handle import KILL_ROUNDS, kill_processes_in
    runner = Respawning()
    with pytest.raises(nw.NetnsWrapError, match=r"^processes keep appearing in netns b: 4242"):
        kill_processes_in(nw.Netns(runner=runner), ["a", "b", "c", "d"])
    kills = [argv for argv in runner.ran if argv[0] == "kill"]
    assert kills == [("kill", "-KILL", "4242")] * len(KILL_ROUNDS)  # one kill per round, whatever the count
    assert len(runner.ran) == 2 * len(KILL_ROUNDS) + 1
