"""can_move: decided by the device's facts, never by its name. Offline on
answers written as the tools print them, and live in namespaces of ours
(prefix ``nwhd``)."""
from __future__ import annotations

import shlex
import subprocess

import pytest

import netnswrap as nw
from netnswrap.ops.link import sysfs_dir
from netnswrap.pytest_plugin import cannot_create_namespaces

import kernel
from test_topology import Fake

live = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "-")

# sysfs directory entries (ls /sys/class/net/DEV) of a wireless NIC and a wired one, 6.x kernels
WIRELESS_SYSFS = "addr_assign_type\naddress\ncarrier\ndevice\nflags\nifindex\nphy80211\nstatistics\nwireless\n"
WIRED_SYSFS = "addr_assign_type\naddress\ncarrier\ndevice\nflags\nifindex\nstatistics\n"
NO_ETHTOOL = nw.ToolNotFound("ethtool")


def nic(name: str, **more) -> list:
    """``ip -d -j link show dev NAME`` of a device without a kind (hardware)."""
    return [dict({"ifindex": 3, "ifname": name, "link_type": "ether", "parentbus": "pci"}, **more)]


def sysfs(prefix: str, dev: str) -> str:
    return " ".join([prefix, shlex.join(sysfs_dir(dev))]).strip()


@pytest.mark.parametrize("name", ["wlan0", "wlp2s0", "eth1", "enp0s3"])
@pytest.mark.parametrize("entries, movable", [(WIRELESS_SYSFS, False), (WIRED_SYSFS, True)])
def test_a_nic_is_wireless_by_its_sysfs_entries_not_by_its_name(name, entries, movable):
    runner = Fake({f"ip -d -j link show dev {name}": nic(name), f"ethtool -k {name}": NO_ETHTOOL,
                      sysfs("", name): entries})
    assert nw.Netns(runner=runner).can_move(name) is movable


@pytest.mark.parametrize("handle, prefix", [(lambda r: nw.Netns("h1", runner=r), "ip netns exec h1"),
                                            (lambda r: nw.Netns.from_pid(11, runner=r), "nsenter -t 11 -n")])
def test_sysfs_is_read_inside_the_devices_namespace(handle, prefix):
    place = "ip -n h1" if prefix.startswith("ip") else "nsenter -t 11 -n ip"
    runner = Fake({f"{place} -d -j link show dev wlan0": nic("wlan0"),
                      f"{prefix} ethtool -k wlan0": NO_ETHTOOL, sysfs(prefix, "wlan0"): WIRELESS_SYSFS})
    assert handle(runner).can_move("wlan0") is False
    assert runner.ran[-1] == sysfs(prefix, "wlan0")


@pytest.mark.parametrize("link, answer", [
    ({"ifindex": 4, "ifname": "wlveth", "linkinfo": {"info_kind": "veth"}}, True),
    ({"ifindex": 4, "ifname": "wlbr", "linkinfo": {"info_kind": "bridge"}}, False),
    ({"ifindex": 1, "ifname": "lo", "link_type": "loopback"}, False),
])
def test_a_device_with_a_kind_needs_no_sysfs(link, answer):
    runner = Fake({f"ip -d -j link show dev {link['ifname']}": [link],
                      f"ethtool -k {link['ifname']}": NO_ETHTOOL})
    assert nw.Netns(runner=runner).can_move(link["ifname"]) is answer
    assert len(runner.ran) == 2


def test_an_altname_is_read_by_the_devices_name():
    alt = "wireless-card-in-the-left-slot"
    runner = Fake({f"ip -d -j link show dev {alt}": nic("wlan0"), "ethtool -k wlan0": NO_ETHTOOL,
                      sysfs("", "wlan0"): WIRELESS_SYSFS})
    assert nw.Netns(runner=runner).can_move(alt) is False


def test_unreadable_sysfs_leaves_the_kinds_answer():
    runner = Fake({"ip -d -j link show dev wlan0": nic("wlan0"), "ethtool -k wlan0": NO_ETHTOOL,
                      sysfs("", "wlan0"): nw.PermissionDenied("unshare: unshare failed: Operation not permitted")})
    assert nw.Netns(runner=runner).can_move("wlan0") is True


# --- live ---------------------------------------------------------------------------

@live
def test_a_veth_named_like_a_wireless_nic_may_move(netns_factory):
    space = netns_factory("nwhd")
    add = ["ip", "-n", space.name, "link", "add"]
    subprocess.run(add + ["wlnwhd0", "type", "veth", "peer", "name", "wlnwhd1"], check=True)
    subprocess.run(add + ["wlnwhdbr", "type", "bridge"], check=True)
    assert space.can_move("wlnwhd0") is True
    assert space.can_move("wlnwhdbr") is False and space.can_move("lo") is False


@live
def test_the_sysfs_listing_sees_the_namespace_of_a_pid_handle(netns_factory):
    """``nsenter -n`` keeps the caller's sysfs: the listing must mount its own
    to see a device that only the process's namespace has."""
    with kernel.parked(["unshare", "--net"]) as held:
        subprocess.run(["nsenter", "-t", str(held.pid), "-n", "ip", "link", "add", "nwhdonly", "type", "veth",
                        "peer", "name", "nwhdother"], check=True)
        handle = nw.Netns.from_pid(held.pid)
        assert "ifindex" in handle.run(sysfs_dir("nwhdonly"), as_program=True).stdout.split()
        assert handle.can_move("nwhdonly") is True


@live
def test_a_name_that_is_not_utf8_is_refused_clearly(netns_factory):
    """The kernel takes any bytes but '/', ':' and whitespace; read back
    through UTF-8 such a name has lost them, so it is refused, saying so,
    instead of a "does not exist" from ip."""
    space = netns_factory("nwhd")
    subprocess.run([b"ip", b"-n", space.name.encode(), b"link", b"add", b"v\xff", b"type", b"veth",
                    b"peer", b"name", b"nwhdw"], check=True)
    name = next(link["ifname"] for link in space.link_list() if link["ifname"].startswith("v"))
    with pytest.raises(nw.InvalidName, match="not valid UTF-8") as caught:
        space.can_move(name)
    assert caught.value.argv is None
    assert space.veth_peer("nwhdw")["ifname"] == name  # read, it is reported as read
