//! Training networks in burn: the trainable graph ([`model`]), hardware-aware noise
//! ([`hwa`]), the one training loop with checkpoints and resume that every trainer uses
//! ([`fit`]), the pieces it is built of ([`checkpoint`]), and `imcnas train` ([`run`]).

pub mod checkpoint;
pub mod fit;
pub mod hwa;
pub mod model;
pub mod run;

pub use crate::config::TrainOptions;
pub use hwa::Hwa;
pub use model::TrainNet;
pub use run::{TrainReport, train};
