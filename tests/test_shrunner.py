"""The live runner: environment, no tty, exit statuses, timeouts, missing tools."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

import netnswrap as nw
from netnswrap.shrunner import ShRunner


def test_import_does_not_import_sh():
    code = "import sys, netnswrap; netnswrap.DryRunRunner().run(['ip']); print('sh' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_runs_with_c_locale_no_tty_and_decoded_text(monkeypatch):
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    monkeypatch.setenv("NETNSWRAP_PROBE", "kept")
    result = ShRunner().run(["sh", "-c", 'echo "$LC_ALL $NETNSWRAP_PROBE"; [ -t 1 ] || echo notty; echo é >&2'])
    assert result == nw.Result(result.argv, 0, "C kept\nnotty\n", "é\n")


def test_exit_status_is_returned_not_raised():
    result = ShRunner().run(["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (result.returncode, result.stdout, result.stderr, result.ok) == (7, "out\n", "err\n", False)
    with pytest.raises(nw.CommandError) as caught:
        result.check()
    assert caught.value.returncode == 7


def test_signal_exit_is_negative():
    assert ShRunner().run(["sh", "-c", "kill -TERM $$"]).returncode == -15


def test_stdin_is_passed():
    assert ShRunner().run(["cat"], input="link show\n").stdout == "link show\n"


def test_timeout_kills_the_child_and_its_children():
    started = time.monotonic()
    with pytest.raises(nw.CommandTimeout) as caught:
        ShRunner().run(["sh", "-c", "sleep 300 & echo $!; wait"], timeout=1)
    assert time.monotonic() - started < 10  # generous bound: killed, not waited for 300 s
    grandchild = int(caught.value.stdout.split()[0])
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)
    assert caught.value.argv[0] == "sh" and caught.value.timeout == 1


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_missing_binary_names_tool_and_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(nw.ToolNotFound) as caught:
        ShRunner().run(["ethtool", "-S", "eth0"])
    assert caught.value.tool == "ethtool" and caught.value.package == "ethtool"
    assert "install the Debian package 'ethtool'" in str(caught.value)


def test_bad_timeout_is_refused():
    with pytest.raises(nw.InvalidArgument):
        ShRunner(timeout=-1)
