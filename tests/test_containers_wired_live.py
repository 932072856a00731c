"""Containers by name through the handle, the topology and the CLI, against
real docker containers on docker0 and a CNI bridge pod (tests/engines.py
makes and removes them). Answers are checked against ``docker inspect`` and
the kernel's own ``ip -j``, never against netnswrap itself."""
from __future__ import annotations

import json
import subprocess
import sys

import netnswrap as nw

from engines import (busybox_rootfs, cni_pod, docker_containers, docker_image, sh)  # noqa: F401


def host_end_of(pid: int) -> dict:
    """The root-namespace link paired with eth0 of process ``pid``, by the kernel."""
    inside = json.loads(sh(["nsenter", "-t", str(pid), "-n", "ip", "-j", "link", "show", "eth0"]).stdout)[0]
    links = json.loads(sh(["ip", "-j", "link", "show"]).stdout)
    return next(link for link in links if link["ifindex"] == inside["link_index"])


def test_from_container_reaches_the_containers_namespace_and_its_host_veth(docker_containers):
    web = docker_containers["web"]
    handle = nw.Netns.from_container(web["name"])
    assert handle.pid == web["pid"]
    assert handle.container == {key: web[key] for key in ("engine", "id", "name", "image")}
    peer = handle.veth_peer("eth0")
    host = host_end_of(web["pid"])
    assert (peer["netns"], peer["pid"], peer["ifname"], peer["ifindex"]) == (None, None, host["ifname"],
                                                                              host["ifindex"])
    assert nw.Netns.from_container(web["id"][:12], engine="docker").pid == web["pid"]


def test_cli_peer_by_container_prints_the_host_veth(docker_containers):
    web = docker_containers["web"]
    out = subprocess.run([sys.executable, "-m", "netnswrap", "peer", "eth0", "--container", web["name"],
                          "--json"], capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["ifname"] == host_end_of(web["pid"])["ifname"]


def test_topology_names_the_containers(docker_containers):
    found = {}
    for space in nw.topology()["namespaces"]:
        for container in space.get("containers", []):
            found[container["name"]] = (space["pid"], space["pids"], container["engine"])
    for role in ("web", "db"):
        made = docker_containers[role]
        pid, pids, engine = found[made["name"]]
        assert made["pid"] in pids and engine == "docker"
    tree = subprocess.run([sys.executable, "-m", "netnswrap", "topology"], capture_output=True, text=True,
                          check=True).stdout
    assert f"docker {docker_containers['web']['name']}" in tree
    assert f"docker {docker_containers['db']['name']}" in tree


def test_a_cni_pod_has_its_default_route_via_the_gateway(cni_pod):
    pod = nw.Netns.from_pid(cni_pod["pid"])
    gateway = cni_pod["result"]["ips"][0]["gateway"]
    defaults = [route for route in pod.route_list() if route["dst"] == "default"]
    assert [(route["gateway"], route["dev"]) for route in defaults] == [(gateway, "eth0")]
    assert pod.route_get("192.0.2.1")["gateway"] == gateway
