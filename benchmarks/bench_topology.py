#!/usr/bin/env python3
"""Reading a host of N namespaces: ``netnswrap`` ``Netns().topology()`` vs the
raw shell read of the same facts.

    python benchmarks/bench_topology.py                 # 100 namespaces, 15 runs each
    python benchmarks/bench_topology.py --n 50 --runs 9
    python benchmarks/bench_topology.py --write         # also update benchmarks/RESULTS.md

Runs as root, in mount and PID namespaces of its own (it re-executes itself
under ``unshare -m -p -f --mount-proc`` with a tmpfs on /run/netns), so the
host it reads holds only what it builds — N namespaces ``nwk5bN`` whose
``eth0`` pairs with a veth on bridge ``nk5br`` in hub namespace ``nwk5hub``,
each with an address — and everything it built vanishes with it.

The raw read is one ``sh -c`` of ``ip -all netns exec ip -d -j addr show;
ip -d -j addr show; ip -j netns list; lsns -J -t net`` (its output is read,
not parsed). The two alternate run by run; the report gives medians and
their ratio (target: at most 1.5).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import netnswrap as nw  # noqa: E402
from results import write_section  # noqa: E402

RAW = ("ip -all netns exec ip -d -j addr show; ip -d -j addr show; "
       "ip -j netns list; lsns -J -t net")
SECTION = "## Topology read (issue 5)"
ISOLATED = "NWK5_BENCH_ISOLATED"


def build(n: int) -> None:
    """N leaf namespaces joined to a bridge in the hub, with ``ip -batch``."""
    subprocess.run(["mount", "-t", "tmpfs", "nwk5-bench", "/run/netns"], check=True)
    names = "".join(f"netns add nwk5b{i}\n" for i in range(n)) + "netns add nwk5hub\n"
    subprocess.run(["ip", "-batch", "-"], input=names, text=True, check=True)
    hub = "link add nk5br type bridge\nlink set nk5br up\n" + "".join(
        f"link add name nk5v{i} up master nk5br type veth peer name eth0 netns nwk5b{i}\n" for i in range(n))
    subprocess.run(["ip", "-n", "nwk5hub", "-batch", "-"], input=hub, text=True, check=True)
    for i in range(n):
        leaf = f"link set lo up\nlink set eth0 up\naddr add 10.125.{i // 250}.{i % 250 + 1}/16 dev eth0\n"
        subprocess.run(["ip", "-n", f"nwk5b{i}", "-batch", "-"], input=leaf, text=True, check=True)


def raw() -> None:
    subprocess.run(["sh", "-c", RAW], stdout=subprocess.PIPE, check=True)


def ours() -> dict:
    return nw.Netns(runner=nw.ShRunner()).topology()  # a fresh runner: `ip -V` counted too


def measure(n: int, runs: int) -> dict:
    build(n)
    topology = ours()  # warm up both, and check the read is complete
    raw()
    named = [s for s in topology["namespaces"] if s["name"]]
    assert len(named) == n + 1 and sum(1 for pair in topology["veth_pairs"] if all(pair)) == n, "incomplete read"
    times = {"raw": [], "netnswrap": []}
    for run in range(runs):
        order = [("raw", raw), ("netnswrap", ours)]
        for name, read in order if run % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            read()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {"n": n, "runs": runs, "raw": medians["raw"], "netnswrap": medians["netnswrap"],
            "ratio": medians["netnswrap"] / medians["raw"]}


def report(result: dict) -> str:
    verdict = "meets" if result["ratio"] <= 1.5 else "MISSES"
    return (f"{SECTION}\n\n"
            f"`python benchmarks/bench_topology.py --n {result['n']} --runs {result['runs']}` — "
            f"{result['n']} named namespaces, each `eth0` paired with a veth on a bridge in a hub "
            f"namespace ({result['n'] + 1} namespaces, {result['n']} veth pairs), read whole; "
            "runs alternate, medians:\n\n"
            "| read | median |\n|---|---|\n"
            f"| raw shell: `{RAW}` | {result['raw'] * 1000:.1f} ms |\n"
            f"| `netnswrap.Netns().topology()` (parsed, pairs and bridges resolved) | "
            f"{result['netnswrap'] * 1000:.1f} ms |\n\n"
            f"Ratio {result['ratio']:.2f}× — {verdict} the target of at most 1.5×. netnswrap runs "
            "`ip -V`, `ip -j netns list`, `lsns -J -t net`, one `stat` of every process's namespace, "
            "one `sh` loop of `ip -n NS -d -j -batch -` (links, addresses and routes) over the named "
            "namespaces and `ip -d -j -batch -` in its own, and one listing per installed container "
            "engine (here docker, daemon down, and podman: about 40 ms): a fixed number of processes "
            "whatever N, plus one `nsenter` per namespace only processes hold. It reads routes and "
            "containers too, which the raw read does not.\n")




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="namespaces to read (default 100)")
    parser.add_argument("--runs", type=int, default=15, help="runs of each read (default 15)")
    parser.add_argument("--write", action="store_true", help="write the result into benchmarks/RESULTS.md")
    args = parser.parse_args()
    if os.environ.get(ISOLATED) != "1":
        if os.geteuid() != 0:
            sys.exit("bench_topology.py needs root (it builds namespaces)")
        env = dict(os.environ, **{ISOLATED: "1"})
        sys.exit(subprocess.run(["unshare", "-m", "-p", "-f", "--mount-proc", sys.executable, *sys.argv],
                                env=env).returncode)
    result = measure(args.n, args.runs)
    section = report(result)
    print(section)
    if args.write:
        write_section(SECTION, section)


if __name__ == "__main__":
    main()
