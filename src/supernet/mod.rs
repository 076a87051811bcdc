//! Joint architecture x compression x hardware search on a weight-sharing supernet.
//!
//! An experiment ([`crate::config::Experiment`]) names a ResNet-like macro space, compression
//! options and hardware options; its genome ([`genome`]) picks one of each. The supernet, the
//! space's largest network, is trained once by the sandwich rule with in-place distillation
//! and hardware-aware noise ([`train`]). Each genome's subnet is then cut out of it with
//! recalibrated batch norms, compressed ([`compress`]), run on simulated chips and costed
//! ([`evaluate`]) inside a multi-objective search; the best subnets are fine-tuned by
//! successive halving ([`finetune`]) and evaluated again. [`run`] drives it all in a
//! resumable run folder ([`stages`], its logs in [`log`]), [`records`] holds what a run
//! records and [`report`] writes the results. [`rank`] checks the supernet's ranking of
//! subnets against training them from scratch.
//!
//! An experiment of NAS-Bench-201 cells (`space.kind = "cell"`) is searched on a table of
//! accuracies instead, its costs from the cost model ([`tabular`]), and its strategies can
//! be compared against the exhaustive front ([`benchmark`]).

pub mod benchmark;
pub mod compress;
pub mod evaluate;
pub mod finetune;
pub mod genome;
mod log;
pub mod rank;
pub mod records;
pub mod report;
pub mod run;
pub mod splits;
mod stages;
pub mod tabular;
pub mod train;

pub use crate::config::Experiment;
pub use records::RunOptions;
pub use records::RunSummary;
pub use run::run;
