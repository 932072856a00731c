"""Namespace add, list and delete against the kernel (root)."""
from __future__ import annotations

import json
import subprocess

import pytest

import netnswrap as nw
from netnswrap.pytest_plugin import cannot_create_namespaces, unique_netns_name

pytestmark = pytest.mark.skipif(bool(cannot_create_namespaces()), reason=cannot_create_namespaces() or "-")


def kernel_namespaces() -> set:
    out = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {entry["name"] for entry in json.loads(out or "[]")}


def test_add_list_delete():
    name = unique_netns_name()
    handle = nw.netns_add(name)
    try:
        assert name in kernel_namespaces()
        assert handle.name == name and nw.netns_exists(name)
        assert name in {entry["name"] for entry in nw.netns_list()}
        with pytest.raises(nw.NamespaceExists) as caught:
            nw.netns_add(name)
        assert caught.value.argv == ("ip", "netns", "add", name)
    finally:
        nw.netns_del(name)
    assert name not in kernel_namespaces() and not nw.netns_exists(name)
    with pytest.raises(nw.NamespaceNotFound):
        nw.netns_del(name)


def test_context_manager_deletes_on_exception():
    name = unique_netns_name()
    with pytest.raises(RuntimeError):
        with nw.netns_add(name) as handle:
            assert handle.link_list()[0]["ifname"] == "lo"
            raise RuntimeError("fails half-way")
    assert name not in kernel_namespaces()


def test_plugin_fixture_namespace_is_live(netns):
    assert netns.name in kernel_namespaces()
    assert [link["ifname"] for link in netns.link_list()] == ["lo"]
