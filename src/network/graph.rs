//! The network graph: layers by name, each reading the outputs of earlier layers, as stored in
//! the architecture JSON. The file form (`RawNode`, every field optional) is validated once into
//! [`Op`]s with their shapes inferred, so executors never meet an inconsistent graph.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The name a node uses to read the network's input image.
pub const INPUT: &str = "input";

/// A layer's operation with its hyper-parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// 2-D convolution, PyTorch layout: weight (out, in, k, k), optional bias (out).
    Conv2d {
        /// Input channels.
        in_channels: usize,
        /// Output channels.
        out_channels: usize,
        /// Square kernel size.
        kernel: usize,
        /// Stride in both directions.
        stride: usize,
        /// Zero padding on every side.
        padding: usize,
        /// Whether a bias vector is stored.
        bias: bool,
    },
    /// Fully connected layer: weight (out, in), optional bias (out).
    Linear {
        /// Input features.
        in_features: usize,
        /// Output features.
        out_features: usize,
        /// Whether a bias vector is stored.
        bias: bool,
    },
    /// Batch normalisation with running statistics: weight (gamma), bias (beta),
    /// running_mean, running_var, each (channels).
    BatchNorm {
        /// Channels.
        channels: usize,
        /// Added to the variance.
        eps: f32,
    },
    /// max(x, 0).
    Relu,
    /// Max pooling, square window, no padding, floor rounding.
    MaxPool {
        /// Window size.
        kernel: usize,
        /// Stride.
        stride: usize,
    },
    /// Average pooling, square window, floor rounding; with padding, each window averages
    /// the pixels inside the image only (PyTorch's `count_include_pad = False`, the
    /// average pool of NAS-Bench-201's cells).
    AvgPool {
        /// Window size.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Padding on every side (default 0).
        padding: usize,
    },
    /// Mean over height and width: (c, h, w) -> (c, 1, 1).
    GlobalAvgPool,
    /// Element-wise sum of two inputs of the same shape (residual connection).
    Add,
    /// Zeros of the input's shape (the input times 0): a cell node that sums no edge, as
    /// NAS-Bench-201's `none` operation gives it.
    Zero,
    /// (c, h, w) -> (c*h*w, 1, 1) in channel-major order, as PyTorch's `flatten(1)`.
    Flatten,
}

impl Op {
    /// The name used in the JSON `op` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Conv2d { .. } => "conv2d",
            Op::Linear { .. } => "linear",
            Op::BatchNorm { .. } => "batch_norm",
            Op::Relu => "relu",
            Op::MaxPool { .. } => "max_pool",
            Op::AvgPool { .. } => "avg_pool",
            Op::GlobalAvgPool => "global_avg_pool",
            Op::Add => "add",
            Op::Zero => "zero",
            Op::Flatten => "flatten",
        }
    }

    /// Shape of the weight matrix on the crossbar, (rows = outputs, columns = inputs), for the
    /// layers that run on tiles.
    pub fn matrix(&self) -> Option<(usize, usize)> {
        match *self {
            Op::Conv2d {
                in_channels,
                out_channels,
                kernel,
                ..
            } => Some((out_channels, in_channels * kernel * kernel)),
            Op::Linear {
                in_features,
                out_features,
                ..
            } => Some((out_features, in_features)),
            _ => None,
        }
    }

    /// How the tensor `suffix` of this op is laid out, for messages.
    pub fn layout(&self, suffix: &str) -> &'static str {
        match (self, suffix) {
            (Op::Conv2d { .. }, "weight") => "(out channels, in channels, kernel, kernel)",
            (Op::Linear { .. }, "weight") => "(out features, in features)",
            _ => "one value per channel",
        }
    }

    /// The stored tensors of this op: suffix and shape.
    pub fn tensors(&self) -> Vec<(&'static str, Vec<usize>)> {
        match *self {
            Op::Conv2d {
                in_channels,
                out_channels,
                kernel,
                bias,
                ..
            } => {
                let mut t = vec![("weight", vec![out_channels, in_channels, kernel, kernel])];
                if bias {
                    t.push(("bias", vec![out_channels]));
                }
                t
            }
            Op::Linear {
                in_features,
                out_features,
                bias,
            } => {
                let mut t = vec![("weight", vec![out_features, in_features])];
                if bias {
                    t.push(("bias", vec![out_features]));
                }
                t
            }
            Op::BatchNorm { channels, .. } => ["weight", "bias", "running_mean", "running_var"]
                .into_iter()
                .map(|s| (s, vec![channels]))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Activation shape (channels, height, width); features of a flat vector are (n, 1, 1).
pub type Shape3 = [usize; 3];

/// One validated layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Unique name; stored tensors are `{name}.weight` and so on.
    pub name: String,
    /// The operation.
    pub op: Op,
    /// Indices of the nodes read, `None` for the network input.
    pub inputs: Vec<Option<usize>>,
    /// Shape of the node's output.
    pub shape: Shape3,
}

/// A validated graph in execution order; the last node is the output (class logits).
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// Input image shape (channels, height, width).
    pub input: Shape3,
    /// Number of classes: the output's length.
    pub classes: usize,
    /// Layers in execution order.
    pub nodes: Vec<Node>,
}

/// The architecture file as written: every field optional, checked by [`Graph::from_file`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    /// Unique node name.
    pub name: String,
    /// conv2d | linear | batch_norm | relu | max_pool | avg_pool | global_avg_pool | add |
    /// zero | flatten.
    pub op: String,
    /// Names of the nodes read (`input` = the image); default: the previous node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<String>>,
    /// conv2d: input channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_channels: Option<usize>,
    /// conv2d: output channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_channels: Option<usize>,
    /// conv2d, max_pool, avg_pool: square window size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<usize>,
    /// conv2d (default 1), max_pool and avg_pool (default: the kernel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<usize>,
    /// conv2d, avg_pool: zero padding (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<usize>,
    /// conv2d, linear: whether a bias is stored (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<bool>,
    /// linear: input features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_features: Option<usize>,
    /// linear: output features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_features: Option<usize>,
    /// batch_norm: channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<usize>,
    /// batch_norm: epsilon added to the variance (default 1e-5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<f32>,
}

impl RawNode {
    /// A node of `op` named `name`, reading `inputs` (`None`: the previous node), every
    /// other field unset.
    pub(super) fn new(name: &str, op: &str, inputs: Option<&[&str]>) -> RawNode {
        RawNode {
            name: name.into(),
            op: op.into(),
            inputs: inputs.map(|v| v.iter().map(|s| s.to_string()).collect()),
            ..RawNode::default()
        }
    }

    /// Makes this node a `k` x `k` convolution of `io.0` -> `io.1` channels at `stride`,
    /// padded to keep the size at stride 1, without a bias: the builders follow every
    /// convolution with a batch norm, which makes a bias redundant.
    pub(super) fn set_conv(&mut self, io: (usize, usize), k: usize, stride: usize) {
        self.in_channels = Some(io.0);
        self.out_channels = Some(io.1);
        self.kernel = Some(k);
        self.stride = Some(stride);
        self.padding = Some(k / 2);
        self.bias = Some(false);
    }
}

/// The architecture file: `{"format": "imcnas-network", "version": 1, ...}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphFile {
    /// Always `imcnas-network`.
    pub format: String,
    /// Format version, 1.
    pub version: u32,
    /// Input shape [channels, height, width].
    pub input: [usize; 3],
    /// Number of classes.
    pub classes: usize,
    /// Layers in execution order.
    pub nodes: Vec<RawNode>,
    /// Per-channel mean and std applied to [0, 1] pixels before the first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<crate::data::Normalization>,
}

/// The format tag of architecture files.
pub const FORMAT: &str = "imcnas-network";

impl Graph {
    /// Validates a parsed architecture file; `origin` names it in errors.
    ///
    /// # Errors
    /// Wrong format tag or version, unknown ops, missing or foreign fields, dangling or
    /// repeated names, shapes that do not fit, an output that is not `classes` logits.
    pub fn from_file(file: &GraphFile, origin: &str) -> Result<Graph> {
        let bad = |message: String| Error::network(origin, message);
        if file.format != FORMAT || file.version != 1 {
            return Err(bad(format!(
                "format {:?} version {} is not {FORMAT:?} version 1",
                file.format, file.version
            )));
        }
        let values = file.input.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if file.input.contains(&0) || values.is_none_or(|n| n > 1 << 24) {
            return Err(bad(format!(
                "input {:?} is not a valid image shape",
                file.input
            )));
        }
        if file.nodes.is_empty() {
            return Err(bad("the network has no nodes".into()));
        }
        let mut graph = Graph {
            input: file.input,
            classes: file.classes,
            nodes: Vec::with_capacity(file.nodes.len()),
        };
        for raw in &file.nodes {
            let node = graph
                .check_node(raw)
                .map_err(|m| bad(format!("node {:?}: {m}", raw.name)))?;
            graph.nodes.push(node);
        }
        let out = graph.nodes.last().map(|n| n.shape).unwrap_or(graph.input);
        if out != [file.classes, 1, 1] {
            return Err(bad(format!(
                "the last node gives shape {out:?}, expected {} class logits [{}, 1, 1]",
                file.classes, file.classes
            )));
        }
        Ok(graph)
    }

    /// The file form of the graph.
    pub fn to_file(&self) -> GraphFile {
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| self.raw_node(i, node))
            .collect();
        GraphFile {
            format: FORMAT.into(),
            version: 1,
            input: self.input,
            classes: self.classes,
            nodes,
            normalization: None,
        }
    }

    /// Index of the node called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Shape of input `source`.
    pub fn shape_of(&self, source: Option<usize>) -> Shape3 {
        source.map_or(self.input, |i| self.nodes[i].shape)
    }

    /// Indices of the nodes that run on crossbar tiles, in execution order.
    pub fn matrix_nodes(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].op.matrix().is_some())
    }

    fn raw_node(&self, index: usize, node: &Node) -> RawNode {
        let names: Vec<String> = node
            .inputs
            .iter()
            .map(|s| s.map_or(INPUT.to_string(), |i| self.nodes[i].name.clone()))
            .collect();
        // The default input (the previous node) is left implicit to keep files readable.
        let previous = if index == 0 {
            INPUT.to_string()
        } else {
            self.nodes[index - 1].name.clone()
        };
        let inputs = (names != [previous]).then_some(names);
        let mut raw = RawNode {
            name: node.name.clone(),
            op: node.op.kind().into(),
            inputs,
            ..RawNode::default()
        };
        match node.op {
            Op::Conv2d {
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
                bias,
            } => {
                raw.in_channels = Some(in_channels);
                raw.out_channels = Some(out_channels);
                raw.kernel = Some(kernel);
                raw.stride = Some(stride);
                raw.padding = Some(padding);
                raw.bias = Some(bias);
            }
            Op::Linear {
                in_features,
                out_features,
                bias,
            } => {
                raw.in_features = Some(in_features);
                raw.out_features = Some(out_features);
                raw.bias = Some(bias);
            }
            Op::BatchNorm { channels, eps } => {
                raw.channels = Some(channels);
                raw.eps = Some(eps);
            }
            Op::MaxPool { kernel, stride } => {
                raw.kernel = Some(kernel);
                raw.stride = Some(stride);
            }
            Op::AvgPool {
                kernel,
                stride,
                padding,
            } => {
                raw.kernel = Some(kernel);
                raw.stride = Some(stride);
                // Left implicit when 0, so files of unpadded pools read as before.
                raw.padding = (padding > 0).then_some(padding);
            }
            Op::Relu | Op::GlobalAvgPool | Op::Add | Op::Zero | Op::Flatten => {}
        }
        raw
    }

    fn check_node(&self, raw: &RawNode) -> std::result::Result<Node, String> {
        if raw.name.is_empty() || raw.name == INPUT || self.find(&raw.name).is_some() {
            return Err("names must be unique, non-empty and not \"input\"".into());
        }
        let inputs: Vec<Option<usize>> = match &raw.inputs {
            None => vec![self.nodes.len().checked_sub(1)],
            Some(names) => names
                .iter()
                .map(|name| match name.as_str() {
                    INPUT => Ok(None),
                    _ => self
                        .find(name)
                        .map(Some)
                        .ok_or(format!("input {name:?} is not an earlier node")),
                })
                .collect::<std::result::Result<_, _>>()?,
        };
        let arity = if raw.op == "add" { 2 } else { 1 };
        if inputs.len() != arity {
            return Err(format!(
                "{} reads {} inputs, not {}",
                raw.op,
                arity,
                inputs.len()
            ));
        }
        let shape_in = self.shape_of(inputs[0]);
        let op = parse_op(raw)?;
        let shape = output_shape(&op, shape_in)?;
        if op == Op::Add && self.shape_of(inputs[1]) != shape_in {
            return Err(format!(
                "adds shapes {shape_in:?} and {:?}",
                self.shape_of(inputs[1])
            ));
        }
        Ok(Node {
            name: raw.name.clone(),
            op,
            inputs,
            shape,
        })
    }
}

/// Reads the op and its fields, rejecting fields that belong to other ops.
fn parse_op(raw: &RawNode) -> std::result::Result<Op, String> {
    let present = [
        ("in_channels", raw.in_channels.is_some()),
        ("out_channels", raw.out_channels.is_some()),
        ("kernel", raw.kernel.is_some()),
        ("stride", raw.stride.is_some()),
        ("padding", raw.padding.is_some()),
        ("bias", raw.bias.is_some()),
        ("in_features", raw.in_features.is_some()),
        ("out_features", raw.out_features.is_some()),
        ("channels", raw.channels.is_some()),
        ("eps", raw.eps.is_some()),
    ];
    let allowed: &[&str] = match raw.op.as_str() {
        "conv2d" => &[
            "in_channels",
            "out_channels",
            "kernel",
            "stride",
            "padding",
            "bias",
        ],
        "linear" => &["in_features", "out_features", "bias"],
        "batch_norm" => &["channels", "eps"],
        "max_pool" => &["kernel", "stride"],
        "avg_pool" => &["kernel", "stride", "padding"],
        "relu" | "global_avg_pool" | "add" | "zero" | "flatten" => &[],
        other => {
            return Err(format!(
                "unknown op {other:?} (known: conv2d, linear, batch_norm, relu, max_pool, avg_pool, global_avg_pool, add, zero, flatten)"
            ));
        }
    };
    if let Some((field, _)) = present.iter().find(|(f, p)| *p && !allowed.contains(f)) {
        return Err(format!("field {field} does not apply to {}", raw.op));
    }
    let need = |value: Option<usize>, field: &str| -> std::result::Result<usize, String> {
        match value {
            Some(v) if v > 0 && v <= 1 << 16 => Ok(v),
            Some(v) => Err(format!("{field} = {v} is out of range 1..=65536")),
            None => Err(format!("{} needs {field}", raw.op)),
        }
    };
    Ok(match raw.op.as_str() {
        "conv2d" => Op::Conv2d {
            in_channels: need(raw.in_channels, "in_channels")?,
            out_channels: need(raw.out_channels, "out_channels")?,
            kernel: need(raw.kernel, "kernel")?,
            stride: need(Some(raw.stride.unwrap_or(1)), "stride")?,
            padding: raw.padding.unwrap_or(0),
            bias: raw.bias.unwrap_or(true),
        },
        "linear" => Op::Linear {
            in_features: need(raw.in_features, "in_features")?,
            out_features: need(raw.out_features, "out_features")?,
            bias: raw.bias.unwrap_or(true),
        },
        "batch_norm" => {
            let eps = raw.eps.unwrap_or(1e-5);
            if !(eps > 0.0 && eps.is_finite()) {
                return Err(format!("eps = {eps} must be positive"));
            }
            Op::BatchNorm {
                channels: need(raw.channels, "channels")?,
                eps,
            }
        }
        "max_pool" | "avg_pool" => {
            let kernel = need(raw.kernel, "kernel")?;
            let stride = need(Some(raw.stride.unwrap_or(kernel)), "stride")?;
            if raw.op == "max_pool" {
                Op::MaxPool { kernel, stride }
            } else {
                let padding = raw.padding.unwrap_or(0);
                // A window must hold a pixel of the image wherever it lies.
                if padding >= kernel {
                    return Err(format!(
                        "padding = {padding} must be below the kernel ({kernel})"
                    ));
                }
                Op::AvgPool {
                    kernel,
                    stride,
                    padding,
                }
            }
        }
        "relu" => Op::Relu,
        "global_avg_pool" => Op::GlobalAvgPool,
        "add" => Op::Add,
        "zero" => Op::Zero,
        _ => Op::Flatten,
    })
}

/// Output shape of `op` on an input of shape `[c, h, w]`.
fn output_shape(op: &Op, [c, h, w]: Shape3) -> std::result::Result<Shape3, String> {
    let window =
        |size: usize, k: usize, s: usize, p: usize| -> std::result::Result<usize, String> {
            p.checked_mul(2)
                .and_then(|pp| size.checked_add(pp))
                .and_then(|padded| padded.checked_sub(k))
                .map(|span| span / s + 1)
                .ok_or(format!(
                    "window {k} does not fit input size {size} (padding {p})"
                ))
        };
    match *op {
        Op::Conv2d {
            in_channels,
            out_channels,
            kernel,
            stride,
            padding,
            ..
        } => {
            if in_channels != c {
                return Err(format!(
                    "in_channels = {in_channels}, the input has {c} channels"
                ));
            }
            Ok([
                out_channels,
                window(h, kernel, stride, padding)?,
                window(w, kernel, stride, padding)?,
            ])
        }
        Op::Linear {
            in_features,
            out_features,
            ..
        } => {
            if [c, h, w] != [in_features, 1, 1] {
                return Err(format!(
                    "in_features = {in_features}, the input has shape {:?} (flatten first)",
                    [c, h, w]
                ));
            }
            Ok([out_features, 1, 1])
        }
        Op::BatchNorm { channels, .. } => {
            if channels != c {
                return Err(format!("channels = {channels}, the input has {c}"));
            }
            Ok([c, h, w])
        }
        Op::MaxPool { kernel, stride } => Ok([
            c,
            window(h, kernel, stride, 0)?,
            window(w, kernel, stride, 0)?,
        ]),
        Op::AvgPool {
            kernel,
            stride,
            padding,
        } => Ok([
            c,
            window(h, kernel, stride, padding)?,
            window(w, kernel, stride, padding)?,
        ]),
        Op::GlobalAvgPool => Ok([c, 1, 1]),
        Op::Flatten => c
            .checked_mul(h)
            .and_then(|n| n.checked_mul(w))
            .map(|n| [n, 1, 1])
            .ok_or_else(|| format!("flattening {c} x {h} x {w} values overflows")),
        Op::Relu | Op::Add | Op::Zero => Ok([c, h, w]),
    }
}
