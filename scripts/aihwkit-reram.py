#!/usr/bin/env python3
"""Layer reference of the Wan et al. 2022 ReRAM model, made with aihwkit 1.2.0 (its
`ReRamWan2022NoiseModel` with g_max = 40 uS on a differential pair per weight): for a 48 x 100
weight matrix W (a fixed linear congruential sequence, written into the output), the
programmed and 1-day / 2-day weights of 40 chip draws, summarised per bin of |W| / max|W|
(mean and standard deviation of the weight error, signed towards the weight's sign). `tests/device_statistics.rs` compares
imcnas's devices with these figures.

    /tmp/aihwkit/venv/bin/python scripts/aihwkit-reram.py tests/data/aihwkit-reram/wan2022.json
"""
import json
import sys

import numpy as np
import torch
from aihwkit.inference.noise.reram import ReRamWan2022NoiseModel

N_OUT, N_IN, DRAWS = 48, 100, 40
EDGES = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0001]


def sequence(n, state=4242):
    out = []
    for _ in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        out.append(((state >> 40) / 2**24) * 2.0 - 1.0)
    return out


def summary(w, draws):
    rel = np.abs(w) / np.abs(w).max()
    bins = []
    for lo, hi in zip(EDGES[:-1], EDGES[1:]):
        mask = (rel >= lo) & (rel < hi)
        err = np.concatenate([((d - w) * np.sign(w))[mask] for d in draws])
        bins.append({"lo": lo, "hi": hi, "count": int(err.size),
                     "mean": float(err.mean()), "std": float(err.std())})
    return bins


def main():
    w = (np.array(sequence(N_OUT * N_IN), dtype=np.float32) * 0.3).reshape(N_OUT, N_IN)
    model = ReRamWan2022NoiseModel(g_max=40.0)
    out = {"source": "aihwkit 1.2.0 ReRamWan2022NoiseModel(g_max=40.0), SinglePairConductanceConverter",
           "shape": [N_OUT, N_IN], "draws": DRAWS, "weights": [float(v) for v in w.ravel()],
           "times": {}}
    wt = torch.tensor(w)
    for t in [0.0, 86400.0, 172800.0]:
        draws = []
        for seed in range(DRAWS):
            torch.manual_seed(seed)
            programmed, nu = model.apply_programming_noise(wt)
            if t > 0:
                draws.append(model.apply_drift_noise(programmed, nu, t).numpy())
            else:
                draws.append(programmed.numpy())
        out["times"][str(int(t))] = summary(w, draws)
    with open(sys.argv[1], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
