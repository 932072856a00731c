"""Batches offline: the exact scripts they write, the one process they run,
and failures (with the error catalog's real stderr) traced to the failing
command by the progress markers, with an undo of exactly what ran."""
from __future__ import annotations

import json
import shlex

import pytest

import netnswrap as nw
from netnswrap.batch_script import MARKER
from netnswrap.batch_undo import cleanup
from netnswrap.batching import Batch
from netnswrap.runners import Result, Runner

from catalog import load_cases

CATALOG = {case["id"]: case for case in load_cases()}
MARK = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\\    link/loopback\n"


class Fake(Runner):
    """A runner with files in a dict. The batch's own process answers with
    the next ``(returncode, stderr, lines that ran)`` (default: success, all
    ran) and writes that many progress markers to ``out``; every command is
    kept with a copy of the files as they were when it ran."""

    def __init__(self, *answers, owner_alive=True, undo_stderr=""):
        super().__init__()
        self.answers = list(answers)
        self.undo_stderr = undo_stderr
        self.calls = []
        self.files = {}
        self.dirs = 0
        self.owner_alive = owner_alive

    def scratch_dir(self):
        self.dirs += 1
        return f"/run/netnswrap/batch.t{self.dirs}"

    def write_file(self, path, text):
        assert path not in self.files, f"{path} written twice"
        self.files[path] = text

    def reserve_file(self, path, size):
        assert path not in self.files and size > 0
        self.files[path] = ""

    def read_file(self, path):
        if path.startswith("/proc/"):
            return "1 (python)" if self.owner_alive else ""
        return self.files.get(path, "")

    def remove_dir(self, path):
        self.files = {p: t for p, t in self.files.items() if not p.startswith(path + "/")}

    def run(self, argv, *, input=None, timeout=None):
        argv = tuple(argv)
        self.calls.append((argv, dict(self.files)))
        if "netnswrap-batch" in argv:
            main, out = argv[-2:]
            total = count_ops(self.files, main)
            returncode, stderr, done = self.answers.pop(0) if self.answers else (0, "", total)
            self.files[out] = MARK * done
            return Result(argv, returncode, "", stderr)
        if is_undo(argv):
            return Result(argv, 1 if self.undo_stderr else 0, "", self.undo_stderr)
        return Result(argv, 0, "", "")

    def argvs(self):
        return [argv for argv, _ in self.calls]


def count_ops(files, main):
    """The change lines of a batch: those of every file its script runs."""
    return sum(len(lines(files[line.split()[-1]])) for line in files[main].splitlines())


def is_undo(argv):
    """Whether ``argv`` runs an undo script (``sh DIR/undoN``, maybe through nsenter)."""
    return len(argv) >= 2 and argv[-2] == "sh" and "/undo" in argv[-1]


def runs_of(script, files):
    """A batch's (or an undo's) script as it runs: each line of the caller's
    namespace as ``(line, None)``, each namespace's file as ``(NS, [lines])``
    (``ip -n NS``), progress markers left out."""
    found = []
    for line in script.splitlines():
        words = shlex.split(line)
        if words[1] == "-n":
            found.append((words[2], lines(files[words[-1]])))
        else:
            found += [(each, None) for each in lines(files[words[-1]])]
    return found


def lines(text):
    """A script without its progress markers (``lo``'s, or a link just made)."""
    return [line for line in text.splitlines() if not line.startswith("link show dev ")]


def undo_of(runner, run=None):
    """The undo that ran (all its processes, or the ``run``-th), as :func:`runs_of` gives it."""
    runs = [(argv, files) for argv, files in runner.calls if is_undo(argv)]
    if run is not None:
        runs = runs[run:run + 1]
    if not runs:
        return None
    return [step for argv, files in runs for step in runs_of(files[argv[-1]], files)]


def star(b, hosts=2):
    """The benchmark's star: a bridge, and per host a namespace, a veth to the
    bridge, an address, eth0 and lo up — written host by host."""
    b.bridge_add("br0")
    b.link_set_up("br0")
    for i in range(1, hosts + 1):
        host = b.netns_add(f"h{i}")
        b.veth_add(f"v{i}", "eth0", peer_netns=host)
        host.link_set_up("lo")
        b.link_set(f"v{i}", master="br0", up=True)
        host.addr_add("eth0", f"10.0.0.{i}/24")
        host.link_set_up("eth0")


def script_of(build, handle=None):
    b = (handle or nw.Netns(runner=Fake())).batch()
    build(b)
    return b.script("/d")


def test_star_runs_as_one_process_with_root_lines_first_then_one_ip_per_namespace():
    runner = Fake()
    with nw.Netns(runner=runner).batch() as b:
        star(b)
        assert runner.calls == []  # nothing runs inside the block
    text, files = script_of(star)
    assert text == "ip -o -batch /d/main.0\nip -n h1 -o -batch /d/main.1\nip -n h2 -o -batch /d/main.2\n"
    assert lines(files["/d/main.0"]) == [
        "link add br0 type bridge", "link set dev br0 up",
        "netns add h1", "link add v1 type veth peer name eth0 netns h1", "link set dev v1 up master br0",
        "netns add h2", "link add v2 type veth peer name eth0 netns h2", "link set dev v2 up master br0"]
    # every change line is followed by a marker: the link it made, or lo
    assert files["/d/main.0"].splitlines()[1:4] == ["link show dev br0", "link set dev br0 up", MARKER]
    assert lines(files["/d/main.1"]) == ["link set dev lo up", "addr add 10.0.0.1/24 dev eth0",
                                         "link set dev eth0 up"]
    assert files["/d/main.2"] == files["/d/main.1"].replace("10.0.0.1", "10.0.0.2")
    (argv, seen), = runner.calls  # one process; its files existed while it ran, and are gone
    assert argv == ("sh", "-c", 'exec flock "$2" sh -e "$1" 1<>"$2"', "netnswrap-batch",
                    "/run/netnswrap/batch.t1/main", "/run/netnswrap/batch.t1/out")
    assert set(seen) == {"/run/netnswrap/batch.t1/" + name
                         for name in ("main", "main.0", "main.1", "main.2", "journal.json", "out")}
    assert runner.files == {}


def test_script_is_the_same_in_every_run_so_recordings_replay():
    assert script_of(star) == script_of(star)


def test_each_run_has_a_directory_of_its_own():
    runner = Fake()
    for _ in range(2):
        with nw.Netns(runner=runner).batch() as b:
            b.bridge_add("br0")
    assert [argv[-1] for argv in runner.argvs()] == ["/run/netnswrap/batch.t1/out", "/run/netnswrap/batch.t2/out"]


def test_dry_run_prints_the_commands_and_writes_nothing(capsys, tmp_path, monkeypatch):
    runner = nw.DryRunRunner(print_commands=True)
    with nw.use_runner(runner):
        with nw.batch() as b:
            b.netns_add("h1").link_set_up("lo")
    assert [argv[0] for argv in runner.commands] == ["mktemp", "tee", "tee", "tee", "tee", "fallocate", "sh", "rm"]
    out = capsys.readouterr().out
    assert "tee /run/netnswrap/batch.DRYRUN/main.1 <<'EOF'\nlink set dev lo up\nlink show dev lo\nEOF" in out
    assert "ip -n h1 -o -batch /run/netnswrap/batch.DRYRUN/main.1\n" in out


def test_recorded_batch_replays(tmp_path):
    path = tmp_path / "batch.json"
    recorder = nw.RecordingRunner(path, inner=Fake())
    with nw.Netns(runner=recorder).batch() as b:
        star(b)
    recorder.save()
    replay = nw.ReplayRunner(path)
    with nw.Netns(runner=replay).batch() as b:
        star(b)
    assert replay.remaining == []
    with pytest.raises(nw.ReplayMismatch):  # a different batch is not answered by the recording
        with nw.Netns(runner=nw.ReplayRunner(path)).batch() as b:
            star(b, hosts=3)


def test_a_recording_naming_the_callers_namespace_replays_in_another_process(tmp_path):
    path = tmp_path / "caller.json"
    recorder = nw.RecordingRunner(path, inner=nw.DryRunRunner())
    nw.Netns("blue", runner=recorder).veth_add("a", "b", peer_netns=nw.Netns())
    recorder.save()
    assert json.loads(path.read_text())["meta"]["caller_pid"] > 0
    import subprocess
    import sys
    code = ("import netnswrap as nw, sys; r = nw.ReplayRunner(sys.argv[1]); "
            "nw.Netns('blue', runner=r).veth_add('a', 'b', peer_netns=nw.Netns()); assert not r.remaining")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


def test_named_handle_batch_runs_from_the_callers_namespace():
    # `ip -n blue -batch` would have a mount namespace of its own, where
    # `netns add` mounts the new namespace and loses it when ip exits
    runner = Fake()
    b = nw.Netns("blue", runner=runner).batch()
    b.link_set_up("lo")
    b.netns("blue").addr_add("lo", "10.0.0.1/8")
    red = b.netns_add("red")
    b.veth_add("va", "vb", peer_netns=red)
    red.link_set_up("lo")
    text, files = b.script("/d")
    assert [(first, rest and len(rest)) for first, rest in runs_of(text, files)] == [
        ("netns add red", None), ("blue", 3), ("red", 1)]
    assert "link add va type veth peer name vb netns red" in lines(files["/d/main.1"])
    b.run()
    assert runner.argvs()[0][0] == "sh"


def test_process_handle_batch_runs_there():
    runner = Fake()
    with nw.Netns.from_pid(1503, runner=runner).batch() as b:
        b.netns_add("red")
        b.veth_add("va", "vb", peer_netns="red")
    argv, files = runner.calls[0]
    assert argv[:5] == ("nsenter", "-t", "1503", "-n", "sh")
    assert runs_of(files[argv[-2]], files) == [("netns add red", None),
                                               ("link add va type veth peer name vb netns red", None)]


def test_order_is_kept_where_it_matters():
    def build(b):
        b.netns("h1").link_set_up("lo")       # before h1 exists: stays first
        b.netns_add("h1")
        b.netns("h1").link_set("eth9", netns="h2")
        b.netns("h2").link_set_up("eth9")     # after the move into h2
        b.netns_del("h1")                     # after h1's own lines (h2's need not wait)
    text, files = script_of(build)
    order = [first for first, _ in runs_of(text, files)]  # a line here, or a namespace's name
    assert order == ["h1", "netns add h1", "h1", "netns del h1", "h2"]


def test_a_pid_target_orders_against_everything():
    def build(b):
        b.netns("h1").link_set("eth0", netns=4242)
        b.link_set_up("eth0")
    text, files = script_of(build)
    assert runs_of(text, files)[-1] == ("link set dev eth0 up", None)


def test_bad_values_raise_when_called_and_nothing_runs():
    runner = Fake()
    with pytest.raises(nw.InvalidAddress):
        with nw.Netns(runner=runner).batch() as b:
            b.bridge_add("br0")
            b.addr_add("eth0", "10.0.0.300/24")
    with pytest.raises(nw.InvalidName):
        nw.Netns(runner=runner).batch().netns("a/b")
    for build in (lambda b: b.netns("a#b"), lambda b: b.netns_add('"quoted'),
                  lambda b: b.link_del("back\\")):
        with pytest.raises(nw.InvalidArgument, match="ip -batch line"):
            build(nw.Netns(runner=runner).batch())
    with pytest.raises(nw.InvalidArgument):
        nw.Netns(runner=runner).batch().netns(nw.Netns.from_pid(1))
    with pytest.raises(nw.InvalidName, match="%"):
        nw.Netns(runner=runner).batch().veth_add("a%d", "b")
    assert runner.calls == []


def test_an_exception_inside_the_block_runs_nothing():
    runner = Fake()
    with pytest.raises(KeyError):
        with nw.Netns(runner=runner).batch() as b:
            star(b)
            raise KeyError("stop")
    assert runner.calls == []


def test_failing_line_raises_its_commands_error_and_undoes_what_ran():
    stderr = CATALOG["batch-stdin"]["stderr"]  # Device "ecmissing" does not exist. / Command failed -:2
    runner = Fake((1, stderr, 1))
    with pytest.raises(nw.LinkNotFound) as raised:
        with nw.Netns(runner=runner).batch() as b:
            b.bridge_add("br0")
            b.link_set("ecmissing", master="br0")
            b.bridge_add("br1")
    error = raised.value
    assert error.argv == ("ip", "link", "set", "dev", "ecmissing", "master", "br0")
    assert error.batch_line == 3 and error.stderr == stderr and error.returncode == 1
    assert undo_of(runner) == [("link del br0", None)]  # br1 never ran: not touched
    assert runner.files == {}


def test_failure_inside_a_namespace_names_the_line_there():
    inner = CATALOG["batch-kernel-fail"]["stderr"]  # Error: ipv4: Address already assigned. / …:2
    runner = Fake((1, inner + "Command failed /run/netnswrap/batch.t1/main:5\n", 2))
    with pytest.raises(nw.AddressExists) as raised:
        with nw.Netns(runner=runner).batch() as b:
            h1 = b.netns_add("ecns1")
            h1.addr_add("lo", "10.124.0.1/16")
            h1.addr_add("lo", "10.124.0.1/16")
    assert raised.value.argv == ("ip", "-n", "ecns1", "addr", "add", "10.124.0.1/16", "dev", "lo")
    assert raised.value.batch_line == 3
    assert undo_of(runner) == [("netns del ecns1", None)]  # its address goes with it


@pytest.mark.parametrize("done", [0, 1, 2])
def test_a_line_ip_refuses_while_parsing_is_found_by_the_markers_not_a_quoted_word(done):
    # ip prints no "Command failed" for a word it refuses while parsing; here
    # the same word appears on several lines, and the markers tell which ran.
    stderr = CATALOG["link-set-netns-missing"]["stderr"]  # argument "ecmissing" is wrong: Invalid "netns" value
    runner = Fake((255, stderr, done))
    with pytest.raises(nw.NamespaceNotFound) as raised:
        with nw.Netns(runner=runner).batch() as b:
            b.veth_add("ecva", "ecvb", peer_netns="ecmissing")
            b.netns_del("ecmissing")
            b.link_set("ecvc", netns="ecmissing")
    failed = [("ip", "link", "add", "ecva", "type", "veth", "peer", "name", "ecvb", "netns", "ecmissing"),
              ("ip", "netns", "del", "ecmissing"), ("ip", "link", "set", "ecvc", "netns", "ecmissing")]
    assert raised.value.argv == failed[done]
    assert undo_of(runner) == ([("link del ecva", None)] if done else None)


def test_namespace_that_cannot_be_entered_fails_its_first_command():
    stderr = ('Cannot open network namespace "ecmissing": No such file or directory\n'
              "Command failed /run/netnswrap/batch.t1/main:2\n")
    runner = Fake((1, stderr, 1))
    with pytest.raises(nw.NamespaceNotFound) as raised:
        with nw.Netns(runner=runner).batch() as b:
            b.bridge_add("br0")
            b.netns("ecmissing").link_set_up("lo")
            b.netns("ecmissing").link_set_up("eth0")
    assert raised.value.argv == ("ip", "-n", "ecmissing", "link", "set", "dev", "lo", "up")
    assert undo_of(runner) == [("link del br0", None)]


def test_forked_exec_that_fails_without_message_gives_command_error():
    stderr = CATALOG["batch-netns-exec"]["stderr"]
    runner = Fake((1, stderr, 0))
    with pytest.raises(nw.CommandError) as raised:
        with nw.Netns(runner=runner).batch() as b:
            b.netns("ecns1").link_set_up("lo")
    assert type(raised.value) is nw.CommandError and raised.value.batch_line == 1


def test_undo_moves_a_link_that_existed_back_before_deleting_the_namespace_it_was_moved_into():
    runner = Fake((2, "Error: ipv4: Address already assigned.\n", 3))
    with pytest.raises(nw.AddressExists):
        with nw.Netns(runner=runner).batch() as b:
            new = b.netns_add("ecnew")
            b.link_set("host0", netns=new)             # host0 existed before the batch
            new.link_set("host0", name="eth7")         # and is renamed in there
            new.addr_add("eth7", "10.124.0.1/16")      # fails
    assert undo_of(runner) == [
        ("ecnew", ["link set dev eth7 name host0", f"link set host0 netns {runner.caller_pid()}"]),
        ("netns del ecnew", None)]


def test_undo_follows_renames_and_moves_and_skips_what_goes_with_a_namespace():
    runner = Fake((2, "RTNETLINK answers: File exists\n", 8))
    with pytest.raises(nw.LinkExists):
        with nw.Netns(runner=runner).batch() as b:
            b.netns_add("ecns1")
            b.veth_add("a", "b")
            b.link_set("b", netns="ecns1")       # b now inside a created namespace
            b.link_set("a", name="c")            # a renamed
            b.addr_add("c", "10.124.0.1/16")
            b.veth_add("x", "y", peer_netns="ecns1")
            b.link_set("x", netns="ecns2")       # x moved to a namespace that existed
            b.addr_add("eth0", "10.124.0.2/16")  # on a link that existed: removed
            b.bridge_add("br0")                  # fails
    pid = runner.caller_pid()
    assert undo_of(runner) == [
        ("addr del 10.124.0.2/16 dev eth0", None),
        ("ecns2", [f"link set x netns {pid}"]),
        ("link del x", None), ("addr del 10.124.0.1/16 dev c", None), ("link set dev c name a", None),
        ("ecns1", [f"link set dev b netns {pid}"]),
        ("link del dev a", None), ("netns del ecns1", None)]


def test_a_link_moved_into_a_process_namespace_is_moved_back_by_an_ip_of_its_own_there():
    runner = Fake((2, "RTNETLINK answers: File exists\n", 2))
    with pytest.raises(nw.LinkExists):
        with nw.Netns(runner=runner).batch() as b:
            b.bridge_add("br0")
            b.link_set("h0", netns=4242)       # into a process's namespace, then back from there
            b.bridge_add("br1")                # fails
    runs = [argv for argv in runner.argvs() if is_undo(argv)]
    assert runs == [("nsenter", "-t", "4242", "-n", "sh", "/run/netnswrap/batch.t1/undo0"),
                    ("sh", "/run/netnswrap/batch.t1/undo1")]
    assert undo_of(runner, 0) == [(f"link set h0 netns {runner.caller_pid()}", None)]
    assert undo_of(runner, 1) == [("link del br0", None)]


def test_a_process_handles_batch_moves_back_what_it_sent_to_the_callers_namespace():
    runner = Fake((2, "RTNETLINK answers: File exists\n", 1))
    with pytest.raises(nw.LinkExists):
        with nw.Netns.from_pid(4242, runner=runner).batch() as b:
            b.link_set("p0", netns=nw.Netns())
            b.bridge_add("br1")
    (undo,) = [argv for argv in runner.argvs() if is_undo(argv)]
    assert undo[0] == "sh"  # run in the caller's namespace, not through nsenter
    assert undo_of(runner) == [("link set p0 netns 4242", None)]


def test_an_undo_that_fails_says_so_and_keeps_its_record():
    runner = Fake((2, "RTNETLINK answers: File exists\n", 1),
                  undo_stderr="RTNETLINK answers: Operation not permitted\nCommand failed /x:1\n")
    with pytest.warns(RuntimeWarning, match="undo .* was incomplete"):
        with pytest.raises(nw.LinkExists) as raised:
            with nw.Netns(runner=runner).batch() as b:
                b.bridge_add("br0")
                b.bridge_add("br1")
    assert raised.value.undo_failed == ["RTNETLINK answers: Operation not permitted"]
    assert "undo was incomplete" in str(raised.value)
    assert "/run/netnswrap/batch.t1/journal.json" in runner.files  # the record stays


def test_an_undo_step_whose_object_is_already_gone_is_no_failure():
    runner = Fake((2, "RTNETLINK answers: File exists\n", 3),
                  undo_stderr='Cannot find device "va"\nCommand failed /x:2\n')
    with pytest.raises(nw.LinkExists) as raised:
        with nw.Netns(runner=runner).batch() as b:
            new = b.netns_add("ecgone")
            b.veth_add("va", "vb", peer_netns=new)
            b.netns_del("ecgone")              # takes va with it
            b.bridge_add("br1")
    assert raised.value.undo_failed == () and runner.files == {}


def test_deleted_things_are_not_undone_and_removed_addresses_come_back():
    runner = Fake((2, "RTNETLINK answers: File exists\n", 5))
    with pytest.raises(nw.LinkExists):
        with nw.Netns(runner=runner).batch() as b:
            b.netns_add("ecns1")
            b.bridge_add("br0")
            b.addr_del("eth0", "10.124.0.2/16")
            b.link_del("br0")
            b.netns_del("ecns1")
            b.bridge_add("br1")
    assert undo_of(runner) == [("addr add 10.124.0.2/16 dev eth0", None), ("link del br0", None),
                               ("netns del ecns1", None)]


def test_ctrl_c_while_the_batch_runs_undoes_what_ran_and_goes_on():
    class Interrupted(Fake):
        def run(self, argv, *, input=None, timeout=None):
            if "netnswrap-batch" in argv:
                self.files[argv[-1]] = MARK * 2
                self.calls.append((tuple(argv), dict(self.files)))
                raise KeyboardInterrupt
            return super().run(argv, input=input, timeout=timeout)

    runner = Interrupted()
    with pytest.raises(KeyboardInterrupt):
        with nw.Netns(runner=runner).batch() as b:
            star(b)
    assert undo_of(runner) == [("link del br0", None)]
    assert runner.files == {}


def test_a_short_write_is_an_error_before_ip_runs():
    class Full(Fake):
        def write_file(self, path, text):
            if path.endswith("/main"):
                raise nw.NetnsWrapError(f"cannot write {path}: No space left on device")
            super().write_file(path, text)

    runner = Full()
    with pytest.raises(nw.NetnsWrapError, match="No space left"):
        with nw.Netns(runner=runner).batch() as b:
            star(b)
    assert runner.calls == [] and runner.files == {}


def test_cleanup_undoes_what_a_dead_batch_ran_and_leaves_running_ones_alone():
    runner = Fake(owner_alive=False)
    b = nw.Netns(runner=runner).batch()
    b.netns_add("ecns1")
    b.bridge_add("br0")
    b.bridge_add("br1")
    from netnswrap.batch_script import Plan, schedule
    from netnswrap.batch_undo import journal
    plan = Plan(b.base, schedule(b.ops, b.base), "/run/netnswrap/batch.dead")
    runner.files = {**plan.files, plan.journal: journal(plan, 999999), plan.out: MARK * 2}
    answers = {"-maxdepth": "/run/netnswrap\n", "-mindepth": "/run/netnswrap/batch.dead\n"}
    answers.update({"link": AS_MARKED})  # (argv[2] of `ip -j link show`)
    runner.run = lambda argv, **kw: (runner.calls.append((tuple(argv), dict(runner.files))) or
                                     Result(tuple(argv), 0, answers.get(argv[2], "") if argv[0] in ("find", "ip")
                                            else "", ""))
    assert cleanup(runner) == ["/run/netnswrap/batch.dead"]
    assert undo_of(runner) == [("link del br0", None), ("netns del ecns1", None)]
    assert runner.files == {}
    runner.owner_alive = True
    runner.files = {plan.journal: journal(plan, 999999)}
    assert cleanup(runner) == [] and plan.journal in runner.files


def test_empty_batch_runs_nothing_and_run_works_without_with():
    runner = Fake()
    with nw.Netns(runner=runner).batch():
        pass
    b = nw.Netns(runner=runner).batch()
    b.netns_del("h1")
    b.run()
    b.run()
    assert len(runner.calls) == 1


def test_module_level_batch_is_the_function():
    assert isinstance(nw.batch(), Batch)


def test_cli_cleanup_dry_run_prints_what_it_would_read(capsys):
    from netnswrap import cli
    assert cli.main(["--dry-run", "cleanup"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("find /run/netnswrap -maxdepth 0 ")  # a dry run prints the commands


def dead_record(runner, directory, build, done, name=None):
    """A record as a killed batch (of handle ``Netns(name)``) leaves it:
    journal, scripts, ``done`` markers."""
    from netnswrap.batch_script import Plan, schedule
    from netnswrap.batch_undo import journal
    b = nw.Netns(name, runner=runner).batch()
    build(b)
    plan = Plan(b.base, schedule(b.ops, b.base), directory)
    runner.files.update({**plan.files, plan.journal: journal(plan, 999999), plan.out: MARK * done})
    return plan


class Dead(Fake):
    """Every record's owner is dead; ``find`` lists ``records``; ``stat``
    answers ``times`` (path: mtime)."""

    def __init__(self, records, times=None):
        super().__init__(owner_alive=False)
        self.records, self.times = records, times or {}

    def run(self, argv, *, input=None, timeout=None):
        argv = tuple(argv)
        if argv[0] == "find":
            self.calls.append((argv, dict(self.files)))
            listing = self.records if "-mindepth" in argv else ["/run/netnswrap"]
            return Result(argv, 0, "".join(f"{line}\n" for line in listing), "")
        if argv[0] == "stat":
            self.calls.append((argv, dict(self.files)))
            return Result(argv, 0, "".join(f"{self.times.get(p, 1.0)} {p}\n" for p in argv[4:]), "")
        if argv[-3:] == ("-j", "link", "show"):
            return Result(argv, 0, AS_MARKED, "")
        return super().run(argv, input=input, timeout=timeout)


# The links of a dead record, as its markers (MARK: ifindex 1) showed them
AS_MARKED = json.dumps([{"ifname": name, "ifindex": 1} for name in ("lo", "br0", "br1", "br8", "br9")])


def test_cleanup_reports_records_it_cannot_trust_and_finishes_the_others():
    good, bad, evil, started = (f"/run/netnswrap/batch.{n}" for n in ("good", "bad", "evil", "started"))
    runner = Dead([bad, evil, good, started])
    dead_record(runner, good, lambda b: (b.bridge_add("br0"), b.bridge_add("br1")), 1)
    runner.files[f"{bad}/journal.json"] = "{not json"
    dead_record(runner, evil, lambda b: b.bridge_add("br9"), 1)
    record = json.loads(runner.files[f"{evil}/journal.json"])
    record["ops"][0]["undo"]["argv"] = ["ip", "netns", "exec", "x", "touch", "/tmp/owned"]
    runner.files[f"{evil}/journal.json"] = json.dumps(record)
    dead_record(runner, started, lambda b: b.bridge_add("br8"), 1)
    runner.files[f"{started}/undo0"] = "link del br8\n"
    with pytest.raises(nw.NetnsWrapError) as raised:
        cleanup(runner)
    message = str(raised.value)
    assert f"{bad}: journal.json is not a netnswrap batch record" in message
    assert f"{evil}: journal.json is not a netnswrap batch record" in message and "not an undo" in message
    assert f"{started}: its undo had started" in message and f"(finished: {good})" in message
    undone = [runs_of(files[argv[-1]], files) for argv, files in runner.calls if is_undo(argv)]
    assert undone == [[("link del br0", None)]]  # only the good record's change, once
    assert not any(path.startswith(good + "/") for path in runner.files)


def test_cleanup_leaves_a_namespace_made_again_after_the_batch_ran():
    record = "/run/netnswrap/batch.old"
    runner = Dead([record], times={f"{record}/out": 100.0, "/run/netns/ecold": 50.0,
                                   "/run/netns/ecagain": 200.0})
    dead_record(runner, record, lambda b: (b.netns_add("ecold"), b.netns_add("ecagain")), 2)
    assert cleanup(runner) == [record]
    assert undo_of(runner) == [("netns del ecold", None)]  # ecagain is someone's newer one


def test_cleanup_refuses_a_scratch_directory_others_may_write():
    runner = Dead([])
    runner.run = lambda argv, **kw: Result(tuple(argv), 0, "", "")  # find: not root's, or writable
    with pytest.raises(nw.NetnsWrapError, match="not trusted"):
        cleanup(runner)


def test_cleanup_finishes_a_record_of_a_namespace_no_batch_line_could_name():
    record = "/run/netnswrap/batch.odd"
    runner = Dead([record])
    dead_record(runner, record, lambda b: (b.bridge_add("br0"), b.addr_add("br0", "10.124.0.1/24")), 2,
                name='a#b"c')  # a namespace other tools made: it goes into the script quoted
    assert cleanup(runner) == [record]
    assert undo_of(runner) == [('a#b"c', ["addr del 10.124.0.1/24 dev br0", "link del br0"])]


def test_a_change_whose_undo_no_batch_line_could_carry_is_refused_when_called():
    runner = Fake()
    b = nw.Netns('a"b', runner=runner).batch()  # the batch runs its lines as ip -n 'a"b'
    b.addr_add("lo", "10.124.0.1/8")
    new = b.netns_add("ecnew")
    with pytest.raises(nw.InvalidArgument, match="could not be undone"):
        b.link_set("v0", netns=new)  # its undo, `link set dev v0 netns a"b`, could not run
    b.run()
    assert sorted(op.write.argv[1:3] for op in journal_ops(runner)) == [("addr", "add"), ("netns", "add")]


def journal_ops(runner):
    """The ops the one batch that ran recorded in its journal."""
    from netnswrap.batch_undo import from_journal
    (argv, files), = [(argv, files) for argv, files in runner.calls if "netnswrap-batch" in argv]
    return from_journal(files[argv[-2].rsplit("/", 1)[0] + "/journal.json"])[2]


def test_cleanup_leaves_a_link_made_again_after_the_batch_ran():
    record = "/run/netnswrap/batch.links"

    class Remade(Dead):  # br0 was deleted and made again by hand (another ifindex); br1 is the batch's
        def run(self, argv, *, input=None, timeout=None):
            if tuple(argv) == ("ip", "-j", "link", "show"):
                self.calls.append((tuple(argv), dict(self.files)))
                return Result(tuple(argv), 0, json.dumps([{"ifname": name, "ifindex": ifindex} for name, ifindex in
                                                          (("lo", 1), ("br0", 9), ("br1", 8), ("v1", 5))]), "")
            return super().run(argv, input=input, timeout=timeout)

    runner = Remade([record])
    plan = dead_record(runner, record, lambda b: (b.bridge_add("br0"), b.bridge_add("br1"), b.veth_add("v1", "v2"),
                                                  b.link_set_up("br1")), 4)
    runner.files[plan.out] = ("7: br0: <BROADCAST> mtu 1500\n8: br1: <BROADCAST> mtu 1500\n"
                              "5: v1@v2: <BROADCAST> mtu 1500\n" + MARK)  # what the markers showed
    assert cleanup(runner) == [record]
    assert undo_of(runner) == [("link del v1", None), ("link del br1", None)]  # br0 is someone else's now


class Listed(Dead):
    """A dead record's host: ``ip [-n NS] -j link show`` answers ``links[NS]``
    (``{name: ifindex}``; the caller's namespace under None)."""

    def __init__(self, records, links, times=None):
        super().__init__(records, times)
        self.links = links

    def run(self, argv, *, input=None, timeout=None):
        argv = tuple(argv)
        if argv[-3:] == ("-j", "link", "show"):
            ns = argv[2] if argv[1] == "-n" else None
            return Result(argv, 0, json.dumps([{"ifname": n, "ifindex": i}
                                               for n, i in self.links.get(ns, {}).items()]), "")
        return super().run(argv, input=input, timeout=timeout)


def marks(*ifindexes):
    """What the markers print: the ifindex of each op's link, or lo's (1)."""
    return "".join(f"{ifindex}: x: <UP>\n" for ifindex in ifindexes)


@pytest.mark.parametrize("now, undone", [
    ({"lo": 1, "r": 7}, [("link set dev r name a", None), ("link del dev a", None)]),  # as the batch left it
    ({"lo": 1, "a": 9}, []),            # r gone, someone made an `a`: neither renamed back nor deleted
    ({"lo": 1, "r": 7, "a": 9}, []),    # r still the batch's, but `a` is someone's: the way back is blocked
    ({"lo": 1, "r": 9}, []),            # someone's link under the batch's last name
])
def test_cleanup_follows_a_link_through_renames_and_never_touches_anothers(now, undone):
    record = "/run/netnswrap/batch.renamed"
    runner = Listed([record], {None: now})
    plan = dead_record(runner, record, lambda b: (b.bridge_add("a"), b.link_set("a", name="r")), 2)
    runner.files[plan.out] = marks(7, 1)
    assert cleanup(runner) == [record]
    assert (undo_of(runner) or []) == undone


def test_cleanup_follows_a_move_and_ignores_namespaces_made_again():
    record = "/run/netnswrap/batch.moved"
    runner = Listed([record], {"ecold": {"v1": 7}, "ecre": {"v2": 4}},
                    times={f"{record}/out": 100.0, "/run/netns/ecold": 50.0, "/run/netns/ecre": 200.0})

    def build(b):
        b.veth_add("v1", "p1")
        b.link_set("v1", netns="ecold")           # `link set v1 netns ecold`: followed into ecold
        b.netns("ecre").link_add("v2", "bridge")  # in a namespace someone made again since: not ours
        b.netns("ecre").addr_add("v2", "10.124.0.1/24")
    plan = dead_record(runner, record, build, 4)
    runner.files[plan.out] = marks(7, 1, 4, 1)  # (v2 got ifindex 4 in the old ecre, as theirs in the new)
    assert cleanup(runner) == [record]
    assert undo_of(runner) == [("ecold", [f"link set v1 netns {runner.caller_pid()}"]), ("link del v1", None)]


def test_cleanup_moves_back_to_the_callers_namespace_by_a_living_pid():
    record = "/run/netnswrap/batch.owner"
    runner = Listed([record], {})
    runner.caller_pid = lambda: 999999  # the batch's process, dead since
    plan = dead_record(runner, record, lambda b: (b.netns_add("ecnew"), b.link_set("host0", netns="ecnew")), 2)
    del runner.caller_pid
    runner.files[plan.out] = marks(1, 1)
    assert json.loads(runner.files[plan.journal])["ops"][1]["undo"]["argv"][-1] == "999999"  # the dead owner
    assert cleanup(runner) == [record]
    assert undo_of(runner) == [("ecnew", [f"link set host0 netns {runner.caller_pid()}"]),
                               ("netns del ecnew", None)]


def test_a_namespace_a_link_could_not_be_moved_back_out_of_is_kept():
    class Stuck(Fake):  # host0's move back fails: it is still in ecnew after the first undo run
        def run(self, argv, *, input=None, timeout=None):
            if tuple(argv[-5:]) == ("-j", "-n", "ecnew", "link", "show"):
                self.calls.append((tuple(argv), dict(self.files)))
                return Result(tuple(argv), 0, json.dumps([{"ifname": "lo"}, {"ifname": "host0"}]), "")
            return super().run(argv, input=input, timeout=timeout)

    runner = Stuck((2, "Error: ipv4: Address already assigned.\n", 2))
    with pytest.warns(RuntimeWarning, match="netns ecnew kept: host0 could not be moved back out of it"):
        with pytest.raises(nw.AddressExists) as raised:
            with nw.Netns(runner=runner).batch() as b:
                new = b.netns_add("ecnew")
                b.link_set("host0", netns=new)        # host0 existed before the batch
                new.addr_add("host0", "10.124.0.1/16")  # fails
    assert undo_of(runner) == [("ecnew", [f"link set host0 netns {runner.caller_pid()}"])]  # no netns del
    assert "netns ecnew kept" in "; ".join(raised.value.undo_failed)
