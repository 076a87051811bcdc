//! The GPU backend agrees with the CPU reference on random layers: programmed conductances
//! within 1e-5 relative, outputs within one ADC step on at least 99.9% of entries.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

mod common;

use imcnas::backend::Backend;
use imcnas::backend::cpu::CpuBackend;
use imcnas::backend::gpu::GpuBackend;
use imcnas::config::{self, HwConfig};
use imcnas::physics::rng::Seed;
use imcnas::runtime::engine::{Chip, program_layer};

struct Case {
    n_out: usize,
    n_in: usize,
    batch: usize,
    preset: &'static str,
    overrides: &'static [&'static str],
}

/// Programs and runs one layer on both backends and checks their agreement.
fn compare(gpu: &GpuBackend, case: &Case) {
    let overrides: Vec<String> = case.overrides.iter().map(|s| s.to_string()).collect();
    let hw: HwConfig = config::load(case.preset, &overrides).unwrap();
    let w = common::uniform(case.n_out * case.n_in, -0.5, 0.5, 11);
    let mut x = common::uniform(case.batch * case.n_in, -1.0, 1.0, 12);
    // An all-zero input vector must give exactly zero on both (no conversion happens).
    x[..case.n_in].fill(0.0);
    let chip = Chip {
        seed: Seed(99),
        instance: 3,
    };
    let cpu_layer =
        program_layer(&CpuBackend, &hw, &w, (case.n_out, case.n_in), None, 1, chip).unwrap();
    let gpu_layer = program_layer(gpu, &hw, &w, (case.n_out, case.n_in), None, 1, chip).unwrap();

    let (gc, gg) = (
        cpu_layer.conductances(&CpuBackend).unwrap(),
        gpu_layer.conductances(gpu).unwrap(),
    );
    let worst_g = gc
        .g_pos
        .iter()
        .chain(&gc.g_neg)
        .zip(gg.g_pos.iter().chain(&gg.g_neg))
        .map(|(a, b)| (a - b).abs() / a.abs().max(b.abs()).max(1e-3))
        .fold(0f32, f32::max);
    assert!(
        worst_g <= 1e-5,
        "{}x{} {}: conductances differ by {worst_g:e} relative",
        case.n_out,
        case.n_in,
        case.preset
    );
    for (a, b) in cpu_layer.gains().iter().zip(gpu_layer.gains()) {
        assert!(
            (a - b).abs() <= 1e-3 * a.abs(),
            "drift-compensation gains {a} vs {b}"
        );
    }

    let yc = cpu_layer.forward(&CpuBackend, &x, case.batch, 0).unwrap();
    let yg = gpu_layer.forward(gpu, &x, case.batch, 0).unwrap();
    assert!(
        yc[..case.n_out]
            .iter()
            .chain(&yg[..case.n_out])
            .all(|&v| v == 0.0),
        "zero input gave non-zero output"
    );
    // One ADC step in the weight domain is step * alpha * r * gain: bound it per row by the
    // largest digitisation factor any tile of the row can use.
    let step = if hw.adc.step > 0.0 { hw.adc.step } else { 1e-4 };
    let gain_max = cpu_layer.gains().iter().fold(1f32, |m, &g| m.max(g));
    let mut off = 0;
    let mut worst = 0f32;
    for (r, (row_c, row_g)) in yc.chunks(case.n_out).zip(yg.chunks(case.n_out)).enumerate() {
        let alpha = x[r * case.n_in..(r + 1) * case.n_in]
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()))
            .max(1e-3);
        let tol = step
            * alpha
            * gain_max
            * 16.0_f32.min(2f32.powi(hw.max_bm_rounds as i32 - 1))
            * 1.0001
            * cpu_layer.grid().in_groups as f32;
        for (a, b) in row_c.iter().zip(row_g) {
            let d = (a - b).abs();
            worst = worst.max(d / (step * alpha));
            off += usize::from(d > tol);
        }
    }
    let fraction = off as f64 / yc.len() as f64;
    eprintln!(
        "{}x{} batch {} {}: conductances {worst_g:.1e} rel, outputs {:.4}% beyond one ADC step, worst {worst:.2} steps",
        case.n_out,
        case.n_in,
        case.batch,
        case.preset,
        100.0 * fraction
    );
    assert!(
        fraction <= 0.001,
        "{:.4}% of outputs differ by more than one ADC step",
        100.0 * fraction
    );
}

fn gpu_or_skip() -> Option<&'static GpuBackend> {
    common::gpu()
}

#[test]
fn random_layers_of_several_shapes_and_presets() {
    let Some(gpu) = gpu_or_skip() else { return };
    let cases = [
        Case {
            n_out: 64,
            n_in: 48,
            batch: 16,
            preset: "quant-only",
            overrides: &[],
        },
        Case {
            n_out: 300,
            n_in: 200,
            batch: 33,
            preset: "aihwkit-default",
            overrides: &["tile.rows=128", "tile.cols=96"],
        },
        Case {
            n_out: 130,
            n_in: 517,
            batch: 9,
            preset: "pcm",
            overrides: &["tile.rows=256"],
        },
        Case {
            n_out: 100,
            n_in: 90,
            batch: 21,
            preset: "aihwkit-default",
            overrides: &[
                "device.model=generic",
                "device.stuck_on=0.02",
                "device.stuck_off=0.03",
                "mapping.weight_levels=16",
                "tile.rows=40",
                "tile.cols=40",
            ],
        },
        Case {
            n_out: 70,
            n_in: 60,
            batch: 12,
            preset: "ideal",
            overrides: &[],
        },
        Case {
            n_out: 50,
            n_in: 1000,
            batch: 8,
            preset: "quant-only",
            overrides: &["tile.rows=1000", "adc.bound=2"],
        },
        Case {
            n_out: 300,
            n_in: 200,
            batch: 17,
            preset: "aihwkit-default",
            overrides: &[
                "tile.rows=128",
                "tile.cols=96",
                "mapping.weight_scaling=\"column\"",
                "device.t_inference_s=86400",
                "device.drift_compensation=\"global\"",
            ],
        },
        Case {
            n_out: 130,
            n_in: 517,
            batch: 9,
            preset: "pcm",
            overrides: &["tile.rows=256", "mapping.weight_scaling=\"tile\""],
        },
        Case {
            n_out: 90,
            n_in: 300,
            batch: 11,
            preset: "rram",
            overrides: &["tile.rows=128"],
        },
        Case {
            n_out: 70,
            n_in: 450,
            batch: 10,
            preset: "aihwkit-hwa-standard",
            overrides: &[
                "dac.noise_management=\"abs_max\"",
                "device.t_inference_s=86400",
                "tile.ir_drop=5",
            ],
        },
    ];
    for case in &cases {
        compare(gpu, case);
    }
}

#[test]
fn a_layer_of_more_than_a_million_weights_in_chunks() {
    if gpu_or_skip().is_none() {
        return;
    }
    // A fresh backend whose bindings are limited to 1 MiB: the 1100 x 1000 layer (4.4 MB)
    // is split into column chunks and its batch into row chunks.
    let mut gpu = GpuBackend::new(true).expect("adapter seen by gpu_or_skip");
    gpu.limit_binding(1 << 20);
    let case = Case {
        n_out: 1100,
        n_in: 1000,
        batch: 300,
        preset: "pcm",
        overrides: &["tile.rows=300", "tile.cols=200"],
    };
    assert!(case.n_out * case.n_in > 1 << 20);
    compare(&gpu, &case);
    // Column chunks index the digital gains by the layer's columns.
    compare(
        &gpu,
        &Case {
            overrides: &[
                "tile.rows=300",
                "tile.cols=200",
                "mapping.weight_scaling=\"column\"",
            ],
            ..case
        },
    );
    // And with the adapter's own limits.
    let Some(gpu) = gpu_or_skip() else { return };
    compare(gpu, &Case { batch: 4, ..case });
    let _ = gpu.describe();
}
