#!/usr/bin/env python3
"""Parser speed: `ip addr` text of N interfaces vs `json.loads` of the same `ip -j`.

    python benchmarks/bench_parsers.py             # 1,000 interfaces, plus a linearity table
    python benchmarks/bench_parsers.py --n 5000
    python benchmarks/bench_parsers.py --fuzz 120  # the fuzz test of tests/, for longer, and its slowest parse

The state is synthetic but built from a real recording
(fixtures/parsers/ip_addr--live-addr.out and its `ip -j` twin .ref.json):
its links are repeated with new ifindexes and names until there are N.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from netnswrap.parsers import ip_addr  # noqa: E402

FIXTURE = os.path.join(ROOT, "fixtures", "parsers", "ip_addr--live-addr")
RECORD = re.compile(r"^(?=\d+: )", re.M)


def build(n: int):
    """(text, json text) of `ip addr` / `ip -j addr` for n interfaces."""
    with open(FIXTURE + ".out") as fh:
        records = [r for r in RECORD.split(fh.read()) if r]
    with open(FIXTURE + ".ref.json") as fh:
        links = json.load(fh)
    text, objs = [], []
    for i in range(n):
        rec, link = records[i % len(records)], dict(links[i % len(links)])
        index, name = i + 1, f"if{i % len(records)}x{i}"
        text.append(re.sub(r"^\d+: [^:@]+", f"{index}: {name}", rec, count=1))
        link.update(ifindex=index, ifname=name)
        objs.append(link)
    return "".join(text), json.dumps(objs)


def best_of(fn, arg, repeat=5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="interfaces (default 1000)")
    ap.add_argument("--fuzz", type=float, metavar="SECONDS", help="run the fuzz test this long")
    args = ap.parse_args()
    if args.fuzz:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        from test_parsers_fuzz import run_fuzz
        tried, slowest, data = run_fuzz(seconds=args.fuzz, seed=int(time.time()))
        print(f"fuzz: {tried} mutated inputs, every parser raised only ParseError; "
              f"slowest parse {slowest * 1000:.2f} ms, on {len(data)} characters or bytes: {data[:80]!r}…")
        return 0
    text, js = build(args.n)
    parsed = ip_addr.parse(text)
    assert len(parsed) == args.n
    t_text, t_json = best_of(ip_addr.parse, text), best_of(json.loads, js)
    print(f"{args.n} interfaces, {len(text)} bytes of text, {len(js)} bytes of JSON")
    print(f"  ip_addr.parse(text): {t_text * 1000:8.2f} ms")
    print(f"  json.loads(ip -j):   {t_json * 1000:8.2f} ms   (text/json x{t_text / t_json:.1f})")
    print("linearity (time per interface should stay flat):")
    per_interface = []
    for n in (args.n // 4, args.n // 2, args.n, args.n * 2):
        t = best_of(ip_addr.parse, build(n)[0], repeat=3)
        per_interface.append(t / n)
        print(f"  n={n:6d}: {t * 1000:8.2f} ms  {t / n * 1e6:6.1f} us/interface")
    print(f"  per interface at n={args.n * 2} / at n={args.n // 4}: x{per_interface[-1] / per_interface[0]:.2f}"
          " (1 when linear; 8 when quadratic)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
