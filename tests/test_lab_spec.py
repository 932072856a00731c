"""Topology files offline: the examples load and match the shipped JSON
Schema; each broken rule is an InvalidArgument naming the file, the line,
the place in the document and what was given, before any command runs; a
plan on an empty host (a dry run) is the exact command lines, by namespace."""
from __future__ import annotations

import json

import pytest

import netnswrap as nw
from netnswrap import lab
from netnswrap.lab.spec import SpecError, load
from netnswrap.ops.kinds import KINDS
from netnswrap.runners import DryRunRunner

from lab_helpers import EXAMPLES

GOOD = """\
namespaces:
  r:
    links:
      br0: {kind: bridge}
    interfaces:
      eth1: {addresses: [10.76.1.1/24], master: br0}
  h1:
    interfaces:
      eth0: {addresses: [10.76.1.2/24]}
    routes: [{dst: default, via: 10.76.1.1}]
links:
  - endpoints: ["r:eth1", "h1:eth0"]
"""


def write(tmp_path, text: str, name: str = "lab.yml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def examples():
    return sorted(EXAMPLES.glob("*.yml"))


@pytest.mark.parametrize("path", examples(), ids=lambda p: p.name)
def test_examples_load_and_match_the_schema(path):
    jsonschema = pytest.importorskip("jsonschema")
    checked = load(str(path))
    assert checked.namespaces and all("lo" in ns.interfaces for ns in checked.namespaces.values())
    schema = json.load(open(lab.schema_path()))
    data = lab.spec.parse(str(path), path.read_text())
    jsonschema.validate(data, schema)


def test_schema_lists_every_kind_with_its_options():
    schema = json.load(open(lab.schema_path()))
    branches = schema["$defs"]["link"]["oneOf"]
    described = {}
    for branch in branches:
        options = set(branch["properties"]) - {"kind"}
        for kind in branch["properties"]["kind"]["enum"]:
            described[kind] = options
    assert described == {kind: set(row.options) for kind, row in KINDS.items() if kind != "veth"}


def test_schema_rejects_what_the_loader_rejects(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.load(open(lab.schema_path()))
    bad = {"namespaces": {"a": {"interfaces": {"eth0": {"mtu": "big"}}}}, "links": [{"endpoints": ["a:eth0"]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    with pytest.raises(nw.InvalidArgument):
        load(bad)


def error_of(tmp_path, text: str, name: str = "lab.yml") -> SpecError:
    runner = DryRunRunner()
    with pytest.raises(SpecError) as caught:
        nw.apply(write(tmp_path, text, name), runner=runner)
    assert runner.commands == []  # nothing ran, not even a read
    assert isinstance(caught.value, nw.InvalidArgument)
    return caught.value


def test_endpoint_naming_an_undeclared_namespace(tmp_path):
    error = error_of(tmp_path, GOOD + '  - endpoints: ["r:eth2", "h9:eth0"]\n')
    assert error.place == "links[1].endpoints[1]" and error.line == 13
    assert str(error).startswith(f"{tmp_path}/lab.yml:13: links[1].endpoints[1]: ")
    assert "namespace 'h9' is not declared" in str(error) and "'h9:eth0'" in str(error)


def test_duplicate_interface(tmp_path):
    error = error_of(tmp_path, GOOD + '  - endpoints: ["r:eth1", "h1:eth1"]\n')
    assert error.place == "links[1].endpoints[0]"
    assert "duplicate interface" in error.rule and "links[0].endpoints[0]" in error.rule
    # a veth end named like a link the namespace declares
    error = error_of(tmp_path, GOOD + '  - endpoints: ["r:br0", "h1:eth1"]\n')
    assert error.place == "links[1].endpoints[0]" and "namespaces.r.links.br0" in error.rule


def test_address_in_two_places(tmp_path):
    text = GOOD.replace("eth0: {addresses: [10.76.1.2/24]}",
                        "eth0: {addresses: [10.76.1.2/24]}\n      lo: {addresses: [10.76.1.2/32]}")
    error = error_of(tmp_path, text)
    assert error.place == "namespaces.h1.interfaces.lo.addresses[0]" and error.line == 10
    assert "10.76.1.2 is in two places" in error.rule and "'10.76.1.2/32'" in error.rule


def test_invalid_cidr(tmp_path):
    error = error_of(tmp_path, GOOD.replace("10.76.1.2/24", "10.76.1.300/24"))
    assert error.place == "namespaces.h1.interfaces.eth0.addresses[0]" and error.line == 9
    assert "'10.76.1.300/24'" in error.rule


@pytest.mark.parametrize("change, place, words", [
    (("eth1: {addresses: [10.76.1.1/24], master: br0}", "eth1: {adresses: [10.76.1.1/24]}"),
     "namespaces.r.interfaces.eth1.adresses", "unknown key 'adresses'"),
    (("master: br0", "master: eth1"), "namespaces.r.interfaces.eth1.master", "bridge or bond"),
    (("br0: {kind: bridge}\n    interfaces:\n", "br0: {kind: bridge}\n    interfaces:\n      br0: {master: br0}\n"),
     "namespaces.r.interfaces.br0.master", "cannot be its own master"),
    (("br0: {kind: bridge}\n    interfaces:\n",
      "br0: {kind: bridge}\n      br1: {kind: bridge}\n    interfaces:\n      br1: {master: br0}\n"),
     "namespaces.r.interfaces.br1.master", "a bridge cannot be a port of another bridge"),
    (("h1:\n    interfaces:\n      eth0", "h1:\n    interfaces:\n      eth7"),
     "namespaces.h1.interfaces.eth7", "not made by this file"),
    (("{dst: default, via: 10.76.1.1}", "{dst: default, via: 10.76.1.1, dev: eth5}"),
     "namespaces.h1.routes[0].dev", "'eth5' is no interface"),
    (("{dst: default, via: 10.76.1.1}", "{dst: default, via: 10.76.1.1}, {dst: default, via: 10.76.1.9}"),
     "namespaces.h1.routes[1]", "declared twice"),
    (("{dst: default, via: 10.76.1.1}", "{dst: 10.0.0.1/8, via: 10.76.1.1}"),
     "namespaces.h1.routes[0]", "'10.0.0.1/8'"),
    (("br0: {kind: bridge}", "br0: {kind: veth, peer: x}"), "namespaces.r.links.br0.kind", "top-level links"),
    (("br0: {kind: bridge}", "br0: {kind: bridge, mtu: 9000}"), "namespaces.r.links.br0.mtu",
     "setting of the interface"),
    (("br0: {kind: bridge}", "br0: {kind: vxlan, id: 99999999}"), "namespaces.r.links.br0", "VXLAN id"),
    (("br0: {kind: bridge}", "br0: {kind: bridge}\n    sysctls: {kernel.pid_max: 10}"),
     "namespaces.r.sysctls[\"kernel.pid_max\"]", "whole host"),
    (("  h1:\n", "  'h 1':\n"), 'namespaces["h 1"]', "whitespace"),
    (('["r:eth1", "h1:eth0"]', '["r:eth1"]'), "links[0].endpoints", "two 'NAMESPACE:INTERFACE'"),
    (('"h1:eth0"]', '"h1:eth0/1"]'), "links[0].endpoints[1]", "'eth0/1'"),
])
def test_each_rule_names_its_place(tmp_path, change, place, words):
    old, new = change
    assert old in GOOD
    error = error_of(tmp_path, GOOD.replace(old, new, 1))
    assert error.place == place and words in error.rule, str(error)
    assert error.line is not None and str(error).startswith(f"{tmp_path}/lab.yml:{error.line}: {place}: ")


def test_lower_devices_in_a_cycle(tmp_path):
    text = GOOD.replace("br0: {kind: bridge}", "br0: {kind: bridge}\n      m1: {kind: macvlan, link: m2}\n"
                        "      m2: {kind: macvlan, link: m1}")
    error = error_of(tmp_path, text)
    assert error.place == "namespaces.r.links" and "cycle" in error.rule


def test_syntax_errors_name_file_and_line(tmp_path):
    error = error_of(tmp_path, GOOD.replace("eth0: {addresses: [10.76.1.2/24]}", "eth0: {addresses: [10.76.1.2/24]"))
    assert "not valid YAML" in error.rule and error.line in (9, 10)
    error = error_of(tmp_path, '{"namespaces": {"a": {}},\n "links": [}', "lab.json")
    assert str(error).startswith(f"{tmp_path}/lab.json:2: not valid JSON")
    error = error_of(tmp_path, '{"namespaces": {"a": {}, "b": {}, "a": {"sysctls": null}}}', "lab.json")
    assert "the key 'a' is given twice" in error.rule  # (json alone keeps the last silently)
    error = error_of(tmp_path, GOOD.replace("  h1:\n", "  r:\n    links: null\n  h1:\n"))
    assert "duplicate key" in error.rule
    error = error_of(tmp_path, "- just\n- a list\n")
    assert "must be a mapping" in error.rule


def test_a_dict_is_named_as_such():
    with pytest.raises(SpecError, match=r"^<dict>: links\[0\]\.endpoints\[0\]: .*'x' is not declared"):
        load({"namespaces": {"a": None}, "links": [{"endpoints": ["x:e0", "a:e0"]}]})


def test_cli_prints_one_line(tmp_path, capsys):
    from netnswrap.cli import main
    path = write(tmp_path, GOOD + '  - endpoints: ["r:eth2", "h9:eth0"]\n')
    assert main(["--dry-run", "apply", path, "--plan"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"netnswrap: error: {path}:13: links[1].endpoints[1]: namespace 'h9'")


def test_plan_on_an_empty_host_is_the_exact_lines_by_namespace(tmp_path):
    groups = lab.plan_groups(write(tmp_path, GOOD), runner=DryRunRunner())
    assert groups == [
        ("the caller's namespace", ["ip netns add r", "ip netns add h1"]),
        ("netns r", ["ip -n r link add br0 up type bridge",
                     "ip -n r link add eth1 up master br0 type veth peer name eth0 netns h1",
                     "ip -n r link set dev lo up",
                     "ip -n r addr add 10.76.1.1/24 dev eth1"]),
        ("netns h1", ["ip -n h1 link set dev eth0 up",
                      "ip -n h1 link set dev lo up",
                      "ip -n h1 addr add 10.76.1.2/24 dev eth0",
                      "ip -n h1 route add default via 10.76.1.1"]),
    ]
    assert nw.plan(write(tmp_path, GOOD), runner=DryRunRunner()) == [line for _, g in groups for line in g]


def test_rename_moves_namespaces_and_endpoints():
    data = lab.rename(lab.spec.parse("x.yml", GOOD), {"r": "lab-r"})
    assert set(data["namespaces"]) == {"lab-r", "h1"}
    assert data["links"][0]["endpoints"] == ["lab-r:eth1", "h1:eth0"]
    load(data)


def test_dump_loads_back(tmp_path):
    data = lab.spec.parse("x.yml", GOOD)
    for as_json, name in ((False, "a.yml"), (True, "a.json")):
        assert lab.spec.parse(name, lab.dump(data, as_json=as_json)) == data


@pytest.mark.parametrize("text, said", [
    ("namespaces:\n  null: {}\n", "a key must be a string; given None"),
    ("namespaces:\n  1.5: {}\n", "a key must be a string; given 1.5"),
    ("namespaces:\n  ? [a, b]\n  : {}\n", "a key must be a string"),
    ("namespaces:\n  2026-01-01: {}\n", "a key must be a string; given datetime.date"),
    ("[" * 30000 + "\n", "nested deeper than 32 levels"),
    ("namespaces: " + "[" * 40 + "]" * 40 + "\n", "nested deeper than 32 levels"),
])
def test_odd_keys_and_deep_nesting_are_one_line_errors(tmp_path, text, said):
    path = tmp_path / "odd.yml"
    path.write_text(text)
    with pytest.raises(SpecError, match=said.replace("[", r"\[").replace(".", r"\.")):
        load(path)


def test_a_yaml_alias_bomb_is_refused_before_any_message_grows(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    path = tmp_path / "bomb.yml"
    path.write_text("\n".join(lines) + "\nnamespaces:\n  r:\n    sysctls: {net.ipv4.ip_forward: *a9}\n")
    with pytest.raises(SpecError, match="used twice") as raised:
        load(path)
    assert len(str(raised.value)) < 300


def test_deeply_nested_json_and_odd_dict_keys_are_errors(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(SpecError, match="nested deeper"):
        load(path)
    for spec in ({"namespaces": {None: {}}}, {"namespaces": {("a",): {}}}):
        with pytest.raises(SpecError, match="a key must be a string"):
            load(spec)
