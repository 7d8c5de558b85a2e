#!/usr/bin/env bash
# The project's GPU measurements, for a machine with one CUDA GPU and the image's own
# python3 (jax with its CUDA plugin, flax, optax, orbax, scipy), run from the repository root:
#
#   bash benchmarks/gpu_session.sh kernels        # tests/gpu, check_gpu.py, bench_persistence.py,
#                                                 # bench_train.py, bench_cubical.py
#   bash benchmarks/gpu_session.sh fashion_mnist  # the TopoAE Fashion-MNIST row, 100 epochs
#
# Everything lands in $OUT (default /tmp/gpu_out): log.txt and results.tgz (re-packed after
# every stage, so a stage cut short keeps what the earlier ones measured). Each stage has
# its own time limit (seconds, environment variables below) so the script ends in time.
# For fashion_mnist the Debian package's IDX files must be in /usr/share/datasets/fashion-mnist
# or in ./.fmnist (copied there).
set -u
STAGE=${1:?kernels or fashion_mnist}
OUT=${OUT:-/tmp/gpu_out}
WORK=/tmp/gpu_work
mkdir -p "$OUT" "$WORK"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # several processes share the GPU
PY=${PY:-python3}
exec > >(tee -a "$OUT/log.txt") 2>&1

pack() { tar czf "$OUT/results.tgz" -C "$WORK" . ; }
stage() {  # stage NAME LIMIT COMMAND...
  local name=$1 limit=$2; shift 2
  echo "=== $name (limit ${limit}s) $(date -u +%T)"
  local t0=$SECONDS
  timeout -k 15 "$limit" "$@"; local rc=$?
  echo "=== $name: exit $rc after $((SECONDS - t0)) s"
  pack
}

echo "=== $(date -u) $(hostname)"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv
$PY -c 'import jax, flax, optax, orbax.checkpoint, scipy, numpy; print("jax", jax.__version__, "flax", flax.__version__, "optax", optax.__version__, "numpy", numpy.__version__, "scipy", scipy.__version__); print(jax.devices())'
nproc; grep -m1 "model name" /proc/cpuinfo

case "$STAGE" in
kernels)
  # The Pallas kernels executed on the GPU against scipy and the CPU (pytest, marked gpu).
  stage gpu_tests "${TESTS_LIMIT:-420}" $PY -m pytest -m gpu tests/gpu -q -p no:cacheprovider \
    --junitxml "$WORK/gpu_tests.xml"
  stage check_gpu "${CHECK_LIMIT:-150}" $PY benchmarks/check_gpu.py --out "$WORK/check_gpu.json"
  stage bench_persistence "${BENCH_LIMIT:-240}" $PY benchmarks/bench_persistence.py --no-memory \
    --repeats 5 --out "$WORK/persistence_gpu.json"
  stage bench_train "${TRAIN_LIMIT:-120}" $PY benchmarks/bench_train.py --full-run-estimate \
    --out "$WORK/train_gpu.json"
  # cubical_h0 / graph_h0 on the XLA Borůvka path (goal: 128 28x28 images fwd+bwd < 1 ms)
  stage bench_cubical "${CUBICAL_LIMIT:-240}" $PY benchmarks/bench_cubical.py --repeats 5 \
    --out "$WORK/cubical_gpu.json"
  ;;
fashion_mnist)
  if [ -d .fmnist ]; then
    mkdir -p /usr/share/datasets/fashion-mnist && cp .fmnist/*.gz /usr/share/datasets/fashion-mnist/
  fi
  EPOCHS=${EPOCHS:-100}
  # One process per method (their measuring, on the CPU, overlaps the others' training).
  for m in topoae ae corel; do
    timeout -k 15 "${FMNIST_LIMIT:-480}" $PY -m experiments.topoae.run --row fashion_mnist --methods $m \
      --epochs "$EPOCHS" --root /tmp/runs --out "$WORK/fashion_mnist_$m.json" \
      > "$WORK/fashion_mnist_$m.log" 2>&1 &
  done
  while [ -n "$(jobs -r)" ]; do sleep 30; pack; tail -qn1 "$WORK"/fashion_mnist_*.log | cut -c1-150; done
  wait
  cp experiments/topoae/results/latents/fashion_mnist_*.npz "$WORK/" 2>/dev/null
  tail -n 30 "$WORK"/fashion_mnist_*.log
  pack
  ;;
*) echo "unknown stage $STAGE"; exit 2 ;;
esac
echo "=== done $(date -u +%T)"
