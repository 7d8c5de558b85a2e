#!/usr/bin/env bash
# The core install as a user gets it: a fresh virtualenv, `pip install .` (no
# extra), then corel_jax.loss, .persistence and .diagrams imported and a jitted
# loss and its gradient computed, with none of flax, optax, orbax-checkpoint and
# tqdm installed. Prints what was installed: the packages and their size.
#
#   .ci/core_install.sh             # in a temporary folder
#   CORE_VENV=/tmp/core .ci/core_install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
venv="${CORE_VENV:-$work/venv}"
rm -rf "$venv"
"$PYTHON" -m venv "$venv"
# from a copy of the working tree (tracked and new files): nothing built before
tree="$work/corel-jax"
mkdir -p "$tree"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$tree"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "$tree"

mkdir "$work/run" && cd "$work/run"  # away from the sources: the installed package is imported
"$venv/bin/python" - <<'PY'
import importlib.metadata as md
import importlib.util
import sys

for name in ("flax", "optax", "orbax", "tqdm", "tensorflow", "matplotlib", "sklearn"):
    assert importlib.util.find_spec(name) is None, f"{name} is installed by the core install"

import jax
import jax.numpy as jnp

import corel_jax.diagrams
import corel_jax.loss
import corel_jax.persistence
from corel_jax import connectivity_loss, rips_h0, wasserstein_distance

z = jax.random.normal(jax.random.key(0), (64, 8))
value, grad = jax.jit(jax.value_and_grad(lambda z: connectivity_loss(z, eta=1.0)))(z)
assert jnp.isfinite(value) and bool(jnp.any(grad != 0)), (value, grad)
dist = jax.jit(lambda a, b: wasserstein_distance(rips_h0(a).diagram(), rips_h0(b).diagram()))
assert float(dist(z, 2 * z)) > 0
print(f"core install OK: loss {float(value):.4f}; native kernel: "
      f"{corel_jax.persistence.native_kernel_available()} ({corel_jax.persistence._native.STATUS})")
dists = sorted(d.metadata["Name"] for d in md.distributions())
deps = [d for d in dists if d.lower() not in ("pip", "setuptools", "wheel")]
print(f"{len(deps)} packages: {', '.join(deps)}")
PY
site=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "site-packages: $(du -sm "$site" | cut -f1) MiB (pip and setuptools included)"
