"""The pytest plugin as a user meets it: fixtures and the cassette marker in
the user's own test file, run by pytester."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from netnswrap.pytest_plugin import cannot_create_namespaces

pytest_plugins = ["pytester"]

live = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "-")


def kernel_namespaces() -> set:
    out = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {entry["name"] for entry in json.loads(out or "[]")}


# What the user's tests write down about the namespaces they were given.
USER_FIXTURE_TESTS = """
import json, os, subprocess
import pytest

def note(name):
    with open(os.environ["NOTES"], "a") as out:
        out.write(name + "\\n")

def test_netns(netns):
    note(netns.name)
    netns.veth_add("veth0", "veth1")
    links = json.loads(subprocess.run(["ip", "-n", netns.name, "-j", "link", "show"],
                                      capture_output=True, text=True, check=True).stdout)
    assert {link["ifname"] for link in links} == {"lo", "veth0", "veth1"}

def test_factory(netns_factory):
    made = [netns_factory() for _ in range(3)] + [netns_factory(prefix="mine")]
    for handle in made:
        note(handle.name)
    assert len({handle.name for handle in made}) == 4 and made[-1].name.startswith("mine")

def test_fails_half_way(netns_factory):
    note(netns_factory().name)
    raise RuntimeError("half-way")
"""


@live
def test_fixtures_give_fresh_namespaces_and_remove_them(pytester, monkeypatch, tmp_path):
    notes = tmp_path / "notes"
    monkeypatch.setenv("NOTES", str(notes))
    pytester.makepyfile(test_user=USER_FIXTURE_TESTS)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=2, failed=1)
    names = notes.read_text().split()
    assert len(names) == 6 and len(set(names)) == 6
    assert not set(names) & kernel_namespaces()  # all deleted, the failed test's too


@pytest.mark.parametrize("why, expected", [("not root", "needs root"), ("no ip", "needs the ip command")])
def test_fixtures_skip_with_a_reason(pytester, monkeypatch, why, expected):
    if why == "not root":
        monkeypatch.setattr(os, "geteuid", lambda: 1000)
    else:
        monkeypatch.setenv("PATH", "")
    pytester.makepyfile(test_user="""
        def test_netns(netns):
            raise AssertionError("must not run")

        def test_factory(netns_factory):
            raise AssertionError("must not run")
    """)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines([f"*{expected}*"])


USER_CASSETTE_TESTS = """
import pytest
import netnswrap as nw

@pytest.mark.netnswrap_cassette("cassettes/veth.json")
def test_veth_in_a_namespace(netns):
    netns.veth_add("veth0", "veth1")
    netns.addr_add("veth0", "10.9.9.1/24")
    netns.link_set_up("veth0")
    (link,) = netns.addr_list("veth0")
    assert link["ifname"] == "veth0" and link["addr_info"][0]["local"] == "10.9.9.1"
    assert netns.link_show("veth1")["link"] == "veth0"
    assert netns.name in {entry["name"] for entry in nw.netns_list()}
    with pytest.raises(nw.LinkNotFound):
        netns.link_show("veth9")
"""


@live
def test_cassette_marker_records_live_then_replays_with_empty_path(pytester, monkeypatch):
    pytester.makepyfile(test_user=USER_CASSETTE_TESTS)
    recorded = pytester.runpytest_subprocess("-q", "--netnswrap-record")
    recorded.assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "veth.json"
    document = json.loads(cassette.read_text())
    argvs = [entry["argv"] for entry in document["interactions"]]
    assert argvs[0][:3] == ["ip", "netns", "add"] and argvs[-1][:3] == ["ip", "netns", "del"]
    assert argvs[0][3] not in kernel_namespaces()

    monkeypatch.setenv("PATH", "")  # no ip, no root needed: a pure replay
    replayed = pytester.runpytest_subprocess("-q")
    replayed.assert_outcomes(passed=1)


def test_cassette_marker_mismatch_missing_cassette_and_no_path(pytester):
    pytester.makepyfile(test_user="""
        import pytest
        import netnswrap as nw

        @pytest.mark.netnswrap_cassette("lo.json")
        def test_reads_lo():
            assert [link["ifname"] for link in nw.link_list()] == ["lo"]
            nw.link_show("eth7")

        @pytest.mark.netnswrap_cassette("missing.json")
        def test_missing():
            pass

        @pytest.mark.netnswrap_cassette
        def test_no_path():
            pass
    """)
    (pytester.path / "lo.json").write_text(json.dumps({"version": 1, "meta": {}, "interactions": [
        {"argv": ["ip", "-V"], "returncode": 0, "stdout": "ip utility, iproute2-6.1.0\n", "stderr": "", "stdin": None},
        {"argv": ["ip", "-d", "-j", "link", "show"], "returncode": 0,
         "stdout": '[{"ifindex":1,"ifname":"lo"}]', "stderr": "", "stdin": None},
        {"argv": ["ip", "-d", "-j", "link", "show", "dev", "eth0"], "returncode": 0,
         "stdout": '[{"ifindex":2,"ifname":"eth0"}]', "stderr": "", "stdin": None}]}))
    result = pytester.runpytest("-q")
    result.assert_outcomes(failed=1, errors=2)
    result.stdout.fnmatch_lines(["*ReplayMismatch*nearest recorded: ip -d -j link show dev eth0 "
                                 "('eth7' instead of 'eth0')*"])
    result.stdout.fnmatch_lines(["*CassetteError: cassette */missing.json does not exist*"])
    result.stdout.fnmatch_lines(["*netnswrap_cassette takes one path*"])
