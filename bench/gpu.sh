#!/usr/bin/env bash
# The GPU checks, as one prepared script for a GPU machine lent for 15 minutes, its start (1-2
# min) included: tests/cuda against the reference on cuda:0 (<= 4 min), then the latency and
# memory benchmark at the v1.0 network shape (ResEnc-L, patch 192^3) on a 256^3 image (<= 4 min):
# ours in its default precision (fp16 autocast on CUDA) and in fp32 against the reference, per
# prompt type (the point row is the point-to-mask latency on a small object, a 60-voxel organ),
# the first prompt against the steady latency, where each prompt's time goes, and the peak GPU
# memory of each. Then, with the time left, a training phase of the demo model (<= 4.5 min).
#
#   bash bench/gpu.sh prepare   # here, with PyPI: wheels the GPU machine lacks, into .whl/
#   bash bench/gpu.sh           # on the GPU machine: install, tests/cuda, benchmark
#   bash bench/gpu.sh train     # on the GPU machine: the demo model's GPU phase, into $OUT
#   bash bench/gpu.sh dryrun    # here (CI): all of it on the CPU, in an environment holding
#                               # only the GPU machine's packages (bench/gpu_dry_run.sh)
#
# With the device tool: run(command="bash bench/gpu.sh", carry=[".whl", "nni_jupyter/static"],
# timeout_s=510), then on the same warm machine run(command="bash bench/gpu.sh train", same
# carry, timeout_s=300): the start 1-2, tests and benchmark 8.5 at most, training 4.5 (a phase
# of TRAIN_MINUTES=4, then its final validation and save). The machine has torch, numpy, scipy,
# pytest and tifffile (bench/gpu_machine_packages.txt) but not the model code or the reference:
# they travel as wheels. SimpleITK is too large to carry and the reference only imports it, so a
# stand-in module takes its place (the tests run in memory).
#
# Settings (environment): PYTHON (python3), WHEELS (.whl), WHEEL_PYTHON (the GPU machine's 3.12;
# the dry run gives its own), SITE (/tmp/site, where the wheels install), OUT (/tmp/gpu-out),
# TESTS_S (240), BENCH_S (240), TRAIN_MINUTES (4; at most 6), TRAIN_DEVICE (cuda),
# TRAIN_ITERATIONS (none: the wall time ends the phase).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
WHEELS="${WHEELS:-.whl}"
SITE="${SITE:-/tmp/site}"
STANDIN="${SITE}-standin"
OUT="${OUT:-/tmp/gpu-out}"

prepare() {
  rm -rf "$WHEELS"  # a later prepare must not leave two versions of one package
  mkdir -p "$WHEELS"
  # keep the wheels out of git; in a worktree .git is a file, so ask git where exclude lives
  if exclude="$(git rev-parse --git-path info/exclude 2>/dev/null)"; then
    case "$WHEELS" in
      /*) ;;  # outside the work tree
      *) mkdir -p "$(dirname "$exclude")"
         grep -qx "/$WHEELS/" "$exclude" 2>/dev/null || echo "/$WHEELS/" >> "$exclude" ;;
    esac
  fi
  local platforms=()
  for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 \
           manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$p")
  done
  # compiled: built for the GPU machine's CPython (3.12)
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: \
    --python-version "${WHEEL_PYTHON:-3.12}" --implementation cp "${platforms[@]}" -d "$WHEELS" \
    blosc2==4.14.1 connected-components-3d==4.1.1 numexpr==2.14.2 ndindex==1.10.1 \
    psygnal==0.16.1
  # pure Python, every one pinned (some publish only sources, so build wheels): the model code,
  # the reference and what they import that the machine lacks
  "$PYTHON" -m pip wheel -q --no-deps -w "$WHEELS" \
    dynamic-network-architectures==0.4.4 nninteractive==2.6.0 nninteractive-client==2.6.0 \
    nnunetv2==2.8.1 acvl-utils==0.2.6 batchgenerators==0.25.5 batchgeneratorsv2==0.3.6 \
    nibabel==5.4.2 anywidget==0.11.0 comm==0.2.3 ipywidgets==8.1.9 traitlets==5.16.1 \
    ipython==9.19.1 jedi==0.20.1 parso==0.8.7 matplotlib-inline==0.2.2 pexpect==4.9.0 \
    ptyprocess==0.7.0 prompt-toolkit==3.0.53 wcwidth==0.9.5 stack-data==0.6.3 executing==2.3.0 \
    asttokens==3.0.2 pure-eval==0.2.4 ipython-pygments-lexers==1.1.1 \
    widgetsnbextension==4.0.16 jupyterlab-widgets==3.0.17 platformdirs==4.14.9
  du -sh "$WHEELS"
}

install() {
  [ -d "$WHEELS" ] \
    || { echo "no $WHEELS/: run 'bash bench/gpu.sh prepare' here first" >&2; exit 2; }
  [ -f nni_jupyter/static/widget.js ] \
    || { echo "no widget bundle: run 'npm run build'" >&2; exit 2; }
  rm -rf "$SITE" "$STANDIN"
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --target "$SITE" "$WHEELS"/*.whl
  mkdir -p "$STANDIN/SimpleITK"
  echo '"""Stand-in: the reference imports SimpleITK; in-memory runs never call it."""' \
    > "$STANDIN/SimpleITK/__init__.py"
}

environment() {
  export PYTHONPATH="$PWD:$SITE:$STANDIN"
  export PYTHONUNBUFFERED=1
  # the CPU halves of the comparisons (our CPU run, the reference's thread setting) use the cores
  export NNI_TEST_THREADS="${NNI_TEST_THREADS:-$(nproc)}"
  mkdir -p "$OUT"
}

tests() {
  timeout "${TESTS_S:-240}" "$PYTHON" -m pytest -q -ra -s -p no:cacheprovider tests/cuda 2>&1 \
    | tee "$OUT/cuda_tests.log"
  return "${PIPESTATUS[0]}"
}

benchmark() {
  # --skip-rss: the RSS child would compile a third time; the latency part reports GPU memory
  timeout "${BENCH_S:-240}" "$PYTHON" bench/session_latency.py --full --size 256 --no-autozoom \
    --threads 8 --skip-rss 2>&1 | tee "$OUT/gpu_latency.log"
  return "${PIPESTATUS[0]}"
}

train() {
  # Resumes from the bundled checkpoint (its weights; a new phase record that keeps the earlier
  # ones), the learning rate over this phase's wall time, the cores making examples. The
  # resume file stays in /tmp: $OUT gets the model folder (each file well under 16 MiB) and log.
  local minutes="${TRAIN_MINUTES:-4}" iterations=()
  awk "BEGIN { exit !($minutes > 0 && $minutes <= 6) }" \
    || { echo "TRAIN_MINUTES must be in (0, 6]; got $minutes" >&2; exit 2; }
  [ -n "${TRAIN_ITERATIONS:-}" ] && iterations=(--iterations "$TRAIN_ITERATIONS")
  local workers=$(( $(nproc) > 2 ? $(nproc) - 2 : 1 ))
  # the phase's minutes, then setup, validation and saving: 6.5 min at most
  timeout "$(awk "BEGIN { print int($minutes * 60 + 30) }")" \
    "$PYTHON" -m nni_jupyter.demo.train --init nni_jupyter/demo/model \
    --out "$OUT/demo-model" --state /tmp/demo-train/resume.pt --device "${TRAIN_DEVICE:-cuda}" \
    --workers "${TRAIN_WORKERS:-$workers}" --threads 2 --minutes "$minutes" "${iterations[@]}" \
    --time-schedule --planned-iterations 1000000 --lr 5e-4 --batch-size "${TRAIN_BATCH:-8}" \
    --own-prediction-from 0 --large-object-share 0.4 --initial-share 0.65 --point-share 0.6 \
    --validation-examples "${TRAIN_VALIDATION:-16}" --log-every 50 \
    --note "GPU phase (bash bench/gpu.sh train): from the bundled checkpoint" \
    2>&1 | tee "$OUT/train.log"
  return "${PIPESTATUS[0]}"
}

gpu_info() {
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$PYTHON" -c "import torch; print('torch', torch.__version__,
    torch.cuda.is_available() and torch.cuda.get_device_name(0))"
}

case "${1:-run}" in
  prepare) prepare ;;
  install) install ;;
  dryrun) exec bash bench/gpu_dry_run.sh ;;
  tests) environment; tests ;;
  train)
    [ -d "$SITE" ] || install
    environment; gpu_info; train ;;
  run)
    install; environment; gpu_info
    set +e
    tests; tests_rc=$?
    benchmark; bench_rc=$?
    echo "tests/cuda exit $tests_rc, benchmark exit $bench_rc"
    exit $(( tests_rc != 0 || bench_rc != 0 )) ;;
  *) echo "usage: bash bench/gpu.sh [prepare|run|train|tests|install|dryrun]" >&2; exit 2 ;;
esac
