#!/usr/bin/env bash
# Runs the crossbar, LeNet and search benchmarks and prints each analog backend's time as a ratio of
# the plain f32 baseline measured in the same run (the figures in the README).
# Usage: scripts/bench-ratios.sh [extra criterion arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench crossbar --bench lenet --bench search -- "$@"
python3 - <<'PY'
import json, pathlib
root = pathlib.Path("target/criterion")
for group in sorted(p for p in list(root.glob("mvm_*")) + list(root.glob("lenet_*")) + list(root.glob("candidates_*")) if p.is_dir()):
    def mean(bench):
        est = bench / "new" / "estimates.json"
        return json.loads(est.read_text())["mean"]["point_estimate"] / 1e6 if est.exists() else None
    baseline = "plain_f32_gemm" if group.name.startswith("mvm_") else "plain_f32"
    base = mean(group / baseline)
    for bench in sorted(group.iterdir()):
        t = mean(bench)
        if t is None or bench.name in (baseline, "report"):
            continue
        print(f"{group.name:28} {bench.name:44} {t:9.3f} ms   {baseline} {base:9.3f} ms   ratio {t / base:5.2f}")
PY
