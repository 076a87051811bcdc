//! The cell space searched on AnalogNAS-Bench's table: the experiment's checks, the table
//! run, and the strategies against the exhaustive front of a subset (cells without 3x3
//! convolutions, 4,096 of them).

use imcnas::config::{Experiment, Strategy};
use imcnas::supernet::RunOptions;
use imcnas::supernet::benchmark::{BenchmarkOptions, benchmark, true_front};
use imcnas::supernet::tabular::run_table;

const TABLE: &str = "../shared/datasets/analog-nasbench/analog-nasbench-cifar10.csv";

fn experiment(extra: &str, table: &str) -> imcnas::Result<Experiment> {
    let text = format!(
        r#"
[data]
dataset = "cifar10"
[space]
kind = "cell"
cell_ops = ["skip", "none", "conv1x1", "avg_pool"]
[hardware]
devices = ["analognas-bench"]
tile_sizes = [512]
dac_bits = [8]
bits_per_read = [0]
rows_parallel = [0]
cell_bits = [1]
adc_bits = [8]
adc_ranges = ["aihwkit"]
cols_per_adc = [8]
drift = "30d"
instances = 1
[search]
population = 20
objectives = ["error", "energy"]
table = "{table}"
{extra}
"#
    );
    Experiment::from_text(&text, "cells.toml", &[])
}

#[test]
fn bad_table_experiments_are_refused_in_one_line() {
    let dir = std::env::temp_dir().join(format!("imcnas-cells-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "op_indices,acc\n000000,50\n00001,60\n").unwrap();
    let cases = [
        (
            experiment("table_column = \"nope\"", TABLE),
            "no column \"nope\"",
        ),
        (
            experiment("table_column = \"acc\"", &bad.display().to_string()),
            "bad.csv:3: op_indices \"00001\" is not six digits",
        ),
        (experiment("", "missing.csv"), "missing.csv"),
        (
            Experiment::from_text(
                &format!("[search]\ntable = \"{TABLE}\"\n"),
                "macro.toml",
                &[],
            ),
            "search.table",
        ),
        (
            Experiment::from_text("[space]\nkind = \"cell\"\n", "c.toml", &[]),
            "space.kind",
        ),
        (
            experiment("", TABLE).and_then(|_| {
                Experiment::from_text(
                    &std::fs::read_to_string("models/experiment-nb201.toml")
                        .unwrap()
                        .replace("adc_bits = [8]", "adc_bits = [6, 8]"),
                    "nb201.toml",
                    &[],
                )
            }),
            "hardware.adc_bits = 2 options",
        ),
    ];
    for (result, says) in cases {
        let e = result.unwrap_err().to_string();
        assert!(e.contains(says), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn strategies_find_the_exhaustive_front_of_a_subset() {
    let exhaustive = experiment("strategy = \"exhaustive\"\nbudget = 5000", TABLE).unwrap();
    let (truth, _) = true_front(&exhaustive).unwrap();
    assert_eq!(truth.size, 4096);
    // The exhaustive run of imcnas run finds that same front.
    let out = std::env::temp_dir().join(format!("imcnas-cells-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let options = RunOptions {
        out: out.clone(),
        resume: false,
        progress: false,
        supernet: None,
        search_only: false,
    };
    let run = run_table(&exhaustive, &options).unwrap();
    assert_eq!(run.evaluations.len(), 4096);
    let mut found: Vec<Vec<f64>> = run
        .front
        .iter()
        .map(|&i| run.evaluations[i].objectives.clone())
        .collect();
    let mut want = truth.front.clone();
    found.sort_by(|a, b| a[0].total_cmp(&b[0]));
    want.sort_by(|a, b| a[0].total_cmp(&b[0]));
    assert_eq!(found, want);
    assert!(out.join("pareto.csv").is_file() && out.join("summary.md").is_file());

    let experiment = experiment("budget = 300", TABLE).unwrap();
    let report = benchmark(
        &experiment,
        &BenchmarkOptions {
            strategies: vec![Strategy::Random, Strategy::Nsga2, Strategy::Surrogate],
            seeds: 2,
            budgets: vec![300],
            out: out.join("benchmark"),
            progress: false,
        },
    )
    .unwrap();
    let (random, _) = report.median_at(Strategy::Random, 300);
    let (surrogate, surrogate_gap) = report.median_at(Strategy::Surrogate, 300);
    let (nsga2, _) = report.median_at(Strategy::Nsga2, 300);
    eprintln!(
        "front of {} points; recall at 300 queries: random {random:.3}, nsga2 {nsga2:.3}, surrogate {surrogate:.3} (gap {surrogate_gap:.4})",
        truth.front.len()
    );
    // Random sampling expects 300 / 4096 of the front; the guided strategies find more.
    assert!(random < 0.3, "{random}");
    assert!(surrogate > random, "{surrogate} vs {random}");
    assert!(nsga2 > random, "{nsga2} vs {random}");
    assert!(surrogate_gap < 0.01, "{surrogate_gap}");
    assert!(out.join("benchmark/recall.svg").is_file());
    let _ = std::fs::remove_dir_all(&out);
}
