"""The one place netnswrap calls jc: run a parser module on command output."""
from __future__ import annotations

from types import ModuleType
from typing import Any

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
