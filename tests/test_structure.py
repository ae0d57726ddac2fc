"""The code's shape, checked: no import circles between headstart's modules (module-level imports), and no
module over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "headstart"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """headstart modules `path` imports at module level (not inside functions: those run later)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in tree.body:
        if isinstance(node, ast.If | ast.Try):  # e.g. `if TYPE_CHECKING:` is skipped below
            continue
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t.startswith("headstart") and t != name:
                found.add(t)
    return found


def test_no_import_circles() -> None:
    modules = _modules()
    graph = {name: _imports(path, name, modules) for name, path in modules.items()}
    # a package's __init__ importing its own submodules is how re-exports work: not a circle through them
    for name in graph:
        graph[name] = {t for t in graph[name] if not (t.startswith(name + ".") and modules[name].name == "__init__.py")}
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_module_over_400_lines() -> None:
    too_long = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        n = len(path.read_text().splitlines())
        if n > MAX_LINES:
            too_long[rel] = n
    assert not too_long, f"over {MAX_LINES} lines (split them): {too_long}"


def test_adapter_kinds_answer_for_themselves() -> None:
    """No module asks which kind an adapter is and branches on the answer: each kind in
    headstart.adapters.store.KINDS saves, loads, joins, switches, removes and merges itself."""
    import re

    from headstart.adapters.store import KINDS

    names = "|".join(KINDS)
    asks = re.compile(rf"""\b(kind|adapter)\s*(==|!=|in)\s*\(?["']({names})["']""")
    found = [f"{path.relative_to(SRC).as_posix()}:{i}: {line.strip()}"
             for path in SRC.rglob("*.py") for i, line in enumerate(path.read_text().splitlines(), 1)
             if asks.search(line)]
    assert not found, "branches on an adapter's kind (add a hook to the kind instead):\n" + "\n".join(found)
