"""The documentation cannot rot: the docstring examples run (doctest), the guides' scripts
train, the getting-started page runs, the site builds without a warning, and the project's
text speaks of the library, not of how it was made."""

from __future__ import annotations

import doctest
import importlib
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from docs_helpers import blocks, check_command_lines, command_lines

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# Every module whose docstrings hold examples (read from the files: nothing is imported to
# collect them). __main__ is left out: importing it runs the command line.
DOCTEST_MODULES = sorted(
    _module_name(path)
    for path in (ROOT / "corel_jax").rglob("*.py")
    if path.name != "__main__.py" and ">>>" in path.read_text(encoding="utf-8")
)


class _Runner(doctest.DocTestRunner):
    """Records the exceptions examples raise, so that a missing optional dependency skips."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.exceptions: list[BaseException] = []

    def report_unexpected_exception(self, out, test, example, exc_info):
        self.exceptions.append(exc_info[1])
        super().report_unexpected_exception(out, test, example, exc_info)


def test_docstring_examples_are_collected():
    assert len(DOCTEST_MODULES) >= 15, DOCTEST_MODULES
    for name in ["corel_jax.persistence.rips", "corel_jax.loss.connectivity", "corel_jax.diagrams"]:
        assert name in DOCTEST_MODULES


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_docstring_examples(name):
    """The module's docstring examples, run by the standard library's doctest (``+SKIP``
    examples are skipped by doctest itself)."""
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder(exclude_empty=True).find(module, name) if t.examples]
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = _Runner(optionflags=flags, verbose=False)
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    failed, _ = runner.summarize(verbose=False)
    missing = [e for e in runner.exceptions if isinstance(e, ImportError)]
    if failed and missing and len(missing) == len(runner.exceptions):
        pytest.skip(f"an optional dependency is not installed: {missing[0]}")
    assert failed == 0, "".join(report)


# --- the guides' scripts ---------------------------------------------------------------


def _run_example(name: str, *argv: str) -> dict:
    """Runs ``examples/NAME.py``'s ``main(argv)`` in this process and returns its history."""
    script = runpy.run_path(str(ROOT / "examples" / f"{name}.py"))  # not as __main__
    return script["main"](list(argv))


def _mean(values, last: int) -> float:
    tail = values[-last:]
    return sum(tail) / len(tail)


def test_example_connectivity_loss_training_step():
    """With lam > 0 the connectivity term ends far below where lam = 0 leaves it, and the
    held-out death times move towards eta."""
    steps = ["--steps", "40", "--batch-size", "50"]
    with_loss = _run_example("connectivity_loss_training_step", *steps, "--lam", "1")
    without = _run_example("connectivity_loss_training_step", *steps, "--lam", "0")
    assert with_loss["conn"][0] == pytest.approx(without["conn"][0])  # same start
    assert _mean(with_loss["conn"], 5) < 0.5 * _mean(without["conn"], 5)
    eta = 2.0
    gap = lambda h: _mean([abs(d - eta) for d in h["held_out_deaths"]], 10**6)  # noqa: E731
    assert gap(with_loss) < 0.5 * gap(without)


def test_example_signature_loss_training_step():
    """The signature term ends lower with its weight than without it."""
    steps = ["--steps", "60", "--samples-per-sphere", "20"]
    with_loss = _run_example("signature_loss_training_step", *steps, "--lam", "20")
    without = _run_example("signature_loss_training_step", *steps, "--lam", "0")
    assert with_loss["topo"][0] == pytest.approx(without["topo"][0], rel=1e-5)
    assert _mean(with_loss["topo"], 10) < _mean(without["topo"], 10)


def test_example_diagram_loss_training_step():
    """The diagram term ends lower with its weight than without it, on held-out data too."""
    steps = ["--steps", "40", "--batch-size", "50"]
    with_loss = _run_example("diagram_loss_training_step", *steps, "--lam", "5")
    without = _run_example("diagram_loss_training_step", *steps, "--lam", "0")
    assert _mean(with_loss["topo"], 5) < _mean(without["topo"], 5)
    assert with_loss["held_out_w1"][0] < without["held_out_w1"][0]


def test_guides_show_the_tested_scripts():
    """Each guide includes its script (so the page shows the code the tests run)."""
    for page, script in [
        ("connectivity_loss.md", "connectivity_loss_training_step.py"),
        ("signature_loss.md", "signature_loss_training_step.py"),
        ("diagram_loss.md", "diagram_loss_training_step.py"),
    ]:
        text = (DOCS / page).read_text(encoding="utf-8")
        assert re.search(rf"```{{literalinclude}} \.\./examples/{re.escape(script)}", text), page


# --- pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    ["index.md", "connectivity_loss.md", "signature_loss.md", "diagram_loss.md", "graph_h0.md"],
)
def test_short_page_examples_run(page):
    """The python blocks of the landing page and of the guides run, in order."""
    namespace: dict = {}
    python_blocks = blocks((DOCS / page).read_text("utf-8"), "python")
    assert python_blocks, page
    for i, block in enumerate(python_blocks):
        exec(compile(block, f"{page} python block {i}", "exec"), namespace)


def test_unlisted_pages_join_the_guides(tmp_path, monkeypatch):
    """A page that no toctree names (e.g. a guide added later) is appended to the index's
    "Guides" toctree at build time; an absent one is never referenced."""
    pytest.importorskip("sphinx", reason='the docs extra: pip install -e ".[docs]"')
    conf = runpy.run_path(str(DOCS / "conf.py"))
    add = conf["_add_unlisted_guides"]
    index = (DOCS / "index.md").read_text("utf-8")
    for name in ["index.md", "getting_started.md", "connectivity_loss.md"]:
        (tmp_path / name).write_text((DOCS / name).read_text("utf-8"), "utf-8")
    add.__globals__["DOCS"] = tmp_path  # the function's module namespace (runpy's copy)
    source = [index]
    add(None, "index", source)
    assert source == [index]  # nothing unlisted: unchanged
    (tmp_path / "sharding.md").write_text("# Sharding\n", "utf-8")
    add(None, "index", source)
    guides = source[0].split(":caption: Guides\n")[1].split("```")[0]
    assert guides.split()[-1] == "sharding" and "connectivity_loss" in guides


def test_docs_command_lines_parse():
    seen = {"corel-jax": 0, "experiments.run": 0, "experiments.collect": 0}
    for page in sorted(DOCS.glob("*.md")):
        for kind, count in check_command_lines(command_lines(page.read_text("utf-8"))).items():
            seen[kind] += count
    assert seen["corel-jax"] >= 6 and seen["experiments.run"] >= 3 and seen["experiments.collect"]


@pytest.mark.slow
def test_getting_started_runs_in_order(tmp_path, monkeypatch):
    """Every python block of the getting-started page, run in order in one namespace (in a
    temporary folder); it trains on the offline digits."""
    from corel_jax import data

    monkeypatch.chdir(tmp_path)
    python_blocks = blocks((DOCS / "getting_started.md").read_text("utf-8"), "python")
    assert len(python_blocks) >= 6
    namespace: dict = {}
    for i, block in enumerate(python_blocks):
        if not data.available("fashion_mnist"):  # the data block's dataset, where it is missing
            block = block.replace('"fashion_mnist"', '"digits"')
        exec(compile(block, f"getting_started.md python block {i}", "exec"), namespace)
    result = namespace["result"]
    assert set(result.methods) == {"corel", "raw_ocsvm"} and result.mean("corel") > 0.5
    assert (tmp_path / "out" / "results.json").is_file()
    assert namespace["train_codes"].shape == (1348, 80)


@pytest.mark.slow
def test_sphinx_build_has_no_warnings(tmp_path):
    """The site builds offline with warnings as errors (the command CI runs)."""
    for module in ["sphinx", "myst_parser", "sphinx_book_theme", "sphinx_copybutton"]:
        pytest.importorskip(module, reason='the docs extra: pip install -e ".[docs]"')
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    for page in ["index", "getting_started", "connectivity_loss", "results", "api/loss"]:
        assert (out / f"{page}.html").is_file(), page
    api = (out / "api" / "persistence.html").read_text("utf-8")
    assert "rips_h0" in api and "PersistenceH0" in api  # autodoc ran


def test_every_public_module_is_in_the_api_reference():
    """Each public module has its own section in docs/api, or its package's section lists
    every name it exports (the package re-exports them: ``corel_jax.loss`` and others); each
    command has its ``--help`` on the command-line page."""
    import pkgutil

    import corel_jax

    api = "".join(p.read_text("utf-8") for p in (DOCS / "api").glob("*.md"))
    sections = set(re.findall(r"automodule:: ([\w.]+)\n", api))
    documented = set(re.findall(r"automodule:: ([\w.]+)\n   :members:", api))
    missing = []
    for info in pkgutil.walk_packages(corel_jax.__path__, "corel_jax."):
        name = info.name
        if any(part.startswith("_") for part in name.split(".")) or name in documented:
            continue
        if info.ispkg and name in sections:
            continue  # the package's docstring; its modules have their own sections
        if name.startswith("corel_jax.commands"):
            continue  # the command-line page, below
        package = name.rpartition(".")[0]
        exported = set(getattr(importlib.import_module(name), "__all__", ()))
        reexported = set(getattr(importlib.import_module(package), "__all__", ()))
        if package not in documented or not exported <= reexported:
            missing.append(name)
    assert not missing, f"not in docs/api: {missing}"
    from corel_jax.commands import COMMANDS

    page = (DOCS / "command_line.md").read_text("utf-8")
    assert [c for c in COMMANDS if f"{{corel-jax-help}} {c}\n" not in page] == []


# --- words about how the project was made --------------------------------------------------

# Development-process wording that must not appear in what users read. Precise on purpose:
# "session" only as a noun of its own (not "gpu_session.sh", "tf.Session", pytest's
# session scope), "issue" only with a number, "helper"/"lead" only as people. Phrases may
# be broken over lines.
PROCESS_WORDS = re.compile(
    r"(?<![\w.])sessions?\b(?!\s*(?:scope|fixture|[=(]))"
    r"|\bissue\s*#?\s*\d+"
    r"|\bbefore\s+issue\b"
    r"|\bnew[- ]user\s+test"
    r"|\blent\b"
    r"|\b(?:the|a|another|each|one)\s+(?:helper|lead)s?\b(?!\s+to\b)"
    r"|\bdevelopment\s+machine\b"
    r"|\bthis\s+project's\s+tools\b"
    r"|\bworktree\b",
    flags=re.IGNORECASE,
)
# What may stand just before a match and makes it another thing ("a TensorFlow session").
_ALLOWED_BEFORE = re.compile(
    r"(?:\b(?:tensorflow|tf|keras|requests|http|ssh|tmux)\W+|scope\s*=\s*[\"'])$",
    flags=re.IGNORECASE,
)

_TEXT_SUFFIXES = {".py", ".md", ".json", ".csv", ".txt", ".sh", ".toml", ".cc", ".yaml", ".yml"}


def _project_text_files() -> list[Path]:
    """README, docs, the library, experiments (results included), benchmarks (results
    included), examples and the packaging files; tests/ and the CHANGELOG are not scanned."""
    files = [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "setup.py"]
    for folder in ["docs", "corel_jax", "experiments", "benchmarks", "examples"]:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in _TEXT_SUFFIXES and "_build" not in path.parts:
                files.append(path)
    return [p for p in files if p.is_file()]


def process_words(text: str) -> list[tuple[int, str]]:
    """``(line number, words)`` of each development-process phrase in ``text``."""
    found = []
    for match in PROCESS_WORDS.finditer(text):
        if not _ALLOWED_BEFORE.search(text[max(0, match.start() - 40) : match.start()]):
            found.append((text.count("\n", 0, match.start()) + 1, " ".join(match.group(0).split())))
    return found


def test_no_development_process_words():
    hits = [
        f"{path.relative_to(ROOT)}:{line}: {words!r}"
        for path in _project_text_files()
        for line, words in process_words(path.read_text("utf-8", errors="replace"))
    ]
    assert not hits, "\n".join(hits[:60])


@pytest.mark.parametrize(
    "text, bad",
    [
        ("measured in an earlier session", True),
        ("this session's machine", True),
        ("issue 10's new-user test", True),
        ("before issue 10", True),
        ("on the lent machine", True),
        ("the lead integrates", True),
        ("bash benchmarks/gpu_session.sh kernels", False),
        ("a TensorFlow session", False),
        ('@pytest.fixture(scope="session")', False),
        ("the one-class tasks of an issue", False),
        ("the prefix leads the message", False),
        ("could not be read with this\nproject's tools", True),
    ],
)
def test_process_words_pattern(text, bad):
    assert bool(process_words(text)) == bad, text
