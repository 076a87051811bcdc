//! The engine reproduces IBM aihwkit 1.2's outputs for the same weights, inputs and
//! configuration (files in `../shared/reference/aihwkit`), on both backends, within 1e-5 of
//! max |y|.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

mod common;

use imcnas::backend::Backend;
use imcnas::config;
use imcnas::physics::rng::Seed;
use imcnas::runtime::engine::{Chip, program_layer};

/// Runs X through W with a preset plus overrides and returns (Y, reference Y, max|ref|).
fn run<B: Backend>(backend: &B, case: &str, key: &str, preset: &str, overrides: &[&str]) -> f32 {
    let inputs = common::reference("inputs.json");
    let (n_out, n_in, w) = common::matrix(&inputs, "W");
    let (batch, _, x) = common::matrix(&inputs, "X");
    let expected = common::matrix(&common::reference(case), key).2;
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let hw = config::load(preset, &overrides).unwrap();
    let layer = program_layer(
        backend,
        &hw,
        &w,
        (n_out, n_in),
        None,
        0,
        Chip {
            seed: Seed(1),
            instance: 0,
        },
    )
    .unwrap();
    let y = layer.forward(backend, &x, batch, 0).unwrap();
    let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = y
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    eprintln!(
        "{case}/{key}: max deviation {worst:.3e} = {:.3e} of max|y| {scale:.3}",
        worst / scale
    );
    worst / scale
}

on_both_backends!(ideal_tile_equals_the_float_gemm, |b| {
    assert!(run(b, "case1_ideal.json", "Y", "ideal", &[]) <= 1e-5);
});

on_both_backends!(dac_adc_with_noise_and_bound_management, |b| {
    assert!(run(b, "case2_quant.json", "Y", "quant-only", &[]) <= 1e-5);
});

on_both_backends!(dac_adc_without_noise_and_bound_management, |b| {
    let off = ["dac.noise_management=none", "adc.bound_management=none"];
    assert!(run(b, "case2_quant.json", "Y_nm_none", "quant-only", &off) <= 1e-5);
});

on_both_backends!(four_tile_split_with_digital_partial_sums, |b| {
    let tiles = ["tile.rows=32", "tile.cols=32"];
    assert!(run(b, "case3_tile_split.json", "Y", "quant-only", &tiles) <= 1e-5);
});

/// The presets named after aihwkit configurations reproduce aihwkit's layer outputs for the
/// same weights and inputs (`tests/data/aihwkit-presets`, made by
/// `scripts/aihwkit-presets.py`) with their random parts off: weight scaling per column
/// (StandardHWATrainingPreset) or per layer (AnalogNAS-Bench) with the scale digital, 8-bit
/// converters, the output bound without bound management. aihwkit's learned input ranges are
/// off there, which is imcnas's "none" input scaling with a DAC bound of 1.
#[test]
fn aihwkit_named_presets_reproduce_aihwkit_s_layers() {
    for preset in ["aihwkit-hwa-standard", "analognas-bench"] {
        let path = format!(
            "{}/tests/data/aihwkit-presets/{preset}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let (n_out, n_in, w) = common::matrix(&case, "W");
        let (batch, _, x) = common::matrix(&case, "X");
        let expected = common::matrix(&case, "Y").2;
        let over: Vec<String> = [
            "device.model=\"ideal\"",
            "adc.out_noise=0",
            "device.w_noise=0",
            "dac.noise_management=\"none\"",
            "tile.ir_drop=0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let hw = config::load(preset, &over).unwrap();
        let chip = Chip {
            seed: Seed(1),
            instance: 0,
        };
        let check = |y: Vec<f32>, name: &str| {
            let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
            let worst = y
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs() / scale)
                .fold(0f32, f32::max);
            eprintln!("{preset} on {name}: worst deviation {worst:e} of max|y|");
            assert!(worst <= 1e-5, "{preset} on {name}: {worst}");
        };
        let cpu = imcnas::backend::cpu::CpuBackend;
        let layer = program_layer(&cpu, &hw, &w, (n_out, n_in), None, 0, chip).unwrap();
        check(layer.forward(&cpu, &x, batch, 0).unwrap(), "cpu");
        if let Some(gpu) = common::gpu() {
            let layer = program_layer(gpu, &hw, &w, (n_out, n_in), None, 0, chip).unwrap();
            check(layer.forward(gpu, &x, batch, 0).unwrap(), "gpu");
        }
    }
}

/// aihwkit's IR drop at StandardHWATrainingPreset's scale (ir_drop 1.0) on a tile of 500
/// rows of column-scaled weights, where it moves outputs by a few percent: the preset's layer
/// with its random parts off reproduces aihwkit's outputs on both backends.
#[test]
fn ir_drop_reproduces_aihwkit_s_layer() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/aihwkit-presets");
    let read = |name: &str| imcnas::io::read_npy(&dir.join(name)).unwrap();
    let (w, x, expected) = (
        read("ir-drop-W.npy"),
        read("ir-drop-X.npy"),
        read("ir-drop-Y.npy"),
    );
    let (n_out, n_in, batch) = (w.shape[0], w.shape[1], x.shape[0]);
    let over: Vec<String> = [
        "device.model=\"ideal\"",
        "adc.out_noise=0",
        "device.w_noise=0",
        "dac.noise_management=\"none\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let chip = Chip {
        seed: Seed(1),
        instance: 0,
    };
    let scale = expected.data.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = |hw: &config::HwConfig, backend: &dyn Fn(&config::HwConfig) -> Vec<f32>| {
        backend(hw)
            .iter()
            .zip(&expected.data)
            .map(|(a, b)| (a - b).abs() / scale)
            .fold(0f32, f32::max)
    };
    let cpu = |hw: &config::HwConfig| {
        let b = imcnas::backend::cpu::CpuBackend;
        let layer = program_layer(&b, hw, &w.data, (n_out, n_in), None, 0, chip).unwrap();
        layer.forward(&b, &x.data, batch, 0).unwrap()
    };
    let hw = config::load("aihwkit-hwa-standard", &over).unwrap();
    let with = worst(&hw, &cpu);
    let mut without_over = over.clone();
    without_over.push("tile.ir_drop=0".into());
    let without = worst(
        &config::load("aihwkit-hwa-standard", &without_over).unwrap(),
        &cpu,
    );
    eprintln!("IR drop: worst deviation {with:e} of max|y| with it, {without:e} without");
    assert!(with <= 1e-5, "with IR drop: {with}");
    assert!(
        without > 0.01,
        "IR drop moves these outputs by a few percent: {without}"
    );
    if let Some(gpu) = common::gpu() {
        let on_gpu = worst(&hw, &|hw| {
            let layer = program_layer(gpu, hw, &w.data, (n_out, n_in), None, 0, chip).unwrap();
            layer.forward(gpu, &x.data, batch, 0).unwrap()
        });
        eprintln!("IR drop on the GPU: worst deviation {on_gpu:e}");
        assert!(on_gpu <= 1e-5, "GPU: {on_gpu}");
    }
}
