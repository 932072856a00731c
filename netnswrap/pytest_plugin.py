"""pytest plugin (registered as ``pytest11`` entry point ``netnswrap``).

Fixtures:

- ``netns_factory`` — call it (``netns_factory()``) for a fresh, uniquely
  named namespace (a :class:`~netnswrap.Netns`); every one it made is deleted
  after the test, also when the test fails.
- ``netns`` — one such namespace.

Both skip the test, with the reason, where namespaces cannot be created
(not root, no ``ip``).

Marker ``@pytest.mark.netnswrap_cassette("path.json")`` runs the test with a
:class:`~netnswrap.ReplayRunner` on that cassette (relative to the test
file) as the default runner; with ``--netnswrap-record`` the test runs live
and the cassette is recorded instead (saved after the test, also when it
fails). In a test with the marker the fixtures' namespaces get names derived
from the test's id, the same in every run, so a recording replays; when
replaying they need neither root nor ``ip``.
"""
from __future__ import annotations

import itertools
import os
import shutil
import uuid
import zlib
from pathlib import Path

import pytest

from .errors import NamespaceNotFound
from .handle import Netns
from .defaults import use_runner

_serial = itertools.count(1)


def pytest_addoption(parser):
    parser.addoption("--netnswrap-record", action="store_true", default=False,
                     help="run tests marked netnswrap_cassette live and record their cassettes")


def pytest_configure(config):
    config.addinivalue_line("markers", "netnswrap_cassette(path): replay (or with "
                            "--netnswrap-record, record) the test's commands from/to a cassette")


def cannot_create_namespaces() -> str:
    """Why this process cannot create namespaces ('' if it can)."""
    if shutil.which("ip") is None:
        return "needs the ip command (Debian package iproute2)"
    if os.geteuid() != 0:
        return "needs root (or CAP_NET_ADMIN/CAP_SYS_ADMIN) to create network namespaces"
    return ""


def unique_netns_name(prefix: str = "nwt") -> str:
    """A namespace name no other test run uses: prefix, PID, a counter, randomness."""
    return f"{prefix}{os.getpid()}-{next(_serial)}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def netns_factory(request, _netnswrap_cassette):
    """Make throwaway namespaces: ``netns_factory(prefix="nwt")`` → Netns."""
    reason = "" if _netnswrap_cassette == "replay" else cannot_create_namespaces()
    if reason:
        pytest.skip(reason)
    made = []
    # Under a cassette the names must be the same in the recording and the replay.
    stable = zlib.crc32(request.node.nodeid.encode()) if _netnswrap_cassette else None

    def make(prefix: str = "nwt") -> Netns:
        name = f"{prefix}{stable:08x}-{len(made) + 1}" if stable is not None else unique_netns_name(prefix)
        handle = Netns().netns_add(name)
        made.append(handle)
        return handle

    yield make
    for handle in reversed(made):
        try:
            Netns().netns_del(handle.name)
        except NamespaceNotFound:
            pass


@pytest.fixture
def netns(netns_factory):
    """A fresh, uniquely named namespace, deleted after the test."""
    return netns_factory()


@pytest.fixture(autouse=True)
def _netnswrap_cassette(request):
    """Set the default runner for a test marked ``netnswrap_cassette``;
    yields ``"record"``, ``"replay"`` or None (no marker)."""
    marker = request.node.get_closest_marker("netnswrap_cassette")
    if marker is None:
        yield None
        return
    from .cassette import RecordingRunner, ReplayRunner
    if len(marker.args) != 1:
        pytest.fail('netnswrap_cassette takes one path: @pytest.mark.netnswrap_cassette("name.json")',
                    pytrace=False)
    path = Path(request.node.path).parent / marker.args[0]  # an absolute path stays as it is
    if request.config.getoption("--netnswrap-record"):
        runner = RecordingRunner(path)
        with use_runner(runner):
            yield "record"
        runner.save()
    else:
        with use_runner(ReplayRunner(path)):
            yield "replay"
