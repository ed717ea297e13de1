"""No product function (designer/, runtime/) is longer than MAX_LINES: a longer one is split into named pieces.
Alembic migration scripts are exempt (a migration is one list of schema operations, read top to bottom)."""

from __future__ import annotations

import ast

from tests.conftest import REPO

MAX_LINES = 80
EXEMPT = ("designer/workspace/migrations/",)


def long_functions(max_lines: int = MAX_LINES) -> list[str]:
    out = []
    for root in ("designer", "runtime"):
        for path in sorted((REPO / root).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel.startswith(EXEMPT):
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > max_lines:
                        out.append(f"{rel}:{node.lineno} {node.name}() is {lines} lines")
    return out


def test_no_product_function_is_longer_than_80_lines():
    assert not long_functions(), "split these into named pieces:\n" + "\n".join(long_functions())


def test_the_check_sees_a_long_function():
    assert long_functions(max_lines=10)  # the walker finds functions at all (guards a broken path or parse)
