//! `imcnas run` and `imcnas search`: an experiment file (or the embedded digits experiment),
//! checked whole before any work, run in a resumable run folder.

use super::{AnyBackend, BackendChoice, with_backend};
use imcnas::supernet::{Experiment, RunOptions, RunSummary};
use std::path::PathBuf;

/// What `imcnas run` and `imcnas search` share.
#[derive(clap::Args, Debug)]
pub struct ExperimentArgs {
    /// Experiment file (TOML); none = the embedded digits experiment
    /// (models/experiment-digits.toml).
    #[arg(value_name = "EXPERIMENT.toml")]
    experiment: Option<PathBuf>,
    /// Continue the run in --out where it stopped (same experiment and --set values).
    #[arg(long)]
    resume: bool,
    /// Override an experiment key, e.g. --set search.budget=200 (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    overrides: Vec<String>,
    /// Where the chips run.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

/// Arguments of `imcnas run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Run folder.
    #[arg(long, value_name = "DIR", default_value = "runs/experiment")]
    out: PathBuf,
}

/// Arguments of `imcnas search`.
#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Folder of the trained supernet (RUN/supernet of an `imcnas run`, trained with the same
    /// experiment); a supernet whose training was cut short is trained to the end first.
    #[arg(long, value_name = "DIR")]
    supernet: PathBuf,
    /// Output folder of the search.
    #[arg(long, value_name = "DIR", default_value = "runs/search")]
    out: PathBuf,
}

/// Arguments of `imcnas rank`.
#[derive(clap::Args, Debug)]
pub struct RankArgs {
    /// Experiment file (TOML) the supernet was trained with; none = the embedded digits
    /// experiment.
    #[arg(value_name = "EXPERIMENT.toml")]
    experiment: Option<PathBuf>,
    /// Folder of the supernet (RUN/supernet); trained, or finished, first when needed.
    #[arg(long, value_name = "DIR")]
    supernet: PathBuf,
    /// Subnets drawn.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(2..=1000))]
    subnets: u32,
    /// Epochs of each subnet's training from scratch.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    epochs: u32,
    /// Override an experiment key (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    overrides: Vec<String>,
    /// The report (JSON), continued if it holds the same settings.
    #[arg(long, value_name = "FILE", default_value = "rank.json")]
    out: PathBuf,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

/// Runs `imcnas rank`.
///
/// # Errors
/// A bad experiment, training or I/O failures.
pub fn rank(args: &RankArgs) -> anyhow::Result<()> {
    let experiment = Experiment::load(args.experiment.as_deref(), &args.overrides)?;
    let report = imcnas::supernet::rank::rank_supernet(
        &experiment,
        &args.supernet,
        args.subnets as usize,
        args.epochs as usize,
        &args.out,
        !args.quiet,
    )?;
    println!("{:>9}  {:>12}  subnet", "supernet", "from scratch");
    for r in &report.subnets {
        println!(
            "{:>8.2}%  {:>11.2}%  {}",
            100.0 * r.supernet_accuracy,
            100.0 * r.scratch_accuracy,
            r.arch
        );
    }
    println!(
        "Kendall tau over {} subnets: {:.3} (report: {})",
        report.subnets.len(),
        report.kendall_tau,
        args.out.display()
    );
    Ok(())
}

/// Runs `imcnas run`.
///
/// # Errors
/// A bad experiment (before any work), a folder holding another run, run failures.
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    execute(&args.common, args.out.clone(), None)
}

/// Runs `imcnas search`.
///
/// # Errors
/// As [`run`].
pub fn search(args: &SearchArgs) -> anyhow::Result<()> {
    if !args
        .supernet
        .join(imcnas::supernet::train::SUPERNET_CHECKPOINT)
        .is_file()
    {
        anyhow::bail!(
            "--supernet {}: no {} there (train one with imcnas run)",
            args.supernet.display(),
            imcnas::supernet::train::SUPERNET_CHECKPOINT
        );
    }
    execute(&args.common, args.out.clone(), Some(args.supernet.clone()))
}

/// Loads the experiment (refusing a bad one before any work) and runs it; with `supernet`,
/// the search alone on that supernet.
fn execute(args: &ExperimentArgs, out: PathBuf, supernet: Option<PathBuf>) -> anyhow::Result<()> {
    let experiment = &Experiment::load(args.experiment.as_deref(), &args.overrides)?;
    let options = &RunOptions {
        out,
        resume: args.resume,
        progress: !args.quiet,
        search_only: supernet.is_some(),
        supernet,
    };
    if experiment.table.is_some() {
        if options.search_only {
            anyhow::bail!("a cell space is searched on its table: run it with imcnas run");
        }
        let run = imcnas::supernet::tabular::run_table(experiment, options)?;
        print_table_run(&run, options);
        return Ok(());
    }
    let backend = AnyBackend::open(args.backend)?;
    if options.progress {
        eprintln!(
            "experiment {} -> {} (chips on {})",
            experiment.origin,
            options.out.display(),
            backend.describe()
        );
    }
    let summary = with_backend!(&backend, |b| imcnas::supernet::run(experiment, b, options))?;
    print_summary(&summary);
    Ok(())
}

fn print_table_run(run: &imcnas::supernet::tabular::TableRun, options: &RunOptions) {
    println!(
        "{} queries in {} generations; Pareto front of {}; hypervolume {:.4} at the end ({:.2} s)",
        run.evaluations.len(),
        run.generation_ends.len(),
        run.front.len(),
        run.hypervolume.last().copied().unwrap_or(0.0),
        run.seconds
    );
    print_front(
        "cell",
        run.front.iter().map(|&i| {
            let r = &run.evaluations[i];
            (r.index, r.measurement.figures, r.arch.as_str())
        }),
    );
    println!("report: {}", options.out.join("summary.md").display());
}

/// Arguments of `imcnas benchmark`.
#[derive(clap::Args, Debug)]
pub struct BenchmarkArgs {
    /// Experiment file of a cell space with a table (search.table).
    #[arg(value_name = "EXPERIMENT.toml")]
    experiment: PathBuf,
    /// Strategies compared (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "random,regularized_evolution,nsga2,surrogate"
    )]
    strategies: Vec<String>,
    /// Seeds per strategy.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1000))]
    seeds: u64,
    /// Query budgets scored (comma-separated; the largest is run).
    #[arg(long, value_delimiter = ',', default_value = "100,200,500,1000,2000")]
    budgets: Vec<usize>,
    /// Override an experiment key (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    overrides: Vec<String>,
    /// Folder of the results.
    #[arg(long, value_name = "DIR", default_value = "runs/benchmark")]
    out: PathBuf,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
}

/// Runs `imcnas benchmark`.
///
/// # Errors
/// A bad experiment or strategy name, I/O failures.
pub fn benchmark(args: &BenchmarkArgs) -> anyhow::Result<()> {
    use imcnas::config::Strategy;
    let experiment = Experiment::load(Some(&args.experiment), &args.overrides)?;
    if experiment.table.is_none() {
        anyhow::bail!(
            "{}: search.table is not set: benchmark compares strategies on a table of accuracies",
            experiment.origin
        );
    }
    let strategies = args
        .strategies
        .iter()
        .map(|s| {
            serde_json::from_value::<Strategy>(serde_json::Value::String(s.trim().to_string()))
                .map_err(|_| anyhow::anyhow!("--strategies {s:?}: expected random, regularized_evolution, nsga2 or surrogate"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(b) = args.budgets.iter().find(|&&b| b == 0 || b > 10_000_000) {
        anyhow::bail!("--budgets {b}: expected 1..=10000000 queries");
    }
    let options = imcnas::supernet::benchmark::BenchmarkOptions {
        strategies,
        seeds: args.seeds,
        budgets: args.budgets.clone(),
        out: args.out.clone(),
        progress: !args.quiet,
    };
    imcnas::supernet::benchmark::benchmark(&experiment, &options)?;
    let text = std::fs::read_to_string(args.out.join("summary.md"))?;
    print!("{text}");
    Ok(())
}

/// One line per front member: its index, accuracy, energy, latency, area and name.
fn print_front<'a>(
    name: &str,
    rows: impl Iterator<Item = (usize, imcnas::supernet::evaluate::Figures, &'a str)>,
) {
    println!(
        "{:>5}  {:>8}  {:>11}  {:>12}  {:>10}  {name}",
        "#", "accuracy", "energy (uJ)", "latency (us)", "area (mm2)"
    );
    for (index, f, label) in rows {
        println!(
            "{index:>5}  {:>7.2}%  {:>11.4}  {:>12.3}  {:>10.4}  {label}",
            100.0 * f.accuracy,
            f.energy_uj,
            f.latency_us,
            f.area_mm2,
        );
    }
}

fn print_summary(summary: &RunSummary) {
    println!(
        "{} evaluations in {} generations; Pareto front of {}; hypervolume {:.4} after the first generation, {:.4} at the end",
        summary.evaluations.len(),
        summary.generation_ends.len(),
        summary.front.len(),
        summary.hypervolume.first().copied().unwrap_or(0.0),
        summary.hypervolume.last().copied().unwrap_or(0.0)
    );
    print_front(
        "candidate",
        summary.front_by_accuracy().into_iter().map(|i| {
            let r = &summary.evaluations[i];
            (r.index, r.measurement.figures(), r.description.as_str())
        }),
    );
    if let Some(report) = &summary.final_report {
        println!("final evaluation on the test images:");
        for e in &report.entries {
            let cells: Vec<String> = report
                .times
                .iter()
                .zip(&e.times)
                .map(|(t, m)| format!("{t}: {:.2}%", 100.0 * m.accuracy))
                .collect();
            println!("  #{} {}: {}", e.record.index, e.variant, cells.join(", "));
        }
    }
    println!(
        "report: {} ({:.0} s)",
        summary.out.join("summary.md").display(),
        summary.seconds
    );
}
