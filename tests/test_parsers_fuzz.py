"""Robustness: mutated, truncated and binary real outputs raise only ParseError.

Runs a few seconds: a fixed number of seeded mutations of every fixture.
`benchmarks/bench_parsers.py --fuzz SECONDS` runs the same for longer.
"""
from __future__ import annotations

import glob
import os
import random
import time

import pytest

import netnswrap.parsers as P
from netnswrap.errors import ParseError

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "fixtures", "parsers")
MODULES = [P.ip_link, P.ip_addr, P.ip_netns, P.ip_route, P.ip_neigh, P.ethtool_stats,
           P.ethtool_features, P.ethtool_driver]
TOKENS = [" ", "\n", ":", "@", "<", ">", "\\", "/", "[", "]", "(", ")", "0", "-1",
          "99999999999999999999999", "inet", "inet6", "link/", "RX:", "TX errors:",
          "valid_lft", "forever", "peer", "brd", "flags", "sec", "on", "off", "nsid",
          "\t", "é", "\x00", "\ufffd", "altname", "veth", "vxlan", "srcport", "ttl"]


def corpus():
    texts = []
    for path in sorted(glob.glob(os.path.join(FIXTURES, "*.out"))):
        with open(path, encoding="utf-8") as fh:
            texts.append(fh.read())
    return texts


def mutate(rng: random.Random, text: str) -> object:
    """One random damage: truncate, flip, splice tokens, shuffle lines, or bytes."""
    choice = rng.randrange(7)
    if choice == 0 and text:
        return text[:rng.randrange(len(text))]
    if choice == 1 and text:
        i = rng.randrange(len(text))
        return text[:i] + chr(rng.randrange(32, 0x2FF)) + text[i + 1:]
    if choice == 2:
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(TOKENS) + text[i:]
    if choice == 3:
        lines = text.splitlines(True)
        rng.shuffle(lines)
        return "".join(lines[: rng.randrange(len(lines) + 1)])
    if choice == 4:
        words = text.split(" ")
        if words:
            del words[rng.randrange(len(words))]
        return " ".join(words)
    if choice == 5:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
    return text.encode("utf-8")[: rng.randrange(len(text) + 1)]


def run_fuzz(seconds: float, seed: int = 1, max_cases: int = 0) -> int:
    """Parse mutated inputs with every parser; return how many were tried."""
    rng = random.Random(seed)
    texts = corpus()
    deadline = time.monotonic() + seconds
    cases = 0
    while time.monotonic() < deadline and (not max_cases or cases < max_cases):
        data = mutate(rng, rng.choice(texts))
        for module in MODULES:
            start = time.monotonic()
            try:
                module.parse(data)
            except ParseError:
                pass
            except Exception as exc:  # pragma: no cover - the failure report
                raise AssertionError(f"{module.__name__} raised {exc!r} on {data!r}") from exc
            assert time.monotonic() - start < 1.0, f"{module.__name__} slow on {data!r}"
        cases += 1
    return cases


def test_fuzz_mutated_corpus_raises_only_parse_error():
    assert run_fuzz(seconds=3.0, max_cases=4000) > 100


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_prefix_of_every_fixture(module):
    """Truncation at every line boundary never raises anything but ParseError."""
    for text in corpus():
        lines = text.splitlines(True)
        for n in range(len(lines) + 1):
            try:
                module.parse("".join(lines[:n]))
            except ParseError:
                pass


def test_large_input_is_linear():
    with open(os.path.join(FIXTURES, "ip_addr--live-addr.out"), encoding="utf-8") as fh:
        text = fh.read()
    timings = []
    for copies in (50, 400):
        start = time.perf_counter()
        P.ip_addr.parse(text * copies)
        timings.append(time.perf_counter() - start)
    assert timings[1] < timings[0] * 8 * 3 + 0.05
