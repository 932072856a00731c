"""Reliability under faults and load (issue 9), against the real kernel (root).

Timeouts kill a command with its children; threads share the library; a
`with nw.netns_add(…)` block cleans up on an exception and on Ctrl-C; the
kernel's asynchronous teardown never fails a following create; a missing
ethtool and missing rights give typed errors while the rest keeps working;
a namespace deleted while a process holds it lives on in `topology()`.
Every namespace made here starts with PREFIX and is checked for afterwards.
"""
from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

import kernel
import netnswrap as nw
from netnswrap.pytest_plugin import cannot_create_namespaces, unique_netns_name
from proc_state import wait_for

pytestmark = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "-")

PREFIX = f"nwrel{os.getpid()}-"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fresh_name() -> str:
    return unique_netns_name("nwrel")  # PREFIX, a counter, randomness


@pytest.fixture(autouse=True)
def nothing_left():
    """Fail a test that leaves one of its namespaces behind (and remove it)."""
    yield
    left = sorted(name for name in kernel.namespaces() if name.startswith(PREFIX))
    for name in left:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    assert left == [], f"namespaces left behind: {left}"


def processes_with(marker: str) -> list:
    """PIDs of live (non-zombie) processes whose command line holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
            with open(f"/proc/{entry}/stat") as fh:
                state = fh.read().rsplit(") ", 1)[1][0]
        except (FileNotFoundError, ProcessLookupError, NotADirectoryError, PermissionError):
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry))
    return found


def none_left(marker: str) -> list:
    """The processes with ``marker`` still alive after a grace period; they
    are killed (by PID: only ours carry the marker), the list is returned."""
    wait_for(lambda: not processes_with(marker), 5)
    left = processes_with(marker)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def sleep_marker() -> str:
    """A `sleep` duration nobody else uses, to find exactly our processes."""
    return f"300.{uuid.uuid4().int % 10**9:09d}"


# --- 1. timeouts ----------------------------------------------------------------

def test_timeout_kills_the_command_and_its_children_and_raises(netns):
    marker = sleep_marker()
    # The children ignore SIGINT/SIGTERM/SIGHUP: only a kill of the whole group ends them.
    script = f"trap '' INT TERM HUP; sleep {marker} & sleep {marker} & wait"
    started = time.monotonic()
    with pytest.raises(nw.CommandTimeout) as caught:
        netns.exec(["sh", "-c", script], timeout=1)
    elapsed = time.monotonic() - started
    assert 1 <= elapsed < 60, elapsed  # raised at the limit, not after the 300 s sleep (no tight bound: noisy cores)
    assert caught.value.argv == ("ip", "netns", "exec", netns.name, "sh", "-c", script)
    assert caught.value.timeout == 1 and "timed out after 1 s" in str(caught.value)
    assert none_left(marker) == []


def test_ctrl_c_arriving_while_a_child_is_spawned_still_kills_it(monkeypatch):
    import sh
    marker, real_command = sleep_marker(), sh.Command

    def interrupted_after_fork(name):
        program = real_command(name)

        def spawn(*args, **kwargs):
            running = program(*args, **kwargs)   # forked and exec'd …
            signal.raise_signal(signal.SIGINT)   # … Ctrl-C before sh hands it back
            return running
        return spawn

    monkeypatch.setattr(sh, "Command", interrupted_after_fork)
    with pytest.raises(KeyboardInterrupt):
        nw.ShRunner().run(["sh", "-c", f"sleep {marker} & sleep {marker}"])
    assert none_left(marker) == []


# --- 2. threads -------------------------------------------------------------------

def test_four_threads_create_use_and_delete_their_own_namespaces():
    errors, rounds = [], 4

    def worker(number: int) -> None:
        try:
            for round_ in range(rounds):
                with nw.netns_add(fresh_name()) as ns:
                    ns.veth_add("a0", "a1")
                    ns.addr_add("a0", f"10.99.{number}.1/24")
                    ns.link_set("a1", up=True, mtu=1400)
                    ns.link_set_up("a0")
                    links = {link["ifname"]: link for link in ns.link_list()}
                    assert sorted(links) == ["a0", "a1", "lo"]
                    assert links["a1"]["mtu"] == 1400
                    assert ns.ethtool_stats("a0")["peer_ifindex"] == links["a1"]["ifindex"]
                    addrs = ns.addr_list("a0")[0]["addr_info"]
                    assert f"10.99.{number}.1" in [a["local"] for a in addrs]
                    assert ns.exec(["cat", "/proc/self/net/dev"]).stdout.count(":") >= 3
        except BaseException as exc:  # noqa: B902 - reported by the main thread
            errors.append((number, exc))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert gc.isenabled()  # sh turns gc off around each fork: nothing may leave it off


# --- 3. cleanup on failure ---------------------------------------------------------

CTRL_C_CHILD = textwrap.dedent("""
    import signal, sys, time
    sys.path.insert(0, {root!r})
    import netnswrap as nw
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if started in the background
    name, during, marker = sys.argv[1:]
    with nw.netns_add(name) as ns:
        print("ready", flush=True)
        if during == "command":
            ns.exec(["sh", "-c", "sleep " + marker + " & sleep " + marker])
        else:
            time.sleep(300)
""")


@pytest.mark.parametrize("during", ["python", "command"])
def test_ctrl_c_inside_a_with_block_deletes_the_namespace(during):
    name, marker = fresh_name(), sleep_marker()
    child = subprocess.Popen([sys.executable, "-c", CTRL_C_CHILD.format(root=ROOT), name, during, marker],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        assert child.stdout.readline() == "ready\n", child.stderr.read()
        assert name in kernel.namespaces()
        if during == "command":
            # both sleeps started (not this Python child and its sh, which carry the marker too)
            assert wait_for(lambda: len(processes_with("sleep\0" + marker)) == 2)
        os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C sends: the child's foreground group
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
        left = none_left(marker)
    assert child.returncode != 0 and "KeyboardInterrupt" in stderr
    assert name not in kernel.namespaces()
    assert left == []


def test_a_name_reused_at_once_never_fails_on_the_kernels_teardown():
    """Deleting a namespace destroys its veth ends elsewhere milliseconds later."""
    with nw.netns_add(fresh_name()) as keep:
        for _ in range(15):
            gone = nw.netns_add(fresh_name())
            gone.veth_add("v0", "v1", peer_netns=keep)
            nw.netns_del(gone.name)
            keep.veth_add("v1", "v2")           # v1 may still be the dead pair's end
            keep.link_del("v1")
            again = nw.netns_add(gone.name)     # the same namespace name, at once
            again.veth_add("v0", "v1")
            assert sorted(link["ifname"] for link in kernel.ip_json(gone.name, "link")) == ["lo", "v0", "v1"]
            nw.netns_del(gone.name)
        keep.veth_add("v1", "v2")
        with pytest.raises(nw.LinkExists):      # a name really taken is still refused
            keep.veth_add("v1", "v3")
        assert not kernel.has_link(keep.name, "v3")


# --- 4. missing tools and rights ---------------------------------------------------

def test_without_ethtool_stats_say_what_to_install_and_veth_peer_still_works(netns, tmp_path, monkeypatch):
    for directory in os.environ["PATH"].split(os.pathsep):
        if os.path.isdir(directory):
            for program in os.listdir(directory):
                target = os.path.join(directory, program)
                link = tmp_path / program
                if program != "ethtool" and os.access(target, os.X_OK) and not link.exists():
                    link.symlink_to(target)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("ethtool") is None and shutil.which("ip")
    netns.veth_add("e0", "e1")
    for call in (lambda: netns.ethtool_stats("e0"), lambda: nw.ethtool_driver("lo")):
        with pytest.raises(nw.ToolNotFound) as caught:
            call()
        assert (caught.value.tool, caught.value.package) == ("ethtool", "ethtool")
        assert "ethtool" in str(caught.value) and "install the Debian package 'ethtool'" in str(caught.value)
    peer = netns.veth_peer("e0")
    assert peer == {"netns": netns.name, "pid": None, "ifname": "e1",
                    "ifindex": kernel.link(netns.name, "e1")["ifindex"]}
    assert netns.can_move("e0") and not netns.can_move("lo")


UNPRIVILEGED_CHILD = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r})
    import netnswrap as nw
    mine, new = sys.argv[1:]
    out = {{"uid": __import__("os").getuid(),
           "names": [e["name"] for e in nw.netns_list()],
           "lo": nw.link_show("lo")["ifname"],
           "links": len(nw.link_list()), "addrs": len(nw.addr_list()),
           "features": "tx-checksumming" in nw.ethtool_features("lo")}}
    for key, call in [("add", lambda: nw.netns_add(new)), ("del", lambda: nw.netns_del(mine)),
                      ("set", lambda: nw.Netns(mine).link_set_up("lo"))]:
        try:
            call()
            out[key] = None
        except nw.NetnsWrapError as exc:
            out[key] = [type(exc).__name__, str(exc)]
    print(json.dumps(out))
""")


def test_not_root_gives_permission_denied_saying_what_is_needed_and_reads_work(netns):
    new = fresh_name()
    # uid/gid 65534 (nobody), no groups; CAP_DAC_READ_SEARCH only so that it can read
    # this Python where it lives (e.g. under /root): no network rights at all.
    argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "--inh-caps=-all,+dac_read_search", "--ambient-caps=+dac_read_search",
            sys.executable, "-c", UNPRIVILEGED_CHILD.format(root=ROOT), netns.name, new]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["uid"] == 65534 and netns.name in out["names"] and out["lo"] == "lo"
    assert out["links"] >= 1 and out["addrs"] >= 1 and out["features"]
    for key in ("add", "del", "set"):
        kind, message = out[key]
        assert kind == "PermissionDenied" and "needs root or CAP_NET_ADMIN/CAP_SYS_ADMIN" in message, out
    assert new not in kernel.namespaces() and netns.name in kernel.namespaces()


# --- 8. a namespace deleted while a process holds it ------------------------------------

def test_deleting_a_held_namespace_succeeds_and_topology_still_shows_it():
    name = fresh_name()
    nw.netns_add(name).veth_add("h0", "h1")
    inode = os.stat(f"/run/netns/{name}").st_ino
    try:
        with kernel.parked(["ip", "netns", "exec", name]) as holder:
            nw.netns_del(name)                      # rc 0, as `ip netns del` gives
            assert name not in kernel.namespaces()
            assert os.stat(f"/proc/{holder.pid}/ns/net").st_ino == inode
            spaces = [s for s in nw.topology()["namespaces"] if s["inode"] == inode]
            assert len(spaces) == 1 and spaces[0]["name"] is None and spaces[0]["pid"] == holder.pid
            assert {link["ifname"] for link in spaces[0]["links"]} == {"lo", "h0", "h1"}
            assert nw.Netns.from_pid(holder.pid).veth_peer("h0")["ifname"] == "h1"
    finally:
        if name in kernel.namespaces():
            nw.netns_del(name)
