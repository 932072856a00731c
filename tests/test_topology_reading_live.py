"""topology(), live, in namespaces of ours (prefix ``nwhd``): the first read
pairs only true peers, with nsids the kernel assigns while it is read; an
unprivileged user sees other namespaces marked unreadable, not empty.
The kernel's answers come from ``tests/kernel.py``."""
from __future__ import annotations

import json
import os

import pytest

import netnswrap as nw
from netnswrap import render
from netnswrap.pytest_plugin import cannot_create_namespaces

import kernel
from test_cli import netnswrap_cli, nobody  # noqa: F401  (the one unprivileged-run fixture)
from test_peers_live import ip

pytestmark = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "-")


def nsids(netns: str) -> list:
    """``ip -n NETNS netns list-id``: the nsids NETNS has assigned so far."""
    return kernel.ip_json(netns, "netns", "list-id")


def ends(pair) -> tuple:
    return tuple((end["netns"], end["ifname"]) if end else None for end in pair)


def test_the_first_read_pairs_true_peers_with_nsids_assigned_while_it_reads(netns_factory):
    """a's ``y`` (ifindex 5) pairs with b's ``x`` (7); d's ``w`` (5) with c's
    ``v`` (7): the ifindexes alone fit both ways round. Each pair was made
    from the namespace of its ``7`` end with the other end created directly
    in place (``peer … netns``), so a and d have no nsids at all until
    something dumps their links: topology() itself makes the kernel assign them."""
    a, b, c, d = (netns_factory("nwhd") for _ in range(4))
    ip("-n", b.name, "link", "add", "x", "index", "7", "type", "veth", "peer", "name", "y", "index", "5",
       "netns", a.name)
    ip("-n", c.name, "link", "add", "v", "index", "7", "type", "veth", "peer", "name", "w", "index", "5",
       "netns", d.name)
    assert nsids(a.name) == [] and nsids(d.name) == []  # nothing assigned yet
    topology = a.topology()
    ours = {a.name, b.name, c.name, d.name}
    pairs = {frozenset(ends(pair)) for pair in topology["veth_pairs"]
             if any(end and end["netns"] in ours for end in pair)}
    assert pairs == {frozenset({(a.name, "y"), (b.name, "x")}), frozenset({(c.name, "v"), (d.name, "w")})}
    # the nsid of b is what a calls it, as y's link_netnsid shows
    spaces = {space["name"]: space for space in topology["namespaces"]}
    y = next(link for link in spaces[a.name]["links"] if link["ifname"] == "y")
    assert spaces[b.name]["nsid"] == y["link_netnsid"] == kernel.link(a.name, "y")["link_netnsid"]
    assert spaces[a.name]["current"] and all(space["readable"] for space in spaces.values())


def test_an_unprivileged_user_sees_other_namespaces_unreadable_not_empty(nobody, netns_factory):  # noqa: F811
    prefix, pythonpath = nobody
    space = netns_factory("nwhd")
    ip("-n", space.name, "link", "add", "nwhdbr", "type", "bridge")
    done = netnswrap_cli("topology", "--json", prefix=prefix, pythonpath=pythonpath, check_status=0)
    topology = json.loads(done.stdout)
    ours = next(s for s in topology["namespaces"] if s["name"] == space.name)
    assert ours["readable"] is False and "Operation not permitted" in ours["error"]
    assert ours["links"] == []  # unknown: marked, never shown as empty
    caller = next(s for s in topology["namespaces"] if s["caller"])
    assert caller["readable"] is True and caller["links"]
    assert topology["hidden_processes"] > 0  # other users' processes exist: root's, at least
    tree = netnswrap_cli("topology", prefix=prefix, pythonpath=pythonpath, check_status=0).stdout
    title = next(line for line in tree.splitlines() if line.startswith(f"netns {space.name}"))
    assert title.endswith("unreadable")
    notes = [line for line in tree.splitlines() if line.startswith("note: ")]
    assert len([n for n in notes if "could not be read" in n]) == 1  # said once
    assert "Operation not permitted; needs root or CAP_NET_ADMIN/CAP_SYS_ADMIN" in notes[0]
    assert any("hidden from this user" in note for note in notes)
    # root reads the same namespace
    assert next(s for s in nw.Netns().topology()["namespaces"] if s["name"] == space.name)["readable"]


def test_a_broken_run_netns_entry_is_named_as_such(netns_factory):
    """A plain file under /run/netns (what an entry is once unmounted) is
    listed by ``ip netns list`` but is no namespace: marked, and said so."""
    broken = f"{netns_factory('nwhd').name}-broken"
    path = f"/run/netns/{broken}"
    open(path, "x").close()
    try:
        topology = nw.Netns().topology()
    finally:
        os.unlink(path)
    space = next(s for s in topology["namespaces"] if s["name"] == broken)
    assert space["readable"] is False
    assert space["error"].endswith(f"/run/netns/{broken} is not a network namespace (a plain file, "
                                   "or no longer mounted)")
    note = [line for line in render.tree(topology).splitlines() if line.startswith("note: ")]
    assert any("not a network namespace" in line for line in note)
