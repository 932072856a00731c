"""The whole API offline: the checked-in scenarios replayed with no tools at all.

Each scenario of ``fixtures/cassettes/record_scenarios.py`` was recorded
live; here it is replayed in a process whose ``PATH`` is empty, so any
command that tried to run would fail. Every call must give the recorded
result (or raise the recorded error, message and all), and every recorded
command must be used.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import netnswrap as nw
from netnswrap.cassette import ReplayRunner
from netnswrap.demo import shipped_cassette

CASSETTES = Path(__file__).resolve().parents[1] / "fixtures" / "cassettes"
SCRIPT = CASSETTES / "record_scenarios.py"
SCENARIOS = ["seed_walkthrough", "docker_host", "star20", "routed", "demo"]


def results(name: str) -> list:
    return json.loads((CASSETTES / f"{name}.results.json").read_text())


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_replays_identically_with_empty_path(name):
    replayed = subprocess.run([sys.executable, str(SCRIPT), "--check", name],
                              capture_output=True, text=True, env={"PATH": ""}, timeout=300)
    assert replayed.returncode == 0, replayed.stderr
    assert "identical" in replayed.stderr


def test_scenarios_call_every_api_function():
    called = {entry["call"].split(").", 1)[1].split("(", 1)[0]
              for name in SCENARIOS if name != "demo" for entry in results(name)}
    assert set(nw.HANDLE_METHODS) - {"batch"} <= called
    interactions = ReplayRunner(CASSETTES / "star20.json").interactions
    batches = [entry for entry in interactions if "netnswrap-batch" in entry["argv"]]
    scripts = {entry["argv"][1]: entry["stdin"] for entry in interactions if entry["argv"][0] == "tee"}
    assert batches and all(scripts.get(entry["argv"][-2]) for entry in batches)  # the script is recorded


def test_scenarios_replay_typed_errors():
    errors = {entry["error"] for name in SCENARIOS if name != "demo" for entry in results(name) if "error" in entry}
    assert {"NamespaceExists", "NamespaceNotFound", "LinkExists", "LinkNotFound", "AddressExists",
            "ProcessNotFound", "CommandError", "RouteExists", "RouteNotFound", "NotSupported"} <= errors


def test_docker_host_peers_resolve_to_the_right_container():
    calls = {entry["call"]: entry.get("result") for entry in results("docker_host")}
    peers = {call: result for call, result in calls.items() if ".veth_peer(" in call}
    host_side = {call.split("veth_peer('")[1][:-2]: peer for call, peer in peers.items() if "nwc6-host" in call}
    assert {peer["ifname"] for peer in host_side.values()} == {"eth0"}
    assert len({peer["pid"] for peer in host_side.values()}) == 2  # two containers, same ifindex 2
    container_side = [peer for call, peer in peers.items() if "pid=" in call]
    assert {(peer["netns"], peer["ifname"]) for peer in container_side} == {("nwc6-host", "vethweb"),
                                                                           ("nwc6-host", "vethdb")}


def test_demo_cassette_is_the_shipped_one_with_machine_meta():
    replay = ReplayRunner(shipped_cassette())
    assert shipped_cassette() == CASSETTES.parents[1] / "netnswrap" / "data" / "demo.json"
    assert {"ip", "ethtool", "kernel", "created"} <= set(replay.meta)
    assert replay.meta["ip"].startswith("ip utility, iproute2")
