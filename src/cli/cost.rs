//! `imcnas cost`: energy, latency and area of a network on the chip of a hardware
//! configuration's `[cost]` section.

use anyhow::Context;
use imcnas::config;
use imcnas::cost::model::{Components, CostReport, network_cost};
use imcnas::network::Network;
use imcnas::network::arch::Arch;
use std::fmt::Write;
use std::path::PathBuf;

/// Arguments of `imcnas cost`.
#[derive(clap::Args, Debug)]
pub struct CostArgs {
    /// Model folder with network.json (the weights are not needed).
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "arch",
        required_unless_present = "arch"
    )]
    model: Option<PathBuf>,
    /// A built-in architecture: lenet, vgg8, resnet20, ...
    #[arg(long, value_name = "NAME")]
    arch: Option<String>,
    /// Input shape of --arch as C,H,W (default 1,28,28 for lenet, else 3,32,32).
    #[arg(long, value_delimiter = ',', value_name = "C,H,W")]
    input: Option<Vec<usize>>,
    /// Classes of --arch.
    #[arg(long, default_value_t = 10)]
    classes: usize,
    /// Hardware configuration: a TOML file or a preset (neurosim-rram-22nm, neurosim-sram-22nm, ...).
    #[arg(long, value_name = "HW.toml|PRESET")]
    config: String,
    /// Override a configuration key, e.g. --set cost.node_nm=7 (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    overrides: Vec<String>,
    /// Print per-layer figures and totals as JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `imcnas cost`.
///
/// # Errors
/// Bad arguments, configuration or model files.
pub fn run(args: &CostArgs) -> anyhow::Result<()> {
    let hw = config::load(&args.config, &args.overrides)?;
    let chip = hw.cost()?;
    let graph = match (&args.model, &args.arch) {
        (Some(dir), _) => Network::load_graph(dir)?,
        (None, Some(name)) => {
            let arch: Arch = name.parse()?;
            let input = match args.input.as_deref() {
                None if arch == Arch::LeNet => [1, 28, 28],
                None => [3, 32, 32],
                Some(&[c, h, w]) => [c, h, w],
                Some(other) => anyhow::bail!("--input {other:?}: expected three sizes C,H,W"),
            };
            arch.graph(input, args.classes)
                .with_context(|| format!("--arch {name}"))?
        }
        (None, None) => anyhow::bail!("give --model DIR or --arch NAME"),
    };
    let report = network_cost(chip, &graph);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(())
}

/// The report as a terminal table: one row per layer, then the totals by component.
pub fn table(report: &CostReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:>13} {:>6} {:>9} {:>6} {:>12} {:>11} {:>11} {:>9}",
        "layer",
        "rows x cols",
        "copies",
        "subarrays",
        "util",
        "conversions",
        "latency us",
        "energy uJ",
        "area mm2"
    );
    for l in &report.layers {
        let _ = writeln!(
            out,
            "{:<14} {:>13} {:>6} {:>9} {:>5.0}% {:>12.3e} {:>11.2} {:>11.3} {:>9.3}",
            l.name,
            format!("{} x {}", l.shape.0, l.shape.1),
            l.copies,
            l.subarrays,
            100.0 * l.utilization,
            l.conversions,
            l.latency_s * 1e6,
            l.energy.total() * 1e6,
            l.area.total() * 1e6
        );
    }
    let row = |out: &mut String, name: &str, c: &Components, scale: f64, unit: &str| {
        let _ = writeln!(
            out,
            "{name:<7} {:.3} {unit}: array {:.3}, drivers {:.3}, adc {:.3}, accumulation {:.3}, buffer {:.3}, interconnect {:.3}, spacing {:.3}",
            c.total() * scale,
            c.array * scale,
            c.drivers * scale,
            c.adc * scale,
            c.accumulation * scale,
            c.buffer * scale,
            c.interconnect * scale,
            c.spacing * scale
        );
    };
    row(&mut out, "area", &report.area, 1e6, "mm2");
    row(&mut out, "energy", &report.energy, 1e6, "uJ/image");
    let _ = writeln!(
        out,
        "leakage {:.3} uJ/image; period {:.2} us/image ({:.0} images/s); {:.3e} ops/image",
        report.leakage_j * 1e6,
        report.period_s * 1e6,
        1.0 / report.period_s,
        report.ops
    );
    let _ = writeln!(
        out,
        "{:.3} TOPS, {:.3} TOPS/W, {:.4} TOPS/mm2",
        report.tops, report.tops_per_w, report.tops_per_mm2
    );
    out
}
