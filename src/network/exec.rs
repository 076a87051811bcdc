//! Executes a network on a batch of images: the graph walk, shared by every place the layers
//! run ([`LayerRunner`]): host vectors ([`HostLayers`], with the products of a [`Matrices`])
//! or the GPU backend's device buffers, where activations stay between layers.
//!
//! Convolutions and linear layers are matrix products; everything else is digital f32:
//! batch norm folded to a per-channel scale and shift applied after its layer, pooling,
//! residual adds. Activations are kept channels-last (NHWC) so that a convolution's output
//! rows, one per output pixel, are the crossbar's output vectors as they come; the im2col
//! patch of a pixel is ordered (channel, ky, kx) like PyTorch's weight (out, in, k, k), so a
//! weight matrix maps onto the tiles exactly as aihwkit maps an analog convolution.

use super::Network;
use super::graph::Op;
use super::matrices::Matrices;
use crate::backend::cpu::network_ops as ops;
use crate::backend::params::OpParams;
use crate::error::{Error, Result, ensure_finite};

/// Runs the layers of a network on activations of its own kind (host vectors, device
/// buffers). Every digital layer is a kernel of `shaders/network_ops.wgsl` or its CPU twin.
pub trait LayerRunner {
    /// The activations of a batch of images.
    type Batch;

    /// Copies of every image run side by side (chip instances evaluated together).
    fn copies(&self) -> usize;

    /// The network's input: `p.images` NCHW images normalised with `per_channel` (means,
    /// then inverse standard deviations), channels-last, repeated for every copy.
    ///
    /// # Errors
    /// Backend failures.
    fn input(&self, p: &OpParams, images: &[f32], per_channel: &[f32]) -> Result<Self::Batch>;

    /// A copy of `x`, for a layer that updates in place an input read later again.
    ///
    /// # Errors
    /// Backend failures.
    fn duplicate(&self, x: &Self::Batch) -> Result<Self::Batch>;

    /// Convolution of matrix layer `layer`: im2col, then the product of every patch.
    /// `row_offset` is the global index of the first image's first output pixel (noise
    /// counters), the same for every copy.
    ///
    /// # Errors
    /// Backend failures.
    fn conv(
        &self,
        layer: usize,
        p: &OpParams,
        x: &Self::Batch,
        row_offset: u32,
    ) -> Result<Self::Batch>;

    /// Linear matrix layer `layer`; `row_offset` is the global index of the first image.
    ///
    /// # Errors
    /// Backend failures.
    fn linear(
        &self,
        layer: usize,
        p: &OpParams,
        x: &Self::Batch,
        row_offset: u32,
    ) -> Result<Self::Batch>;

    /// In place: folded batch norm, `per_channel` holding the scales, then the shifts.
    ///
    /// # Errors
    /// Backend failures.
    fn channel_affine(&self, p: &OpParams, per_channel: &[f32], x: &mut Self::Batch) -> Result<()>;

    /// In place: `max(x, 0)`.
    ///
    /// # Errors
    /// Backend failures.
    fn relu(&self, p: &OpParams, x: &mut Self::Batch) -> Result<()>;

    /// In place: `x + other`.
    ///
    /// # Errors
    /// Backend failures.
    fn add(&self, p: &OpParams, other: &Self::Batch, x: &mut Self::Batch) -> Result<()>;

    /// Max or average pooling (`p.max_pool`).
    ///
    /// # Errors
    /// Backend failures.
    fn pool(&self, p: &OpParams, x: &Self::Batch) -> Result<Self::Batch>;

    /// Global average pooling.
    ///
    /// # Errors
    /// Backend failures.
    fn global_avg_pool(&self, p: &OpParams, x: &Self::Batch) -> Result<Self::Batch>;

    /// Flatten: channels-last to channel-major vectors.
    ///
    /// # Errors
    /// Backend failures.
    fn to_channels_first(&self, p: &OpParams, x: &Self::Batch) -> Result<Self::Batch>;

    /// The values of `x` on the host.
    ///
    /// # Errors
    /// Backend failures.
    fn output(&self, x: Self::Batch) -> Result<Vec<f32>>;
}

/// A network prepared for execution: batch norms folded to scale and shift.
pub struct Executor<'n> {
    net: &'n Network,
    /// Per node: the scales, then the shifts, of a batch norm.
    folded: Vec<Option<Vec<f32>>>,
    /// Per node: its index among the matrix layers.
    matrix_index: Vec<Option<usize>>,
    /// The input normalisation: means, then inverse standard deviations.
    input_per_channel: Vec<f32>,
}

impl<'n> Executor<'n> {
    /// Prepares `net`.
    pub fn new(net: &'n Network) -> Self {
        let mut next = 0;
        let mut matrix_index = Vec::with_capacity(net.graph.nodes.len());
        let mut folded = Vec::with_capacity(net.graph.nodes.len());
        for node in &net.graph.nodes {
            matrix_index.push(node.op.matrix().map(|_| {
                next += 1;
                next - 1
            }));
            folded.push(match node.op {
                Op::BatchNorm { eps, .. } => {
                    let t = |s| net.tensor(&node.name, s);
                    let (gamma, beta) = (t("weight"), t("bias"));
                    let (mean, var) = (t("running_mean"), t("running_var"));
                    let scale: Vec<f32> = gamma
                        .iter()
                        .zip(var)
                        .map(|(g, v)| g / (v + eps).sqrt())
                        .collect();
                    let shift: Vec<f32> = beta
                        .iter()
                        .zip(mean)
                        .zip(&scale)
                        .map(|((b, m), s)| b - m * s)
                        .collect();
                    Some([scale, shift].concat())
                }
                _ => None,
            });
        }
        let channels = net.graph.input[0];
        let input_per_channel = match &net.normalization {
            Some(n) => [n.mean.clone(), n.std.iter().map(|s| 1.0 / s).collect()].concat(),
            None => [vec![0.0; channels], vec![1.0; channels]].concat(),
        };
        Executor {
            net,
            folded,
            matrix_index,
            input_per_channel,
        }
    }

    /// The network.
    pub fn network(&self) -> &Network {
        self.net
    }

    /// Class logits (batch, classes) of `batch` images (NCHW, pixels in [0, 1], the network's
    /// normalisation applied here) with the products of `matrices`; `first_image` is the
    /// dataset index of the first image.
    ///
    /// # Errors
    /// Wrong input size, backend failures.
    pub fn logits(
        &self,
        matrices: &impl Matrices,
        images: &[f32],
        batch: usize,
        first_image: usize,
    ) -> Result<Vec<f32>> {
        self.run(&HostLayers { matrices }, images, batch, first_image)
    }

    /// Class logits (copies, batch, classes) of `batch` images run by `runner`.
    ///
    /// # Errors
    /// Wrong input size, too many images for the noise counters, backend failures.
    pub fn run<R: LayerRunner>(
        &self,
        runner: &R,
        images: &[f32],
        batch: usize,
        first_image: usize,
    ) -> Result<Vec<f32>> {
        let graph = &self.net.graph;
        let shape = graph.input;
        if images.len() != batch * shape.iter().product::<usize>() {
            return Err(Error::Shape(format!(
                "{} input values for {batch} images of shape {shape:?}",
                images.len(),
            )));
        }
        ensure_finite("images", images)?;
        let input = runner.input(
            &OpParams::new(batch, shape, shape),
            images,
            &self.input_per_channel,
        )?;
        let all_images = batch * runner.copies();
        let last_use = self.last_uses();
        let mut outputs: Vec<Option<R::Batch>> = Vec::with_capacity(graph.nodes.len());
        for (i, node) in graph.nodes.iter().enumerate() {
            let mut p = OpParams::new(all_images, graph.shape_of(node.inputs[0]), node.shape);
            let data = match &node.op {
                Op::BatchNorm { .. } | Op::Relu | Op::Add => {
                    let mut data =
                        self.input_to_update(runner, i, &last_use, &input, &mut outputs)?;
                    match &node.op {
                        Op::BatchNorm { .. } => {
                            let folded = self.folded[i].as_ref().expect("folded batch norm");
                            runner.channel_affine(&p, folded, &mut data)?;
                        }
                        Op::Relu => runner.relu(&p, &mut data)?,
                        _ => runner.add(&p, source(&outputs, &input, node.inputs[1]), &mut data)?,
                    }
                    data
                }
                Op::Conv2d {
                    kernel,
                    stride,
                    padding,
                    ..
                } => {
                    (p.kernel, p.stride, p.pad) = (*kernel as u32, *stride as u32, *padding as u32);
                    let x = source(&outputs, &input, node.inputs[0]);
                    let offset = noise_offset(first_image, batch, p.out_pixels())?;
                    runner.conv(self.matrix(i), &p, x, offset)?
                }
                Op::Linear { .. } => {
                    let x = source(&outputs, &input, node.inputs[0]);
                    let offset = noise_offset(first_image, batch, 1)?;
                    runner.linear(self.matrix(i), &p, x, offset)?
                }
                Op::MaxPool { kernel, stride } | Op::AvgPool { kernel, stride } => {
                    (p.kernel, p.stride) = (*kernel as u32, *stride as u32);
                    p.max_pool = u32::from(matches!(node.op, Op::MaxPool { .. }));
                    runner.pool(&p, source(&outputs, &input, node.inputs[0]))?
                }
                Op::GlobalAvgPool => {
                    runner.global_avg_pool(&p, source(&outputs, &input, node.inputs[0]))?
                }
                Op::Flatten => {
                    runner.to_channels_first(&p, source(&outputs, &input, node.inputs[0]))?
                }
            };
            outputs.push(Some(data));
            free_dead(&mut outputs, &last_use, i);
        }
        runner.output(outputs.pop().flatten().expect("the graph has nodes"))
    }

    fn matrix(&self, node: usize) -> usize {
        self.matrix_index[node].expect("a matrix layer")
    }

    /// The first input of element-wise node `i`, to be updated in place: its own buffer when
    /// node `i` is its last reader (and reads it once), else a copy.
    fn input_to_update<R: LayerRunner>(
        &self,
        runner: &R,
        i: usize,
        last_use: &[usize],
        input: &R::Batch,
        outputs: &mut [Option<R::Batch>],
    ) -> Result<R::Batch> {
        let node = &self.net.graph.nodes[i];
        let first = node.inputs[0];
        let reads_first_once = node.inputs.iter().filter(|&&k| k == first).count() == 1;
        match first {
            Some(j) if last_use[j] == i && reads_first_once => {
                Ok(outputs[j].take().expect("kept until its last use"))
            }
            other => runner.duplicate(source(outputs, input, other)),
        }
    }

    /// For each node, the index of the last node that reads it.
    fn last_uses(&self) -> Vec<usize> {
        let nodes = &self.net.graph.nodes;
        let mut last = vec![usize::MAX; nodes.len()];
        for (i, node) in nodes.iter().enumerate() {
            for j in node.inputs.iter().flatten() {
                last[*j] = i;
            }
        }
        last
    }
}

/// Noise counters index the output vectors of the whole data set: the first of a batch
/// starting at `first_image`, checked to keep every vector of the batch within `u32`.
fn noise_offset(first_image: usize, batch: usize, per_image: usize) -> Result<u32> {
    (first_image + batch)
        .checked_mul(per_image)
        .filter(|&end| end <= u32::MAX as usize)
        .map(|_| (first_image * per_image) as u32)
        .ok_or_else(|| Error::Shape("too many images for the noise counters".into()))
}

/// A node's input: the images (`None`) or an earlier node's output, kept until its last reader.
fn source<'a, T>(outputs: &'a [Option<T>], input: &'a T, from: Option<usize>) -> &'a T {
    match from {
        None => input,
        Some(j) => outputs[j].as_ref().expect("kept until its last use"),
    }
}

/// Frees the outputs whose last reader is node `i`.
fn free_dead<T>(outputs: &mut [Option<T>], last_use: &[usize], i: usize) {
    for (j, slot) in outputs.iter_mut().enumerate().take(i) {
        if last_use[j] == i {
            *slot = None;
        }
    }
}

/// The layers run on host vectors, the matrix products by `matrices`.
pub struct HostLayers<'m, M: Matrices> {
    /// The products of the matrix layers.
    pub matrices: &'m M,
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

impl<M: Matrices> HostLayers<'_, M> {
    /// The product of matrix layer `layer` for `vectors` input vectors of `len` values in
    /// `x`: of all of them, or of the elements kept by pruning.
    fn mapped_product(
        &self,
        layer: usize,
        x: &[f32],
        vectors: usize,
        len: usize,
        row_offset: u32,
    ) -> Result<Vec<f32>> {
        let Some(kept) = self.matrices.kept_inputs(layer) else {
            return self.matrices.product(layer, x, vectors, row_offset);
        };
        SELECTED.with_borrow_mut(|selected| {
            let size = vectors * kept.len();
            if selected.len() < size {
                selected.resize(size, 0.0);
            }
            let selected = &mut selected[..size];
            let p = OpParams::select_columns(vectors, len, kept.len());
            ops::select_columns(&p, x, kept, selected);
            self.matrices.product(layer, selected, vectors, row_offset)
        })
    }
}

impl<M: Matrices> LayerRunner for HostLayers<'_, M> {
    type Batch = Vec<f32>;

    fn copies(&self) -> usize {
        1
    }

    fn input(&self, p: &OpParams, images: &[f32], per_channel: &[f32]) -> Result<Vec<f32>> {
        let mut x = vec![0.0; images.len()];
        ops::normalize_input(p, images, per_channel, &mut x);
        Ok(x)
    }

    fn duplicate(&self, x: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(x.clone())
    }

    /// Patches are built and multiplied block by block, from a channels-first copy of the
    /// input.
    fn conv(&self, layer: usize, p: &OpParams, x: &Vec<f32>, row_offset: u32) -> Result<Vec<f32>> {
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
                y.extend(self.mapped_product(layer, patches, n, cols, offset)?);
            }
            Ok(())
        })?;
        Ok(y)
    }

    fn linear(
        &self,
        layer: usize,
        p: &OpParams,
        x: &Vec<f32>,
        row_offset: u32,
    ) -> Result<Vec<f32>> {
        let vectors = p.images as usize;
        self.mapped_product(layer, x, vectors, x.len() / vectors.max(1), row_offset)
    }

    fn channel_affine(&self, p: &OpParams, per_channel: &[f32], x: &mut Vec<f32>) -> Result<()> {
        ops::channel_affine(p, per_channel, x);
        Ok(())
    }

    fn relu(&self, p: &OpParams, x: &mut Vec<f32>) -> Result<()> {
        ops::relu(p, x);
        Ok(())
    }

    fn add(&self, p: &OpParams, other: &Vec<f32>, x: &mut Vec<f32>) -> Result<()> {
        ops::add(p, other, x);
        Ok(())
    }

    fn pool(&self, p: &OpParams, x: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(host_output(p, |y| ops::pool(p, x, y)))
    }

    fn global_avg_pool(&self, p: &OpParams, x: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(host_output(p, |y| ops::global_avg_pool(p, x, y)))
    }

    fn to_channels_first(&self, p: &OpParams, x: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(host_output(p, |y| ops::to_channels_first(p, x, y)))
    }

    fn output(&self, x: Vec<f32>) -> Result<Vec<f32>> {
        Ok(x)
    }
}

/// The output of a layer with parameters `p`, written by `kernel`.
fn host_output(p: &OpParams, kernel: impl FnOnce(&mut [f32])) -> Vec<f32> {
    let mut y = vec![0.0; p.images as usize * p.out_len()];
    kernel(&mut y);
    y
}
