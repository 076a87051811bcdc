//! A network graph as a burn module: the parameters of every conv, linear and batch-norm node,
//! executed in graph order with burn's functional ops, and the hardware-aware forward pass
//! (weight noise, DAC/ADC fake quantization with straight-through gradients).

use super::hwa::Hwa;
use crate::data::Normalization;
use crate::error::{Error, Result};
use crate::network::{Graph, Network, Op};
use burn::module::{Module, Param, RunningState};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::module::{adaptive_avg_pool2d, avg_pool2d, conv2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use std::collections::BTreeMap;

/// Where a node's parameters live in [`TrainNet`].
#[derive(Clone, Debug)]
enum Slot {
    Conv { weight: usize, bias: Option<usize> },
    Linear { weight: usize, bias: Option<usize> },
    Norm(usize),
    Stateless,
}

/// The trainable form of a [`Graph`].
#[derive(Module, Debug)]
pub struct TrainNet {
    conv_weights: Vec<Param<Tensor<4>>>,
    linear_weights: Vec<Param<Tensor<2>>>,
    biases: Vec<Param<Tensor<1>>>,
    norms: Vec<BatchNorm>,
    #[module(skip)]
    graph: Graph,
    #[module(skip)]
    slots: Vec<Slot>,
}

/// PyTorch's default initialisation of conv and linear layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
fn uniform<const D: usize>(shape: [usize; D], fan_in: usize, device: &Device) -> Param<Tensor<D>> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    Param::from_tensor(Tensor::random(
        shape,
        Distribution::Uniform(-bound, bound),
        device,
    ))
}

impl TrainNet {
    /// Fresh parameters for `graph` on `device` (seed the device first for reproducibility).
    pub fn new(graph: &Graph, device: &Device) -> TrainNet {
        let mut net = TrainNet {
            conv_weights: Vec::new(),
            linear_weights: Vec::new(),
            biases: Vec::new(),
            norms: Vec::new(),
            graph: graph.clone(),
            slots: Vec::with_capacity(graph.nodes.len()),
        };
        for node in &graph.nodes {
            let slot = match node.op {
                Op::Conv2d {
                    in_channels,
                    out_channels,
                    kernel,
                    bias,
                    ..
                } => {
                    let fan_in = in_channels * kernel * kernel;
                    net.conv_weights.push(uniform(
                        [out_channels, in_channels, kernel, kernel],
                        fan_in,
                        device,
                    ));
                    Slot::Conv {
                        weight: net.conv_weights.len() - 1,
                        bias: bias.then(|| net.push_bias(out_channels, fan_in, device)),
                    }
                }
                Op::Linear {
                    in_features,
                    out_features,
                    bias,
                } => {
                    net.linear_weights.push(uniform(
                        [out_features, in_features],
                        in_features,
                        device,
                    ));
                    Slot::Linear {
                        weight: net.linear_weights.len() - 1,
                        bias: bias.then(|| net.push_bias(out_features, in_features, device)),
                    }
                }
                Op::BatchNorm { channels, eps } => {
                    let config = BatchNormConfig::new(channels).with_epsilon(f64::from(eps));
                    net.norms.push(config.init(device));
                    Slot::Norm(net.norms.len() - 1)
                }
                _ => Slot::Stateless,
            };
            net.slots.push(slot);
        }
        net
    }

    /// The parameters of a stored network (for evaluation in burn or fine-tuning).
    pub fn from_network(net: &Network, device: &Device) -> TrainNet {
        let mut model = TrainNet::new(&net.graph, device);
        let graph = net.graph.clone();
        for (node, slot) in graph.nodes.iter().zip(model.slots.clone()) {
            let shapes: Vec<(&str, Vec<usize>)> = node.op.tensors();
            let tensor = |suffix: &str| -> TensorData {
                let shape = &shapes
                    .iter()
                    .find(|(s, _)| *s == suffix)
                    .expect("op tensor")
                    .1;
                TensorData::new(net.tensor(&node.name, suffix).to_vec(), shape.clone())
            };
            match slot {
                Slot::Conv { weight, bias } => {
                    model.conv_weights[weight] = Param::from_data(tensor("weight"), device);
                    if let Some(b) = bias {
                        model.biases[b] = Param::from_data(tensor("bias"), device);
                    }
                }
                Slot::Linear { weight, bias } => {
                    model.linear_weights[weight] = Param::from_data(tensor("weight"), device);
                    if let Some(b) = bias {
                        model.biases[b] = Param::from_data(tensor("bias"), device);
                    }
                }
                Slot::Norm(k) => {
                    let bn = &mut model.norms[k];
                    bn.gamma = Param::from_data(tensor("weight"), device);
                    bn.beta = Param::from_data(tensor("bias"), device);
                    bn.running_mean =
                        RunningState::new(Tensor::from_data(tensor("running_mean"), device));
                    bn.running_var =
                        RunningState::new(Tensor::from_data(tensor("running_var"), device));
                }
                Slot::Stateless => {}
            }
        }
        model
    }

    fn push_bias(&mut self, n: usize, fan_in: usize, device: &Device) -> usize {
        self.biases.push(uniform([n], fan_in, device));
        self.biases.len() - 1
    }

    /// The graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Logits (batch, classes) of normalised NCHW images. With `hwa`, weights carry fresh
    /// Gaussian noise and inputs/outputs of every matrix layer are fake-quantized.
    pub fn forward(&self, images: Tensor<4>, hwa: Option<&Hwa>) -> Tensor<2> {
        self.forward_graph(&self.graph, images, hwa, &mut Norms::Running)
    }

    /// Logits of `graph`, a network of the same family as this one's graph (every node
    /// named as one here, no larger), each parameter the leading slice of this one's of
    /// the same name: the first channels, the centre of a larger kernel (weight sharing).
    pub fn forward_graph(
        &self,
        graph: &Graph,
        images: Tensor<4>,
        hwa: Option<&Hwa>,
        norms: &mut Norms<'_>,
    ) -> Tensor<2> {
        let batch = images.dims()[0];
        let mut values: Vec<Option<Tensor<4>>> = Vec::with_capacity(graph.nodes.len());
        // The own graph's nodes line up with the slots; a subnet's are found by name.
        let own = std::ptr::eq(graph, &self.graph);
        for (i, node) in graph.nodes.iter().enumerate() {
            let slot = if own {
                &self.slots[i]
            } else {
                self.slot_of(&node.name)
            };
            let input = |k: usize| match node.inputs[k] {
                None => images.clone(),
                Some(j) => values[j].clone().expect("computed earlier"),
            };
            let x = input(0);
            let y = match (&node.op, slot) {
                (
                    Op::Conv2d {
                        in_channels,
                        out_channels,
                        kernel,
                        stride,
                        padding,
                        ..
                    },
                    Slot::Conv { weight, bias },
                ) => {
                    let w = shared_slice(
                        self.conv_weights[*weight].val(),
                        [*out_channels, *in_channels, *kernel, *kernel],
                    );
                    let options = ConvOptions::new([*stride; 2], [*padding; 2], [1, 1], 1);
                    let b = bias.map(|b| shared_slice(self.biases[b].val(), [*out_channels]));
                    match hwa {
                        None => conv2d(x, w, b, options),
                        Some(hwa) => {
                            let scale = hwa.input_scale(&x);
                            let x = hwa.quantize_input(x, scale.clone());
                            let w = hwa.noisy_weight(w);
                            let w_max = w.clone().abs().max().detach();
                            let y = conv2d(x, w, None, options);
                            let y = hwa.quantize_output(y, scale, w_max);
                            add_bias(y, b)
                        }
                    }
                }
                (
                    Op::Linear {
                        in_features,
                        out_features,
                        ..
                    },
                    Slot::Linear { weight, bias },
                ) => {
                    let x2: Tensor<2> = x.reshape([batch as i32, -1]);
                    let w = shared_slice(
                        self.linear_weights[*weight].val(),
                        [*out_features, *in_features],
                    );
                    let b = bias.map(|b| shared_slice(self.biases[b].val(), [*out_features]));
                    let y = match hwa {
                        None => linear(x2, w, b),
                        Some(hwa) => {
                            let x4: Tensor<4> = x2.unsqueeze_dims(&[2, 3]);
                            let scale = hwa.input_scale(&x4);
                            let x2: Tensor<2> = hwa
                                .quantize_input(x4, scale.clone())
                                .reshape([batch as i32, -1]);
                            let w = hwa.noisy_weight(w);
                            let w_max = w.clone().abs().max().detach();
                            let y: Tensor<4> = linear(x2, w, None).unsqueeze_dims(&[2, 3]);
                            let y = hwa.quantize_output(y, scale, w_max);
                            let y2: Tensor<2> = y.reshape([batch as i32, -1]);
                            match b {
                                Some(b) => y2 + b.unsqueeze(),
                                None => y2,
                            }
                        }
                    };
                    y.unsqueeze_dims(&[2, 3])
                }
                (Op::BatchNorm { channels, eps }, Slot::Norm(k)) => {
                    let bn = &self.norms[*k];
                    let y = match norms {
                        Norms::Running => bn.forward(x),
                        Norms::Batch | Norms::Calibrate(_) => {
                            let gamma = shared_slice(bn.gamma.val(), [*channels]);
                            let beta = shared_slice(bn.beta.val(), [*channels]);
                            let (y, mean, var) = batch_norm(x, gamma, beta, f64::from(*eps));
                            if let Norms::Calibrate(stats) = norms {
                                stats.add(&node.name, mean, var);
                            }
                            y
                        }
                    };
                    match hwa {
                        Some(hwa) => hwa.gain_error(y, bn),
                        None => y,
                    }
                }
                (Op::Relu, _) => burn::tensor::activation::relu(x),
                (Op::Add, _) => x + input(1),
                (Op::Zero, _) => x.zeros_like(),
                (Op::MaxPool { kernel, stride }, _) => max_pool2d(
                    x,
                    MaxPoolOptions::new([*kernel; 2]).with_stride([*stride; 2]),
                ),
                (
                    Op::AvgPool {
                        kernel,
                        stride,
                        padding,
                    },
                    _,
                ) => avg_pool2d(
                    x,
                    AvgPoolOptions::new([*kernel; 2])
                        .with_stride([*stride; 2])
                        .with_padding([*padding; 2])
                        .with_count_include_pad(false),
                ),
                (Op::GlobalAvgPool, _) => adaptive_avg_pool2d(x, [1, 1]),
                (Op::Flatten, _) => {
                    let flat: Tensor<2> = x.reshape([batch as i32, -1]);
                    flat.unsqueeze_dims(&[2, 3])
                }
                (op, slot) => unreachable!("node {} ({op:?}) has slot {slot:?}", node.name),
            };
            values.push(Some(y));
        }
        let out = values.pop().flatten().expect("the graph has nodes");
        out.reshape([batch as i32, -1])
    }

    /// The parameter slot of the node called `name` (stateless when there is none).
    fn slot_of(&self, name: &str) -> &Slot {
        self.graph
            .nodes
            .iter()
            .position(|n| n.name == name)
            .map_or(&Slot::Stateless, |i| &self.slots[i])
    }

    /// Clamps every conv and linear weight to `sigmas` standard deviations of its layer.
    pub fn clip_weights(self, sigmas: f32) -> TrainNet {
        let TrainNet {
            conv_weights,
            linear_weights,
            biases,
            norms,
            graph,
            slots,
        } = self;
        TrainNet {
            conv_weights: conv_weights
                .into_iter()
                .map(|p| p.map(|t| clip_tensor(t, sigmas)))
                .collect(),
            linear_weights: linear_weights
                .into_iter()
                .map(|p| p.map(|t| clip_tensor(t, sigmas)))
                .collect(),
            biases,
            norms,
            graph,
            slots,
        }
    }

    /// The trained network with its tensors in PyTorch names and layouts.
    ///
    /// # Errors
    /// Non-finite parameters (a diverged training run).
    pub fn to_network(&self, normalization: Option<Normalization>) -> Result<Network> {
        let mut tensors = BTreeMap::new();
        let mut put = |key: String, t: Vec<f32>| {
            tensors.insert(key, t);
        };
        for (node, slot) in self.graph.nodes.iter().zip(&self.slots) {
            let name = &node.name;
            match slot {
                Slot::Conv { weight, bias } => {
                    put(
                        format!("{name}.weight"),
                        values(self.conv_weights[*weight].val())?,
                    );
                    if let Some(b) = bias {
                        put(format!("{name}.bias"), values(self.biases[*b].val())?);
                    }
                }
                Slot::Linear { weight, bias } => {
                    put(
                        format!("{name}.weight"),
                        values(self.linear_weights[*weight].val())?,
                    );
                    if let Some(b) = bias {
                        put(format!("{name}.bias"), values(self.biases[*b].val())?);
                    }
                }
                Slot::Norm(k) => {
                    let bn = &self.norms[*k];
                    put(format!("{name}.weight"), values(bn.gamma.val())?);
                    put(format!("{name}.bias"), values(bn.beta.val())?);
                    put(
                        format!("{name}.running_mean"),
                        values(bn.running_mean.value())?,
                    );
                    put(
                        format!("{name}.running_var"),
                        values(bn.running_var.value())?,
                    );
                }
                Slot::Stateless => {}
            }
        }
        Network::new(
            self.graph.clone(),
            normalization,
            tensors,
            "trained network",
        )
    }
}

impl TrainNet {
    /// The subnet `graph` (see [`TrainNet::forward_graph`]) as a network of its own: every
    /// parameter the leading slice of the shared one, batch norms with the recalibrated
    /// statistics `calibrated` (from [`NormStats::averages`]) in place of the running ones.
    ///
    /// # Errors
    /// A batch norm of `graph` that calibration did not see, non-finite parameters.
    pub fn extract(
        &self,
        graph: &Graph,
        calibrated: &Calibrated,
        normalization: Option<Normalization>,
    ) -> Result<Network> {
        let mut tensors = BTreeMap::new();
        for node in &graph.nodes {
            let name = &node.name;
            let shapes = node.op.tensors();
            let shape_of = |suffix: &str| -> Vec<usize> {
                shapes
                    .iter()
                    .find(|(s, _)| *s == suffix)
                    .map(|(_, shape)| shape.clone())
                    .unwrap_or_default()
            };
            let slot = self.slot_of(name);
            let (weight, bias) = match slot {
                Slot::Conv { weight, bias } => {
                    let s = shape_of("weight");
                    let w =
                        shared_slice(self.conv_weights[*weight].val(), [s[0], s[1], s[2], s[3]]);
                    (values(w)?, *bias)
                }
                Slot::Linear { weight, bias } => {
                    let s = shape_of("weight");
                    let w = shared_slice(self.linear_weights[*weight].val(), [s[0], s[1]]);
                    (values(w)?, *bias)
                }
                Slot::Norm(k) => {
                    let bn = &self.norms[*k];
                    let channels = shape_of("weight")[0];
                    let (mean, var) = calibrated.get(name).ok_or_else(|| {
                        Error::Training(format!("batch norm {name} was not recalibrated"))
                    })?;
                    tensors.insert(
                        format!("{name}.weight"),
                        values(shared_slice(bn.gamma.val(), [channels]))?,
                    );
                    tensors.insert(
                        format!("{name}.bias"),
                        values(shared_slice(bn.beta.val(), [channels]))?,
                    );
                    tensors.insert(format!("{name}.running_mean"), mean.clone());
                    tensors.insert(format!("{name}.running_var"), var.clone());
                    continue;
                }
                Slot::Stateless => continue,
            };
            tensors.insert(format!("{name}.weight"), weight);
            if let Some(b) = bias {
                let n = shape_of("bias")[0];
                tensors.insert(
                    format!("{name}.bias"),
                    values(shared_slice(self.biases[b].val(), [n]))?,
                );
            }
        }
        Network::new(graph.clone(), normalization, tensors, "subnet")
    }
}

/// How batch norms normalise in [`TrainNet::forward_graph`].
pub enum Norms<'a> {
    /// burn's module: batch statistics in training (updating the running ones), the
    /// running statistics in inference.
    Running,
    /// The batch's own statistics, nothing kept (a weight-sharing subnet in training).
    Batch,
    /// The batch's statistics, accumulated per node (batch-norm recalibration).
    Calibrate(&'a mut NormStats),
}

/// Recalibrated batch-norm statistics: per node, the per-channel means and variances.
pub type Calibrated = BTreeMap<String, (Vec<f32>, Vec<f32>)>;

/// Per-channel batch means and variances summed over calibration batches.
#[derive(Default)]
pub struct NormStats {
    sums: BTreeMap<String, (Vec<f64>, Vec<f64>, usize)>,
    /// The first statistics that could not be read (reported by [`NormStats::averages`]:
    /// they are gathered inside a forward pass, which cannot fail).
    unreadable: Option<String>,
}

impl NormStats {
    fn add(&mut self, name: &str, mean: Tensor<1>, var: Tensor<1>) {
        let to_vec = |t: Tensor<1>| t.into_data().try_to_vec::<f32>();
        let (mean, var) = match (to_vec(mean), to_vec(var)) {
            (Ok(mean), Ok(var)) => (mean, var),
            (Err(e), _) | (_, Err(e)) => {
                self.unreadable
                    .get_or_insert_with(|| format!("batch norm {name}: statistics {e:?}"));
                return;
            }
        };
        let entry = self
            .sums
            .entry(name.to_string())
            .or_insert_with(|| (vec![0.0; mean.len()], vec![0.0; var.len()], 0));
        entry
            .0
            .iter_mut()
            .zip(&mean)
            .for_each(|(s, &m)| *s += f64::from(m));
        entry
            .1
            .iter_mut()
            .zip(&var)
            .for_each(|(s, &v)| *s += f64::from(v));
        entry.2 += 1;
    }

    /// The mean over batches of each node's batch means and variances.
    ///
    /// # Errors
    /// Statistics that could not be read from their tensors.
    pub fn averages(&self) -> Result<Calibrated> {
        if let Some(message) = &self.unreadable {
            return Err(Error::Training(message.clone()));
        }
        Ok(self
            .sums
            .iter()
            .map(|(name, (m, v, n))| {
                let avg = |s: &Vec<f64>| s.iter().map(|x| (x / *n as f64) as f32).collect();
                (name.clone(), (avg(m), avg(v)))
            })
            .collect())
    }
}

/// Batch normalisation with the batch's statistics; returns the output and the
/// per-channel mean and (biased) variance used.
fn batch_norm(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    eps: f64,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let channels = x.dims()[1];
    let mean = x.clone().mean_dim(0).mean_dim(2).mean_dim(3);
    let centred = x - mean.clone();
    let var = centred
        .clone()
        .powi_scalar(2)
        .mean_dim(0)
        .mean_dim(2)
        .mean_dim(3);
    let y = centred / (var.clone() + eps).sqrt();
    let y = y * gamma.unsqueeze_dims::<4>(&[0, 2, 3]) + beta.unsqueeze_dims::<4>(&[0, 2, 3]);
    let flat = |t: Tensor<4>| -> Tensor<1> { t.detach().reshape([channels]) };
    (y, flat(mean), flat(var))
}

/// The leading part of a shared parameter with the shape `shape`: the first indices of
/// every axis, except that a larger square kernel (the last two axes of a 4-D weight)
/// gives its centre.
fn shared_slice<const D: usize>(t: Tensor<D>, shape: [usize; D]) -> Tensor<D> {
    let dims = t.dims();
    if dims == shape {
        return t;
    }
    let ranges: [std::ops::Range<usize>; D] = std::array::from_fn(|axis| {
        let start = if D == 4 && axis >= 2 {
            (dims[axis] - shape[axis]) / 2
        } else {
            0
        };
        start..start + shape[axis]
    });
    t.slice(ranges)
}

/// y (n, in) . W^T (out, in) + b, with W in PyTorch's layout.
fn linear(x: Tensor<2>, w: Tensor<2>, b: Option<Tensor<1>>) -> Tensor<2> {
    let y = x.matmul(w.transpose());
    match b {
        Some(b) => y + b.unsqueeze(),
        None => y,
    }
}

/// Adds a per-channel bias to NCHW maps.
fn add_bias(y: Tensor<4>, b: Option<Tensor<1>>) -> Tensor<4> {
    match b {
        Some(b) => y + b.unsqueeze_dims::<4>(&[0, 2, 3]),
        None => y,
    }
}

/// Clamps a tensor to +-`sigmas` of its standard deviation, outside the autodiff graph.
fn clip_tensor<const D: usize>(t: Tensor<D>, sigmas: f32) -> Tensor<D> {
    let t = t.detach();
    let flat: Tensor<1> = t.clone().flatten(0, D - 1);
    let std = flat.var(0).sqrt().into_scalar::<f32>();
    let bound = sigmas * std;
    // A fresh leaf: autodiff only tracks parameters created as leaves.
    let device = t.device();
    Tensor::from_data(t.clamp(-bound, bound).into_data(), &device).require_grad()
}

/// A tensor's values as f32, rejecting NaN and infinities.
fn values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data: TensorData = t.into_data();
    let v = data
        .try_to_vec::<f32>()
        .map_err(|e| Error::Training(format!("reading parameters: {e:?}")))?;
    if v.iter().any(|x| !x.is_finite()) {
        return Err(Error::Training(
            "parameters are not finite: training diverged (lower the learning rate)".into(),
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::arch::{MacroArch, StageArch};

    fn arch(stem: usize, widths: [usize; 2], kernels: [&[usize]; 2]) -> MacroArch {
        MacroArch {
            stem,
            stages: widths
                .iter()
                .zip(kernels)
                .map(|(&width, k)| StageArch {
                    width,
                    kernels: k.to_vec(),
                })
                .collect(),
            always_project: true,
        }
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().expect("f32 tensor")
    }

    #[test]
    fn a_subnet_uses_the_leading_slices_of_the_shared_parameters() {
        let device = Device::flex();
        device.seed(5);
        let large = arch(8, [8, 12], [&[5, 5], &[5]])
            .graph([1, 8, 8], 3)
            .unwrap();
        let small_arch = arch(4, [6, 12], [&[3], &[5]]);
        let small = small_arch.graph([1, 8, 8], 3).unwrap();
        let shared = TrainNet::new(&large, &device);
        let images = Tensor::<4>::random([2, 1, 8, 8], Distribution::Default, &device);

        // The same subnet as a network of its own, its tensors cut out by hand.
        let full = shared.to_network(None).unwrap();
        let mut tensors = BTreeMap::new();
        for node in &small.nodes {
            for (suffix, shape) in node.op.tensors() {
                let source = full.tensor(&node.name, suffix);
                let big: Vec<usize> = large
                    .nodes
                    .iter()
                    .find(|n| n.name == node.name)
                    .unwrap()
                    .op
                    .tensors()
                    .into_iter()
                    .find(|(s, _)| *s == suffix)
                    .unwrap()
                    .1;
                let t = Tensor::<1>::from_data(
                    TensorData::new(source.to_vec(), [source.len()]),
                    &device,
                );
                let cut: Vec<f32> = match (big.len(), shape.len()) {
                    (4, 4) => values(shared_slice(
                        t.reshape([big[0], big[1], big[2], big[3]]),
                        [shape[0], shape[1], shape[2], shape[3]],
                    )),
                    (2, 2) => values(shared_slice(
                        t.reshape([big[0], big[1]]),
                        [shape[0], shape[1]],
                    )),
                    _ => values(shared_slice(t, [shape[0]])),
                };
                tensors.insert(format!("{}.{suffix}", node.name), cut);
            }
        }
        let own = TrainNet::from_network(
            &Network::new(small.clone(), None, tensors, "subnet").unwrap(),
            &device,
        );

        let via_sharing = shared.forward_graph(&small, images.clone(), None, &mut Norms::Batch);
        let direct = own.forward_graph(&small, images.clone(), None, &mut Norms::Batch);
        let (a, b) = (values(via_sharing), values(direct));
        assert_eq!(a.len(), 2 * 3);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }

        // Recalibration records each batch norm of the subnet at its own width.
        let mut stats = NormStats::default();
        shared.forward_graph(&small, images, None, &mut Norms::Calibrate(&mut stats));
        let averages = stats.averages().unwrap();
        assert_eq!(averages["stem.bn"].0.len(), 4);
        assert_eq!(averages["layer1.0.bn1"].1.len(), 6);
        assert!(averages["layer2.0.bn2"].1.iter().all(|v| *v > 0.0));
        assert!(
            !averages.contains_key("layer1.1.bn1"),
            "a block the subnet does not have"
        );
    }
}
