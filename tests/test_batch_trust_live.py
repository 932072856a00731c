"""Batches you can trust, live: undo never destroys what the batch did not
create, the failing line is the real one (random batches whose k-th line
fails, in threads and processes), Ctrl-C and SIGKILL leave nothing that
``cleanup`` cannot take back, and no two batches share a file.

Every namespace here is named ``nw9…`` (unique per test run) and deleted
afterwards; links live only inside those namespaces.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import netnswrap as nw
from netnswrap.pytest_plugin import cannot_create_namespaces, unique_netns_name
from netnswrap.runners import SCRATCH_ROOT

import kernel

pytestmark = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "")


@pytest.fixture
def names():
    """Unique namespace names; whatever of them exists after the test is deleted."""
    made = []

    def make(count, prefix="nw9"):
        made.extend(unique_netns_name(prefix) for _ in range(count))
        return made[-count:]

    yield make
    for name in made:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def ours_in_scratch(owner: int) -> list:
    """Batch directories whose record names ``owner``."""
    found = []
    for entry in os.listdir(SCRATCH_ROOT) if os.path.isdir(SCRATCH_ROOT) else []:
        try:
            with open(f"{SCRATCH_ROOT}/{entry}/journal.json") as file:
                if json.load(file)["owner"] == owner:
                    found.append(entry)
        except (OSError, ValueError):
            continue
    return found


def state(home: str) -> dict:
    """What a batch must leave as it found it: links of ``home`` with their
    kind, addresses and peer, and the nw9 namespaces."""
    links = {}
    for link in kernel.ip_json(home, "-d", "addr"):
        links[link["ifname"]] = ((link.get("linkinfo") or {}).get("info_kind"), link.get("link_index"),
                                 sorted(f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"]))
    return {"links": links, "namespaces": {n for n in kernel.namespaces() if n.startswith("nw9")}}


def test_undo_moves_a_link_that_existed_back_instead_of_destroying_it(names):
    home, other, new = names(3)
    for name in (home, other):
        subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", home, "link", "add", "host0", "type", "veth", "peer", "name", "peer0",
                    "netns", other], check=True)
    subprocess.run(["ip", "-n", home, "addr", "add", "10.99.0.1/24", "dev", "host0"], check=True)
    before = kernel.link(home, "host0")
    with pytest.raises(nw.AddressExists):
        with nw.Netns(home).batch() as b:
            scope = b.netns_add(new)
            b.link_set("host0", netns=scope)
            scope.link_set("host0", name="eth7")
            scope.addr_add("eth7", "10.99.1.1/24")
            scope.addr_add("eth7", "10.99.1.1/24")  # fails
    after = kernel.link(home, "host0")
    assert after["ifindex"] == before["ifindex"] and after["address"] == before["address"]
    assert kernel.ipv4(home, "host0") == []  # addresses do not survive a namespace change (kernel)
    assert kernel.has_link(other, "peer0")      # its peer was not destroyed with the namespace
    assert new not in kernel.namespaces()


def test_the_failing_line_is_the_real_one_when_ip_stops_while_parsing(names):
    home, old = names(2)
    for name in (home, old):
        subprocess.run(["ip", "netns", "add", name], check=True)
    with pytest.raises(nw.NamespaceNotFound) as raised:
        with nw.Netns(home).batch() as b:
            b.netns_del(old)
            b.veth_add("a", "b")
            b.link_set("b", netns=old)  # ip: argument "old" is wrong: Invalid "netns" value
    assert raised.value.argv == ("ip", "-n", home, "link", "set", "dev", "b", "netns", old)
    assert set(state(home)["links"]) == {"lo"}  # the veth that ran before it is undone


def test_exec_of_ip_in_a_named_namespace_runs_inside_it(names):
    (home,) = names(1)
    subprocess.run(["ip", "netns", "add", home], check=True)
    subprocess.run(["ip", "-n", home, "link", "add", "inside0", "type", "bridge"], check=True)
    result = nw.Netns(home).exec(["ip", "-j", "link", "show"])
    assert result.argv[:4] == ("ip", "netns", "exec", home)
    assert {link["ifname"] for link in json.loads(result.stdout)} == {"lo", "inside0"}


def test_a_name_the_kernel_would_rewrite_is_refused_before_anything_runs(names):
    (home,) = names(1)
    subprocess.run(["ip", "netns", "add", home], check=True)
    with pytest.raises(nw.InvalidName, match="%"):
        nw.Netns(home).veth_add("a%d", "b")
    assert set(state(home)["links"]) == {"lo"}


# --- random batches whose k-th line fails ------------------------------------------

FAILURES = [
    lambda scope, rng: scope.addr_add("lo", "10.77.0.1/8"),               # the second copy fails
    lambda scope, rng: scope.link_set("nw9-missing", up=True),            # no such device
    lambda scope, rng: scope.link_set("lo", netns="nw9-no-such-netns"),   # refused while parsing
    lambda scope, rng: scope.veth_add("lo", "x0"),                        # name taken
]


def random_batch(b, home: str, created: list, rng: random.Random, fail_at: int, count: int):
    """``count`` changes in ``home`` and namespaces the batch creates (links
    that exist before: host0 only, addressed, renamed, moved into a namespace
    the batch makes and renamed there); change ``fail_at`` fails."""
    scope = b.netns(home)
    scope.addr_add("lo", "10.77.0.1/8")
    made, moved = 0, False
    for index in range(count):
        if index == fail_at:
            rng.choice(FAILURES)(scope, rng)
            return
        choice = rng.randrange(7)
        if choice == 6 and created and not moved:  # host0 existed: into a namespace the batch makes
            moved = True
            new = b.netns_add(created.pop())
            scope.link_set("host0", netns=new)
            new.link_set("host0", name="moved0")
        elif choice in (3, 4, 6) and moved:
            continue
        elif choice == 0 and created:
            b.netns_add(created.pop())
        elif choice == 1:
            made += 1
            scope.veth_add(f"va{made}", f"vb{made}")
            scope.addr_add(f"va{made}", f"10.78.{made}.1/24")
        elif choice == 2:
            made += 1
            scope.bridge_add(f"br{made}")
            scope.link_set(f"br{made}", up=True, mtu=1400)
        elif choice == 3:
            scope.addr_add("host0", f"10.79.{index}.1/24")
        elif choice == 4:
            scope.link_set("host0", name="host1")
            scope.link_set("host1", name="host0")
        else:
            made += 1
            scope.veth_add(f"vx{made}", f"vy{made}")
            scope.link_set(f"vy{made}", name=f"vz{made}")


def fuzz(seed: int, rounds: int) -> list:
    """``rounds`` random failing batches in a home namespace of their own; the
    differences found between the state before and after each (empty: none)."""
    rng = random.Random(seed)
    home = unique_netns_name("nw9")
    spare = [unique_netns_name("nw9") for _ in range(rounds * 4)]
    problems = []
    subprocess.run(["ip", "netns", "add", home], check=True)
    try:
        subprocess.run(["ip", "-n", home, "link", "add", "host0", "type", "veth", "peer", "name", "peer0"],
                       check=True)
        for _ in range(rounds):
            before = state(home)
            count = rng.randrange(2, 12)
            try:
                with nw.Netns().batch() as b:
                    random_batch(b, home, spare, rng, rng.randrange(1, count), count)
            except nw.NetnsWrapError as exc:
                if exc.argv is None or exc.argv[:3] != ("ip", "-n", home) and exc.argv[:2] != ("ip", "netns"):
                    problems.append(f"seed {seed}: error names no command of the batch: {exc!r}")
            else:
                problems.append(f"seed {seed}: the batch did not fail")
            after = state(home)
            after["namespaces"] = {n for n in after["namespaces"] if n in spare or n == home}
            before["namespaces"] = {n for n in before["namespaces"] if n in spare or n == home}
            if after != before:
                problems.append(f"seed {seed}: {before} != {after}")
    finally:
        for name in [home, *spare]:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return problems


def test_random_failing_batches_leave_everything_as_it_was():
    assert fuzz(1, 12) == []


def test_random_failing_batches_in_threads_and_processes_at_once():
    problems: list = []
    threads = [threading.Thread(target=lambda s=s: problems.extend(fuzz(s, 5))) for s in (2, 3)]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pending = pool.starmap_async(fuzz, [(4, 5), (5, 5)])
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for found in pending.get(timeout=300):
            problems.extend(found)
        # Ended gracefully: terminate() (what `with` does) can leave a worker
        # waiting forever on the task queue's lock another one held when killed.
        pool.close()
        pool.join()
    assert problems == []
    assert ours_in_scratch(os.getpid()) == []


def test_concurrent_batches_with_the_same_lines_never_share_a_file(names):
    homes = names(4)
    for home in homes:
        subprocess.run(["ip", "netns", "add", home], check=True)
    errors = []

    def build(home):
        try:
            for _ in range(5):
                with nw.batch() as b:  # the same lines in every thread, per namespace
                    scope = b.netns(home)
                    scope.bridge_add("br0")
                    scope.link_set_up("br0")
                nw.Netns(home).link_del("br0")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(home,)) for home in homes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert ours_in_scratch(os.getpid()) == []


# --- interrupted batches -----------------------------------------------------------

LONG_BATCH = textwrap.dedent("""
    import sys
    import netnswrap as nw
    prefix, count = sys.argv[1], int(sys.argv[2])
    with nw.batch() as b:
        for i in range(count):
            b.netns_add(f"{prefix}-{i}").link_set_up("lo")
""")


def start_long_batch(prefix: str, count: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", LONG_BATCH, prefix, str(count)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(n.startswith(prefix) for n in kernel.namespaces()):  # wait until it runs
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.01)
    return process


def leftovers(prefix: str) -> list:
    return sorted(n for n in kernel.namespaces() if n.startswith(prefix))


def test_ctrl_c_during_a_long_batch_undoes_what_ran():
    prefix = unique_netns_name("nw9")
    process = start_long_batch(prefix, 600)
    try:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
        assert "KeyboardInterrupt" in err
        assert leftovers(prefix) == []
        assert ours_in_scratch(process.pid) == []
    finally:
        process.kill()
        for name in leftovers(prefix):
            subprocess.run(["ip", "netns", "del", name])


def test_sigkill_during_a_long_batch_leaves_a_record_that_cleanup_undoes():
    prefix = unique_netns_name("nw9")
    process = start_long_batch(prefix, 300)
    try:
        process.kill()
        process.wait()
        record = ours_in_scratch(process.pid)
        assert len(record) == 1  # what the killed process left: one record
        deadline = time.monotonic() + 120
        finished: list = []
        while not finished and time.monotonic() < deadline:  # its ip goes on to the end first
            finished = nw.cleanup()
            time.sleep(0.05)
        assert f"{SCRATCH_ROOT}/{record[0]}" in finished
        assert leftovers(prefix) == []
        assert ours_in_scratch(process.pid) == []
    finally:
        for name in leftovers(prefix):
            subprocess.run(["ip", "netns", "del", name])


BRIDGES_BATCH = textwrap.dedent("""
    import sys
    import netnswrap as nw
    with nw.Netns(sys.argv[1]).batch() as b:
        for i in range(int(sys.argv[2])):
            b.bridge_add(f"br{i}")
""")


def test_cleanup_after_sigkill_leaves_a_link_someone_made_again(names):
    (home,) = names(1)
    subprocess.run(["ip", "netns", "add", home], check=True)
    process = subprocess.Popen([sys.executable, "-c", BRIDGES_BATCH, home, "200"])
    deadline = time.monotonic() + 60
    while not kernel.has_link(home, "br0"):  # wait until it runs
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.kill()
    process.wait()
    (record,) = ours_in_scratch(process.pid)
    out = f"{SCRATCH_ROOT}/{record}/out"
    while subprocess.run(["flock", "-n", out, "true"]).returncode != 0:  # its ip goes on to the end
        assert time.monotonic() < deadline
        time.sleep(0.05)
    subprocess.run(["ip", "-n", home, "link", "del", "br0"], check=True)  # someone else's br0 now
    subprocess.run(["ip", "-n", home, "link", "add", "br0", "type", "bridge"], check=True)
    theirs = kernel.link(home, "br0")["ifindex"]
    assert nw.cleanup() == [f"{SCRATCH_ROOT}/{record}"]
    assert [link["ifname"] for link in kernel.ip_json(home, "link")] == ["lo", "br0"]
    assert kernel.link(home, "br0")["ifindex"] == theirs


# Run as a host of its own (unshare -m -n, tmpfs on /run/netns and /run/netnswrap):
# a veth of the caller's namespace is moved into a namespace the batch makes,
# the batch's process is killed, and cleanup must bring the veth back, whole.
MOVED_BACK = textwrap.dedent("""
    import json, os, subprocess, sys, time
    import netnswrap as nw
    for where in ("/run/netns", "/run/netnswrap"):
        os.makedirs(where, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", "nw9mv", where], check=True)
    subprocess.run(["ip", "link", "add", "pre0", "type", "veth", "peer", "name", "pre1"], check=True)
    batch = ("import netnswrap as nw\\n"
             "with nw.batch() as b:\\n"
             "    new = b.netns_add('nw9new')\\n"
             "    b.link_set('pre0', netns=new)\\n"
             "    for i in range(400):\\n"
             "        new.addr_add('lo', f'10.9.{i // 250}.{i % 250 + 1}/32')\\n")
    child = subprocess.Popen([sys.executable, "-c", batch])
    while subprocess.run(["ip", "link", "show", "pre0"], capture_output=True).returncode == 0:
        time.sleep(0.005)  # until pre0 has moved
    child.kill()
    child.wait()
    while nw.cleanup() == []:  # its ip runs on to the end first
        time.sleep(0.05)
    links = [link["ifname"] for link in json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True,
                                                                     text=True).stdout)]
    print(json.dumps({"links": sorted(links), "namespaces": os.listdir("/run/netns")}))
""")


def test_cleanup_brings_a_link_of_the_callers_namespace_back_after_a_sigkill():
    done = subprocess.run(["unshare", "-m", "-n", "--propagation", "private", sys.executable, "-c", MOVED_BACK],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found == {"links": ["lo", "pre0", "pre1"], "namespaces": []}  # the veth back whole, nw9new gone


def test_a_full_scratch_disk_is_an_error_before_ip_runs_and_nothing_is_left(names):
    """A tmpfs of 128 KiB over /run/netnswrap, in a mount namespace of this test's own."""
    (home,) = names(1)
    code = textwrap.dedent(f"""
        import subprocess, sys
        import netnswrap as nw
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k,mode=700", "nw9full", "/run/netnswrap"], check=True)
        try:
            with nw.batch() as b:
                scope = b.netns_add({home!r})
                for i in range(300):
                    scope.addr_add("lo", f"10.{{i // 250}}.{{i % 250}}.1/32")
        except nw.NetnsWrapError as exc:
            print(type(exc).__name__, exc)
    """)
    done = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=120)
    # the scripts and record fit; the room for ip's progress markers does not
    assert "cannot reserve" in done.stdout and "No space left on device" in done.stdout, done.stdout + done.stderr
    assert home not in kernel.namespaces()  # nothing ran
