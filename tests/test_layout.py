"""The codebase's shape: the package's layers, small modules, imports that go down the layers
and never in a circle, commands apart from the library, no prints or pyplot in the library, no
references to files outside the project."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "corel_jax"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


NAMES = {_name(p): p for p in MODULES}


def _imports(path: Path) -> set[str]:
    """The corel_jax modules ``path`` imports, anywhere in the file (functions included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from package import submodule" imports the submodule
            subs = [f"{node.module}.{a.name}" for a in node.names]
            targets = [t for t in subs if t in NAMES] or [node.module]
        else:
            continue
        for t in targets:
            while t and t not in NAMES and "." in t:
                t = t.rsplit(".", 1)[0]
            if t in NAMES:
                out.add(t)
    return out


def _library(name: str) -> bool:
    """False for the command line: the commands and the ``python -m corel_jax`` entry point."""
    return not (name in ("corel_jax.commands", "corel_jax.__main__")
                or name.startswith("corel_jax.commands."))  # fmt: skip


# The layers of the package, from the ground up: a module may import its own layer's
# package and the layers below it, never one above. ``__main__`` and ``commands`` are
# the command line; everything else is the library.
LAYERS = {
    "corel_jax": 0,  # the package's face: lazy re-exports only
    "corel_jax._checks": 0,
    "corel_jax._extras": 0,
    "corel_jax._files": 0,
    "corel_jax._lazy": 0,
    "corel_jax._version": 0,
    "corel_jax.persistence": 1,
    "corel_jax.plots": 1,
    "corel_jax.loss": 2,
    "corel_jax.diagrams": 2,
    "corel_jax.embedding_metrics": 2,
    "corel_jax.models": 3,
    "corel_jax.data": 3,
    "corel_jax.training": 4,
    "corel_jax.oneclass": 5,
    "corel_jax.paper": 6,
    "corel_jax.commands": 7,
    "corel_jax.__main__": 8,
}
# The few private helpers every layer uses; nothing else private sits at the top level.
TOP_LEVEL_PRIVATE = {"_checks.py", "_extras.py", "_files.py", "_lazy.py", "_version.py"}


def _room(name: str) -> str:
    """The top-level module or subpackage of ``corel_jax`` that module ``name`` belongs to."""
    parts = name.split(".")
    return ".".join(parts[:2])


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_every_module_is_at_most_500_lines(path):
    assert len(path.read_text().splitlines()) <= 500


def test_the_top_level_is_small_and_holds_no_backend():
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 12, modules
    private = {m for m in modules if m.startswith("_") and not m.startswith("__")}
    assert private <= TOP_LEVEL_PRIVATE, private - TOP_LEVEL_PRIVATE
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert not {p for p in packages if p.startswith("_")}, packages


def test_every_module_and_package_has_a_layer():
    rooms = {_room(name) for name in NAMES}
    assert rooms == set(LAYERS), rooms ^ set(LAYERS)


def test_imports_go_down_the_layers():
    """No module imports one of a higher layer, nor of another package on its own layer."""
    for name, path in NAMES.items():
        here = _room(name)
        for target in _imports(path):
            there = _room(target)
            if there == here or LAYERS[here] == LAYERS[there] == 0:  # the helpers
                continue
            assert LAYERS[there] < LAYERS[here], (
                f"{name} imports {target} (layer {LAYERS[there]} >= {LAYERS[here]})"
            )


def test_every_package_maps_its_modules():
    """Each subpackage's docstring names each of its public modules."""
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        for module in init.parent.glob("*.py"):
            if not module.name.startswith("_"):
                assert module.stem in doc, (
                    f"{init.parent.name}/__init__.py does not name {module.stem}"
                )


def test_imports_flow_one_way():
    """The import graph of corel_jax (function-level imports included) has no cycle."""
    graph = {name: _imports(path) - {name} for name, path in NAMES.items()}
    # a package's __init__ re-exports its submodules: those edges point down, not back
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name)


def test_the_library_and_experiments_never_import_the_commands():
    for name, path in NAMES.items():
        if _library(name):
            bad = [m for m in _imports(path) if not _library(m)]
            assert not bad, (name, bad)
    for path in (ROOT / "experiments").rglob("*.py"):
        assert "corel_jax.commands" not in path.read_text(), path


def test_the_library_logs_and_draws_without_pyplot():
    for name, path in NAMES.items():
        text = path.read_text()
        assert "matplotlib.use" not in text and "pyplot" not in text, name
        if not _library(name):
            continue
        calls = [
            n for n in ast.walk(ast.parse(text))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        ]  # fmt: skip
        assert not calls, f"{name} prints (line {calls[0].lineno}); the library logs"


# The project's own files.
_OWN = [
    *MODULES,
    *(ROOT / "experiments").rglob("*.py"),
    *(ROOT / "benchmarks").rglob("*.py"),
    *(ROOT / "tests").rglob("*.py"),
    *(ROOT / "docs").rglob("*.md"),
    ROOT / "pyproject.toml",
]


def test_nothing_refers_to_files_outside_the_project():
    notes, folder = "REF" + "ERENCE", "sha" + "red"  # spelled apart: this file is checked too
    outside = re.compile(rf"{notes}\.md|\.\./{folder}|/work/{folder}")
    for path in _OWN:
        assert not outside.search(path.read_text()), path


def test_docs_anchors_exist():
    """Every anchor of docs/method.md cited in the code and docs is one of its headings."""
    headings = re.findall(r"^#+ (.+)$", (ROOT / "docs" / "method.md").read_text(), flags=re.M)
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
    assert {"0-dimensional-persistence", "the-connectivity-loss", "the-autoencoder",
            "one-class-protocol", "published-numbers"} <= anchors  # fmt: skip
    for path in [*_OWN, ROOT / "README.md"]:
        for anchor in re.findall(r"docs/method\.md#([a-z0-9-]+)", path.read_text()):
            assert anchor in anchors, (path, anchor)


def test_ci_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    command = 'pip install -e ".[test,compare]" && python -m pytest -n auto'
    assert command in readme
    ci = (ROOT / ".ci/run").read_text().splitlines()
    # the package with the test extra (and the compare references), then the two commands
    assert any('pip install -q -e ".[test,compare]"' in line for line in ci)
    assert (
        'python -m pip install -q -e ".[test,compare]" && python -m pytest -n auto || status=1'
        in ci
    )
    assert "python -m pytest -m slow || status=1" in ci
    assert "python -m pytest -m slow" in readme
