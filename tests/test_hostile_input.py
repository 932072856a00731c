"""Hostile values through every public function, the handle constructors,
batches and the command line: refused with InvalidArgument before any process
starts, or passed on verbatim as one argv word — never through a shell.

Every parameter of every method in ``netnswrap.HANDLE_METHODS`` must have a
kind in PARAMETER_KINDS, so a new parameter fails here until it is covered.
"""
from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys

import pytest

import netnswrap as nw
from netnswrap import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NOT_STR = [None, 0, 1, 3.5, True, b"eth0", ["eth0"], {"eth0": 1}, object()]
# Names no command may see: option-like, empty, dot names, path separators,
# whitespace and control characters (newline, NUL, Unicode separators and
# format characters), over-long.
BAD_NAME = ["-n", "--help", "-all", "-", "", ".", "..", "a/b", "/", "a b", " ", "a\nb", "a\n",
            "\t", "a\x00b", "a\rb", "\x1b[31m", "a\u00a0b", "a\u2028b", "\u202eevil", "a\u200bb"]
# An existing device may be named by an altname of up to 127 bytes (':' allowed);
# a new device's name has at most 15 bytes, no ':' and no '%'.
BAD_IFNAME = BAD_NAME + ["x" * 128, "é" * 64] + NOT_STR
BAD_NEW_IFNAME = BAD_NAME + ["a:b", "x" * 16, "é" * 8, "日本語日本語", "a%d"] + NOT_STR
BAD_NETNS = BAD_NAME + ["x" * 256, "é" * 128] + NOT_STR
# Accepted names: no shell is involved, so these must reach the tool as one
# word, exactly as given.
SHELLISH = ["a;b", "$(id)", "`id`", "a|b", "a&b", "a>b", "*", "~", "é", "日本", "a'b", 'a"b', "a#b",
            "a\\b", "x" * 15, "help", "up", "a", "no"]

HOSTILE = {
    "ifname": BAD_IFNAME,
    "new_ifname": BAD_NEW_IFNAME,
    "netns": BAD_NETNS,
    # An existing namespace may bear any name other tools gave it: only what no
    # file under /run/netns can be called is refused.
    "netns_ref": ["", ".", "..", "a/b", "/", "a\x00b", "x" * 256, "é" * 128, 0, -1, 3.5, True, b"x",
                  2 ** 70, object()],
    "pid": [0, -1, 2 ** 70, 1.0, "1503", "1503; reboot", True, None, b"1", [1503]],
    "cidr": ["10.1.1.1", "10.1.1.256/24", "10.1.1.1/33", "::1/129", "-n", "10.1.1.1/24; reboot",
             "10.1.1.1/24\n", "10.1.1.1/24 dev lo", "$(id)/24", "", None, 1, b"10.1.1.1/24"],
    "mtu": ["1500", 1500.0, True, -1, 2 ** 31, 2 ** 70, b"1500", [1500]],
    "lladdr": ["-n", "zz:00:00:00:00:01", "02:00:00:00:00:01\n", "02:00:00:00:00:01 up", "",
               1, b"\x02\x00\x00\x00\x00\x01"],
    "flag": ["yes", "down", "", 1, 0, b"up", [True]],
    "argv": ["ls", "", b"ls", [], [""], ["-n", "sh"], ["--help"], ["-r/", "sh"], [None], [1],
             ["ls", None], ["a\x00b"], ("ls", b"-l"), None, 7],
    "timeout": [0, -1, "1", True, float("nan"), float("inf"), b"1", [1]],
    "env": [{"A=B": "1"}, {"": "1"}, {"A": 1}, {"A": None}, {"A": "x\0y"}, {"A\0": "1"}, {1: "a"},
            ["A=1"], "A=1", b"A=1", 1],
    "route_dst": ["", "-n", "defaultx", "10.1.1.1/33", "10.1.2.0/16", "default via 10.0.0.1", "10.0.0.0/8\n",
                  "$(id)", "::1/129", None, 1, 3.5, b"10.0.0.0/8", ["default"]],
    "ip": ["", "-n", "10.1.1.256", "10.1.1.1/24", "10.1.1.1 dev lo", "10.1.1.1\n", "$(id)", 1, 3.5, True,
           b"10.1.1.1", ["10.1.1.1"]],
    "u32": [-1, 2 ** 32, 1.5, "5", True, b"5", [5]],
    "table": [0, -1, 2 ** 32, "", "-n", "main; reboot", "a b", "100\n", "main\n", 1.5, True, b"main", ["main"]],
    "family": [0, 5, "4", "-4", True, 4.0, b"4", [4]],
    "sysctl_key": ["", "-a", "--all", "net ipv4", "net.ipv4.ip_forward=1", "net..x", "net/../x", "/proc/x",
                   "net.x\n", "net.ipv4.*", None, 1, b"net.x", ["net.x"]],
    "sysctl_value": ["", " ", "1\n", "1\x00", "\x1b[31m", None, True, 1.5, b"1", [1]],
    "link_kind": ["", "-n", "dummy0", "BRIDGE", "bridge; reboot", None, 1, b"bridge", ["bridge"]],
}
VALID = {"name": "nwh0", "dev": "v0", "peer": "v1", "pid": 1503, "cidr": "10.1.1.1/24",
         "argv": ["true"], "dst": "10.9.0.0/16", "addr": "10.9.0.5", "lladdr": "02:00:00:00:00:05",
         "key": "net.ipv4.ip_forward", "value": 1, "kind": "bridge"}
PARAMETER_KINDS = {"dev": "ifname", "peer": "new_ifname", "master": "ifname", "pid": "pid",
                   "cidr": "cidr", "mtu": "mtu", "address": "lladdr", "peer_netns": "netns_ref",
                   "netns": "netns_ref", "up": "flag", "nomaster": "flag", "cross_check": "flag", "containers": "flag",
                   "argv": "argv",
                   "timeout": "timeout", "env": "env",
                   "name": None,     # a namespace name in netns_*, a new interface's elsewhere
                   "dst": "route_dst", "via": "ip", "src": "ip", "addr": "ip", "metric": "u32",
                   "table": "table", "family": "family", "lladdr": "lladdr", "key": "sysctl_key",
                   "value": "sysctl_value", "kind": "link_kind",
                   "options": "skip",  # link_add's per-kind options: tests/test_route_ops.py
                   "check": "skip"}  # a Python-side switch, never part of a command
SHELLISH_KINDS = ("ifname", "new_ifname", "netns", "netns_ref")


# Methods whose ``name`` is an existing namespace (any name other tools gave it).
EXISTING_NETNS = ("netns_del", "netns_exists", "netns_pids")


def kind_of(method: str, parameter: str) -> str:
    kind = PARAMETER_KINDS[parameter]
    if kind is None and method in EXISTING_NETNS:
        return "netns_ref"
    return kind or ("netns" if method.startswith("netns_") else "new_ifname")


def cases():
    """(method, parameter, kind) for every parameter of every handle method."""
    for method in nw.HANDLE_METHODS:
        for parameter in list(inspect.signature(getattr(nw.Netns, method)).parameters)[1:]:
            assert parameter in PARAMETER_KINDS, f"{method}({parameter}=…) has no hostile values yet"
            if PARAMETER_KINDS[parameter] != "skip":
                yield method, parameter, kind_of(method, parameter)


def call(target, method: str, parameter: str, value):
    """``target.method(...)`` with valid arguments except ``parameter=value``."""
    signature = inspect.signature(getattr(nw.Netns, method))
    args, kwargs = [], {"up": True} if method == "link_set" else {}
    for name, spec in list(signature.parameters.items())[1:]:
        if spec.kind is spec.VAR_KEYWORD:
            continue
        given = value if name == parameter else VALID.get(name, spec.default)
        if spec.kind is spec.KEYWORD_ONLY or spec.default is not spec.empty:
            if name == parameter or given is not spec.default:
                kwargs[name] = given
        else:
            args.append(given)
    return getattr(target, method)(*args, **kwargs)


class Recorder(nw.Runner):
    """Answers every command with success and no output; remembers them."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def run(self, argv, *, input=None, timeout=None):
        self.calls.append(tuple(argv))
        return nw.Result(tuple(argv), 0, "", "")


@pytest.fixture
def no_process(monkeypatch):
    """Every way of starting a process fails the test (and is remembered)."""
    started = []

    def refuse(*args, **kwargs):
        started.append(args)
        raise AssertionError(f"a process was started: {args!r}")

    for module, name in [(os, "fork"), (os, "forkpty"), (os, "posix_spawn"), (os, "posix_spawnp"),
                         (os, "system"), (os, "execv"), (os, "execve"), (os, "execvp"),
                         (subprocess, "Popen")]:
        monkeypatch.setattr(module, name, refuse)
    yield started
    assert started == []


def handles(runner):
    return [nw.Netns(runner=runner), nw.Netns("nwh", runner=runner),
            nw.Netns.from_pid(1503, runner=runner)]


def refusable(method: str, parameter: str, value) -> bool:
    """False where ``value`` is a valid choice: None for an optional parameter."""
    default = inspect.signature(getattr(nw.Netns, method)).parameters[parameter].default
    return not (value is None and default is None)


@pytest.mark.parametrize("method, parameter, kind", list(cases()))
def test_hostile_values_are_refused_before_any_process(method, parameter, kind, no_process):
    runner = Recorder()
    for value in HOSTILE[kind]:
        if not refusable(method, parameter, value):
            continue
        for target in handles(runner):
            with pytest.raises(nw.InvalidArgument):
                call(target, method, parameter, value)
        with nw.use_runner(runner), pytest.raises(nw.InvalidArgument):
            call(nw, method, parameter, value)
    assert runner.calls == []


@pytest.mark.parametrize("method, parameter, kind",
                         [case for case in cases() if case[2] in SHELLISH_KINDS
                          and case[0] != "netns_exists"])  # compared with the list, not sent
def test_shell_characters_reach_the_tool_verbatim_as_one_word(method, parameter, kind, no_process):
    for value in SHELLISH:
        runner = Recorder()
        try:
            call(nw.Netns("nwh", runner=runner), method, parameter, value)
        except nw.NetnsWrapError:
            pass  # an empty answer may not do: only the command matters here
        words = [word for argv in runner.calls for word in argv]
        assert value in words, (value, runner.calls)
        assert all(argv[0] in ("ip", "ethtool", "nsenter", "lsns", "readlink", "true")
                   for argv in runner.calls), runner.calls


def test_exec_passes_shell_characters_as_arguments(no_process):
    runner = Recorder()
    argv = ["echo", "$(id)", ";", "`id`", "a b", "\n", "-n", "'", "*"]
    nw.Netns("nwh", runner=runner).exec(argv)
    assert runner.calls == [("ip", "netns", "exec", "nwh", *argv)]


def test_no_method_is_left_out():
    no_parameters = {m for m in nw.HANDLE_METHODS
                     if len(inspect.signature(getattr(nw.Netns, m)).parameters) == 1}
    assert no_parameters == {"netns_list", "link_list", "topology", "batch"}
    covered = {method for method, _, _ in cases()}
    assert covered | no_parameters == set(nw.HANDLE_METHODS)


# --- handle constructors -------------------------------------------------------

@pytest.mark.parametrize("make, values", [
    (lambda v: nw.Netns(v), [x for x in HOSTILE["netns_ref"] if x is not None]),
    (lambda v: nw.Netns(pid=v), [x for x in HOSTILE["pid"] if x is not None]),
    (lambda v: nw.Netns.from_pid(v), HOSTILE["pid"]),
    (lambda v: nw.Netns(runner=v), ["ip", 1, object(), print]),
    (lambda v: nw.Netns("nwh", pid=v), [1503]),
    (lambda v: nw.ShRunner(timeout=v), HOSTILE["timeout"]),
    (lambda v: nw.use_runner(v).__enter__(), ["ip", 1, object()]),
    (lambda v: nw.ReplayRunner(v), [None, "", 1, b"x.json", ["x.json"]]),
    (lambda v: nw.RecordingRunner(v, inner=nw.DryRunRunner()), [None, "", 1, b"x.json"]),
    (lambda v: nw.RecordingRunner("x.json", inner=v), ["ip", 1, object()]),
    (lambda v: nw.RecordingRunner("x.json", inner=nw.DryRunRunner(), meta=v), ["ip", [("a", 1)], 1]),
])
def test_constructors_refuse_hostile_values(make, values, no_process):
    for value in values:
        with pytest.raises(nw.InvalidArgument):
            make(value)


@pytest.mark.parametrize("argv", HOSTILE["argv"])
def test_the_live_runner_refuses_a_bad_argv_before_forking(argv, no_process):
    with pytest.raises(nw.InvalidArgument):
        nw.ShRunner().run(argv)


# --- batches: the same methods, plus what an ip -batch line cannot carry ---------

BATCH_METHODS = ["netns_add", "netns_del", "veth_add", "bridge_add", "link_set", "link_set_up",
                 "link_set_down", "link_del", "addr_add", "addr_del", "link_add", "route_add",
                 "route_replace", "route_del", "neigh_add", "neigh_del", "sysctl_set"]
BATCH_UNSAFE = ["a#b", "#", '"a', 'a"', "a\\"]  # (a word with spaces or ' goes in quotes)


@pytest.mark.parametrize("method, parameter, kind",
                         [case for case in cases() if case[0] in BATCH_METHODS])
def test_batch_methods_refuse_hostile_values_when_called(method, parameter, kind, no_process):
    runner = Recorder()
    values = HOSTILE[kind] + (BATCH_UNSAFE if kind in SHELLISH_KINDS else [])
    for value in values:
        if not refusable(method, parameter, value):
            continue
        with pytest.raises(nw.InvalidArgument):
            with nw.Netns(runner=runner).batch() as batch:
                call(batch.netns("nwh"), method, parameter, value)
    assert runner.calls == []


@pytest.mark.parametrize("value", BAD_NETNS[:-len(NOT_STR)] + BATCH_UNSAFE)
def test_batch_scope_refuses_hostile_namespace_names(value, no_process):
    with pytest.raises(nw.InvalidArgument):
        nw.Netns(runner=Recorder()).batch().netns(value)


# --- the command line -------------------------------------------------------------

CLI_CASES = (
    [("netns", "add", "--", value) for value in BAD_NAME + ["x" * 256]]
    + [("netns", "del", "--", value) for value in ["", ".", "..", "a/b", "/", "x" * 256]]
    + [("peer", "--", value) for value in BAD_NAME + ["x" * 128]]
    + [("peer", "eth0", "--netns", value) for value in ["a/b", "", "..", "x" * 256]]
    + [("peer", "eth0", "--pid", value) for value in ["0", "-1", "99999999999", "0x10", "1e3", "$(id)"]]
    + [("netns", "exec", "--", value, "true") for value in ["a/b", "", "..", "x" * 256]]
    + [("netns", "exec", "nwh", "--", value) for value in ["-r/", "--help", ""]]
    + [("netns", "add", "-n"), ("peer", "-n"), ("frobnicate",)]
)


@pytest.fixture
def sigterm_kept():
    """The CLI installs a SIGTERM handler: put pytest's back."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


@pytest.mark.parametrize("args", CLI_CASES)
def test_cli_refuses_hostile_arguments_before_any_process(args, no_process, sigterm_kept, capsys):
    try:
        status = cli.main(list(args))
    except SystemExit as exc:  # argparse
        status = exc.code
    err = capsys.readouterr().err
    assert status in (1, 2), (status, err)
    assert "Traceback" not in err
    if status == 1:
        assert len(err.splitlines()) == 1 and "invalid" in err.lower(), err


@pytest.mark.parametrize("args", [("netns", "add", "--", "-n"), ("netns", "add", "a\nb"),
                                  ("peer", "eth0", "--pid", "0"), ("netns", "del", "$(id)/x"),
                                  ("netns", "exec", "nwh", "--", "-r/", "sh")])
def test_python_m_netnswrap_refuses_hostile_arguments(args):
    # With an empty PATH anything that tried to run a tool would fail differently.
    done = subprocess.run([sys.executable, "-m", "netnswrap", *args], capture_output=True, text=True,
                          env=dict(os.environ, PATH="", PYTHONPATH=ROOT), timeout=120)
    assert done.returncode in (1, 2), done
    assert "Traceback" not in done.stderr and "not found" not in done.stderr
    assert "invalid" in done.stderr.lower() or "usage:" in done.stderr, done.stderr
