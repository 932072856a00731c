#!/usr/bin/env python3
"""The live runner's cost per command: one `ip -j link` through `ShRunner` vs `sh` vs `subprocess`.

    python benchmarks/bench_runner.py                  # 21 rounds of 40 commands each
    python benchmarks/bench_runner.py --rounds 5 --per-round 20

Contenders run in interleaved rounds within one process (the order rotates
each round), so a slower moment of the machine hits all of them alike; per
contender the median time per command over the rounds is printed, with the
ratios that matter:

- ``ShRunner``: ``netnswrap.ShRunner().run(["ip", "-j", "link"])`` — what every
  netnswrap read costs in processes.
- ``sh (same options)``: the one ``sh`` call ShRunner makes, with the same
  options (background, own process group, no fd-closing loop, merged
  environment), waited for; ShRunner / this is the wrapper's own overhead
  (spawn lock, Ctrl-C guard, timeout watch, argv checks). Target ≤ 1.10×.
- ``sh (defaults)``: ``sh.ip("-j", "link", _tty_out=False)``, as a user of bare
  ``sh`` would write it (sh's defaults close every fd in the child).
- ``subprocess``: ``subprocess.run(argv, capture_output=True)``, the floor.
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

import sh  # noqa: E402

from netnswrap.shrunner import _ANY_STATUS, ShRunner  # noqa: E402

ARGV = ["ip", "-j", "link"]


def contenders() -> dict:
    runner = ShRunner()
    ip = sh.Command(ARGV[0])

    def same_options():
        running = ip(*ARGV[1:], _bg=True, _bg_exc=False, _tty_out=False, _env=dict(os.environ, LC_ALL="C"),
                     _ok_code=_ANY_STATUS, _new_group=True, _close_fds=False)
        running.wait()
        return running.stdout

    return {
        "ShRunner": lambda: runner.run(ARGV).stdout,
        "sh (same options)": same_options,
        "sh (defaults)": lambda: ip(*ARGV[1:], _tty_out=False),
        "subprocess": lambda: subprocess.run(ARGV, capture_output=True, check=False).stdout,
    }


def measure(rounds: int, per_round: int) -> dict:
    """Median seconds per command of each contender, and each round's figures."""
    runs = contenders()
    for run in runs.values():  # warm up: imports, PATH lookups, page cache
        for _ in range(3):
            run()
    names = list(runs)
    per_command: dict = {name: [] for name in names}
    for number in range(rounds):
        order = names[number % len(names):] + names[:number % len(names)]
        for name in order:
            run = runs[name]
            start = time.perf_counter()
            for _ in range(per_round):
                run()
            per_command[name].append((time.perf_counter() - start) / per_round)
    return per_command


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds (default 21)")
    parser.add_argument("--per-round", type=int, default=40, help="commands per contender and round (default 40)")
    args = parser.parse_args()
    figures = measure(args.rounds, args.per_round)
    medians = {name: statistics.median(times) for name, times in figures.items()}
    base = medians["sh (same options)"]
    print(f"one `{' '.join(ARGV)}`, median over {args.rounds} rounds of {args.per_round} "
          f"(python {sys.version.split()[0]}, sh {sh.__version__}, {os.cpu_count()} CPUs):")
    for name, median in medians.items():
        low, high = min(figures[name]), max(figures[name])
        print(f"  {name:18s} {median * 1e3:7.3f} ms   ({low * 1e3:.3f}–{high * 1e3:.3f})  "
              f"x{median / base:.3f} of sh (same options)")
    ratios = [shr / same for shr, same in zip(figures["ShRunner"], figures["sh (same options)"])]
    print(f"ShRunner / sh (same options): median x{medians['ShRunner'] / base:.3f} "
          f"(round by round {min(ratios):.3f}–{max(ratios):.3f})")
    print(f"ShRunner / sh (defaults):     x{medians['ShRunner'] / medians['sh (defaults)']:.3f}")
    print(f"ShRunner / subprocess:        x{medians['ShRunner'] / medians['subprocess']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
