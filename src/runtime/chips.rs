//! Chip instances of a network evaluated together: a set of consecutive instances programmed
//! on a backend, every image batch run through all of them. The CPU backend takes one chip per
//! set and runs it with its activations on the host; the GPU stacks as many as its buffers
//! hold into one pass with the activations on the device. The same code programs and runs
//! both; the network's float reference is a set of its own on the CPU ([`ChipSet::float`]).

use super::engine::{Chip, LayerOptions, program_layer_with};
use super::exec::{Executor, foldable_batch_norms};
use crate::backend::Backend;
use crate::backend::cpu::CpuBackend;
use crate::backend::params::OpParams;
use crate::config::{BatchNormMapping, HwConfig};
use crate::error::{Error, Result};
use crate::network::{Network, Op};
use crate::physics::mapping::TileGrid;
use crate::physics::rng::Seed;
use std::ops::Range;

/// One matrix layer of a network as the crossbar maps it: its weights over the inputs it
/// maps, its optional bias, and which inputs those are when structured pruning removed some.
pub struct MatrixLayer {
    /// (n_out, n_in), row-major, over the mapped inputs.
    pub weights: Vec<f32>,
    /// The digital bias, if any.
    pub bias: Option<Vec<f32>>,
    /// Outputs.
    pub n_out: usize,
    /// Inputs mapped: the layer's, less the pruned ones.
    pub n_in: usize,
    /// The inputs mapped, ascending, when some were pruned.
    pub kept: Option<Vec<u32>>,
    /// The weight bits compression rounded the layer to, if any.
    pub weight_bits: Option<u32>,
}

/// The matrix layers (convolutions and linear layers) of `net`, in execution order; with
/// `fold`, each foldable batch norm ([`foldable_batch_norms`]) multiplied into its layer's
/// weight rows and digital bias (W' = s W, b' = s b + t for the norm's scale s and shift t).
pub fn matrix_layers(net: &Network, fold: bool) -> Vec<MatrixLayer> {
    // The norms' scales and shifts, only when folding them.
    let (norms, exec) = if fold {
        (foldable_batch_norms(net), Some(Executor::new(net)))
    } else {
        (vec![None; net.graph.nodes.len()], None)
    };
    net.graph
        .matrix_nodes()
        .filter_map(|i| {
            let node = &net.graph.nodes[i];
            let (n_out, n_in) = node.op.matrix()?;
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
            let norm = norms[i]
                .zip(exec.as_ref())
                .and_then(|(j, e)| e.batch_norm(j));
            let (weights, bias) = match norm {
                None => (weights, bias),
                Some((scale, shift)) => {
                    let width = weights.len() / n_out.max(1);
                    let mut folded = weights;
                    for (row, s) in folded.chunks_mut(width.max(1)).zip(scale) {
                        row.iter_mut().for_each(|v| *v *= s);
                    }
                    let bias = (0..n_out)
                        .map(|c| bias.as_ref().map_or(0.0, |b| b[c]) * scale[c] + shift[c])
                        .collect();
                    (folded, Some(bias))
                }
            };
            Some(MatrixLayer {
                weights,
                bias,
                n_out,
                n_in: kept.as_ref().map_or(n_in, Vec::len),
                kept,
                weight_bits: net.weight_bits(&node.name),
            })
        })
        .collect()
}

/// How the matrix layers of `net` split onto the tiles of `hw`, in execution order, each with
/// the weight slices it takes.
///
/// # Errors
/// Layers the engine cannot hold.
pub fn tile_grids(hw: &HwConfig, net: &Network) -> Result<Vec<(TileGrid, usize)>> {
    matrix_layers(net, false)
        .iter()
        .map(|l| {
            let grid = TileGrid::new(l.n_out, l.n_in, hw.tile_rows, hw.tile_cols)?;
            Ok((grid, hw.slicing(l.weight_bits).slices as usize))
        })
        .collect()
}

/// Floats of the largest buffer one image needs in a network: an activation or the im2col
/// patches of a convolution.
fn largest_per_image(net: &Network) -> usize {
    let graph = &net.graph;
    let mut largest = graph.input.iter().product::<usize>();
    for node in &graph.nodes {
        let p = OpParams::new(1, graph.shape_of(node.inputs[0]), node.shape);
        largest = largest.max(p.out_len());
        if let Op::Conv2d { kernel, .. } = node.op {
            largest = largest.max(p.out_pixels() * p.channels as usize * kernel * kernel);
        }
    }
    largest
}

/// Consecutive chip instances of one network, programmed on a backend.
pub struct ChipSet<'a, B: Backend> {
    backend: &'a B,
    exec: Executor<'a>,
    /// The matrix layers, each stacked over the chips.
    layers: Vec<B::Stack>,
    /// How each matrix layer splits onto tiles (none for the float reference).
    grids: Vec<TileGrid>,
    chips: usize,
    /// Images per chip in one pass.
    images_per_pass: usize,
}

impl<'a, B: Backend> ChipSet<'a, B> {
    /// How many chip instances of `net` with hardware `hw` a set on `backend` should hold for
    /// batches of `batch` images: as many as fit the backend in one pass.
    ///
    /// # Errors
    /// Layers the engine cannot hold.
    pub fn chips_per_set(backend: &B, hw: &HwConfig, net: &Network, batch: usize) -> Result<usize> {
        backend.chips_per_set(&tile_grids(hw, net)?, largest_per_image(net), batch)
    }

    /// Programs the consecutive chip instances `instances` of `net` with hardware `hw`: layer
    /// k of the network on chip i draws its devices from stream (k, i) of `seed`, whatever the
    /// set it is programmed in.
    ///
    /// # Errors
    /// An empty range, layers the engine cannot hold, a set too large for the backend,
    /// backend failures, a calibrated ADC range (which needs [`ChipSet::program_calibrated`]).
    pub fn program(
        backend: &'a B,
        hw: &HwConfig,
        net: &'a Network,
        seed: Seed,
        instances: Range<u32>,
    ) -> Result<Self> {
        Self::program_calibrated(backend, hw, net, seed, instances, &[])
    }

    /// [`ChipSet::program`] with calibration inputs of every matrix layer (vectors of its
    /// mapped inputs, [`LayerInputs`]), which calibrated ADC ranges need; empty otherwise.
    ///
    /// # Errors
    /// As [`ChipSet::program`]; calibration inputs missing for a calibrated range.
    pub fn program_calibrated(
        backend: &'a B,
        hw: &HwConfig,
        net: &'a Network,
        seed: Seed,
        instances: Range<u32>,
        calibration: &[Vec<f32>],
    ) -> Result<Self> {
        if instances.is_empty() {
            return Err(Error::Shape(
                "a chip set needs at least one instance".into(),
            ));
        }
        let chips = instances.len();
        let mut layers = Vec::new();
        let mut grids = Vec::new();
        let fold = hw.batch_norm == BatchNormMapping::Fold;
        for (k, layer) in matrix_layers(net, fold).iter().enumerate() {
            let grid = TileGrid::new(layer.n_out, layer.n_in, hw.tile_rows, hw.tile_cols)?;
            let mut programmed = Vec::with_capacity(chips);
            for instance in instances.clone() {
                let options = LayerOptions {
                    weight_bits: layer.weight_bits,
                    calibration: calibration.get(k).map(Vec::as_slice),
                };
                let analog = program_layer_with(
                    backend,
                    hw,
                    (
                        &layer.weights,
                        (layer.n_out, layer.n_in),
                        layer.bias.as_deref(),
                    ),
                    k as u32,
                    Chip { seed, instance },
                    &options,
                )?;
                programmed.push(analog.into_chip());
            }
            layers.push(backend.stack(
                &grid,
                programmed,
                layer.bias.as_deref(),
                layer.kept.as_deref(),
            )?);
            grids.push(grid);
        }
        let images_per_pass = backend.images_per_pass(chips, largest_per_image(net))?;
        let exec = if fold {
            Executor::without_folded_norms(net)
        } else {
            Executor::new(net)
        };
        Ok(ChipSet {
            backend,
            exec,
            layers,
            grids,
            chips,
            images_per_pass,
        })
    }

    /// Chip instances in the set.
    pub fn chips(&self) -> usize {
        self.chips
    }

    /// How each matrix layer, in execution order, splits onto the chips' tiles (empty for
    /// the float reference, which has no tiles).
    pub fn grids(&self) -> &[TileGrid] {
        &self.grids
    }

    /// The network.
    pub fn network(&self) -> &Network {
        self.exec.network()
    }

    /// Class logits (chips, batch, classes) of `batch` images (NCHW, pixels in [0, 1], the
    /// network's normalisation applied here) on every chip of the set, in instance order;
    /// `first_image` is the dataset index of the first image. Batches larger than a pass are
    /// run in several.
    ///
    /// # Errors
    /// Wrong input size, too many images for the noise counters, backend failures.
    pub fn logits(&self, images: &[f32], batch: usize, first_image: usize) -> Result<Vec<f32>> {
        let graph = &self.network().graph;
        let per = graph.input.iter().product::<usize>();
        let classes = graph.classes;
        if images.len() != batch * per {
            return Err(Error::Shape(format!(
                "{} input values for {batch} images of {per} values",
                images.len()
            )));
        }
        if self.images_per_pass >= batch {
            return self.exec.run(
                self.backend,
                &self.layers,
                self.chips,
                images,
                batch,
                first_image,
            );
        }
        let mut all = vec![0.0; self.chips * batch * classes];
        for start in (0..batch).step_by(self.images_per_pass.max(1)) {
            let n = self.images_per_pass.min(batch - start);
            let pass = &images[start * per..(start + n) * per];
            let logits = self.exec.run(
                self.backend,
                &self.layers,
                self.chips,
                pass,
                n,
                first_image + start,
            )?;
            for (z, chip) in logits.chunks(n * classes).enumerate() {
                all[(z * batch + start) * classes..][..n * classes].copy_from_slice(chip);
            }
        }
        Ok(all)
    }
}

/// The inputs every matrix layer of `net` sees in its float network on `images` (NCHW,
/// pixels in [0, 1]), as calibration vectors of the chip's ADC ranges: per layer, in execution
/// order, at most `per_layer` vectors of its mapped inputs (im2col patches of a convolution),
/// taken evenly over all the images' vectors.
///
/// # Errors
/// Images that do not fit the network.
pub fn calibration_inputs(
    net: &Network,
    images: &[f32],
    per_layer: usize,
) -> Result<Vec<Vec<f32>>> {
    let backend = CpuBackend;
    let layers: Vec<_> = matrix_layers(net, false)
        .into_iter()
        .map(|l| {
            backend.exact_recording(
                l.weights,
                (l.n_out, l.n_in),
                l.bias.as_deref(),
                l.kept.as_deref(),
            )
        })
        .collect::<Result<_>>()?;
    let per = net.graph.input.iter().product::<usize>();
    let exec = Executor::new(net);
    exec.run(&backend, &layers, 1, images, images.len() / per.max(1), 0)?;
    Ok(matrix_layers(net, false)
        .iter()
        .zip(&layers)
        .map(|(l, stack)| {
            let all = stack.recorded();
            let vectors = all.len() / l.n_in.max(1);
            if vectors <= per_layer {
                return all;
            }
            (0..per_layer)
                .flat_map(|k| {
                    let v = k * vectors / per_layer;
                    all[v * l.n_in..(v + 1) * l.n_in].iter().copied()
                })
                .collect()
        })
        .collect())
}

impl<'a> ChipSet<'a, CpuBackend> {
    /// The exact f32 network: its float reference, a set of one "chip" whose matrix layers
    /// are plain products (pruned inputs left out as on the chips).
    ///
    /// # Errors
    /// Layers whose tensors do not fit together.
    pub fn float(backend: &'a CpuBackend, net: &'a Network) -> Result<Self> {
        let layers = matrix_layers(net, false)
            .into_iter()
            .map(|l| {
                backend.exact(
                    l.weights,
                    (l.n_out, l.n_in),
                    l.bias.as_deref(),
                    l.kept.as_deref(),
                )
            })
            .collect::<Result<_>>()?;
        Ok(ChipSet {
            backend,
            exec: Executor::new(net),
            layers,
            grids: Vec::new(),
            chips: 1,
            images_per_pass: usize::MAX,
        })
    }
}
