#!/usr/bin/env python3
"""Layer references of the aihwkit presets imcnas names (aihwkit 1.2.0): a 48 x 100 layer of
weights W and 16 input vectors X (fixed linear congruential sequences) through an
AnalogLinear under `StandardHWATrainingPreset` and under AnalogNAS-Bench's configuration
(8-bit converters, output bound 10 and noise 0.04, no noise or bound management, layer-wise
symmetric weight remapping), with their random parts switched off (no programming, output or
weight noise, IR drop 0, input ranges disabled: imcnas has no IR drop and sets input ranges
from data) so that the deterministic chain is compared exactly: weight scaling per column or
per layer with its digital factor, the DAC, the ADC and its bound.

    /tmp/aihwkit/venv/bin/python scripts/aihwkit-presets.py tests/data/aihwkit-presets

A third case keeps StandardHWATrainingPreset's IR drop (ir_drop 1.0) on a tile of 500 rows
(ir-drop-{W,X,Y}.npy).
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
from aihwkit.nn import AnalogLinear
from aihwkit.simulator.configs import InferenceRPUConfig
from aihwkit.simulator.parameters import (
    BoundManagementType,
    MappingParameter,
    NoiseManagementType,
    WeightRemapType,
)
from aihwkit.simulator.presets import StandardHWATrainingPreset

N_OUT, N_IN, BATCH = 48, 100, 16


def sequence(n, state):
    out = []
    for _ in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        out.append(((state >> 40) / 2**24) * 2.0 - 1.0)
    return out


def quiet(rpu, ir_drop=0.0):
    rpu.forward.out_noise = 0.0
    rpu.forward.w_noise = 0.0
    rpu.forward.ir_drop = ir_drop
    rpu.pre_post.input_range.enable = False
    rpu.drift_compensation = None
    return rpu


def analognas_bench():
    rpu = InferenceRPUConfig()
    rpu.forward.inp_res = 1 / 254.0
    rpu.forward.out_res = 1 / 254.0
    rpu.forward.inp_bound = 1.0
    rpu.forward.out_bound = 10.0
    rpu.forward.out_noise = 0.04
    rpu.forward.noise_management = NoiseManagementType.NONE
    rpu.forward.bound_management = BoundManagementType.NONE
    rpu.mapping = MappingParameter(weight_scaling_omega=1.0, weight_scaling_columnwise=False,
                                   max_input_size=512, max_output_size=512, digital_bias=True)
    rpu.remap.type = WeightRemapType.LAYERWISE_SYMMETRIC
    return rpu


def main():
    out_dir = Path(sys.argv[1])
    w = torch.tensor(sequence(N_OUT * N_IN, 99), dtype=torch.float32).reshape(N_OUT, N_IN) * 0.4
    # Small weights in the first outputs, for the column scaling to show.
    w[:8] *= 0.05
    x = torch.tensor(sequence(BATCH * N_IN, 7), dtype=torch.float32).reshape(BATCH, N_IN) * 0.9
    for name, rpu in [("aihwkit-hwa-standard", StandardHWATrainingPreset()),
                      ("analognas-bench", analognas_bench())]:
        layer = AnalogLinear(N_IN, N_OUT, bias=False, rpu_config=quiet(rpu))
        layer.set_weights(w)
        layer.eval()
        with torch.no_grad():
            y = layer(x)
        (out_dir / f"{name}.json").write_text(json.dumps({
            "source": f"aihwkit 1.2.0, {name}, noise off, IR drop 0, input ranges disabled",
            "W": w.tolist(), "X": x.tolist(), "Y": y.tolist()}))
        print(name, float(y.abs().max()))
    # IR drop at the preset's own scale on a tile of 500 rows, where it is a few percent.
    w = torch.tensor(sequence(N_OUT * 500, 5), dtype=torch.float32).reshape(N_OUT, 500) * 0.4
    x = torch.tensor(sequence(BATCH * 500, 6), dtype=torch.float32).reshape(BATCH, 500)
    x = x.abs() * 0.9
    layer = AnalogLinear(500, N_OUT, bias=False,
                         rpu_config=quiet(StandardHWATrainingPreset(), ir_drop=1.0))
    layer.set_weights(w)
    layer.eval()
    with torch.no_grad():
        y = layer(x)
    # As float32 .npy (W, X, Y of the IR-drop case): exact and compact.
    for key, value in [("W", w), ("X", x), ("Y", y)]:
        np.save(out_dir / f"ir-drop-{key}.npy", value.numpy().astype(np.float32))
    print("ir drop", float(y.abs().max()))


if __name__ == "__main__":
    main()
