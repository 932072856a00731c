"""A topology file's YAML as plain data, fast: what ``YAML(typ="safe").load``
of ruamel.yaml gives, without building its node tree.

ruamel.yaml's parser (libyaml's, in C, with ``ruamel.yaml.clib``) gives the
events; each plain scalar is resolved by ruamel.yaml's own resolver and
built by its safe constructor, once per distinct text. That is the same data
for every document made of mappings, sequences and scalars that are
strings, numbers, booleans or null — what a topology holds. Anything else
(a tag, an anchor or alias, a ``%YAML`` or ``%TAG`` directive, a second
document, a duplicate or non-scalar key, a scalar that is a date or a merge
key…) is left to ``YAML(typ="safe").load`` itself, which gives its data or
its error.
"""
from __future__ import annotations

from typing import Any, Dict, List

_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null"))


class _Unusual(Exception):
    """The document uses something the fast path leaves to ruamel.yaml's loader."""


def load_yaml(text: str) -> Any:
    """The data of YAML ``text``, as ``YAML(typ="safe").load(text)`` gives it
    (and its errors: ruamel.yaml's ``YAMLError``)."""
    from ruamel.yaml import YAML
    yaml = YAML(typ="safe")
    try:
        return _build(yaml, text)
    except _Unusual:
        return YAML(typ="safe").load(text)


def _build(yaml, text: str) -> Any:
    from ruamel.yaml import events
    from ruamel.yaml.nodes import ScalarNode
    resolver, constructor = yaml.resolver, yaml.constructor
    plain: Dict[str, Any] = {}  # a plain scalar's text -> its value

    def scalar(event) -> Any:
        if event.anchor is not None or event.tag is not None:
            raise _Unusual
        if not event.implicit[0]:  # quoted, or a block scalar: a string
            return event.value
        if event.value not in plain:
            tag = str(resolver.resolve(ScalarNode, event.value, (True, False)))
            if tag not in _PLAIN_TAGS:
                raise _Unusual
            plain[event.value] = constructor.yaml_constructors[tag](constructor, ScalarNode(tag, event.value))
        return plain[event.value]

    # Containers being filled: a list, or a dict with its pending key (a
    # one-item list, empty while a key is awaited).
    stack: List[list] = []
    documents: List[Any] = []

    def add(value: Any) -> None:
        if not stack:
            documents.append(value)
            return
        container, key = stack[-1]
        if isinstance(container, list):
            container.append(value)
        elif not key:
            if isinstance(value, (dict, list)) or value in container:
                raise _Unusual  # a key that is no scalar, or given twice: the loader's error
            key.append(value)
        else:
            container[key.pop()] = value

    for event in yaml.parse(text):
        kind = type(event)
        if kind is events.ScalarEvent:
            add(scalar(event))
        elif kind is events.MappingStartEvent or kind is events.SequenceStartEvent:
            if event.anchor is not None or event.tag is not None:
                raise _Unusual
            stack.append([{} if kind is events.MappingStartEvent else [], []])
        elif kind is events.MappingEndEvent or kind is events.SequenceEndEvent:
            add(stack.pop()[0])
        elif kind is events.DocumentStartEvent:
            if documents or getattr(event, "version", None) or getattr(event, "tags", None):
                raise _Unusual
        elif kind is events.AliasEvent:
            raise _Unusual
    return documents[0] if documents else None
