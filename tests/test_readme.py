"""The README's Python examples run and give the values their comments state."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (PROJECT / "README.md").read_text(), re.S)


def _expected(line: str) -> tuple[str, str] | None:
    """`expr   # value` lines whose comment is a Python literal: (expression, literal)."""
    code, _, comment = line.partition("#")
    code, comment = code.strip(), comment.strip()
    if not code or "=" in code.split("(")[0] or not comment:
        return None
    try:
        ast.literal_eval(comment)
    except (ValueError, SyntaxError):
        return None
    return code, comment


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example(block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT)
    checked = 0
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    for line in block.splitlines():
        expected = _expected(line)
        if expected:
            code, literal = expected
            assert eval(code, namespace) == ast.literal_eval(literal), line
            checked += 1
    assert checked or "check_program" not in block
