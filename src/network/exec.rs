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
        let input = Activation {
            shape: [c, h, w],
            data: to_channels_last(images, batch, [c, h, w], self.net.normalization.as_ref()),
        };
        let mut outputs: Vec<Option<Activation>> = Vec::with_capacity(self.net.graph.nodes.len());
        let last_use = self.last_uses();
        for (i, node) in self.net.graph.nodes.iter().enumerate() {
            let src = |k: usize| -> &Activation {
                match node.inputs[k] {
                    None => &input,
                    Some(j) => outputs[j].as_ref().expect("kept until its last use"),
                }
            };
            let x = src(0);
            let data = match &node.op {
                Op::Conv2d {
                    kernel,
                    stride,
                    padding,
                    ..
                } => {
                    let cols = im2col(x, batch, *kernel, *stride, *padding, node.shape);
                    let pixels = node.shape[1] * node.shape[2];
                    let rows = batch * pixels;
                    let offset = u32::try_from(first_image * pixels).map_err(|_| {
                        Error::Shape("too many output pixels for noise indices".into())
                    })?;
                    let layer = self.matrix_index[i].expect("conv is a matrix layer");
                    matrices.product(layer, &cols, rows, offset)?
                }
                Op::Linear { .. } => {
                    let layer = self.matrix_index[i].expect("linear is a matrix layer");
                    let offset = u32::try_from(first_image)
                        .map_err(|_| Error::Shape("too many images for noise indices".into()))?;
                    matrices.product(layer, &x.data, batch, offset)?
                }
                Op::BatchNorm { .. } => {
                    let (scale, shift) = self.folded[i].as_ref().expect("folded batch norm");
                    let mut data = x.data.clone();
                    data.par_chunks_mut(scale.len() * 1024).for_each(|block| {
                        for px in block.chunks_mut(scale.len()) {
                            for ((v, s), t) in px.iter_mut().zip(scale).zip(shift) {
                                *v = *v * s + t;
                            }
                        }
                    });
                    data
                }
                Op::Relu => x.data.par_iter().map(|v| v.max(0.0)).collect(),
                Op::Add => {
                    let y = src(1);
                    x.data.par_iter().zip(&y.data).map(|(a, b)| a + b).collect()
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
            // Free what no later node reads.
            for (j, slot) in outputs.iter_mut().enumerate().take(i) {
                if last_use[j] == i {
                    *slot = None;
                }
            }
        }
        let last = outputs.pop().flatten().expect("the graph has nodes");
        Ok(last.data)
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

/// Patches of every output pixel, (batch * oh * ow, c * k * k), each ordered (channel, ky, kx).
fn im2col(
    x: &Activation,
    batch: usize,
    k: usize,
    stride: usize,
    pad: usize,
    out: Shape3,
) -> Vec<f32> {
    let [c, h, w] = x.shape;
    let [_, oh, ow] = out;
    let cols = c * k * k;
    let mut m = vec![0.0f32; batch * oh * ow * cols];
    m.par_chunks_mut(ow * cols)
        .enumerate()
        .for_each(|(row_index, row)| {
            let (n, oy) = (row_index / oh, row_index % oh);
            let img = &x.data[n * h * w * c..][..h * w * c];
            for ox in 0..ow {
                let patch = &mut row[ox * cols..][..cols];
                for ky in 0..k {
                    let iy = (oy * stride + ky) as isize - pad as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for kx in 0..k {
                        let ix = (ox * stride + kx) as isize - pad as isize;
                        if ix < 0 || ix >= w as isize {
                            continue;
                        }
                        let px = &img[(iy as usize * w + ix as usize) * c..][..c];
                        for (ch, v) in px.iter().enumerate() {
                            patch[ch * k * k + ky * k + kx] = *v;
                        }
                    }
                }
            }
        });
    m
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
        self.layers[layer].forward(self.backend, x, rows, row_offset)
    }
}
