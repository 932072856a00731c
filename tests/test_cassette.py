"""Cassettes: the file format, recording, replay, near-miss and corrupt-file errors."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import netnswrap as nw
from netnswrap.cassette import RecordingRunner, ReplayRunner, argv_difference
from netnswrap.parsing import load_json_list
from netnswrap.pytest_plugin import cannot_create_namespaces
from netnswrap.runners import Result, Runner

RECORD_SCRIPT = Path(__file__).resolve().parents[1] / "fixtures" / "cassettes" / "record_scenarios.py"


class Scripted(Runner):
    """A fake machine: answers from a dict argv → Result-ish tuple or exception."""

    def __init__(self, answers: dict):
        super().__init__()
        self.answers = answers
        self.ran = []

    def run(self, argv, *, input=None, timeout=None):
        self.ran.append(tuple(argv))
        answer = self.answers.get(tuple(argv), (0, "", ""))
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            answer = answer(input)
        return Result(tuple(argv), *answer)


MACHINE = {
    ("ip", "-V"): (0, "ip utility, iproute2-6.1.0, libbpf 1.1.2\n", ""),
    ("ethtool", "--version"): (0, "ethtool version 6.1\n", ""),
    ("uname", "-r"): (0, "6.1.0-test\n", ""),
}


def record(path, calls, answers=None):
    """Record ``calls`` (argv, stdin) on a Scripted machine; return the recorder."""
    recorder = RecordingRunner(path, inner=Scripted({**MACHINE, **(answers or {})}))
    for argv, stdin in calls:
        try:
            recorder.run(argv, input=stdin)
        except nw.NetnsWrapError:
            pass
    recorder.save()
    return recorder


def test_file_is_versioned_sorted_readable_json(tmp_path):
    path = tmp_path / "c.json"
    answers = {("ip", "-j", "netns", "list"): (0, '[{"name":"blue"}]\n', ""),
               ("ethtool", "-S", "vethé"): (1, "", "netlink error: no device matches name\n")}
    record(path, [(("ip", "-j", "netns", "list"), None), (("ethtool", "-S", "vethé"), None)], answers)
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    assert document["version"] == 1
    assert list(document) == ["interactions", "meta", "version"]
    assert document["interactions"][0] == {"argv": ["ip", "-j", "netns", "list"], "stdin": None,
                                           "returncode": 0, "stdout": '[{"name":"blue"}]\n', "stderr": ""}
    # meta is asked of the machine, outside the recording
    assert document["meta"]["ip"] == "ip utility, iproute2-6.1.0, libbpf 1.1.2"
    assert document["meta"]["ethtool"] == "ethtool version 6.1"
    assert document["meta"]["kernel"] == "6.1.0-test"
    assert document["meta"]["created"] and document["meta"]["netnswrap"] == nw.__version__
    assert [entry["argv"][0] for entry in document["interactions"]] == ["ip", "ethtool"]
    # one interaction per block, one line per field, text not escaped
    assert '      "argv": ["ethtool", "-S", "vethé"],\n' in text
    assert '      "returncode": 1,\n' in text
    for entry in document["interactions"]:
        assert list(entry) == sorted(entry)


def test_meta_tools_missing_is_null_and_user_meta_kept(tmp_path):
    path = tmp_path / "c.json"
    recorder = RecordingRunner(path, inner=Scripted({("ethtool", "--version"): nw.ToolNotFound("ethtool")}),
                               meta={"scenario": "mine"})
    recorder.save()
    meta = json.loads(path.read_text())["meta"]
    assert meta["ethtool"] is None and meta["scenario"] == "mine"
    assert json.loads(path.read_text())["interactions"] == []


def test_recording_is_passed_through_and_context_manager_saves(tmp_path):
    path = tmp_path / "sub" / "dir" / "c.json"
    inner = Scripted({("ip", "link"): (0, "1: lo: …\n", "")})
    with RecordingRunner(path, inner=inner) as recorder:
        result = recorder.run(["ip", "link"])
    assert result == Result(("ip", "link"), 0, "1: lo: …\n", "")
    assert json.loads(path.read_text())["interactions"][0]["stdout"] == "1: lo: …\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_wrapping_runners_pause_as_their_inner_runner_does(tmp_path, mocker):
    """A recording of a replay, or a narrated replayed demo, never sleeps on a teardown retry."""
    from netnswrap.demo import Narrator
    for make in (lambda inner: RecordingRunner(tmp_path / "c.json", inner=inner),
                 lambda inner: Narrator(inner, out=None)):
        inner = mocker.Mock(spec=Runner)
        make(inner).pause(0.5)
        inner.pause.assert_called_once_with(0.5)


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    record(path, [(("ip", "-V"), None)])
    before = path.read_bytes()
    os.chmod(path, 0o600)
    recorder = RecordingRunner(path, inner=Scripted(MACHINE))
    recorder.run(["uname", "-r"])

    def crash(*args):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(nw.CassetteError, match=f"cassette {path} cannot be written: disk full"):
        recorder.save()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]  # no temporary file left
    monkeypatch.undo()
    recorder.save()
    assert json.loads(path.read_text())["interactions"][0]["argv"] == ["uname", "-r"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # an existing cassette keeps its mode


def test_replay_plays_each_answer_once_in_recorded_order(tmp_path):
    path = tmp_path / "c.json"
    counter = iter(range(10))
    read = ("ip", "-j", "link")
    record(path, [(read, None), (("ip", "link", "set", "dev", "a", "up"), None), (read, None)],
           {read: lambda stdin: (0, f"answer {next(counter)}", "")})
    replay = ReplayRunner(path)
    assert replay.run(read).stdout == "answer 0"
    assert len(replay.remaining) == 2
    assert replay.run(read).stdout == "answer 1"
    assert replay.run(["ip", "link", "set", "dev", "a", "up"]).returncode == 0
    assert replay.remaining == []
    with pytest.raises(nw.ReplayMismatch, match=r"holds this command 2 time\(s\), all replayed already") as caught:
        replay.run(read)
    assert caught.value.argv == read and str(path) in str(caught.value)


def test_replay_matches_stdin(tmp_path):
    path = tmp_path / "c.json"
    batch = ("ip", "-batch", "-")
    record(path, [(batch, "link add a type dummy\n"), (batch, "link add b type dummy\n")],
           {batch: lambda stdin: (0, "", f"did {stdin}")})
    replay = ReplayRunner(path)
    assert replay.run(batch, input="link add b type dummy\n").stderr == "did link add b type dummy\n"
    with pytest.raises(nw.ReplayMismatch) as caught:
        replay.run(batch, input="link add c type dummy\n")
    message = str(caught.value)
    assert "only with other stdin" in message
    assert "-link add a type dummy" in message and "+link add c type dummy" in message
    with pytest.raises(nw.ReplayMismatch, match="recorded some stdin, asked with none"):
        replay.run(batch)


def test_mismatch_names_the_nearest_command_and_the_difference(tmp_path):
    path = tmp_path / "c.json"
    record(path, [(("ip", "-n", "blue", "link", "show", "dev", "veth0"), None),
                  (("ethtool", "-S", "veth0"), None), (("ip", "netns", "list"), None)])
    replay = ReplayRunner(path)
    with pytest.raises(nw.ReplayMismatch) as caught:
        replay.run(["ip", "-n", "red", "link", "show", "dev", "veth0"])
    message = str(caught.value)
    assert "nearest recorded: ip -n blue link show dev veth0" in message
    assert "'red' instead of 'blue'" in message
    assert caught.value.argv == ("ip", "-n", "red", "link", "show", "dev", "veth0")
    assert replay.remaining[0]["argv"] == ["ip", "-n", "blue", "link", "show", "dev", "veth0"]


def test_argv_difference_words():
    assert argv_difference(["ip", "link", "show"], ["ip", "-d", "link", "show"]) == "extra '-d'"
    assert argv_difference(["ip", "-j", "link"], ["ip", "link"]) == "missing '-j'"
    assert argv_difference(["a", "b"], ["a", "c"]) == "'c' instead of 'b'"


def test_empty_cassette_mismatch(tmp_path):
    path = tmp_path / "c.json"
    RecordingRunner(path, inner=Scripted(MACHINE)).save()
    with pytest.raises(nw.ReplayMismatch, match="holds no interactions"):
        ReplayRunner(path).run(["ip", "link"])


@pytest.mark.parametrize("content, problem", [
    (None, "does not exist"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": ["ip"', "not valid JSON"),
    ("[]", "not a netnswrap cassette"),
    ('{"version": 2, "meta": {}, "interactions": []}', "version 2; this netnswrap reads version 1"),
    ('{"version": 1, "interactions": []}', 'needs a "meta" object'),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": "ip link", "returncode": 0}]}',
     "interaction 0 needs an argv"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": ["ip"], "stdout": ""}]}',
     "interaction 0 needs a returncode"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": ["ip"], "returncode": 0, "stdout": 5}]}',
     "interaction 0 has a stdout that is not text"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": ["ip"], "error": {"kind": "Boom"}}]}',
     "interaction 0 has an error that is neither"),
    (b"\xff\xfe", "cannot be read"),
    # hand-edited shapes and types: each a CassetteError, never a TypeError or AttributeError
    ("5", "not a netnswrap cassette"),
    ("null", "not a netnswrap cassette"),
    ('{"version": true, "meta": {}, "interactions": []}', "version True; this netnswrap reads version 1"),
    ('{"version": 1.0, "meta": {}, "interactions": []}', "version 1.0; this netnswrap reads version 1"),
    ('{"version": "1", "meta": {}, "interactions": []}', "version '1'; this netnswrap reads version 1"),
    ('{"version": 1, "meta": 5, "interactions": []}', 'needs a "meta" object'),
    ('{"version": 1, "meta": {}, "interactions": {"argv": ["ip"], "returncode": 0}}',
     'needs a "meta" object and an "interactions" list'),
    ('{"version": 1, "meta": {}, "interactions": null}', 'an "interactions" list'),
    ('{"version": 1, "meta": {}, "interactions": [1]}', "interaction 0 is not an object"),
    ('{"version": 1, "meta": {}, "interactions": [null]}', "interaction 0 is not an object"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": [1], "returncode": 0}]}', "needs an argv"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": [], "returncode": 0}]}', "needs an argv"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": {"ifname": "lo"}, "returncode": 0}]}',
     "needs an argv"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": ["ip"], "returncode": "0"}]}', "needs a returncode"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": ["ip"], "returncode": true}]}', "needs a returncode"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": ["ip"], "returncode": 0, "stdin": 5}]}',
     "has a stdin that is not text"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": ["ip"], "returncode": 0, "stderr": ["x"]}]}',
     "has a stderr that is not text"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": ["ip"], "error": {"kind": []}}]}',
     "has an error that is neither"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": ["ip"], "error": "ToolNotFound"}]}',
     "has an error that is neither"),
    ('{"version": 1, "meta": {}, "interactions": [{"argv": ["ip"], "error": {"kind": "ToolNotFound", "tool": ""}}]}',
     "has an error that is neither"),
    *[('{"version": 1, "meta": {}, "interactions": [{"argv": ["ip"], "error": {"kind": "CommandTimeout", '
       f'"timeout": {timeout}}}}}]}}', "has an error that is neither")
      for timeout in ("NaN", "Infinity", "-Infinity", "-1", "0", "true", '"5"', "null")],
    ("[" * 100000, "not valid JSON"),
])
def test_bad_cassettes_raise_cassette_error_naming_the_file(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(nw.CassetteError) as caught:
        ReplayRunner(path)
    assert str(path) in str(caught.value) and problem in str(caught.value)


# What a hand-edited cassette may answer to an ``ip -j`` read: JSON of another shape.
WRONG_SHAPES = ["5", "null", "true", '"lo"', '{"ifname": "lo", "ifindex": 1}', "[1]", '[{"ifname": "lo"}, null]',
                "[[]]"]


@pytest.mark.parametrize("stdout", WRONG_SHAPES + ["[", "not json", "[" * 100000])
def test_json_of_the_wrong_shape_is_a_parse_error_naming_the_command(stdout):
    result = Result(("ip", "-d", "-j", "link", "show"), 0, stdout, "")
    with pytest.raises(nw.ParseError) as caught:
        load_json_list(result)
    assert caught.value.argv == result.argv
    assert "(command: ip -d -j link show)" in str(caught.value)


def test_json_lists_of_objects_and_empty_output_load():
    assert load_json_list(Result(("ip", "-j", "netns", "list"), 0, "", "")) == []
    assert load_json_list(Result(("ip", "-j", "netns", "list"), 0, " \n", "")) == []
    text = '[{"name": "blue", "id": 0}, {"name": "red"}]\n'
    assert load_json_list(Result(("ip", "-j", "netns", "list"), 0, text, "")) == json.loads(text)


@pytest.mark.parametrize("stdout", WRONG_SHAPES)
def test_replayed_output_of_the_wrong_shape_raises_parse_error_through_the_api(tmp_path, stdout):
    path = tmp_path / "c.json"
    record(path, [(("ip", "-V"), None), (("ip", "-d", "-j", "link", "show"), None)],
           {("ip", "-d", "-j", "link", "show"): (0, stdout, "")})
    with pytest.raises(nw.ParseError) as caught:
        nw.Netns(runner=ReplayRunner(path)).link_list()
    assert "ip -d -j link show" in str(caught.value)


def test_truncated_recording_raises_cassette_error(tmp_path):
    path = tmp_path / "c.json"
    record(path, [(("ip", "-V"), None)])
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(nw.CassetteError, match="truncated"):
        ReplayRunner(path)


def test_hand_written_cassette_may_leave_out_stdin_and_output(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"version": 1, "meta": {}, "interactions": [{"argv": ["ip", "netns", "pids", "x"], '
                    '"returncode": 0, "stdout": "12\\n"}]}')
    assert nw.Netns(runner=ReplayRunner(path)).netns_pids("x") == [12]


@pytest.mark.parametrize("error", [
    nw.ToolNotFound("ethtool", argv=("ethtool", "-S", "veth0")),
    nw.CommandTimeout(("ethtool", "-S", "veth0"), 2.5, "partial out", "partial err"),
])
def test_tool_errors_are_recorded_and_raised_again_identically(tmp_path, error):
    path = tmp_path / "c.json"
    argv = ("ethtool", "-S", "veth0")
    recorder = RecordingRunner(path, inner=Scripted({**MACHINE, argv: error}))
    with pytest.raises(type(error)):
        recorder.run(argv, timeout=2.5)
    recorder.save()
    with pytest.raises(type(error)) as caught:
        ReplayRunner(path).run(argv)
    replayed = caught.value
    assert type(replayed) is type(error)
    assert str(replayed) == str(error)
    assert (replayed.argv, replayed.stdout, replayed.stderr) == (error.argv, error.stdout, error.stderr)
    assert getattr(replayed, "tool", None) == getattr(error, "tool", None)
    assert getattr(replayed, "package", None) == getattr(error, "package", None)
    assert getattr(replayed, "timeout", None) == getattr(error, "timeout", None)


def test_facts_probe_is_recorded_and_replayed(tmp_path):
    path = tmp_path / "c.json"
    inner = Scripted({**MACHINE, ("ip", "-d", "-j", "link", "show"): (0, '[{"ifindex":1,"ifname":"lo"}]', "")})
    recorder = RecordingRunner(path, inner=inner)
    assert nw.Netns(runner=recorder).link_list() == [{"ifindex": 1, "ifname": "lo"}]
    recorder.save()
    assert [entry["argv"] for entry in json.loads(path.read_text())["interactions"]] == [
        ["ip", "-V"], ["ip", "-d", "-j", "link", "show"]]
    replay = ReplayRunner(path)
    handle = nw.Netns(runner=replay)
    assert handle.link_list() == [{"ifindex": 1, "ifname": "lo"}]
    assert handle.tools() == {"json": True, "busybox": False, "version": (6, 1)}
    assert replay.remaining == []


def test_re_recording_a_replay_keeps_meta_and_answers(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    record(first, [(("ip", "netns", "list"), None)], {("ip", "netns", "list"): (0, "blue\n", "")})
    recorder = RecordingRunner(second, inner=ReplayRunner(first))
    recorder.run(["ip", "netns", "list"])
    recorder.save()
    one, two = (json.loads(p.read_text()) for p in (first, second))
    assert one == two


def test_replay_starts_no_process(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    record(path, [(("ip", "netns", "list"), None)], {("ip", "netns", "list"): (0, "blue (id: 0)\n", "")})
    monkeypatch.setenv("PATH", "")

    def no_process(*args, **kwargs):
        raise AssertionError("a process was started")
    monkeypatch.setattr(subprocess, "Popen", no_process)
    monkeypatch.setattr(os, "fork", no_process)
    monkeypatch.setattr(os, "posix_spawn", no_process)
    with nw.use_runner(ReplayRunner(path)):
        assert nw.Netns().run(["ip", "netns", "list"]).stdout == "blue (id: 0)\n"


def test_dry_run_runs_nothing_and_lists_every_command():
    dry = nw.DryRunRunner()
    with nw.use_runner(dry):
        blue = nw.netns_add("blue")
        nw.veth_add("veth0", "veth1", peer_netns=blue)
        nw.bridge_add("br0")
        nw.link_set("veth0", master="br0", up=True)
        blue.addr_add("veth1", "10.1.1.1/24")
        blue.addr_del("veth1", "10.1.1.1/24")
        blue.link_set_down("veth1")
        nw.link_del("veth0")
        assert nw.netns_list() == [] and nw.link_list() == [] and nw.addr_list() == []
        assert nw.ethtool_stats("veth0") == {}
        assert blue.exec(["ping", "-c", "1", "10.1.1.2"]).ok
        nw.netns_del("blue")
    assert dry.commands == [
        ["ip", "netns", "add", "blue"],
        ["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", "blue"],
        ["ip", "link", "add", "br0", "type", "bridge"],
        ["ip", "link", "set", "dev", "veth0", "up", "master", "br0"],
        ["ip", "-n", "blue", "addr", "add", "10.1.1.1/24", "dev", "veth1"],
        ["ip", "-n", "blue", "addr", "del", "10.1.1.1/24", "dev", "veth1"],
        ["ip", "-n", "blue", "link", "set", "dev", "veth1", "down"],
        ["ip", "link", "del", "veth0"],
        ["ip", "-V"], ["ip", "-j", "netns", "list"], ["ip", "-d", "-j", "link", "show"],
        ["ip", "-j", "addr", "show"], ["ethtool", "-S", "veth0"],
        ["ip", "netns", "exec", "blue", "ping", "-c", "1", "10.1.1.2"],
        ["ip", "netns", "del", "blue"],
    ]


@pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "-")
def test_live_session_replays_identically_with_empty_path(tmp_path):
    """The seed walkthrough (namespaces, veth, addresses, reads, ethtool, peers,
    topology, errors), recorded live in throwaway namespaces, then replayed in a
    process whose PATH is empty: every call gives the same result or error."""
    recorded = subprocess.run([sys.executable, str(RECORD_SCRIPT), "--dir", str(tmp_path), "seed_walkthrough"],
                              capture_output=True, text=True, timeout=300)
    assert recorded.returncode == 0, recorded.stderr
    replayed = subprocess.run([sys.executable, str(RECORD_SCRIPT), "--check", "--dir", str(tmp_path),
                               "seed_walkthrough"], capture_output=True, text=True, env={"PATH": ""}, timeout=120)
    assert replayed.returncode == 0, replayed.stderr
    results = json.loads((tmp_path / "seed_walkthrough.results.json").read_text())
    errors = {entry["error"] for entry in results if "error" in entry}
    assert {"NamespaceExists", "LinkNotFound", "AddressExists", "CommandError", "NamespaceNotFound"} <= errors
