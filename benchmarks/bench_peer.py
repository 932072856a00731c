#!/usr/bin/env python3
"""``veth_peer``: how many commands one answer runs, and how long it takes.

    python benchmarks/bench_peer.py              # 21 calls per case
    python benchmarks/bench_peer.py --runs 51

Runs as root, in a network and mount namespace of its own (it re-executes
itself under ``unshare -m -n`` with a tmpfs on /run/netns), so the caller's
namespace, the named ones and the process it builds are its own and vanish
with it:

- named namespaces ``nwhdpa``, ``nwhdpb``; veth ``pa`` (in pa) ↔ ``pb`` (in pb),
  ``sa`` ↔ ``sb`` both in pa;
- veth ``hin`` in the caller's namespace ↔ ``hout`` in pa;
- a ``sleep`` in a network namespace of its own (``unshare --net``), holding
  ``eth0`` ↔ ``ca`` in pa and ``eth1`` ↔ ``hc`` in the caller's namespace.

Each case is asked through a :class:`~netnswrap.cassette.RecordingRunner` on
one ``ShRunner`` whose ``ip -V`` was already asked (a runner asks it once):
the commands of the last call are counted and printed; the time is the
median over ``--runs`` calls, with ``cross_check=True`` (one ``ethtool -S``
more) beside it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import netnswrap as nw  # noqa: E402
from netnswrap.cassette import RecordingRunner  # noqa: E402

ISOLATED = "NWHD_BENCH_ISOLATED"


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True)


def build() -> subprocess.Popen:
    subprocess.run(["mount", "-t", "tmpfs", "nwhd-bench", "/run/netns"], check=True)
    ip("netns", "add", "nwhdpa")
    ip("netns", "add", "nwhdpb")
    ip("-n", "nwhdpa", "link", "add", "pa", "type", "veth", "peer", "name", "pb", "netns", "nwhdpb")
    ip("-n", "nwhdpa", "link", "add", "sa", "type", "veth", "peer", "name", "sb")
    ip("link", "add", "hin", "type", "veth", "peer", "name", "hout", "netns", "nwhdpa")
    held = subprocess.Popen(["unshare", "--net", "sh", "-c", "echo ready; exec sleep 600"],
                            stdout=subprocess.PIPE, text=True)
    assert held.stdout.readline() == "ready\n"
    ip("-n", "nwhdpa", "link", "add", "ca", "type", "veth", "peer", "name", "eth0", "netns", str(held.pid))
    ip("link", "add", "hc", "type", "veth", "peer", "name", "eth1", "netns", str(held.pid))
    return held


def cases(held: int) -> list:
    """(what, handle maker, device)"""
    return [
        ("caller → named namespace", lambda r: nw.Netns(runner=r), "hin"),
        ("named → named namespace", lambda r: nw.Netns("nwhdpa", runner=r), "pa"),
        ("named → same namespace", lambda r: nw.Netns("nwhdpa", runner=r), "sa"),
        ("named → caller's namespace", lambda r: nw.Netns("nwhdpa", runner=r), "hout"),
        ("named → held by a process only", lambda r: nw.Netns("nwhdpa", runner=r), "ca"),
        ("PID → named namespace", lambda r: nw.Netns.from_pid(held, runner=r), "eth0"),
        ("PID → caller's namespace", lambda r: nw.Netns.from_pid(held, runner=r), "eth1"),
    ]


def measure(runs: int, held: int) -> list:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        recorder = RecordingRunner(os.path.join(scratch, "peer.json"), inner=nw.ShRunner())
        nw.Netns(runner=recorder).tools()  # `ip -V`: once per runner
        for what, make, dev in cases(held):
            handle = make(recorder)
            times = {False: [], True: []}
            for _ in range(runs):
                for cross_check in (False, True):
                    before = len(recorder.interactions)
                    started = time.perf_counter()
                    handle.veth_peer(dev, cross_check=cross_check)
                    times[cross_check].append(time.perf_counter() - started)
                    if not cross_check:
                        ran = [" ".join(entry["argv"]) for entry in recorder.interactions[before:]]
            rows.append((what, dev, ran, statistics.median(times[False]), statistics.median(times[True])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    if os.environ.get(ISOLATED) != "1":
        os.environ[ISOLATED] = "1"
        os.execvp("unshare", ["unshare", "-m", "-n", sys.executable, *sys.argv])
    held = build()
    try:
        rows = measure(args.runs, held.pid)
    finally:
        held.kill()
        held.wait()
    print(f"veth_peer, {args.runs} calls per case (medians); commands of one call, `ip -V` asked before\n")
    print("| case | commands | time | with cross_check |")
    print("|---|---|---|---|")
    for what, dev, ran, plain, checked in rows:
        print(f"| {what} (`{dev}`) | {len(ran)} | {plain * 1000:.1f} ms | {checked * 1000:.1f} ms |")
    print()
    for what, dev, ran, _, _ in rows:
        print(f"{what}:")
        print("".join(f"    {line}\n" for line in ran), end="")


if __name__ == "__main__":
    main()
