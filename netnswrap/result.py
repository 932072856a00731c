"""What a command did: :class:`Result` (a leaf, so that runners and the
processes they spawn can both hand one out)."""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Tuple

from .classify import classify


@dataclass(frozen=True)
class Result:
    """What a command did: its argv, exit status and decoded output."""

    argv: Tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def command(self) -> str:
        """The command as a shell line."""
        return shlex.join(self.argv)

    def check(self) -> "Result":
        """This result, or the typed error (:func:`~netnswrap.errors.classify`) if it failed."""
        error = classify(self.argv, self.returncode, self.stdout, self.stderr)
        if error is not None:
            raise error
        return self
