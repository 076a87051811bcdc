#!/usr/bin/env bash
# The experiment behind the README's accuracy figures: a small ResNet trained on MNIST for one
# epoch without hardware-aware training, with it, and with it plus gain noise before every batch
# norm, each evaluated on the `pcm` hardware at t = 0 and 1 day over 10 chip instances.
# Usage: scripts/mnist-hwa.sh [DATA_DIR] [OUT_DIR]   (defaults: ../shared/datasets, runs/mnist-hwa)
# Environment: ARCH (default resnet8-w8), ETA (weight noise, 0.08), GAIN (gain noise, 0.2).
# Every step resumes: a killed run continues from its last checkpoint when started again.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/datasets}
out=${2:-runs/mnist-hwa}
arch=${ARCH:-resnet8-w8}
gain=${GAIN:-0.2}
eta=${ETA:-0.08}
cargo build --release --quiet
bin=target/release/imcnas

train() { # name extra-args...
  local name=$1; shift
  if [ ! -f "$out/$name/weights.safetensors" ]; then
    local resume=()
    [ -f "$out/$name/checkpoint.bin" ] && resume=(--resume)
    "$bin" train --dataset mnist --data-dir "$data" --arch "$arch" --epochs 1 --seed 1 \
      --out "$out/$name" "${resume[@]}" "$@"
  fi
}

train float
train hwa --noise-eta "$eta" --fake-quant pcm --clip-sigma 2.5
train hwa-gain --noise-eta "$eta" --fake-quant pcm --clip-sigma 2.5 --gain-noise "$gain"

for name in float hwa hwa-gain; do
  echo "== $name"
  "$bin" eval --model "$out/$name" --config pcm --dataset mnist --data-dir "$data" \
    --backend cpu --instances 10 --t-inference 0,1d --out "$out/$name/eval-pcm"
done
