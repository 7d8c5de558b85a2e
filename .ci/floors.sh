#!/usr/bin/env bash
# The declared floors, tested: a virtualenv with exactly the oldest jax, jaxlib and
# numpy that pyproject.toml allows (and the oldest flax, optax, orbax-checkpoint and
# tqdm of the [train] extra), the package built there (its C++ kernel compiled
# against that jaxlib), and the core tests: persistence, loss, diagrams, models and
# the training tests that need the [train] extra only (scikit-learn provides their
# digits dataset).
#
#   .ci/floors.sh                          # a fresh venv in a temporary folder
#   FLOORS_VENV=/tmp/floors .ci/floors.sh  # ... or there (reused if it exists)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

# "name==floor" for each name, read from pyproject.toml's "name>=floor" requirements
pins=$("$PYTHON" - <<'PY'
import pathlib, re
text = pathlib.Path("pyproject.toml").read_text()
for name in ("jax", "jaxlib", "numpy", "flax", "optax", "orbax-checkpoint", "tqdm"):
    floor = re.search(rf'"{re.escape(name)}>=([\w.]+)', text)
    if floor is None:
        raise SystemExit(f"pyproject.toml declares no floor for {name}")
    print(f"{name}=={floor.group(1)}")
PY
)
echo "floors: $(echo $pins)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
venv="${FLOORS_VENV:-$work/venv}"
if [ ! -x "$venv/bin/python" ]; then
  "$PYTHON" -m venv "$venv"
fi
# the floors, and the test tools (whatever pip resolves next to them)
"$venv/bin/python" -m pip install -q --disable-pip-version-check $pins \
  "setuptools>=68" wheel pytest hypothesis chex scipy gudhi POT scikit-learn
"$venv/bin/python" -m pip check

# A copy of the working tree (tracked and new files, nothing ignored: no kernel
# built for another jaxlib), installed in place so that the tests, which import
# the tree they run in, use the kernel built against the floor jaxlib.
tree="$work/corel-jax"
mkdir -p "$tree"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$tree"
cd "$tree"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
  --no-build-isolation -e .
"$venv/bin/python" -m pip list 2>/dev/null \
  | grep -iE '^(jax|jaxlib|numpy|flax|optax|orbax-checkpoint|tqdm) '
"$venv/bin/python" -m corel_jax info

# CI=false: the comparisons with other libraries (PyTorch, torch-topological, Triton's
# CUDA compiler) are not installed next to the floors and skip here; the main run checks them.
CI=false "$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" \
  tests/persistence tests/loss tests/test_diagrams.py tests/models \
  tests/training/test_config.py tests/training/test_checkpoint.py \
  tests/training/test_parallel.py tests/training/test_backbone.py
