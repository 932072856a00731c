"""What /proc says about processes: the oracle of the process tests (no
netnswrap code involved)."""
from __future__ import annotations

import os
import time
from typing import Callable, List, Optional


def stat(pid: int) -> Optional[List[str]]:
    """The fields of ``/proc/PID/stat`` after the command name (state first,
    then ppid, pgrp…), or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(") ", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie."""
    fields = stat(pid)
    return fields is not None and fields[0] != "Z"


def children(parent: Optional[int] = None, *, zombies: bool = False) -> List[int]:
    """PIDs whose parent is ``parent`` (default: this process): the living
    ones, or with ``zombies`` only the zombies."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = stat(int(entry))
            if fields is not None and int(fields[1]) == parent and (fields[0] == "Z") == zombies:
                found.append(int(entry))
    return found


def in_group(pgid: int) -> List[int]:
    """Living processes of process group ``pgid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = stat(int(entry))
            if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
                found.append(int(entry))
    return found


def open_fds() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Poll ``predicate`` until it holds (True) or ``seconds`` pass (False)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
