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
use crate::io::{FolderLock, write_atomic};
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
    if experiment.table.is_some() {
        return Err(Error::Invalid(format!(
            "{}: a cell space is searched on its table (supernet::tabular::run_table), not on a supernet",
            experiment.origin
        )));
    }
    // Data first: a missing dataset is refused before the run folder exists.
    let splits = load_splits(experiment)?;
    let _lock = prepare_folder(experiment, options)?;
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

/// Makes (or reopens, with `--resume`) the run folder and locks it for this process: a new
/// run needs a folder that is missing or empty, a resumed one a folder holding a run of the
/// same settings.
pub(super) fn prepare_folder(experiment: &Experiment, options: &RunOptions) -> Result<FolderLock> {
    let out = &options.out;
    let saved = out.join(EXPERIMENT_FILE);
    if !saved.exists() && !is_empty_folder(out)? {
        return Err(Error::Invalid(format!(
            "{} is not a run folder (it holds files but no {EXPERIMENT_FILE}); choose a new or empty --out",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let lock = FolderLock::acquire(out)?;
    if saved.exists() {
        if !options.resume {
            return Err(Error::Search(format!(
                "{} holds a run; pass --resume to continue it or choose a new --out",
                out.display()
            )));
        }
        let before = std::fs::read_to_string(&saved).map_err(|e| Error::io(&saved, e))?;
        if !experiment.same_settings(&before)? {
            return Err(Error::Search(format!(
                "{}: the run there has other settings; resume it with the same experiment and --set values, or choose a new --out",
                saved.display()
            )));
        }
        return Ok(lock);
    }
    write_atomic(&saved, experiment.saved_toml()?.as_bytes())?;
    Ok(lock)
}

/// Whether `dir` is missing, or holds nothing but hidden files (the lock, the temporary file
/// of a write cut short).
fn is_empty_folder(dir: &std::path::Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(dir, e))?;
                if !entry.file_name().to_string_lossy().starts_with('.') {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Ok(false),
        Err(e) => Err(Error::io(dir, e)),
    }
}
