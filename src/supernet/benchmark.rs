//! Search strategies compared on a table experiment, where the exhaustive answer is known:
//! every cell of the space is queried once to give the true Pareto front, then each
//! strategy runs from several seeds and is scored, after every query, by its front recall
//! (the share of the true front's distinct points it has found), its hypervolume gap to the
//! true front, and the queries it needed to reach 99.5% of the true hypervolume.
//!
//! Hypervolumes are of objectives scaled to [0, 1] by their range over the whole space,
//! with the reference point at 1.1 in each. A strategy never sees its budget, so its first
//! B queries are a run of budget B: one run of the largest budget scores every budget.

use super::report::{draw_legend, plot_error};
use super::tabular::{CellSpace, TableEvaluator, search_settings};
use crate::config::{Experiment, Strategy};
use crate::error::{Error, Result};
use crate::io::write_atomic;
use crate::search::pareto::{Point, hypervolume, pareto_front};
use crate::search::{Genome, SearchSettings, genome_key};
use plotters::prelude::*;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Share of the true front's hypervolume a strategy must reach for [`RunScore::queries_to_hv`].
pub const HV_TARGET: f64 = 0.995;

/// What to compare.
#[derive(Clone, Debug)]
pub struct BenchmarkOptions {
    /// The strategies, each run from every seed.
    pub strategies: Vec<Strategy>,
    /// Seeds 0..seeds (added to the experiment's search seed).
    pub seeds: u64,
    /// Query budgets scored (the largest is run).
    pub budgets: Vec<usize>,
    /// Folder of the results.
    pub out: PathBuf,
    /// A line per strategy on stderr.
    pub progress: bool,
}

/// The exhaustively known answer.
#[derive(Clone, Debug)]
pub struct TrueFront {
    /// Cells in the space.
    pub size: usize,
    /// The distinct objective vectors of the front (minimised, unscaled).
    pub front: Vec<Vec<f64>>,
    /// Each objective's smallest and largest value over the space.
    pub ranges: Vec<(f64, f64)>,
    /// The front's scaled hypervolume.
    pub hypervolume: f64,
    /// Seconds the exhaustive pass took (every cell priced and looked up).
    pub seconds: f64,
}

/// One strategy's run from one seed, scored after every query.
#[derive(Clone, Debug)]
pub struct RunScore {
    /// The strategy.
    pub strategy: Strategy,
    /// The seed.
    pub seed: u64,
    /// Front recall after 1, 2, ... queries.
    pub recall: Vec<f64>,
    /// Hypervolume gap (1 - HV / true HV) after 1, 2, ... queries.
    pub hv_gap: Vec<f64>,
    /// Queries until the scaled hypervolume reached [`HV_TARGET`] of the true front's (none
    /// within the run).
    pub queries_to_hv: Option<usize>,
    /// Seconds the run took.
    pub seconds: f64,
}

/// The comparison.
#[derive(Clone, Debug)]
pub struct BenchmarkReport {
    /// The true front.
    pub truth: TrueFront,
    /// Every run.
    pub runs: Vec<RunScore>,
    /// The budgets scored.
    pub budgets: Vec<usize>,
}

fn scale(point: &[f64], ranges: &[(f64, f64)]) -> Vec<f64> {
    point
        .iter()
        .zip(ranges)
        .map(|(v, (lo, hi))| if hi > lo { (v - lo) / (hi - lo) } else { 0.0 })
        .collect()
}

/// Every cell of the experiment's space queried once: its true front.
///
/// # Errors
/// As [`TableEvaluator::measure`].
pub fn true_front(experiment: &Experiment) -> Result<(TrueFront, HashMap<Vec<u64>, Point>)> {
    let started = std::time::Instant::now();
    let mut evaluator = TableEvaluator::new(experiment)?;
    let space = evaluator.cell_space().space();
    let size = space.size().unwrap_or(0) as usize;
    let genomes: Vec<Genome> = (0..size as u128).map(|i| space.nth(i)).collect();
    let points = evaluator.points(&genomes)?;
    let feasible: Vec<&Point> = points.iter().filter(|p| p.violation == 0.0).collect();
    let d = experiment.file.search.objectives.len();
    let ranges: Vec<(f64, f64)> = (0..d)
        .map(|k| {
            feasible.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
                (lo.min(p.objectives[k]), hi.max(p.objectives[k]))
            })
        })
        .collect();
    let front: Vec<Vec<f64>> = pareto_front(&points)
        .into_iter()
        .map(|i| points[i].objectives.clone())
        .collect();
    if front.is_empty() {
        return Err(Error::Search(format!(
            "{}: no cell of the space is feasible",
            experiment.origin
        )));
    }
    let scaled: Vec<Vec<f64>> = front.iter().map(|p| scale(p, &ranges)).collect();
    let truth = TrueFront {
        size,
        hypervolume: hypervolume(&scaled, &vec![1.1; d]),
        front,
        ranges,
        seconds: started.elapsed().as_secs_f64(),
    };
    let by_genome = genomes
        .iter()
        .zip(points)
        .map(|(g, p)| (genome_key(g), p))
        .collect();
    Ok((truth, by_genome))
}

/// Scores the queries of one run, in order, against the true front.
pub fn score(truth: &TrueFront, points: &[Point]) -> (Vec<f64>, Vec<f64>) {
    let d = truth.ranges.len();
    let targets: HashSet<Vec<u64>> = truth
        .front
        .iter()
        .map(|p| p.iter().map(|v| v.to_bits()).collect())
        .collect();
    let mut found: HashSet<Vec<u64>> = HashSet::new();
    let mut front: Vec<Vec<f64>> = Vec::new();
    let mut hv = 0.0;
    let (mut recall, mut gap) = (Vec::new(), Vec::new());
    for p in points {
        if p.violation == 0.0 {
            let key: Vec<u64> = p.objectives.iter().map(|v| v.to_bits()).collect();
            if targets.contains(&key) {
                found.insert(key);
            }
            let s = scale(&p.objectives, &truth.ranges);
            let beaten = front
                .iter()
                .any(|q| crate::search::pareto::objectives_dominate(q, &s) || *q == s);
            if !beaten {
                front.retain(|q| !crate::search::pareto::objectives_dominate(&s, q));
                front.push(s);
                hv = hypervolume(&front, &vec![1.1; d]);
            }
        }
        recall.push(found.len() as f64 / targets.len() as f64);
        gap.push(1.0 - hv / truth.hypervolume);
    }
    (recall, gap)
}

/// Runs every strategy from every seed on the experiment's table and writes `runs.csv`
/// (every run's recall and gap at a grid of query counts), `budgets.csv` and `summary.md`
/// (medians and quartiles over seeds at each budget) and two plots, each atomically.
///
/// # Errors
/// A bad experiment (no table), options asking for nothing, I/O failures.
pub fn benchmark(experiment: &Experiment, options: &BenchmarkOptions) -> Result<BenchmarkReport> {
    let largest = options.budgets.iter().copied().max().unwrap_or(0);
    if options.strategies.is_empty() || options.seeds == 0 || largest == 0 {
        return Err(Error::Invalid(
            "benchmark: give at least one strategy, one seed and one budget".into(),
        ));
    }
    if options.strategies.contains(&Strategy::Exhaustive) {
        return Err(Error::Invalid(
            "benchmark: the exhaustive search gives the true front; compare the others".into(),
        ));
    }
    std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
    let (truth, by_genome) = true_front(experiment)?;
    if options.progress {
        eprintln!(
            "true front: {} of {} cells, queried in {:.1} s",
            truth.front.len(),
            truth.size,
            truth.seconds
        );
    }
    let base = search_settings(experiment);
    let space = CellSpace::new(experiment).space();
    let jobs: Vec<(Strategy, u64)> = options
        .strategies
        .iter()
        .flat_map(|&s| (0..options.seeds).map(move |seed| (s, seed)))
        .collect();
    let runs: Vec<RunScore> = jobs
        .par_iter()
        .map(|&(strategy, seed)| -> Result<RunScore> {
            let started = std::time::Instant::now();
            let settings = SearchSettings {
                strategy,
                budget: largest.min(truth.size),
                seed: base.seed.wrapping_add(seed),
                ..base.clone()
            };
            let mut lookup = |genomes: &[Genome]| -> Result<Vec<Point>> {
                genomes
                    .iter()
                    .map(|g| {
                        by_genome.get(&genome_key(g)).cloned().ok_or_else(|| {
                            Error::Search(format!("a genome outside the space: {g:?}"))
                        })
                    })
                    .collect()
            };
            let outcome = crate::search::run(&space, &settings, &mut lookup, |_| {})?;
            let points: Vec<Point> = outcome.evaluated.into_iter().map(|e| e.point).collect();
            let (recall, hv_gap) = score(&truth, &points);
            let queries_to_hv = hv_gap
                .iter()
                .position(|g| 1.0 - g >= HV_TARGET)
                .map(|i| i + 1);
            if options.progress {
                eprintln!(
                    "{strategy:?} seed {seed}: recall {:.3}, gap {:.4} after {} queries",
                    recall.last().copied().unwrap_or(0.0),
                    hv_gap.last().copied().unwrap_or(1.0),
                    recall.len()
                );
            }
            Ok(RunScore {
                strategy,
                seed,
                recall,
                hv_gap,
                queries_to_hv,
                seconds: started.elapsed().as_secs_f64(),
            })
        })
        .collect::<Result<_>>()?;
    let mut budgets = options.budgets.clone();
    budgets.sort_unstable();
    budgets.dedup();
    let report = BenchmarkReport {
        truth,
        runs,
        budgets,
    };
    write_report(experiment, &report, options)?;
    Ok(report)
}

/// The value of a per-query curve after `queries` queries (its last when the run stopped
/// sooner, having exhausted the space).
fn at(curve: &[f64], queries: usize) -> f64 {
    curve
        .get(queries.saturating_sub(1))
        .or(curve.last())
        .copied()
        .unwrap_or(0.0)
}

/// The `q`-quantile of `values` (linear between order statistics).
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let x = q * (v.len() - 1) as f64;
    let (i, f) = (x.floor() as usize, x.fract());
    v[i] + f * (v[(i + 1).min(v.len() - 1)] - v[i])
}

impl BenchmarkReport {
    /// The runs of `strategy`.
    pub fn of(&self, strategy: Strategy) -> Vec<&RunScore> {
        self.runs
            .iter()
            .filter(|r| r.strategy == strategy)
            .collect()
    }

    /// Median recall and gap of `strategy` after `queries` queries.
    pub fn median_at(&self, strategy: Strategy, queries: usize) -> (f64, f64) {
        let runs = self.of(strategy);
        let recall: Vec<f64> = runs.iter().map(|r| at(&r.recall, queries)).collect();
        let gap: Vec<f64> = runs.iter().map(|r| at(&r.hv_gap, queries)).collect();
        (quantile(&recall, 0.5), quantile(&gap, 0.5))
    }

    /// Queries `strategy` needs for a median recall of `target` (none within its runs).
    pub fn queries_to_recall(&self, strategy: Strategy, target: f64) -> Option<usize> {
        let longest = self.of(strategy).iter().map(|r| r.recall.len()).max()?;
        (1..=longest).find(|&q| self.median_at(strategy, q).0 >= target)
    }

    /// Median over seeds of the queries to [`HV_TARGET`] (none when fewer than half the
    /// runs reached it).
    pub fn median_queries_to_hv(&self, strategy: Strategy) -> Option<usize> {
        let runs = self.of(strategy);
        let mut q: Vec<usize> = runs
            .iter()
            .map(|r| r.queries_to_hv.unwrap_or(usize::MAX))
            .collect();
        q.sort_unstable();
        let m = *q.get((q.len().max(1) - 1) / 2)?;
        (m != usize::MAX).then_some(m)
    }
}

fn name(s: Strategy) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| format!("{s:?}"))
}

fn write_report(
    experiment: &Experiment,
    report: &BenchmarkReport,
    options: &BenchmarkOptions,
) -> Result<()> {
    let out = &options.out;
    let largest = report.budgets.last().copied().unwrap_or(0);
    let grid: Vec<usize> = (1..=largest)
        .filter(|q| q % 10 == 0 || *q == 1 || report.budgets.contains(q))
        .collect();
    let mut runs = String::from("strategy,seed,queries,recall,hv_gap\n");
    for r in &report.runs {
        for &q in &grid {
            let _ = writeln!(
                runs,
                "{},{},{q},{:.6},{:.6}",
                name(r.strategy),
                r.seed,
                at(&r.recall, q),
                at(&r.hv_gap, q)
            );
        }
    }
    write_atomic(&out.join("runs.csv"), runs.as_bytes())?;
    let strategies: Vec<Strategy> = {
        let mut s: Vec<Strategy> = Vec::new();
        for r in &report.runs {
            if !s.contains(&r.strategy) {
                s.push(r.strategy);
            }
        }
        s
    };
    let mut csv = String::from(
        "strategy,budget,recall_median,recall_q25,recall_q75,hv_gap_median,hv_gap_q25,hv_gap_q75\n",
    );
    for &s in &strategies {
        let runs = report.of(s);
        for &b in &report.budgets {
            let recall: Vec<f64> = runs.iter().map(|r| at(&r.recall, b)).collect();
            let gap: Vec<f64> = runs.iter().map(|r| at(&r.hv_gap, b)).collect();
            let _ = writeln!(
                csv,
                "{},{b},{:.4},{:.4},{:.4},{:.5},{:.5},{:.5}",
                name(s),
                quantile(&recall, 0.5),
                quantile(&recall, 0.25),
                quantile(&recall, 0.75),
                quantile(&gap, 0.5),
                quantile(&gap, 0.25),
                quantile(&gap, 0.75)
            );
        }
    }
    write_atomic(&out.join("budgets.csv"), csv.as_bytes())?;
    let t = &report.truth;
    let objectives: Vec<&str> = experiment
        .file
        .search
        .objectives
        .iter()
        .map(|o| o.label())
        .collect();
    let mut md = format!(
        "# Strategies on {} (column `{}`)\n\nObjectives: {}. Chip: `{}`. True front: {} distinct points of {} cells (exhaustive pass {:.1} s). {} seeds per strategy, population {}.\n\n",
        experiment
            .file
            .search
            .table
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        experiment.file.search.table_column,
        objectives.join(", "),
        experiment.file.hardware.devices.join(", "),
        t.front.len(),
        t.size,
        t.seconds,
        options.seeds,
        experiment.file.search.population
    );
    md.push_str(
        "Median over seeds of front recall / hypervolume gap after each budget:\n\n| strategy |",
    );
    for b in &report.budgets {
        let _ = write!(md, " {b} |");
    }
    md.push_str(" queries to 99.5% HV (median) | queries to 80% recall (median) |\n|---|");
    for _ in &report.budgets {
        md.push_str("---|");
    }
    md.push_str("---|---|\n");
    for &s in &strategies {
        let _ = write!(md, "| {} |", name(s));
        for &b in &report.budgets {
            let (r, g) = report.median_at(s, b);
            let _ = write!(md, " {r:.3} / {g:.4} |");
        }
        let show = |q: Option<usize>| q.map_or(format!("> {largest}"), |q| q.to_string());
        let _ = writeln!(
            md,
            " {} | {} |",
            show(report.median_queries_to_hv(s)),
            show(report.queries_to_recall(s, 0.8))
        );
    }
    let _ = writeln!(
        md,
        "\nUniform random sampling without replacement finds each front point after k queries with probability k / {}: 80% recall takes {} queries in expectation.",
        t.size,
        (0.8 * t.size as f64).ceil()
    );
    write_atomic(&out.join("summary.md"), md.as_bytes())?;
    for (file, title, pick) in [
        ("recall.svg", "front recall", 0usize),
        ("hv-gap.svg", "hypervolume gap", 1),
    ] {
        let svg = curve_svg(report, &strategies, &grid, title, pick)?;
        write_atomic(&out.join(file), svg.as_bytes())?;
    }
    Ok(())
}

/// Median (line) and quartiles (band) over seeds of one score against queries, a line per
/// strategy; the gap on a log scale.
fn curve_svg(
    report: &BenchmarkReport,
    strategies: &[Strategy],
    grid: &[usize],
    title: &str,
    pick: usize,
) -> Result<String> {
    let largest = grid.last().copied().unwrap_or(1) as f64;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (760, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let colours = [BLACK, BLUE, RED, GREEN, MAGENTA, CYAN];
        let band = |s: Strategy, q: f64| -> Vec<(f64, f64, f64)> {
            let runs = report.of(s);
            grid.iter()
                .map(|&n| {
                    let v: Vec<f64> = runs
                        .iter()
                        .map(|r| at(if pick == 0 { &r.recall } else { &r.hv_gap }, n))
                        .map(|v| if pick == 1 { v.max(1e-4) } else { v })
                        .collect();
                    (n as f64, quantile(&v, q), quantile(&v, 0.5))
                })
                .collect()
        };
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(
                format!("{title} vs queries (median, quartiles)"),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56);
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc("queries")
                    .y_desc(title)
                    .draw()
                    .map_err(plot_error)?;
                for (k, &s) in strategies.iter().enumerate() {
                    let colour = colours[k % colours.len()];
                    let (lo, hi) = (band(s, 0.25), band(s, 0.75));
                    let polygon: Vec<(f64, f64)> = lo
                        .iter()
                        .map(|p| (p.0, p.1))
                        .chain(hi.iter().rev().map(|p| (p.0, p.1)))
                        .collect();
                    chart
                        .draw_series(std::iter::once(Polygon::new(polygon, colour.mix(0.15))))
                        .map_err(plot_error)?;
                    chart
                        .draw_series(LineSeries::new(lo.iter().map(|p| (p.0, p.2)), colour))
                        .map_err(plot_error)?
                        .label(name(s))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
                }
                draw_legend(&mut chart, SeriesLabelPosition::MiddleRight)?;
            }};
        }
        if pick == 0 {
            draw!(
                builder
                    .build_cartesian_2d(0.0..largest, 0.0..1.0)
                    .map_err(plot_error)?
            );
        } else {
            draw!(
                builder
                    .build_cartesian_2d(0.0..largest, (1e-4..1.0).log_scale())
                    .map_err(plot_error)?
            );
        }
        root.present().map_err(plot_error)?;
    }
    Ok(text)
}
