#!/usr/bin/env python3
"""Writes the inputs of tests/presets_unchanged.rs: a weight matrix W (48 x 600, two input
tiles of the 512-row presets) and inputs X (32 x 600), float32 .npy, from a fixed linear
congruential sequence (no numpy needed). The outputs Y_<preset>.npy beside them were made by
`imcnas mvm` of commit 37f7994, the engine before the sliced chip:

    for p in ideal quant-only aihwkit-default pcm rram sram; do
      imcnas mvm --weights W.npy --inputs X.npy --config $p --backend cpu --seed 7 \
        --instances 2 --out Y_$p.npy
    done
"""
import struct
import sys
from pathlib import Path

def npy(path, shape, values):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % (
        ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else ""))
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % len(values), *values))

def sequence(n, state):
    out = []
    for _ in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        out.append(((state >> 40) / 2**24) * 2.0 - 1.0)
    return out, state

out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/presets")
w, state = sequence(48 * 600, 12345)
x, _ = sequence(32 * 600, state)
# A few structured rows: zeros, a tiny vector, values beyond the DAC bound.
x[0:600] = [0.0] * 600
x[600:1200] = [v * 1e-3 for v in x[600:1200]]
x[1200:1206] = [3.0, -2.5, 1.25, -1.25, 2.0, -3.0]
npy(out / "W.npy", (48, 600), [v * 0.3 for v in w])
npy(out / "X.npy", (32, 600), x)
