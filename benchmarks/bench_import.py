#!/usr/bin/env python3
"""What ``import netnswrap`` costs, beside ``import jc``, in one run.

    python benchmarks/bench_import.py              # 41 rounds
    python benchmarks/bench_import.py --rounds 101
    python benchmarks/bench_import.py --tree DIR   # the package in DIR/netnswrap instead

Three contenders, each a fresh interpreter (``python -c ...``) started from
an empty directory: the interpreter alone (``pass``), ``import jc`` and
``import netnswrap``; one of each per round, the order rotating, wall-clock
medians. What counts is the cost *above the interpreter's start*:
``import X`` minus ``pass``, and the ratio netnswrap / jc of those (target:
at most 1). Beside it, ``python -X importtime``'s own figure for the
package (the cumulative microseconds of its top-level import, median of the
rounds), and the modules ``import netnswrap`` loads that a bare interpreter
and ``import jc`` do not.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTENDERS = {"interpreter": "pass", "jc": "import jc", "netnswrap": "import netnswrap"}
_TOP = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\S+)$")


# With --tree: every contender first drops the editable install's finder and
# puts DIR first on sys.path (so the interpreter alone pays that too).
PREAMBLE = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
            "sys.path.insert(0, {tree!r})\n")
preamble = ""


def wall(code: str, where: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", preamble + code], cwd=where, check=True)
    return time.perf_counter() - started


def importtime(module: str, where: str) -> int:
    """``-X importtime``'s cumulative µs of ``import module`` itself."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"{preamble}import {module}"], cwd=where,
                         capture_output=True, text=True, check=True).stderr
    return next(int(m.group(1)) for m in map(_TOP.match, err.splitlines()) if m and m.group(2) == module)


def modules(code: str, where: str) -> set:
    out = subprocess.run([sys.executable, "-c", f"{preamble}{code}\nimport sys\nprint(' '.join(sys.modules))"],
                         cwd=where, capture_output=True, text=True, check=True).stdout
    return set(out.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--tree", metavar="DIR", help="import netnswrap from DIR (default: as installed)")
    args = parser.parse_args()
    global preamble
    if args.tree:
        preamble = PREAMBLE.format(tree=os.path.abspath(args.tree))
    names = list(CONTENDERS)
    times = {name: [] for name in names}
    own = {"jc": [], "netnswrap": []}
    with tempfile.TemporaryDirectory() as where:
        for name in names:  # warm the page cache and the .pyc files
            wall(CONTENDERS[name], where)
        for n in range(args.rounds):
            for name in names[n % 3:] + names[:n % 3]:
                times[name].append(wall(CONTENDERS[name], where))
            for module in own:
                own[module].append(importtime(module, where))
        extra = sorted(modules("import netnswrap", where) - modules("import jc", where)
                       - {"netnswrap"} - {m for m in modules("import netnswrap", where) if m.startswith("netnswrap.")})
    median = {name: statistics.median(values) * 1000 for name, values in times.items()}
    above = {name: median[name] - median["interpreter"] for name in ("jc", "netnswrap")}
    tree = f", netnswrap from {args.tree}" if args.tree else ""
    print(f"{args.rounds} rounds, interleaved, medians (python {sys.version.split()[0]}{tree})\n")
    print("| contender | process | above the interpreter | -X importtime (cumulative) |")
    print("|---|---|---|---|")
    print(f"| `python -c pass` | {median['interpreter']:.1f} ms | — | — |")
    for name in ("jc", "netnswrap"):
        print(f"| `import {name}` | {median[name]:.1f} ms | {above[name]:.1f} ms "
              f"| {statistics.median(own[name]) / 1000:.1f} ms |")
    ratio = above["netnswrap"] / above["jc"] if above["jc"] > 0 else float("inf")
    own_ratio = statistics.median(own["netnswrap"]) / statistics.median(own["jc"])
    print(f"\nnetnswrap / jc above the interpreter: {ratio:.2f}× (wall clock), {own_ratio:.2f}× (-X importtime)")
    print(f"standard-library modules netnswrap loads that jc does not: {', '.join(extra) or 'none'}")


if __name__ == "__main__":
    main()
