//! Executes a network on a batch of images. Convolutions and linear layers are matrix products
//! supplied by a [`Matrices`] implementation — exact f32 ([`FloatMatrices`]) or crossbar tiles of
//! one chip instance ([`AnalogMatrices`]) — everything else is digital f32: batch norm folded to
//! a per-channel scale and shift applied after its layer, pooling, residual adds.
//!
//! Activations are kept channels-last (NHWC) so that a convolution's output rows, one per
//! output pixel, are the crossbar's output vectors as they come; the im2col patch of a pixel is
//! ordered (channel, ky, kx) like PyTorch's weight (out, in, k, k), so a weight matrix maps onto
//! the tiles exactly as aihwkit maps an analog convolution.

use super::Network;
use super::graph::{Op, Shape3};
use crate::backend::Backend;
use crate::backend::cpu::gemm::matmul_parallel;
use crate::config::HwConfig;
use crate::engine::{AnalogLayer, Chip, program_layer};
use crate::error::{Error, Result, ensure_finite};
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

/// A batch of activations, channels-last.
struct Activation {
    shape: Shape3,
    data: Vec<f32>,
}

/// A network prepared for execution: batch norms folded to scale and shift.
pub struct Executor<'n> {
    net: &'n Network,
    /// Per node: (scale, shift) of a batch norm.
    folded: Vec<Option<(Vec<f32>, Vec<f32>)>>,
    /// Per node: its index among the matrix layers.
    matrix_index: Vec<Option<usize>>,
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
                    let shift = beta
                        .iter()
                        .zip(mean)
                        .zip(&scale)
                        .map(|((b, m), s)| b - m * s)
                        .collect();
                    Some((scale, shift))
                }
                _ => None,
            });
        }
        Executor {
            net,
            folded,
            matrix_index,
        }
    }

    /// Class logits (batch, classes) of `batch` images (NCHW, pixels in [0, 1], the network's
    /// normalisation applied here); `first_image` is the dataset index of the first image.
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
        let [c, h, w] = self.net.graph.input;
        if images.len() != batch * c * h * w {
            return Err(Error::Shape(format!(
                "{} input values for {batch} images of shape {:?}",
                images.len(),
                [c, h, w]
            )));
        }
        ensure_finite("images", images)?;
        let input = Activation {
            shape: [c, h, w],
            data: to_channels_last(images, batch, [c, h, w], self.net.normalization.as_ref()),
        };
        let mut outputs: Vec<Option<Activation>> = Vec::with_capacity(self.net.graph.nodes.len());
        let last_use = self.last_uses();
        for (i, node) in self.net.graph.nodes.iter().enumerate() {
            // Element-wise layers overwrite their first input when no later node reads it.
            if let Some(data) = self.in_place(i, &last_use, &input, &mut outputs) {
                outputs.push(Some(Activation {
                    shape: node.shape,
                    data,
                }));
                free_dead(&mut outputs, &last_use, i);
                continue;
            }
            let x = source(&outputs, &input, node.inputs[0]);
            let data = match &node.op {
                Op::Conv2d {
                    kernel,
                    stride,
                    padding,
                    ..
                } => {
                    let layer = self.matrix_index[i].expect("conv is a matrix layer");
                    let geometry = ConvGeometry {
                        k: *kernel,
                        stride: *stride,
                        pad: *padding,
                        input: x.shape,
                        output: node.shape,
                    };
                    conv(matrices, layer, &geometry, &x.data, batch, first_image)?
                }
                Op::Linear { .. } => {
                    let layer = self.matrix_index[i].expect("linear is a matrix layer");
                    let offset = u32::try_from(first_image)
                        .map_err(|_| Error::Shape("too many images for noise indices".into()))?;
                    matrices.product(layer, &x.data, batch, offset)?
                }
                Op::BatchNorm { .. } | Op::Relu | Op::Add => {
                    unreachable!("element-wise layers run in place")
                }
                Op::MaxPool { kernel, stride } => {
                    pool(x, batch, *kernel, *stride, node.shape, true)
                }
                Op::AvgPool { kernel, stride } => {
                    pool(x, batch, *kernel, *stride, node.shape, false)
                }
                Op::GlobalAvgPool => {
                    let [c, h, w] = x.shape;
                    let per_image = h * w * c;
                    x.data
                        .chunks(per_image)
                        .flat_map(|img| {
                            let mut sums = vec![0.0f32; c];
                            for px in img.chunks(c) {
                                sums.iter_mut().zip(px).for_each(|(s, v)| *s += v);
                            }
                            sums.into_iter().map(move |s| s / (h * w) as f32)
                        })
                        .collect()
                }
                Op::Flatten => to_channels_first(&x.data, batch, x.shape),
            };
            outputs.push(Some(Activation {
                shape: node.shape,
                data,
            }));
            free_dead(&mut outputs, &last_use, i);
        }
        let last = outputs.pop().flatten().expect("the graph has nodes");
        Ok(last.data)
    }

    /// Output of node `i` if it is element-wise (batch norm, relu, residual add), computed in
    /// the buffer of its first input when node `i` is that input's last reader (and reads it
    /// once), else in a copy.
    fn in_place(
        &self,
        i: usize,
        last_use: &[usize],
        input: &Activation,
        outputs: &mut [Option<Activation>],
    ) -> Option<Vec<f32>> {
        let node = &self.net.graph.nodes[i];
        if !matches!(node.op, Op::BatchNorm { .. } | Op::Relu | Op::Add) {
            return None;
        }
        let first = node.inputs[0];
        let reads_first_once = node.inputs.iter().filter(|&&k| k == first).count() == 1;
        let mut data = match first {
            Some(j) if last_use[j] == i && reads_first_once => {
                outputs[j].take().expect("kept until its last use").data
            }
            other => source(outputs, input, other).data.clone(),
        };
        match &node.op {
            Op::BatchNorm { .. } => {
                let (scale, shift) = self.folded[i].as_ref().expect("folded batch norm");
                data.par_chunks_mut(scale.len() * 1024).for_each(|block| {
                    for px in block.chunks_mut(scale.len()) {
                        for ((v, s), t) in px.iter_mut().zip(scale).zip(shift) {
                            *v = *v * s + t;
                        }
                    }
                });
            }
            Op::Relu => data.par_iter_mut().for_each(|v| *v = v.max(0.0)),
            _ => {
                let other = source(outputs, input, node.inputs[1]);
                data.par_iter_mut()
                    .zip(&other.data)
                    .for_each(|(a, b)| *a += b);
            }
        }
        Some(data)
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

/// A node's input: the images (`None`) or an earlier node's output, kept until its last reader.
fn source<'a>(
    outputs: &'a [Option<Activation>],
    input: &'a Activation,
    from: Option<usize>,
) -> &'a Activation {
    match from {
        None => input,
        Some(j) => outputs[j].as_ref().expect("kept until its last use"),
    }
}

/// Frees the outputs whose last reader is node `i`.
fn free_dead(outputs: &mut [Option<Activation>], last_use: &[usize], i: usize) {
    for (j, slot) in outputs.iter_mut().enumerate().take(i) {
        if last_use[j] == i {
            *slot = None;
        }
    }
}

/// NCHW images in [0, 1] -> normalised NHWC.
fn to_channels_last(
    images: &[f32],
    batch: usize,
    [c, h, w]: Shape3,
    norm: Option<&crate::data::Normalization>,
) -> Vec<f32> {
    let mut out = vec![0.0; images.len()];
    out.par_chunks_mut(c * h * w)
        .zip(images.par_chunks(c * h * w))
        .for_each(|(dst, src)| {
            for ch in 0..c {
                let (mean, inv_std) = norm.map_or((0.0, 1.0), |n| (n.mean[ch], 1.0 / n.std[ch]));
                for p in 0..h * w {
                    dst[p * c + ch] = (src[ch * h * w + p] - mean) * inv_std;
                }
            }
        });
    debug_assert_eq!(out.len(), batch * c * h * w);
    out
}

/// NHWC -> per-image channel-major vectors, as PyTorch's `flatten(1)` of NCHW.
fn to_channels_first(data: &[f32], batch: usize, [c, h, w]: Shape3) -> Vec<f32> {
    let mut out = vec![0.0; batch * c * h * w];
    out.par_chunks_mut(c * h * w)
        .zip(data.par_chunks(c * h * w))
        .for_each(|(dst, src)| {
            for p in 0..h * w {
                for ch in 0..c {
                    dst[ch * h * w + p] = src[p * c + ch];
                }
            }
        });
    out
}

/// Bytes of im2col patches built at a time: the block stays in the cores' caches between
/// being written and being read by the matrix product.
const PATCH_BLOCK_BYTES: usize = 8 << 20;

/// Fewest output pixels per block, so that the product of a block still splits into tasks
/// for every core.
const MIN_BLOCK_PIXELS: usize = 1024;

/// Output pixels whose patches one task builds.
const PIXELS_PER_TASK: usize = 64;

/// Where a convolution's windows lie.
struct ConvGeometry {
    k: usize,
    stride: usize,
    pad: usize,
    input: Shape3,
    output: Shape3,
}

/// A convolution as matrix products of im2col patches (one vector per output pixel), built
/// and multiplied block by block. Output NHWC (batch * oh * ow, out channels).
fn conv(
    matrices: &impl Matrices,
    layer: usize,
    geometry: &ConvGeometry,
    x: &[f32],
    batch: usize,
    first_image: usize,
) -> Result<Vec<f32>> {
    let [c, _, _] = geometry.input;
    let [n_out, oh, ow] = geometry.output;
    let cols = c * geometry.k * geometry.k;
    let pixels = oh * ow;
    let rows = batch * pixels;
    // Noise counters index the output pixels of the whole data set.
    let offset = first_image
        .checked_mul(pixels)
        .filter(|o| {
            o.checked_add(rows)
                .is_some_and(|end| end <= u32::MAX as usize)
        })
        .ok_or_else(|| Error::Shape("too many output pixels for noise indices".into()))?;
    let block = (PATCH_BLOCK_BYTES / (cols * 4))
        .max(MIN_BLOCK_PIXELS)
        .min(rows.max(1));
    // A window row of one channel is contiguous in NCHW (for one channel NHWC is NCHW).
    let planar = if c == 1 {
        std::borrow::Cow::Borrowed(x)
    } else {
        std::borrow::Cow::Owned(to_channels_first(x, batch, geometry.input))
    };
    let mut y = Vec::with_capacity(rows * n_out);
    PATCHES.with_borrow_mut(|patches| -> Result<()> {
        // Every element of a block is written before it is read: no zeroing needed beyond
        // the first growth.
        if patches.len() < block * cols {
            patches.resize(block * cols, 0.0);
        }
        for start in (0..rows).step_by(block) {
            let n = block.min(rows - start);
            let patches = &mut patches[..n * cols];
            im2col(geometry, &planar, start, patches);
            y.extend(matrices.product(layer, patches, n, (offset + start) as u32)?);
        }
        Ok(())
    })?;
    Ok(y)
}

thread_local! {
    /// The im2col block of the calling thread, kept between layers and batches: a fresh
    /// 8 MiB allocation per convolution costs page faults comparable to building the block.
    static PATCHES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Patches of output pixels `first ..` (global over the batch, (image, oy, ox) order) into
/// `dst` (pixels, c * k * k), each ordered (channel, ky, kx) like PyTorch's weight. `planar`
/// holds the input channels-first (NCHW), where a window row of one channel is contiguous.
fn im2col(geometry: &ConvGeometry, planar: &[f32], first: usize, dst: &mut [f32]) {
    let ConvGeometry { k, stride, pad, .. } = *geometry;
    let [c, h, w] = geometry.input;
    let [_, oh, ow] = geometry.output;
    let kk = k * k;
    let cols = c * kk;
    dst.par_chunks_mut(PIXELS_PER_TASK * cols)
        .enumerate()
        .for_each(|(task, chunk)| {
            for (i, patch) in chunk.chunks_exact_mut(cols).enumerate() {
                let pixel = first + task * PIXELS_PER_TASK + i;
                let (n, within) = (pixel / (oh * ow), pixel % (oh * ow));
                let (y0, x0) = ((within / ow) * stride, (within % ow) * stride);
                let img = &planar[n * c * h * w..][..c * h * w];
                let interior = y0 >= pad && x0 >= pad && y0 + k <= h + pad && x0 + k <= w + pad;
                if interior {
                    // The common case: one contiguous copy per channel and window row.
                    let (y0, x0) = (y0 - pad, x0 - pad);
                    for (ch, dst_ch) in patch.chunks_exact_mut(kk).enumerate() {
                        let plane = &img[ch * h * w..][..h * w];
                        for (ky, dst_row) in dst_ch.chunks_exact_mut(k).enumerate() {
                            copy_short(dst_row, &plane[(y0 + ky) * w + x0..][..k]);
                        }
                    }
                } else {
                    for (j, v) in patch.iter_mut().enumerate() {
                        let (ch, ky, kx) = (j / kk, (j % kk) / k, j % k);
                        let (iy, ix) = (y0 + ky, x0 + kx);
                        *v = if iy < pad || ix < pad || iy - pad >= h || ix - pad >= w {
                            0.0
                        } else {
                            img[(ch * h + iy - pad) * w + ix - pad]
                        };
                    }
                }
            }
        });
}

/// `dst.copy_from_slice(src)` for a window row: kernels are a few pixels wide, and a copy of
/// unknown length is a call to `memmove`, which costs more than the copy itself.
#[inline(always)]
fn copy_short(dst: &mut [f32], src: &[f32]) {
    fn fixed<const N: usize>(dst: &mut [f32], src: &[f32]) {
        let (Ok(dst), Ok(src)) = (<&mut [f32; N]>::try_from(dst), <&[f32; N]>::try_from(src))
        else {
            unreachable!("window rows of equal length")
        };
        *dst = *src;
    }
    match dst.len() {
        1 => fixed::<1>(dst, src),
        2 => fixed::<2>(dst, src),
        3 => fixed::<3>(dst, src),
        4 => fixed::<4>(dst, src),
        5 => fixed::<5>(dst, src),
        7 => fixed::<7>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Max or average pooling over square windows without padding.
fn pool(x: &Activation, batch: usize, k: usize, stride: usize, out: Shape3, max: bool) -> Vec<f32> {
    let [c, h, w] = x.shape;
    let [_, oh, ow] = out;
    let mut y = vec![0.0f32; batch * oh * ow * c];
    y.par_chunks_mut(ow * c)
        .enumerate()
        .for_each(|(row_index, row)| {
            let (n, oy) = (row_index / oh, row_index % oh);
            let img = &x.data[n * h * w * c..][..h * w * c];
            for ox in 0..ow {
                let dst = &mut row[ox * c..][..c];
                dst.fill(if max { f32::NEG_INFINITY } else { 0.0 });
                for ky in 0..k {
                    for kx in 0..k {
                        let px = &img[((oy * stride + ky) * w + ox * stride + kx) * c..][..c];
                        for (d, v) in dst.iter_mut().zip(px) {
                            *d = if max { d.max(*v) } else { *d + v };
                        }
                    }
                }
                if !max {
                    dst.iter_mut().for_each(|d| *d /= (k * k) as f32);
                }
            }
        });
    y
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
