"""Every name, address, MTU and PID rule refuses bad input before a command is built."""
from __future__ import annotations

import pytest

import netnswrap as nw
from netnswrap.ops import addr, link
from netnswrap.where import Where
from netnswrap.validate import (check_argv, check_cidr, check_ifname, check_lladdr, check_mtu,
                                check_netns_name, check_new_ifname, check_pid, check_timeout)

SEED_IFNAMES = ["veth0", "veth1", "eth0", "docker0", "veth30314cf", "lo", "enp0s5"]
SEED_NETNS = ["netns1", "netns2", "cni-1c2d3e4f-aaaa-bbbb", "ns_1.x"]


@pytest.mark.parametrize("name", SEED_IFNAMES + ["a" * 15, "ecé", "v@1"])
def test_valid_interface_names(name):
    assert check_ifname(name) == name


@pytest.mark.parametrize("name, rule", [
    ("", "empty"), (".", "'.'"), ("..", "'..'"), ("a" * 16, "at most 15 bytes"),
    ("éééééééé", "at most 15 bytes"),  # 16 bytes in UTF-8
    ("a/b", "'/'"), ("a:b", "':'"), ("a b", "whitespace"), ("a\tb", "whitespace"),
    ("a\nb", "whitespace"), ("a\x00b", "control"), ("a\x7fb", "control"), ("-x", "start with '-'"),
    ("--help", "start with '-'"), ("a\u00a0b", "whitespace"),
])
def test_invalid_interface_names_name_value_and_rule(name, rule):
    with pytest.raises(nw.InvalidName) as caught:
        check_new_ifname(name)
    assert repr(name) in str(caught.value) and rule in str(caught.value)
    assert isinstance(caught.value, ValueError) and caught.value.argv is None


@pytest.mark.parametrize("name", SEED_NETNS + ["a" * 255, "ecé🙂"])
def test_valid_namespace_names(name):
    assert check_netns_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a b", "a\tb", "a\nb", "-x", "a" * 256, None, 3])
def test_invalid_namespace_names(name):
    with pytest.raises(nw.InvalidName):
        check_netns_name(name)


@pytest.mark.parametrize("cidr, normal", [
    ("10.1.1.1/24", "10.1.1.1/24"), ("172.17.0.2/16", "172.17.0.2/16"),
    ("fd00:EC::1/64", "fd00:ec::1/64"), ("10.0.0.0/8", "10.0.0.0/8")])
def test_valid_addresses(cidr, normal):
    assert check_cidr(cidr) == normal


@pytest.mark.parametrize("cidr", ["10.1.1.1", "10.124.300.1/24", "10.1.1.1/33", "fd00::1/129",
                                  "10.1.1.1/", "notanip/24", "-1.2.3.4/8", "", None, "1.2.3.4/24; rm -rf /"])
def test_invalid_addresses(cidr):
    with pytest.raises(nw.InvalidAddress):
        check_cidr(cidr)


def test_mtu_range():
    assert check_mtu(68) == "68" and check_mtu(65536) == "65536" and check_mtu(0) == "0"
    for bad in (-1, 2 ** 31, "1500", 1500.0, True):
        with pytest.raises(nw.InvalidMTU):
            check_mtu(bad)


def test_pids_and_timeouts():
    assert check_pid(1503) == "1503"
    for bad in (0, -5, "1503", True, 1.5):
        with pytest.raises(nw.InvalidArgument):
            check_pid(bad)
    assert check_timeout(None) is None and check_timeout(2) == 2.0
    for bad in (0, -1, "5", True):
        with pytest.raises(nw.InvalidArgument):
            check_timeout(bad)


def test_lladdr_and_argv():
    assert check_lladdr("02:42:AC:11:00:02") == "02:42:ac:11:00:02"
    for bad in ("zz:zz:zz:zz:zz:zz", "0211", "02:42:ac:11:00:0"):
        with pytest.raises(nw.InvalidAddress):
            check_lladdr(bad)
    assert check_argv(["ping", "-c", "1"]) == ("ping", "-c", "1")
    for bad in ("ping -c 1", [], ["a", None], ["a\0b"]):
        with pytest.raises(nw.InvalidArgument):
            check_argv(bad)


@pytest.mark.parametrize("call", [
    lambda: link.veth("veth0", "a" * 16),
    lambda: link.veth("a%d", "b"),
    lambda: nw.Netns(runner=nw.DryRunRunner()).link_set("veth0", netns="a/b"),
    lambda: link.set_("veth0", mtu=-1),
    lambda: link.set_("veth0"),
    lambda: link.set_("veth0", name="e%d"),
    lambda: link.set_("veth0", master="br0", nomaster=True),
    lambda: addr.add("veth0", "10.1.1.1"),
    lambda: Where("a/b").place(("ip", "link")),
])
def test_builders_validate_before_building(call):
    with pytest.raises(nw.InvalidArgument):
        call()


def test_bad_input_starts_no_process(mocker):
    runner = mocker.Mock()
    handle = nw.Netns("blue", runner=runner)
    for call in (lambda: handle.veth_add("v0", "v 1"), lambda: handle.addr_add("v0", "1.2.3.4"),
                 lambda: handle.link_set("v0", mtu=2 ** 31), lambda: nw.Netns("a/b"),
                 lambda: handle.exec("ping -c1 x"), lambda: nw.Netns.from_pid(-1)):
        with pytest.raises(nw.InvalidArgument):
            call()
    runner.run.assert_not_called()


def test_remembered_checks_are_keyed_by_the_plain_text():
    class Lying(str):  # equal to everything, hashed as a valid name
        def __eq__(self, other):
            return True

        def __hash__(self):
            return hash("eth0")

    from netnswrap.validate import check_ip, ip_version
    assert check_ifname("eth0") == "eth0" and check_cidr("10.0.0.1/24") and check_ip("10.0.0.1")
    with pytest.raises(nw.InvalidName):
        check_ifname(Lying("bad name\n-x"))
    with pytest.raises(nw.InvalidAddress):
        check_cidr(Lying("10.0.0.300/24"))
    with pytest.raises(nw.InvalidAddress):
        check_ip(Lying("10.0.0.300"))
    with pytest.raises(ValueError):
        ip_version(["10.0.0.1"])  # a list: a ValueError, not the cache's TypeError
