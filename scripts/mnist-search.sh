#!/usr/bin/env bash
# The experiments behind the README's search figures, each resumable (run it again after a
# kill and it continues):
#   1. the embedded digits experiment (`imcnas run`, the README's main job);
#   2. the MNIST joint search of models/experiment-mnist.toml;
#   3. the supernet's ranking of 20 sampled subnets against the same subnets trained from
#      scratch on MNIST (Kendall's tau), on the supernet of step 2.
# Usage: scripts/mnist-search.sh [OUT_DIR]   (default runs/)
# Environment: DATA (dataset folder, default ../shared/datasets), SKIP_DIGITS=1 (skip step 1),
# EPOCHS (from-scratch epochs per subnet, default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs}
data=${DATA:-../shared/datasets}
epochs=${EPOCHS:-3}
cargo build --quiet
bin=target/debug/imcnas

resume() { [ -f "$1/experiment.toml" ] && echo --resume || true; }

[ -n "${SKIP_DIGITS:-}" ] || time "$bin" run --backend cpu --out "$out/digits" $(resume "$out/digits")
time "$bin" run models/experiment-mnist.toml --backend cpu --set data.data_dir="$data" \
  --out "$out/mnist" $(resume "$out/mnist")
time "$bin" rank models/experiment-mnist.toml --set data.data_dir="$data" --set data.search_images=10000 \
  --supernet "$out/mnist/supernet" --subnets 20 --epochs "$epochs" --out "$out/mnist/rank.json"
