"""Small helpers shared by the parser modules: input checks and number conversion."""
from __future__ import annotations

import re
from typing import Union

from ..errors import ParseError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

FOREVER = 4294967295


def text_of(data: Union[str, bytes]) -> str:
    """Return `data` as text; raise ParseError for non-text or binary input."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError("input is not UTF-8 text") from exc
    if not isinstance(data, str):
        raise ParseError(f"input must be str, not {type(data).__name__}")
    bad = _CONTROL.search(data)
    if bad:
        raise ParseError(f"binary data in input (byte {ord(bad.group())!r} at offset {bad.start()})")
    return data


def to_int(value: str, what: str = "value") -> int:
    """Convert a decimal (optionally signed) string to int, else ParseError."""
    if not re.fullmatch(r"-?\d+", value or ""):
        raise ParseError(f"{what}: expected an integer, got {value!r}")
    return int(value)


def scalar(value: str):
    """Convert an iproute2 detail value: on/off -> bool, ints, decimals, else the string."""
    if value in ("on", "off"):
        return value == "on"
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return value


class ParserInfo:
    """jc parser metadata shared by the netnswrap parsers (each subclasses it as `info`)."""
    version = "1.0"
    author = "netnswrap"
    author_email = "netnswrap@localhost"
    compatible = ["linux"]
    tags = ["command"]
