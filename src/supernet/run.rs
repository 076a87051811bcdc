//! An experiment from start to report, in a run folder: supernet training (checkpoint per
//! epoch), the search (an append-only evaluation log, one JSON line flushed per
//! evaluation), fine-tuning (a log line and a saved network per rung), the final
//! evaluation (saved per subnet) and the report. Every stage skips what the folder already
//! holds, so a run killed at any moment continues with `--resume`, losing and repeating no
//! evaluation: the search is replayed from its seed with the logged results answering for
//! the genomes already evaluated.

use super::config::Experiment;
use super::evaluate::{CandidateEvaluator, Measurement};
use super::finetune::{RungResult, successive_halving};
use super::genome::{Candidate, JointSpace};
use super::report;
use super::train::{SupernetEpoch, train_supernet};
use crate::data::{self, Dataset, Normalization, Split};
use crate::error::{Error, Result};
use crate::io::write_atomic;
use crate::network::chips::NetworkBackend;
use crate::search::{self, Genome, SearchSettings, genome_key};
use burn::tensor::Device;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The experiment as run, in the run folder.
pub const EXPERIMENT_FILE: &str = "experiment.toml";
/// The search's evaluation log.
pub const EVALUATIONS_FILE: &str = "evaluations.jsonl";
/// The fine-tuning log.
pub const FINETUNE_FILE: &str = "finetune.jsonl";
/// The final evaluation.
pub const FINAL_FILE: &str = "final.json";

/// How [`run`] runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The run folder.
    pub out: PathBuf,
    /// Continue the run in `out`.
    pub resume: bool,
    /// Progress bars and a line per stage on stderr.
    pub progress: bool,
    /// Folder of a trained supernet to search on instead of `out/supernet`.
    pub supernet: Option<PathBuf>,
    /// Stop after the search and its report (no fine-tuning, no final evaluation).
    pub search_only: bool,
}

/// One line of the evaluation log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// 0-based order of evaluation.
    pub index: usize,
    /// The genome.
    pub genome: Genome,
    /// What it decodes to.
    pub candidate: Candidate,
    /// [`Candidate::describe`].
    pub description: String,
    /// The engine's and the cost model's figures.
    pub measurement: Measurement,
    /// The search objectives (minimised).
    pub objectives: Vec<f64>,
    /// Constraint violation (0 = feasible).
    pub violation: f64,
    /// Seconds the evaluation took (0 when an equal candidate was measured before).
    pub seconds: f64,
}

/// A subnet chosen from the front, as finally evaluated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalEntry {
    /// Its evaluation in the search.
    pub record: EvalRecord,
    /// "supernet weights" or "fine-tuned".
    pub variant: String,
    /// Fine-tuning's winning learning rate and noise (none for supernet weights).
    pub finetune: Option<(f64, f32)>,
    /// One measurement per final drift time, on the test images.
    pub times: Vec<Measurement>,
}

/// Accuracy at the deployment drift time for one ADC resolution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdcPoint {
    /// ADC bits.
    pub adc_bits: u32,
    /// The measurement.
    pub measurement: Measurement,
}

/// `final.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FinalReport {
    /// Labels of the drift times.
    pub times: Vec<String>,
    /// Every selected subnet, before and after fine-tuning.
    pub entries: Vec<FinalEntry>,
    /// The ADC sweep of the most accurate final subnet.
    pub adc_sweep: Vec<AdcPoint>,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// The run folder.
    pub out: PathBuf,
    /// Supernet training.
    pub supernet: Vec<SupernetEpoch>,
    /// Every evaluation of the search.
    pub evaluations: Vec<EvalRecord>,
    /// Evaluations at the end of each generation.
    pub generation_ends: Vec<usize>,
    /// Indices of the feasible Pareto front in `evaluations`.
    pub front: Vec<usize>,
    /// Normalised hypervolume of the front after each generation.
    pub hypervolume: Vec<f64>,
    /// Fine-tuning rungs.
    pub finetune: Vec<RungResult>,
    /// The final evaluation (none for a search only).
    pub final_report: Option<FinalReport>,
    /// Wall-clock seconds of this invocation.
    pub seconds: f64,
}

impl RunSummary {
    /// The front's indices into [`Self::evaluations`], most accurate first.
    pub fn front_by_accuracy(&self) -> Vec<usize> {
        let mut front = self.front.clone();
        front.sort_by(|&a, &b| {
            self.evaluations[b]
                .measurement
                .accuracy
                .total_cmp(&self.evaluations[a].measurement.accuracy)
        });
        front
    }
}

/// The datasets of a run: normalised training images, validation images (raw for the
/// engine, normalised for burn), test images, and the normalisation.
pub(super) struct Splits {
    pub(super) train: Dataset,
    pub(super) validation: Dataset,
    pub(super) validation_normalized: Dataset,
    pub(super) test: Dataset,
    pub(super) normalization: Normalization,
}

pub(super) fn load_splits(experiment: &Experiment) -> Result<Splits> {
    let d = &experiment.file.data;
    let all = data::load(experiment.dataset, Split::Train, d.data_dir.as_deref())?;
    let (mut train, validation) =
        all.split_validation(d.validation_fraction, experiment.file.supernet.seed)?;
    if d.max_train > 0 {
        let keep: Vec<usize> = (0..d.max_train.min(train.len())).collect();
        train = train.select(&keep);
    }
    let normalization = Normalization::from_dataset(&train);
    train.normalize(&normalization);
    let first = |set: Dataset, n: usize| {
        if n == 0 || n >= set.len() {
            set
        } else {
            set.select(&(0..n).collect::<Vec<_>>())
        }
    };
    let validation = first(validation, d.search_images);
    let mut validation_normalized = validation.clone();
    validation_normalized.normalize(&normalization);
    let test = first(
        data::load(experiment.dataset, Split::Test, d.data_dir.as_deref())?,
        d.test_images,
    );
    Ok(Splits {
        train,
        validation,
        validation_normalized,
        test,
        normalization,
    })
}

/// Runs `experiment` on `backend` (chips) and burn's CPU device (training).
///
/// # Errors
/// A folder holding another run (or a run without `resume`), data, training, engine or
/// I/O failures.
pub fn run<B: NetworkBackend>(
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
    let text = experiment.to_toml();
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

/// Reads a JSON-lines log, dropping a last line cut short by a kill (and cutting it off the
/// file, so that appends start on a fresh line).
fn read_log<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    let mut items = Vec::new();
    let mut good = 0;
    for line in text.split_inclusive('\n') {
        if !line.ends_with('\n') {
            break;
        }
        match serde_json::from_str::<T>(line) {
            Ok(item) => items.push(item),
            Err(e) => {
                return Err(Error::Search(format!(
                    "{}: line {}: {e}",
                    path.display(),
                    items.len() + 1
                )));
            }
        }
        good += line.len();
    }
    if good < text.len() {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        file.set_len(good as u64).map_err(|e| Error::io(path, e))?;
    }
    Ok(items)
}

/// Appends one JSON line to `path` and flushes it to disk.
fn append_log<T: Serialize>(path: &Path, item: &T) -> Result<()> {
    let mut line = serde_json::to_string(item).map_err(|e| Error::Search(e.to_string()))?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io(path, e))
}

fn search_stage<B: NetworkBackend>(
    experiment: &Experiment,
    joint: &JointSpace,
    evaluator: &CandidateEvaluator<'_, B>,
    options: &RunOptions,
) -> Result<(Vec<EvalRecord>, Vec<usize>)> {
    let log = options.out.join(EVALUATIONS_FILE);
    let logged: Vec<EvalRecord> = read_log(&log)?;
    let s = &experiment.file.search;
    let settings = SearchSettings {
        strategy: s.strategy,
        population: s.population,
        budget: s.budget,
        sample_size: s.sample_size,
        seed: s.seed,
    };
    let by_genome: HashMap<Vec<u64>, EvalRecord> = logged
        .iter()
        .map(|r| (genome_key(&r.genome), r.clone()))
        .collect();
    let mut by_candidate: HashMap<String, Measurement> = logged
        .iter()
        .map(|r| (r.description.clone(), r.measurement.clone()))
        .collect();
    let mut records: Vec<EvalRecord> = Vec::new();
    let bar = options.progress.then(|| {
        let bar = indicatif::ProgressBar::new(s.budget as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "search [{bar:40}] {pos}/{len} candidates, {elapsed} elapsed, eta {eta} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    });
    let mut evaluate_batch = |genomes: &[Genome]| -> Result<Vec<search::pareto::Point>> {
        let mut points = Vec::with_capacity(genomes.len());
        for genome in genomes {
            let record = match by_genome.get(&genome_key(genome)) {
                Some(r) => r.clone(),
                None => {
                    let candidate = joint.decode(genome);
                    let description = candidate.describe();
                    let began = Instant::now();
                    let (measurement, seconds) = match by_candidate.get(&description) {
                        Some(m) => (m.clone(), 0.0),
                        None => {
                            let m = evaluator.measure(&candidate)?;
                            (m, began.elapsed().as_secs_f64())
                        }
                    };
                    let point = measurement.point(experiment);
                    let record = EvalRecord {
                        index: records.len(),
                        genome: genome.clone(),
                        candidate,
                        description: description.clone(),
                        measurement: measurement.clone(),
                        objectives: point.objectives,
                        violation: point.violation,
                        seconds,
                    };
                    append_log(&log, &record)?;
                    by_candidate.insert(description, measurement);
                    record
                }
            };
            points.push(record.measurement.point(experiment));
            records.push(record);
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        }
        Ok(points)
    };
    let outcome = search::run(&joint.space(), &settings, &mut evaluate_batch, |outcome| {
        if let Some(bar) = &bar {
            let points: Vec<_> = outcome.evaluated.iter().map(|e| e.point.clone()).collect();
            bar.set_message(format!(
                "(front: {})",
                search::pareto::pareto_front(&points).len()
            ));
        }
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok((records, outcome.generation_ends))
}

/// A selected subnet after fine-tuning, with the learning rate and noise level that won; none
/// when fine-tuning is off.
type Finetuned = Option<(crate::network::Network, (f64, f32))>;

fn finetune_stage<B: NetworkBackend>(
    experiment: &Experiment,
    evaluator: &CandidateEvaluator<'_, B>,
    splits: &Splits,
    summary: &RunSummary,
    selected: &[usize],
    options: &RunOptions,
) -> Result<(Vec<Finetuned>, Vec<RungResult>)> {
    if experiment.file.finetune.top_k == 0 {
        return Ok((vec![None; selected.len()], Vec::new()));
    }
    let log = options.out.join(FINETUNE_FILE);
    let done: Vec<RungResult> = read_log(&log)?;
    let mut all = Vec::new();
    let mut winners = Vec::new();
    for (i, &index) in selected.iter().enumerate() {
        let record = &summary.evaluations[index];
        if options.progress {
            eprintln!(
                "fine-tuning {}/{}: {}",
                i + 1,
                selected.len(),
                record.description
            );
        }
        let start = evaluator.subnet(&record.candidate)?;
        let (net, results) = successive_halving(
            evaluator,
            i,
            &record.candidate,
            &start,
            &splits.train,
            &options.out.join("finetune").join(format!("subnet{i}")),
            &done,
            options.progress,
            |r| append_log(&log, r),
        )?;
        let last = results.last().map(|r| (r.learning_rate, r.noise));
        winners.push(last.map(|config| (net, config)));
        all.extend(results);
    }
    Ok((winners, all))
}

fn final_stage<B: NetworkBackend>(
    experiment: &Experiment,
    evaluator: &CandidateEvaluator<'_, B>,
    splits: &Splits,
    summary: &RunSummary,
    selected: &[usize],
    finetuned: &[Finetuned],
    options: &RunOptions,
) -> Result<FinalReport> {
    let path = options.out.join(FINAL_FILE);
    let mut report: FinalReport = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    report.times = experiment
        .final_times
        .iter()
        .map(|t| t.label.clone())
        .collect();
    let instances = experiment.file.final_eval.instances;
    let save = |report: &FinalReport| {
        let json =
            serde_json::to_string_pretty(report).map_err(|e| Error::Search(e.to_string()))?;
        write_atomic(&path, json.as_bytes())
    };
    for (i, &index) in selected.iter().enumerate() {
        let record = &summary.evaluations[index];
        let hw = evaluator.hardware(&record.candidate)?;
        let known = |variant: &str| {
            report
                .entries
                .iter()
                .any(|e| e.record.index == record.index && e.variant == variant)
        };
        // Only variants not yet evaluated are built: the supernet's needs a recalibration.
        let mut variants = Vec::new();
        if !known("supernet weights") {
            variants.push((
                "supernet weights",
                evaluator.subnet(&record.candidate)?,
                None,
            ));
        }
        if let Some((net, config)) = finetuned[i].as_ref().filter(|_| !known("fine-tuned")) {
            variants.push(("fine-tuned", net.clone(), Some(*config)));
        }
        for (variant, net, config) in variants {
            if options.progress {
                eprintln!("final evaluation ({variant}): {}", record.description);
            }
            let (times, _) = evaluator.measure_network(
                &record.candidate,
                &net,
                &hw,
                &splits.test,
                &experiment.final_times,
                instances,
            )?;
            report.entries.push(FinalEntry {
                record: record.clone(),
                variant: variant.to_string(),
                finetune: config,
                times,
            });
            save(&report)?;
        }
    }

    // Accuracy against ADC bits, for the most accurate subnet at the deployment time.
    let sweep = &experiment.file.final_eval.adc_sweep;
    let deploy = experiment
        .final_times
        .iter()
        .position(|t| t.seconds == experiment.drift.seconds);
    let best = report
        .entries
        .iter()
        .enumerate()
        .max_by(|a, b| {
            let acc = |e: &FinalEntry| e.times[deploy.unwrap_or(0)].accuracy;
            acc(a.1).total_cmp(&acc(b.1))
        })
        .map(|(k, _)| k);
    if let Some(k) = best {
        let entry = report.entries[k].clone();
        let net = match (
            &entry.finetune,
            selected.iter().position(|&s| s == entry.record.index),
        ) {
            (Some(_), Some(i)) => finetuned[i].as_ref().map(|(n, _)| n.clone()),
            _ => None,
        };
        let net = match net {
            Some(n) => n,
            None => evaluator.subnet(&entry.record.candidate)?,
        };
        for &bits in sweep {
            if report.adc_sweep.iter().any(|p| p.adc_bits == bits) {
                continue;
            }
            let mut candidate = entry.record.candidate.clone();
            candidate.hardware.adc_bits = bits;
            let hw = evaluator.hardware(&candidate)?;
            let (mut m, _) = evaluator.measure_network(
                &candidate,
                &net,
                &hw,
                &splits.test,
                std::slice::from_ref(&experiment.drift),
                instances,
            )?;
            report.adc_sweep.push(AdcPoint {
                adc_bits: bits,
                measurement: m.remove(0),
            });
            save(&report)?;
        }
    }
    Ok(report)
}
