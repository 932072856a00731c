"""veth_peer offline, on answers written as the tools print them: what is no
veth, busybox (no kinds shown), lsns losing a race, and the caller's view
read in one ``ip -batch``."""
from __future__ import annotations

import json

import pytest

import netnswrap as nw
from netnswrap.peers import _json_values

from test_topology import LO, Fake, lsns, lsns_and_caller, two_hosts, veth, with_caller, without

ETH0 = {"ifindex": 2, "ifname": "eth0", "link_type": "ether", "parentbus": "virtio"}  # ip -d: no kind


@pytest.mark.parametrize("link, said", [
    (LO, "lo is a loopback device, not a veth: it has no peer"),
    (ETH0, "eth0 is an ether device, not a veth: it has no peer"),
    ({"ifindex": 5, "ifname": "ipip0", "link_index": 2, "linkinfo": {"info_kind": "ipip"}},
     "ipip0 is an ipip device, not a veth"),
])
def test_a_device_that_is_no_veth_is_named_for_what_it_is(link, said):
    runner = Fake({f"ip -d -j link show dev {link['ifname']}": [link]})
    with pytest.raises(nw.InvalidArgument, match=said):
        nw.Netns(runner=runner).veth_peer(link["ifname"])
    assert len(runner.ran) == 1  # nothing more was asked


def test_busybox_shows_no_kinds_so_ethtool_tells():
    runner = Fake({"nsenter --net=/run/netns/h1 ip link show dev lo":
                   "1: lo: <LOOPBACK> mtu 65536 qdisc noop qlen 1000\n"
                   "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n",
                   "nsenter --net=/run/netns/h1 ethtool -S lo": nw.NotSupported("no stats available")})
    runner.facts.ip = {"json": False, "busybox": True, "version": None}
    with pytest.raises(nw.InvalidArgument, match="lo is not a veth \\(a loopback device\\): it has no peer"):
        nw.Netns("h1", runner=runner).veth_peer("lo")
    assert runner.ran[-1] == "nsenter --net=/run/netns/h1 ethtool -S lo"


class Flaky(Fake):
    """``lsns`` exits 1 without a word the first time it is asked."""

    def run(self, argv, *, input=None, timeout=None):
        line = " ".join(argv)
        if "lsns" in line and not any("lsns" in done for done in self.ran):
            self.ran.append(line)
            return nw.Result(tuple(argv), 1, "", "")
        return super().run(argv, input=input, timeout=timeout)


def test_lsns_losing_a_race_with_an_ending_process_is_asked_again():
    answers = without(two_hosts(), "ip -force -d -j -batch -", "")  # the one-process read failed
    answers[lsns_and_caller("ip netns exec h1")] = with_caller(lsns((100, 1, "unassigned"), (201, 11, "0")))
    runner = Flaky(answers)
    assert nw.Netns("h1", runner=runner).veth_peer("va")["pid"] == 11
    assert sum("lsns" in line for line in runner.ran) == 2


def test_the_callers_view_is_json_values_one_after_another():
    text = json.dumps(lsns((100, 1, "0"))) + "\n[]\n" + json.dumps([LO, veth(7, "vc", 2, 0)]) + "\n"
    assert _json_values(text, "ip -batch") == [lsns((100, 1, "0")), [], [LO, veth(7, "vc", 2, 0)]]
    with pytest.raises(nw.ParseError, match="ip -batch"):
        _json_values("[1] {", "ip -batch")
