"""examples/client_server.py runs live: the client in one namespace gets the
file the server in another serves, and afterwards neither namespace nor any
process the example started is left."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import kernel
from netnswrap.pytest_plugin import cannot_create_namespaces, unique_netns_name
from proc_state import alive

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "client_server.py"


def processes_naming(text: str) -> list:
    """PIDs whose command line contains ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                if entry.isdigit() and text.encode() in file.read():
                    found.append(int(entry))
        except OSError:
            pass
    return found


@pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "")
def test_client_server_example_runs_and_leaves_nothing():
    prefix = unique_netns_name("nwfx")
    try:
        done = subprocess.run([sys.executable, str(EXAMPLE), prefix], capture_output=True, text=True,
                              timeout=120, env=dict(os.environ, PYTHONPATH=str(EXAMPLE.parents[1])))
        assert done.returncode == 0, done.stderr
        assert f"  client: exit 0, 'hello from {prefix}-srv\\n'" in done.stdout
        assert re.search(r'^    10\.77\.0\.2 - - \[.*\] "GET /hello\.txt HTTP/1\.1" 200 -$', done.stdout, re.M)
        assert "sleep 300: ended with -9;" in done.stdout
        started = [int(pid) for pid in re.findall(r"PID (\d+)", done.stdout)]
        assert len(started) == 2
        assert [pid for pid in started if alive(pid)] == []
        assert processes_naming(prefix) == []  # the server's argv holds its directory, named by the prefix
        assert not [name for name in kernel.namespaces() if name.startswith(prefix)]
    finally:
        for name in kernel.namespaces():
            if name.startswith(prefix):
                subprocess.run(["ip", "netns", "del", name], capture_output=True)
