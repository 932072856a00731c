"""netnswrap.containers offline: the commands it builds, answered with what
real engines printed (fixtures/containers/, made by record.py there; the
nerdctl and crictl files are written by hand, as their "how" says).

Each fixture's ``truth`` is the engine's own answer (its ``-f`` templates),
never netnswrap's parser.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest

from netnswrap import containers as c
from netnswrap.errors import (CommandError, CommandTimeout, ContainerNotFound, InvalidArgument, ParseError,
                              ProcessNotFound, ReplayMismatch, ToolNotFound)
from netnswrap.runners import DryRunRunner, Result

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "containers"
CASES = {path.stem: json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))}
RECORDED = [name for name, case in CASES.items() if case["versions"]["client"] != "schema"]


class Engines:
    """A run answering each engine's commands from fixture interactions; an
    engine with no fixture is not installed (ToolNotFound, as ShRunner raises)."""

    def __init__(self, *tables: List[dict]):
        self.table: Dict[tuple, Result] = {}
        for interactions in tables:
            for i in interactions:
                self.table[tuple(i["argv"])] = Result(tuple(i["argv"]), i["returncode"], i["stdout"], i["stderr"])
        self.engines = {argv[0] for argv in self.table}
        self.asked: List[tuple] = []

    def __call__(self, argv: Sequence[str]) -> Result:
        self.asked.append(tuple(argv))
        if argv[0] not in self.engines:
            raise ToolNotFound(argv[0])
        assert tuple(argv) in self.table, f"not recorded: {argv}"
        return self.table[tuple(argv)]


def engine_of(name: str) -> str:
    return CASES[name]["engine"]


def expected(name: str, ident: Optional[str] = None, prefix: Optional[str] = None, ref: Optional[str] = None) -> dict:
    """The fixture's truth for the container with that ID, ID prefix or name."""
    truth = CASES[name]["truth"].values()
    found = [t for t in truth if t["id"] == ident or (prefix and t["id"].startswith(prefix)) or t["name"] == ref]
    assert len(found) == 1
    return dict(found[0], engine=engine_of(name))


def live(name: str) -> Engines:
    return Engines(CASES[name]["interactions"])


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("engine", ["given", "any"])
def test_finds_by_name_id_and_unique_prefix(name, engine):
    refs, which = CASES[name]["refs"], engine_of(name) if engine == "given" else None
    assert c.find_container(live(name), refs["name"], which) == expected(name, ref=refs["name"])
    assert c.find_container(live(name), refs["id"], which) == expected(name, ident=refs["id"])
    assert c.find_container(live(name), refs["prefix"], which) == expected(name, prefix=refs["prefix"])


@pytest.mark.parametrize("name", CASES)
def test_a_container_without_process_is_not_running(name):
    ref = CASES[name]["refs"]["idle"]
    assert expected(name, ref=ref)["pid"] == 0
    with pytest.raises(c.ContainerNotRunning, match=f"{engine_of(name)}: container '{ref}' is not running") as info:
        c.find_container(live(name), ref)
    assert isinstance(info.value, ProcessNotFound)


@pytest.mark.parametrize("name", CASES)
def test_an_unknown_name_is_container_not_found_naming_the_engine(name):
    ref, engine = CASES[name]["refs"]["missing"], engine_of(name)
    with pytest.raises(ContainerNotFound) as info:
        c.find_container(live(name), ref)
    assert not isinstance(info.value, c.AmbiguousContainer)
    assert f"{engine}: no " in info.value.message and repr(ref) in info.value.message
    assert info.value.argv[0] == engine and ref in info.value.command


@pytest.mark.parametrize("name", [n for n in CASES if "ambiguous" in CASES[n]["refs"]])
def test_a_prefix_or_name_of_several_is_ambiguous(name):
    ref = CASES[name]["refs"]["ambiguous"]
    assert sum(t["id"].startswith(ref) or t["name"] == ref for t in CASES[name]["truth"].values()) != 1
    with pytest.raises(c.AmbiguousContainer, match=repr(ref)):
        c.find_container(live(name), ref)


@pytest.mark.parametrize("name", CASES)
def test_listing_maps_running_pids_in_at_most_two_commands_per_kind(name):
    run = live(name)
    by_pid, warnings = c.list_containers(run)
    running = [dict(t, engine=engine_of(name)) for t in CASES[name]["truth"].values() if t["pid"] > 0]
    listed = [entry for entries in by_pid.values() for entry in entries]
    if engine_of(name) != "crictl":  # the crictl fixture lists one pod that no other lookup uses
        assert sorted(listed, key=lambda e: e["pid"]) == sorted(running, key=lambda e: e["pid"])
    assert all(pid == e["pid"] and e["pid"] > 0 for pid, entries in by_pid.items() for e in entries)
    assert warnings == [f"{e}: not installed, skipped" for e in c.ENGINES if e != engine_of(name)]
    asked = [argv for argv in run.asked if argv[0] == engine_of(name)]
    assert len(asked) == 2 * len(c.LISTINGS[engine_of(name)]) or asked == [("podman", "ps", "--format", "json")]


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n]["down"]])
def test_a_daemon_that_does_not_answer(name):
    engine, down = engine_of(name), Engines(CASES[name]["down"])
    unreachable = f"{engine}: cannot reach the daemon (is {c.DAEMONS[engine]} running?)"
    with pytest.raises(c.EngineUnavailable, match=re.escape(unreachable)):
        c.find_container(down, CASES[name]["refs"]["name"])
    assert c.list_containers(down) == ({}, [f"{unreachable}, skipped" if e == engine else f"{e}: not installed, skipped"
                                            for e in c.ENGINES])


def test_engines_are_asked_in_order_past_one_whose_daemon_is_down():
    podman = CASES["podman-4.3.1"]
    both = Engines(CASES["docker-28.2.2"]["down"], podman["interactions"])
    ref = podman["refs"]["name"]
    assert c.find_container(both, ref) == expected("podman-4.3.1", ref=ref)
    assert [argv[0] for argv in both.asked] == ["docker", "podman"]


def test_unknown_everywhere_names_every_engine_asked_and_a_down_daemon_wins():
    docker, podman = CASES["docker-28.2.2"], CASES["podman-4.3.1"]
    missing = podman["refs"]["missing"]
    docker_missing = {"argv": ["docker", "inspect", "--type", "container", missing], "returncode": 1, "stdout": "[]\n",
                      "stderr": f"Error: No such container: {missing}\n"}
    with pytest.raises(ContainerNotFound, match=f"docker: no container '{missing}'; podman: no container"):
        c.find_container(Engines([docker_missing], podman["interactions"]), missing)
    down = [dict(docker["down"][0], argv=docker_missing["argv"])]
    with pytest.raises(c.EngineUnavailable, match="docker: cannot reach the daemon .*; podman: no container"):
        c.find_container(Engines(down, podman["interactions"]), missing)


def test_an_engine_failing_otherwise_does_not_hide_the_next_but_is_reported():
    podman = CASES["podman-4.3.1"]
    broken = [{"argv": [*c.INSPECT["docker"], ref], "returncode": 1, "stdout": "",
               "stderr": "Error response from daemon: layer store is corrupt\n"} for ref in podman["refs"].values()]
    ref = podman["refs"]["name"]
    assert c.find_container(Engines(broken, podman["interactions"]), ref) == expected("podman-4.3.1", ref=ref)
    reported = "docker: Error response from daemon: layer store is corrupt; podman: no "
    with pytest.raises(CommandError, match=reported) as info:
        c.find_container(Engines(broken, podman["interactions"]), podman["refs"]["missing"])
    assert type(info.value) is CommandError and info.value.argv[0] == "docker"


def test_listing_warns_of_an_engine_that_hangs_or_prints_nonsense_but_not_of_a_replay_that_misses():
    def hangs(argv):
        raise CommandTimeout(argv, 60)

    assert c.list_containers(hangs)[1][0] == "docker: timed out after 60 s and was killed, skipped"
    nonsense = Engines([{"argv": ["podman", "ps", "--format", "json"], "returncode": 0, "stdout": "Error: x\n",
                         "stderr": ""}])
    assert c.list_containers(nonsense)[1][1].startswith("podman: output is not JSON")

    def misses(argv):
        raise ReplayMismatch("not in the cassette", argv=argv)

    with pytest.raises(ReplayMismatch):
        c.list_containers(misses)


def test_no_engine_installed_is_tool_not_found():
    with pytest.raises(ToolNotFound, match="docker or podman or nerdctl or crictl: command not found"):
        c.find_container(Engines(), "web")
    with pytest.raises(ToolNotFound) as info:
        c.find_container(Engines(CASES["docker-28.2.2"]["interactions"]), "web", engine="podman")
    assert info.value.tool == "podman" and info.value.package == "podman"
    assert c.list_containers(Engines()) == ({}, [f"{e}: not installed, skipped" for e in c.ENGINES])


@pytest.mark.parametrize("ref", ["", "-web", "web db", "web;id", "/web", "we\nb", "x" * 256, None, 7, b"web"])
def test_bad_references_are_refused_before_any_command(ref):
    asked = Engines()
    with pytest.raises(InvalidArgument, match="invalid container"):
        c.find_container(asked, ref)
    assert asked.asked == []


def test_bad_engine_and_bad_run_are_refused():
    with pytest.raises(InvalidArgument, match="must be one of docker, podman, nerdctl, crictl"):
        c.find_container(Engines(), "web", engine="lxc")
    with pytest.raises(InvalidArgument, match="not a runner"):
        c.list_containers(object())


def test_a_runner_object_and_a_run_that_raises_typed_errors_both_work():
    name = "docker-20.10.24+dfsg1"
    refs, table = CASES[name]["refs"], live(name)

    class Checking:  # like Netns.run(check=True): a failure raises instead of returning
        def run(self, argv):
            result = table(argv)
            if result.returncode:
                raise CommandError("failed", argv=argv, returncode=result.returncode, stdout=result.stdout,
                                   stderr=result.stderr)
            return result

    assert c.find_container(Checking(), refs["name"]) == expected(name, ref=refs["name"])
    with pytest.raises(ContainerNotFound, match="docker: no container"):
        c.find_container(Checking(), refs["missing"])


def test_a_dry_run_prints_each_engines_command_and_finds_nothing():
    dry = DryRunRunner()
    with pytest.raises(ContainerNotFound):
        c.find_container(dry, "web")
    assert dry.commands[:3] == [c.inspect_argv(e, "web") for e in ("docker", "podman", "nerdctl")]
    dry = DryRunRunner()
    assert c.list_containers(dry) == ({}, [])
    assert [tuple(argv) for argv in dry.commands] == [ids for e in c.ENGINES for ids, _ in c.LISTINGS[e]]


def test_a_container_gone_between_listing_and_inspect_leaves_the_others():
    case = CASES["docker-28.2.2"]
    listing, inspect = case["interactions"][-2:]
    ids = listing["stdout"].split() + ["f" * 64]
    gone = dict(inspect, argv=[*c.INSPECT["docker"], *ids], returncode=1,
                stderr=f"Error: No such container: {'f' * 64}\n")
    by_pid, _ = c.list_containers(Engines([dict(listing, stdout="\n".join(ids) + "\n"), gone]))
    assert sorted(e["name"] for entries in by_pid.values() for e in entries) == sorted(
        t["name"] for t in case["truth"].values() if t["pid"] > 0)


@pytest.mark.parametrize("text, problem", [
    ("Error: not json", "not JSON"), ('["a"]', "expected JSON objects"), ('[{"Id": "x"}]', "lacks"),
    ('[{"Id": "x", "Name": "/a", "State": {"Pid": -1}}]', "PID -1"),
    ('[{"Id": "x", "Name": "/a", "State": {"Pid": true}}]', "PID True")])
def test_output_that_is_not_an_inspect_is_a_parse_error(text, problem):
    with pytest.raises(ParseError, match=problem):
        c.parse_inspect("docker", text)


def test_crictl_prints_one_document_per_id_and_each_counts():
    interactions = CASES["crictl-schema"]["interactions"]
    ready = next(i for i in interactions if i["argv"] == list(c.LISTINGS["crictl"][0][0]))["stdout"].split()
    text = next(i["stdout"] for i in interactions if i["argv"] == [*c.INSPECT["crictl"], *ready])
    assert [p["id"] for p in c.parse_crictl(text)] == ready


def test_crictl_names_are_matched_exactly():
    (pods, _), (ps, _) = c.crictl_by_name("web.1")
    assert pods[-1] == ps[-1] == "^web\\.1$"


def test_held_by_gives_each_container_of_a_namespace_once_without_its_pid():
    by_pid, _ = c.list_containers(live("crictl-schema"))
    pod = expected("crictl-schema", ref="web")
    app = expected("crictl-schema", ref="app")
    held = c.held_by([pod["pid"], app["pid"], pod["pid"], 1], by_pid)
    assert held == [{k: pod[k] for k in c.FIELDS}, {k: app[k] for k in c.FIELDS}]
    assert c.held_by([1], by_pid) == []


def test_label_names_engine_and_container():
    assert c.label(expected("docker-28.2.2", ref=CASES["docker-28.2.2"]["refs"]["name"])) == \
        f"docker {CASES['docker-28.2.2']['refs']['name']}"
