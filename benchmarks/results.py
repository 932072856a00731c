"""What the benchmarks share: their RESULTS.md sections, and a host of
their own (a mount and network namespace) to build on."""
from __future__ import annotations

import os
import re
import subprocess
import sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def write_section(title: str, section: str) -> None:
    """Replace the section of RESULTS.md that starts with ``title`` (others'
    sections stay as they are), or add it at the end."""
    text = open(RESULTS).read() if os.path.exists(RESULTS) else "# Benchmark results\n"
    pattern = re.compile(re.escape(title) + r".*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else \
        text.rstrip("\n") + "\n\n" + section
    with open(RESULTS, "w") as fh:
        fh.write(text.rstrip("\n") + "\n")


def own_host(flag: str, tag: str, scratch: str) -> None:
    """Run the rest of this script as root on a host of its own: re-executed
    under ``unshare -m -n`` (see :func:`isolate`), then with a tmpfs on
    /run/netns (its namespaces, and only they, are named there), a sysfs of
    the new network namespace, a tmpfs on ``scratch`` (/run/netnswrap, where
    batches write their scripts: /run is a tmpfs on a usual host, a disk in
    this container) and ``lo`` up. ``tag`` names the mounts."""
    if os.environ.get(flag) != "1":
        isolate(flag)
    os.makedirs("/run/netns", exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", f"{tag}-netns", "/run/netns"], check=True)
    subprocess.run(["mount", "-t", "sysfs", f"{tag}-sysfs", "/sys"], check=True)
    os.makedirs(scratch, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", f"{tag}-scratch", scratch], check=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def isolate(flag: str) -> None:
    """Re-execute this script as root in a mount and network namespace of its
    own (``unshare -m -n``), with the environment variable ``flag`` set to 1
    so that the second run knows; exits with its status."""
    if os.geteuid() != 0:
        sys.exit(f"{os.path.basename(sys.argv[0])} needs root (it builds namespaces)")
    env = dict(os.environ, **{flag: "1"})
    sys.exit(subprocess.run(["unshare", "-m", "-n", "--propagation", "private", sys.executable, *sys.argv],
                            env=env).returncode)
