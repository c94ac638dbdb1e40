"""The package's shape (issue 16): imports flow one way, private names stay in their module,
modules stay small, worker pools start in one module, and the library never prints.

Read from the source with `ast`, so each failure names the module and line to look at.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qtkit"
MAX_LINES = 600
#: NamedTuple's public API, spelled with an underscore so as not to clash with fields.
NAMEDTUPLE_API = frozenset(("_replace", "_asdict", "_fields", "_make", "_field_defaults"))
POOLS = "qtkit.pools"
POOL_NAMES = frozenset(("ProcessPoolExecutor", "ThreadPoolExecutor"))


@cache
def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (`qtkit.cli.edit`; a package by its own name)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


@cache
def tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(encoding="utf-8"), str(modules()[name]))


def _type_checking_only(module: ast.Module) -> set[int]:
    """The ids of import nodes under `if TYPE_CHECKING:` (never run, so no import at all)."""
    skipped = set()
    for node in ast.walk(module):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    return skipped


def imports(name: str) -> list[tuple[str, int, list[str]]]:
    """(module imported, line, names imported from it) for every import in module `name`,
    at the top or deferred inside a function; relative imports resolved."""
    found = []
    package = name if modules()[name].name == "__init__.py" else name.rpartition(".")[0]
    module = tree(name)
    skipped = _type_checking_only(module)
    for node in ast.walk(module):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno, [alias.name for alias in node.names]))
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (`from . import edit` is an edge to
    `qtkit.edit`; the parent package a submodule import runs is not counted)."""
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for name in modules():
        for target, _, names in imports(name):
            for candidate in [f"{target}.{n}" for n in names] or [target]:
                edge = candidate if candidate in modules() else target
                if edge in modules() and edge != name:
                    graph[name].add(edge)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _private(attr: str) -> bool:
    return attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__"))


def defined_names(module: ast.Module) -> set[str]:
    """Every name the module defines: functions, classes, assigned names, attributes set
    on `self` or `cls`, parameters and import aliases (`other._x = 1` defines nothing)."""
    names = set()
    for node in ast.walk(module):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name)
              and node.value.id in ("self", "cls")):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def private_uses(name: str) -> list[str]:
    """`from m import _x`, and `obj._x` where `_x` is not defined in module `name`."""
    found = []
    for target, line, names in imports(name):
        found += [f"{name}:{line}: from {target} import {n}" for n in names if _private(n)]
    module = tree(name)
    own = defined_names(module)
    for node in ast.walk(module):
        if (isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own
                and node.attr not in NAMEDTUPLE_API):
            found.append(f"{name}:{node.lineno}: {ast.unparse(node)[:60]}")
    return found


# ------------------------------------------------------------------ the checks


def test_the_checks_see_the_whole_package() -> None:
    names = modules()
    assert {"qtkit", "qtkit.cli", "qtkit.cli.common", "qtkit.index", "qtkit.pools"} <= set(names)
    assert "qtkit.cli.common" in import_graph()["qtkit.cli.edit"]
    assert "qtkit.edit" in import_graph()["qtkit.cli.edit"]  # a deferred import counts


def test_cycle_finder_finds_a_deferred_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_private_finder() -> None:
    module = ast.parse("import m\nclass A:\n    def __init__(self):\n        self._own = 1\n"
                       "x = m._theirs\ny = A()._own\nz = row._replace(a=1)\nm._set = 2\n")
    own = defined_names(module)
    flagged = [ast.unparse(n) for n in ast.walk(module) if isinstance(n, ast.Attribute) and _private(n.attr)
               and n.attr not in own and n.attr not in NAMEDTUPLE_API]
    assert flagged == ["m._theirs", "m._set"]


def test_no_import_cycle() -> None:
    """Imports flow one way; a deferred import inside a function counts."""
    assert cycles(import_graph()) == []


def test_no_private_name_used_outside_its_module() -> None:
    found = [use for name in modules() for use in private_uses(name)]
    assert found == []


def test_no_module_over_600_lines() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_worker_pools_start_only_in_pools() -> None:
    """`qtkit.pools` is the one module that starts worker processes or threads."""
    found = []
    for name in modules():
        if name == POOLS:
            continue
        for target, line, names in imports(name):
            if target.split(".")[0] == "multiprocessing" or POOL_NAMES & set(names):
                found.append(f"{name}:{line}: import from {target}")
        for node in ast.walk(tree(name)):
            used = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if used in POOL_NAMES or used == "multiprocessing":
                found.append(f"{name}:{node.lineno}: {used}")
    assert found == []


def test_the_library_never_prints() -> None:
    """Only the CLI writes to the terminal; the library returns results and calls back."""
    found = [f"{name}:{node.lineno}" for name in modules() if not (name + ".").startswith("qtkit.cli.")
             for node in ast.walk(tree(name))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"]
    assert found == []


def test_every_module_has_its_line_on_the_architecture_page() -> None:
    """docs/architecture.md names every module (`rules.fields`, `cli/edit`)."""
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [name for name in modules() if name != "qtkit"
               and f"`{name.removeprefix('qtkit.')}`" not in page
               and f"`{name.removeprefix('qtkit.').replace('.', '/')}`" not in page]
    assert missing == []


def layers() -> dict[str, int]:
    """Module -> its row in the layer table of docs/architecture.md (0 = the top layer;
    `rules` stands for its submodules, `qtkit/cli/*` for the CLI package)."""
    import re

    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = page.split("| layer | modules |", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|")[2] for line in table.splitlines()[2:] if line.startswith("|")]
    found: dict[str, int] = {}
    for depth, cell in enumerate(rows):
        for word in re.findall(r"`([^`]+)`", cell):
            prefix = "qtkit.cli" if word == "qtkit/cli/*" else f"qtkit.{word}"
            for name in modules():
                if name == prefix or name.startswith(prefix + "."):
                    found[name] = depth
    return found


def test_imports_flow_down_the_layers_of_the_architecture_page() -> None:
    """A module imports only from its own layer and the layers above it (docs/architecture.md)."""
    depth = layers()
    assert [n for n in modules() if n not in depth and n not in ("qtkit", "qtkit.__main__")] == []
    upward = [f"{name} -> {target}" for name, targets in import_graph().items() if name in depth
              for target in sorted(targets) if target in depth and depth[target] > depth[name]]
    assert upward == []


# ------------------------------------------------------------------ start-up: commands import what they use


def _modules_loaded(*argv: str) -> set[str]:
    """The top-level modules (and qtkit's own) a `qtkit ARGV...` run in a fresh
    interpreter has imported by the time it exits."""
    import json
    import subprocess
    import sys

    code = ("import json, sys\nfrom qtkit.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n"
            "    pass\nsys.stdout.write('\\nMODULES ' + json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    names = json.loads(done.stdout.rpartition("MODULES ")[2])
    return {n if n.startswith("qtkit") else n.split(".")[0] for n in names}


HEAVY = {"pydantic", "rich", "numpy", "scipy", "sklearn", "starlette", "uvicorn", "jinja2", "markdown_it", "ftfy",
         "frontmatter"}


def test_version_loads_no_library_module() -> None:
    loaded = _modules_loaded("--version")
    assert not HEAVY & loaded
    library = {n for n in loaded if n.startswith("qtkit.") and not n.startswith("qtkit.cli")}
    assert library <= {"qtkit.errors"}


def test_index_loads_only_what_it_runs(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(PACKAGE.parent / "examples", tmp_path / "examples")
    loaded = _modules_loaded("index", "--root", str(tmp_path / "examples"))
    assert "qtkit.index" in loaded
    assert not HEAVY & loaded, HEAVY & loaded
    assert not {"qtkit.relink", "qtkit.related", "qtkit.check", "qtkit.export", "qtkit.serve"} & loaded
