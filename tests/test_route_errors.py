"""The classifier against what route, neighbour, sysctl and link-kind commands
really printed (fixtures/reference/route-errors.json, recorded on this kernel
by fixtures/reference/record_route_errors.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import netnswrap as nw
from netnswrap.classify import classify

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "reference" / "route-errors.json"
DATA = json.loads(RECORDED.read_text())
CASES = DATA["cases"]


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_recorded_failure_classifies_as_listed(case):
    error = classify(case["argv"], case["rc"], case["stdout"], case["stderr"])
    if case["exception"] is None:  # sysctl exits 0 after printing its error: nothing to raise
        assert error is None and case["rc"] == 0 and case["stderr"].startswith("sysctl: ")
        return
    assert type(error).__name__ == case["exception"], error
    assert error.argv == tuple(case["argv"]) and error.returncode == case["rc"]
    if not isinstance(error, nw.ToolNotFound):  # which says what to install instead
        assert case["stderr"].strip().splitlines()[0] in str(error)


def test_the_recording_says_where_it_comes_from():
    assert DATA["by"] == "fixtures/reference/record_route_errors.py"
    assert {"ip", "busybox", "sysctl"} <= set(DATA["tools"]) and DATA["uname_r"]
    assert len({case["id"] for case in CASES}) == len(CASES) >= 60
    assert {case["section"] for case in CASES} == {"route", "neigh", "sysctl", "kinds"}


def by_id(case_id: str) -> nw.NetnsWrapError:
    case = next(c for c in CASES if c["id"] == case_id)
    return classify(case["argv"], case["rc"], case["stdout"], case["stderr"])


def test_a_duplicate_route_is_no_link_and_a_missing_one_no_process():
    for case_id in ("route-add-exists", "bb-route-add-exists", "route-add6-exists"):
        assert isinstance(by_id(case_id), nw.RouteExists) and not isinstance(by_id(case_id), nw.LinkExists)
    for case_id in ("route-del-missing", "bb-route-del-missing", "route-del-missing-table"):
        error = by_id(case_id)
        assert isinstance(error, nw.RouteNotFound) and not isinstance(error, nw.ProcessNotFound)
    # the same kernel words from other objects keep their classes
    assert isinstance(classify(["ip", "link", "add", "a", "type", "veth", "peer", "name", "b"], 2, "",
                               "RTNETLINK answers: File exists\n"), nw.LinkExists)
    assert isinstance(classify(["ip", "link", "set", "dev", "a", "netns", "4242"], 2, "",
                               "RTNETLINK answers: No such process\n"), nw.ProcessNotFound)


def test_an_unreachable_gateway_names_the_gateway_and_a_route_get_without_route_is_not_found():
    error = by_id("route-add-gw-unreachable-dev")
    assert type(error) is nw.InvalidArgument
    assert error.message.startswith("gateway 10.8.0.1 is not on a network connected to device v0: ")
    assert "gateway 2001:db8:8::1 " in by_id("route-add6-gw-unreachable").message
    assert by_id("bb-route-get-unreachable").message.startswith("no route to 10.99.0.1: ")


def test_a_kind_the_kernel_lacks_is_not_supported_naming_the_kind():
    for kind in ("dummy", "vlan", "bond", "ipvlan", "gre", "ipip"):
        error = by_id(f"link-add-{kind}")
        assert type(error) is nw.NotSupported and f"link kind {kind!r} is not supported" in str(error)
    assert "link kind 'vlan'" in str(by_id("bb-link-add-vlan"))


def test_a_missing_sysctl_names_procps_wherever_it_runs():
    for case_id in ("sysctl-missing-netns-exec", "sysctl-missing-nsenter"):
        error = by_id(case_id)
        assert isinstance(error, nw.ToolNotFound) and (error.tool, error.package) == ("sysctl", "procps")
        assert "install the Debian package 'procps'" in str(error)
