//! `imcnas train`: trains a network of the built-in family on a dataset, optionally
//! hardware-aware, and exports it to the network format.

use anyhow::Context;
use imcnas::config;
use imcnas::data::{self, DatasetName, Split};
use imcnas::network::arch::Arch;
use imcnas::train::{Hwa, TrainOptions, train};
use std::path::PathBuf;

/// Arguments of `imcnas train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Dataset: digits (embedded), mnist, fashion-mnist, cifar10.
    #[arg(long, default_value = "digits")]
    dataset: String,
    /// Folder holding the dataset files (mnist/, fashion-mnist/, cifar-10-batches-bin/, ...).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Architecture: lenet, or resnet8 / resnet14 / resnet20 (6n+2) with optional -wW width.
    #[arg(long, default_value = "resnet8")]
    arch: String,
    /// Epochs.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Images per optimizer step.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Peak learning rate of Adam (cosine decay over the run).
    #[arg(long = "lr", default_value_t = 2e-3)]
    learning_rate: f64,
    /// Seed of initialisation, shuffling, validation split and training noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fraction of the training split held out for validation.
    #[arg(long, default_value_t = 0.1)]
    validation: f32,
    /// Hardware-aware training: Gaussian weight noise of std eta * max|W| per layer, redrawn
    /// every step (0 = off; 0.02-0.1 is typical for PCM).
    #[arg(long, default_value_t = 0.0)]
    noise_eta: f32,
    /// Hardware-aware training: fake-quantize inputs and outputs of every layer like the DAC
    /// and ADC of this hardware configuration (file or preset).
    #[arg(long, value_name = "HW.toml|PRESET")]
    fake_quant: Option<String>,
    /// Clip weights to this many standard deviations of their layer after every step.
    #[arg(long)]
    clip_sigma: Option<f32>,
    /// Hardware-aware training: random relative gain error (std) of every layer that feeds a
    /// batch norm, as drift compensation leaves it on a chip (0 = off).
    #[arg(long, default_value_t = 0.0)]
    gain_noise: f32,
    /// Use at most this many training images (quick runs).
    #[arg(long)]
    max_train: Option<usize>,
    /// Continue the checkpoint in --out (same settings required).
    #[arg(long)]
    resume: bool,
    /// Train on the GPU through burn's wgpu backend (needs the `wgpu-train` cargo feature).
    #[arg(long)]
    gpu: bool,
    /// Output folder: network.json, weights.safetensors, train.json, metrics.jsonl,
    /// checkpoint.bin.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Runs `imcnas train`.
///
/// # Errors
/// Bad arguments or files, training failures.
pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    let name: DatasetName = args.dataset.parse()?;
    let arch: Arch = args.arch.parse()?;
    let dataset = data::load(name, Split::Train, args.data_dir.as_deref())?;
    let graph = arch.graph(dataset.shape, dataset.classes)?;
    let hwa = match (&args.fake_quant, args.noise_eta) {
        (Some(config_name), eta) => {
            Some(Hwa::with_converters(eta, &config::load(config_name, &[])?))
        }
        (None, eta) if eta > 0.0 || args.gain_noise > 0.0 => Some(Hwa::noise(eta)),
        (None, _) => None,
    }
    .map(|hwa| hwa.with_gain_noise(args.gain_noise));
    let options = TrainOptions {
        dataset: name.to_string(),
        arch: arch.to_string(),
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.learning_rate,
        seed: args.seed,
        validation_fraction: args.validation,
        noise_eta: args.noise_eta,
        fake_quant: args.fake_quant.clone(),
        clip_sigma: args.clip_sigma,
        gain_noise: args.gain_noise,
        max_train: args.max_train,
    };
    // Checked before the first line of output, so that bad values give a one-line error.
    options.check()?;
    let device = training_device(args.gpu)?;
    eprintln!(
        "training {arch} on {name} (images of {:?}), {} epochs{}",
        dataset.shape,
        args.epochs,
        if hwa.is_some() {
            ", hardware-aware"
        } else {
            ""
        }
    );
    let report = train(
        &options,
        &graph,
        dataset,
        hwa,
        &device,
        &args.out,
        args.resume,
        true,
    )
    .with_context(|| format!("training into {}", args.out.display()))?;
    let last = report.history.last().expect("at least one epoch");
    println!(
        "validation accuracy {:.2}% after {} epochs; model written to {}",
        100.0 * last.val_accuracy,
        last.epoch,
        args.out.display()
    );
    Ok(())
}

fn training_device(gpu: bool) -> anyhow::Result<burn::tensor::Device> {
    if !gpu {
        return Ok(burn::tensor::Device::flex());
    }
    #[cfg(feature = "wgpu-train")]
    {
        Ok(burn::tensor::Device::wgpu(Default::default()))
    }
    #[cfg(not(feature = "wgpu-train"))]
    {
        anyhow::bail!(
            "--gpu: this binary was built without the wgpu-train feature (cargo build --release --features wgpu-train)"
        )
    }
}
