"""The classifier against every case of the shared error catalog."""
from __future__ import annotations

import pytest

import netnswrap as nw
from netnswrap.classify import classify, inner_command

from catalog import CATALOG, expected, load_cases

if not CATALOG.exists():  # pragma: no cover - the catalog ships beside the project
    pytest.skip(f"error catalog missing: {CATALOG}", allow_module_level=True)

CASES = [case for case in load_cases() if case["rc"] is not None]


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_catalog_case_classifies_as_suggested(case):
    name, batch_line = expected(case)
    error = classify(case["argv"], case["rc"], case["stdout"], case["stderr"])
    if name is None:
        assert error is None
        return
    assert type(error).__name__ == name, error
    assert isinstance(error, nw.NetnsWrapError)
    assert error.argv == tuple(case["argv"]) and error.returncode == case["rc"]
    assert error.stderr == case["stderr"]
    assert getattr(error, "batch_line", None) == batch_line


def test_every_catalog_case_is_covered():
    # the two cases without an exit status (a Python exception) are runner tests
    missing = {c["id"] for c in load_cases()} - {c["id"] for c in CASES}
    assert missing == {"timeout-subprocess", "binary-missing"}
    assert len(CASES) == 212


def test_hierarchy_matches_spec():
    for name in ("NamespaceExists", "NamespaceNotFound", "LinkExists", "LinkNotFound",
                 "AddressExists", "AddressNotFound", "PermissionDenied", "DeviceCannotMove",
                 "ProcessNotFound", "NotSupported"):
        assert issubclass(getattr(nw, name), nw.CommandError)
    assert issubclass(nw.InvalidArgument, ValueError)
    for name in ("CommandError", "InvalidArgument", "ToolNotFound", "CommandTimeout",
                 "ParseError", "ReplayMismatch", "CassetteError"):
        assert issubclass(getattr(nw, name), nw.NetnsWrapError)


def test_error_message_is_one_line_with_the_command():
    error = classify(["ip", "-n", "blue", "link", "add", "v0", "type", "veth", "peer", "name", "v1"],
                     2, "", "RTNETLINK answers: File exists\n")
    assert isinstance(error, nw.LinkExists)
    assert str(error) == ("RTNETLINK answers: File exists (command: ip -n blue link add v0 type veth "
                          "peer name v1, exit status 2)")


def test_permission_error_says_what_is_needed():
    error = classify(["ip", "netns", "add", "x"], 1, "",
                     "mount --make-shared /run/netns failed: Operation not permitted\n")
    assert isinstance(error, nw.PermissionDenied)
    assert "root or CAP_NET_ADMIN/CAP_SYS_ADMIN" in str(error)


def test_child_failure_keeps_its_status_and_output():
    error = classify(["ip", "netns", "exec", "blue", "sh", "-c", "exit 7"], 7, "out\n", "")
    assert type(error) is nw.CommandError
    assert (error.returncode, error.stdout) == (7, "out\n")
    assert "sh failed with exit status 7" in str(error)


def test_missing_program_inside_a_namespace_names_it():
    error = classify(["ip", "netns", "exec", "blue", "ethtool", "-S", "v0"], 1, "",
                     'exec of "ethtool" failed: No such file or directory\n')
    assert isinstance(error, nw.ToolNotFound)
    assert (error.tool, error.package) == ("ethtool", "ethtool")


@pytest.mark.parametrize("argv, inner", [
    (["ip", "-n", "b", "link", "show"], ("ip", "link", "show")),
    (["ip", "netns", "exec", "b", "ethtool", "-S", "x"], ("ethtool", "-S", "x")),
    (["nsenter", "-t", "12", "-n", "ip", "link"], ("ip", "link")),
    (["nsenter", "--net=/run/netns/b", "busybox", "ip", "link"], ("ip", "link")),
    (["setpriv", "--reuid=65534", "ip", "netns", "add", "x"], ("ip", "netns", "add", "x")),
])
def test_inner_command_strips_placement(argv, inner):
    assert inner_command(argv) == inner


def test_mtu_refused_without_extack_is_invalid_mtu():
    error = classify(["ip", "-n", "b", "link", "set", "dev", "v0", "mtu", "9000"], 2, "",
                     "RTNETLINK answers: Invalid argument\n")
    assert isinstance(error, nw.InvalidMTU)


def test_a_broken_run_netns_entry_is_namespace_not_found():
    # /run/netns/X a plain file or no longer mounted: setns() refuses it (recorded on 6.18)
    error = classify(("ip", "netns", "exec", "x", "true"), 255, "",
                     'setting the network namespace "x" failed: Invalid argument\n')
    assert type(error) is nw.NamespaceNotFound
