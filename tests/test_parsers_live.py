"""Live parity (root): each text form parses to what `ip -j` / `ethtool --json -k` says.

Builds a varied state in two throwaway namespaces `nwp<random>a/b` (see
fixtures/parsers/record.py: veth split across them, veth pair with a
bridge port, bridge, macvlan, vxlan, tap, altname, down links, several
MTUs, addresses of every kind) and removes them afterwards, whatever
happens.  Skipped when not root or when ip/ethtool/nsenter are missing.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess

import pytest

import netnswrap.parsers as P

HERE = os.path.dirname(os.path.abspath(__file__))
RECORD = os.path.join(os.path.dirname(HERE), "fixtures", "parsers", "record.py")
MISSING = [tool for tool in ("ip", "ethtool", "nsenter") if not shutil.which(tool)]

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="live parser parity needs root (creates namespaces)"),
    pytest.mark.skipif(bool(MISSING), reason=f"live parser parity needs {', '.join(MISSING)}"),
]


def _load_record():
    spec = importlib.util.spec_from_file_location("nwp_record_live", RECORD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


record = _load_record()
CASES = [("ip_link", c) for c in record.TEXT_CASES if record.TEXT_CASES[c][0] == "ip_link"] + \
        [("ip_addr", c) for c in record.TEXT_CASES if record.TEXT_CASES[c][0] == "ip_addr"] + \
        [("ip_link", "live-busybox-link"), ("ip_addr", "live-busybox-addr"),
         ("ethtool_features", "live-va"), ("ethtool_features", "live-lo"),
         ("ethtool_features", "live-nwptap0"), ("ip_netns", "live-n-list-id")]


def _netns_names():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split(" (id:")[0] for line in out.splitlines()}


@pytest.fixture(scope="module")
def live_state():
    tag = record.new_tag()
    try:
        try:
            record.build(tag + "a", tag + "b")
        except RuntimeError as exc:
            pytest.skip(f"cannot build the live state here: {exc}")
        yield tag
    finally:
        record.destroy(tag)
        assert not {n for n in _netns_names() if n.startswith(tag)}, "namespaces left behind"


def _mismatches(tag, parser, case):
    if (parser, case) == ("ip_link", "live-busybox-link") and not shutil.which("busybox"):
        pytest.skip("busybox not installed")
    text, want = record.capture(tag + "a")[(parser, case)]
    got = getattr(P, parser).parse(text)
    if parser in ("ip_link", "ip_addr"):
        record.stats_subset(got, want)
    return record.mismatches(got, want)


@pytest.mark.parametrize("parser,case", CASES, ids=lambda v: v)
def test_live_text_parses_to_json(live_state, parser, case):
    for _ in range(3):          # counters may tick between the two captures
        problems = _mismatches(live_state, parser, case)
        if not problems:
            break
    assert problems == []


def test_live_veth_split_peer(live_state):
    """The split veth: @ifN -> link_index, link-netns NAME -> link_netns."""
    out = subprocess.run(["ip", "-n", live_state + "a", "link", "show", "va"],
                         capture_output=True, text=True, check=True).stdout
    (link,) = P.ip_link.parse(out)
    peer = subprocess.run(["ip", "-n", live_state + "b", "-j", "link", "show", "vb"],
                          capture_output=True, text=True, check=True).stdout
    assert link["link_index"] == json.loads(peer)[0]["ifindex"]
    assert link["link_netns"] == live_state + "b"
