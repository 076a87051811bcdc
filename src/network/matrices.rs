//! The matrix layers of a network (convolutions and linear layers, in execution order) as
//! products of input vectors: exact f32 ([`FloatMatrices`]) or crossbar tiles of one chip
//! instance ([`AnalogMatrices`]).

use super::Network;
use crate::backend::Backend;
use crate::backend::cpu::gemm::matmul_parallel;
use crate::config::HwConfig;
use crate::engine::{AnalogLayer, Chip, program_layer};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// The products of a network's matrix layers (convolutions and linear layers, in execution
/// order).
pub trait Matrices {
    /// `rows` input vectors `x` (rows, n_in) of matrix layer `layer` -> (rows, n_out), bias
    /// included. `row_offset` is the global index of the first vector (for per-vector noise).
    ///
    /// # Errors
    /// Backend failures.
    fn product(&self, layer: usize, x: &[f32], rows: usize, row_offset: u32) -> Result<Vec<f32>>;
}

/// Exact f32 products: the float reference of a network.
pub struct FloatMatrices {
    layers: Vec<LayerWeights>,
}

/// One matrix layer's weights (n_out, n_in) and optional bias.
type LayerWeights = (Vec<f32>, Option<Vec<f32>>, usize, usize);

impl FloatMatrices {
    /// The weights of `net`'s matrix layers.
    pub fn new(net: &Network) -> Self {
        let layers = net
            .graph
            .matrix_nodes()
            .map(|i| {
                let node = &net.graph.nodes[i];
                let (n_out, n_in) = node.op.matrix().expect("matrix node");
                let bias = node
                    .op
                    .tensors()
                    .iter()
                    .any(|(s, _)| *s == "bias")
                    .then(|| net.tensor(&node.name, "bias").to_vec());
                (net.tensor(&node.name, "weight").to_vec(), bias, n_out, n_in)
            })
            .collect();
        FloatMatrices { layers }
    }
}

impl Matrices for FloatMatrices {
    fn product(&self, layer: usize, x: &[f32], rows: usize, _: u32) -> Result<Vec<f32>> {
        let (w, bias, n_out, n_in) = &self.layers[layer];
        let mut y = vec![0.0; rows * n_out];
        matmul_parallel(&mut y, (rows, *n_out, *n_in), (x, *n_in), (w, *n_in));
        if let Some(b) = bias {
            y.par_chunks_mut(*n_out)
                .for_each(|row| row.iter_mut().zip(b).for_each(|(v, b)| *v += b));
        }
        Ok(y)
    }
}

/// The matrix layers of a network programmed onto the crossbar tiles of one chip instance.
pub struct AnalogMatrices<'b, B: Backend> {
    backend: &'b B,
    layers: Vec<AnalogLayer<B::Layer>>,
}

impl<'b, B: Backend> AnalogMatrices<'b, B> {
    /// Programs every matrix layer of `net` onto chip `chip` with hardware `hw`; layer k of the
    /// network draws its devices from stream k of the chip.
    ///
    /// # Errors
    /// Layers the engine cannot hold, backend failures.
    pub fn program(backend: &'b B, hw: &HwConfig, net: &Network, chip: Chip) -> Result<Self> {
        let float = FloatMatrices::new(net);
        let layers = float
            .layers
            .iter()
            .enumerate()
            .map(|(k, (w, bias, n_out, n_in))| {
                program_layer(
                    backend,
                    hw,
                    w,
                    (*n_out, *n_in),
                    bias.as_deref(),
                    k as u32,
                    chip,
                )
            })
            .collect::<Result<_>>()?;
        Ok(AnalogMatrices { backend, layers })
    }

    /// The programmed layers, in execution order.
    pub fn into_layers(self) -> Vec<AnalogLayer<B::Layer>> {
        self.layers
    }
}

impl<B: Backend> Matrices for AnalogMatrices<'_, B> {
    fn product(&self, layer: usize, x: &[f32], rows: usize, row_offset: u32) -> Result<Vec<f32>> {
        if x.len() != rows * self.layers[layer].grid().n_in {
            return Err(Error::Shape(format!(
                "{} inputs for {rows} vectors of matrix layer {layer}",
                x.len()
            )));
        }
        // The executor checked the images, and the weights are finite: activations stay
        // finite short of an f32 overflow, which yields NaN logits rather than a failure.
        self.layers[layer].forward_finite(self.backend, x, rows, row_offset)
    }
}
