//! `imcnas eval`: test accuracy of a trained network on crossbar hardware over chip
//! instances and drift times.

use super::progress::Progress;
use super::{AnyBackend, BackendChoice, with_backend};
use anyhow::Context;
use imcnas::config;
use imcnas::data::{self, DatasetName, Split};
use imcnas::eval::{CALIBRATION_IMAGES, DriftTime, EvalOptions, evaluate, report};
use imcnas::network::Network;
use std::path::PathBuf;

/// Arguments of `imcnas eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Model folder with network.json and weights.safetensors.
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Hardware configuration: a TOML file or a preset (ideal, quant-only, aihwkit-default, pcm).
    #[arg(long, value_name = "HW.toml|PRESET")]
    config: String,
    /// Override a configuration key, e.g. --set adc.bits=8 (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    overrides: Vec<String>,
    /// Dataset whose test split is evaluated.
    #[arg(long, default_value = "digits")]
    dataset: String,
    /// Folder holding the dataset files.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Chip instances per drift time.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    instances: u32,
    /// Drift times after programming, comma-separated, with units s, m, h, d, w, y.
    #[arg(long, value_delimiter = ',', default_value = "0,1h,1d,30d,1y")]
    t_inference: Vec<String>,
    /// Evaluate only the first N test images.
    #[arg(long)]
    max_images: Option<usize>,
    /// Images per forward pass.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Seed of the chip draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Print the results as JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
    /// Also give the energy, latency and area of the network on the same configuration's
    /// chip ([cost] section): after the table, as "cost" in the JSON, as cost.json in --out.
    #[arg(long)]
    cost: bool,
    /// Write eval.json, eval.csv, eval.config.toml and accuracy-vs-drift.svg here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Runs `imcnas eval`.
///
/// # Errors
/// Bad arguments or files, backend failures; nothing is written then.
pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let hw = config::load(&args.config, &args.overrides)?;
    // The price is checked before the work: an unpriced chip is refused at once.
    let chip = if args.cost { Some(hw.cost()?) } else { None };
    let times = args
        .t_inference
        .iter()
        .map(|t| t.parse::<DriftTime>())
        .collect::<Result<Vec<_>, _>>()?;
    if args.batch == 0 {
        anyhow::bail!("--batch 0: expected at least 1 image per pass");
    }
    if args.max_images == Some(0) {
        anyhow::bail!("--max-images 0: expected at least 1 image");
    }
    let net = Network::load(&args.model)?;
    let name: DatasetName = args.dataset.parse()?;
    let mut test = data::load(name, Split::Test, args.data_dir.as_deref())?;
    if let Some(max) = args.max_images {
        let keep: Vec<usize> = (0..max.min(test.len())).collect();
        test = test.select(&keep);
    }
    // Calibrated ADC and static input ranges are set on training images, never on those
    // evaluated.
    let calibration = if hw.needs_calibration() {
        let train = data::load(name, Split::Train, args.data_dir.as_deref())?;
        let n = CALIBRATION_IMAGES.min(train.len());
        eprintln!(
            "calibrating the ADC ranges on the first {n} training images of {}",
            train.name
        );
        Some(train.images_of(0..n).to_vec())
    } else {
        None
    };
    let options = EvalOptions {
        instances: args.instances,
        times,
        seed: args.seed,
        batch: args.batch,
        calibration,
    };
    let backend = AnyBackend::open(args.backend)?;
    // Partial results of an interrupted run with the same settings are kept; the key holds
    // everything that decides an accuracy.
    let key = serde_json::json!({
        "model": std::fs::read_to_string(args.model.join(imcnas::network::ARCH_FILE))?,
        "weights_bytes": std::fs::metadata(args.model.join(imcnas::network::WEIGHTS_FILE))?.len(),
        "config": hw.file.to_toml()?,
        "dataset": test.name,
        "images": test.len(),
        "seed": args.seed,
        "times": options.times,
    });
    let partial_path = args.out.as_ref().map(|d| d.join("eval.partial.json"));
    let done = match &partial_path {
        Some(path) => read_partial(path, &key)?,
        None => Vec::new(),
    };
    let total = u64::from(args.instances) * options.times.len() as u64;
    let resumed: u64 = done
        .iter()
        .map(|v| v.len().min(args.instances as usize) as u64)
        .sum();
    let bar = Progress::new(total, resumed, "chips");
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let save_partial = |all: &[Vec<f64>]| -> imcnas::Result<()> {
        bar.inc();
        match &partial_path {
            Some(path) => {
                let state = serde_json::json!({ "key": key, "accuracies": all });
                imcnas::io::write_atomic(path, state.to_string().as_bytes())
            }
            None => Ok(()),
        }
    };
    let report = with_backend!(&backend, |b| evaluate(
        b,
        &hw,
        &args.config,
        &net,
        &test,
        &options,
        &done,
        save_partial
    ))?;
    bar.finish();
    let cost = chip.map(|chip| imcnas::cost::model::network_cost(chip, &net.graph));
    if let Some(dir) = &args.out {
        report::write_all(&report, &hw.saved_toml()?, dir)?;
        if let Some(cost) = &cost {
            let json = serde_json::to_string_pretty(cost)?;
            imcnas::io::write_atomic(&dir.join("cost.json"), json.as_bytes())?;
        }
        if let Some(path) = &partial_path {
            let _ = std::fs::remove_file(path);
        }
    }
    if args.json {
        let mut json = serde_json::to_value(&report)?;
        if let (Some(cost), Some(fields)) = (&cost, json.as_object_mut()) {
            fields.insert("cost".into(), serde_json::to_value(cost)?);
        }
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", report::table(&report));
        if let Some(cost) = &cost {
            print!(
                "\ncost on the chip of {}:\n{}",
                args.config,
                super::cost::table(cost)
            );
        }
    }
    Ok(())
}

/// The accuracies an interrupted evaluation with the same `key` saved at `path`: none when
/// there is no file or it holds another evaluation's; a file that does not parse is a cache
/// lost, evaluated again with a warning.
fn read_partial(path: &std::path::Path, key: &serde_json::Value) -> anyhow::Result<Vec<Vec<f64>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let parsed = serde_json::from_str::<serde_json::Value>(&text).and_then(|v| {
        if v["key"] == *key {
            serde_json::from_value::<Vec<Vec<f64>>>(v["accuracies"].clone())
        } else {
            Ok(Vec::new())
        }
    });
    Ok(parsed.unwrap_or_else(|e| {
        eprintln!(
            "warning: {}: unreadable partial results ({e}); evaluating every instance again",
            path.display()
        );
        Vec::new()
    }))
}
