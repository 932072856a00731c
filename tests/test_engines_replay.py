"""A real docker host and a CNI pod, replayed offline with no tools on PATH
(``fixtures/cassettes/record_engines.py`` recorded them): containers by
name, their host veths and the pod's routes come back as the engines and the
kernel told them when recorded (the cassette's ``meta``)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import netnswrap as nw

CASSETTES = Path(__file__).resolve().parent.parent / "fixtures" / "cassettes"
DOCKER, CNI = CASSETTES / "docker_engine.json", CASSETTES / "cni_pod.json"


@pytest.fixture(autouse=True)
def no_tools(monkeypatch, tmp_path):
    """Nothing to run: a replay must not need ip, docker or nsenter."""
    monkeypatch.setenv("PATH", str(tmp_path))


def scenario(path: Path) -> dict:
    return nw.ReplayRunner(path).meta["scenario"]


def test_containers_by_name_reach_their_namespaces_and_host_veths():
    runner = nw.ReplayRunner(DOCKER)
    nw.Netns(runner=runner).topology()
    for found in scenario(DOCKER).values():
        handle = nw.Netns.from_container(found["name"], runner=runner)
        assert handle.pid == found["pid"]
        assert handle.container == {key: found[key] for key in ("engine", "id", "name", "image")}
        peer = handle.veth_peer("eth0")
        assert (peer["netns"], peer["pid"], peer["ifname"]) == (None, None, found["veth"])
        back = nw.Netns(runner=runner).veth_peer(found["veth"], containers=True)
        assert back["pid"] == found["pid"] and back["ifname"] == "eth0"
        assert back["containers"] == [{key: found[key] for key in ("engine", "id", "name", "image")}]


def test_topology_names_both_containers():
    made = scenario(DOCKER)
    spaces = nw.Netns(runner=nw.ReplayRunner(DOCKER)).topology()["namespaces"]
    held = {container["name"]: space["pids"] for space in spaces for container in space["containers"]}
    assert set(held) >= {found["name"] for found in made.values()}
    for found in made.values():
        assert found["pid"] in held[found["name"]]


def test_the_cli_shows_docker_names_offline():
    env = dict(os.environ, PATH="/nonexistent")
    tree = subprocess.run([sys.executable, "-m", "netnswrap", "--replay", str(DOCKER), "topology"],
                          capture_output=True, text=True, env=env, check=True).stdout
    for found in scenario(DOCKER).values():
        assert f"docker {found['name']}" in tree


def test_the_cni_pod_has_its_default_route_via_the_gateway():
    made = scenario(CNI)
    pod = nw.Netns.from_pid(made["pid"], runner=nw.ReplayRunner(CNI))
    defaults = [route for route in pod.route_list() if route["dst"] == "default"]
    assert [(route["gateway"], route["dev"]) for route in defaults] == [(made["gateway"], "eth0")]
    (eth0,) = pod.addr_list("eth0")
    assert f"{eth0['addr_info'][0]['local']}/{eth0['addr_info'][0]['prefixlen']}" == made["address"]
    assert pod.route_get("192.0.2.1")["gateway"] == made["gateway"]


def test_the_recording_holds_the_engines_commands():
    argvs = [entry["argv"] for entry in json.loads(DOCKER.read_text())["interactions"]]
    assert ["docker", "ps", "-q", "--no-trunc"] in argvs
    assert any(argv[:3] == ["docker", "inspect", "--type"] for argv in argvs)
