"""addr_flush: the command line, in a handle and a batch, and live."""
from __future__ import annotations

import subprocess

import pytest

import netnswrap as nw

import kernel


def test_addr_flush_is_ip_addr_flush_dev_in_the_handles_namespace_and_in_a_batch():
    runner = nw.DryRunRunner()
    nw.Netns("blue", runner=runner).addr_flush("eth0")
    assert runner.commands == [["ip", "-n", "blue", "addr", "flush", "dev", "eth0"]]
    b = nw.Netns(runner=runner).batch()
    b.addr_flush("eth0")
    assert b.script("/d")[1]["/d/main.0"].splitlines()[0] == "addr flush dev eth0"
    with pytest.raises(nw.InvalidName):
        nw.Netns(runner=runner).addr_flush("a b")


def test_addr_flush_removes_every_address_live(netns):
    subprocess.run(["ip", "-n", netns.name, "link", "add", "fl0", "type", "bridge"], check=True)
    for cidr in ("10.61.0.1/24", "10.61.1.1/24"):
        netns.addr_add("fl0", cidr)
    netns.addr_flush("fl0")
    assert kernel.ipv4(netns.name, "fl0") == []
