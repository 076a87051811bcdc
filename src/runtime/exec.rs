//! Executes a network on a batch of images: the graph walk, shared by both backends, which
//! run its layers on their own activations ([`Backend`]: host vectors, device buffers).
//!
//! Convolutions and linear layers are matrix products; everything else is digital f32:
//! batch norm folded to a per-channel scale and shift applied after its layer, pooling,
//! residual adds. Activations are kept channels-last (NHWC) so that a convolution's output
//! rows, one per output pixel, are the crossbar's output vectors as they come; the im2col
//! patch of a pixel is ordered (channel, ky, kx) like PyTorch's weight (out, in, k, k), so a
//! weight matrix maps onto the tiles exactly as aihwkit maps an analog convolution.

use crate::backend::Backend;
use crate::backend::params::OpParams;
use crate::error::{Error, Result, ensure_finite};
use crate::network::{Network, Op};

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

    /// `net` with the batch norms that [`foldable_batch_norms`] folds into
    /// their matrix layers passed through unchanged.
    pub fn without_folded_norms(net: &'n Network) -> Self {
        let mut exec = Executor::new(net);
        for j in foldable_batch_norms(net).into_iter().flatten() {
            exec.folded[j] = None;
        }
        exec
    }

    /// The scale and shift of batch norm node `j` (none for other nodes, or one folded away).
    pub fn batch_norm(&self, j: usize) -> Option<(&[f32], &[f32])> {
        let folded = self.folded.get(j)?.as_ref()?;
        Some(folded.split_at(folded.len() / 2))
    }

    /// The network.
    pub fn network(&self) -> &Network {
        self.net
    }

    /// Class logits (chips, batch, classes) of `batch` images (NCHW, pixels in [0, 1], the
    /// network's normalisation applied here) run by `backend` on the `chips` chips whose
    /// matrix layers, in execution order, are `layers`; `first_image` is the dataset index of
    /// the first image.
    ///
    /// # Errors
    /// Wrong input size, too many images for the noise counters, backend failures, and a
    /// non-finite logit (an f32 overflow inside the network), naming the node whose output
    /// first holds one.
    pub fn run<B: Backend>(
        &self,
        backend: &B,
        layers: &[B::Stack],
        chips: usize,
        images: &[f32],
        batch: usize,
        first_image: usize,
    ) -> Result<Vec<f32>> {
        let logits = self.walk(backend, layers, chips, images, batch, first_image, false)?;
        if ensure_finite("logits", &logits).is_err() {
            // Walk again, this time reading every node's output back: the draws are the
            // same, so the same value goes wrong, and the first node that shows it is named.
            self.walk(backend, layers, chips, images, batch, first_image, true)?;
            ensure_finite("logits", &logits)?;
        }
        Ok(logits)
    }

    /// The graph walk of [`Executor::run`]; with `check_nodes`, every node's output is read
    /// back and checked to be finite.
    #[allow(clippy::too_many_arguments)]
    fn walk<B: Backend>(
        &self,
        backend: &B,
        layers: &[B::Stack],
        chips: usize,
        images: &[f32],
        batch: usize,
        first_image: usize,
        check_nodes: bool,
    ) -> Result<Vec<f32>> {
        let graph = &self.net.graph;
        let shape = graph.input;
        if images.len() != batch * shape.iter().product::<usize>() {
            return Err(Error::Shape(format!(
                "{} input values for {batch} images of shape {shape:?}",
                images.len(),
            )));
        }
        if layers.len() != self.matrix_index.iter().flatten().count() {
            return Err(Error::Shape(format!(
                "{} matrix layers for a network of {}",
                layers.len(),
                self.matrix_index.iter().flatten().count()
            )));
        }
        ensure_finite("images", images)?;
        let input = backend.input(
            &OpParams::new(batch, shape, shape),
            images,
            &self.input_per_channel,
            chips,
        )?;
        let all_images = batch * chips;
        let last_use = self.last_uses();
        let mut outputs: Vec<Option<B::Batch>> = Vec::with_capacity(graph.nodes.len());
        for (i, node) in graph.nodes.iter().enumerate() {
            let mut p = OpParams::new(all_images, graph.shape_of(node.inputs[0]), node.shape);
            let data = match &node.op {
                Op::BatchNorm { .. } | Op::Relu | Op::Add | Op::Zero => {
                    let mut data =
                        self.input_to_update(backend, i, &last_use, &input, &mut outputs)?;
                    match &node.op {
                        // A norm folded into its matrix layer passes its input on.
                        Op::BatchNorm { .. } => {
                            if let Some(folded) = &self.folded[i] {
                                backend.channel_affine(&p, folded, &mut data)?;
                            }
                        }
                        Op::Relu => backend.relu(&p, &mut data)?,
                        // Times 0 plus 0, as NAS-Bench-201's zero op multiplies by 0.
                        Op::Zero => {
                            let zeros = vec![0.0; 2 * node.shape[0]];
                            backend.channel_affine(&p, &zeros, &mut data)?
                        }
                        _ => {
                            backend.add(&p, source(&outputs, &input, node.inputs[1]), &mut data)?
                        }
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
                    backend.conv(&layers[self.matrix(i)], &p, x, offset)?
                }
                Op::Linear { .. } => {
                    let x = source(&outputs, &input, node.inputs[0]);
                    let offset = noise_offset(first_image, batch, 1)?;
                    backend.linear(&layers[self.matrix(i)], &p, x, offset)?
                }
                Op::MaxPool { kernel, stride } => {
                    (p.kernel, p.stride, p.max_pool) = (*kernel as u32, *stride as u32, 1);
                    backend.pool(&p, source(&outputs, &input, node.inputs[0]))?
                }
                Op::AvgPool {
                    kernel,
                    stride,
                    padding,
                } => {
                    (p.kernel, p.stride, p.pad) = (*kernel as u32, *stride as u32, *padding as u32);
                    backend.pool(&p, source(&outputs, &input, node.inputs[0]))?
                }
                Op::GlobalAvgPool => {
                    backend.global_avg_pool(&p, source(&outputs, &input, node.inputs[0]))?
                }
                Op::Flatten => {
                    backend.to_channels_first(&p, source(&outputs, &input, node.inputs[0]))?
                }
            };
            if check_nodes {
                let values = backend.output(backend.duplicate(&data)?)?;
                if let Some(index) = values.iter().position(|v| !v.is_finite()) {
                    return Err(Error::NonFinite {
                        what: format!(
                            "the output of node {} (first of the network to overflow f32)",
                            node.name
                        ),
                        index,
                        value: values[index],
                    });
                }
            }
            outputs.push(Some(data));
            free_dead(&mut outputs, &last_use, i);
        }
        backend.output(outputs.pop().flatten().expect("the graph has nodes"))
    }

    fn matrix(&self, node: usize) -> usize {
        self.matrix_index[node].expect("a matrix layer")
    }

    /// The first input of element-wise node `i`, to be updated in place: its own buffer when
    /// node `i` is its last reader (and reads it once), else a copy.
    fn input_to_update<B: Backend>(
        &self,
        backend: &B,
        i: usize,
        last_use: &[usize],
        input: &B::Batch,
        outputs: &mut [Option<B::Batch>],
    ) -> Result<B::Batch> {
        let node = &self.net.graph.nodes[i];
        let first = node.inputs[0];
        let reads_first_once = node.inputs.iter().filter(|&&k| k == first).count() == 1;
        match first {
            Some(j) if last_use[j] == i && reads_first_once => {
                Ok(outputs[j].take().expect("kept until its last use"))
            }
            other => backend.duplicate(source(outputs, input, other)),
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

/// Per node of `net`: the batch norm that reads only the output of this matrix node, when
/// the matrix node feeds nothing else (so that folding the norm into its weights changes no
/// other reader).
pub fn foldable_batch_norms(net: &Network) -> Vec<Option<usize>> {
    let nodes = &net.graph.nodes;
    let mut readers = vec![Vec::new(); nodes.len()];
    for (j, node) in nodes.iter().enumerate() {
        for i in node.inputs.iter().flatten() {
            readers[*i].push(j);
        }
    }
    nodes
        .iter()
        .enumerate()
        .map(|(i, node)| match readers[i].as_slice() {
            [j] if node.op.matrix().is_some() && matches!(nodes[*j].op, Op::BatchNorm { .. }) => {
                Some(*j)
            }
            _ => None,
        })
        .collect()
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
