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

    /// The inputs of matrix layer `layer` it maps, ascending, when structured pruning removed
    /// some ([`Network::prune_inputs`]): its products then take only these elements of each
    /// input vector.
    fn kept_inputs(&self, layer: usize) -> Option<&[u32]>;
}

/// Exact f32 products: the float reference of a network.
pub struct FloatMatrices {
    layers: Vec<LayerWeights>,
}

/// One matrix layer: its weights over the inputs it maps, its optional bias, and which
/// inputs those are when some were pruned.
struct LayerWeights {
    /// (n_out, n_in), row-major.
    weights: Vec<f32>,
    bias: Option<Vec<f32>>,
    n_out: usize,
    /// Inputs mapped: the layer's, less the pruned ones.
    n_in: usize,
    kept: Option<Vec<u32>>,
}

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
                let full = net.tensor(&node.name, "weight");
                let kept = net.kept_inputs(&node.name);
                let weights = match &kept {
                    None => full.to_vec(),
                    Some(kept) => full
                        .chunks_exact(n_in)
                        .flat_map(|row| kept.iter().map(|&r| row[r as usize]))
                        .collect(),
                };
                LayerWeights {
                    weights,
                    bias,
                    n_out,
                    n_in: kept.as_ref().map_or(n_in, Vec::len),
                    kept,
                }
            })
            .collect();
        FloatMatrices { layers }
    }
}

impl Matrices for FloatMatrices {
    fn product(&self, layer: usize, x: &[f32], rows: usize, _: u32) -> Result<Vec<f32>> {
        let l = &self.layers[layer];
        check_inputs(x, rows, l.n_in, layer)?;
        let mut y = vec![0.0; rows * l.n_out];
        matmul_parallel(
            &mut y,
            (rows, l.n_out, l.n_in),
            (x, l.n_in),
            (&l.weights, l.n_in),
        );
        if let Some(b) = &l.bias {
            y.par_chunks_mut(l.n_out)
                .for_each(|row| row.iter_mut().zip(b).for_each(|(v, b)| *v += b));
        }
        Ok(y)
    }

    fn kept_inputs(&self, layer: usize) -> Option<&[u32]> {
        self.layers[layer].kept.as_deref()
    }
}

/// A programmed layer with the inputs it maps when pruning removed some.
pub type MappedLayer<L> = (AnalogLayer<L>, Option<Vec<u32>>);

/// The matrix layers of a network programmed onto the crossbar tiles of one chip instance.
pub struct AnalogMatrices<'b, B: Backend> {
    backend: &'b B,
    layers: Vec<AnalogLayer<B::Layer>>,
    /// Per layer, the inputs mapped when some were pruned.
    kept: Vec<Option<Vec<u32>>>,
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
            .map(|(k, l)| {
                program_layer(
                    backend,
                    hw,
                    &l.weights,
                    (l.n_out, l.n_in),
                    l.bias.as_deref(),
                    k as u32,
                    chip,
                )
            })
            .collect::<Result<_>>()?;
        let kept = float.layers.into_iter().map(|l| l.kept).collect();
        Ok(AnalogMatrices {
            backend,
            layers,
            kept,
        })
    }

    /// The programmed layers, in execution order, each with the inputs it maps when some
    /// were pruned.
    pub fn into_layers(self) -> Vec<MappedLayer<B::Layer>> {
        self.layers.into_iter().zip(self.kept).collect()
    }
}

impl<B: Backend> Matrices for AnalogMatrices<'_, B> {
    fn product(&self, layer: usize, x: &[f32], rows: usize, row_offset: u32) -> Result<Vec<f32>> {
        check_inputs(x, rows, self.layers[layer].grid().n_in, layer)?;
        // The executor checked the images, and the weights are finite: activations stay
        // finite short of an f32 overflow, which yields NaN logits rather than a failure.
        self.layers[layer].forward_finite(self.backend, x, rows, row_offset)
    }

    fn kept_inputs(&self, layer: usize) -> Option<&[u32]> {
        self.kept[layer].as_deref()
    }
}

/// Checks that `x` holds `rows` vectors of the `n_in` inputs matrix layer `layer` maps.
fn check_inputs(x: &[f32], rows: usize, n_in: usize, layer: usize) -> Result<()> {
    if x.len() == rows * n_in {
        Ok(())
    } else {
        Err(Error::Shape(format!(
            "{} inputs for {rows} vectors of matrix layer {layer}",
            x.len()
        )))
    }
}
