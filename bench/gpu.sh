#!/usr/bin/env bash
# The GPU checks, as one prepared script: tests/cuda against the reference on cuda:0, then the
# latency and memory benchmark at the v1.0 network shape (ResEnc-L, patch 192^3) on a 256^3 image:
# ours in its default precision (fp16 autocast on CUDA) and in fp32 against the reference, per
# prompt type (the point row is the point-to-mask latency on a small object, a 60-voxel organ),
# the first prompt against the steady latency, where each prompt's time goes, and the peak GPU
# memory of each.
#
#   bash bench/gpu.sh prepare   # here, with PyPI: wheels the GPU machine lacks, into .whl/
#   bash bench/gpu.sh           # on the GPU machine (torch with CUDA, python 3.12 there)
#
# With the device tool: run(command="bash bench/gpu.sh", carry=[".whl", "nni_jupyter/static"],
# timeout_s=540). The machine has torch, numpy, scipy, pytest and tifffile but not the model
# code or the reference: they travel as wheels. SimpleITK is too large to carry and the reference
# only imports it, so a stand-in module takes its place (the tests run in memory). Under 8 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=.whl

if [ "${1:-run}" = prepare ]; then
  mkdir -p "$WHEELS"
  grep -qx "/$WHEELS/" .git/info/exclude 2>/dev/null || echo "/$WHEELS/" >> .git/info/exclude
  platforms=()
  for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 \
           manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$p")
  done
  # compiled: built for the GPU machine's CPython 3.12
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" -d "$WHEELS" \
    blosc2==4.14.1 connected-components-3d==4.1.1 numexpr==2.14.2 ndindex==1.10.1 \
    psygnal==0.16.1
  # pure Python (some publish only sources, so build wheels): the model code, the reference and
  # what they import that the machine lacks
  python3 -m pip wheel -q --no-deps -w "$WHEELS" \
    dynamic-network-architectures==0.4.4 nninteractive==2.6.0 nninteractive-client==2.6.0 \
    nnunetv2==2.8.1 acvl-utils==0.2.6 batchgenerators==0.25.5 batchgeneratorsv2==0.3.6 \
    nibabel==5.4.2 anywidget==0.11.0 comm==0.2.3 ipywidgets==8.1.9 traitlets==5.16.1 \
    ipython==9.18.1 decorator jedi parso matplotlib-inline pexpect ptyprocess prompt-toolkit \
    wcwidth stack-data executing asttokens pure-eval ipython-pygments-lexers \
    widgetsnbextension jupyterlab-widgets
  du -sh "$WHEELS"
  exit 0
fi

OUT="${OUT:-/tmp/gpu-out}"
mkdir -p "$OUT"
[ -d "$WHEELS" ] || { echo "no $WHEELS/: run 'bash bench/gpu.sh prepare' here first" >&2; exit 2; }
[ -f nni_jupyter/static/widget.js ] || { echo "no widget bundle: run 'npm run build'" >&2; exit 2; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site "$WHEELS"/*.whl
mkdir -p /tmp/standin/SimpleITK
echo '"""Stand-in: the reference imports SimpleITK; in-memory runs never call it."""' \
  > /tmp/standin/SimpleITK/__init__.py
export PYTHONPATH="$PWD:/tmp/site:/tmp/standin"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"

set +e
timeout 300 python3 -m pytest -q -ra -s -p no:cacheprovider tests/cuda 2>&1 | tee "$OUT/cuda_tests.log"
tests_rc=${PIPESTATUS[0]}
timeout 200 python3 bench/session_latency.py --full --size 256 --no-autozoom --threads 8 \
  2>&1 | tee "$OUT/gpu_latency.log"
bench_rc=${PIPESTATUS[0]}
echo "tests/cuda exit $tests_rc, benchmark exit $bench_rc"
exit $(( tests_rc != 0 || bench_rc != 0 ))
