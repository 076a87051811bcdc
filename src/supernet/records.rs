//! What a run records: every evaluation of the search (one line of its log), the final
//! evaluation of the selected subnets, and the summary of a whole run that the report is
//! written from.

use super::evaluate::Measurement;
use super::finetune::RungResult;
use super::genome::Candidate;
use super::log::read_log;
use super::train::SupernetEpoch;
use crate::error::{Error, Result};
use crate::search::Genome;
use crate::search::Space;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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

impl EvalRecord {
    /// Checks a record read back from the log of a run in `space`: its genome belongs to the
    /// space and its figures are what a measurement can give (accuracies in [0, 1], energy,
    /// latency, area and efficiency finite and >= 0), so that a damaged log never reaches the
    /// front.
    ///
    /// # Errors
    /// The first value that cannot be, named.
    pub fn check(&self, space: &Space) -> std::result::Result<(), String> {
        space.check(&self.genome)?;
        self.measurement.check()
    }
}

/// The evaluation log of a run in `space` (missing: none yet), every line checked
/// ([`EvalRecord::check`]); a last line cut short by a kill is dropped.
///
/// # Errors
/// An unreadable file, a line that is not a record or holds values that cannot be, named by
/// its number.
pub fn read_evaluation_log(path: &Path, space: &Space) -> Result<Vec<EvalRecord>> {
    let logged: Vec<EvalRecord> = read_log(path)?;
    for (line, record) in logged.iter().enumerate() {
        record.check(space).map_err(|e| {
            Error::Search(format!(
                "{}: line {}: {e}; the log is damaged (move it away to search afresh)",
                path.display(),
                line + 1
            ))
        })?;
    }
    Ok(logged)
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

/// Accuracy, energy and area at the deployment drift time for one ADC resolution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdcPoint {
    /// ADC bits.
    pub adc_bits: u32,
    /// The chip: [`CANDIDATE_CHIP`] (the subnet's own hardware) or [`AIHWKIT_CHIP`]
    /// (aihwkit's chip, the periphery of the `aihwkit-default` preset, on the subnet's devices,
    /// tile size and cost memory, as a reference).
    #[serde(default = "candidate_chip")]
    pub chip: String,
    /// The measurement.
    pub measurement: Measurement,
}

/// The subnet's own chip in an ADC sweep.
pub const CANDIDATE_CHIP: &str = "candidate";

/// The aihwkit reference chip in an ADC sweep.
pub const AIHWKIT_CHIP: &str = "aihwkit-chip";

/// The preset whose periphery the aihwkit reference chip takes.
pub const AIHWKIT_PERIPHERY: &str = "aihwkit-default";

fn candidate_chip() -> String {
    CANDIDATE_CHIP.to_string()
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
