//! `imcnas mvm`: analog MVMs of one layer from `.npy` files, over K chip instances.

use super::{AnyBackend, BackendChoice, with_backend};
use anyhow::{Context, bail};
use imcnas::backend::Backend;
use imcnas::config::{self, HwConfig};
use imcnas::io::{Array, read_npy, write_atomic, write_npy};
use imcnas::physics::rng::Seed;
use imcnas::runtime::engine::{Chip, LayerOptions, program_layer_with};
use std::path::{Path, PathBuf};

/// Arguments of `imcnas mvm`.
#[derive(clap::Args, Debug)]
pub struct MvmArgs {
    /// Weights, float32 .npy of shape (out, in), as a PyTorch Linear weight.
    #[arg(long, value_name = "W.npy")]
    weights: PathBuf,
    /// Inputs, float32 .npy of shape (batch, in).
    #[arg(long, value_name = "X.npy")]
    inputs: PathBuf,
    /// Digital bias, float32 .npy of shape (out,).
    #[arg(long, value_name = "b.npy")]
    bias: Option<PathBuf>,
    /// Calibration inputs, float32 .npy of shape (count, in): the vectors whose partial sums
    /// set the ADC ranges of `adc.range = "calibrated"` (required there, refused otherwise).
    #[arg(long, value_name = "X_cal.npy")]
    calibration: Option<PathBuf>,
    /// Hardware configuration: a TOML file or a preset (ideal, quant-only, aihwkit-default, pcm,
    /// neurosim-rram-22nm, crosssim-bitsliced, ...).
    #[arg(long, value_name = "HW.toml|PRESET")]
    config: String,
    /// Override a configuration key, e.g. --set adc.bits=8 (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    overrides: Vec<String>,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Seed of every random draw (device noise, output noise).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Chip instances (independent programming draws); K > 1 gives Y of shape (K, batch, out).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    instances: u32,
    /// Output .npy, float32 (batch, out) or (K, batch, out). The configuration used is saved
    /// beside it as <out>.config.toml.
    #[arg(long, value_name = "Y.npy")]
    out: PathBuf,
}

/// Runs `imcnas mvm`.
///
/// # Errors
/// Bad files, shapes, configuration, backend failures; nothing is written then.
pub fn run(args: &MvmArgs) -> anyhow::Result<()> {
    let hw = config::load(&args.config, &args.overrides)?;
    let w = read_matrix(&args.weights, "weights", 2)?;
    let x = read_matrix(&args.inputs, "inputs", 2)?;
    let (n_out, n_in) = (w.shape[0], w.shape[1]);
    let batch = x.shape[0];
    if x.shape[1] != n_in {
        bail!(
            "shape mismatch: {} is {:?} but {} is {:?}: inputs need {n_in} columns (the weights' in)",
            args.inputs.display(),
            x.shape,
            args.weights.display(),
            w.shape
        );
    }
    let bias = match &args.bias {
        Some(path) => {
            let b = read_matrix(path, "bias", 1)?;
            if b.shape[0] != n_out {
                bail!(
                    "shape mismatch: {} has {} values but the weights have {n_out} outputs",
                    path.display(),
                    b.shape[0]
                );
            }
            Some(b.data)
        }
        None => None,
    };
    check_finite(&args.weights, &w.data)?;
    check_finite(&args.inputs, &x.data)?;
    let calibration = match (&args.calibration, hw.needs_calibration()) {
        (Some(path), true) => {
            let c = read_matrix(path, "calibration inputs", 2)?;
            if c.shape[1] != n_in {
                bail!(
                    "shape mismatch: {} is {:?}: calibration inputs need {n_in} columns (the weights' in)",
                    path.display(),
                    c.shape
                );
            }
            check_finite(path, &c.data)?;
            Some(c.data)
        }
        (None, true) => bail!(
            "--calibration X_cal.npy: adc.range \"calibrated\" and dac.noise_management \"static\" set their ranges on calibration inputs"
        ),
        (Some(path), false) => bail!(
            "--calibration {}: only adc.range \"calibrated\" and dac.noise_management \"static\" use calibration inputs",
            path.display()
        ),
        (None, false) => None,
    };

    let backend = AnyBackend::open(args.backend)?;
    let y = with_backend!(&backend, |b| mvm_instances(
        b,
        &hw,
        &w.data,
        n_out,
        n_in,
        bias.as_deref(),
        (&x.data, batch),
        calibration.as_deref(),
        args
    ))?;
    let shape = if args.instances > 1 {
        vec![args.instances as usize, batch, n_out]
    } else {
        vec![batch, n_out]
    };
    let record = format!(
        "# imcnas mvm: {} x {} weights, {batch} inputs, {} instance(s), seed {}, backend {}\n{}",
        n_out,
        n_in,
        args.instances,
        args.seed,
        backend.describe(),
        hw.saved_toml()?
    );
    write_npy(&args.out, &shape, &y)?;
    write_atomic(&config_path(&args.out), record.as_bytes())?;
    eprintln!(
        "wrote {} {:?} on {}",
        args.out.display(),
        shape,
        backend.describe()
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn mvm_instances<B: Backend>(
    backend: &B,
    hw: &HwConfig,
    w: &[f32],
    n_out: usize,
    n_in: usize,
    bias: Option<&[f32]>,
    (x, batch): (&[f32], usize),
    calibration: Option<&[f32]>,
    args: &MvmArgs,
) -> anyhow::Result<Vec<f32>> {
    let mut y = Vec::with_capacity(args.instances as usize * batch * n_out);
    let progress = args.instances > 1 && std::io::IsTerminal::is_terminal(&std::io::stderr());
    for instance in 0..args.instances {
        let chip = Chip {
            seed: Seed(args.seed),
            instance,
        };
        let options = LayerOptions {
            weight_bits: None,
            calibration,
        };
        let layer = program_layer_with(backend, hw, (w, (n_out, n_in), bias), 0, chip, &options)?;
        y.extend(layer.forward(backend, x, batch, 0)?);
        if progress {
            eprint!("\rchip instance {}/{}", instance + 1, args.instances);
        }
    }
    if progress {
        eprintln!();
    }
    Ok(y)
}

fn read_matrix(path: &Path, what: &str, dims: usize) -> anyhow::Result<Array> {
    let array = read_npy(path).with_context(|| format!("reading the {what}"))?;
    if array.shape.len() != dims || array.shape.contains(&0) {
        bail!(
            "{}: the {what} must be a non-empty {dims}-D array, found shape {:?}",
            path.display(),
            array.shape
        );
    }
    Ok(array)
}

fn check_finite(path: &Path, data: &[f32]) -> anyhow::Result<()> {
    imcnas::error::ensure_finite(&path.display().to_string(), data).map_err(Into::into)
}

/// `Y.npy` -> `Y.config.toml`.
fn config_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    out.with_file_name(format!("{stem}.config.toml"))
}
