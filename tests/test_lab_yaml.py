"""Topology YAML read fast (netnswrap.lab.yaml_data) gives exactly what
ruamel.yaml's safe loader gives: the same data, of the same types, or the
same error."""
from __future__ import annotations

import glob
import os

import pytest
from hypothesis import given, settings, strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from netnswrap.lab import yaml_data
from netnswrap.lab.yaml_data import load_yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def safe_load(text):
    return YAML(typ="safe").load(text)


def same(text):
    """load_yaml(text) is safe_load(text): equal, and of the same types all through."""
    try:
        expected = safe_load(text)
    except YAMLError as exc:
        with pytest.raises(type(exc)):
            load_yaml(text)
        return
    found = load_yaml(text)
    assert repr(found) == repr(expected) and _types(found) == _types(expected), text  # (repr: nan is nan)


def _types(value):
    if isinstance(value, dict):
        return {str(k): _types(v) for k, v in value.items()}, [type(k) for k in value]
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "examples", "topologies", "*.yml"))))
def test_every_example_reads_the_same_the_fast_way(path):
    text = open(path).read()
    same(text)
    assert yaml_data._build(YAML(typ="safe"), text) == safe_load(text)  # no fallback to the loader


# Plain scalars that resolve to each type under YAML 1.2 (and some that
# look like others: YAML 1.1 booleans, octals, dates, special floats).
SCALARS = ["0", "-0", "+12", "0o17", "017", "0x1F", "0b101", "1_000", "1.5", "-.5", "1e3", "1E-3", ".inf",
           "-.Inf", ".nan", "true", "False", "TRUE", "yes", "No", "on", "off", "y", "n", "~", "null", "NULL",
           "", "10.76.1.1/24", "fd76::1/64", "default", "h1:eth0", "0.0.0.0/0", "1:2", "12:30:00", "2001-12-14",
           "2001-12-14t21:59:43.10-05:00", "<<", "=", "!", "&", "*x", "a b", "1.2.3", "0.1.0", "-", "--", "0x",
           "1__0", "+.inf", "3.", "1_0.5"]


@pytest.mark.parametrize("scalar", SCALARS)
def test_a_scalar_reads_the_same_plain_quoted_as_key_and_in_a_list(scalar):
    for text in (f"value: {scalar}\n", f"value: '{scalar}'\n", f"{scalar}: 1\n" if scalar else "x: 1\n",
                 f"- {scalar}\n- [{scalar}, {scalar}]\n", f"a: {{b: [{scalar}]}}\n", f"{scalar}\n"):
        same(text)


@pytest.mark.parametrize("text", [
    "", "# only a comment\n", "---\n", "---\na: 1\n...\n", "a: 1\n---\nb: 2\n",             # documents
    "a: &x [1]\nb: *x\n", "base: &b {x: 1}\nd: {<<: *b, y: 2}\n", "a: !!str 12\n",       # anchors, tags
    "a: !!int '12'\n", "a: !custom 1\n", "%YAML 1.1\n---\na: yes\nb: 017\n",                # directives
    "%TAG !e! tag:example.com,2000:\n---\na: 1\n", "a: 1\na: 2\n", "? [1, 2]\n: x\n",     # keys
    "a: |\n  text\n  more\nb: >\n  folded\n", "a: \"\\t\\u00e9\"\n", "[1, {a: [2, {}]}, []]\n",
    "a: [1, 2\n", "a: b: c\n", "- a\nb: 1\n", "a:\n  - 1\n   - 2\n",                      # errors
])
def test_a_document_reads_the_same_or_fails_the_same(text):
    same(text)


KEYS = st.text(alphabet="abcdefghij-_0123456789.:/ ", min_size=1, max_size=8)
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                   st.floats(allow_nan=False, width=32), st.sampled_from(SCALARS),
                   st.text(alphabet="abcxyz019.:/-_ #'\"", max_size=10))
DATA = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                    st.dictionaries(KEYS, inner, max_size=4)), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(DATA, st.sampled_from([None, True, False]))
def test_random_documents_read_the_same(data, flow):
    import io
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    out = io.StringIO()
    yaml.dump(data, out)
    same(out.getvalue())


def test_an_unusual_document_goes_to_the_loader_itself(monkeypatch):
    calls = []
    real = yaml_data._build
    monkeypatch.setattr(yaml_data, "_build", lambda *args: calls.append(1) or real(*args))
    assert load_yaml("a: &x [1]\nb: *x\n") == {"a": [1], "b": [1]}
    assert load_yaml("d: 2001-12-14\n")["d"].year == 2001  # a date, as ruamel.yaml makes it
    with pytest.raises(YAMLError, match="duplicate key"):
        load_yaml("a: 1\na: 2\n")
    assert len(calls) == 3  # each tried the fast way first
