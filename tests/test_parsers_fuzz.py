"""Robustness: mutated, truncated and binary real outputs raise only ParseError;
the work of a parse grows linearly with its input.

A fixed number of seeded mutations of every fixture (`benchmarks/bench_parsers.py
--fuzz SECONDS` runs the same for longer, and reports the slowest parse). No
test here times anything: linearity is checked by counting the lines of
parser code a parse executes, and the regular expressions by their structure.
"""
from __future__ import annotations

import ast
import glob
import os
import random
import sys
import time
from typing import Any, Optional, Tuple

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


def run_fuzz(cases: int = 0, seconds: float = 0.0, seed: int = 1) -> Tuple[int, float, Any]:
    """Parse mutated inputs with every parser, ``cases`` of them or for
    ``seconds``; return how many were tried, and the slowest parse's seconds
    and input (for the benchmark's report: the tests assert on no time)."""
    rng = random.Random(seed)
    texts = corpus()
    deadline = time.monotonic() + seconds if seconds else None
    tried, slowest, slowest_data = 0, 0.0, None
    while (deadline is None or time.monotonic() < deadline) and (not cases or tried < cases):
        data = mutate(rng, rng.choice(texts))
        for module in MODULES:
            start = time.perf_counter()
            try:
                module.parse(data)
            except ParseError:
                pass
            except Exception as exc:  # pragma: no cover - the failure report
                raise AssertionError(f"{module.__name__} raised {exc!r} on {data!r}") from exc
            elapsed = time.perf_counter() - start
            if elapsed > slowest:
                slowest, slowest_data = elapsed, data
        tried += 1
    return tried, slowest, slowest_data


def test_fuzz_mutated_corpus_raises_only_parse_error():
    assert run_fuzz(cases=2000)[0] == 2000


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


# --- linear work, regular expressions that cannot blow up ---------------------

PARSERS_DIR = os.path.dirname(os.path.abspath(P.__file__))


def steps(module, data) -> int:
    """How many lines of netnswrap/parsers code ``module.parse(data)`` executes:
    a measure of its work that no other load on the machine changes. (The
    regular expressions and str methods it calls run in C, uncounted: they
    see a line or a token at a time, see the next test.)"""
    count = 0

    def line(frame, event, arg):
        nonlocal count
        count += event == "line"
        return line

    def call(frame, event, arg):
        return line if frame.f_code.co_filename.startswith(PARSERS_DIR) else None

    previous = sys.gettrace()
    sys.settrace(call)
    try:
        module.parse(data)
    finally:
        sys.settrace(previous)
    return count


def largest_repeatable_fixture(module) -> str:
    """The module's largest fixture whose text, repeated, still parses."""
    prefix = module.__name__.rsplit(".", 1)[1] + "--"
    paths = sorted(glob.glob(os.path.join(FIXTURES, prefix + "*.out")), key=os.path.getsize, reverse=True)
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        try:
            module.parse(text * 2)
        except ParseError:
            continue
        return text
    raise AssertionError(f"no fixture of {module.__name__} parses when repeated")


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_work_grows_linearly_with_the_input(module):
    """8 times the input (the largest fixture repeated 8 and 64 times) costs at
    most 8 times the work; a parse that rescans what it has read costs 64."""
    text = largest_repeatable_fixture(module)
    small, large = steps(module, text * 8), steps(module, text * 64)
    assert small > 0
    assert large <= 8 * small * 1.02, f"{large} steps for 64 copies, {small} for 8: x{large / small:.1f}"


try:  # the regular expression parser of the re module (3.11+), or of sre before it
    from re import _compiler as sre_compile, _constants as sre_constants, _parser as sre_parse
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_compile  # type: ignore[no-redef]
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)


def parser_regexes():
    """Every regular expression written in netnswrap/parsers: the literal
    first argument of each ``re.compile``/``re.fullmatch``/… call."""
    for path in sorted(glob.glob(os.path.join(PARSERS_DIR, "*.py"))):
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"):
                first = node.args[0] if node.args else None
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), \
                    f"{os.path.basename(path)}:{node.lineno}: a regular expression that is not a literal"
                yield f"{os.path.basename(path)}:{node.lineno}", first.value


def _parts(op, av):
    """The sub-patterns of one node of a parsed regular expression."""
    if op in _REPEATS or op == getattr(sre_constants, "POSSESSIVE_REPEAT", None):
        return [av[2]]
    if op == sre_constants.SUBPATTERN:
        return [av[-1]]
    if op == sre_constants.BRANCH:
        return av[1]
    if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return [av[1]]
    if op == getattr(sre_constants, "ATOMIC_GROUP", None):
        return [av]
    if op == sre_constants.GROUPREF_EXISTS:
        return [part for part in av[1:] if part is not None]
    return []


def _can_match(node, char: str) -> bool:
    """Can the one-character node (a class, a category, a literal) match ``char``?"""
    pattern = sre_parse.SubPattern(sre_parse.State() if hasattr(sre_parse, "State") else sre_parse.Pattern(),
                                   [node])
    return sre_compile.compile(pattern, 0).fullmatch(char) is not None


def _leading_literal(parsed) -> str:
    """The literal character a match of ``parsed`` starts with ('' if none)."""
    first = parsed[0] if len(parsed) else None
    while first is not None and first[0] == sre_constants.SUBPATTERN and len(first[1][-1]):
        first = first[1][-1][0]
    return chr(first[1]) if first is not None and first[0] == sre_constants.LITERAL else ""


def ambiguous_nesting(parsed, outer: Optional[str] = None) -> list:
    """The unbounded repeats inside an unbounded repeat that could divide the
    same text between the outer one's iterations in more than one way: all of
    them, unless each outer iteration starts with a literal character (``outer``,
    '' if none) that the inner repeat, of one character, cannot match."""
    found = []
    for op, av in parsed:
        unbounded = op in _REPEATS and av[1] == sre_constants.MAXREPEAT
        if unbounded and outer is not None:
            body = list(av[2])
            if not outer or len(body) != 1 or _can_match(body[0], outer):
                found.append((op, av))
        for part in _parts(op, av):
            found += ambiguous_nesting(part, _leading_literal(av[2]) if unbounded else outer)
    return found


def test_regexes_cannot_backtrack_exponentially():
    """Exponential backtracking needs a repeat within a repeat that can split
    the same characters between iterations in several ways, as ``(a+)+``.
    The parsers' expressions have none: a nested repeat only behind a
    separator it cannot match (``\\d+(/\\d+)*``). (Each is applied to one line
    or token, so polynomial backtracking stays within a line.)"""
    regexes = list(parser_regexes())
    assert len(regexes) > 10
    assert [(where, text) for where, text in regexes if ambiguous_nesting(sre_parse.parse(text))] == []


@pytest.mark.parametrize("pattern, ambiguous", [
    (r"(a+)+$", True), (r"(\w+\s?)*$", True), (r"(?:x*)*", True), (r"(\d|\w)+", False),
    (r"\d+(/\d+)*", False), (r"(?:,[^,]*)*", False), (r"(?:,[^/]*)*", True), (r"(?:,(?:ab)*)*", True),
    (r"(?:/[\d/]+)+", True), (r"(?:/(?:\d+)+)*", True), (r"a(?:b|c+)d", False), (r"(?=(x+)+)", True),
])
def test_the_nesting_check_itself(pattern, ambiguous):
    assert bool(ambiguous_nesting(sre_parse.parse(pattern))) is ambiguous
