//! The stages of a run after supernet training: the search (its evaluation log answering for
//! the genomes already evaluated), fine-tuning of the selected subnets, and their final
//! evaluation with the ADC sweep. Each saves its results as they come and skips what the run
//! folder already holds.

use super::evaluate::{CandidateEvaluator, Measurement};
use super::finetune::{RungResult, successive_halving};
use super::genome::JointSpace;
use super::log::{append_log, read_log};
use super::records::{
    AIHWKIT_CHIP, AIHWKIT_PERIPHERY, AdcPoint, CANDIDATE_CHIP, EvalRecord, FinalEntry, FinalReport,
    RunSummary, read_evaluation_log,
};
use super::records::{EVALUATIONS_FILE, FINAL_FILE, FINETUNE_FILE, RunOptions};
use super::splits::Splits;
use crate::backend::Backend;
use crate::config::{self, Experiment, HwConfig};
use crate::error::{Error, Result};
use crate::io::write_atomic;
use crate::search::{self, Genome, SearchSettings, genome_key};
use std::collections::HashMap;
use std::time::Instant;

pub(super) fn search_stage<B: Backend>(
    experiment: &Experiment,
    joint: &JointSpace,
    evaluator: &CandidateEvaluator<'_, B>,
    options: &RunOptions,
) -> Result<(Vec<EvalRecord>, Vec<usize>)> {
    let log = options.out.join(EVALUATIONS_FILE);
    let logged = read_evaluation_log(&log, &joint.space())?;
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
pub(super) type Finetuned = Option<(crate::network::Network, (f64, f32))>;

pub(super) fn finetune_stage<B: Backend>(
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

pub(super) fn final_stage<B: Backend>(
    experiment: &Experiment,
    evaluator: &CandidateEvaluator<'_, B>,
    splits: &Splits,
    summary: &RunSummary,
    selected: &[usize],
    finetuned: &[Finetuned],
    options: &RunOptions,
) -> Result<FinalReport> {
    let path = options.out.join(FINAL_FILE);
    // What an interrupted final evaluation saved; a file that does not read is refused rather
    // than measured over.
    let mut report: FinalReport = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            Error::Search(format!(
                "{}: not a final evaluation of this run ({e}); move it away to evaluate again",
                path.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FinalReport::default(),
        Err(e) => return Err(Error::io(&path, e)),
    };
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
        // The subnet's own chip, then aihwkit's chip beside it: aihwkit's periphery (one
        // multi-bit read of every row, continuous weights, its ADC range and noise) on the
        // subnet's devices (their conductance window from 0), tile size and cost memory.
        let aihwkit = config::load(AIHWKIT_PERIPHERY, &[])?;
        for chip in [CANDIDATE_CHIP, AIHWKIT_CHIP] {
            for &bits in sweep {
                if report
                    .adc_sweep
                    .iter()
                    .any(|p| p.adc_bits == bits && p.chip == chip)
                {
                    continue;
                }
                let mut candidate = entry.record.candidate.clone();
                candidate.hardware.adc_bits = bits;
                let own = evaluator.hardware(&candidate)?;
                let hw = if chip == CANDIDATE_CHIP {
                    own
                } else {
                    let mut file = aihwkit.file.clone();
                    file.tile.rows = candidate.hardware.tile;
                    file.tile.cols = candidate.hardware.tile;
                    file.adc.bits = bits;
                    file.device = own.file.device.clone();
                    file.device.g_min_us = 0.0;
                    file.cost = own.file.cost.clone();
                    HwConfig::validate(file, &format!("{} on {}", aihwkit.origin, own.origin))?
                };
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
                    chip: chip.to_string(),
                    measurement: m.remove(0),
                });
                save(&report)?;
            }
        }
    }
    Ok(report)
}
