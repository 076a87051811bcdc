//! Training networks in burn: the trainable graph ([`model`]), hardware-aware noise
//! ([`hwa`]), the epoch loop with checkpoints and resume ([`run`]) and the pieces training
//! loops share ([`checkpoint`]).

pub mod checkpoint;
pub mod hwa;
pub mod model;
pub mod run;

pub use hwa::Hwa;
pub use model::TrainNet;
pub use run::{TrainOptions, TrainReport, train};
