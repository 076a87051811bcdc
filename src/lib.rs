//! imcnas: hardware-software co-design of neural networks on analog in-memory-computing
//! crossbars.
//!
//! The crate is built in floors, each importing only the floors below it:
//! - [`error`], [`io`], [`data`]: the error type, array files and atomic writes, datasets;
//! - [`config`]: every user-written configuration and its checked type (hardware, cost,
//!   training, experiment), one TOML loader and one validator;
//! - [`physics`]: device models, random numbers, the mapping of weights onto tiles;
//! - [`network`]: networks as descriptions (graph, weights, architectures);
//! - [`backend`]: the kernels (WGSL) and their CPU twins behind one trait;
//! - [`runtime`]: programming chips and running networks on a backend;
//! - [`cost`], [`train`], [`eval`]: the energy/latency/area model, training in burn,
//!   accuracy over chips and drift times;
//! - [`search`], [`supernet`]: the NAS pipeline (search strategies, supernet, genome,
//!   fine-tuning, run folder and report).

pub mod backend;
pub mod config;
pub mod cost;
pub mod data;
pub mod error;
pub mod eval;
pub mod io;
pub mod network;
pub mod physics;
pub mod runtime;
pub mod search;
mod simd;
pub mod supernet;
pub mod train;

pub use error::{Error, Result};
