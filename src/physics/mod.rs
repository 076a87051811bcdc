//! The physics of the chip, below every backend: memory-device models ([`device`]), the
//! counter-based random numbers every non-ideality draws from ([`rng`]), and how a layer's
//! weight matrix is split onto crossbar tiles ([`mapping`]).

pub mod device;
pub mod mapping;
pub mod rng;
