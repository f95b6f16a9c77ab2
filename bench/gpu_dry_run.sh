#!/usr/bin/env bash
# The CI dry run of bench/gpu.sh, on the CPU: what a first GPU run would meet, found here.
#
# 1. an environment holding only the GPU machine's packages (bench/gpu_machine_env.py: a venv
#    linked to .venv's torch 2.14.1 and the rest of bench/gpu_machine_packages.txt present there);
# 2. the wheels `bash bench/gpu.sh prepare` makes, for this machine's Python;
# 3. the GPU script's install and test steps in that environment, NNI_CUDA_TEST_DEVICE=cpu and
#    small sizes: all 7 CUDA tests must pass (AutoZoom on and off), none skipped;
# 4. its training step for 2 iterations on the CPU, with 2 example workers; every file it leaves
#    in $OUT must be at most 16 MiB, and the adoption check must read the model it wrote.
# About 4 minutes on 2 cores. Run: bash bench/gpu.sh dryrun (or this file).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
DRY="${NNI_GPU_DRY_DIR:-/tmp/nni-gpu-dry}"
MAIN_PYTHON="${MAIN_PYTHON:-.venv/bin/python}"
rm -rf "$DRY"
mkdir -p "$DRY"

"$MAIN_PYTHON" bench/gpu_machine_env.py --venv "$DRY/venv"
version="$("$MAIN_PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
PYTHON="$MAIN_PYTHON" WHEELS="$DRY/wheels" WHEEL_PYTHON="$version" bash bench/gpu.sh prepare
echo "dry run: environment and wheels in $(( SECONDS - start )) s"

export PYTHON="$DRY/venv/bin/python" WHEELS="$DRY/wheels" SITE="$DRY/site" OUT="$DRY/out"
# TESTS_S is a guard against a hang: about 2 minutes are expected on 2 idle cores
export NNI_CUDA_TEST_DEVICE=cpu NNI_CUDA_TEST_SMALL=1 TESTS_S="${TESTS_S:-420}"
bash bench/gpu.sh install
bash bench/gpu.sh tests
log="$OUT/cuda_tests.log"
grep -Eq "(^| )7 passed" "$log" && ! grep -Eq "skipped|deselected" "$log" \
  || { echo "dry run: expected all 7 CUDA tests to pass, none skipped" >&2; exit 1; }
echo "dry run: install and tests/cuda in $(( SECONDS - start )) s"

TRAIN_DEVICE=cpu TRAIN_ITERATIONS=2 TRAIN_WORKERS=2 TRAIN_BATCH=2 TRAIN_VALIDATION=1 \
  TRAIN_MINUTES=3 bash bench/gpu.sh train
too_big="$(find "$OUT" -type f -size +16M)"
[ -z "$too_big" ] || { echo "dry run: files over 16 MiB in \$OUT: $too_big" >&2; exit 1; }
"$MAIN_PYTHON" bench/adopt_demo_phase.py "$OUT/demo-model" --check-only
echo "dry run: GPU script green on the CPU in $(( SECONDS - start )) s"
