//! The runtime: programming chips and running networks on a backend, the same code for both.
//! [`engine`] programs one matrix layer onto the tiles of one chip instance (conductance
//! scales, device draws, global drift compensation) and runs its analog products;
//! [`chips`] programs the matrix layers of a network onto a set of chip instances and runs
//! image batches through them; [`exec`] is the graph walk that applies a network's layers in
//! order on a backend's activations.

pub mod chips;
pub mod engine;
pub mod exec;
pub mod sliced;

pub use chips::ChipSet;
pub use engine::{AnalogLayer, Chip, LayerOptions, program_layer, program_layer_with};
pub use exec::Executor;
