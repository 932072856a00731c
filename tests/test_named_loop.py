"""One process for many named namespaces, live: the loop of
netnswrap.named_loop run by a real sh in namespaces with odd names (made
here, deleted afterwards), its output split back by name; and who is in
which named namespace (nsids.named_members), read once for all of them."""
from __future__ import annotations

import os
import subprocess

import pytest

import netnswrap as nw
from netnswrap.named_loop import each_named, split_named
from netnswrap.nsids import named_members
from netnswrap.pytest_plugin import cannot_create_namespaces, unique_netns_name

live = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "")


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def odd_names():
    """Namespaces named as other tools may name them: a space, a newline,
    shell syntax, one holding the header of another, a leading dot."""
    base = unique_netns_name("nwnl")
    names = [base, f"{base} b", f"{base}\n$(id)", f"z{base}\nnetns: {base}", f".{base}"]
    try:
        for name in names:
            subprocess.run(["ip", "netns", "add", name], check=True)
        yield names
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


@live
def test_each_name_gets_its_header_its_input_and_its_output(odd_names):
    inodes = {name: os.stat(f"/run/netns/{name}").st_ino for name in odd_names}
    argv = each_named(odd_names, ("sh", "-c", 'cat; readlink /proc/self/ns/net'), "addr show\nroute show\n")
    found = split_named(run(argv), odd_names)
    assert found == {name: f"addr show\nroute show\nnet:[{inodes[name]}]\n" for name in odd_names}


@live
def test_existing_skips_names_without_a_namespace_and_the_shell_exits_0(odd_names):
    missing = [unique_netns_name("nwnl"), unique_netns_name("nwnl")]
    argv = each_named(missing + odd_names[:1], ("ip", "-j", "link", "show", "dev", "lo"), existing=True)
    assert list(split_named(run(argv), missing + odd_names[:1])) == odd_names[:1]
    assert split_named(run(each_named(odd_names[:1], ("false",))), odd_names[:1]) == {odd_names[0]: ""}


def test_the_command_forms():
    assert each_named(["a"], ("ip", "-j", "route", "show"))[2] == \
        'for ns; do printf "\\nnetns: %s\\n" "$ns"; ip -n "$ns" -j route show; done; true'
    assert 'ip netns exec "$ns" sysctl -e net.ipv4.ip_forward;' in each_named(
        ["a"], ("sysctl", "-e", "net.ipv4.ip_forward"))[2]
    assert each_named(["a"], ("ip", "-batch", "-"), "x")[2].endswith("<<'NETNSWRAP_EOF'\nx\nNETNSWRAP_EOF\ndone; true")


def test_input_holding_the_here_documents_end_is_refused():
    with pytest.raises(nw.InvalidArgument, match="NETNSWRAP_EOF"):
        each_named(["a"], ("ip", "-batch", "-"), "link show\nNETNSWRAP_EOF\n")


@live
def test_named_members_finds_each_namespaces_processes_in_one_process(odd_names, tmp_path):
    inside = [subprocess.Popen(["ip", "netns", "exec", name, "sleep", "60"]) for name in odd_names[1:3]]
    try:
        runner = nw.RecordingRunner(tmp_path / "members.json", inner=nw.ShRunner())
        for _ in range(100):  # until both programs have entered their namespaces
            found = named_members(nw.Netns(runner=runner))
            if all(found[name] for name in odd_names[1:3]):
                break
        assert {name: found[name] for name in odd_names} == {
            odd_names[0]: [], odd_names[1]: [inside[0].pid], odd_names[2]: [inside[1].pid], odd_names[3]: [],
            odd_names[4]: []}  # (a name starting with a dot too)
        assert {entry["argv"][0] for entry in runner.interactions} == {"sh"}  # one process per reading
    finally:
        for process in inside:
            process.kill()
            process.wait()
