"""One process for many named namespaces (netnswrap.named_loop): the loop
really run by sh (with commands that take the name as an argument, so no
namespace is needed), its output split back by name."""
from __future__ import annotations

import subprocess

import pytest

import netnswrap as nw
from netnswrap.named_loop import each_named, split_named

NAMES = ["a b", "c\nd", "$(id)", "e"]  # names other tools may have made


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def test_each_name_gets_its_header_its_input_and_its_output():
    argv = each_named(NAMES, ("sh", "-c", 'cat; printf "name=%s\\n" "$0"'), "addr show\nroute show\n",
                      by_name=True)
    found = split_named(run(argv), NAMES)
    assert found == {name: f"addr show\nroute show\nname={name}\n" for name in NAMES}


def test_existing_skips_names_without_a_namespace_and_the_shell_exits_0():
    argv = each_named(["nwnl-none-1", "nwnl-none-2"], ("false",), existing=True, by_name=True)
    assert run(argv) == ""
    assert split_named(run(each_named(["x"], ("false",), by_name=True)), ["x"]) == {"x": ""}


def test_the_command_forms():
    assert each_named(["a"], ("ip", "-j", "route", "show"))[2] == \
        'for ns; do printf "\\nnetns: %s\\n" "$ns"; ip -n "$ns" -j route show; done; true'
    assert 'ip netns exec "$ns" sysctl -e net.ipv4.ip_forward;' in each_named(
        ["a"], ("sysctl", "-e", "net.ipv4.ip_forward"))[2]
    assert each_named(["a"], ("ip", "-batch", "-"), "x")[2].endswith("<<'NETNSWRAP_EOF'\nx\nNETNSWRAP_EOF\ndone; true")


def test_input_holding_the_here_documents_end_is_refused():
    with pytest.raises(nw.InvalidArgument, match="NETNSWRAP_EOF"):
        each_named(["a"], ("ip", "-batch", "-"), "link show\nNETNSWRAP_EOF\n")


def test_a_name_holding_a_header_is_read_as_itself():
    names = ["b", "z\nnetns: b"]  # the second name holds the header of the first
    argv = each_named(names, ("sh", "-c", 'printf "%s bytes\\n" "${#0}"'), by_name=True)
    assert split_named(run(argv), names) == {name: f"{len(name)} bytes\n" for name in names}
