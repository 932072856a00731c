"""The one place netnswrap calls jc (run a parser module on command output),
and the one place it reads a tool's JSON output (``ip -j``)."""
from __future__ import annotations

import json
from types import ModuleType
from typing import Any, List

from .errors import ParseError


def parse(parser_module: ModuleType, text: str) -> Any:
    """Parse `text` with a jc-compatible parser module (one of netnswrap.parsers).

    Equivalent to `jc.parse(parser_module, text, quiet=True)`; any failure
    other than ParseError is raised as ParseError naming the parser.
    """
    import jc

    try:
        return jc.parse(parser_module, text, quiet=True)
    except ParseError:
        raise
    except Exception as exc:  # a parser bug or a jc error must not escape as another type
        name = getattr(parser_module, "__name__", repr(parser_module))
        raise ParseError(f"{name.rsplit('.', 1)[-1]}: {type(exc).__name__}: {exc}") from exc


def load_json_list(result) -> List[dict]:
    """The list of objects a ``-j`` command printed (``ip -j link``, ``ip -j
    netns list`` …); empty output is ``[]``.

    Anything else — not JSON, or JSON of another shape (``5``, ``null``,
    ``{"ifname": …}``, ``[1]``), as an edited cassette may replay — raises
    :class:`ParseError` naming the command. ``result`` is a
    :class:`~netnswrap.runners.Result`.
    """
    text = result.stdout.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"not JSON: {exc}", argv=result.argv) from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ParseError(f"unexpected JSON: a list of objects expected, not {_shape(data)}", argv=result.argv)
    return data


def _shape(data) -> str:
    """A short description of a JSON value's shape: ``an object``, ``a list holding a number``."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    if isinstance(data, list):
        odd = next(item for item in data if not isinstance(item, dict))
        return f"a list holding {names[type(odd)]}"
    return names[type(data)]
