"""A process that uses the live runner and then forks (os.fork, multiprocessing's
'fork'): the child runs commands, with their timeouts enforced, whatever the
parent's other threads were doing at the fork, and it neither waits forever
for nor kills the programs its parent spawned.

Each child runs under a bound: a child that hangs is killed and the test
fails saying so, instead of hanging the suite.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import subprocess
import sys
import threading

import pytest

import netnswrap as nw
from netnswrap import shrunner
from netnswrap.shrunner import ShRunner

from proc_state import alive
from test_process import nothing_left  # noqa: F401 - autouse: nothing a test started is left

BOUND = 30.0  # seconds a child may take before it counts as hung

# Forking a process with threads is the case under test (Python 3.12+ warns of it).
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded, use of fork:DeprecationWarning")

fork = multiprocessing.get_context("fork")


def in_forked_child(work):
    """Run ``work()`` in a child forked from this process (multiprocessing's
    'fork') and return what it returned, or the text of what it raised; fail
    the test if it has not ended within BOUND seconds."""
    receiving, sending = fork.Pipe(duplex=False)

    def target():
        try:
            outcome = ("returned", work())
        except BaseException as exc:  # noqa: BLE001 - reported to the parent as it is
            outcome = ("raised", f"{type(exc).__name__}: {exc}")
        sending.send(outcome)

    child = fork.Process(target=target, daemon=True)
    child.start()
    sending.close()
    try:
        if not receiving.poll(BOUND):
            pytest.fail(f"the forked child has not answered in {BOUND} s: it hangs")
        outcome = receiving.recv()
    finally:
        child.join(BOUND)
        if child.is_alive():
            child.kill()
            child.join()
        receiving.close()
    return outcome


def test_a_child_forked_while_another_thread_spawns_runs_commands_and_collects():
    """Another thread is starting a command at the fork: it holds the spawn
    lock, and sh has turned the garbage collector off until its own fork
    returns. In the child the lock is free and the collector on."""
    holding, release = threading.Event(), threading.Event()

    def spawning():
        with shrunner._spawning():
            gc.disable()  # as sh does around its fork
            holding.set()
            release.wait(BOUND)
            gc.enable()

    thread = threading.Thread(target=spawning)
    thread.start()
    try:
        assert holding.wait(BOUND)
        outcome = in_forked_child(lambda: (ShRunner().run(["echo", "child"]).stdout, gc.isenabled()))
    finally:
        release.set()
        thread.join(BOUND)
    assert outcome == ("returned", ("child\n", True))
    assert gc.isenabled()


def test_a_child_forked_while_another_thread_imports_sh_runs_commands():
    """The first command imports sh, which takes a while: a fork meanwhile
    waits for the import instead of leaving the child a half-made module."""
    code = (
        "import multiprocessing, threading, netnswrap.shrunner as s\n"
        "runner = s.ShRunner()\n"
        "thread = threading.Thread(target=runner.run, args=(['true'],)); thread.start()\n"
        "child = multiprocessing.get_context('fork').Process(target=runner.run, args=(['true'],), daemon=True)\n"
        "child.start(); child.join(%r); thread.join(%r)\n"
        "print(child.exitcode)\n" % (BOUND, BOUND))
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3 * BOUND)
    assert (finished.stdout, finished.stderr) == ("0\n", "")


def test_children_forked_while_threads_run_commands_run_commands():
    runner = ShRunner()
    stop = threading.Event()
    errors = []

    def busy():
        try:
            while not stop.is_set():
                runner.run(["true"])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=busy) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        outcomes = [in_forked_child(lambda n=n: runner.run(["echo", str(n)]).stdout) for n in range(8)]
    finally:
        stop.set()
        for thread in threads:
            thread.join(BOUND)
    assert outcomes == [("returned", f"{n}\n") for n in range(8)]
    assert errors == []


def test_timeouts_are_enforced_in_a_forked_child():
    """The parent's watchdog thread, started by a command with a timeout, does
    not exist in the child: the child's first timeout starts its own."""
    runner = ShRunner()
    assert runner.run(["true"], timeout=5).ok

    def timed_out():
        try:
            runner.run(["sleep", "4"], timeout=1)
        except nw.CommandTimeout as exc:
            return ("timeout", exc.timeout, exc.argv)
        return ("no timeout",)

    assert in_forked_child(timed_out) == ("returned", ("timeout", 1, ("sleep", "4")))
    with pytest.raises(nw.CommandTimeout):  # the parent's watchdog goes on
        runner.run(["sleep", "4"], timeout=1)


def test_a_forked_child_runs_and_ends_its_own_programs():
    runner = ShRunner()

    def spawn_and_wait():
        with runner.spawn(["sh", "-c", "echo own"]) as process:
            return process.wait(BOUND).stdout

    assert in_forked_child(spawn_and_wait) == ("returned", "own\n")


def test_a_program_the_parent_spawned_is_the_parents_in_a_forked_child():
    """In the child, the parent's running program is refused at once (not
    waited for forever: the child has no thread following it, and it is not
    the child's to reap), left alone by ``with``, and still the parent's."""
    runner = ShRunner()
    with runner.spawn(["sleep", "300"]) as process:

        def use_it():
            refusals = []
            for call in (process.wait, process.kill, lambda: next(process.lines()),
                         lambda: process.send_signal(signal.SIGTERM)):
                try:
                    call()
                except nw.NetnsWrapError as exc:
                    refusals.append(str(exc))
            with process:
                pass
            return refusals

        kind, refusals = in_forked_child(use_it)
        assert kind == "returned" and len(refusals) == 4
        assert f"was started by process {os.getpid()}" in refusals[0]
        assert process.running and alive(process.pid)
    assert process.returncode == -signal.SIGKILL
