//! The sliced chip's arithmetic: with exact devices and ideal converters the bit-sliced,
//! bit-serial product is the integer product of the quantised weights and inputs; a
//! full-range ADC with enough bits loses nothing for any slicing; and the GPU agrees with the
//! CPU on noisy sliced layers.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

mod common;

use imcnas::backend::Backend;
use imcnas::backend::cpu::CpuBackend;
use imcnas::config::{self, HwConfig};
use imcnas::physics::rng::Seed;
use imcnas::runtime::engine::{Chip, program_layer};

/// The slicings and reads under test, as overrides of the ideal preset (which the cases turn
/// into a sliced chip with a 7-bit DAC, no noise management and a +-1 input range).
const SLICINGS: &[&[&str]] = &[
    &[
        "mapping.weight_bits=8",
        "mapping.cell_bits=1",
        "dac.bits_per_read=1",
    ],
    &[
        "mapping.weight_bits=8",
        "mapping.cell_bits=2",
        "dac.bits_per_read=2",
    ],
    &[
        "mapping.weight_bits=7",
        "mapping.cell_bits=3",
        "dac.bits_per_read=3",
    ],
    &[
        "mapping.weight_bits=6",
        "mapping.cell_bits=4",
        "dac.bits_per_read=0",
    ],
    &[
        "mapping.weight_bits=8",
        "mapping.cell_bits=2",
        "mapping.encoding=\"offset\"",
        "dac.bits_per_read=1",
    ],
    &[
        "mapping.weight_bits=5",
        "mapping.cell_bits=1",
        "mapping.encoding=\"offset\"",
        "dac.bits_per_read=2",
        "dac.inputs=\"two_phase\"",
    ],
    &[
        "mapping.weight_bits=8",
        "mapping.cell_bits=4",
        "dac.bits_per_read=1",
        "dac.inputs=\"two_phase\"",
    ],
];

const SHAPE: (usize, usize, usize) = (37, 90, 11);

fn hardware(slicing: &[&str], extra: &[String]) -> HwConfig {
    let mut set: Vec<String> = [
        "tile.rows=40",
        "tile.cols=16",
        "tile.rows_parallel=9",
        "dac.bits=7",
        "dac.noise_management=\"none\"",
        "adc.range=\"full\"",
        "adc.bound_management=\"none\"",
        "device.g_min_us=5.0",
    ]
    .iter()
    .chain(slicing)
    .map(|s| s.to_string())
    .collect();
    set.extend(extra.iter().cloned());
    config::load("ideal", &set).unwrap()
}

fn layer_data() -> (Vec<f32>, Vec<f32>) {
    let (n_out, n_in, batch) = SHAPE;
    let w = common::uniform(n_out * n_in, -0.7, 0.7, 3);
    let mut x = common::uniform(batch * n_in, -1.2, 1.2, 4);
    x[..n_in].fill(0.0);
    (w, x)
}

fn run<B: Backend>(backend: &B, hw: &HwConfig, w: &[f32], x: &[f32]) -> Vec<f32> {
    let (n_out, n_in, batch) = SHAPE;
    let chip = Chip {
        seed: Seed(5),
        instance: 0,
    };
    let layer = program_layer(backend, hw, w, (n_out, n_in), None, 0, chip).unwrap();
    layer.forward(backend, x, batch, 0).unwrap()
}

/// Y = w_max / (2^(B-1) - 1) * W_int . x_q in f64, from the definitions: W_int = round(w /
/// w_max * (2^(B-1) - 1)), x_q = round(clip(x, -1, 1) * (2^m - 1)) / (2^m - 1).
fn integer_product(w: &[f32], x: &[f32], weight_bits: u32, magnitude_bits: u32) -> Vec<f64> {
    let (n_out, n_in, batch) = SHAPE;
    let w_max = w.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
    let top = f64::from((1u32 << (weight_bits - 1)) - 1);
    let full = f64::from((1u32 << magnitude_bits) - 1);
    let w_int: Vec<f64> = w
        .iter()
        .map(|&v| (f64::from(v) / w_max * top).round())
        .collect();
    let x_q: Vec<f64> = x
        .iter()
        .map(|&v| (f64::from(v).clamp(-1.0, 1.0) * full).round() / full)
        .collect();
    let mut y = vec![0.0; batch * n_out];
    for b in 0..batch {
        for o in 0..n_out {
            let dot: f64 = (0..n_in)
                .map(|i| w_int[o * n_in + i] * x_q[b * n_in + i])
                .sum();
            y[b * n_out + o] = w_max / top * dot;
        }
    }
    y
}

fn worst_relative(y: &[f32], reference: &[f64]) -> f64 {
    let scale = reference.iter().fold(0f64, |m, v| m.max(v.abs()));
    y.iter()
        .zip(reference)
        .map(|(a, b)| (f64::from(*a) - b).abs())
        .fold(0.0, f64::max)
        / scale
}

on_both_backends!(ideal_converters_give_the_integer_product, |b| {
    let (w, x) = layer_data();
    for slicing in SLICINGS {
        let hw = hardware(slicing, &["adc.bits=0".into()]);
        let y = run(b, &hw, &w, &x);
        let expected = integer_product(&w, &x, hw.slicing.weight_bits, hw.reads.magnitude_bits);
        let worst = worst_relative(&y, &expected);
        eprintln!("{slicing:?}: {worst:.2e} of max|y| from the integer product");
        assert!(worst <= 2e-6, "{slicing:?}: {worst:e}");
    }
});

on_both_backends!(a_full_range_adc_of_enough_bits_is_lossless, |b| {
    let (w, x) = layer_data();
    for slicing in SLICINGS {
        let hw = hardware(slicing, &["adc.bits=0".into()]);
        let expected = integer_product(&w, &x, hw.slicing.weight_bits, hw.reads.magnitude_bits);
        // Partial sums of 9 rows of integer slices and digits: 2 * 9 * (2^bs - 1)(2^ss - 1)
        // steps of the lattice, one ADC level each.
        let per_weight = (1u64 << hw.slicing.bits_per_slice) - 1;
        let per_digit = (1u64 << hw.reads.bits_per_read) - 1;
        let steps = 2 * 9 * per_weight * per_digit;
        let enough = (steps + 2).next_power_of_two().trailing_zeros();
        let hw = hardware(slicing, &[format!("adc.bits={enough}")]);
        let worst = worst_relative(&run(b, &hw, &w, &x), &expected);
        eprintln!("{slicing:?}: {enough}-bit ADC, {worst:.2e} of max|y| from the integer product");
        assert!(worst <= 2e-6, "{slicing:?}: {enough} bits, {worst:e}");
        // Two bits fewer lose information: the same test fails there.
        let hw = hardware(slicing, &[format!("adc.bits={}", enough - 2)]);
        let lossy = worst_relative(&run(b, &hw, &w, &x), &expected);
        assert!(lossy > 1e-4, "{slicing:?}: {} bits, {lossy:e}", enough - 2);
    }
});

/// Noisy sliced layers (PCM devices drifted a day with compensation, output and weight read
/// noise, stuck devices) give the same outputs on the GPU as on the CPU, short of conversions
/// whose value lies within float rounding of an ADC decision.
#[test]
fn cpu_and_gpu_agree_on_noisy_sliced_layers() {
    let Some(gpu) = common::gpu() else { return };
    let (w, x) = layer_data();
    for slicing in SLICINGS {
        let noisy: Vec<String> = [
            "device.model=\"pcm\"",
            "device.t_inference_s=86400",
            "device.drift_compensation=\"global\"",
            "device.w_noise=0.01",
            "device.stuck_off=0.01",
            "adc.out_noise=0.04",
            "adc.bits=6",
            "dac.noise_management=\"abs_max\"",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let hw = hardware(slicing, &noisy);
        let (yc, yg) = (run(&CpuBackend, &hw, &w, &x), run(gpu, &hw, &w, &x));
        let scale = yc.iter().fold(0f32, |m, v| m.max(v.abs()));
        let differing = yc
            .iter()
            .zip(&yg)
            .filter(|(a, b)| (*a - *b).abs() > 1e-5 * scale)
            .count();
        eprintln!(
            "{slicing:?}: {differing} of {} outputs differ between CPU and GPU",
            yc.len()
        );
        assert!(yc.iter().any(|v| *v != 0.0));
        assert!(
            differing * 200 <= yc.len(),
            "{slicing:?}: {differing} of {} differ",
            yc.len()
        );
    }
}

/// A layer of several column blocks per output group and five input groups of bit-serial,
/// eight-slice conversions (the NeuroSim preset) agrees exactly on both backends, with the
/// layer's one weight scale and with a digital scale per tile and per column.
#[test]
fn cpu_and_gpu_agree_on_a_wide_neurosim_layer() {
    let Some(gpu) = common::gpu() else { return };
    let (n_out, n_in, batch) = (130, 515, 3);
    let mut w = common::uniform(n_out * n_in, -0.5, 0.5, 1);
    // Rows of small weights, for the scalings to tell apart.
    w[..20 * n_in].iter_mut().for_each(|v| *v *= 0.05);
    let x = common::uniform(batch * n_in, -0.2, 1.0, 2);
    let chip = Chip {
        seed: Seed(11),
        instance: 2,
    };
    for scaling in ["none", "tile", "column"] {
        let over = vec![format!("mapping.weight_scaling=\"{scaling}\"")];
        let hw = config::load("neurosim-rram-22nm", &over).unwrap();
        let on_cpu = program_layer(&CpuBackend, &hw, &w, (n_out, n_in), None, 0, chip).unwrap();
        let yc = on_cpu.forward(&CpuBackend, &x, batch, 0).unwrap();
        let on_gpu = program_layer(gpu, &hw, &w, (n_out, n_in), None, 0, chip).unwrap();
        let yg = on_gpu.forward(gpu, &x, batch, 0).unwrap();
        let differing = yc.iter().zip(&yg).filter(|(a, b)| a != b).count();
        assert_eq!(
            differing,
            0,
            "{scaling}: {differing} of {} outputs differ",
            yc.len()
        );
    }
}
