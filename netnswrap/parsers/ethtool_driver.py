r"""netnswrap parser for `ethtool -i DEV` text.

Keys are snake_case (`firmware-version` -> `firmware_version`); values are
kept as printed (empty ones as ""), except `supports_*` yes/no, which
become booleans.  Old 4-field outputs (driver, version, firmware-version,
bus-info) work too.

Usage (module):

    import jc
    import netnswrap.parsers.ethtool_driver
    result = jc.parse(netnswrap.parsers.ethtool_driver, ethtool_i_text)

Schema:

    {
      "driver":                  string,
      "version":                 string,
      "firmware_version":        string,
      "expansion_rom_version":   string,
      "bus_info":                string,
      "supports_statistics":     boolean,
      "supports_test":           boolean,
      "supports_eeprom_access":  boolean,
      "supports_register_dump":  boolean,
      "supports_priv_flags":     boolean
    }

Examples:

    >>> parse("driver: veth\nversion: 1.0\nbus-info: \n")
    {'driver': 'veth', 'version': '1.0', 'bus_info': ''}
"""
from __future__ import annotations

import re
from typing import Dict, Union

from ..errors import ParseError
from ._common import ParserInfo, text_of

__version__ = ParserInfo.version


class info(ParserInfo):
    """Parser metadata (jc contract)."""
    description = "`ethtool -i` command parser"
    magic_commands = ["ethtool -i"]


def _process(proc_data: Dict) -> Dict:
    """Turn `supports_*` yes/no into booleans."""
    for key, value in proc_data.items():
        if key.startswith("supports_") and value in ("yes", "no"):
            proc_data[key] = value == "yes"
    return proc_data


def parse(data: Union[str, bytes], raw: bool = False, quiet: bool = False) -> Dict:
    """Parse the text output of `ethtool -i DEV` into a dict with snake_case keys.

    Raises ParseError for malformed input; empty input gives {}.
    """
    text = text_of(data)
    result: Dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z][\w -]*", name.strip()):
            raise ParseError(f"not a 'name: value' line: {line[:60]!r}")
        result[re.sub(r"[\s-]+", "_", name.strip().lower())] = value.strip()
    return result if raw else _process(result)
