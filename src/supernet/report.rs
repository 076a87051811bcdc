//! The report of a run: `pareto.json` and `pareto.csv` (the feasible front), `hypervolume.csv`
//! (after each generation), `supernet.json` (training history), SVG plots (the front,
//! accuracy against drift time, accuracy against ADC bits) and `summary.md`; each file
//! written atomically.

use super::records::{AIHWKIT_CHIP, CANDIDATE_CHIP, EvalRecord, FinalReport, RunSummary};
use crate::config::{Experiment, Objective};
use crate::error::{Error, Result};
use crate::io::write_atomic;
use crate::search::pareto::{Point, hypervolume, pareto_front};
use plotters::prelude::*;
use std::fmt::Write as _;

/// Hypervolume of the feasible front after each generation, with every objective divided
/// by a reference of 1.1 x its largest value over the whole run (error: 1), so that the
/// figures of one run compare across generations and lie in [0, 1].
pub fn hypervolumes(
    experiment: &Experiment,
    records: &[EvalRecord],
    generation_ends: &[usize],
) -> Vec<f64> {
    let points: Vec<Point> = records
        .iter()
        .map(|r| Point {
            objectives: r.objectives.clone(),
            violation: r.violation,
        })
        .collect();
    hypervolumes_of(&experiment.file.search.objectives, &points, generation_ends)
}

/// [`hypervolumes`] of any run's points, objectives as `objectives` lists them.
pub fn hypervolumes_of(objectives: &[Objective], points: &[Point], ends: &[usize]) -> Vec<f64> {
    let reference: Vec<f64> = objectives
        .iter()
        .enumerate()
        .map(|(k, o)| match o {
            Objective::Error => 1.0,
            _ => {
                1.1 * points
                    .iter()
                    .map(|p| p.objectives[k])
                    .fold(f64::MIN_POSITIVE, f64::max)
            }
        })
        .collect();
    let scaled: Vec<Point> = points
        .iter()
        .map(|p| Point {
            objectives: p
                .objectives
                .iter()
                .zip(&reference)
                .map(|(v, r)| (v / r).min(1.0))
                .collect(),
            violation: p.violation,
        })
        .collect();
    ends.iter()
        .map(|&end| {
            let front: Vec<Vec<f64>> = pareto_front(&scaled[..end])
                .into_iter()
                .map(|i| scaled[i].objectives.clone())
                .collect();
            hypervolume(&front, &vec![1.0; reference.len()])
        })
        .collect()
}

/// `k` members of `front` spread along it by accuracy: the most accurate, the least, and
/// evenly between, among the members at least half as accurate as the best (the cheapest
/// members of a front can be chips that only guess, not worth fine-tuning).
pub fn spread_by_accuracy(records: &[EvalRecord], front: &[usize], k: usize) -> Vec<usize> {
    let best = front
        .iter()
        .map(|&i| records[i].measurement.accuracy)
        .fold(0.0, f64::max);
    let mut sorted: Vec<usize> = front
        .iter()
        .copied()
        .filter(|&i| records[i].measurement.accuracy >= 0.5 * best)
        .collect();
    sorted.sort_by(|&a, &b| {
        records[b]
            .measurement
            .accuracy
            .total_cmp(&records[a].measurement.accuracy)
            .then(a.cmp(&b))
    });
    if sorted.len() <= k {
        return sorted;
    }
    let mut picked: Vec<usize> = (0..k)
        .map(|i| {
            let at = if k == 1 {
                0
            } else {
                i * (sorted.len() - 1) / (k - 1)
            };
            sorted[at]
        })
        .collect();
    picked.dedup();
    picked
}

/// Writes every report file of `summary` into its run folder.
///
/// # Errors
/// I/O or plotting failures.
pub fn write_all(experiment: &Experiment, summary: &RunSummary) -> Result<()> {
    let out = &summary.out;
    let front: Vec<&EvalRecord> = summary
        .front
        .iter()
        .map(|&i| &summary.evaluations[i])
        .collect();
    write_atomic(&out.join("pareto.json"), pretty(&front).as_bytes())?;
    write_atomic(&out.join("pareto.csv"), pareto_csv(&front).as_bytes())?;
    write_atomic(
        &out.join("supernet.json"),
        pretty(&summary.supernet).as_bytes(),
    )?;
    write_atomic(
        &out.join("hypervolume.csv"),
        hypervolume_csv(&summary.generation_ends, &summary.hypervolume).as_bytes(),
    )?;
    write_atomic(
        &out.join("pareto.svg"),
        pareto_svg(experiment, summary)?.as_bytes(),
    )?;
    if let Some(report) = &summary.final_report {
        write_atomic(
            &out.join("accuracy-vs-drift.svg"),
            drift_svg(experiment, report)?.as_bytes(),
        )?;
        if !report.adc_sweep.is_empty() {
            write_atomic(
                &out.join("accuracy-vs-adc-bits.svg"),
                adc_svg(experiment, report)?.as_bytes(),
            )?;
        }
    }
    write_atomic(
        &out.join("summary.md"),
        summary_md(experiment, summary).as_bytes(),
    )
}

/// `hypervolume.csv`: one row per generation, the evaluations at its end and the
/// normalised hypervolume then.
pub fn hypervolume_csv(generation_ends: &[usize], hypervolume: &[f64]) -> String {
    let mut hv = String::from("generation,evaluations,hypervolume\n");
    for (g, (end, v)) in generation_ends.iter().zip(hypervolume).enumerate() {
        let _ = writeln!(hv, "{},{end},{v:.6}", g + 1);
    }
    hv
}

/// A Markdown table: the header row, its rule, then one line per row of cells.
pub fn markdown_table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut md = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        " --- |".repeat(header.len())
    );
    for row in rows {
        let _ = writeln!(md, "| {} |", row.join(" | "));
    }
    md
}

/// Pretty JSON of a report value.
fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn pareto_csv(front: &[&EvalRecord]) -> String {
    let mut text = String::from(
        "index,candidate,accuracy,accuracy_std,float_accuracy,energy_uj,latency_us,area_mm2,tops_per_w,parameters\n",
    );
    for r in front {
        let m = &r.measurement;
        let std = std_of(&m.accuracies);
        let _ = writeln!(
            text,
            "{},\"{}\",{:.4},{:.4},{:.4},{:.6},{:.6},{:.6},{:.3},{}",
            r.index,
            r.description,
            m.accuracy,
            std,
            m.float_accuracy,
            m.energy_uj,
            m.latency_us,
            m.area_mm2,
            m.tops_per_w,
            m.parameters
        );
    }
    text
}

/// The legend of `chart`, in a white box with a black border at `position`.
pub(crate) fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    CT: plotters::coord::CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)
}

/// A plotting failure as the library's error.
pub(crate) fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Search(format!("plot: {e}"))
}

/// Accuracy against energy, latency and area, every evaluation in grey and the front in
/// blue, one panel per cost.
fn pareto_svg(experiment: &Experiment, summary: &RunSummary) -> Result<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (1200, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let panels = root.split_evenly((1, 3));
        let costs = [Objective::Energy, Objective::Latency, Objective::Area];
        for (panel, cost) in panels.iter().zip(costs) {
            let value = |r: &EvalRecord| r.measurement.objective(cost);
            let xs: Vec<f64> = summary.evaluations.iter().map(value).collect();
            let (lo, hi) = xs.iter().fold((f64::MAX, f64::MIN_POSITIVE), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
            let lo = (lo * 0.8).max(hi * 1e-6);
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!(
                        "{}: accuracy vs {}",
                        experiment.file.data.dataset,
                        cost.label()
                    ),
                    ("sans-serif", 16),
                )
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(46)
                .build_cartesian_2d((lo..hi * 1.25).log_scale(), 0.0..100.0)
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc(cost.label())
                .y_desc("chip accuracy [%]")
                .draw()
                .map_err(plot_error)?;
            chart
                .draw_series(summary.evaluations.iter().map(|r| {
                    Circle::new(
                        (value(r), 100.0 * r.measurement.accuracy),
                        2,
                        BLACK.mix(0.25),
                    )
                }))
                .map_err(plot_error)?;
            chart
                .draw_series(summary.front.iter().map(|&i| {
                    let r = &summary.evaluations[i];
                    Circle::new((value(r), 100.0 * r.measurement.accuracy), 4, BLUE.filled())
                }))
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(text)
}

/// Mean test accuracy (with the instances' standard deviation) against drift time for every
/// final subnet; t = 0 drawn at 1 s.
fn drift_svg(experiment: &Experiment, report: &FinalReport) -> Result<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (760, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let seconds: Vec<f64> = experiment
            .final_times
            .iter()
            .map(|t| t.seconds.max(1.0))
            .collect();
        let x_max = seconds.iter().copied().fold(10.0, f64::max) * 2.0;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "final subnets: test accuracy vs drift time",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((0.5f64..x_max).log_scale(), 0.0..100.0)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("time after programming [s] (t = 0 drawn at 1 s)")
            .y_desc("test accuracy [%]")
            .draw()
            .map_err(plot_error)?;
        for (k, entry) in report.entries.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            let line: Vec<(f64, f64)> = seconds
                .iter()
                .zip(&entry.times)
                .map(|(&t, m)| (t, 100.0 * m.accuracy))
                .collect();
            chart
                .draw_series(LineSeries::new(line, color))
                .map_err(plot_error)?
                .label(format!("#{} {}", entry.record.index, entry.variant))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
            chart
                .draw_series(seconds.iter().zip(&entry.times).map(|(&t, m)| {
                    let s = 100.0 * std_of(&m.accuracies);
                    let y = 100.0 * m.accuracy;
                    ErrorBar::new_vertical(t, y - s, y, y + s, color.filled(), 6)
                }))
                .map_err(plot_error)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerLeft)?;
        root.present().map_err(plot_error)?;
    }
    Ok(text)
}

/// Test accuracy at the deployment time against ADC bits.
fn adc_svg(experiment: &Experiment, report: &FinalReport) -> Result<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (640, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let series = |chip: &str| -> Vec<(f64, f64, f64)> {
            let mut points: Vec<(f64, f64, f64)> = report
                .adc_sweep
                .iter()
                .filter(|p| p.chip == chip)
                .map(|p| {
                    (
                        f64::from(p.adc_bits),
                        100.0 * p.measurement.accuracy,
                        100.0 * std_of(&p.measurement.accuracies),
                    )
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            points
        };
        let both = [
            (series(CANDIDATE_CHIP), BLUE, "the subnet's chip"),
            (
                series(AIHWKIT_CHIP),
                RED,
                "aihwkit's chip, same devices and tile",
            ),
        ];
        let mut points: Vec<(f64, f64, f64)> = both.iter().flat_map(|s| s.0.clone()).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (lo, hi) = (
            points.first().map_or(1.0, |p| p.0) - 0.5,
            points.last().map_or(12.0, |p| p.0) + 0.5,
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("accuracy vs ADC bits at {}", experiment.drift.label),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(lo..hi, 0.0..100.0)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("ADC resolution [bits]")
            .y_desc("test accuracy [%]")
            .draw()
            .map_err(plot_error)?;
        for (points, color, label) in &both {
            chart
                .draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.1)), color))
                .map_err(plot_error)?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
            chart
                .draw_series(points.iter().map(|&(x, y, s)| {
                    ErrorBar::new_vertical(x, y - s, y, y + s, color.filled(), 6)
                }))
                .map_err(plot_error)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::MiddleRight)?;
        root.present().map_err(plot_error)?;
    }
    Ok(text)
}

fn std_of(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

fn summary_md(experiment: &Experiment, summary: &RunSummary) -> String {
    let f = &experiment.file;
    let mut md = String::new();
    let _ = writeln!(md, "# imcnas run: {}\n", experiment.origin);
    let _ = writeln!(
        md,
        "Dataset {}; search on {} at drift time {} over {} chip instances; strategy {:?}, \
         population {}, budget {}, seed {}. The experiment as run is in `experiment.toml`.\n",
        f.data.dataset,
        f.hardware.devices.join(", "),
        experiment.drift.label,
        f.hardware.instances,
        f.search.strategy,
        f.search.population,
        f.search.budget,
        f.search.seed
    );
    if let Some(last) = summary.supernet.last() {
        let _ = writeln!(
            md,
            "## Supernet\n\n{} epochs; last epoch: loss {:.4}, validation accuracy {:.2}% (largest) and {:.2}% (smallest), batch statistics.\n",
            last.epoch,
            last.loss,
            100.0 * last.largest_accuracy,
            100.0 * last.smallest_accuracy
        );
    }
    let _ = writeln!(
        md,
        "## Search\n\n{} evaluations in {} generations; {} on the feasible Pareto front.\n",
        summary.evaluations.len(),
        summary.generation_ends.len(),
        summary.front.len()
    );
    let _ = writeln!(
        md,
        "| generation | evaluations | hypervolume |\n| --- | --- | --- |"
    );
    for (g, (end, v)) in summary
        .generation_ends
        .iter()
        .zip(&summary.hypervolume)
        .enumerate()
    {
        let _ = writeln!(md, "| {} | {end} | {v:.4} |", g + 1);
    }
    let _ = writeln!(md, "\n### Pareto front (validation images)\n");
    md.push_str(&markdown_table(
        &[
            "#",
            "candidate",
            "chip accuracy",
            "float",
            "energy (uJ)",
            "latency (us)",
            "area (mm^2)",
        ],
        summary.front_by_accuracy().into_iter().map(|i| {
            let r = &summary.evaluations[i];
            let m = &r.measurement;
            vec![
                r.index.to_string(),
                format!("`{}`", r.description),
                format!("{:.2}%", 100.0 * m.accuracy),
                format!("{:.2}%", 100.0 * m.float_accuracy),
                format!("{:.4}", m.energy_uj),
                format!("{:.3}", m.latency_us),
                format!("{:.4}", m.area_mm2),
            ]
        }),
    ));
    if !summary.finetune.is_empty() {
        let _ = writeln!(
            md,
            "\n## Fine-tuning (successive halving)\n\n| subnet | rung | learning rate | noise | epochs | chip accuracy |\n| --- | --- | --- | --- | --- | --- |"
        );
        for r in &summary.finetune {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {:.2}% |",
                r.subnet,
                r.rung,
                r.learning_rate,
                r.noise,
                r.epochs,
                100.0 * r.measurement.accuracy
            );
        }
    }
    if let Some(report) = &summary.final_report {
        let _ = writeln!(
            md,
            "\n## Final evaluation (test images, {} instances)\n",
            f.final_eval.instances
        );
        let _ = writeln!(
            md,
            "| # | weights | float | {} |\n| --- | --- | --- |{}",
            report
                .times
                .iter()
                .map(|t| format!("t = {t}"))
                .collect::<Vec<_>>()
                .join(" | "),
            " --- |".repeat(report.times.len())
        );
        for e in &report.entries {
            let cells: Vec<String> = e
                .times
                .iter()
                .map(|m| {
                    format!(
                        "{:.2} ± {:.2}%",
                        100.0 * m.accuracy,
                        100.0 * std_of(&m.accuracies)
                    )
                })
                .collect();
            let _ = writeln!(
                md,
                "| {} | {} | {:.2}% | {} |",
                e.record.index,
                e.variant,
                100.0 * e.times.first().map_or(0.0, |m| m.float_accuracy),
                cells.join(" | ")
            );
        }
        if !report.adc_sweep.is_empty() {
            let _ = writeln!(
                md,
                "\nADC sweep of the most accurate subnet at {}, on its own chip and on aihwkit's chip (the aihwkit-default periphery: one multi-bit read of every row, continuous weights, aihwkit's ADC range and output noise) with the same devices and tile size (test accuracy, energy per image, chip area):\n\n| ADC bits | chip | accuracy | energy (uJ) | area (mm2) |\n|---:|---|---:|---:|---:|",
                experiment.drift.label
            );
            let mut points: Vec<_> = report.adc_sweep.iter().collect();
            points.sort_by(|a, b| a.adc_bits.cmp(&b.adc_bits).then(b.chip.cmp(&a.chip)));
            for p in points {
                let m = &p.measurement;
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.2}% | {:.4} | {:.3} |",
                    p.adc_bits,
                    p.chip,
                    100.0 * m.accuracy,
                    m.energy_uj,
                    m.area_mm2
                );
            }
        }
    }
    let _ = writeln!(
        md,
        "\nFiles: `evaluations.jsonl` (every evaluation), `pareto.json`, `pareto.csv`, `hypervolume.csv`, `supernet.json`, `finetune.jsonl`, `final.json`, `pareto.svg`, `accuracy-vs-drift.svg`, `accuracy-vs-adc-bits.svg`.\n\nThis invocation took {:.0} s.",
        summary.seconds
    );
    md
}
