"""The live runner: environment, no tty, exit statuses, timeouts, missing tools,
commands too long to execute and programs that cannot be executed."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import warnings

import pytest

import netnswrap as nw
from netnswrap import shrunner
from netnswrap.shrunner import ShRunner

from proc_state import alive, children


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
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)
    assert caught.value.argv[0] == "sh" and caught.value.timeout == 1


def test_missing_binary_names_tool_and_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(nw.ToolNotFound) as caught:
        ShRunner().run(["ethtool", "-S", "eth0"])
    assert caught.value.tool == "ethtool" and caught.value.package == "ethtool"
    assert "install the Debian package 'ethtool'" in str(caught.value)


def test_bad_timeout_is_refused():
    with pytest.raises(nw.InvalidArgument):
        ShRunner(timeout=-1)


# --- argv too long to execute, programs that cannot be executed -----------------

@pytest.fixture
def no_fork(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("forked")
    monkeypatch.setattr(os, "fork", refuse)


def test_an_argument_over_the_kernels_limit_is_refused_before_forking(no_fork):
    with pytest.raises(nw.InvalidArgument) as caught:
        ShRunner().run(["echo", "x" * 200000])
    assert "argument 1 of echo is 200000 bytes" in str(caught.value)
    assert f"at most {shrunner.MAX_ARG_STRLEN - 1} bytes in one argument (MAX_ARG_STRLEN)" in str(caught.value)
    with pytest.raises(nw.InvalidArgument, match="MAX_ARG_STRLEN"):
        nw.Netns(runner=ShRunner()).exec(["echo", "é" * 70000])  # 140,000 bytes in UTF-8


def test_a_command_line_over_arg_max_is_refused_before_forking(no_fork):
    argv = ["echo"] + ["x" * 100000] * (os.sysconf("SC_ARG_MAX") // 100000 + 1)
    with pytest.raises(nw.InvalidArgument, match=r"the kernel takes at most \d+ \(ARG_MAX"):
        ShRunner().run(argv)


def test_a_long_command_within_the_limits_runs():
    result = ShRunner().run(["sh", "-c", 'printf %s "$1" | wc -c', "sh", "x" * 100000])
    assert result.stdout.strip() == "100000"


def test_exec_failures_are_typed_and_leave_no_zombie(tmp_path, monkeypatch):
    """Fifty failures in one long-running process: no zombie accumulates."""
    not_a_program = tmp_path / "garbage"
    not_a_program.write_bytes(b"\x7fELF not really")
    not_a_program.chmod(0o755)
    for _ in range(25):
        with pytest.raises(nw.CommandError, match="cannot be executed: .*Exec format error") as caught:
            ShRunner().run([str(not_a_program)])
        assert caught.value.argv == (str(not_a_program),)
    # E2BIG as execve itself reports it, where the check before the fork cannot see it coming
    monkeypatch.setattr(shrunner, "check_exec_size", lambda argv: None)
    for _ in range(25):
        with pytest.raises(nw.InvalidArgument, match=r"Argument list too long.*ARG_MAX"):
            ShRunner().run(["echo", "x" * 200000])
    assert children(zombies=True) == []


# --- Python 3.12+: sh's fork() warning in a threaded process -------------------

FORK_TEXT = "This process (pid=4242) is multi-threaded, use of fork() may lead to deadlocks in the child."


def test_only_shs_fork_warning_is_silenced_and_every_other_warning_shows():
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        shrunner.quiet_fork_warning()
        for module, text in (("sh", FORK_TEXT), ("mine", FORK_TEXT), ("sh", "another deprecation")):
            warnings.warn_explicit(text, DeprecationWarning, "x.py", 1, module=module)
        warnings.warn_explicit(FORK_TEXT, UserWarning, "x.py", 1, module="sh")
    assert [(str(w.message), w.category) for w in caught] == [
        (FORK_TEXT, DeprecationWarning), ("another deprecation", DeprecationWarning), (FORK_TEXT, UserWarning)]


def test_commands_from_a_threaded_process_emit_no_warning():
    """On 3.12+ every fork from a process with threads warns; not netnswrap's."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.resetwarnings()
            warnings.simplefilter("always")
            assert ShRunner().run(["echo", "hi"]).stdout == "hi\n"
            warnings.warn("still shown", DeprecationWarning)
    finally:
        stop.set()
        other.join()
    assert [str(w.message) for w in caught] == ["still shown"]


# --- what each command costs: one watchdog, PATH looked up once ---------------

def test_one_watchdog_thread_serves_every_time_limit():
    runner = ShRunner(timeout=30)
    for _ in range(20):
        assert runner.run(["true"]).ok
    assert [thread.name for thread in threading.enumerate()].count("netnswrap watchdog") == 1
    started = time.monotonic()
    with pytest.raises(nw.CommandTimeout):  # a short limit behind twenty long cancelled ones
        runner.run(["sleep", "30"], timeout=0.5)
    assert time.monotonic() - started < 20


def test_a_program_removed_after_its_first_run_is_tool_not_found(tmp_path, monkeypatch):
    program = tmp_path / "nwedprog"
    program.write_text("#!/bin/sh\necho ok\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    assert ShRunner().run(["nwedprog"]).stdout == "ok\n"
    program.unlink()
    with pytest.raises(nw.ToolNotFound, match="nwedprog: command not found"):
        ShRunner().run(["nwedprog"])
    assert children(zombies=True) == []
