"""The layering rules of docs/architecture.md, checked on the source (ast, no imports).

1. The library (``verifier`` outside ``verifier/cli/``) never imports ``adapters``,
   ``baselines`` or ``reports``, not even inside a function: the CLI wires them in.
2. SQL is written only in ``verifier/store/``.
3. No import cycles between modules (imports under ``if TYPE_CHECKING:`` do not run and
   are left out).
4. Functions stay under 80 lines (training scripts excepted) and modules under 450 lines
   (report renderers excepted).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("verifier", "adapters", "baselines", "reports")
WIRED = ("adapters", "baselines", "reports")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 450
SQL = re.compile(r"\b(SELECT\b[\s\S]+\bFROM\b|INSERT\s+INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|"
                 r"CREATE\s+(TABLE|INDEX|VIEW)\b|ALTER\s+TABLE\b|COPY\s+\S+\s+TO\b)")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or \
        (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path, *, runtime_only: bool) -> set[str]:
    """Every project module ``name`` imports, at module level or inside functions."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if runtime_only and isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                found.add(f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODULES else mod)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m.split(".")[0] in PACKAGES and m != name}


def _library_modules():
    return [n for n in MODULES if n.startswith("verifier") and not n.startswith("verifier.cli")]


@pytest.mark.parametrize("name", _library_modules())
def test_library_never_imports_adapters_baselines_or_reports(name):
    bad = sorted(m for m in _imports(name, MODULES[name], runtime_only=False) if m.split(".")[0] in WIRED)
    assert not bad, f"{name} imports {bad}: pass the object in from verifier/cli/wiring.py instead"


def _strings(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node
        elif isinstance(node, ast.JoinedStr):
            yield node


def _text(node) -> str:
    if isinstance(node, ast.Constant):
        return node.value
    return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


@pytest.mark.parametrize("name", [n for n in MODULES if not n.startswith("verifier.store")])
def test_no_sql_outside_the_store(name):
    tree = ast.parse(MODULES[name].read_text())
    docs = _docstrings(tree)
    hits = [(n.lineno, _text(n)[:60]) for n in _strings(tree) if id(n) not in docs and SQL.search(_text(n))]
    assert not hits, f"{name} writes SQL (lines {hits}): move it into verifier/store/"


def _cycles() -> list[list[str]]:
    graph = {n: _imports(n, p, runtime_only=True) & set(MODULES) for n, p in MODULES.items()}
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def strong(v: str) -> None:  # Tarjan
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in graph:
        if v not in index:
            strong(v)
    return comps


def test_no_import_cycles():
    assert _cycles() == []


def test_functions_are_short():
    long = []
    for name, path in MODULES.items():
        if name.startswith("adapters.training"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {n} lines")
    assert not long, long


def test_modules_are_small():
    big = [f"{n}: {len(p.read_text().splitlines())} lines" for n, p in MODULES.items()
           if not n.startswith("reports.") and len(p.read_text().splitlines()) > MAX_MODULE_LINES]
    assert not big, big


def test_the_rules_can_fail(tmp_path):
    """The checkers find what they look for (a test that cannot fail proves nothing)."""
    fake = tmp_path / "verifier" / "x.py"
    fake.parent.mkdir()
    fake.write_text("def f():\n    from adapters import grid\n    return 'SELECT a FROM t'\n")
    assert "adapters.grid" in _imports("verifier.x", fake, runtime_only=False) or \
        "adapters" in _imports("verifier.x", fake, runtime_only=False)
    tree = ast.parse(fake.read_text())
    assert any(SQL.search(_text(n)) for n in _strings(tree))
