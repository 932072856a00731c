"""The ``netnswrap`` command line, run as real subprocesses: usage, dry run
and replay with no tools on PATH, an unprivileged user, and live as root."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import netnswrap
from netnswrap.demo import CONTAINER, shipped_cassette
from netnswrap.pytest_plugin import cannot_create_namespaces, unique_netns_name

from kernel import ip_json, namespaces, parked

PACKAGE_ROOT = str(Path(netnswrap.__file__).resolve().parent.parent)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
live = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "root")


def environment(path: str = SYSTEM_PATH, pythonpath: str = PACKAGE_ROOT) -> dict:
    return dict(os.environ, PATH=path, PYTHONPATH=pythonpath, LC_ALL="C")


def netnswrap_cli(*args: str, path: str = SYSTEM_PATH, prefix=(), pythonpath: str = PACKAGE_ROOT,
                  check_status=None) -> subprocess.CompletedProcess:
    """``python -m netnswrap ARGS…`` with PATH=``path``; ``prefix`` runs it as another user."""
    done = subprocess.run([*prefix, sys.executable, "-m", "netnswrap", *args], capture_output=True,
                          text=True, env=environment(path, pythonpath), timeout=300)
    if check_status is not None:
        assert done.returncode == check_status, (done.stdout, done.stderr)
    return done


def one_error_line(done: subprocess.CompletedProcess) -> str:
    """The stderr of a failed run: exactly one line, no traceback."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("netnswrap: error: "), done.stderr
    return lines[0]


def write_cassette(path: Path, *interactions) -> Path:
    """A cassette holding ``(argv, stdout)`` answers, exit status 0."""
    entries = [{"argv": list(argv), "returncode": 0, "stdout": stdout, "stderr": "", "stdin": None}
               for argv, stdout in interactions]
    path.write_text(json.dumps({"version": 1, "meta": {}, "interactions": entries}))
    return path


# --- usage ---------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    (), ("frobnicate",), ("peer",), ("peer", "veth0", "--netns", "a", "--pid", "1"),
    ("peer", "veth0", "--pid", "many"), ("netns",), ("netns", "rename", "a"),
    ("netns", "exec", "blue"), ("netns", "exec", "blue", "--"),
    ("topology", "--json", "--dot"), ("--replay", "x.json", "--dry-run", "topology"),
    ("topology", "--replay", "x.json", "--dry-run"),
])
def test_usage_errors_exit_2_without_running_anything(args):
    done = netnswrap_cli(*args, path="")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "usage: netnswrap" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["demo", "topology", "peer", "netns", "record"])
def test_every_subcommand_has_help_with_examples(command):
    done = netnswrap_cli(command, "--help", path="", check_status=0)
    assert f"netnswrap {command}" in done.stdout.split("examples:")[1]


def test_console_script_is_the_same_command():
    script = shutil.which("netnswrap")
    if script is None:
        pytest.skip("netnswrap is not installed as a console script")
    done = subprocess.run([script, "--version"], capture_output=True, text=True)
    assert done.stdout.strip() == f"netnswrap {netnswrap.__version__}"


# --- dry run: with an empty PATH, anything that tried to run would fail ---------

@pytest.mark.parametrize("args, lines", [
    (("--dry-run", "netns", "add", "blue"), ["ip netns add blue"]),
    (("netns", "del", "blue", "--dry-run"), ["ip netns del blue"]),
    (("--dry-run", "netns", "exec", "blue", "--", "ping", "-c", "1", "10.1.1.2"),
     ["ip netns exec blue ping -c 1 10.1.1.2"]),
    (("--dry-run", "netns", "list"), ["ip -V", "ip -j netns list"]),
])
def test_dry_run_prints_the_exact_command_lines(args, lines):
    done = netnswrap_cli(*args, path="", check_status=0)
    assert done.stdout.splitlines() == lines


def test_dry_run_refuses_bad_input_before_any_command():
    done = netnswrap_cli("--dry-run", "netns", "add", "bad/name", path="")
    assert "invalid namespace name 'bad/name'" in one_error_line(done)
    assert done.stdout == ""


def test_dry_run_demo_prints_every_step_and_runs_nothing():
    done = netnswrap_cli("--dry-run", "demo", path="", check_status=0)
    first, *rest = done.stdout.splitlines()
    assert "dry run" in first
    commands = [line.strip()[2:] for line in rest if line.strip().startswith("$ ")]
    assert commands[0] == shlex.join(CONTAINER)
    prefix = re.match(r"ip netns add (nwdemo\d+)-ns1$", commands[1]).group(1)
    assert f"ip netns del {prefix}-ns1" == commands[-1]
    assert any(line.startswith(f"ip netns exec {prefix}-ns1 ping -c 1") for line in commands)


# --- replay: offline, no tools on PATH -----------------------------------------

def test_replay_answers_from_the_cassette(tmp_path):
    cassette = write_cassette(tmp_path / "c.json",
                              (["ip", "-V"], "ip utility, iproute2-6.1.0\n"),
                              (["ip", "-j", "netns", "list"], '[{"name":"red","id":0},{"name":"blue"}]\n'))
    done = netnswrap_cli("--replay", str(cassette), "netns", "list", path="", check_status=0)
    assert done.stdout.splitlines() == ["red (id: 0)", "blue"]


def test_replay_of_an_unrecorded_command_is_one_error_line(tmp_path):
    cassette = write_cassette(tmp_path / "c.json", (["ip", "netns", "add", "red"], ""))
    line = one_error_line(netnswrap_cli("--replay", str(cassette), "netns", "add", "blue", path=""))
    assert "ip netns add red" in line and "'blue' instead of 'red'" in line


def test_replay_of_a_missing_cassette_names_the_file(tmp_path):
    missing = tmp_path / "nowhere.json"
    assert str(missing) in one_error_line(netnswrap_cli("--replay", str(missing), "topology", path=""))


@pytest.mark.parametrize("content", [
    '{"version": true, "meta": {}, "interactions": []}', "5", "[1]",
    '{"version": 1, "meta": {}, "interactions": {"argv": ["ip", "-V"]}}',
    '{"version": 1, "meta": {}, "interactions": [{"argv": ["ip", "-V"], "error": {"kind": "CommandTimeout", "timeout": NaN}}]}',
])
def test_replay_of_a_hand_edited_cassette_is_one_error_line_naming_the_file(tmp_path, content):
    cassette = tmp_path / "edited.json"
    cassette.write_text(content)
    line = one_error_line(netnswrap_cli("--replay", str(cassette), "netns", "list", path=""))
    assert str(cassette) in line


@pytest.mark.parametrize("stdout", ["5", '{"name": "blue"}', "[1]"])
def test_replayed_json_of_the_wrong_shape_is_one_error_line_naming_command_and_file(tmp_path, stdout):
    cassette = write_cassette(tmp_path / "c.json", (["ip", "-V"], "ip utility, iproute2-6.1.0\n"),
                              (["ip", "-j", "netns", "list"], stdout))
    line = one_error_line(netnswrap_cli("--replay", str(cassette), "netns", "list", path=""))
    assert "ip -j netns list" in line and str(cassette) in line


# --- files and pipes ------------------------------------------------------------

def many_namespaces(tmp_path: Path, count: int = 20000) -> Path:
    """A cassette whose ``netns list`` prints far more than a pipe holds."""
    names = json.dumps([{"name": f"nwcli{n}"} for n in range(count)])
    return write_cassette(tmp_path / "many.json", (["ip", "-V"], "ip utility, iproute2-6.1.0\n"),
                          (["ip", "-j", "netns", "list"], names))


@pytest.mark.parametrize("where, problem", [
    (lambda tmp: tmp, "it is a directory"),
    (lambda tmp: tmp / "file" / "c.json", "is not a directory"),
    (lambda tmp: tmp / "file" / "deeper" / "c.json", "is not a directory"),
    (lambda tmp: Path("/dev/null"), "it is not a regular file"),
])
def test_record_where_no_file_can_be_written_is_one_error_line_before_anything_runs(tmp_path, where, problem):
    (tmp_path / "file").write_text("a regular file\n")
    target = where(tmp_path)
    for global_options in ((), ("--dry-run",)):
        line = one_error_line(netnswrap_cli(*global_options, "record", str(target), path=""))
        assert f"cassette {target} cannot be written: " in line and problem in line, line
    assert (tmp_path / "file").read_text() == "a regular file\n"
    assert Path("/dev/null").is_char_device()


def test_record_into_a_directory_the_user_cannot_write_is_one_error_line(nobody):
    prefix, pythonpath = nobody
    readonly = tempfile.mkdtemp(prefix="nwcli-")
    try:
        os.chmod(readonly, 0o755)
        target = os.path.join(readonly, "c.json")
        line = one_error_line(netnswrap_cli("--dry-run", "record", target, prefix=prefix, pythonpath=pythonpath))
        assert f"no permission to write in {readonly}" in line
        assert os.listdir(readonly) == []
    finally:
        shutil.rmtree(readonly)


def test_output_to_a_full_device_is_one_error_line(tmp_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "netnswrap", "--replay", str(many_namespaces(tmp_path, 10)),
                               "netns", "list"], stdout=full, stderr=subprocess.PIPE, text=True,
                              env=environment(""), timeout=120)
    assert done.returncode == 1
    assert done.stderr == "netnswrap: error: cannot write the output: No space left on device\n"


def test_output_to_a_closed_stdout_is_one_error_line(tmp_path):
    cassette = many_namespaces(tmp_path, 3)
    done = subprocess.run([sys.executable, "-m", "netnswrap", "--replay", str(cassette), "netns", "list"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment(""),
                          timeout=120, preexec_fn=lambda: os.close(1))
    assert (done.returncode, done.stderr) == (1, "netnswrap: error: cannot write the output: stdout is closed\n")


def test_output_closed_before_anything_is_written_exits_141_quietly(tmp_path):
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "netnswrap", "--dry-run", "netns", "add", "nwcli"],
                              stdout=write, stderr=subprocess.PIPE, text=True, env=environment(""), timeout=120)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


def test_piped_into_head_exits_141_quietly_as_unix_tools_do(tmp_path):
    command = (f"{shlex.quote(sys.executable)} -m netnswrap --replay {shlex.quote(str(many_namespaces(tmp_path)))} "
               "netns list | head -1")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                          env=environment(), timeout=120)
    assert (done.stdout, done.stderr, done.returncode) == ("nwcli0\n", "", 141)


@pytest.mark.skipif(not shipped_cassette().exists(), reason="the demo cassette is not recorded yet")
def test_demo_replays_the_shipped_cassette_offline():
    done = netnswrap_cli("--replay", str(shipped_cassette()), "demo", path="", check_status=0)
    assert done.stdout.startswith(f"netnswrap demo: replaying {shipped_cassette()}")
    assert "1 received" in done.stdout and "peer_ifindex: " in done.stdout
    assert "netns-local, cannot move" in done.stdout and "may move" in done.stdout


def test_missing_tool_is_one_error_line_naming_the_package():
    line = one_error_line(netnswrap_cli("netns", "list", path=""))
    assert "ip: command not found" in line and "iproute2" in line


# --- an unprivileged user ------------------------------------------------------

@pytest.fixture(scope="session")
def nobody():
    """``setpriv`` to uid/gid 65534, and a PYTHONPATH it can read (the
    interpreter's own site-packages may sit in a directory only root reads)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to become an unprivileged user")
    import jc
    import sh
    readable = tempfile.mkdtemp(prefix="nwcli-")
    try:
        os.chmod(readable, 0o755)
        shutil.copytree(Path(jc.__file__).parent, Path(readable) / "jc")
        sh_source = Path(sh.__file__)
        if sh_source.name == "__init__.py":
            shutil.copytree(sh_source.parent, Path(readable) / "sh")
        else:
            shutil.copy(sh_source, readable)
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        # A Python linked to a libpython under a directory only root reads (a venv
        # of a pyenv build) cannot start as another user: nothing to test there.
        probe = subprocess.run([*prefix, sys.executable, "-c", "pass"], capture_output=True, text=True,
                               cwd="/")
        if probe.returncode != 0:
            pytest.skip(f"{sys.executable} cannot start as uid 65534: {probe.stderr.strip()}")
        yield prefix, f"{readable}:{PACKAGE_ROOT}"
    finally:
        shutil.rmtree(readable)


@pytest.mark.skipif(not shipped_cassette().exists(), reason="the demo cassette is not recorded yet")
def test_demo_replays_for_an_unprivileged_user_and_says_so(nobody):
    prefix, pythonpath = nobody
    done = netnswrap_cli("demo", prefix=prefix, pythonpath=pythonpath, check_status=0)
    first = done.stdout.splitlines()[0]
    assert "replaying the recording shipped with netnswrap: not root, so nothing runs here" in first
    assert "1 received" in done.stdout


def test_writes_of_an_unprivileged_user_fail_with_the_permission_message(nobody):
    prefix, pythonpath = nobody
    name = unique_netns_name("nwcli")
    done = netnswrap_cli("netns", "add", name, prefix=prefix, pythonpath=pythonpath)
    assert "needs root or CAP_NET_ADMIN/CAP_SYS_ADMIN" in one_error_line(done)
    assert name not in namespaces()


# --- live, as root -------------------------------------------------------------

@live
def test_netns_add_exec_list_del_live():
    name = unique_netns_name("nwcli")
    try:
        netnswrap_cli("netns", "add", name, check_status=0)
        assert name in namespaces()
        assert name in netnswrap_cli("netns", "list", check_status=0).stdout.splitlines()
        listed = json.loads(netnswrap_cli("netns", "list", "--json", check_status=0).stdout)
        assert {"name": name} in [{"name": entry["name"]} for entry in listed]
        links = json.loads(netnswrap_cli("netns", "exec", name, "ip", "-j", "link", check_status=0).stdout)
        assert [link["ifname"] for link in links] == ["lo"]
        assert netnswrap_cli("netns", "exec", name, "--", "sh", "-c", "echo out; echo err >&2; exit 3",
                             check_status=3).stdout == "out\n"
        assert "File exists" in one_error_line(netnswrap_cli("netns", "add", name))
        netnswrap_cli("netns", "del", name, check_status=0)
        assert name not in namespaces()
        one_error_line(netnswrap_cli("netns", "del", name))
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@live
def test_netns_exec_into_a_missing_namespace_is_the_standard_error_line():
    name = unique_netns_name("nwed")
    done = netnswrap_cli("netns", "exec", name, "sh", "-c", "echo ran")
    assert f'Cannot open network namespace "{name}": No such file or directory' in one_error_line(done)
    assert done.stdout == ""


def test_netns_exec_without_rights_is_the_standard_error_line_with_the_hint(nobody, netns_factory):
    prefix, pythonpath = nobody
    space = netns_factory("nwed")
    done = netnswrap_cli("netns", "exec", space.name, "sh", "-c", "echo ran", prefix=prefix, pythonpath=pythonpath)
    assert "needs root or CAP_NET_ADMIN/CAP_SYS_ADMIN" in one_error_line(done)
    assert done.stdout == ""


@live
def test_everything_after_the_namespace_name_is_the_programs_command_line(netns_factory):
    space = netns_factory("nwed")
    program = ("sh", "-c", 'echo "$@"', "sh", "--help", "--dry-run", "--", "-n")
    for args in ((space.name, *program), (space.name, "--", *program), ("--", space.name, *program)):
        done = netnswrap_cli("netns", "exec", *args, check_status=0)
        assert done.stdout == "--help --dry-run -- -n\n"
    own_help = netnswrap_cli("netns", "exec", "--help", path="", check_status=0).stdout
    assert "everything after NAME is the program's command line" in own_help


def netnswrap_popen(*args: str, **options) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "netnswrap", *args], env=environment(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options)


@live
def test_netns_exec_streams_output_as_it_comes_and_exits_with_the_programs_status(netns_factory, tmp_path):
    space, go_on = netns_factory("nwed"), tmp_path / "go-on"
    script = f"echo first; while [ ! -e {go_on} ]; do sleep 0.02; done; echo second; echo err >&2; exit 7"
    cli = netnswrap_popen("netns", "exec", space.name, "sh", "-c", script)
    valve = threading.Timer(60, go_on.touch)  # output held back to the end would wait for this
    valve.start()
    try:
        assert cli.stdout.readline() == "first\n"
        assert not go_on.exists() and cli.poll() is None  # read while the program still waits
        go_on.touch()
        rest, errors = cli.communicate(timeout=120)
    finally:
        valve.cancel()
        if cli.poll() is None:
            cli.kill()
    assert (rest, errors, cli.returncode) == ("second\n", "err\n", 7)


@live
def test_netns_exec_forwards_stdin(netns_factory):
    space = netns_factory("nwed")
    done = subprocess.run([sys.executable, "-m", "netnswrap", "netns", "exec", space.name, "cat"], input="hi\n",
                          capture_output=True, text=True, env=environment(), timeout=120)
    assert (done.stdout, done.returncode) == ("hi\n", 0)


@live
def test_netns_exec_a_program_killed_by_a_signal_exits_128_plus_it(netns_factory):
    space = netns_factory("nwed")
    assert netnswrap_cli("netns", "exec", space.name, "sh", "-c", "kill -TERM $$").returncode == 128 + 15


@live
def test_netns_exec_timeout_kills_the_program_and_is_one_error_line(netns_factory):
    space, marker = netns_factory("nwed"), f"300.{os.getpid()}1"
    done = netnswrap_cli("netns", "exec", "--timeout", "1", space.name, "sh", "-c", f"echo started; sleep {marker}")
    assert "timed out after 1 s and was killed" in one_error_line(done)
    assert done.stdout == "started\n"
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and marker in _cmdline(pid)]


@live
def test_netns_exec_interrupted_stops_the_program_and_exits_130(netns_factory):
    space, marker = netns_factory("nwed"), f"300.{os.getpid()}2"
    cli = netnswrap_popen("netns", "exec", space.name, "sh", "-c", f"echo ready; sleep {marker}")
    try:
        assert cli.stdout.readline() == "ready\n"
        cli.send_signal(signal.SIGINT)
        rest, errors = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 130 and errors.endswith("netnswrap: interrupted\n"), errors
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and marker in _cmdline(pid)]


@pytest.mark.parametrize("limit", ["nan", "inf", "0", "-1", "1e309"])
def test_netns_exec_refuses_a_bad_timeout_before_anything_runs(limit):
    line = one_error_line(netnswrap_cli("netns", "exec", "--timeout", limit, "blue", "true", path=""))
    assert "invalid timeout" in line


@live
def test_netns_exec_on_a_terminal_gives_it_to_the_program_and_ctrl_c_reaches_it(netns_factory):
    """On a terminal the program is the foreground job: it reads the terminal
    (a background job would be stopped by SIGTTIN) and Ctrl-C is its SIGINT."""
    import pty
    import select
    space = netns_factory("nwed")
    pid, terminal = pty.fork()
    if pid == 0:  # the child: netnswrap on the terminal
        os.execve(sys.executable, [sys.executable, "-m", "netnswrap", "netns", "exec", space.name, "cat"],
                  environment())
    seen = b""

    def read_until(expected: bytes, seconds: float = 60) -> bool:
        nonlocal seen
        deadline = time.monotonic() + seconds
        while expected not in seen and time.monotonic() < deadline:
            if select.select([terminal], [], [], 0.1)[0]:
                try:
                    seen += os.read(terminal, 1024)
                except OSError:
                    break
        return expected in seen

    try:
        os.write(terminal, b"hello\n")  # typed ahead: echoed at once, read by cat once it runs
        assert read_until(b"hello\r\nhello\r\n"), seen
        os.write(terminal, b"\x03")
        _, status = os.waitpid(pid, 0)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 130, seen


def test_netns_exec_dry_run_prints_the_placed_command_line():
    done = netnswrap_cli("--dry-run", "netns", "exec", "--timeout", "5", "blue", "sh", "-c", "echo $X",
                         path="", check_status=0)
    assert done.stdout == "ip netns exec blue sh -c 'echo $X'\n"


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


@pytest.fixture
def veth_between(netns_factory):
    """veth1 in namespace one, its peer veth0 in namespace two."""
    one, two = netns_factory("nwcli"), netns_factory("nwcli")
    subprocess.run(["ip", "-n", two.name, "link", "add", "veth0", "type", "veth", "peer", "name",
                    "veth1", "netns", one.name], check=True)
    return one.name, two.name


@live
def test_peer_finds_the_other_end_in_a_named_namespace(veth_between):
    one, two = veth_between
    veth0 = ip_json(two, "link", "show", "dev", "veth0")[0]
    peer = json.loads(netnswrap_cli("peer", "veth1", "--netns", one, "--json", check_status=0).stdout)
    assert (peer["netns"], peer["ifname"], peer["ifindex"]) == (two, "veth0", veth0["ifindex"])
    text = netnswrap_cli("peer", "veth1", "--netns", one, check_status=0).stdout
    assert text == f"veth1 ↔ veth0 (ifindex {veth0['ifindex']}) in netns {two}\n"


@live
def test_peer_of_a_container_by_pid(netns_factory):
    host = netns_factory("nwcli").name
    with parked(["unshare", "--net"]) as container:
        subprocess.run(["ip", "-n", host, "link", "add", "vethc", "type", "veth", "peer", "name",
                        "eth0", "netns", str(container.pid)], check=True)
        peer = json.loads(netnswrap_cli("peer", "eth0", "--pid", str(container.pid), "--json",
                                        check_status=0).stdout)
        assert (peer["netns"], peer["ifname"]) == (host, "vethc")
        back = json.loads(netnswrap_cli("peer", "vethc", "--netns", host, "--json", check_status=0).stdout)
        assert (back["pid"], back["ifname"]) == (container.pid, "eth0")


@live
def test_topology_record_and_replay_give_the_same_picture(veth_between, tmp_path):
    one, two = veth_between
    text = netnswrap_cli("topology", check_status=0).stdout
    assert f"netns {one}\n" in text and "⇄ veth0 (" in text
    assert netnswrap_cli("topology", "--dot", check_status=0).stdout.startswith("graph ")
    live_picture = json.loads(netnswrap_cli("topology", "--json", check_status=0).stdout)
    cassette = tmp_path / "host.json"
    netnswrap_cli("record", str(cassette), check_status=0)
    replayed = json.loads(netnswrap_cli("--replay", str(cassette), "topology", "--json", path="",
                                        check_status=0).stdout)
    assert ours(replayed, one, two) == ours(live_picture, one, two)
    assert len(ours(replayed, one, two)["veth_pairs"]) == 1


def ours(topology: dict, *names: str) -> dict:
    """The parts of a topology about the namespaces ``names``."""
    return {"namespaces": [space for space in topology["namespaces"] if space["name"] in names],
            "veth_pairs": [pair for pair in topology["veth_pairs"]
                           if any(end and end["netns"] in names for end in pair)]}


def leftovers(prefix: str, pid: int) -> list:
    """Namespaces named ``prefix-…`` and the container ``pid``, if still alive."""
    found = sorted(name for name in namespaces() if name.startswith(prefix + "-"))
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        state = "gone"
    return found + ([f"process {pid} ({state})"] if state not in ("gone", "Z") else [])


@live
def test_demo_live_walks_through_the_seed_and_removes_everything():
    done = netnswrap_cli("demo", check_status=0)
    assert done.stdout.splitlines()[0].startswith("netnswrap demo: live, as root")
    pid = int(re.search(r"→ PID (\d+);", done.stdout).group(1))
    assert done.stdout.count("1 sent, 1 received") == 3
    index = int(re.search(r"peer_ifindex: (\d+)", done.stdout).group(1))
    assert f"ifindex {index} is {index}: veth0@if" in done.stdout
    assert f"PID {pid} eth0 ↔ veth{pid:07x} (ifindex " in done.stdout
    assert f"↔ eth0 (ifindex 2) in PID {pid}" in done.stdout
    assert "docker0: netns-local, cannot move" in done.stdout
    assert f"veth{pid:07x}: may move" in done.stdout
    assert leftovers(f"nwdemo{pid}", pid) == []


def demo_until_step(step: int):
    """A live ``netnswrap demo`` subprocess, read up to the title of ``step``;
    returns it and its container's PID."""
    demo = subprocess.Popen([sys.executable, "-m", "netnswrap", "demo"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environment())
    output = []
    while not output or not output[-1].startswith(f"{step}. "):
        line = demo.stdout.readline()
        if not line:
            demo.kill()
            raise AssertionError("".join(output))
        output.append(line)
    return demo, int(re.search(r"→ PID (\d+);", "".join(output)).group(1))


@live
def test_demo_interrupted_by_ctrl_c_cleans_up_and_exits_130():
    demo, pid = demo_until_step(4)
    try:
        assert f"nwdemo{pid}-ns1" in namespaces()
        demo.send_signal(signal.SIGINT)
        rest, errors = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 130, errors
    assert errors.endswith("netnswrap: interrupted\n")
    assert f"$ ip netns del nwdemo{pid}-ns1" in rest
    assert leftovers(f"nwdemo{pid}", pid) == []


@live
def test_demo_whose_output_is_closed_still_cleans_up():
    """`netnswrap demo | head`: the reader goes away mid-demo; nothing may stay."""
    demo, pid = demo_until_step(3)
    try:
        demo.stdout.close()  # as head does after its lines
        demo.wait(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode != 0
    assert leftovers(f"nwdemo{pid}", pid) == []


def test_main_in_a_program_gives_its_sigterm_handler_back(tmp_path):
    from netnswrap.cli import main

    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        assert main(["--dry-run", "netns", "add", "nwclisig"]) == 0
        assert signal.getsignal(signal.SIGTERM) is mine  # (it was netnswrap's own, for good, before)
        assert main(["--replay", str(tmp_path / "none.json"), "topology"]) == 1  # an error, also given back
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)
