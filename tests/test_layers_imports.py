"""The package's layering, checked from the source: no import circle, and no module importing from a
higher layer (core < nn < datasets < methods < engine < frontend < experiments < cli < the package
root). Every import counts, also the ones inside functions."""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "ocnn_jax"
LAYERS = ("core", "nn", "datasets", "methods", "engine", "frontend", "experiments", "cli")


def _module_name(path: pathlib.Path) -> str:
    parts = ("ocnn_jax",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, pathlib.Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: pathlib.Path, known: set[str]) -> set[str]:
    """The ocnn_jax modules that ``name`` (at ``path``) imports, anywhere in its body."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "ocnn_jax"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "ocnn_jax":
                continue
            submodules = {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known}
            out |= submodules  # `from pkg import submodule` imports the submodule ...
            if len(submodules) < len(node.names):  # ... other names come from pkg itself
                out.add(target)
    return {m for m in out if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(name, path, set(mods)) for name, path in mods.items()}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return len(LAYERS)  # the package root (the public facade) sits on top
    return LAYERS.index(parts[1])


def test_every_module_belongs_to_a_layer():
    unknown = [m for m in _modules() if len(m.split(".")) > 1 and m.split(".")[1] not in LAYERS]
    assert not unknown, f"modules outside the layer folders {LAYERS}: {unknown}"


def test_no_import_from_a_higher_layer():
    bad = [
        f"{m} ({LAYERS[_layer(m)] if _layer(m) < len(LAYERS) else 'root'}) imports {t}"
        for m, targets in _graph().items()
        for t in sorted(targets)
        if _layer(t) > _layer(m)
    ]
    assert not bad, "imports from a higher layer:\n" + "\n".join(bad)


def test_no_import_circle():
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from ..engine import execute\n", "ocnn_jax.engine"),
        ("from . import sibling\n", "ocnn_jax.core.sibling"),
        ("from .sibling import name\n", "ocnn_jax.core.sibling"),
        ("import ocnn_jax.frontend\n", "ocnn_jax.frontend"),
    ],
)
def test_import_resolution(source, expected):
    """The checker itself: relative, submodule and absolute imports resolve to module names."""
    known = {"ocnn_jax.engine", "ocnn_jax.core.sibling", "ocnn_jax.frontend", "ocnn_jax.core"}
    assert expected in _imports("ocnn_jax.core.probe", _Shim("probe.py", source), known)


class _Shim:
    """A stand-in path with a given text (keeps the test from writing into the package)."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self._text = text

    def read_text(self) -> str:
        return self._text

    def __str__(self) -> str:
        return self.name
