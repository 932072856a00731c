"""netnswrap.containers against the real engines: docker containers on
docker0, a podman container, a CNI bridge pod (tests/engines.py makes and
removes them). The answers are checked against the engines' own ``-f``
templates and the kernel (``/proc/PID/ns/net``, ``ip -j``), never against
netnswrap itself.
"""
from __future__ import annotations

import json
import os

import pytest

from engines import (PREFIX, busybox_rootfs, busybox_rootfs_made, cni_pod, cni_pod_made, cni_problem,  # noqa: F401
                     docker_containers, docker_containers_made, docker_image, docker_problem, host_firewall,
                     image_made, leftovers, podman_container, sh, sweep_dead_runs)
from netnswrap import containers as c
from netnswrap.errors import ContainerNotFound, ProcessNotFound, ToolNotFound
from netnswrap.shrunner import ShRunner


@pytest.fixture
def run():
    return ShRunner(timeout=60).run


def netns_inode(path: str) -> int:
    return os.stat(path).st_ino


def host_end_of(pid: int) -> dict:
    """The root-namespace link eth0 of process ``pid`` is paired with, by the
    kernel's own answer: eth0's ``link`` ifindex, looked up in the root namespace."""
    inside = json.loads(sh(["nsenter", "-t", str(pid), "-n", "ip", "-j", "link", "show", "eth0"]).stdout)[0]
    links = json.loads(sh(["ip", "-j", "link", "show"]).stdout)
    return next(link for link in links if link["ifindex"] == inside["link_index"])


def test_docker_name_gives_the_pid_docker_reports_and_its_namespace(run, docker_containers):
    web = docker_containers["web"]
    found = c.find_container(run, web["name"])
    assert found == web  # docker's own {{.Id}} {{.Name}} {{.Config.Image}} {{.State.Pid}}
    assert found["pid"] == int(sh(["docker", "inspect", "-f", "{{.State.Pid}}", web["name"]]).stdout)
    assert os.readlink(f"/proc/{found['pid']}/ns/net") != os.readlink("/proc/self/ns/net")
    assert host_end_of(found["pid"])["master"] == "docker0"


def test_docker_full_id_and_unique_prefix(run, docker_containers):
    db = docker_containers["db"]
    assert c.find_container(run, db["id"], engine="docker") == db
    assert c.find_container(run, db["id"][:12]) == db


def test_docker_unknown_and_not_running(run, docker_containers):
    with pytest.raises(ContainerNotFound, match=f"docker: no container '{PREFIX}-missing'"):
        c.find_container(run, f"{PREFIX}-missing", engine="docker")
    idle = docker_containers["idle"]
    assert idle["pid"] == 0
    with pytest.raises(ProcessNotFound, match="is not running"):
        c.find_container(run, idle["name"])


def test_docker_listing_names_both_running_containers(run, docker_containers):
    by_pid, warnings = c.list_containers(run)
    for role in ("web", "db"):
        assert docker_containers[role] in by_pid[docker_containers[role]["pid"]]
    assert all(e["name"] != docker_containers["idle"]["name"] for entries in by_pid.values() for e in entries)
    assert not [w for w in warnings if w.startswith("docker:")]


def test_docker_daemon_unreachable_is_typed_and_only_a_warning_when_listing(run, docker_containers, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix:///run/{PREFIX}-absent.sock")
    with pytest.raises(c.EngineUnavailable, match=r"docker: cannot reach the daemon \(is dockerd running\?\)"):
        c.find_container(run, docker_containers["web"]["name"], engine="docker")
    by_pid, warnings = c.list_containers(run)
    assert "docker: cannot reach the daemon (is dockerd running?), skipped" in warnings
    assert docker_containers["web"]["pid"] not in by_pid


def test_no_engine_on_path_is_tool_not_found(run, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolNotFound):
        c.find_container(run, "web")
    assert c.list_containers(run) == ({}, [f"{e}: not installed, skipped" for e in c.ENGINES])


def test_podman_container_is_found_after_docker_does_not_know_it(run, podman_container):
    found = c.find_container(run, podman_container["name"])
    assert found == {k: v for k, v in podman_container.items() if k != "netns"}
    assert os.stat(f"/proc/{found['pid']}/ns/net").st_ino == netns_inode(f"/run/netns/{podman_container['netns']}")
    by_pid, _ = c.list_containers(run)
    assert by_pid[found["pid"]] == [found]


def test_cni_pod_gets_eth0_an_address_and_a_default_route_via_the_gateway(cni_pod):
    ip = cni_pod["result"]["ips"][0]
    route = json.loads(sh(["ip", "-n", cni_pod["pod"], "-j", "route"]).stdout)
    assert {"dst": "default", "gateway": ip["gateway"], "dev": "eth0"}.items() <= route[0].items()
    addrs = json.loads(sh(["ip", "-n", cni_pod["pod"], "-j", "addr", "show", "dev", "eth0"]).stdout)[0]["addr_info"]
    assert ip["address"] in [f"{a['local']}/{a['prefixlen']}" for a in addrs]
    bridge = json.loads(sh(["ip", "-n", cni_pod["node"], "-j", "addr", "show", "dev", cni_pod["bridge"]]).stdout)[0]
    assert ip["gateway"] in [a["local"] for a in bridge["addr_info"]]
    assert os.stat(f"/proc/{cni_pod['pid']}/ns/net").st_ino == netns_inode(f"/run/netns/{cni_pod['pod']}")


def test_leftovers_of_dead_runs_are_swept_and_those_of_live_runs_kept(docker_image, docker_containers):
    dead = 4194304 + 1  # above PID_MAX_LIMIT: no process can have it
    sh(["docker", "create", "--name", f"nwct{dead}-web", docker_image])
    try:
        sweep_dead_runs("docker")
        names = sh(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()
        assert f"nwct{dead}-web" not in names
        assert {c["name"] for c in docker_containers.values()} <= set(names)
    finally:
        sh(["docker", "rm", "-f", f"nwct{dead}-web"], check=False)


def test_engines_leave_nothing_of_ours_and_the_host_firewall_as_found():
    """Make everything tests/engines.py makes, fail half-way, and check what is left."""
    reasons = [r for r in (docker_problem(), cni_problem()) if r]
    if reasons:
        pytest.skip("; ".join(reasons))
    before_firewall, before = host_firewall(), leftovers()

    class HalfWay(Exception):
        pass

    with pytest.raises(HalfWay):
        with busybox_rootfs_made() as rootfs, image_made("docker", rootfs, f"{PREFIX}x") as image, \
                docker_containers_made(image, f"{PREFIX}x"), cni_pod_made(f"{PREFIX}x"):
            during = leftovers()
            raise HalfWay
    made = {kind: sorted(set(names) - set(before[kind])) for kind, names in during.items()}
    assert made["docker containers"] and made["docker images"] and made["namespaces"] and made["links"] == []
    assert leftovers() == before
    assert host_firewall() == before_firewall
