"""The exported library stays readable: no line over 120 characters, no function over 50 lines (nbdev's generated
header, the module docstring and `__all__`, excepted)."""
import ast
from pathlib import Path

import pytest

LIBRARY = sorted(p for p in (Path(__file__).resolve().parents[1] / 'blackvip').glob('*.py') if p.name != '_modidx.py')


def header_lines(tree):
    "Line numbers nbdev writes: the module docstring and the `__all__` list."
    out = set()
    for node in tree.body[:3]:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        is_all = isinstance(node, ast.Assign) and any(getattr(t, 'id', '') == '__all__' for t in node.targets)
        if is_doc or is_all: out |= set(range(node.lineno, node.end_lineno + 1))
    return out


@pytest.mark.parametrize('path', LIBRARY, ids=lambda p: p.name)
def test_lines_and_functions_are_short(path):
    src = path.read_text()
    tree = ast.parse(src)
    skip = header_lines(tree)
    long_lines = [i for i, line in enumerate(src.splitlines(), 1) if len(line) > 120 and i not in skip]
    assert not long_lines, f'{path.name}: lines over 120 characters: {long_lines} (wrap them in the notebook cell)'
    long_functions = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(tree)
                      if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 50]
    assert not long_functions, f'{path.name}: functions over 50 lines: {long_functions} (split them into named parts)'
