//! Whole layers on the host: the CPU backend's stacks of chips, and the network layers it runs
//! on their activations with the CPU twins of `shaders/network_ops.wgsl`.
//!
//! The chips of a set run one after another. A convolution builds its im2col patches block by
//! block (a block stays in the cores' caches between being written and being multiplied, and
//! is kept per thread between calls: a fresh allocation of a few MiB page-faults on every
//! call), from a channels-first copy of its input.

use super::chip::{CpuBackend, CpuLayer};
use super::gemm::matmul_parallel;
use super::network_ops as ops;
use crate::backend::params::{MvmParams, OpParams, SlicedParams};
use crate::backend::{ChipLayer, LayerParams};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// One matrix layer of every chip of a set on the CPU, or its exact f32 products.
pub struct CpuStack {
    matrix: Matrix,
    bias: Option<Vec<f32>>,
    /// The inputs mapped when structured pruning removed some.
    kept: Option<Vec<u32>>,
    n_out: usize,
    /// Inputs mapped: the layer's, less the pruned ones.
    n_in: usize,
    /// Every input vector the exact products saw, when recording (calibration).
    record: Option<std::sync::Mutex<Vec<f32>>>,
}

impl CpuStack {
    /// The input vectors recorded by a stack of [`CpuBackend::exact_recording`], (vectors,
    /// mapped inputs); empty for other stacks.
    pub fn recorded(&self) -> Vec<f32> {
        self.record
            .as_ref()
            .map(|r| r.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }
}

/// The products of a stacked layer.
enum Matrix {
    /// Exact f32 weights (n_out, n_in), row-major: the float reference, one "chip".
    Exact(Vec<f32>),
    /// Per chip: the programmed layer and its forward parameters.
    Analog(Vec<(CpuLayer, LayerParams)>),
}

/// Bytes of im2col patches built at a time: the block stays in the cores' caches between
/// being written and being read by the matrix product.
const PATCH_BLOCK_BYTES: usize = 8 << 20;

/// Fewest output pixels per block, so that the product of a block still splits into tasks
/// for every core.
const MIN_BLOCK_PIXELS: usize = 1024;

thread_local! {
    /// The im2col block of the calling thread, kept between layers and batches: a fresh
    /// 8 MiB allocation per convolution costs page faults comparable to building the block.
    static PATCHES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The inputs of a pruned layer selected from a block, kept likewise.
    static SELECTED: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl CpuBackend {
    /// The exact f32 products of a matrix layer of weights `weights` (n_out, n_in over the
    /// inputs it maps), its optional `bias`, and the inputs `kept` when pruning removed some:
    /// the float reference of a network, run by the same layer code as its chips.
    ///
    /// # Errors
    /// Weights or a bias of the wrong size.
    pub fn exact(
        &self,
        weights: Vec<f32>,
        (n_out, n_in): (usize, usize),
        bias: Option<&[f32]>,
        kept: Option<&[u32]>,
    ) -> Result<CpuStack> {
        if weights.len() != n_out * n_in || bias.is_some_and(|b| b.len() != n_out) {
            return Err(Error::Shape(format!(
                "{} weights and {:?} biases for a layer of {n_out} outputs and {n_in} inputs",
                weights.len(),
                bias.map(<[f32]>::len)
            )));
        }
        Ok(CpuStack {
            matrix: Matrix::Exact(weights),
            bias: bias.map(<[f32]>::to_vec),
            kept: kept.map(<[u32]>::to_vec),
            n_out,
            n_in,
            record: None,
        })
    }

    /// [`CpuBackend::exact`] that also records every input vector of the products (the
    /// inputs a layer maps, after im2col and pruning), read back by [`CpuStack::recorded`].
    ///
    /// # Errors
    /// As [`CpuBackend::exact`].
    pub fn exact_recording(
        &self,
        weights: Vec<f32>,
        shape: (usize, usize),
        bias: Option<&[f32]>,
        kept: Option<&[u32]>,
    ) -> Result<CpuStack> {
        let mut stack = self.exact(weights, shape, bias, kept)?;
        stack.record = Some(std::sync::Mutex::new(Vec::new()));
        Ok(stack)
    }

    /// The stack of `chips` (see [`Backend::stack`]).
    pub(super) fn stack_chips(
        &self,
        chips: Vec<ChipLayer<CpuLayer>>,
        (n_out, n_in): (usize, usize),
        bias: Option<&[f32]>,
        kept: Option<&[u32]>,
    ) -> Result<CpuStack> {
        if chips.is_empty() {
            return Err(Error::Shape(
                "a chip set needs at least one instance".into(),
            ));
        }
        Ok(CpuStack {
            matrix: Matrix::Analog(chips.into_iter().map(|c| (c.layer, c.params)).collect()),
            bias: bias.map(<[f32]>::to_vec),
            kept: kept.map(<[u32]>::to_vec),
            n_out,
            n_in,
            record: None,
        })
    }

    /// Chips of a stack.
    fn chips_of(layer: &CpuStack) -> usize {
        match &layer.matrix {
            Matrix::Exact(_) => 1,
            Matrix::Analog(chips) => chips.len(),
        }
    }

    /// The product of chip `chip` of `layer` for `rows` input vectors `x` (rows, n_in mapped),
    /// bias included; `row_offset` is the data-set index of the first vector.
    fn product(
        &self,
        layer: &CpuStack,
        chip: usize,
        x: &[f32],
        rows: usize,
        row_offset: u32,
    ) -> Result<Vec<f32>> {
        if x.len() != rows * layer.n_in {
            return Err(Error::Shape(format!(
                "{} inputs for {rows} vectors of a matrix layer of {} inputs",
                x.len(),
                layer.n_in
            )));
        }
        match &layer.matrix {
            Matrix::Exact(weights) => {
                let (n_out, n_in) = (layer.n_out, layer.n_in);
                if let Some(record) = &layer.record {
                    record
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(x);
                }
                let mut y = vec![0.0; rows * n_out];
                matmul_parallel(&mut y, (rows, n_out, n_in), (x, n_in), (weights, n_in));
                if let Some(b) = &layer.bias {
                    y.par_chunks_mut(n_out)
                        .for_each(|row| row.iter_mut().zip(b).for_each(|(v, b)| *v += b));
                }
                Ok(y)
            }
            Matrix::Analog(chips) => {
                let (programmed, params) = &chips[chip];
                let batch = u32::try_from(rows)
                    .map_err(|_| Error::Shape(format!("a batch of {rows} vectors")))?;
                // The images were checked once, and the weights are finite: activations stay
                // finite short of an f32 overflow (which the executor then names).
                let mut y = match *params {
                    LayerParams::Aihwkit(p) => {
                        let p = MvmParams {
                            batch,
                            row_offset,
                            ..p
                        };
                        self.mvm_chip(programmed, x, &p)?
                    }
                    LayerParams::Sliced(p) => {
                        let p = SlicedParams {
                            batch,
                            row_offset,
                            ..p
                        };
                        self.sliced_mvm_chip(programmed, x, &p)?
                    }
                };
                if let Some(bias) = &layer.bias {
                    for row in y.chunks_mut(layer.n_out) {
                        row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
                    }
                }
                Ok(y)
            }
        }
    }

    /// The product of chip `chip` of `layer` for `vectors` input vectors of `len` values in
    /// `x`: of all of them, or of the elements kept by pruning.
    fn mapped_product(
        &self,
        layer: &CpuStack,
        chip: usize,
        x: &[f32],
        (vectors, len): (usize, usize),
        row_offset: u32,
    ) -> Result<Vec<f32>> {
        let Some(kept) = &layer.kept else {
            return self.product(layer, chip, x, vectors, row_offset);
        };
        SELECTED.with_borrow_mut(|selected| {
            let size = vectors * kept.len();
            if selected.len() < size {
                selected.resize(size, 0.0);
            }
            let selected = &mut selected[..size];
            let p = OpParams::select_columns(vectors, len, kept.len());
            ops::select_columns(&p, x, kept, selected);
            self.product(layer, chip, selected, vectors, row_offset)
        })
    }

    /// The convolution of one chip: patches built and multiplied block by block, from a
    /// channels-first copy of the input.
    fn conv_chip(
        &self,
        layer: &CpuStack,
        chip: usize,
        p: &OpParams,
        x: &[f32],
        row_offset: u32,
    ) -> Result<Vec<f32>> {
        let cols = p.patch_len();
        let rows = p.images as usize * p.out_pixels();
        let block = (PATCH_BLOCK_BYTES / (cols * 4))
            .max(MIN_BLOCK_PIXELS)
            .min(rows.max(1));
        // A window row of one channel is contiguous in NCHW (for one channel NHWC is NCHW).
        let planar = if p.channels == 1 {
            std::borrow::Cow::Borrowed(x)
        } else {
            let mut planar = vec![0.0; x.len()];
            ops::to_channels_first(p, x, &mut planar);
            std::borrow::Cow::Owned(planar)
        };
        let mut y = Vec::with_capacity(rows * p.out_channels as usize);
        PATCHES.with_borrow_mut(|patches| -> Result<()> {
            // Every element of a block is written before it is read: no zeroing needed
            // beyond the first growth.
            if patches.len() < block * cols {
                patches.resize(block * cols, 0.0);
            }
            for start in (0..rows).step_by(block) {
                let n = block.min(rows - start);
                let patches = &mut patches[..n * cols];
                let block_params = OpParams {
                    first_pixel: start as u32,
                    ..*p
                };
                ops::im2col(&block_params, &planar, patches);
                let offset = row_offset + start as u32;
                y.extend(self.mapped_product(layer, chip, patches, (n, cols), offset)?);
            }
            Ok(())
        })?;
        Ok(y)
    }

    /// A layer run on every chip of `layer` in turn: `run(chip, p, x)` on each chip's share
    /// of the `p.images` images in `x`.
    fn per_chip(
        layer: &CpuStack,
        p: &OpParams,
        x: &[f32],
        mut run: impl FnMut(usize, &OpParams, &[f32]) -> Result<Vec<f32>>,
    ) -> Result<Vec<f32>> {
        let chips = Self::chips_of(layer);
        if chips == 1 {
            return run(0, p, x);
        }
        let images = p.images as usize / chips;
        let one = OpParams {
            images: images as u32,
            ..*p
        };
        let per_chip = x.len() / chips;
        let mut y = Vec::new();
        for (chip, x) in x.chunks(per_chip.max(1)).take(chips).enumerate() {
            y.extend(run(chip, &one, x)?);
        }
        Ok(y)
    }

    pub(super) fn conv_layer(
        &self,
        layer: &CpuStack,
        p: &OpParams,
        x: &[f32],
        row_offset: u32,
    ) -> Result<Vec<f32>> {
        Self::per_chip(layer, p, x, |chip, p, x| {
            self.conv_chip(layer, chip, p, x, row_offset)
        })
    }

    pub(super) fn linear_layer(
        &self,
        layer: &CpuStack,
        p: &OpParams,
        x: &[f32],
        row_offset: u32,
    ) -> Result<Vec<f32>> {
        Self::per_chip(layer, p, x, |chip, p, x| {
            let vectors = p.images as usize;
            let len = x.len() / vectors.max(1);
            self.mapped_product(layer, chip, x, (vectors, len), row_offset)
        })
    }

    pub(super) fn input_batch(
        p: &OpParams,
        images: &[f32],
        per_channel: &[f32],
        chips: usize,
    ) -> Vec<f32> {
        let mut x = vec![0.0; images.len()];
        ops::normalize_input(p, images, per_channel, &mut x);
        if chips > 1 {
            x = x.repeat(chips);
        }
        x
    }
}

/// The output of a layer with parameters `p`, written by `kernel`.
pub(super) fn host_output(p: &OpParams, kernel: impl FnOnce(&mut [f32])) -> Vec<f32> {
    let mut y = vec![0.0; p.images as usize * p.out_len()];
    kernel(&mut y);
    y
}
