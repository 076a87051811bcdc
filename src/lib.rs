//! imcnas: hardware-software co-design of neural networks on analog in-memory-computing
//! crossbars.
//!
//! The crate simulates tiled crossbar matrix-vector products with device and circuit
//! non-idealities ([`engine`]) on a CPU reference backend and on WGSL compute shaders
//! ([`backend`]), configured by a validated hardware description ([`config`]); trains
//! networks ([`train`]), costs them ([`cost`]) and searches networks, compression and
//! hardware jointly on a weight-sharing supernet ([`supernet`], [`search`]).

pub mod backend;
pub mod config;
pub mod cost;
pub mod data;
pub mod device;
pub mod engine;
pub mod error;
pub mod eval;
pub mod io;
pub mod mapping;
pub mod network;
pub mod rng;
pub mod search;
mod simd;
pub mod supernet;
pub mod train;

pub use error::{Error, Result};
