#!/usr/bin/env python3
"""Two subnets joined by a router namespace, with netnswrap.

    sudo python3 examples/router.py [PREFIX]

    h1 (10.76.1.2/24) ── eth1 [ r ] eth2 ── h2 (10.76.2.2/24)
                   10.76.1.1/24   10.76.2.1/24

Three throwaway namespaces ``PREFIX-h1``, ``PREFIX-r``, ``PREFIX-h2``
(PREFIX defaults to ``router<PID>``): a veth pair from the router to each
host, forwarding on in the router (``sysctl net.ipv4.ip_forward=1``), a
default route in each host via the router. Then ping across both ways and
ask ``route_get`` which way a packet goes. The namespaces are deleted at the
end, whatever happens (their ``with`` blocks); nothing outside them changes.
"""
from __future__ import annotations

import os
import sys

import netnswrap as nw


def ping(host: nw.Netns, address: str) -> str:
    result = host.exec(["ping", "-c", "1", "-W", "5", address])
    return next(line for line in result.stdout.splitlines() if "packets transmitted" in line)


def path(host: nw.Netns, address: str) -> str:
    route = host.route_get(address)
    return f"{address} via {route.get('gateway', '(direct)')} dev {route['dev']} src {route['prefsrc']}"


def main(prefix: str) -> None:
    with nw.netns_add(f"{prefix}-r") as r, nw.netns_add(f"{prefix}-h1") as h1, \
            nw.netns_add(f"{prefix}-h2") as h2:
        for number, host in ((1, h1), (2, h2)):
            print(f"ip link add eth{number} type veth peer name eth0 netns {host.name}   (in {r.name})")
            r.link_add(f"eth{number}", "veth", peer="eth0", peer_netns=host)
            r.addr_add(f"eth{number}", f"10.76.{number}.1/24")
            host.addr_add("eth0", f"10.76.{number}.2/24")
            for handle, dev in ((r, f"eth{number}"), (host, "eth0"), (host, "lo")):
                handle.link_set_up(dev)
            print(f"ip route add default via 10.76.{number}.1   (in {host.name})")
            host.route_add("default", via=f"10.76.{number}.1")

        print("sysctl -w net.ipv4.ip_forward=1   (in the router only)")
        r.sysctl_set("net.ipv4.ip_forward", 1)
        print(f"  {r.name}: net.ipv4.ip_forward = {r.sysctl_get('net.ipv4.ip_forward')}")

        print("ping across the router, both ways")
        print(f"  {h1.name} -> 10.76.2.2: {ping(h1, '10.76.2.2')}")
        print(f"  {h2.name} -> 10.76.1.2: {ping(h2, '10.76.1.2')}")

        print("ip route get: the way each host sends to the other")
        print(f"  {h1.name}: {path(h1, '10.76.2.2')}")
        print(f"  {h2.name}: {path(h2, '10.76.1.2')}")
        print(f"  {r.name}: {path(r, '10.76.2.2')}")

        print(f"the routing table of {h1.name}")
        for route in h1.route_list():
            print(f"  {route['dst']}" + (f" via {route['gateway']}" if "gateway" in route else "")
                  + f" dev {route['dev']}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else f"router{os.getpid()}")
