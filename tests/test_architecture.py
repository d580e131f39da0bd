"""The import graph follows the layering written in docs/architecture.md, and has no cycle.

Every import counts, at module level or inside a function body (also under `if TYPE_CHECKING:`), so a cycle
cannot hide in a lazy import. The allowed edges are read from the "Layering" table of docs/architecture.md, so
the map and the code cannot drift apart.
"""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("pedkb", "ingest", "index", "search_api", "cli")
DOC = REPO / "docs" / "architecture.md"


def project_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that a module imports anywhere in its body."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def layering() -> dict[str, set[str]]:
    """Layer prefix -> the layer prefixes it may import, from the table in docs/architecture.md."""
    text = DOC.read_text(encoding="utf-8").split("## Layering", 1)[1]
    rules: dict[str, set[str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`"):
            layer = cells[0].strip("`")
            rules[layer] = {layer, *re.findall(r"`([\w.]+)`", cells[1])}
    return rules


def layer_of(module: str, rules: dict[str, set[str]]) -> str:
    """The longest layer prefix that contains a module."""
    matches = [layer for layer in rules if module == layer or module.startswith(layer + ".")]
    assert matches, f"{module} belongs to no layer of docs/architecture.md"
    return max(matches, key=len)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_the_table_covers_every_package() -> None:
    rules = layering()
    assert set(PACKAGES) <= {layer.split(".")[0] for layer in rules}
    for allowed in rules.values():
        assert allowed <= set(rules), f"unknown layer named in docs/architecture.md: {allowed - set(rules)}"


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_imports_follow_the_layering(graph: dict[str, set[str]]) -> None:
    rules = layering()
    wrong = []
    for module, targets in sorted(graph.items()):
        own = layer_of(module, rules)
        for target in sorted(targets):
            if layer_of(target, rules) not in rules[own]:
                wrong.append(f"{module} -> {target} ({own} may not import {layer_of(target, rules)})")
    assert not wrong, "imports against docs/architecture.md:\n" + "\n".join(wrong)


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "mod.py"
    module.write_text("def f():\n    from index.knowledge_base import KnowledgeBase\n    return KnowledgeBase\n")
    modules = {"pedkb.mod": module, "index.knowledge_base": module}
    assert imports_of("pedkb.mod", module, modules) == {"index.knowledge_base"}
    cyclic = {"a": {"b"}, "b": {"a"}}
    with pytest.raises(CycleError):
        tuple(TopologicalSorter(cyclic).static_order())
