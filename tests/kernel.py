"""The kernel's own answers for the live tests: iproute2 run directly with
subprocess, never through netnswrap, plus processes parked in namespaces."""
from __future__ import annotations

import contextlib
import json
import subprocess
from typing import Iterator, Optional, Sequence


def ip_json(netns: Optional[str], *args: str) -> list:
    """``ip [-n NETNS] -j ARGS…``, parsed (fails the test if ip fails)."""
    argv = ["ip"] + (["-n", netns] if netns else []) + ["-j", *args]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return json.loads(out or "[]")


def link(netns: Optional[str], dev: str) -> dict:
    """``ip [-n NETNS] -d -j link show dev DEV``: the one link dict."""
    return ip_json(netns, "-d", "link", "show", "dev", dev)[0]


def has_link(netns: Optional[str], dev: str) -> bool:
    argv = ["ip"] + (["-n", netns] if netns else []) + ["link", "show", "dev", dev]
    return subprocess.run(argv, capture_output=True).returncode == 0


def namespaces() -> set:
    """Names ``ip netns list`` shows."""
    return {entry["name"] for entry in ip_json(None, "netns", "list")}


def ipv4(netns: str, dev: str) -> list:
    """The IPv4 addresses of DEV as 'ADDRESS/PREFIXLEN' strings."""
    info = ip_json(netns, "addr", "show", "dev", dev)[0]["addr_info"]
    return [f"{a['local']}/{a['prefixlen']}" for a in info if a["family"] == "inet"]


@contextlib.contextmanager
def parked(prefix: Sequence[str]) -> Iterator[subprocess.Popen]:
    """A ``sleep`` started under ``prefix`` (e.g. ``ip netns exec NS`` or
    ``unshare --net``), yielded once it runs there; killed by its PID after."""
    process = subprocess.Popen([*prefix, "sh", "-c", "echo ready; exec sleep 600"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "ready\n"
        yield process
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def eventually(condition, timeout: float = 10.0) -> bool:
    """Wait for the kernel to get there (not a timing assertion): True once
    ``condition()`` holds, False if it still does not after ``timeout`` s."""
    import time
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(condition())
