"""Parser tests: every fixture pair, `ip -j` references, and targeted cases."""
from __future__ import annotations

import ast
import glob
import importlib.util
import json
import os

import jc
import pytest

import netnswrap.parsers as P
from netnswrap.errors import ParseError
from netnswrap.parsing import parse as nw_parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures", "parsers")
RECORDED = os.path.join(ROOT, "fixtures", "reference", "recorded")
MODULES = [P.ip_link, P.ip_addr, P.ip_netns, P.ip_route, P.ip_neigh, P.ethtool_stats,
           P.ethtool_features, P.ethtool_driver]


def _load_record():
    spec = importlib.util.spec_from_file_location("nwp_record", os.path.join(FIXTURES, "record.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


record = _load_record()


def _read(path):
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _module(stem):
    return getattr(P, os.path.basename(stem).split("--")[0])


def _canon(obj):
    """Type-strict form for comparison (True != 1, 1.0 != 1)."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


PAIRS = sorted(p[:-len(".out")] for p in glob.glob(os.path.join(FIXTURES, "*--*.out")))
REFS = sorted(p[:-len(".ref.json")] for p in glob.glob(os.path.join(FIXTURES, "*.ref.json")))


def test_fixtures_exist():
    assert len(PAIRS) > 60
    for stem in PAIRS:
        assert os.path.exists(stem + ".json"), f"{stem}.out has no .json"


@pytest.mark.parametrize("stem", PAIRS, ids=os.path.basename)
def test_fixture_pair(stem):
    module = _module(stem)
    text = _read(stem + ".out")
    want = json.loads(_read(stem + ".json"))
    assert _canon(module.parse(text)) == _canon(want)
    assert _canon(jc.parse(module, text, quiet=True)) == _canon(want)
    assert _canon(nw_parse(module, text)) == _canon(want)


@pytest.mark.parametrize("stem", REFS, ids=os.path.basename)
def test_parse_equals_ip_json_reference(stem):
    """Live-recorded text parses to what `ip -j` / `ethtool --json` said."""
    got = _module(stem).parse(_read(stem + ".out"))
    want = json.loads(_read(stem + ".ref.json"))
    if isinstance(want, list) and want and "ifindex" in want[0]:
        record.stats_subset(got, want)
    assert record.mismatches(got, want) == []


# ---- the recorded outputs (fixtures/reference) against their `ip -j` twins --

def _recorded(name):
    path = os.path.join(RECORDED, name)
    if not os.path.exists(path):
        pytest.skip(f"{path} not present")
    return _read(path)


@pytest.mark.parametrize("text_file,json_file,parser,form", [
    ("ip-n-ecns1-d-link-show-ecva.txt", "ip-n-ecns1-d-j-link-show-ecva.json", P.ip_link, "d"),
    ("ip-n-ecns1-d-link-show-lo.txt", "ip-n-ecns1-d-j-link-show-lo.json", P.ip_link, "d"),
    ("busybox-ip-link-ecns1.txt", "ip-n-ecns1-d-j-link-show.json", P.ip_link, "busybox"),
    ("busybox-ip-addr-ecns1.txt", "ip-n-ecns1-j-addr-show.json", P.ip_addr, "addr busybox"),
])
def test_recorded_text_matches_recorded_json(text_file, json_file, parser, form):
    got = parser.parse(_recorded(text_file))
    want = record.expected_view(json.loads(_recorded(json_file)), form, {0: "ecns2"})
    assert record.mismatches(got, want) == []


@pytest.mark.parametrize("name", ["", "-with-and-without-ids", "-after-set-auto", "-ec-only"])
def test_recorded_netns_list_matches_json(name):
    got = P.ip_netns.parse(_recorded(f"ip-netns-list{name}.txt"))
    assert got == json.loads(_recorded(f"ip-j-netns-list{name}.json"))


def test_recorded_features_match_ethtool_json():
    got = P.ethtool_features.parse(_recorded("ethtool-k-veth-ecva.txt"))
    want = record.features_view(json.loads(_recorded("ethtool-json-k-veth-ecva.json"))[0])
    assert record.mismatches(got, want) == []


# ---- contract ------------------------------------------------------------------

@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_jc_contract(module):
    assert module.info.version == module.__version__
    assert module.info.compatible == ["linux"]
    assert module.info.description
    for word in ("Usage", "Schema", "Examples"):
        assert word in module.__doc__
    assert module.parse.__doc__


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
@pytest.mark.parametrize("text", ["", "\n", "  \n\t\n"])
def test_empty_input_gives_empty_result(module, text):
    result = module.parse(text)
    assert result in ([], {}) and not result


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
@pytest.mark.parametrize("data", [b"\x00\xff\xfe binary", "abc\x00def", 42, None, ["1: lo:"]])
def test_binary_or_wrong_type_raises_parse_error(module, data):
    with pytest.raises(ParseError):
        module.parse(data)
    with pytest.raises(ParseError):
        nw_parse(module, data)


@pytest.mark.parametrize("module,text", [
    (P.ip_link, "hello world\n"),
    (P.ip_link, "1: lo: <LOOPBACK> mtu many qdisc noop\n"),
    (P.ip_link, "1: lo: <UP> mtu 1\n    RX: bytes packets\n    1\n"),
    (P.ip_link, "1: lo: <UP> mtu 1\n    RX: bytes packets\n"),
    (P.ip_addr, "    inet 10.0.0.1/24 scope global eth0\n"),
    (P.ip_addr, "1: lo: <UP> mtu 1\n    inet 10.0.0.1/x scope host lo\n"),
    (P.ip_addr, "1: lo: <UP> mtu 1\n       valid_lft forever preferred_lft forever\n"),
    (P.ip_addr, "1: lo: <UP> mtu 1\n    inet 10.0.0.1/8\n       valid_lft soon preferred_lft 1sec\n"),
    (P.ip_netns, "nsid 0\nblue\n"),
    (P.ip_netns, "a/b\n"),
    (P.ethtool_stats, "NIC statistics:\n     rx_packets: many\n"),
    (P.ethtool_stats, "NIC statistics:\n     rx_packets\n"),
    (P.ethtool_features, "Features for x:\nrx-checksumming: maybe\n"),
    (P.ethtool_driver, "driver veth\n"),
])
def test_malformed_raises_parse_error(module, text):
    with pytest.raises(ParseError):
        module.parse(text)


# ---- targeted ----------------------------------------------------------------

def test_link_at_forms():
    text = ("2: tunl0@NONE: <NOARP> mtu 1480 qdisc noop state DOWN\n    link/ipip 0.0.0.0 brd 0.0.0.0\n"
            "3: eth0@if9: <UP> mtu 1500 qdisc noqueue\n    link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 3\n"
            "4: v1@v0: <UP> mtu 1500 qdisc noqueue\n    link/ether 02:42:ac:11:00:03 brd ff:ff:ff:ff:ff:ff\n"
            "5: ecva@ecva: <UP> mtu 1500 qdisc noqueue qlen 1000\n    link/ether 02:42:ac:11:00:04 brd ff:ff:ff:ff:ff:ff\n")
    links = P.ip_link.parse(text)
    assert links[0]["link"] is None and "link_index" not in links[0]
    assert links[1]["link_index"] == 9 and links[1]["link_netnsid"] == 3 and "link" not in links[1]
    assert links[2]["link"] == "v0"
    assert links[3]["link_index"] == 5          # busybox: peer index resolved locally
    assert [ln["ifname"] for ln in links] == ["tunl0", "eth0", "v1", "ecva"]


def test_link_netns_name_and_unknown_nsid():
    text = ("7: x@if2: <UP> mtu 1500 qdisc noqueue state UP\n"
            "    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff link-netns blue\n"
            "8: y@if3: <UP> mtu 1500 qdisc noqueue state UP\n"
            "    link/ether 02:00:00:00:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid unknown\n")
    x, y = P.ip_link.parse(text)
    assert x["link_netns"] == "blue" and "link_netnsid" not in x
    assert y["link_netnsid"] == -1


def test_address_flags_from_hex_and_words():
    text = ("4: tun0: <POINTOPOINT,UP> mtu 1500 qdisc fq_codel state UNKNOWN group default qlen 100\n"
            "    link/none \n"
            "    inet6 fe80::1/64 scope link flags 800\n"
            "    inet6 2001:db8::1/64 scope global temporary mngtmpaddr optimistic home autojoin\n"
            "    inet 10.0.0.1/8 brd 10.255.255.255 any 10.0.0.0 scope global secondary tun0:x\n"
            "       valid_lft 5sec preferred_lft -3sec\n")
    addrs = P.ip_addr.parse(text)[0]["addr_info"]
    assert addrs[0]["stable-privacy"] is True and "flags" not in addrs[0]
    assert {k for k, v in addrs[1].items() if v is True} == {
        "temporary", "mngtmpaddr", "optimistic", "home", "autojoin"}
    assert addrs[2]["anycast"] == "10.0.0.0" and addrs[2]["label"] == "tun0:x"
    assert addrs[2]["secondary"] is True
    assert (addrs[2]["valid_life_time"], addrs[2]["preferred_life_time"]) == (5, -3)


def test_stats_columns_map_by_name():
    text = ("2: eth0: <UP> mtu 1500 qdisc mq state UP mode DEFAULT group default qlen 1000\n"
            "    link/ether 52:54:00:2e:e9:71 brd ff:ff:ff:ff:ff:ff\n"
            "    RX:  bytes packets errors dropped  missed   mcast nohandler\n"
            "     18446744073709551615 2 3 4 5 6 7\n"
            "    RX errors:  length    crc   frame    fifo overrun\n"
            "                     8      9      10      11      12\n"
            "    TX:  bytes packets errors dropped carrier collsns\n"
            "           1       2      3       4       5       6\n"
            "    TX errors: aborted   fifo  window heartbt transns\n"
            "                     7      8       9      10      11\n")
    stats = P.ip_link.parse(text)[0]["stats64"]
    assert stats["rx"] == {"bytes": 18446744073709551615, "packets": 2, "errors": 3, "dropped": 4,
                           "missed_errors": 5, "multicast": 6, "nohandler": 7,
                           "length_errors": 8, "crc_errors": 9, "frame_errors": 10,
                           "fifo_errors": 11, "over_errors": 12}
    assert stats["tx"] == {"bytes": 1, "packets": 2, "errors": 3, "dropped": 4,
                           "carrier_errors": 5, "collisions": 6, "aborted_errors": 7,
                           "fifo_errors": 8, "window_errors": 9, "heartbeat_errors": 10,
                           "carrier_changes": 11}


def test_kind_details_vlan_vxlan_and_slave_without_kind():
    text = ("5: vl10@eth0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000\n"
            "    link/ether 02:00:00:00:00:05 brd ff:ff:ff:ff:ff:ff promiscuity 0 minmtu 0 maxmtu 65535 \n"
            "    vlan protocol 802.1Q id 10 <REORDER_HDR> addrgenmode eui64 numtxqueues 1 numrxqueues 1 \n"
            "      ingress-qos-map { 0:0 } \n"
            "6: vx1: <BROADCAST> mtu 1450 qdisc noop state DOWN mode DEFAULT group default qlen 1000\n"
            "    link/ether 02:00:00:00:00:06 brd ff:ff:ff:ff:ff:ff promiscuity 0 \n"
            "    vxlan id 7 remote 192.0.2.1 srcport 10 20 dstport 8472 nolearning ttl inherit ageing 300 noudpcsum addrgenmode none \n")
    vlan, vx = P.ip_link.parse(text)
    assert vlan["linkinfo"] == {"info_kind": "vlan", "info_data": {
        "protocol": "802.1Q", "id": 10, "flags": ["REORDER_HDR"]}}
    assert vlan["num_rx_queues"] == 1 and vlan["link"] == "eth0"
    assert vx["linkinfo"]["info_data"] == {
        "id": 7, "remote": "192.0.2.1", "port_range": {"low": 10, "high": 20}, "port": 8472,
        "learning": False, "ttl_inherit": True, "ageing": 300, "udp_csum": False}
    assert vx["inet6_addr_gen_mode"] == "none"


def test_oneline_addr_merges_records_of_one_link():
    text = ("2: v0    inet 10.9.0.1/24 brd 10.9.0.255 scope global v0\\       valid_lft forever preferred_lft forever\n"
            "2: v0    inet6 fe80::1/64 scope link \\       valid_lft 10sec preferred_lft 5sec\n"
            "4: v2    inet 10.9.1.1 peer 10.9.1.2/32 scope global v2\\       valid_lft forever preferred_lft forever\n")
    links = P.ip_addr.parse(text)
    assert [(ln["ifindex"], ln["ifname"], len(ln["addr_info"])) for ln in links] == [
        (2, "v0", 2), (4, "v2", 1)]
    assert links[0]["addr_info"][1]["valid_life_time"] == 10
    assert links[1]["addr_info"][0] == {
        "family": "inet", "local": "10.9.1.1", "address": "10.9.1.2", "prefixlen": 32,
        "scope": "global", "label": "v2", "valid_life_time": 4294967295,
        "preferred_life_time": 4294967295}


def test_ip_link_ignores_address_lines_and_ip_addr_has_empty_addr_info():
    text = _read(os.path.join(FIXTURES, "ip_addr--altname-noprefixroute.out"))
    assert all("addr_info" not in ln for ln in P.ip_link.parse(text))
    link_text = _read(os.path.join(FIXTURES, "ip_link--bond-permaddr.out"))
    assert all(ln["addr_info"] == [] for ln in P.ip_addr.parse(link_text))


def test_ethtool_stats_odd_keys_and_sections():
    text = ("NIC statistics:\n"
            "     rx_packets: 18446744073709551615\n"
            "     duplicate metric: 1\n"
            "     port.tx-1.bytes: 2\n"
            "     rx_queue[0]: 3\n"
            "     tx_pkts: ab: 4\n"
            "     txq0:\n"
            "          [0]: 5\n"
            "          [1]: 6\n"
            "          bytes: 7\n"
            "     after: 8\n")
    assert P.ethtool_stats.parse(text) == {
        "rx_packets": 18446744073709551615, "duplicate metric": 1, "port.tx-1.bytes": 2,
        "rx_queue[0]": 3, "tx_pkts: ab": 4, "txq0[0]": 5, "txq0[1]": 6, "txq0.bytes": 7,
        "after": 8}


def test_ethtool_stats_no_stats_and_duplicates():
    assert P.ethtool_stats.parse("no stats available\n") == {}
    assert P.ethtool_stats.parse("NIC statistics:\n     a: 1\n     a: 2\n") == {"a": 1, "a#2": 2}


def test_ethtool_features_requested_and_parents():
    text = ("Features for myip:\n"
            "tx-checksumming: off\n"
            "\ttx-checksum-ip-generic: off [requested on]\n"
            "\ttx-checksum-ipv4: off [fixed]\n"
            "netns-local: on [fixed]\n"
            "highdma: on [requested off]\n")
    assert P.ethtool_features.parse(text) == {
        "tx-checksumming": {"active": False, "fixed": None, "requested": None},
        "tx-checksum-ip-generic": {"active": False, "fixed": False, "requested": True},
        "tx-checksum-ipv4": {"active": False, "fixed": True},
        "netns-local": {"active": True, "fixed": True},
        "highdma": {"active": True, "fixed": False, "requested": False},
    }


def test_ethtool_driver_keys():
    got = P.ethtool_driver.parse("driver: veth\nversion: 1.0\nfirmware-version: N/A\nbus-info: \n"
                                 "supports-test: no\n")
    assert got == {"driver": "veth", "version": "1.0", "firmware_version": "N/A",
                   "bus_info": "", "supports_test": False}
    assert P.ethtool_driver.parse("x: y", raw=True) == {"x": "y"}


def test_netns_names_with_spaces_and_negative_id():
    assert P.ip_netns.parse("my ns (id: 3)\nodd(id: x)\n") == [
        {"name": "my ns", "id": 3}, {"name": "odd(id: x)"}]


def test_parsing_wraps_unexpected_exceptions(mocker):
    mocker.patch.object(P.ip_link, "parse", side_effect=KeyError("boom"))
    with pytest.raises(ParseError, match="ip_link: KeyError"):
        nw_parse(P.ip_link, "1: lo: <UP> mtu 1\n")


def test_only_parsing_module_imports_jc():
    package = os.path.join(ROOT, "netnswrap")
    importers = []
    for folder, _, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                tree = ast.parse(_read(os.path.join(folder, name)))
                for node in ast.walk(tree):
                    names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                             else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                    if any(n == "jc" or n.startswith("jc.") for n in names):
                        importers.append(os.path.relpath(os.path.join(folder, name), package))
    assert importers == ["parsing.py"]
