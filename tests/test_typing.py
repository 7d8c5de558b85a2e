"""Types for users' type checkers: py.typed, the stubs of the lazy packages, the Literal aliases."""

import ast
import importlib
import typing
from pathlib import Path

import pytest

from corel_jax import _lazy
from corel_jax.persistence import ALGORITHMS, METRICS, Algorithm, MetricName, parse_metric

PACKAGE = Path(__file__).parents[1] / "corel_jax"
LAZY = sorted(p.parent for p in PACKAGE.rglob("__init__.pyi"))


def _dotted(folder: Path) -> str:
    return ".".join(folder.relative_to(PACKAGE.parent).parts)


def test_the_package_is_typed():
    assert (PACKAGE / "py.typed").is_file()
    assert [_dotted(p) for p in LAZY] == [
        "corel_jax",
        "corel_jax.data",
        "corel_jax.oneclass",
        "corel_jax.training",
    ]
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text()
    assert '"*" = ["py.typed", "*.pyi"]' in pyproject  # shipped in the wheel


@pytest.mark.parametrize("folder", LAZY, ids=_dotted)
def test_each_lazy_package_exports_what_its_stub_declares(folder):
    """The runtime names are the stub's imports, each resolves, and __all__ agrees."""
    name = _dotted(folder)
    package = importlib.import_module(name)
    stub = ast.parse((folder / "__init__.pyi").read_text())
    declared = next(
        ast.literal_eval(node.value)
        for node in stub.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "__all__"
    )
    exports = _lazy.stub_exports(name, str(folder / "__init__.py"))
    imported = sorted(n for names in exports.values() for n in names)
    assert package.__all__ == sorted(declared) == imported
    for sub, names in exports.items():
        module = importlib.import_module(f"{name}.{sub}")
        for n in names:
            assert getattr(package, n) is getattr(module, n), (name, n)
    assert set(package.__all__) <= set(dir(package))


def test_literal_aliases_match_what_the_functions_accept():
    assert set(ALGORITHMS) == set(typing.get_args(Algorithm))
    for name in typing.get_args(MetricName):
        assert parse_metric(name)[0] in METRICS
    with pytest.raises(ValueError, match="Unknown metric"):
        parse_metric("l3")


USAGE = """
import jax.numpy as jnp
import corel_jax
from corel_jax import connectivity_loss, rips_h0
from corel_jax.training import TrainConfig

x = jnp.zeros((5, 2))
reveal_type(corel_jax.rips_h0)
reveal_type(rips_h0(x).diagram())
reveal_type(TrainConfig().metric)
connectivity_loss(x, metric="l3")
rips_h0(x, algorithm="fastest")
"""


@pytest.mark.slow
def test_a_type_checker_sees_the_lazy_names_and_the_literals(tmp_path):
    api = pytest.importorskip("mypy.api")
    (tmp_path / "usage.py").write_text(USAGE)
    out, _, status = api.run(
        [str(tmp_path / "usage.py"), "--cache-dir", str(tmp_path / ".mypy_cache")]
    )
    assert status == 1, out
    assert 'Revealed type is "def (points: ' in out  # the function, not "Any" or "object"
    assert 'Revealed type is "jax._src.basearray.Array"' in out
    assert 'Revealed type is "str | tuple[str, float]"' in out
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 2, out
    assert 'Argument "metric" to "connectivity_loss" has incompatible type' in errors[0]
    assert 'Argument "algorithm" to "rips_h0" has incompatible type' in errors[1]
