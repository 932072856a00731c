"""The package's types hold: ``mypy netnswrap`` (the package ships ``py.typed``)
passes, and there is no import cycle inside it."""
from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "netnswrap")


def test_mypy_passes_on_the_package():
    pytest.importorskip("mypy", reason="mypy is a test dependency: pip install '.[test]'")
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", PACKAGE],
                            capture_output=True, text=True, cwd=os.path.dirname(PACKAGE))
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 0 and errors == [], result.stdout + result.stderr


def imports() -> dict:
    """{module: modules of the package it imports (inside functions too)}."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                name = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].replace(os.sep, ".")
                modules[name.removesuffix(".__init__")] = path
    graph = {}
    for name, path in modules.items():
        package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
                found |= {t for t in [target] + [f"{target}.{a.name}" for a in node.names] if t in modules}
        graph[name] = {t for t in found if t != name and not name.startswith(t + ".")}
    return graph


def test_no_import_cycles():
    graph = imports()
    state: dict = {}

    def visit(module, path):
        if state.get(module) == "open":
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(module):] + [module]))
        if state.get(module) != "done":
            state[module] = "open"
            for target in sorted(graph[module]):
                visit(target, path + [module])
            state[module] = "done"

    for module in sorted(graph):
        visit(module, [])
