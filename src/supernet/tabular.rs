//! A search on a table of accuracies: the NAS-Bench-201 cell space of an experiment
//! (`space.kind = "cell"`), each candidate's accuracy read from `search.table` (e.g.
//! AnalogNAS-Bench's accuracy 30 days after programming) instead of trained and simulated,
//! its energy, latency and area from the cost model of its cell network on the
//! experiment's one chip. A query costs a table lookup and one pricing (cached per cell),
//! so a whole search takes seconds and the exhaustive front of the 15,625 cells is known.

use super::evaluate::Figures;
use crate::config::{CostConfig, Experiment};
use crate::cost::model::network_cost;
use crate::error::{Error, Result};
use crate::network::cell::{CellArch, CellOp, EDGES};
use crate::search::pareto::Point;
use crate::search::{Gene, GeneKind, Genome, Space};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The cell space: one choice gene per edge over the experiment's operations.
#[derive(Clone, Debug, PartialEq)]
pub struct CellSpace {
    /// The operations an edge may take, in the experiment's order.
    pub ops: Vec<CellOp>,
    /// Cells per stage.
    pub cells: usize,
    /// Channels of the first stage.
    pub channels: usize,
}

impl CellSpace {
    /// The space of `experiment` (a cell space).
    pub fn new(experiment: &Experiment) -> Self {
        let s = &experiment.file.space;
        CellSpace {
            ops: s.cell_ops.clone(),
            cells: s.cells,
            channels: s.cell_channels,
        }
    }

    /// The genes: `edge 1-2` ... `edge 3-4`, each an index into [`Self::ops`].
    pub fn space(&self) -> Space {
        Space {
            genes: EDGES
                .iter()
                .map(|(i, j)| Gene {
                    name: format!("edge {i}-{j}"),
                    kind: GeneKind::Choice {
                        options: self.ops.len(),
                    },
                })
                .collect(),
        }
    }

    /// The cell network of `genome` (a genome of [`Self::space`]).
    pub fn arch(&self, genome: &Genome) -> CellArch {
        let mut ops = [CellOp::None; 6];
        for (op, &g) in ops.iter_mut().zip(genome) {
            *op = self.ops[(g as usize).min(self.ops.len() - 1)];
        }
        CellArch {
            ops,
            cells: self.cells,
            channels: self.channels,
        }
    }
}

/// What the table and the cost model say of one cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableMeasurement {
    /// The cell's `op_indices`.
    pub cell: String,
    /// Its accuracy in the table (fraction), and the cost model's energy per image (leakage
    /// included), pipeline period and chip area of its network.
    #[serde(flatten)]
    pub figures: Figures,
    /// Energy efficiency (TOPS/W).
    pub tops_per_w: f64,
}

impl TableMeasurement {
    /// The search's point, constraints as [`Figures::point`] has them.
    pub fn point(&self, experiment: &Experiment) -> Point {
        self.figures.point(experiment)
    }
}

/// Answers queries of a cell space from the experiment's table and chip.
pub struct TableEvaluator<'a> {
    experiment: &'a Experiment,
    space: CellSpace,
    chip: CostConfig,
    input: [usize; 3],
    classes: usize,
    priced: HashMap<String, TableMeasurement>,
}

impl<'a> TableEvaluator<'a> {
    /// The evaluator of `experiment` (a cell space with a table).
    ///
    /// # Errors
    /// An experiment without a table, or whose chip has no price.
    pub fn new(experiment: &'a Experiment) -> Result<Self> {
        if experiment.table.is_none() {
            return Err(Error::Invalid(format!(
                "{}: search.table is not set",
                experiment.origin
            )));
        }
        let chip = *experiment.only_chip()?.cost()?;
        let (input, classes) = experiment.dataset.image_shape();
        Ok(TableEvaluator {
            experiment,
            space: CellSpace::new(experiment),
            chip,
            input,
            classes,
            priced: HashMap::new(),
        })
    }

    /// The cell space.
    pub fn cell_space(&self) -> &CellSpace {
        &self.space
    }

    /// The figures of `genome`'s cell (priced once per cell).
    ///
    /// # Errors
    /// A cell the table lacks (the experiment's check rules it out), or whose network does
    /// not build.
    pub fn measure(&mut self, genome: &Genome) -> Result<TableMeasurement> {
        let arch = self.space.arch(genome);
        let cell = arch.digits();
        if let Some(m) = self.priced.get(&cell) {
            return Ok(m.clone());
        }
        let table = self
            .experiment
            .table
            .as_ref()
            .ok_or_else(|| Error::Invalid("the experiment has no table".into()))?;
        let accuracy = table.accuracy(&cell).ok_or_else(|| {
            Error::Search(format!(
                "the table has no row for the cell {cell} (column {})",
                table.column
            ))
        })?;
        let cost = network_cost(&self.chip, &arch.graph(self.input, self.classes)?);
        let m = TableMeasurement {
            cell: cell.clone(),
            figures: Figures::new(
                accuracy,
                (cost.energy.total() + cost.leakage_j) * 1e6,
                cost.period_s * 1e6,
                cost.area.total() * 1e6,
            ),
            tops_per_w: cost.tops_per_w,
        };
        self.priced.insert(cell, m.clone());
        Ok(m)
    }

    /// The search's points of `genomes`.
    ///
    /// # Errors
    /// As [`Self::measure`].
    pub fn points(&mut self, genomes: &[Genome]) -> Result<Vec<Point>> {
        genomes
            .iter()
            .map(|g| Ok(self.measure(g)?.point(self.experiment)))
            .collect()
    }
}

/// One line of a table run's `evaluations.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableRecord {
    /// 0-based order of evaluation.
    pub index: usize,
    /// The genome.
    pub genome: Genome,
    /// The cell network, `nb201-DDDDDD`.
    pub arch: String,
    /// The table's and the cost model's figures.
    pub measurement: TableMeasurement,
    /// The search objectives (minimised).
    pub objectives: Vec<f64>,
    /// Constraint violation (0 = feasible).
    pub violation: f64,
}

/// What a table run produced.
#[derive(Clone, Debug)]
pub struct TableRun {
    /// Every query, in order.
    pub evaluations: Vec<TableRecord>,
    /// Queries at the end of each generation.
    pub generation_ends: Vec<usize>,
    /// Indices of the feasible Pareto front in `evaluations`.
    pub front: Vec<usize>,
    /// Normalised hypervolume after each generation ([`super::report::hypervolumes`]).
    pub hypervolume: Vec<f64>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The search settings of an experiment.
pub fn search_settings(experiment: &Experiment) -> crate::search::SearchSettings {
    let s = &experiment.file.search;
    crate::search::SearchSettings {
        strategy: s.strategy,
        population: s.population,
        budget: s.budget,
        sample_size: s.sample_size,
        seed: s.seed,
    }
}

/// Runs the search of a table experiment and writes its run folder: `experiment.toml`,
/// `evaluations.jsonl`, `pareto.csv`, `hypervolume.csv` and `summary.md`, each atomically.
/// A query takes microseconds to milliseconds, so the run is not resumed query by query: a
/// killed run leaves a complete folder or none of the result files, and `--resume` runs
/// it again (the same queries, the same files).
///
/// # Errors
/// A folder holding another run, an I/O failure.
pub fn run_table(experiment: &Experiment, options: &super::RunOptions) -> Result<TableRun> {
    use crate::io::write_atomic;
    use std::fmt::Write as _;
    let started = std::time::Instant::now();
    let _lock = super::run::prepare_folder(experiment, options)?;
    let mut evaluator = TableEvaluator::new(experiment)?;
    let space = evaluator.cell_space().space();
    let outcome = crate::search::run(
        &space,
        &search_settings(experiment),
        &mut |genomes: &[Genome]| evaluator.points(genomes),
        |_| {},
    )?;
    let mut evaluations = Vec::with_capacity(outcome.evaluated.len());
    for (index, e) in outcome.evaluated.iter().enumerate() {
        evaluations.push(TableRecord {
            index,
            genome: e.genome.clone(),
            arch: evaluator.cell_space().arch(&e.genome).to_string(),
            measurement: evaluator.measure(&e.genome)?,
            objectives: e.point.objectives.clone(),
            violation: e.point.violation,
        });
    }
    let points: Vec<Point> = outcome.evaluated.iter().map(|e| e.point.clone()).collect();
    let objectives = &experiment.file.search.objectives;
    let run = TableRun {
        front: crate::search::pareto::pareto_front(&points),
        hypervolume: super::report::hypervolumes_of(objectives, &points, &outcome.generation_ends),
        generation_ends: outcome.generation_ends,
        evaluations,
        seconds: started.elapsed().as_secs_f64(),
    };
    let out = &options.out;
    let mut log = String::new();
    for r in &run.evaluations {
        let line = serde_json::to_string(r)
            .map_err(|e| Error::Search(format!("an evaluation does not serialise: {e}")))?;
        log.push_str(&line);
        log.push('\n');
    }
    write_atomic(&out.join(super::records::EVALUATIONS_FILE), log.as_bytes())?;
    let mut csv = String::from("index,arch,accuracy,energy_uj,latency_us,area_mm2,tops_per_w\n");
    for &i in &run.front {
        let r = &run.evaluations[i];
        let m = &r.measurement.figures;
        let _ = writeln!(
            csv,
            "{},{},{:.6},{:.6},{:.6},{:.6},{:.4}",
            r.index,
            r.arch,
            m.accuracy,
            m.energy_uj,
            m.latency_us,
            m.area_mm2,
            r.measurement.tops_per_w
        );
    }
    write_atomic(&out.join("pareto.csv"), csv.as_bytes())?;
    write_atomic(
        &out.join("hypervolume.csv"),
        super::report::hypervolume_csv(&run.generation_ends, &run.hypervolume).as_bytes(),
    )?;
    let table = experiment
        .file
        .search
        .table
        .as_ref()
        .map(|p| p.display().to_string());
    let mut md = format!(
        "# Table search\n\n{} queries of the cell space ({} operations per edge) by {:?}; accuracy from {} column `{}`, cost from the chip of `{}`.\n\n",
        run.evaluations.len(),
        evaluator.cell_space().ops.len(),
        experiment.file.search.strategy,
        table.unwrap_or_default(),
        experiment.file.search.table_column,
        experiment.file.hardware.devices.join(", "),
    );
    md.push_str(&super::report::markdown_table(
        &[
            "#",
            "cell",
            "accuracy",
            "energy (uJ)",
            "latency (us)",
            "area (mm^2)",
        ],
        run.front.iter().map(|&i| {
            let r = &run.evaluations[i];
            let m = &r.measurement.figures;
            vec![
                r.index.to_string(),
                format!("`{}`", r.arch),
                format!("{:.2}%", 100.0 * m.accuracy),
                format!("{:.4}", m.energy_uj),
                format!("{:.3}", m.latency_us),
                format!("{:.3}", m.area_mm2),
            ]
        }),
    ));
    write_atomic(&out.join("summary.md"), md.as_bytes())?;
    Ok(run)
}
