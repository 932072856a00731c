"""ip_route / ip_neigh parsers: the forms the fixtures pin, targeted, and fuzzed.

Every `ip_route--*` / `ip_neigh--*` fixture pair (corpus samples from
other systems, live recordings of this one) runs in test_parsers.py; here
are the rules of iproute2's printing that a parse must follow, checked
one at a time, and a fuzz over route/neigh words.
"""
from __future__ import annotations

import glob
import json
import os
import random
import time

import pytest

import netnswrap.parsers as P
from netnswrap.errors import ParseError
from test_parsers_fuzz import mutate

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "fixtures", "parsers")


def test_fixtures_cover_corpus_and_live_forms():
    names = {os.path.basename(p)[:-4] for p in glob.glob(os.path.join(FIXTURES, "ip_route--*.out"))}
    assert len(names) >= 60
    for needed in ("live-o-table-all", "live-d-table-all", "live-get-local", "live-busybox-4-route",
                   "specinfra-pr644-ip-route-show-default-ecmp-no-proto"):
        assert f"ip_route--{needed}" in names
    assert len(glob.glob(os.path.join(FIXTURES, "ip_neigh--*.out"))) >= 20


# ---- ip route ----------------------------------------------------------------

def test_defaults_are_hidden_as_ip_json_hides_them():
    plain, detailed = P.ip_route.parse(
        "default via 10.1.0.2 dev v0 metric 100 \n"
        "unicast default via 10.1.0.2 dev v0 table main proto boot scope global metric 100 \n")
    assert plain == {"dst": "default", "gateway": "10.1.0.2", "dev": "v0", "metric": 100, "flags": []}
    assert detailed == dict(plain, type="unicast", table="main", protocol="boot", scope="global")


def test_oneline_multipath_and_cache_unfold():
    text = ("10.70.0.0/16 \\\tnexthop via 10.1.0.2 dev v0 weight 1 \\\tnexthop via 10.2.0.2 dev v2 weight 3 linkdown \n"
            "fd00:c::/64 metric 1024 pref medium\\\tnexthop via fd00:1::2 dev v0 weight 1 \\\tnexthop via fd00:1::3 dev v0 weight 1 \n"
            "local 10.1.0.1 dev lo src 10.1.0.1 uid 0 \\    cache <local> \n")
    v4, v6, get = P.ip_route.parse(text)
    assert [n["weight"] for n in v4["nexthops"]] == [1, 3]
    assert v4["nexthops"][1]["flags"] == ["linkdown"] and v4["flags"] == []
    assert v6["pref"] == "medium" and len(v6["nexthops"]) == 2
    assert get == {"type": "local", "dst": "10.1.0.1", "dev": "lo", "prefsrc": "10.1.0.1",
                   "flags": [], "uid": 0, "cache": ["local"]}


def test_tab_and_space_indented_nexthops_are_the_same():
    tab = "10.100.0.1\n\tnexthop via 192.168.33.10  dev enp0s8 weight 1\n"
    spaces = "10.100.0.1\n        nexthop via 192.168.33.10  dev enp0s8 weight 1\n"
    assert P.ip_route.parse(tab) == P.ip_route.parse(spaces) == [
        {"dst": "10.100.0.1", "flags": [],
         "nexthops": [{"gateway": "192.168.33.10", "dev": "enp0s8", "weight": 1, "flags": []}]}]


def test_route_get_cache_line_carries_metrics_and_iif():
    (route,) = P.ip_route.parse(
        "10.72.0.1 via 10.1.0.2 dev v0 src 10.1.0.1 mark 0x1f uid 0 \n"
        "    cache <local,brd> mtu lock 1400 rtt 250ms rttvar 1.5s advmss 1300 features ecn "
        "congctl cubic iif v1 \n")
    assert route["mark"] == 31 and route["cache"] == ["local", "brd"] and route["iif"] == "v1"
    assert route["metrics"] == [{"mtu": 1400, "rtt": 250, "rttvar": 1500, "advmss": 1300,
                                 "ecn": None, "congestion": "cubic"}]


def test_from_selector_realms_tos_and_via_family():
    a, b, c = P.ip_route.parse(
        "10.1.0.7 from 10.1.0.1 dev v0 uid 0 \n"
        "10.73.0.0/16 tos 0x10 via 10.1.0.2 dev v0 realms 3/4 \n"
        "10.74.0.0/16 from 0/8 via inet6 fd00:1::2 dev v0 realm 7 \n")
    assert a["from"] == "10.1.0.1" and "src" not in a
    assert b["tos"] == "0x10" and b["flow"] == {"from": "3", "to": "4"}
    assert c["src"] == "0/8" and c["via"] == {"family": "inet6", "host": "fd00:1::2"}
    assert c["flow"] == {"to": "7"} and "gateway" not in c


def test_encap_keys_that_ip_json_repeats_are_named_encap():
    ip, mpls, seg6 = P.ip_route.parse(
        "10.80.0.0/16  encap ip id 5 src 0.0.0.0 dst 10.1.0.9 ttl 3 tos 0 tos 0x10 dev v0 scope link \n"
        "1.1.1.1  encap mpls  24000/24001 ttl 9 via 10.0.3.2 dev eth2  proto zebra  metric 20\n"
        "fd00:d::/64  encap seg6 mode encap segs 2 [ fd00::1 fd00::2 ] dev v0 metric 1024 pref medium\n")
    assert ip["dst"] == "10.80.0.0/16" and ip["encap_dst"] == "10.1.0.9"
    assert (ip["encap_src"], ip["encap_tos"], ip["tos"], ip["id"], ip["ttl"]) == ("0.0.0.0", 0, "0x10", 5, 3)
    assert mpls["dst"] == "1.1.1.1" and mpls["encap_dst"] == "24000/24001" and mpls["ttl"] == 9
    assert seg6["segs"] == ["fd00::1", "fd00::2"] and seg6["mode"] == "encap"


def test_old_kernels_values_as_current_iproute2_prints_them():
    (v6, unreach) = P.ip_route.parse(
        "default via fe80::1 dev br0  proto ra  metric 1024  expires 1079sec mtu 1500 advmss 1440 hoplimit 4294967295\n"
        "unreachable ::/96 dev lo  metric 1024  error -113\n")
    assert v6["expires"] == 1079 and v6["metrics"] == [{"mtu": 1500, "advmss": 1440}]
    assert unreach["error"] == 4294967183


def test_nh_info_of_a_nexthop_object():
    (route,) = P.ip_route.parse(
        "unicast 10.82.0.0/16 nhid 9 table main proto boot scope global \n"
        "\tnh_info id 9 group 7/8,3 scope global proto unspec \n")
    assert route["nhid"] == 9
    assert route["nh_info"] == {"id": 9, "group": [{"id": 7}, {"id": 8, "weight": 3}],
                                "scope": "global", "protocol": "unspec", "flags": []}


def test_monitor_deleted_and_every_type():
    types = ["unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable",
             "prohibit", "throw", "nat", "xresolve", "none"]
    routes = P.ip_route.parse("".join(f"{t} 10.0.{i}.0/24 \n" for i, t in enumerate(types)))
    assert [r["type"] for r in routes] == types
    assert P.ip_route.parse("Deleted 10.0.0.0/8 dev v0 \n")[0]["deleted"] is True


@pytest.mark.parametrize("text", [
    "hello world\n",
    "1: lo: <LOOPBACK,UP> mtu 65536 qdisc noqueue state UNKNOWN\n    link/loopback 00:00:00:00:00:00\n",
    "\tnexthop via 10.0.0.1 dev v0 weight 1\n",
    "10.0.0.0/8 dev\n",
    "10.0.0.0/8 metric many\n",
    "10.0.0.0/8 via\n",
    "10.0.0.1 dev lo\n    cache <local\n",
    "10.0.0.0/8 as from 1\n",
    "10.0.0.0/8 mtu lock\n",
    "10.0.0.0/8 rtt fast\n",
    "10.0.0.0/8\n\tnexthop via 1.1.1.1 dev a weight 1\n    cache \n",
    "fd00:d::/64 encap seg6 mode encap segs 2 [ fd00::1 dev v0\n",
    "default via 10.0.0.1 dev eth0 expires soon\n",
])
def test_route_malformed_raises_parse_error(text):
    with pytest.raises(ParseError):
        P.ip_route.parse(text)


# ---- ip neigh ----------------------------------------------------------------

def test_neigh_flags_are_null_keys_and_state_is_a_list():
    entries = P.ip_neigh.parse(
        "10.1.0.51 dev v0 lladdr 02:00:00:00:00:51 router STALE \n"
        "10.1.0.58 dev v0 lladdr 02:00:00:00:00:58 extern_learn NOARP proto zebra \n"
        "10.1.0.59 dev v0 proxy \n"
        "10.1.0.62 dev v0 \n"
        "10.1.0.61 managed INCOMPLETE \n")
    assert entries[0] == {"dst": "10.1.0.51", "dev": "v0", "lladdr": "02:00:00:00:00:51",
                          "router": None, "state": ["STALE"]}
    assert entries[1]["extern_learn"] is None and entries[1]["protocol"] == "zebra"
    assert entries[2] == {"dst": "10.1.0.59", "dev": "v0", "proxy": None}
    assert entries[3] == {"dst": "10.1.0.62", "dev": "v0"}          # nud none: no state
    assert entries[4] == {"dst": "10.1.0.61", "managed": None, "state": ["INCOMPLETE"]}


def test_neigh_counters_of_iproute2_61_busybox_and_ancient():
    new, bb, old = P.ip_neigh.parse(
        "10.1.0.56 dev v0 lladdr 02:00:00:00:00:56  ref 1 used 0/60/0probes 1 PROBE \n"
        "192.168.0.2 dev br-lan  used 0/0/0 probes 6 FAILED,NOARP\n"
        "193.233.7.254 dev eth0 lladdr 00:00:0c:76:3f:85 ref 5 used 12/13/20 \\\n    nud reachable\n")
    assert {k: new[k] for k in ("refcnt", "used", "confirmed", "updated", "probes")} == {
        "refcnt": 1, "used": 0, "confirmed": 60, "updated": 0, "probes": 1}
    assert bb["state"] == ["FAILED", "NOARP"] and bb["probes"] == 6 and "lladdr" not in bb
    assert old["state"] == ["REACHABLE"] and old["updated"] == 20


def test_neigh_monitor_words():
    deleted, miss = P.ip_neigh.parse("Deleted 10.0.0.1 dev v0 lladdr 02:00:00:00:00:01 STALE\n"
                                     "miss 10.0.0.2 dev v0 INCOMPLETE\n")
    assert deleted["deleted"] is True and miss["miss"] is None and miss["dst"] == "10.0.0.2"


@pytest.mark.parametrize("text", [
    "hello world\n",
    "1: lo: <LOOPBACK,UP> mtu 65536\n",
    "10.0.0.1 dev\n",
    "10.0.0.1 dev v0 used 1/2\n",
    "10.0.0.1 dev v0 ref x\n",
    "10.0.0.1 dev v0 nud sleepy\n",
    "10.0.0.1 dev v0 STALE,BORED\n",
    "    nud reachable\n",
    "default via 10.0.0.1 dev eth0\n",
])
def test_neigh_malformed_raises_parse_error(text):
    with pytest.raises(ParseError):
        P.ip_neigh.parse(text)


# ---- real `ip -j` outputs with no text twin, printed back as iproute2 prints text ----

ROUTE_WORDS = [("from", "from"), ("gateway", "via"), ("dev", "dev"), ("table", "table"),
               ("protocol", "proto"), ("scope", "scope"), ("prefsrc", "src"), ("metric", "metric")]


def _route_text(route):
    """print_route()'s text for the keys these samples hold (ip/iproute.c, same order)."""
    words = [route["type"]] if "type" in route else []
    words.append(route["dst"])
    words += [f"{word} {route[key]}" for key, word in ROUTE_WORDS if key in route]
    words += route["flags"]
    if "uid" in route:
        words.append(f"uid {route['uid']}")
    if "cache" in route:
        words.append("\n    cache" + (f" <{','.join(route['cache'])}>" if route["cache"] else ""))
    if "expires" in route:
        words.append(f"expires {route['expires']}sec")
    words += [f"{name} {value}" for name, value in route.get("metrics", [{}])[0].items()]
    if "pref" in route:
        words.append(f"pref {route['pref']}")
    return " ".join(words) + " \n"


JSON_SAMPLES = sorted(glob.glob(os.path.join(FIXTURES, "ip-json", "*.json")))


@pytest.mark.parametrize("path", JSON_SAMPLES, ids=os.path.basename)
def test_real_ip_json_printed_as_text_parses_back(path):
    with open(path, encoding="utf-8") as fh:
        want = json.load(fh)
    for entry in want:
        entry.pop("family", None)           # added by the EDITED netplan fixtures, not by ip
    if os.path.basename(path).startswith("neigh-"):
        text = "".join(f"{n['dst']} dev {n['dev']} lladdr {n['lladdr']} {' '.join(n['state'])} \n"
                       for n in want)
        assert P.ip_neigh.parse(text) == want
        return
    rendered = {"type", "dst", "flags", "uid", "cache", "expires", "metrics", "pref"} | {
        key for key, _ in ROUTE_WORDS}
    assert set().union(*want) <= rendered, "a key this test does not print"
    assert P.ip_route.parse("".join(_route_text(r) for r in want)) == want


# ---- fuzz --------------------------------------------------------------------

WORDS = ["nexthop", "\tnexthop ", "via", "inet6", "dev", "cache", "<local,brd>", "<", "encap", "mpls",
         "seg6", "segs", "[", "]", "ip", "mtu", "lock", "rtt", "1.5s", "features", "ecn", "realms",
         "1/2", "from", "0/8", "as", "to", "expires", "-5sec", "error", "-113", "nh_info", "group",
         "7/8,2", "lladdr", "used", "0/60/0probes", "probes", "nud", "router", "proxy", "STALE",
         "FAILED,NOARP", "Deleted", "miss", "\\", "\\\t", "\n    ", "default", "::", "4294967295"]


def test_fuzz_route_and_neigh_words_raise_only_parse_error():
    rng = random.Random(14)
    texts = []
    for path in sorted(glob.glob(os.path.join(FIXTURES, "ip_route--*.out"))
                       + glob.glob(os.path.join(FIXTURES, "ip_neigh--*.out"))):
        with open(path, encoding="utf-8") as fh:
            texts.append(fh.read())
    tried = 0
    for _ in range(3000):
        text = rng.choice(texts)
        if rng.random() < 0.5:
            words = text.split(" ")
            for _ in range(rng.randrange(1, 4)):
                words.insert(rng.randrange(len(words) + 1), rng.choice(WORDS))
            data: object = " ".join(words)
        else:
            data = mutate(rng, text)
        for module in (P.ip_route, P.ip_neigh):
            try:
                result = module.parse(data)
            except ParseError:
                continue
            assert isinstance(result, list) and all(isinstance(r, dict) for r in result)
        tried += 1
    assert tried == 3000


@pytest.mark.parametrize("module,fixture", [(P.ip_route, "ip_route--live-table-all"),
                                            (P.ip_neigh, "ip_neigh--live-s-neigh")])
def test_large_tables_parse_in_linear_time(module, fixture):
    with open(os.path.join(FIXTURES, fixture + ".out"), encoding="utf-8") as fh:
        text = fh.read()
    timings = []
    for copies in (50, 400):
        start = time.perf_counter()
        module.parse(text * copies)
        timings.append(time.perf_counter() - start)
    assert timings[1] < timings[0] * 8 * 3 + 0.05
