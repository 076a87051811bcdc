#!/usr/bin/env python3
"""aihwkit 1.2.0 peer of `imcnas eval` on an imcnas network folder (network.json +
weights.safetensors; conv2d / relu / max_pool / flatten / linear nodes), on Fashion-MNIST or
MNIST test images as imcnas reads them (uint8 / 255, no normalisation).

Run it in the peer's environment (../shared/tools/aihwkit/setup.sh builds it):

    /tmp/aihwkit/venv/bin/python scripts/aihwkit-network.py --model DIR \
        --data ../shared/datasets/fashion-mnist --seeds 10 --times 0,3600 \
        [--no-compensation] [--set forward.out_noise=0] [--set noise.prog_noise_scale=0] \
        [--images 2000] [--layers OUT.npz]

Prints one JSON object: accuracy per seed and drift time, and the drift-compensation alpha of
every layer. `--layers` also saves, for seed 0 at the first time, every analog layer's input
and output of the first 16 images, to compare intermediate quantities with imcnas.
"""
import argparse
import gzip
import json
import struct
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from aihwkit.inference.compensation.drift import GlobalDriftCompensation
from aihwkit.nn.conversion import convert_to_analog
from aihwkit.simulator.configs import InferenceRPUConfig


def safetensors(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a : 8 + n + b], dtype=np.float32).reshape(meta["shape"])
    return out


def build(model_dir):
    net = json.loads((Path(model_dir) / "network.json").read_text())
    tensors = safetensors(Path(model_dir) / "weights.safetensors")
    layers = []
    for node in net["nodes"]:
        op = node["op"]
        if op == "conv2d":
            m = nn.Conv2d(node["in_channels"], node["out_channels"], node["kernel"],
                          stride=node.get("stride", 1), padding=node.get("padding", 0))
        elif op == "linear":
            m = nn.Linear(node["in_features"], node["out_features"])
        elif op == "relu":
            m = nn.ReLU()
        elif op == "max_pool":
            m = nn.MaxPool2d(node["kernel"], node.get("stride", node["kernel"]))
        elif op == "flatten":
            m = nn.Flatten()
        else:
            raise SystemExit(f"{model_dir}: node {node['name']}: op {op} is not supported here")
        if op in ("conv2d", "linear"):
            m.weight.data = torch.tensor(tensors[node["name"] + ".weight"])
            m.bias.data = torch.tensor(tensors[node["name"] + ".bias"])
        layers.append((node["name"], m))
    return nn.Sequential(OrderedDict(layers))


def idx(path):
    raw = gzip.open(path).read() if str(path).endswith(".gz") else Path(path).read_bytes()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4 : 4 + 4 * dims])
    return np.frombuffer(raw[4 + 4 * dims :], dtype=np.uint8).reshape(shape)


def test_set(folder):
    folder = Path(folder)
    pick = lambda stem: next(p for p in folder.iterdir() if p.name.startswith(stem))
    x = idx(pick("t10k-images")).astype(np.float32) / 255.0
    y = idx(pick("t10k-labels")).astype(np.int64)
    return torch.tensor(x[:, None]), torch.tensor(y)


def config(compensation, sets):
    rpu = InferenceRPUConfig()
    rpu.drift_compensation = GlobalDriftCompensation() if compensation else None
    for item in sets:
        key, value = item.split("=", 1)
        section, field = key.split(".", 1)
        target = rpu.noise_model if section == "noise" else getattr(rpu, section)
        setattr(target, field, type(getattr(target, field))(float(value)))
    return rpu


def accuracy(model, x, y, batch=500):
    correct = 0
    with torch.no_grad():
        for s in range(0, len(x), batch):
            correct += (model(x[s : s + batch]).argmax(1) == y[s : s + batch]).sum().item()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--times", default="0,3600,86400,2592000,31536000")
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--no-compensation", action="store_true")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--layers")
    args = ap.parse_args()
    torch.set_num_threads(2)
    x, y = test_set(args.data)
    x, y = x[: args.images], y[: args.images]
    float_model = build(args.model).eval()
    times = [float(t) for t in args.times.split(",")]
    out = {"float": accuracy(float_model, x, y), "seeds": {}, "config": args.set,
           "compensation": not args.no_compensation}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        model = convert_to_analog(float_model, config(not args.no_compensation, args.set)).eval()
        torch.manual_seed(seed)
        model.program_analog_weights()
        per_time = {}
        for t in times:
            if t > 0:
                model.drift_analog_weights(t)
            alphas = {name: float(tile.alpha) if hasattr(tile, "alpha") and tile.alpha is not None else 1.0
                      for name, m in model.named_children() for tile in getattr(m, "analog_tiles", lambda: [])()}
            per_time[str(t)] = {"accuracy": accuracy(model, x, y), "alpha": alphas}
            if args.layers and seed == args.first_seed and t == times[0]:
                saved, h = {}, x[:16]
                with torch.no_grad():
                    for name, m in model.named_children():
                        if hasattr(m, "analog_tiles"):
                            saved[name + ".in"] = h.numpy()
                            saved[name + ".weight"] = next(m.analog_tiles()).get_weights()[0].numpy()
                        h = m(h)
                        saved[name + ".out"] = h.numpy()
                np.savez(args.layers, **saved)
        out["seeds"][str(seed)] = per_time
    print(json.dumps(out))


if __name__ == "__main__":
    main()
