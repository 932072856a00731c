"""Programs in the background (issue 15): ``runner.spawn(argv)`` and the
:class:`~netnswrap.process.Process` it returns, live through ``sh`` and
recorded, replayed, dry-run. Every test checks against /proc that nothing it
started is left: no process, no zombie.

The handle's ``spawn`` places the argv (``ip netns exec NS …``); here the
runner is given placed argvs directly, the namespace ones placed by hand.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import pytest

import kernel
import netnswrap as nw
from netnswrap.cassette import RecordingRunner, ReplayRunner
from netnswrap.process import Process
from netnswrap.shrunner import ShRunner

from proc_state import alive, children, in_group, wait_for


@pytest.fixture(autouse=True)
def nothing_left():
    """Fail a test that leaves a child or a zombie of this process behind."""
    before = set(children()) | set(children(zombies=True))
    yield
    settled = wait_for(lambda: not (set(children()) | set(children(zombies=True))) - before, 5)
    left = sorted((set(children()) | set(children(zombies=True))) - before)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert settled and left == [], f"left behind: {left}"


@pytest.fixture
def runner():
    return ShRunner()


# --- output as it comes ----------------------------------------------------------

def test_lines_arrive_while_the_program_still_runs(runner, tmp_path):
    go_on = tmp_path / "go-on"
    script = f'echo first; while [ ! -e {go_on} ]; do sleep 0.02; done; echo second; echo err >&2; exit 3'
    with runner.spawn(["sh", "-c", script]) as process:
        lines = process.lines(timeout=60)
        assert next(lines) == "first\n"
        assert process.running and process.returncode is None and alive(process.pid)
        go_on.touch()
        assert list(lines) == ["second\n"]
        result = process.wait(timeout=60)
    assert result == nw.Result(("sh", "-c", script), 3, "first\nsecond\n", "err\n")
    assert (process.running, process.returncode) == (False, 3)


def test_a_last_line_without_newline_and_output_read_after_the_end(runner):
    process = runner.spawn(["printf", "a\\nb"])
    assert process.wait(timeout=60).stdout == "a\nb"
    assert list(process.lines()) == ["a\n", "b"]
    assert list(process.lines()) == []  # each line is handed out once


def test_a_full_pipe_never_blocks_the_program(runner):
    script = "head -c 2000000 /dev/zero | tr '\\0' x; echo; head -c 2000000 /dev/zero | tr '\\0' y >&2"
    with runner.spawn(["sh", "-c", script]) as process:
        result = process.wait(timeout=120)  # nobody read lines while it wrote 4 MB
    assert (result.returncode, len(result.stdout), len(result.stderr)) == (0, 2000001, 2000000)


def test_stdin_env_and_the_c_locale(runner, monkeypatch):
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    with runner.spawn(["cat"], stdin="one\ntwo\n") as process:
        assert list(process.lines(timeout=60)) == ["one\n", "two\n"]
    with runner.spawn(["sh", "-c", 'echo "$NWED $LC_ALL"'], env={"NWED": "a b"}) as process:
        assert process.wait(timeout=60).stdout == "a b C\n"
    with runner.spawn(["cat"]) as process:  # no stdin given: it reads nothing, never blocks
        assert process.wait(timeout=60).returncode == 0


def test_several_programs_read_concurrently(runner):
    processes = [runner.spawn(["sh", "-c", f"for i in $(seq 200); do echo {n}-$i; done"]) for n in range(4)]
    read: dict = {}

    def reader(number: int, process: Process) -> None:
        read[number] = list(process.lines(timeout=60))

    threads = [threading.Thread(target=reader, args=item) for item in enumerate(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for number, process in enumerate(processes):
        assert read[number] == [f"{number}-{i}\n" for i in range(1, 201)]
        assert process.wait(timeout=60).returncode == 0


# --- time limits, terminate, kill ---------------------------------------------------

def test_wait_past_its_timeout_kills_the_group_and_raises(runner):
    process = runner.spawn(["sh", "-c", "echo started; sleep 300 & echo $!; wait"])
    lines = process.lines(timeout=60)
    assert next(lines) == "started\n"
    background = int(next(lines))
    with pytest.raises(nw.CommandTimeout) as caught:
        process.wait(timeout=0.5)
    assert caught.value.timeout == 0.5 and caught.value.stdout == f"started\n{background}\n"
    assert caught.value.argv == process.argv and process.returncode == -signal.SIGKILL
    assert not alive(background) and in_group(process.pid) == []


def test_lines_past_their_timeout_kill_the_group_and_raise(runner):
    process = runner.spawn(["sh", "-c", "echo one; sleep 300"])
    seen = []
    with pytest.raises(nw.CommandTimeout) as caught:
        for line in process.lines(timeout=0.5):
            seen.append(line)
    assert seen == ["one\n"] and "timed out after 0.5 s" in str(caught.value)
    assert not process.running and in_group(process.pid) == []


def test_terminate_a_program_that_handles_sigterm(runner):
    with runner.spawn(["sh", "-c", "trap 'echo bye; exit 5' TERM; echo ready; while :; do sleep 0.05; done"]) as process:
        assert next(process.lines(timeout=60)) == "ready\n"
        process.terminate(grace=30)
    assert process.returncode == 5 and process.stdout == "ready\nbye\n"


def test_terminate_escalates_to_sigkill_for_a_program_that_ignores_sigterm(runner):
    with runner.spawn(["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"]) as process:
        assert next(process.lines(timeout=60)) == "ready\n"
        started = time.monotonic()
        process.terminate(grace=0.5)
        assert time.monotonic() - started >= 0.5  # it had its grace first
    assert process.returncode == -signal.SIGKILL and in_group(process.pid) == []


def test_kill_and_the_context_manager_kill_the_whole_group(runner):
    for end in ("kill", "with"):
        try:
            with runner.spawn(["sh", "-c", "sleep 300 & echo $!; sleep 300"]) as process:
                background = int(next(process.lines(timeout=60)))
                if end == "kill":
                    process.kill()
                    assert process.returncode == -signal.SIGKILL
                else:
                    raise RuntimeError("the block fails")
        except RuntimeError:
            pass
        assert not process.running and not alive(process.pid)
        assert wait_for(lambda: not alive(background)) and in_group(process.pid) == []


def test_what_a_program_leaves_in_its_group_ends_with_it(runner):
    process = runner.spawn(["sh", "-c", "sleep 300 >/dev/null & echo $!"])
    background = int(process.wait(timeout=60).stdout)
    assert wait_for(lambda: not alive(background))
    process.kill()  # after the end: signals nobody (the group ID may be reused), returns at once


def test_bad_commands_are_refused_before_anything_starts(runner, monkeypatch):
    for argv in ([], ["-n"], ["ls", None], "ls"):
        with pytest.raises(nw.InvalidArgument):
            runner.spawn(argv)
    for env in ({"A=B": "x"}, {"": "x"}, {"A": 1}, {"A": "x\0"}, ["A"]):
        with pytest.raises(nw.InvalidArgument):
            runner.spawn(["true"], env=env)
    with pytest.raises(nw.InvalidArgument, match="MAX_ARG_STRLEN"):
        runner.spawn(["echo", "x" * 200000])
    with pytest.raises(nw.ToolNotFound, match="nwed-no-such-program"):
        runner.spawn(["nwed-no-such-program"])
    with pytest.raises(NotImplementedError):
        nw.Runner().spawn(["true"])


# --- inside a namespace (placed by hand, as the handle will) ------------------------

def test_a_program_placed_in_a_named_namespace_runs_there(runner, netns_factory):
    space = netns_factory("nwed")
    expected = os.stat(f"/run/netns/{space.name}").st_ino
    with runner.spawn(["ip", "netns", "exec", space.name, "sh", "-c",
                       'stat -L -c %i /proc/self/ns/net; echo "$NWED"'], env={"NWED": "here"}) as process:
        assert list(process.lines(timeout=60)) == [f"{expected}\n", "here\n"]
    assert process.returncode == 0


def test_a_server_and_a_client_in_two_namespaces(runner, netns_factory):
    server_ns, client_ns = netns_factory("nwed"), netns_factory("nwed")
    subprocess.run(["ip", "-n", server_ns.name, "link", "add", "s0", "type", "veth", "peer", "name", "c0",
                    "netns", client_ns.name], check=True)
    for ns, dev, address in ((server_ns.name, "s0", "10.203.0.1/24"), (client_ns.name, "c0", "10.203.0.2/24")):
        subprocess.run(["ip", "-n", ns, "addr", "add", address, "dev", dev], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", dev, "up"], check=True)
    server_code = ("import socket; s = socket.create_server(('10.203.0.1', 8080)); print('listening', flush=True); "
                   "c, _ = s.accept(); c.sendall(c.recv(100).upper()); c.close()")
    client_code = ("import socket; c = socket.create_connection(('10.203.0.1', 8080), timeout=30); "
                   "c.sendall(b'hello'); print(c.recv(100).decode())")
    import sys
    with runner.spawn(["ip", "netns", "exec", server_ns.name, sys.executable, "-c", server_code]) as server:
        assert next(server.lines(timeout=60)) == "listening\n"
        with runner.spawn(["ip", "netns", "exec", client_ns.name, sys.executable, "-c", client_code]) as client:
            assert client.wait(timeout=60).stdout == "HELLO\n"
        assert server.wait(timeout=60).returncode == 0


def netns_inode(path: str) -> int:
    return os.stat(path).st_ino


def test_every_handle_spawns_where_it_points(netns_factory):
    """Named (ip netns exec), a process's (nsenter -t PID -n), the caller's."""
    space = netns_factory("nwed")
    probe = ["sh", "-c", 'stat -L -c %i /proc/self/ns/net; echo "$NWED"']
    with kernel.parked(["unshare", "--net"]) as holder:
        for handle, expected in ((nw.Netns(space.name), netns_inode(f"/run/netns/{space.name}")),
                                 (nw.Netns.from_pid(holder.pid), netns_inode(f"/proc/{holder.pid}/ns/net")),
                                 (nw.Netns(), netns_inode("/proc/self/ns/net"))):
            with handle.spawn(probe, env={"NWED": "here"}) as process:
                assert list(process.lines(timeout=60)) == [f"{expected}\n", "here\n"], process.argv
            assert process.returncode == 0 and process.argv[-3:] == tuple(probe)


def test_a_handle_refuses_bad_values_before_anything_starts(monkeypatch):
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("a process was started"))
    for handle in (nw.Netns("nwed"), nw.Netns.from_pid(1), nw.Netns()):
        for argv, env in ((["-n"], None), ([], None), (["true"], {"A=B": "1"}), (["true"], {"A": None})):
            with pytest.raises(nw.InvalidArgument):
                handle.spawn(argv, env=env)


def test_a_handle_dry_run_prints_the_placed_command_line(capsys):
    dry = nw.DryRunRunner(print_commands=True)
    for handle in (nw.Netns("blue", runner=dry), nw.Netns.from_pid(1503, runner=dry)):
        assert handle.spawn(["ip", "-br", "link"]).wait().ok
    assert capsys.readouterr().out.splitlines() == ["ip netns exec blue true", "ip netns exec blue ip -br link",
                                                    "nsenter -t 1503 -n true", "nsenter -t 1503 -n ip -br link"]


# --- recorded, replayed, dry-run ------------------------------------------------------

def test_a_recorded_spawn_replays_its_lines_and_status_offline(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    script = "echo one; echo two; echo oops >&2; exit 4"
    with RecordingRunner(path) as recorder:
        with recorder.spawn(["sh", "-c", script], env={"NWED": "1"}) as process:
            assert list(process.lines(timeout=60)) == ["one\n", "two\n"]
        running = recorder.spawn(["sleep", "300"])
        recorder.save()  # while it runs: kept as still running
        running.kill()
    entries = json.loads(path.read_text())["interactions"]
    spawned = [entry for entry in entries if entry.get("spawn")]
    assert [(entry["argv"], entry["returncode"]) for entry in spawned] == [(["sh", "-c", script], 4),
                                                                          (["sleep", "300"], -9)]
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("a process was started"))
    replay = ReplayRunner(path)
    process = replay.spawn(["sh", "-c", script], env={"NWED": "1"})
    assert list(process.lines()) == ["one\n", "two\n"]
    assert process.wait() == nw.Result(("sh", "-c", script), 4, "one\ntwo\n", "oops\n")
    assert replay.spawn(["sleep", "300"]).wait().returncode == -signal.SIGKILL
    with pytest.raises(nw.ReplayMismatch, match="started in the background"):
        replay.spawn(["sh", "-c", script], env={"NWED": "1"})
    with pytest.raises(nw.ReplayMismatch):
        ReplayRunner(path).spawn(["sh", "-c", script])  # another env


def test_a_spawn_still_running_at_save_replays_as_killed(tmp_path):
    path = tmp_path / "c.json"
    recorder = RecordingRunner(path)
    with recorder.spawn(["sh", "-c", "echo up; sleep 300"]) as process:
        assert next(process.lines(timeout=60)) == "up\n"
        recorder.save()
    entry = [entry for entry in json.loads(path.read_text())["interactions"] if entry.get("spawn")][0]
    assert (entry["returncode"], entry["stdout"]) == (None, "up\n")
    replayed = ReplayRunner(path).spawn(["sh", "-c", "echo up; sleep 300"])
    assert (list(replayed.lines()), replayed.wait().returncode) == (["up\n"], -signal.SIGKILL)


def test_a_dry_run_prints_the_command_line_and_starts_nothing(capsys, monkeypatch):
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("a process was started"))
    dry = nw.DryRunRunner(print_commands=True)
    with dry.spawn(["ip", "netns", "exec", "blue", "sh", "-c", "echo $X"], env={"X": "a b"}) as process:
        assert list(process.lines()) == [] and process.wait().ok
    assert capsys.readouterr().out == "X='a b' ip netns exec blue sh -c 'echo $X'\n"
    assert dry.commands == [["ip", "netns", "exec", "blue", "sh", "-c", "echo $X"]]
    with pytest.raises(nw.InvalidArgument):
        dry.spawn(["true"], env={"A=B": "x"})
