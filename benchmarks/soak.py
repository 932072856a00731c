#!/usr/bin/env python3
"""Soak: many create/configure/delete cycles; nothing may grow, nothing may leak.

    sudo python benchmarks/soak.py                 # 1,000 cycles, prints the figures
    sudo python benchmarks/soak.py --write         # … and puts them in README.md ("Reliability")
    sudo python benchmarks/soak.py --cycles 100
    sudo python benchmarks/soak.py --cycles 0 --spawns 1000   # background programs only

Each cycle, through the public API and the live runner: `with nw.netns_add(NAME)`
(the same NAME every cycle), a veth pair from it into a namespace kept for
the whole run (the same link names every cycle), addresses on both ends,
both up, an MTU change, reads (`link_show`, `addr_list`, `ethtool -S`,
`veth_peer`), a program run inside, then the block ends and deletes the
namespace — whose veth end in the kept namespace the kernel removes a few
milliseconds later; a bridge is then created under that end's name at once,
meeting the teardown.
Every 100 cycles it samples open file descriptors, threads, child processes
and RSS of this process. At the end it counts what is left: namespaces
named like ours, links other than `lo` in the kept namespace, links named
like ours in the caller's namespace. Then it measures how far past its limit
a timed-out command is killed (20 runs of `sleep 30` with a 0.5 s limit).
Then (``--spawns``, default 1,000) it starts programs in the background in a
namespace kept for that part: most are read line by line to their end, every
tenth is killed or terminated while it runs, group and child included; fds,
threads, children and zombies are sampled every 100, and what is left in the
namespace (`ip netns pids`) is counted.
Exit status 1 if anything leaked or grew.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import netnswrap as nw  # noqa: E402

PREFIX = f"nwsoak{os.getpid()}-"
README = os.path.join(ROOT, "README.md")
BEGIN, END = "<!-- soak:begin -->", "<!-- soak:end -->"


def sample() -> dict:
    """This process's open fds, threads, live children and RSS (KiB).

    Threads sh starts for a command may still be ending when it returns:
    up to half a second is given for the count to drop back to the main one.
    """
    for _ in range(50):
        if threading.active_count() == 1:
            break
        time.sleep(0.01)
    with open("/proc/self/status") as fh:
        status = dict(line.split(":", 1) for line in fh)
    return {"fds": len(os.listdir("/proc/self/fd")), "threads": int(status["Threads"]),
            "children": len(children_states()), "rss_kib": int(status["VmRSS"].split()[0])}


def ip_json(*args: str) -> list:
    out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out or "[]")


def cycle(name: str, keep: nw.Netns) -> None:
    with nw.netns_add(name) as ns:
        ns.veth_add("s0", "s1", peer_netns=keep)
        ns.addr_add("s0", "10.201.0.1/30")
        keep.addr_add("s1", "10.201.0.2/30")
        ns.link_set("s0", up=True, mtu=1400)
        keep.link_set_up("s1")
        assert ns.link_show("s0")["mtu"] == 1400
        assert keep.addr_list("s1")[0]["addr_info"][0]["local"] == "10.201.0.2"
        assert ns.ethtool_stats("s0")["peer_ifindex"] == keep.link_show("s1")["ifindex"]
        assert ns.veth_peer("s0")["ifname"] == "s1"
        ns.exec(["true"])
    keep.bridge_add("s1")  # the name at once: the kernel may not have removed the old s1 yet
    keep.link_del("s1")


def timeout_overshoot(runs: int = 20, limit: float = 0.5) -> list:
    """Seconds past ``limit`` at which a timed-out command's CommandTimeout arrives."""
    runner, late = nw.ShRunner(), []
    for _ in range(runs):
        started = time.monotonic()
        try:
            runner.run(["sleep", "30"], timeout=limit)
        except nw.CommandTimeout:
            late.append(time.monotonic() - started - limit)
    return late


def soak(cycles: int) -> dict:
    counts = {"commands": 0, "link_exists": 0}
    run = nw.Netns.run

    def counting_run(self, *args, **kwargs):  # commands, and creates that met a teardown
        counts["commands"] += 1
        try:
            return run(self, *args, **kwargs)
        except nw.LinkExists:
            counts["link_exists"] += 1
            raise

    nw.Netns.run = counting_run
    samples, name = {}, PREFIX + "cycle"
    keep = nw.netns_add(PREFIX + "keep")
    started, counted_from = time.monotonic(), counts["commands"]
    try:
        for number in range(1, cycles + 1):
            cycle(name, keep)
            if number == 1 or number % 100 == 0 or number == cycles:
                samples[number] = sample()
        elapsed, commands = time.monotonic() - started, counts["commands"] - counted_from
        time.sleep(1)  # the last cycle's teardown
        left_links = [link["ifname"] for link in ip_json("-n", keep.name, "link") if link["ifname"] != "lo"]
    finally:
        nw.Netns.run = run
        for leftover in (name, keep.name):
            subprocess.run(["ip", "netns", "del", leftover], capture_output=True)
    return {"cycles": cycles, "seconds": elapsed, "samples": samples, "commands": commands,
            "teardown_retries": counts["link_exists"],
            "left_namespaces": [n["name"] for n in ip_json("netns", "list") if n["name"].startswith(PREFIX)],
            "left_links_kept_netns": left_links,
            "left_links_own_netns": [link["ifname"] for link in ip_json("link") if link["ifname"] in ("s0", "s1")],
            "timeout_late": timeout_overshoot(), "python_threads_at_end": threading.active_count()}


def spawn_soak(spawns: int) -> dict:
    """``spawns`` programs started in the background in a namespace kept for
    the run (placed by hand, as a handle's ``spawn`` places them), each read
    to its end; every tenth is killed while it runs and every tenth
    terminated. fds, threads, children and zombies are sampled every 100."""
    runner, keep = nw.ShRunner(), PREFIX + "spawns"
    subprocess.run(["ip", "netns", "add", keep], check=True)
    samples, started = {}, time.monotonic()
    try:
        for number in range(1, spawns + 1):
            if number % 10 == 0:  # killed or terminated while it runs, group and all
                with runner.spawn(["ip", "netns", "exec", keep, "sh", "-c", "echo up; sleep 300 & wait"]) as process:
                    assert next(process.lines(timeout=60)) == "up\n"
                    if number % 20 == 0:
                        process.terminate(grace=5)
                    else:
                        process.kill()
            else:
                with runner.spawn(["ip", "netns", "exec", keep, "sh", "-c", f"echo {number}; echo err >&2"]) as process:
                    assert list(process.lines(timeout=60)) == [f"{number}\n"]
                    assert process.wait(timeout=60).stderr == "err\n"
            if number == 1 or number % 100 == 0 or number == spawns:
                samples[number] = dict(sample(), zombies=zombies())
        elapsed = time.monotonic() - started
        left = [int(pid) for pid in subprocess.run(["ip", "netns", "pids", keep], capture_output=True,
                                                   text=True).stdout.split()]
    finally:
        subprocess.run(["ip", "netns", "del", keep], capture_output=True)
    return {"spawns": spawns, "seconds": elapsed, "samples": samples, "left_processes": left}


def children_states() -> list:
    """The state letter (R, S, Z…) of each child process of this one."""
    states = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(") ", 1)[1].split()
            except FileNotFoundError:
                continue
            if int(fields[1]) == os.getpid():
                states.append(fields[0])
    return states


def zombies() -> int:
    """Zombie children of this process (exited, never reaped)."""
    return children_states().count("Z")


def spawn_verdict(figures: dict) -> list:
    samples = figures["samples"]
    base, end = samples[min(100, figures["spawns"])], samples[figures["spawns"]]
    problems = [f"{key} grew {base[key]} → {end[key]}" for key in ("fds", "threads", "children", "zombies")
                if end[key] > base[key]]
    if end["zombies"]:
        problems.append(f"{end['zombies']} zombies at the end")
    if figures["left_processes"]:
        problems.append(f"processes left in the namespace: {figures['left_processes']}")
    return problems


def spawn_report(figures: dict) -> str:
    rows = "\n".join(f"| {n} | {s['fds']} | {s['threads']} | {s['children']} | {s['zombies']} | {s['rss_kib']:,} |"
                     for n, s in figures["samples"].items())
    problems = spawn_verdict(figures)
    return (
        f"{figures['spawns']:,} programs spawned in a namespace in {figures['seconds']:.0f} s "
        f"({1000 * figures['seconds'] / figures['spawns']:.1f} ms each; 9 in 10 read to their end, "
        "1 in 20 killed and 1 in 20 terminated while running, with a child in its group), "
        f"Python {platform.python_version()}:\n\n"
        "| after spawn | open fds | threads | child processes | zombies | RSS (KiB) |\n"
        "|---:|---:|---:|---:|---:|---:|\n" + rows + "\n\n"
        f"Left in the namespace afterwards: {len(figures['left_processes'])} processes. "
        + ("Verdict: flat, nothing leaked." if not problems else "Verdict: " + "; ".join(problems))
        + "\n\nReproduce: `sudo python benchmarks/soak.py --cycles 0 --spawns 1000`."
    )


def verdict(figures: dict) -> list:
    """What went wrong: growth after the first 100 cycles, or anything left."""
    samples = figures["samples"]
    base = samples[min(100, figures["cycles"])]
    end = samples[figures["cycles"]]
    problems = [f"{key} grew {base[key]} → {end[key]}" for key in ("fds", "threads", "children")
                if end[key] > base[key]]
    if end["rss_kib"] - base["rss_kib"] > 2048:
        problems.append(f"RSS grew {base['rss_kib']} → {end['rss_kib']} KiB")
    problems += [f"{key}: {figures[key]}" for key in
                 ("left_namespaces", "left_links_kept_netns", "left_links_own_netns") if figures[key]]
    return problems


def report(figures: dict) -> str:
    samples, late = figures["samples"], sorted(figures["timeout_late"])
    rows = "\n".join(f"| {n} | {s['fds']} | {s['threads']} | {s['children']} | {s['rss_kib']:,} |"
                     for n, s in samples.items())
    problems = verdict(figures)
    return (
        f"{figures['cycles']:,} cycles in {figures['seconds']:.0f} s "
        f"({1000 * figures['seconds'] / figures['cycles']:.0f} ms a cycle of "
        f"{figures['commands'] / figures['cycles']:.0f} commands) on Linux {platform.release()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{subprocess.run(['ip', '-V'], capture_output=True, text=True).stdout.strip()}:\n\n"
        "| after cycle | open fds | threads | child processes | RSS (KiB) |\n"
        "|---:|---:|---:|---:|---:|\n" + rows + "\n\n"
        f"Left afterwards: {len(figures['left_namespaces'])} namespaces, "
        f"{len(figures['left_links_kept_netns']) + len(figures['left_links_own_netns'])} links. "
        f"{figures['teardown_retries']} times a create met the kernel's teardown of the previous "
        "cycle's namespace (LinkExists) and was retried. A command past its 0.5 s timeout was killed "
        f"and raised CommandTimeout {1000 * late[len(late) // 2]:.0f} ms late (median), "
        f"{1000 * late[-1]:.0f} ms at worst, in {len(late)} runs. "
        + ("Verdict: flat, nothing leaked." if not problems else "Verdict: " + "; ".join(problems))
        + "\n\nReproduce: `sudo python benchmarks/soak.py --write`."
    )


def write_readme(text: str) -> None:
    with open(README) as fh:
        readme = fh.read()
    block = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not block.search(readme):
        raise SystemExit(f"README.md has no {BEGIN} … {END} block to fill")
    with open(README, "w") as fh:
        fh.write(block.sub(lambda _: f"{BEGIN}\n{text}\n{END}", readme))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000, help="create/configure/delete cycles (default 1000)")
    parser.add_argument("--spawns", type=int, default=1000,
                        help="programs spawned in the background, after the cycles (default 1000; 0: none)")
    parser.add_argument("--write", action="store_true", help="put the figures into README.md's Reliability section")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("soak.py creates namespaces: run it as root")
    problems = []
    if args.cycles:
        figures = soak(args.cycles)
        text = report(figures)
        print(text)
        if args.write:
            write_readme(text)
        problems += verdict(figures)
    if args.spawns:
        spawned = spawn_soak(args.spawns)
        print(("\n" if args.cycles else "") + spawn_report(spawned))
        problems += spawn_verdict(spawned)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
