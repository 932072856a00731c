"""Every typed error, provoked for real against the kernel (root).

Each case runs in two throwaway namespaces (prefix ``nw4``): ``A`` holds
veth ``v1`` (10.1.1.1/24, fd00::1/64), ``B`` its peer ``v0``. The error
must be of the exact type, carry the command that failed (argv, exit
status, stderr) and leave the kernel's state as it was.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import netnswrap as nw
from netnswrap.pytest_plugin import unique_netns_name

import kernel


@pytest.fixture
def stage(netns_factory):
    a, b = netns_factory("nw4"), netns_factory("nw4")
    for command in (f"-n {b.name} link add v0 type veth peer name v1 netns {a.name}",
                    f"-n {a.name} addr add 10.1.1.1/24 dev v1",
                    f"-n {a.name} addr add fd00::1/64 dev v1 nodad"):
        subprocess.run(["ip", *command.split()], check=True)
    return a, b


def dead_pid() -> int:
    """The PID of a process that has exited and been reaped."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def provoke(call, a, b, missing):
    with pytest.raises(nw.NetnsWrapError) as caught:
        call(a, b, missing)
    return caught.value


# (error, how to provoke it with handles A and B and a missing namespace name M,
#  the command that must fail, as argv with {A}/{B}/{M} placeholders)
CASES = [
    (nw.NamespaceExists, lambda a, b, m: nw.netns_add(a.name), "ip netns add {A}"),
    (nw.NamespaceNotFound, lambda a, b, m: nw.netns_del(m), "ip netns del {M}"),
    (nw.NamespaceNotFound, lambda a, b, m: nw.Netns(m).link_list(), "ip -n {M} -d -j link show"),
    (nw.NamespaceNotFound, lambda a, b, m: nw.Netns(m).addr_add("lo", "10.0.0.1/8"),
     "ip -n {M} addr add 10.0.0.1/8 dev lo"),
    (nw.NamespaceNotFound, lambda a, b, m: nw.Netns(m).exec(["true"]), "ip netns exec {M} true"),
    (nw.NamespaceNotFound, lambda a, b, m: nw.netns_pids(m), "ip netns pids {M}"),
    (nw.NamespaceNotFound, lambda a, b, m: b.veth_add("v8", "v9", peer_netns=m),
     "ip -n {B} link add v8 type veth peer name v9 netns {M}"),
    (nw.NamespaceNotFound, lambda a, b, m: b.link_set("v0", netns=m), "ip -n {B} link set v0 netns {M}"),
    (nw.LinkExists, lambda a, b, m: b.veth_add("v0", "v9"), "ip -n {B} link add v0 type veth peer name v9"),
    (nw.LinkExists, lambda a, b, m: a.veth_add("v9", "v1"), "ip -n {A} link add v9 type veth peer name v1"),
    (nw.LinkExists, lambda a, b, m: a.bridge_add("v1"), "ip -n {A} link add v1 type bridge"),
    (nw.LinkExists, lambda a, b, m: a.link_set("lo", name="v1"), "ip -n {A} link set dev lo name v1"),
    (nw.LinkExists, lambda a, b, m: (b.veth_add("v1", "v7"), b.link_set("v1", netns=a)),
     "ip -n {B} link set v1 netns {A}"),
    (nw.LinkNotFound, lambda a, b, m: a.link_show("v0"), "ip -n {A} -d -j link show dev v0"),
    (nw.LinkNotFound, lambda a, b, m: a.link_set_up("v0"), "ip -n {A} link set dev v0 up"),
    (nw.LinkNotFound, lambda a, b, m: a.link_set("v0", mtu=1400), "ip -n {A} link set dev v0 mtu 1400"),
    (nw.LinkNotFound, lambda a, b, m: a.link_del("v0"), "ip -n {A} link del v0"),
    (nw.LinkNotFound, lambda a, b, m: a.addr_list("v0"), "ip -n {A} -j addr show dev v0"),
    (nw.LinkNotFound, lambda a, b, m: a.addr_add("v0", "10.1.1.3/24"), "ip -n {A} addr add 10.1.1.3/24 dev v0"),
    (nw.LinkNotFound, lambda a, b, m: a.ethtool_stats("v0"), "ip netns exec {A} ethtool -S v0"),
    (nw.LinkNotFound, lambda a, b, m: a.can_move("v0"), "ip -n {A} -d -j link show dev v0"),
    (nw.AddressExists, lambda a, b, m: a.addr_add("v1", "10.1.1.1/24"), "ip -n {A} addr add 10.1.1.1/24 dev v1"),
    (nw.AddressExists, lambda a, b, m: a.addr_add("v1", "fd00::1/64"), "ip -n {A} addr add fd00::1/64 dev v1"),
    (nw.AddressNotFound, lambda a, b, m: a.addr_del("v1", "10.1.1.9/24"), "ip -n {A} addr del 10.1.1.9/24 dev v1"),
    (nw.AddressNotFound, lambda a, b, m: a.addr_del("v1", "fd00::9/64"), "ip -n {A} addr del fd00::9/64 dev v1"),
    (nw.DeviceCannotMove, lambda a, b, m: a.link_set("lo", netns=b), "ip -n {A} link set lo netns {B}"),
    (nw.DeviceCannotMove, lambda a, b, m: (b.bridge_add("br0"), b.link_set("br0", netns=a.name)),
     "ip -n {B} link set br0 netns {A}"),
    (nw.InvalidMTU, lambda a, b, m: a.run(["ip", "link", "set", "v1", "mtu", "70000"]),
     "ip -n {A} link set v1 mtu 70000"),
]


@pytest.mark.parametrize("expected, call, command", CASES,
                         ids=[f"{i}-{c[0].__name__}" for i, c in enumerate(CASES)])
def test_error_is_typed_and_carries_the_command(stage, expected, call, command):
    a, b = stage
    missing = unique_netns_name("nw4")
    before = {ns.name: kernel.ip_json(ns.name, "addr", "show") for ns in stage}
    before_names = {name: {l["ifname"] for l in links} for name, links in before.items()}
    error = provoke(call, a, b, missing)
    assert type(error) is expected, error
    assert error.argv == tuple(command.format(A=a.name, B=b.name, M=missing).split())
    assert error.returncode not in (None, 0) and error.stderr.strip()
    assert error.command in str(error)
    # the links that were there are as they were (two cases add one first)
    for ns in stage:
        after = [l for l in kernel.ip_json(ns.name, "addr", "show") if l["ifname"] in before_names[ns.name]]
        assert after == before[ns.name]
    assert missing not in kernel.namespaces()


def test_process_not_found(stage):
    a, b = stage
    gone = dead_pid()
    error = provoke(lambda a, b, m: nw.Netns.from_pid(gone).link_list(), a, b, None)
    assert type(error) is nw.ProcessNotFound
    assert error.argv == ("nsenter", "-t", str(gone), "-n", "ip", "-d", "-j", "link", "show")
    error = provoke(lambda a, b, m: b.veth_add("v8", "v9", peer_netns=gone), a, b, None)
    assert type(error) is nw.ProcessNotFound and error.argv[-2:] == ("netns", str(gone))
    assert not kernel.has_link(b.name, "v8")
    name = unique_netns_name("nw4")
    error = provoke(lambda a, b, m: nw.netns_attach(name, gone), a, b, None)
    assert type(error) is nw.ProcessNotFound and error.argv == ("ip", "netns", "attach", name, str(gone))
    assert name not in kernel.namespaces()


def test_mtu_the_device_refuses(stage):
    """A vxlan over v1 allows at most v1's MTU minus its headers (1450): 1500
    is a valid MTU that this device refuses, so the kernel says EINVAL."""
    a, _ = stage
    made = subprocess.run(["ip", "-n", a.name, "link", "add", "vx", "type", "vxlan", "id", "42",
                           "dstport", "4789", "dev", "v1"], capture_output=True, text=True)
    if made.returncode:
        pytest.skip(f"no vxlan here: {made.stderr.strip()}")
    assert kernel.link(a.name, "vx")["mtu"] == 1450
    with pytest.raises(nw.InvalidArgument) as caught:
        a.link_set("vx", mtu=1500)
    assert caught.value.argv == ("ip", "-n", a.name, "link", "set", "dev", "vx", "mtu", "1500")
    assert caught.value.returncode == 2 and "Invalid argument" in caught.value.stderr
    assert kernel.link(a.name, "vx")["mtu"] == 1450
    # above a veth's max_mtu (65535) the kernel refuses; outside what ip reads, netnswrap does
    with pytest.raises(nw.InvalidMTU) as caught:
        a.link_set("v1", mtu=70000)
    assert "mtu greater than device maximum" in caught.value.stderr
    with pytest.raises(nw.InvalidMTU) as caught:
        a.link_set("v1", mtu=2 ** 31)
    assert caught.value.argv is None


CHILD = """
import json, sys
import netnswrap as nw
netns, new = sys.argv[1:3]
calls = {
    "netns_add": lambda: nw.netns_add(new),
    "link_set_up": lambda: nw.Netns(netns).link_set_up("lo"),
    "addr_add": lambda: nw.Netns(netns).addr_add("lo", "10.6.0.1/8"),
    "exec": lambda: nw.Netns(netns).exec(["true"]),
}
seen = {}
for label, call in calls.items():
    try:
        call()
        seen[label] = None
    except nw.NetnsWrapError as error:
        seen[label] = [type(error).__name__, list(error.argv), error.returncode, str(error)]
print(json.dumps(seen))
"""


@pytest.fixture
def nobody_python():
    """argv prefix running a Python as uid/gid 65534 that can import
    netnswrap and sh (this interpreter's own files may be unreadable to it)."""
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None or shutil.which("setpriv") is None:
        pytest.skip("needs /usr/bin/python3 and setpriv (util-linux)")
    import sh
    libs = tempfile.mkdtemp(prefix="nw4-")
    try:
        os.chmod(libs, 0o755)
        shutil.copytree(Path(sh.__file__).parent, Path(libs, "sh"))
        package_root = str(Path(nw.__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([package_root, libs]), PYTHONDONTWRITEBYTECODE="1")
        yield ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python], env
    finally:
        shutil.rmtree(libs)


def test_permission_denied_when_not_root(stage, nobody_python):
    a, _ = stage
    prefix, env = nobody_python
    new = unique_netns_name("nw4")
    try:
        done = subprocess.run([*prefix, "-c", CHILD, a.name, new], capture_output=True, text=True,
                              env=env, cwd="/")
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout)
    finally:
        subprocess.run(["ip", "netns", "del", new], capture_output=True)
    assert seen["netns_add"][:2] == ["PermissionDenied", ["ip", "netns", "add", new]]
    assert seen["link_set_up"][:2] == ["PermissionDenied", ["ip", "-n", a.name, "link", "set", "dev", "lo", "up"]]
    assert seen["addr_add"][:2] == ["PermissionDenied", ["ip", "-n", a.name, "addr", "add", "10.6.0.1/8", "dev", "lo"]]
    assert seen["exec"][:2] == ["PermissionDenied", ["ip", "netns", "exec", a.name, "true"]]
    assert all(entry[2] not in (None, 0) and "root" in entry[3] for entry in seen.values())
    assert new not in kernel.namespaces()
    assert "UP" not in kernel.link(a.name, "lo")["flags"] and kernel.ipv4(a.name, "lo") == []
