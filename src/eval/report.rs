//! An evaluation's results as a terminal table, CSV and an SVG plot of accuracy against drift
//! time (mean with its 95% interval, the float accuracy as a reference line).

use super::EvalReport;
use crate::error::{Error, Result};
use crate::io::write_atomic;
use plotters::element::ErrorBar;
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

/// The table printed on the terminal.
pub fn table(report: &EvalReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} test images of {}, config {}, {} chip instance(s), seed {}, {}",
        report.images, report.dataset, report.config, report.instances, report.seed, report.backend
    );
    let _ = writeln!(s, "float accuracy: {:.2}%", 100.0 * report.float_accuracy);
    let _ = writeln!(
        s,
        "{:>10} {:>14} {:>9} {:>9} {:>9} {:>9}",
        "time", "seconds", "mean %", "std %", "ci95 %", "drop %"
    );
    for p in &report.points {
        let _ = writeln!(
            s,
            "{:>10} {:>14.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            p.time.label,
            p.time.seconds,
            100.0 * p.mean,
            100.0 * p.std,
            100.0 * p.ci95,
            100.0 * (report.float_accuracy - p.mean)
        );
    }
    s
}

/// One row per drift time and instance.
pub fn csv(report: &EvalReport) -> String {
    let mut s = String::from("time,seconds,instance,accuracy,float_accuracy\n");
    for p in &report.points {
        for (i, a) in p.accuracies.iter().enumerate() {
            let _ = writeln!(
                s,
                "{},{},{i},{a},{}",
                p.time.label, p.time.seconds, report.float_accuracy
            );
        }
    }
    s
}

/// Writes `eval.json`, `eval.csv` and `accuracy-vs-drift.svg` into `dir`, each atomically.
///
/// # Errors
/// I/O failures.
pub fn write_all(report: &EvalReport, config_toml: &str, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let json = serde_json::to_string_pretty(report).expect("report serialises");
    write_atomic(&dir.join("eval.json"), json.as_bytes())?;
    write_atomic(&dir.join("eval.csv"), csv(report).as_bytes())?;
    write_atomic(&dir.join("eval.config.toml"), config_toml.as_bytes())?;
    write_atomic(&dir.join("accuracy-vs-drift.svg"), svg(report)?.as_bytes())
}

/// Accuracy (%) against drift time on a log axis; t = 0 is drawn at 1 s.
///
/// # Errors
/// Plotting failures.
pub fn svg(report: &EvalReport) -> Result<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (720, 480)).into_drawing_area();
        let fail = |e: String| Error::Shape(format!("plot: {e}"));
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let x = |s: f64| s.max(1.0);
        let x_max = report
            .points
            .iter()
            .map(|p| x(p.time.seconds))
            .fold(10.0, f64::max)
            * 2.0;
        let lowest = report
            .points
            .iter()
            .map(|p| p.mean - p.ci95 - p.std)
            .fold(report.float_accuracy, f64::min);
        let y_min = (100.0 * lowest - 2.0).clamp(0.0, 99.0);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{} on {}: accuracy vs drift time",
                    report.config, report.dataset
                ),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((0.5f64..x_max).log_scale(), y_min..100.0)
            .map_err(|e| fail(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("time after programming [s] (t = 0 drawn at 1 s)")
            .y_desc("test accuracy [%]")
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        let float = 100.0 * report.float_accuracy;
        chart
            .draw_series(LineSeries::new([(0.5, float), (x_max, float)], &BLACK))
            .map_err(|e| fail(e.to_string()))?
            .label(format!("float {float:.2}%"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK));
        let mean: Vec<(f64, f64)> = report
            .points
            .iter()
            .map(|p| (x(p.time.seconds), 100.0 * p.mean))
            .collect();
        chart
            .draw_series(LineSeries::new(mean.clone(), &BLUE))
            .map_err(|e| fail(e.to_string()))?
            .label(format!(
                "analog mean over {} chips, 95% CI",
                report.instances
            ))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE));
        chart
            .draw_series(report.points.iter().map(|p| {
                let t = x(p.time.seconds);
                ErrorBar::new_vertical(
                    t,
                    100.0 * (p.mean - p.ci95),
                    100.0 * p.mean,
                    100.0 * (p.mean + p.ci95),
                    BLUE.filled(),
                    8,
                )
            }))
            .map_err(|e| fail(e.to_string()))?;
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(text)
}
