//! `imcnas demo`: the crossbar engine on an embedded default layer, so that a new user sees
//! the simulator work without any input file or GPU.

use super::{AnyBackend, BackendChoice, with_backend};
use imcnas::backend::Backend;
use imcnas::config;
use imcnas::physics::rng::{Seed, uniforms4};
use imcnas::runtime::engine::{Chip, LayerOptions, program_layer_with};
use std::time::Instant;

/// Arguments of `imcnas demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Where to run.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Seed of the layer, the inputs and every device draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Chip instances per scenario.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    instances: u32,
    /// Layer size (inputs = outputs).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=8192))]
    size: u32,
    /// Input vectors per MVM.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    batch: u32,
}

/// The scenarios of the demo: a label, a preset and overrides.
const SCENARIOS: &[(&str, &str, &[&str])] = &[
    ("ideal crossbar", "ideal", &[]),
    ("7-bit DAC, 9-bit ADC", "quant-only", &[]),
    ("aihwkit default (PCM, t=0)", "aihwkit-default", &[]),
    (
        "  + 4-bit weights (16 levels)",
        "aihwkit-default",
        &["mapping.weight_levels=16"],
    ),
    (
        "  + 1% stuck devices",
        "aihwkit-default",
        &["device.stuck_on=0.005", "device.stuck_off=0.005"],
    ),
    ("PCM after 1 hour", "pcm", &["device.t_inference_s=3600"]),
    ("PCM after 1 day", "pcm", &[]),
    (
        "PCM after 1 year",
        "pcm",
        &["device.t_inference_s=31536000"],
    ),
    (
        "PCM after 1 year, no compensation",
        "pcm",
        &[
            "device.t_inference_s=31536000",
            "device.drift_compensation=none",
        ],
    ),
    ("NeuroSim RRAM 22 nm, 5-bit ADC", "neurosim-rram-22nm", &[]),
    ("  with a 7-bit ADC", "neurosim-rram-22nm", &["adc.bits=7"]),
    ("CrossSim-style, calibrated ADC", "crosssim-bitsliced", &[]),
];

/// Runs the demo and prints one line per scenario.
///
/// # Errors
/// Backend failures.
pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let backend = AnyBackend::open(args.backend)?;
    let (n, batch) = (args.size as usize, args.batch as usize);
    // A layer initialised like PyTorch's Linear and inputs in [-1, 1).
    let bound = 1.0 / (n as f32).sqrt();
    let w = seeded_uniform(n * n, -bound, bound, args.seed, 1);
    let x = seeded_uniform(batch * n, -1.0, 1.0, args.seed, 2);
    let reference = float_mvm(&w, &x, n, n);
    // Calibration inputs of calibrated ADC ranges: their own draw.
    let calibration = seeded_uniform(batch * n, -1.0, 1.0, args.seed, 3);
    let ref_norm = reference.iter().map(|v| v * v).sum::<f64>().sqrt();

    println!(
        "imcnas crossbar engine: {n}x{n} layer, {batch} inputs, {} chip instances, seed {}, {}",
        args.instances,
        args.seed,
        backend.describe()
    );
    println!(
        "error = ||Y - X.W^T|| / ||X.W^T|| over the instances; time = one analog MVM of the batch\n"
    );
    println!(
        "{:<36} {:>18} {:>12}",
        "hardware", "error (mean±std)", "time (ms)"
    );
    for (label, preset, overrides) in SCENARIOS {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let hw = config::load(preset, &overrides)?;
        let (errors, seconds) = with_backend!(&backend, |b| scenario(
            b,
            &hw,
            &w,
            (&x, &calibration),
            n,
            batch,
            &reference,
            ref_norm,
            args
        ))?;
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        let std =
            (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / errors.len() as f64).sqrt();
        println!(
            "{label:<36} {:>9.2}% ±{:>5.2}% {:>12.2}",
            100.0 * mean,
            100.0 * std,
            1e3 * seconds
        );
    }
    println!(
        "\nNext: imcnas mvm --weights W.npy --inputs X.npy --config pcm --instances 10 --out Y.npy"
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn scenario<B: Backend>(
    backend: &B,
    hw: &config::HwConfig,
    w: &[f32],
    (x, calibration): (&[f32], &[f32]),
    n: usize,
    batch: usize,
    reference: &[f64],
    ref_norm: f64,
    args: &DemoArgs,
) -> anyhow::Result<(Vec<f64>, f64)> {
    let mut errors = Vec::new();
    let mut seconds = 0.0;
    for instance in 0..args.instances {
        let chip = Chip {
            seed: Seed(args.seed),
            instance,
        };
        let options = LayerOptions {
            weight_bits: None,
            calibration: Some(calibration),
        };
        let layer = program_layer_with(backend, hw, (w, (n, n), None), 0, chip, &options)?;
        let start = Instant::now();
        let y = layer.forward(backend, x, batch, 0)?;
        seconds += start.elapsed().as_secs_f64();
        let err = y
            .iter()
            .zip(reference)
            .map(|(&a, &b)| (f64::from(a) - b).powi(2))
            .sum::<f64>()
            .sqrt();
        errors.push(err / ref_norm);
    }
    Ok((errors, seconds / f64::from(args.instances)))
}

fn seeded_uniform(len: usize, lo: f32, hi: f32, seed: u64, stream: u32) -> Vec<f32> {
    let key = Seed(seed).key();
    (0..len)
        .map(|i| lo + (hi - lo) * uniforms4([(i / 4) as u32, stream, 0, 0xDE30], key)[i % 4])
        .collect()
}

fn float_mvm(w: &[f32], x: &[f32], n_out: usize, n_in: usize) -> Vec<f64> {
    x.chunks(n_in)
        .flat_map(|row| {
            w.chunks(n_in).map(move |wr| {
                wr.iter()
                    .zip(row)
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum::<f64>()
            })
        })
        .take(x.len() / n_in * n_out)
        .collect()
}
