"""Batches offline: the exact scripts they run, and failures (with the error
catalog's real stderr) mapped back to the failing command, with undo."""
from __future__ import annotations

import os

import pytest

import netnswrap as nw
from netnswrap.batch import SCRIPT_DIR
from netnswrap.runners import Result, Runner

from catalog import load_cases

CATALOG = {case["id"]: case for case in load_cases()}
BATCH = ("ip", "-batch", "-")
UNDO = ("ip", "-force", "-batch", "-")


class Fake(Runner):
    """Answers each call with the next (returncode, stderr), then success;
    keeps (argv, stdin) of every call, and the per-namespace scripts that
    existed on disk while the batch ran."""

    def __init__(self, *answers):
        super().__init__()
        self.answers = list(answers)
        self.calls = []
        self.on_disk = {}

    def run(self, argv, *, input=None, timeout=None):
        self.calls.append((tuple(argv), input))
        for line in (input or "").splitlines():
            path = line.rsplit(" ", 1)[-1]
            if path.startswith(SCRIPT_DIR) and os.path.exists(path):
                with open(path) as fh:
                    self.on_disk[path] = fh.read()
        returncode, stderr = self.answers.pop(0) if self.answers else (0, "")
        return Result(tuple(argv), returncode, "", stderr)


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
    return b.script()


def test_star_runs_as_one_process_with_root_lines_first_then_one_exec_per_namespace():
    runner = Fake()
    with nw.Netns(runner=runner).batch() as b:
        star(b)
        assert runner.calls == []  # nothing runs inside the block
    text, files = script_of(star)  # the same script, built again
    (h1, body1), (h2, body2) = files.items()
    assert text == (
        "link add br0 type bridge\n"
        "link set dev br0 up\n"
        "netns add h1\n"
        "link add v1 type veth peer name eth0 netns h1\n"
        "link set dev v1 up master br0\n"
        "netns add h2\n"
        "link add v2 type veth peer name eth0 netns h2\n"
        "link set dev v2 up master br0\n"
        "# h1: link set dev lo up\n"
        "# h1: addr add 10.0.0.1/24 dev eth0\n"
        "# h1: link set dev eth0 up\n"
        f"netns exec h1 ip -batch {h1}\n"
        "# h2: link set dev lo up\n"
        "# h2: addr add 10.0.0.2/24 dev eth0\n"
        "# h2: link set dev eth0 up\n"
        f"netns exec h2 ip -batch {h2}\n")
    assert body1 == "link set dev lo up\naddr add 10.0.0.1/24 dev eth0\nlink set dev eth0 up\n"
    assert body2 == body1.replace("10.0.0.1", "10.0.0.2")
    assert h1.startswith(SCRIPT_DIR + "/") and h1 != h2
    assert runner.calls == [(BATCH, text)]
    if os.geteuid() == 0:  # the scripts existed while ip ran, and are gone
        assert runner.on_disk == files
    assert not any(os.path.exists(path) for path in files)


def test_script_is_the_same_in_every_run_so_recordings_replay():
    assert script_of(star) == script_of(star)


def test_dry_run_prints_the_batch_with_its_stdin(capsys):
    runner = nw.DryRunRunner(print_commands=True)
    with nw.use_runner(runner):
        with nw.batch() as b:
            b.netns_add("h1").link_set_up("lo")
    assert runner.commands == [list(BATCH)]
    out = capsys.readouterr().out
    assert out.startswith("ip -batch - <<'EOF'\nnetns add h1\n# h1: link set dev lo up\nnetns exec h1 ip -batch ")


def test_recorded_batch_replays(tmp_path):
    path = tmp_path / "batch.json"
    recorder = nw.RecordingRunner(path, inner=Fake())
    with nw.Netns(runner=recorder).batch() as b:
        star(b)
    recorder.save()
    with nw.Netns(runner=nw.ReplayRunner(path)).batch() as b:
        star(b)


def test_named_handle_batch_runs_from_the_callers_namespace():
    # `ip -n blue -batch` would have a mount namespace of its own, where
    # `netns add` mounts the new namespace and loses it when ip exits
    runner = Fake()
    with nw.Netns("blue", runner=runner).batch() as b:
        b.link_set_up("lo")
        b.netns("blue").addr_add("lo", "10.0.0.1/8")
        red = b.netns_add("red")
        b.veth_add("va", "vb", peer_netns=red)
        red.link_set_up("lo")
    ((argv, text),) = runner.calls
    assert argv == BATCH
    assert [line.split(" ip -batch")[0] for line in text.splitlines() if not line.startswith("#")] == [
        "netns add red", "netns exec blue", "netns exec red"]
    assert "# blue: link add va type veth peer name vb netns red\n" in text


def test_process_handle_batch_runs_there():
    runner = Fake()
    with nw.Netns.from_pid(1503, runner=runner).batch() as b:
        b.netns_add("red")
        b.veth_add("va", "vb", peer_netns="red")
    assert runner.calls == [(("nsenter", "-t", "1503", "-n", "ip", "-batch", "-"),
                             "netns add red\nlink add va type veth peer name vb netns red\n")]


def test_order_is_kept_where_it_matters():
    def build(b):
        b.netns("h1").link_set_up("lo")       # before h1 exists: stays first
        b.netns_add("h1")
        b.netns("h1").link_set("eth9", netns="h2")
        b.netns("h2").link_set_up("eth9")     # after the move into h2
        b.netns_del("h1")                     # after h1's own lines (h2's need not wait)
    text, _ = script_of(build)
    order = [line.split(" ip -batch")[0] for line in text.splitlines() if not line.startswith("#")]
    assert order == ["netns exec h1", "netns add h1", "netns exec h1", "netns del h1", "netns exec h2"]


def test_a_pid_target_orders_against_everything():
    def build(b):
        b.netns("h1").link_set("eth0", netns=4242)
        b.link_set_up("eth0")
    text, _ = script_of(build)
    assert text.splitlines()[-1] == "link set dev eth0 up"


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
    runner = Fake((1, stderr))
    with pytest.raises(nw.LinkNotFound) as raised:
        with nw.Netns(runner=runner).batch() as b:
            b.bridge_add("br0")
            b.link_set("ecmissing", master="br0")
            b.bridge_add("br1")
    error = raised.value
    assert error.argv == ("ip", "link", "set", "dev", "ecmissing", "master", "br0")
    assert error.batch_line == 2 and error.stderr == stderr and error.returncode == 1
    assert runner.calls[1:] == [(UNDO, "link del br0\n")]  # br1 never ran: not touched


def test_failure_inside_a_namespace_names_the_line_there():
    inner = CATALOG["batch-kernel-fail"]["stderr"]  # Error: ipv4: Address already assigned. / …:2
    runner = Fake((1, inner + "Command failed -:4\n"))
    with pytest.raises(nw.AddressExists) as raised:
        with nw.Netns(runner=runner).batch() as b:
            h1 = b.netns_add("ecns1")
            h1.addr_add("lo", "10.124.0.1/16")
            h1.addr_add("lo", "10.124.0.1/16")
    assert raised.value.argv == ("ip", "-n", "ecns1", "addr", "add", "10.124.0.1/16", "dev", "lo")
    assert raised.value.batch_line == 4
    assert runner.calls[1:] == [(UNDO, "netns del ecns1\n")]  # its address goes with it


def test_parse_error_without_line_number_is_found_by_the_quoted_word():
    stderr = CATALOG["link-set-netns-missing"]["stderr"]  # argument "ecmissing" is wrong: Invalid "netns" value
    runner = Fake((255, stderr))
    with pytest.raises(nw.NamespaceNotFound) as raised:
        with nw.Netns(runner=runner).batch() as b:
            b.netns_add("ecns1")
            b.veth_add("ecva", "ecvb", peer_netns="ecmissing")
            b.netns_add("ecns2")
    assert raised.value.argv == ("ip", "link", "add", "ecva", "type", "veth", "peer", "name", "ecvb",
                                 "netns", "ecmissing")
    assert raised.value.batch_line is None
    assert runner.calls[1:] == [(UNDO, "netns del ecns1\n")]


def test_parse_error_inside_a_namespace():
    stderr = 'Error: argument "ecnobr" is wrong: Device does not exist\n\nCommand failed -:4\n'
    runner = Fake((1, stderr))
    with pytest.raises(nw.InvalidArgument) as raised:
        with nw.Netns(runner=runner).batch() as b:
            b.bridge_add("br0")
            h1 = b.netns("ecns1")
            h1.addr_add("eth0", "10.124.0.1/16")
            h1.link_set("eth0", master="ecnobr")
    assert raised.value.argv == ("ip", "-n", "ecns1", "link", "set", "dev", "eth0", "master", "ecnobr")
    assert runner.calls[1] == (("ip", "-n", "ecns1", "addr", "del", "10.124.0.1/16", "dev", "eth0"), None)
    assert runner.calls[2:] == [(UNDO, "link del br0\n")]


def test_namespace_that_cannot_be_entered_fails_its_first_command():
    stderr = ('Cannot open network namespace "ecmissing": No such file or directory\n'
              "Command failed -:3\nCommand failed -:3\n")
    runner = Fake((1, stderr))
    with pytest.raises(nw.NamespaceNotFound) as raised:
        with nw.Netns(runner=runner).batch() as b:
            b.netns("ecmissing").link_set_up("lo")
            b.netns("ecmissing").link_set_up("eth0")
    assert raised.value.argv == ("ip", "-n", "ecmissing", "link", "set", "dev", "lo", "up")
    assert runner.calls[1:] == []


def test_forked_exec_that_fails_without_message_gives_command_error():
    stderr = CATALOG["batch-netns-exec"]["stderr"].replace("/tmp/ec-catalog/batch-netns-exec.txt:1", "-:2")
    runner = Fake((1, stderr))
    with pytest.raises(nw.CommandError) as raised:
        with nw.Netns(runner=runner).batch() as b:
            b.netns("ecns1").link_set_up("lo")
    assert type(raised.value) is nw.CommandError and raised.value.batch_line == 2


def test_undo_follows_renames_and_moves_and_skips_what_goes_with_a_namespace():
    runner = Fake((2, "RTNETLINK answers: File exists\nCommand failed -:9\n"))
    with pytest.raises(nw.LinkExists):
        with nw.Netns(runner=runner).batch() as b:
            b.netns_add("ecns1")
            b.veth_add("a", "b")
            b.link_set("b", netns="ecns1")       # b now inside a created namespace
            b.link_set("a", name="c")            # a renamed
            b.addr_add("c", "10.124.0.1/16")     # on a created link: goes with it
            b.veth_add("x", "y", peer_netns="ecns1")
            b.link_set("x", netns="ecns2")       # x moved to a namespace that existed
            b.addr_add("eth0", "10.124.0.2/16")  # on a link that existed: removed
            b.bridge_add("br0")                  # fails
    assert runner.calls[1:] == [
        (("ip", "-n", "ecns2", "link", "del", "x"), None),
        (UNDO, "addr del 10.124.0.2/16 dev eth0\nlink del c\nnetns del ecns1\n")]


def test_deleted_things_are_not_undone():
    runner = Fake((2, "RTNETLINK answers: File exists\nCommand failed -:6\n"))
    with pytest.raises(nw.LinkExists):
        with nw.Netns(runner=runner).batch() as b:
            b.netns_add("ecns1")
            b.bridge_add("br0")
            b.addr_add("eth0", "10.124.0.2/16")
            b.addr_del("eth0", "10.124.0.2/16")
            b.link_del("br0")
            b.bridge_add("br1")
    assert runner.calls[1:] == [(UNDO, "netns del ecns1\n")]


def test_empty_batch_runs_nothing_and_run_works_without_with():
    runner = Fake()
    with nw.Netns(runner=runner).batch():
        pass
    b = nw.Netns(runner=runner).batch()
    b.netns_del("h1")
    b.run()
    b.run()
    assert runner.calls == [(BATCH, "netns del h1\n")]


def test_module_level_batch_is_the_function():
    from netnswrap.batch import Batch  # a submodule import must not shadow nw.batch
    assert isinstance(nw.batch(), Batch)
