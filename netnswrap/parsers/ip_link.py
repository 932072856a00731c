r"""netnswrap parser for `ip link show` text (iproute2 of any version, busybox).

Reads normal, `-o`, `-d`, `-s` and `-s -s` output of iproute2 and busybox
`ip link` and gives the dictionaries `ip -d -s -j link show` prints for the
same state, for every field the text shows.  `ip addr` text is accepted too
(its address lines are ignored; use `ip_addr` for them).

Usage (module):

    import jc
    import netnswrap.parsers.ip_link
    result = jc.parse(netnswrap.parsers.ip_link, ip_link_text)

    # or without jc:
    result = netnswrap.parsers.ip_link.parse(ip_link_text)

Schema (keys appear only when the text shows them):

    [
      {
        "ifindex":            integer,
        "link":               string/null,  # @NAME; null for @NONE
        "link_index":         integer,      # @ifN (peer in another netns)
        "ifname":             string,
        "flags":              [string],
        "mtu":                integer,
        "qdisc":              string,
        "master":             string,
        "operstate":          string,
        "linkmode":           string,
        "group":              string,
        "txqlen":             integer,
        "link_type":          string,
        "address":            string,
        "broadcast":          string,
        "link_pointtopoint":  boolean,      # link/gre A peer B
        "permaddr":           string,
        "link_netnsid":       integer,      # link-netnsid N
        "link_netns":         string,       # link-netns NAME
        "promiscuity":        integer,
        "allmulti":           integer,
        "min_mtu":            integer,
        "max_mtu":            integer,
        "linkinfo": {
          "info_kind":        string,
          "info_data":        object,
          "info_slave_kind":  string,
          "info_slave_data":  object
        },
        "inet6_addr_gen_mode": string,
        "num_tx_queues":      integer,
        "num_rx_queues":      integer,
        "gso_max_size":       integer,
        "gso_max_segs":       integer,
        "tso_max_size":       integer,
        "tso_max_segs":       integer,
        "gro_max_size":       integer,
        "parentbus":          string,
        "parentdev":          string,
        "ifalias":            string,
        "altnames":           [string],
        "stats64": {
          "rx": {"bytes": integer, "packets": integer, "errors": integer,
                 "dropped": integer, "over_errors": integer,
                 "multicast": integer, ...},
          "tx": {"bytes": integer, "packets": integer, "errors": integer,
                 "dropped": integer, "carrier_errors": integer,
                 "collisions": integer, ...}
        }
      }
    ]

Examples:

    >>> text = '''2: v0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000
    ...     link/ether 56:17:1e:b6:d4:b7 brd ff:ff:ff:ff:ff:ff link-netnsid 0'''
    >>> parse(text)[0]["link_index"], parse(text)[0]["link_netnsid"]
    (2, 0)
"""
from __future__ import annotations

from typing import Dict, List, Union

from ._common import ParserInfo, text_of
from ._iplink_text import parse_records

__version__ = ParserInfo.version


class info(ParserInfo):
    """Parser metadata (jc contract)."""
    description = "`ip link show` command parser (iproute2 and busybox text)"
    magic_commands = ["ip link", "ip link show"]


def _process(proc_data: List[Dict]) -> List[Dict]:
    """Types are final after the raw pass; nothing to convert."""
    return proc_data


def parse(data: Union[str, bytes], raw: bool = False, quiet: bool = False) -> List[Dict]:
    """Parse the text output of `ip [-d] [-s [-s]] [-o] link show` (or busybox `ip link`).

    Returns a list of link dicts keyed like `ip -j -d link show`; raises
    ParseError for malformed input; empty input gives [].
    """
    text = text_of(data)
    if not text.strip():
        return []
    links = [link for link, _ in parse_records(text)]
    return links if raw else _process(links)
