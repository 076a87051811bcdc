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
        let batch = images.dims()[0];
        let mut values: Vec<Option<Tensor<4>>> = Vec::with_capacity(self.graph.nodes.len());
        for (node, slot) in self.graph.nodes.iter().zip(&self.slots) {
            let input = |k: usize| match node.inputs[k] {
                None => images.clone(),
                Some(j) => values[j].clone().expect("computed earlier"),
            };
            let x = input(0);
            let y = match (&node.op, slot) {
                (
                    Op::Conv2d {
                        stride, padding, ..
                    },
                    Slot::Conv { weight, bias },
                ) => {
                    let w = self.conv_weights[*weight].val();
                    let options = ConvOptions::new([*stride; 2], [*padding; 2], [1, 1], 1);
                    let b = bias.map(|b| self.biases[b].val());
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
                (Op::Linear { .. }, Slot::Linear { weight, bias }) => {
                    let x2: Tensor<2> = x.reshape([batch as i32, -1]);
                    let w = self.linear_weights[*weight].val();
                    let b = bias.map(|b| self.biases[b].val());
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
                (Op::BatchNorm { .. }, Slot::Norm(k)) => {
                    let y = self.norms[*k].forward(x);
                    match hwa {
                        Some(hwa) => hwa.gain_error(y, &self.norms[*k]),
                        None => y,
                    }
                }
                (Op::Relu, _) => burn::tensor::activation::relu(x),
                (Op::Add, _) => x + input(1),
                (Op::MaxPool { kernel, stride }, _) => max_pool2d(
                    x,
                    MaxPoolOptions::new([*kernel; 2]).with_stride([*stride; 2]),
                ),
                (Op::AvgPool { kernel, stride }, _) => avg_pool2d(
                    x,
                    AvgPoolOptions::new([*kernel; 2]).with_stride([*stride; 2]),
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
