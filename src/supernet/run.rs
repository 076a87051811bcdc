//! An experiment from start to report, in a run folder: supernet training (checkpoint per
//! epoch), the search (an append-only evaluation log, one JSON line flushed per
//! evaluation), fine-tuning (a log line and a saved network per rung), the final
//! evaluation (saved per subnet) and the report. Every stage skips what the folder already
//! holds, so a run killed at any moment continues with `--resume`, losing and repeating no
//! evaluation: the search is replayed from its seed with the logged results answering for
//! the genomes already evaluated.

use super::evaluate::CandidateEvaluator;
use super::genome::JointSpace;
use super::records::{EXPERIMENT_FILE, RunOptions, RunSummary};
use super::report;
use super::splits::load_splits;
use super::stages::{final_stage, finetune_stage, search_stage};
use super::train::train_supernet;
use crate::backend::Backend;
use crate::config::Experiment;
use crate::error::{Error, Result};
use crate::io::write_atomic;
use crate::search;
use burn::tensor::Device;
use std::time::Instant;

/// Runs `experiment` on `backend` (chips) and burn's CPU device (training).
///
/// # Errors
/// A folder holding another run (or a run without `resume`), data, training, engine or
/// I/O failures.
pub fn run<B: Backend>(
    experiment: &Experiment,
    backend: &B,
    options: &RunOptions,
) -> Result<RunSummary> {
    let started = Instant::now();
    // Data first: a missing dataset is refused before the run folder exists.
    let splits = load_splits(experiment)?;
    prepare_folder(experiment, options)?;
    let say = |line: String| {
        if options.progress {
            eprintln!("{line}");
        }
    };
    let joint = JointSpace::new(&experiment.file);
    let device = Device::flex();

    let supernet_dir = options
        .supernet
        .clone()
        .unwrap_or_else(|| options.out.join("supernet"));
    say(format!(
        "supernet: {} epochs in {}",
        experiment.file.supernet.epochs,
        supernet_dir.display()
    ));
    let supernet = train_supernet(
        &joint,
        &experiment.file.supernet,
        &splits.train,
        &splits.validation_normalized,
        &device,
        &supernet_dir,
        options.progress,
    )?;

    let evaluator = CandidateEvaluator {
        experiment,
        supernet: &supernet.model,
        device: device.clone(),
        calibration: splits.train.shuffled(experiment.file.search.seed),
        normalization: splits.normalization.clone(),
        validation: splits.validation.clone(),
        backend,
    };
    let (evaluations, generation_ends) = search_stage(experiment, &joint, &evaluator, options)?;
    let points: Vec<_> = evaluations
        .iter()
        .map(|r| r.measurement.point(experiment))
        .collect();
    let front = search::pareto::pareto_front(&points);
    let hypervolume = report::hypervolumes(experiment, &evaluations, &generation_ends);
    let mut summary = RunSummary {
        out: options.out.clone(),
        supernet: supernet.history,
        evaluations,
        generation_ends,
        front,
        hypervolume,
        finetune: Vec::new(),
        final_report: None,
        seconds: 0.0,
    };
    if !options.search_only {
        let selected = report::spread_by_accuracy(
            &summary.evaluations,
            &summary.front,
            experiment.file.finetune.top_k.max(1),
        );
        let finetuned = finetune_stage(
            experiment, &evaluator, &splits, &summary, &selected, options,
        )?;
        summary.finetune = finetuned.1;
        summary.final_report = Some(final_stage(
            experiment,
            &evaluator,
            &splits,
            &summary,
            &selected,
            &finetuned.0,
            options,
        )?);
    }
    summary.seconds = started.elapsed().as_secs_f64();
    report::write_all(experiment, &summary)?;
    Ok(summary)
}

fn prepare_folder(experiment: &Experiment, options: &RunOptions) -> Result<()> {
    let out = &options.out;
    let saved = out.join(EXPERIMENT_FILE);
    let text = experiment.to_toml()?;
    if saved.exists() {
        if !options.resume {
            return Err(Error::Search(format!(
                "{} holds a run; pass --resume to continue it or choose a new --out",
                out.display()
            )));
        }
        let before = std::fs::read_to_string(&saved).map_err(|e| Error::io(&saved, e))?;
        if before != text {
            return Err(Error::Search(format!(
                "{}: the run there has other settings; resume it with the same experiment and --set values, or choose a new --out",
                saved.display()
            )));
        }
        return Ok(());
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    write_atomic(&saved, text.as_bytes())
}
