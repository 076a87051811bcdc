//! The mapping options. `mapping.weight_scaling`: weights scaled to the devices' range per
//! tile or per output column, the scale kept as a digital gain. Without noise the product is
//! unchanged; with device and output noise a column of small weights keeps the relative error
//! of the large ones instead of drowning; an all-zero column programs no error; and the
//! digital multipliers are priced. `dac.noise_management = "static"`: one input range per
//! layer from calibration inputs, the same on both backends. (Batch-norm folding is tested on
//! networks, in `tests/networks.rs`.)

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

mod common;

use imcnas::backend::Backend;
use imcnas::backend::cpu::CpuBackend;
use imcnas::config::{self, HwConfig};
use imcnas::cost::model::network_cost;
use imcnas::network::arch::Arch;
use imcnas::physics::rng::Seed;
use imcnas::runtime::engine::{Chip, LayerOptions, program_layer, program_layer_with};

const N_OUT: usize = 48;
const N_IN: usize = 300;
const BATCH: usize = 64;
/// The first SMALL outputs have weights 50 times smaller than the others.
const SMALL: usize = 16;

fn layer_weights() -> Vec<f32> {
    let mut w = common::uniform(N_OUT * N_IN, -0.5, 0.5, 21);
    w[..SMALL * N_IN].iter_mut().for_each(|v| *v *= 0.02);
    w
}

fn hardware(preset: &str, scaling: &str, extra: &[&str]) -> HwConfig {
    let mut over = vec![format!("mapping.weight_scaling=\"{scaling}\"")];
    over.extend(extra.iter().map(|s| s.to_string()));
    config::load(preset, &over).unwrap()
}

/// Outputs of `chips` chip instances of the layer (bias-free), each (BATCH, N_OUT).
fn outputs(hw: &HwConfig, w: &[f32], x: &[f32], chips: u32) -> Vec<Vec<f32>> {
    (0..chips)
        .map(|instance| {
            let options = LayerOptions {
                weight_bits: None,
                calibration: Some(x),
            };
            let chip = Chip {
                seed: Seed(5),
                instance,
            };
            let layer =
                program_layer_with(&CpuBackend, hw, (w, (N_OUT, N_IN), None), 0, chip, &options)
                    .unwrap();
            layer.forward(&CpuBackend, x, BATCH, 0).unwrap()
        })
        .collect()
}

fn exact(w: &[f32], x: &[f32]) -> Vec<f64> {
    let mut y = vec![0f64; BATCH * N_OUT];
    for b in 0..BATCH {
        for i in 0..N_OUT {
            y[b * N_OUT + i] = (0..N_IN)
                .map(|j| f64::from(w[i * N_IN + j]) * f64::from(x[b * N_IN + j]))
                .sum();
        }
    }
    y
}

/// Root-mean-square error over root-mean-square value of outputs `rows` (over all chips).
fn relative_error(ys: &[Vec<f32>], exact: &[f64], rows: std::ops::Range<usize>) -> f64 {
    let (mut err, mut norm) = (0f64, 0f64);
    for y in ys {
        for b in 0..BATCH {
            for i in rows.clone() {
                let e = exact[b * N_OUT + i];
                err += (f64::from(y[b * N_OUT + i]) - e).powi(2);
                norm += e * e;
            }
        }
    }
    (err / norm).sqrt()
}

#[test]
fn without_noise_every_scaling_computes_the_same_product() {
    let w = layer_weights();
    let x = common::uniform(BATCH * N_IN, -1.0, 1.0, 22);
    let reference = exact(&w, &x);
    let scale = reference.iter().fold(0f64, |m, v| m.max(v.abs()));
    for scaling in ["none", "tile", "column"] {
        // Ideal converters on ideal devices: the digital gains must undo the scaling exactly.
        let hw = hardware("ideal", scaling, &["tile.rows=128", "tile.cols=32"]);
        let y = &outputs(&hw, &w, &x, 1)[0];
        let worst = y
            .iter()
            .zip(&reference)
            .map(|(a, b)| (f64::from(*a) - b).abs() / scale)
            .fold(0f64, f64::max);
        assert!(
            worst < 1e-5,
            "{scaling}: worst deviation {worst:e} of max|y|"
        );
    }
}

#[test]
fn column_scaling_keeps_small_columns_out_of_the_noise() {
    let w = layer_weights();
    let x = common::uniform(BATCH * N_IN, -1.0, 1.0, 23);
    let reference = exact(&w, &x);
    // aihwkit's PCM chip a day after programming (global drift compensation), and a
    // bit-sliced chip of 8-bit weights whose integer grid is the layer's.
    let chips: [(&str, &[&str]); 2] = [
        (
            "aihwkit-default",
            &["device.t_inference_s=86400", "tile.rows=128"],
        ),
        ("crosssim-bitsliced", &[]),
    ];
    for (preset, extra) in chips {
        let err = |scaling: &str| {
            let hw = hardware(preset, scaling, extra);
            let ys = outputs(&hw, &w, &x, 4);
            (
                relative_error(&ys, &reference, 0..SMALL),
                relative_error(&ys, &reference, SMALL..N_OUT),
            )
        };
        let (none_small, none_large) = err("none");
        let (tile_small, _) = err("tile");
        let (col_small, col_large) = err("column");
        eprintln!(
            "{preset}: small columns {none_small:.4} (none) {tile_small:.4} (tile) {col_small:.4} (column); large {none_large:.4} / {col_large:.4}"
        );
        // The small columns drown without column scaling, and come within twice the large
        // ones' error with it; the large ones are no worse.
        assert!(
            none_small > 4.0 * none_large,
            "{preset}: {none_small} vs {none_large}"
        );
        assert!(
            col_small < 0.25 * none_small,
            "{preset}: {col_small} vs {none_small}"
        );
        assert!(
            col_small < 2.0 * col_large,
            "{preset}: {col_small} vs {col_large}"
        );
        assert!(
            col_large < 1.5 * none_large,
            "{preset}: {col_large} vs {none_large}"
        );
    }
}

#[test]
fn an_all_zero_column_programs_no_error_under_column_scaling() {
    let mut w = layer_weights();
    w[..N_IN].fill(0.0);
    let x = common::uniform(BATCH * N_IN, -1.0, 1.0, 24);
    for preset in ["aihwkit-default", "crosssim-bitsliced"] {
        let hw = hardware(preset, "column", &["device.t_inference_s=86400"]);
        for y in outputs(&hw, &w, &x, 2) {
            let worst = (0..BATCH).map(|b| y[b * N_OUT].abs()).fold(0f32, f32::max);
            assert!(worst < 1e-5, "{preset}: the zero column reads {worst}");
            assert!(y[1..N_OUT].iter().any(|v| *v != 0.0));
        }
    }
}

#[test]
fn digital_scales_are_priced() {
    let graph = Arch::Vgg8.graph([3, 32, 32], 10).unwrap();
    let price = |scaling: &str| {
        let hw = hardware("neurosim-rram-22nm", scaling, &[]);
        let r = network_cost(hw.cost().unwrap(), &graph);
        (r.energy.total(), r.period_s, r.area.total())
    };
    let (e0, t0, a0) = price("none");
    for scaling in ["tile", "column"] {
        let (e, t, a) = price(scaling);
        eprintln!(
            "{scaling}: energy x{:.4}, period x{:.4}, area x{:.4}",
            e / e0,
            t / t0,
            a / a0
        );
        assert!(e > e0 && t > t0 && a > a0, "{scaling}");
        // A multiplier per ADC is a small share of the chip.
        assert!(e < 1.2 * e0 && a < 1.2 * a0, "{scaling}");
    }
}

/// One chip of the layer on `backend`, programmed with calibration inputs `calibration`.
fn static_outputs<B: Backend>(
    backend: &B,
    hw: &HwConfig,
    w: &[f32],
    calibration: &[f32],
    x: &[f32],
) -> Vec<f32> {
    let options = LayerOptions {
        weight_bits: None,
        calibration: Some(calibration),
    };
    let chip = Chip {
        seed: Seed(8),
        instance: 1,
    };
    let layer =
        program_layer_with(backend, hw, (w, (N_OUT, N_IN), None), 2, chip, &options).unwrap();
    layer.forward(backend, x, BATCH, 0).unwrap()
}

#[test]
fn static_input_ranges_come_from_calibration_inputs() {
    let w = layer_weights();
    // Calibration inputs within +-0.5; inputs within +-0.5 except one vector reaching 4.
    let calibration = common::uniform(32 * N_IN, -0.5, 0.5, 30);
    let mut x = common::uniform(BATCH * N_IN, -0.5, 0.5, 31);
    x[N_IN..2 * N_IN].iter_mut().for_each(|v| *v *= 8.0);
    // Noise-free devices, quantising DACs and ideal ADCs, on aihwkit's chip and the sliced
    // chip.
    for (preset, adc) in [
        ("quant-only", "adc.bits=0"),
        ("crosssim-bitsliced", "adc.bits=0"),
    ] {
        let hw = config::load(
            preset,
            &[
                "dac.noise_management=\"static\"".into(),
                "dac.range_percentile=100".into(),
                "device.model=\"ideal\"".into(),
                "adc.out_noise=0".into(),
                adc.into(),
            ],
        )
        .unwrap();
        let y = static_outputs(&CpuBackend, &hw, &w, &calibration, &x);
        // The range is the calibration inputs' largest magnitude: inputs beyond it clip.
        let range = calibration.iter().fold(0f32, |m, v| m.max(v.abs()));
        let clipped: Vec<f32> = x.iter().map(|v| v.clamp(-range, range)).collect();
        let reference = exact(&w, &clipped);
        let scale = reference.iter().fold(0f64, |m, v| m.max(v.abs()));
        let worst = y
            .iter()
            .zip(&reference)
            .map(|(a, b)| (f64::from(*a) - b).abs() / scale)
            .fold(0f64, f64::max);
        eprintln!(
            "{preset}: static range {range}, worst deviation from the clipped product {worst:.2e}"
        );
        assert!(worst < 0.03, "{preset}: {worst}");
        // Unclipped, the large vector's product would differ by far more.
        let unclipped = exact(&w, &x);
        let far = (N_OUT..2 * N_OUT)
            .map(|e| (f64::from(y[e]) - unclipped[e]).abs() / scale)
            .fold(0f64, f64::max);
        assert!(
            far > 0.2,
            "{preset}: the vector beyond the range was not clipped ({far})"
        );
        // Without calibration inputs the layer is refused, naming the key.
        let err = program_layer(
            &CpuBackend,
            &hw,
            &w,
            (N_OUT, N_IN),
            None,
            0,
            Chip {
                seed: Seed(1),
                instance: 0,
            },
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("dac.noise_management"), "{err}");
    }
}

#[test]
fn static_input_ranges_agree_on_both_backends() {
    let Some(gpu) = common::gpu() else { return };
    let w = layer_weights();
    let calibration = common::uniform(32 * N_IN, -0.5, 0.5, 32);
    let x = common::uniform(BATCH * N_IN, -0.7, 0.7, 33);
    for preset in ["aihwkit-default", "neurosim-rram-22nm"] {
        let hw = config::load(preset, &["dac.noise_management=\"static\"".into()]).unwrap();
        let yc = static_outputs(&CpuBackend, &hw, &w, &calibration, &x);
        let yg = static_outputs(gpu, &hw, &w, &calibration, &x);
        let scale = yc.iter().fold(0f32, |m, v| m.max(v.abs()));
        let differing = yc
            .iter()
            .zip(&yg)
            .filter(|(a, b)| (*a - *b).abs() > 1e-5 * scale)
            .count();
        assert!(
            differing * 200 <= yc.len(),
            "{preset}: {differing} of {} differ",
            yc.len()
        );
    }
}
