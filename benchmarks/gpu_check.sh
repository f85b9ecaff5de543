#!/usr/bin/env bash
# The GPU check of docs/speed.md as one script, meant to take under 8 minutes on one CUDA GPU
# (not yet run on one):
#
#   benchmarks/gpu_check.sh [OUT]        # default OUT: runs/gpu-check
#
# 1. `maxl bench` for VGG-16 and ResNet-18 at batch 100 on 3×32×32 images, in fp32 and bf16:
#    every row (single, human, each hypergradient, both schedules, --meta-depth 1, the light
#    generator) with its ratio to single and its peak memory; tables and JSON in OUT.
# 2. A 1-epoch `maxl train` of MAXL with VGG-16 on generated CIFAR-shaped data (an .npz of
#    random 32×32×3 images, 10 classes with 5 finer classes each): OUT/train.log and
#    OUT/train-results.json.
#
# OUT/gpu_check.md gathers the tables, the training's epoch time and the machine. Settings come
# from the environment: DEVICE (cuda), ITERATIONS (10), WARMUP (2), BATCH (100), IMAGES (5000
# training images), BACKBONES ("vgg16 resnet18"), PRECISIONS ("fp32 bf16"), PYTHON (the
# project's .venv, else python3). The test suite runs it on the CPU with tiny settings:
#   DEVICE=cpu ITERATIONS=1 WARMUP=0 BATCH=4 IMAGES=40 BACKBONES=resnet18 PRECISIONS=bf16
set -euo pipefail

root="$(cd -- "$(dirname "$0")/.." >/dev/null && pwd)"
out="$(mkdir -p -- "${1:-runs/gpu-check}" && cd -- "${1:-runs/gpu-check}" >/dev/null && pwd)"
device="${DEVICE:-cuda}"
iterations="${ITERATIONS:-10}"
warmup="${WARMUP:-2}"
batch="${BATCH:-100}"
images="${IMAGES:-5000}"
backbones="${BACKBONES:-vgg16 resnet18}"
precisions="${PRECISIONS:-fp32 bf16}"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x "$root/.venv/bin/python" ]; then python="$root/.venv/bin/python"; else python=python3; fi
fi
# maxl from this checkout, installed or not
export PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}"
maxl() { "$python" -m maxl "$@"; }
has_cuda='import sys, torch; sys.exit(not torch.cuda.is_available())'
if [[ "$device" == cuda* ]] && ! "$python" -c "$has_cuda"; then
  echo "gpu_check: torch sees no CUDA device here; run it on a GPU machine, or set DEVICE=cpu" >&2
  exit 1
fi
data="$out/cifar-shaped.npz"
run="$(mktemp -d)"  # the training run's folder: its checkpoint stays out of OUT
trap 'rm -rf -- "$run" "$data"' EXIT

report="$out/gpu_check.md"
started=$(date +%s)
{
  echo "# GPU check ($(date -u +%Y-%m-%d), device $device)"
  echo
  "$python" - "$device" <<'EOF'
import sys

import torch

device = torch.device(sys.argv[1])
name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
print(f"torch {torch.__version__}, {name}")
EOF
} >"$report"

for backbone in $backbones; do
  for precision in $precisions; do
    tag="bench-$backbone-$precision"
    echo "== maxl bench $backbone $precision"
    args=(--backbone "$backbone" --batch-size "$batch" --image-size 32 --channels 3
      --iterations "$iterations" --warmup "$warmup" --device "$device" --precision "$precision")
    maxl bench "${args[@]}" --json >"$out/$tag.json"
    {
      echo
      echo "## \`maxl bench ${args[*]}\`"
      echo
      "$python" - "$out/$tag.json" <<'EOF'
import json
import sys

rows = json.load(open(sys.argv[1]))
print("| row | s / iteration | × single | peak memory (MiB) | × single |")
print("|---|---:|---:|---:|---:|")
for name, r in rows.items():
    print(
        f"| {name} | {r['seconds_per_iteration']:.4f} | {r['time_ratio']:.2f} | "
        f"{r['peak_memory_mb']:.0f} | {r['memory_ratio']:.2f} |"
    )
EOF
    } >>"$report"
  done
done

echo "== maxl train: 1 epoch of MAXL, VGG-16, generated CIFAR-shaped data"
"$python" - "$data" "$images" <<'EOF'
import sys

import numpy as np

path, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
fine_train, fine_test = rng.integers(0, 50, n), rng.integers(0, 50, max(n // 5, 10))
np.savez(
    path,
    x_train=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
    y_train=fine_train // 5,
    fine_train=fine_train,
    x_test=rng.integers(0, 256, (len(fine_test), 32, 32, 3), dtype=np.uint8),
    y_test=fine_test // 5,
    fine_test=fine_test,
)
EOF
maxl train --dataset "npz:$data" --method maxl --backbone vgg16 --epochs 1 \
  --batch-size "$batch" --device "$device" --out "$run" --no-progress 2>&1 | tee "$out/train.log"
"$python" - "$run" "$out/train-results.json" <<'EOF'
import json
import sys
from pathlib import Path

from maxl.run_folder import read_results

Path(sys.argv[2]).write_text(json.dumps(read_results(Path(sys.argv[1])), indent=2) + "\n")
EOF
{
  echo
  echo "## \`maxl train --dataset npz:CIFAR-SHAPED --method maxl --backbone vgg16 --epochs 1\`"
  echo
  echo "$images generated 32×32×3 training images, batch $batch, the paper's epochs schedule:"
  echo
  echo '```'
  grep -E "^(maxl|epoch)" "$out/train.log" || true
  echo '```'
  echo
  echo "The whole check took $(($(date +%s) - started)) s."
} >>"$report"
cat "$report"
