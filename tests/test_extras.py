"""The core install and the extras: what imports without which optional package, and the messages.

Each check runs in a fresh interpreter in which the optional packages are hidden
(``sys.modules[name] = None`` makes ``import name`` fail and ``find_spec`` miss it),
as in an environment where ``pip install corel-jax`` installed the core only.
"""

import subprocess
import sys
import textwrap

import pytest

from corel_jax import _extras

TRAIN = ("flax", "optax", "orbax", "tqdm")


def run_without(hidden, code: str) -> subprocess.CompletedProcess:
    prelude = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in hidden)
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True
    )


def test_the_core_works_without_the_train_extra():
    """persistence, loss and diagrams: import, a jitted loss and its gradient."""
    result = run_without(
        TRAIN + ("sklearn", "matplotlib", "tensorflow", "tensorflow_datasets"),
        """
        import jax, jax.numpy as jnp
        import corel_jax.loss, corel_jax.persistence, corel_jax.diagrams
        from corel_jax import connectivity_loss, rips_h0, wasserstein_distance
        z = jax.random.normal(jax.random.key(0), (32, 4))
        value, grad = jax.jit(jax.value_and_grad(connectivity_loss))(z)
        assert jnp.isfinite(value) and grad.shape == (32, 4) and bool(jnp.any(grad != 0))
        d = wasserstein_distance(rips_h0(z).diagram(), rips_h0(2 * z).diagram())
        assert float(d) > 0
        heavy = [m for m in ("flax", "optax", "orbax", "tqdm", "tensorflow", "matplotlib")
                 if sys.modules.get(m) is not None]
        assert not heavy, heavy
        """,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "module,hidden,message",
    [
        ("corel_jax.training", "flax", 'flax is needed for corel_jax.training: pip install "corel-jax[train]"'),
        ("corel_jax.training", "optax", 'optax is needed for corel_jax.training: pip install "corel-jax[train]"'),
        ("corel_jax.training", "orbax", 'orbax-checkpoint is needed for corel_jax.training: pip install "corel-jax[train]"'),
        ("corel_jax.training", "tqdm", 'tqdm is needed for corel_jax.training: pip install "corel-jax[train]"'),
        ("corel_jax.models", "flax", 'flax is needed for corel_jax.models: pip install "corel-jax[train]"'),
        ("corel_jax.paper.demo", "flax", 'flax is needed for corel_jax.training: pip install "corel-jax[train]"'),
    ],
)  # fmt: skip
def test_a_missing_extra_is_one_line_naming_it(module, hidden, message):
    result = run_without(
        (hidden,),
        f"""
        try:
            import {module}
        except ImportError as err:
            print(type(err).__name__, err, sep=": ")
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"MissingExtraError: {message}\n"


def test_the_check_imports_nothing(tmp_path):
    """``import corel_jax.training`` checks its packages without importing them (the CLI's help)."""
    result = run_without(
        (),
        """
        import corel_jax.training
        loaded = [m for m in ("jax", "flax", "optax", "orbax", "tqdm") if m in sys.modules]
        assert not loaded, loaded
        """,
    )
    assert result.returncode == 0, result.stderr


def test_the_command_line_without_the_train_extra():
    result = run_without(
        TRAIN,
        """
        import contextlib, io
        from corel_jax import __version__, commands
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            commands.main(["--help"])
        assert "(unavailable: flax is needed" in out.getvalue(), out.getvalue()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            commands.main(["--version"])
        assert out.getvalue().endswith(f"corel-jax {__version__}\\n")
        assert commands.main(["info"]) == 0
        assert commands.main(["train", "--workdir", "w", "--epochs", "1"]) == 2
        """,
    )
    assert result.returncode == 0, result.stderr
    assert 'error: flax is needed for corel_jax.training: pip install "corel-jax[train]"' in (
        result.stderr
    )
    assert "extra [train]   missing flax, optax, orbax-checkpoint, tqdm" in result.stdout


class TestHelpers:
    def test_require_imports_or_names_the_extra(self):
        assert _extras.require("matplotlib", purpose="plots").__name__ == "matplotlib"
        with pytest.raises(ValueError, match="must belong"):
            _extras.require("numpy", purpose="arrays")

    def test_check_installed_finds_submodules_without_importing_them(self, monkeypatch):
        assert _extras._installed("orbax.checkpoint")
        assert not _extras._installed("orbax.no_such_module")
        assert not _extras._installed("no_such_package.sub")
        monkeypatch.setitem(sys.modules, "sklearn", None)
        assert not _extras._installed("sklearn")
        with pytest.raises(_extras.MissingExtraError, match=r"corel-jax\[eval\]"):
            _extras.check_installed(("sklearn",), purpose="a test")

    def test_extra_status_lists_every_extra(self):
        status = _extras.extra_status()
        assert set(status) == {"train", "data", "eval"}
        assert status["train"]["flax"] is not None  # installed here (the test extra)
