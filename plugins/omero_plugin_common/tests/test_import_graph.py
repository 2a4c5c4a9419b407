"""The import graph of the plugin packages (read with the standard library's ast, every import
including those inside functions): plugins import only themselves and the platform, the platform
imports no plugin and nothing of the test double, the shipped packages import no test tool, and
no package or deployed module imports itself back through others (no cycles)."""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS_DIR = Path(__file__).resolve().parents[2]
PLATFORM = "omero_plugin_common"
TEST_DOUBLE = "omero_test_double"
TEST_TOOLS = {"pytest", "selenium", "hypothesis", "pytest_django", TEST_DOUBLE}


def first_party_modules(root: Path = PLUGINS_DIR) -> dict[str, Path]:
    """Module name → file, for every package plugins/<name>/<name>/ (tests excluded)."""
    found: dict[str, Path] = {}
    for init in sorted(root.glob("*/*/__init__.py")):
        package = init.parent
        if package.name != package.parent.name:
            continue
        for path in package.rglob("*.py"):
            parts = path.relative_to(package.parent).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str:
    """The longest known module that `name` is (or lies in)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module `module` imports: first-party ones resolved to a known module, others by
    their top-level name."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), str(path))
    # Imports only a type checker runs are no edge of the running program.
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                   for n in ast.walk(block)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" for alias in node.names]
            targets = [t if t in known else source for t in targets]
        else:
            continue
        for target in targets:
            found.add(_resolve(target, known) or target.split(".")[0])
    found.discard(module)
    return found


def import_graph(root: Path = PLUGINS_DIR) -> dict[str, set[str]]:
    known = first_party_modules(root)
    return {name: imports_of(name, path, known) for name, path in known.items()}


def forbidden_edges(graph: dict[str, set[str]]) -> list[str]:
    packages = {name.split(".")[0] for name in graph}
    problems = []
    for module, targets in sorted(graph.items()):
        source = module.split(".")[0]
        for target in sorted(targets):
            top = target.split(".")[0]
            shipped = source != TEST_DOUBLE
            if shipped and top in TEST_TOOLS:
                problems.append(f"{module} imports the test tool {target} (it is deployed)")
            elif top in packages and top != source and top != PLATFORM:
                problems.append(f"{module} imports {target}: plugins import only the platform")
            elif source == PLATFORM and top in packages and top != PLATFORM:
                problems.append(f"{module} imports {target}: the platform imports no plugin")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_covers_every_package():
    graph = import_graph()
    assert {name.split(".")[0] for name in graph} >= {
        PLATFORM, TEST_DOUBLE, "omeroweb_omp_plugin", "omeroweb_upload", "omeroweb_admin_tools",
        "omeroweb_imaris_connector", "omeroweb_openhcs"}
    assert "omero_plugin_common.celery_app" in graph["omero_plugin_common.jobs"]


def test_imports_go_only_from_plugins_to_the_platform():
    assert forbidden_edges(import_graph()) == []


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        source = module.split(".")[0]
        packages.setdefault(source, set()).update(
            t.split(".")[0] for t in targets if t.split(".")[0] != source)
    return packages


def test_no_import_cycles():
    """None between packages, none among the deployed modules. Inside the test double (never
    deployed) the fake gateway and its services create each other lazily; that stays."""
    graph = import_graph()
    shipped = {m: t for m, t in graph.items() if not m.startswith(TEST_DOUBLE)}
    assert cycles(package_graph(graph)) == []
    assert cycles(shipped) == []


def test_the_checks_see_a_forbidden_import_and_a_cycle(tmp_path):
    """The rules above on a small tree that breaks each of them."""
    files = {
        "omero_plugin_common/omero_plugin_common/__init__.py": "",
        "omero_plugin_common/omero_plugin_common/jobs.py":
            "def f():\n    from omero_test_double import store\n",
        "omero_plugin_common/omero_plugin_common/a.py": "from . import b\n",
        "omero_plugin_common/omero_plugin_common/b.py": "from .a import x\n",
        "omero_test_double/omero_test_double/__init__.py": "",
        "omero_test_double/omero_test_double/store.py": "",
        "omeroweb_x/omeroweb_x/__init__.py": "",
        "omeroweb_x/omeroweb_x/views.py": "import omeroweb_y.views\nimport pytest\n",
        "omeroweb_y/omeroweb_y/__init__.py": "",
        "omeroweb_y/omeroweb_y/views.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert forbidden_edges(graph) == [
        "omero_plugin_common.jobs imports the test tool omero_test_double.store (it is deployed)",
        "omeroweb_x.views imports omeroweb_y.views: plugins import only the platform",
        "omeroweb_x.views imports the test tool pytest (it is deployed)",
    ]
    assert cycles(graph) == [["omero_plugin_common.a", "omero_plugin_common.b"]]
    assert cycles(package_graph(graph)) == []
    graph["omero_test_double.store"].add("omero_plugin_common.jobs")
    assert cycles(package_graph(graph)) == [[PLATFORM, TEST_DOUBLE]]
