#!/usr/bin/env python3
"""The seed walkthrough (shared/seed, "Veth"), step by step, with netnswrap.

    sudo python3 examples/seed_walkthrough.py

Every device lives in throwaway namespaces named ``seed<PID>-…`` and in one
"container" (a ``sleep`` in a network namespace of its own, standing in for
the seed's busybox container, PID 1503). All of it is removed at the end,
whatever happens: the namespaces by their ``with`` blocks, the container by
its PID. The caller's own namespace is only read, never changed.
"""
from __future__ import annotations

import os
import subprocess
import sys

import netnswrap as nw


def show(label: str, value) -> None:
    print(f"  {label}: {value}")


def links(handle: nw.Netns) -> str:
    return ", ".join(f"{l['ifindex']}: {l['ifname']} {l['operstate']}" for l in handle.link_list())


def ipv4(handle: nw.Netns, dev: str) -> list:
    return [f"{a['local']}/{a['prefixlen']}" for a in handle.addr_list(dev)[0]["addr_info"]
            if a["family"] == "inet"]


def ping(handle: nw.Netns, address: str) -> str:
    result = handle.exec(["ping", "-c", "1", "-W", "5", address])
    return next(line for line in result.stdout.splitlines() if "packets transmitted" in line)


def walkthrough(prefix: str, container_pid: int) -> None:
    # ip netns add <name>
    with nw.netns_add(f"{prefix}-netns1") as netns1, nw.netns_add(f"{prefix}-netns2") as netns2:
        print("A new namespace has only lo, and it is down")
        show(netns1.name, links(netns1))

        print("ip link add veth0 type veth peer name veth1   (in netns2, the seed's host)")
        netns2.veth_add("veth0", "veth1")
        print("ip link set veth1 netns netns1")
        netns2.link_set("veth1", netns=netns1)
        show(netns2.name, links(netns2))
        show(netns1.name, links(netns1))

        print("ip addr add 10.1.1.1/24 dev veth1 (netns1), 10.1.1.2/24 dev veth0 (netns2); links up")
        netns1.addr_add("veth1", "10.1.1.1/24")
        netns2.addr_add("veth0", "10.1.1.2/24")
        netns1.link_set_up("veth1")
        netns2.link_set_up("veth0")
        show("veth1", ipv4(netns1, "veth1"))
        show("veth0", ipv4(netns2, "veth0"))

        print("ping across, both ways")
        show("netns1 → 10.1.1.2", ping(netns1, "10.1.1.2"))
        show("netns2 → 10.1.1.1", ping(netns2, "10.1.1.1"))

        print("ethtool -S veth1 → peer_ifindex, looked up in netns2")
        peer = netns1.ethtool_stats("veth1")["peer_ifindex"]
        show("peer_ifindex", peer)
        show(f"ifindex {peer} in {netns2.name}", [l["ifname"] for l in netns2.link_list() if l["ifindex"] == peer])

        print(f"A docker host: bridge docker0 in netns2, a veth to eth0 in the container (PID {container_pid})")
        container = nw.Netns.from_pid(container_pid)  # nsenter -t PID -n …
        host_veth = f"veth{container_pid:07x}"[:15]
        netns2.bridge_add("docker0")
        netns2.addr_add("docker0", "172.17.0.1/16")
        netns2.veth_add(host_veth, "eth0", peer_netns=container_pid)
        netns2.link_set(host_veth, master="docker0", up=True)
        netns2.link_set_up("docker0")
        container.addr_add("eth0", "172.17.0.2/16")
        container.link_set_up("eth0")
        show(f"nsenter -t {container_pid} -n ip link", links(container))
        show(f"ethtool -S {host_veth} → peer_ifindex", netns2.ethtool_stats(host_veth)["peer_ifindex"])
        show("eth0 in the container has ifindex", container.link_show("eth0")["ifindex"])
        show(f"{host_veth} is a port of", netns2.link_show(host_veth).get("master"))
        show("container → 172.17.0.1", ping(container, "172.17.0.1"))

        print("ethtool -k … netns-local: which devices may change namespace?")
        for handle, dev in ((netns1, "lo"), (netns1, "veth1"), (netns2, "docker0")):
            show(dev, "may move" if handle.can_move(dev) else "netns-local: stays")

        print("Mistakes, and the typed error for each")
        mistakes = [
            ("the namespace again", lambda: nw.netns_add(netns1.name)),
            ("a namespace that does not exist", lambda: nw.Netns(f"{prefix}-missing").link_list()),
            ("veth0 again", lambda: netns2.veth_add("veth0", "veth9")),
            ("veth0 in the wrong namespace", lambda: netns1.link_show("veth0")),
            ("the same address twice", lambda: netns1.addr_add("veth1", "10.1.1.1/24")),
            ("an address that is not there", lambda: netns1.addr_del("veth1", "10.1.1.9/24")),
            ("moving lo", lambda: netns1.link_set("lo", netns=netns2)),
            ("moving the bridge", lambda: netns2.link_set("docker0", netns=netns1)),
            ("an MTU above 65535", lambda: netns1.link_set("veth1", mtu=70000)),
            ("a ping nobody answers", lambda: netns1.exec(["ping", "-c", "1", "-W", "1", "10.1.1.9"])),
        ]
        for what, mistake in mistakes:
            try:
                mistake()
            except nw.NetnsWrapError as error:
                show(what, f"{type(error).__name__}: {error}")
            else:
                raise SystemExit(f"no error for {what}")


def main() -> int:
    if os.geteuid() != 0:
        print("run as root: namespaces need CAP_SYS_ADMIN", file=sys.stderr)
        return 1
    # the "container": echoes once it is inside its new namespace, so nothing
    # below can reach the caller's namespace through its PID
    container = subprocess.Popen(["unshare", "--net", "sh", "-c", "echo ready; exec sleep 600"],
                                 stdout=subprocess.PIPE, text=True)
    try:
        if container.stdout.readline() != "ready\n":
            raise SystemExit("the container did not start")
        walkthrough(f"seed{os.getpid()}", container.pid)
    finally:
        container.kill()
        container.wait()
    print("Done: the namespaces and the container are gone.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
