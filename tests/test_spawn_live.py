"""Programs through handles, live: ``spawn`` on named, PID and caller
handles, and a throwaway namespace whose teardown kills every process still
in it (also one that ignores SIGTERM and one started outside netnswrap)
before deleting it. Checked against /proc and ``ip netns list``."""
from __future__ import annotations

import os
import subprocess

import pytest

import netnswrap as nw
from netnswrap.pytest_plugin import cannot_create_namespaces, unique_netns_name

import kernel

pytestmark = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "")


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def netns_inode(pid: int) -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def test_spawn_runs_in_the_handles_namespace(netns_factory):
    blue = netns_factory("nwsp")
    with blue.spawn(["sh", "-c", "echo $$; readlink /proc/self/ns/net"]) as program:
        lines = [line.rstrip("\n") for line in program.lines(timeout=10)]
        result = program.wait(timeout=10)
    assert result.returncode == 0 and program.argv[:4] == ("ip", "netns", "exec", blue.name)
    assert lines[1] == f"net:[{os.stat(f'/run/netns/{blue.name}').st_ino}]"


def test_spawn_through_a_pid_handle_and_the_callers(netns_factory):
    blue = netns_factory("nwsp")
    with kernel.parked(["ip", "netns", "exec", blue.name]) as parked:
        with nw.Netns.from_pid(parked.pid).spawn(["readlink", "/proc/self/ns/net"]) as program:
            (line,) = [line.rstrip("\n") for line in program.lines(timeout=10)]
        assert line == f"net:[{netns_inode(parked.pid)}]"
    with nw.spawn(["readlink", "/proc/self/ns/net"]) as program:
        assert list(program.lines(timeout=10)) == [f"net:[{netns_inode(os.getpid())}]\n"]


def test_bad_spawn_arguments_are_refused_before_anything_starts(netns_factory):
    blue = netns_factory("nwsp")
    for argv, env in (("echo hi", None), ([], None), (["echo"], {"A": 1}), (["echo"], {"A=B": "1"})):
        with pytest.raises(nw.InvalidArgument):
            blue.spawn(argv, env=env)


def test_spawn_in_a_namespace_that_cannot_be_entered_raises_its_error():
    missing = unique_netns_name("nwsp")  # never made
    with pytest.raises(nw.NamespaceNotFound):
        nw.Netns(missing).spawn(["sleep", "30"])
    gone = subprocess.Popen(["true"])
    gone.wait()  # a PID nobody has now (reused only after the PID space wraps)
    with pytest.raises(nw.ProcessNotFound):
        nw.Netns.from_pid(gone.pid).spawn(["sleep", "30"])


def test_the_throwaway_namespace_kills_every_process_in_it_before_deletion():
    name = unique_netns_name("nwsp")
    outside = None
    try:
        with nw.netns_add(name) as blue:
            stubborn = blue.spawn(["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"])
            assert next(stubborn.lines(timeout=10)) == "ready\n"
            outside = subprocess.Popen(["ip", "netns", "exec", name, "sleep", "600"])
            started = [stubborn.pid, outside.pid]
            assert kernel.eventually(lambda: set(nw.netns_pids(name)) >= {outside.pid})
        outside.wait(timeout=10)  # reaped by its parent (this test): killed, not left running
        assert outside.returncode == -9
        assert not any(alive(pid) for pid in started)
        assert name not in kernel.namespaces()
    finally:
        if outside is not None and outside.poll() is None:
            outside.kill()
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_teardown_after_an_exception_kills_and_deletes_too():
    name = unique_netns_name("nwsp")
    with pytest.raises(ZeroDivisionError):
        with nw.netns_add(name) as blue:
            program = blue.spawn(["sleep", "600"])
            1 / 0
    assert not alive(program.pid)
    assert name not in kernel.namespaces()


def test_kill_processes_needs_a_named_namespace():
    with pytest.raises(nw.InvalidArgument):
        nw.Netns().kill_processes()
