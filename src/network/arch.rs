//! The architectures `imcnas train` builds: the LeNet-like CNN of the benchmarks, NeuroSim's
//! CIFAR-10 VGG-8 (the reference network of its cost tables), and a family of small ResNets
//! (stem conv, residual basic blocks in three stages, global pool, linear), in the style of the
//! CIFAR ResNets of He et al.: depth 6n+2 with n blocks per stage.

use super::cell::CellArch;
use super::graph::{FORMAT, Graph, GraphFile, INPUT, RawNode};
use crate::error::{Error, Result};
use std::str::FromStr;

/// A named architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// conv 1->16 5x5, relu, maxpool 2, conv 16->32 5x5, relu, maxpool 2, fc 512->128, relu,
    /// fc 128->10 (for 28x28 inputs; the first fc adapts to other sizes).
    LeNet,
    /// NeuroSim's VGG-8: conv3x3 128, conv3x3 128, maxpool 2, conv3x3 256, conv3x3 256,
    /// maxpool 2, conv3x3 512, conv3x3 512, maxpool 2, fc 8192->1024, fc 1024->10 (for 32x32
    /// inputs; the first fc adapts to other sizes), relu after every layer but the last.
    Vgg8,
    /// ResNet of depth `6 * blocks + 2`, stage widths `width`, `2 width`, `4 width`.
    ResNet {
        /// Basic blocks per stage.
        blocks: usize,
        /// Channels of the stem and the first stage.
        width: usize,
    },
    /// A NAS-Bench-201 cell network ([`CellArch`]): `nb201-DDDDDD[-nN][-cC]`.
    Cell(CellArch),
}

/// Widest stem of the ResNet family (its last stage is four times as wide).
const MAX_STEM_WIDTH: usize = 256;

impl FromStr for Arch {
    type Err = Error;

    /// `lenet`, `vgg8`, `resnet{D}` with D = 6n+2 (resnet8, resnet14, resnet20, ...), optionally
    /// `-w{W}` for the stem width (default 16): `resnet8-w8`, or a NAS-Bench-201 cell network
    /// `nb201-DDDDDD[-nN][-cC]`.
    fn from_str(name: &str) -> Result<Arch> {
        let bad = || {
            Error::network(
                name,
                "unknown architecture (known: lenet, vgg8, resnet8, resnet14, resnet20, ... = 6n+2, with optional -wW stem width, e.g. resnet8-w8, and NAS-Bench-201 cells nb201-DDDDDD[-nN][-cC])",
            )
        };
        match name {
            "lenet" => return Ok(Arch::LeNet),
            "vgg8" => return Ok(Arch::Vgg8),
            _ => {}
        }
        if let Some(cell) = name.strip_prefix("nb201-") {
            return CellArch::parse(cell).map(Arch::Cell);
        }
        let rest = name.strip_prefix("resnet").ok_or_else(bad)?;
        let (depth, width) = match rest.split_once("-w") {
            Some((d, w)) => (d, w.parse::<usize>().map_err(|_| bad())?),
            None => (rest, 16),
        };
        let depth: usize = depth.parse().map_err(|_| bad())?;
        if depth < 8 || !(depth - 2).is_multiple_of(6) {
            return Err(bad());
        }
        if !(1..=MAX_STEM_WIDTH).contains(&width) {
            return Err(Error::network(
                name,
                format!("stem width {width} is out of range: expected -w1 ..= -w{MAX_STEM_WIDTH}"),
            ));
        }
        Ok(Arch::ResNet {
            blocks: (depth - 2) / 6,
            width,
        })
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arch::LeNet => write!(f, "lenet"),
            Arch::Vgg8 => write!(f, "vgg8"),
            Arch::ResNet { blocks, width: 16 } => write!(f, "resnet{}", 6 * blocks + 2),
            Arch::ResNet { blocks, width } => write!(f, "resnet{}-w{width}", 6 * blocks + 2),
            Arch::Cell(cell) => write!(f, "{cell}"),
        }
    }
}

/// Appends nodes; each reads the previous node unless told otherwise.
struct Builder {
    nodes: Vec<RawNode>,
}

impl Builder {
    fn push(&mut self, name: &str, op: &str, inputs: Option<&[&str]>) -> &mut RawNode {
        self.nodes.push(RawNode::new(name, op, inputs));
        self.nodes.last_mut().expect("just pushed")
    }

    /// A convolution followed by batch norm.
    fn conv(&mut self, name: &str, from: Option<&str>, io: (usize, usize), k: usize, s: usize) {
        let inputs = from.map(|f| vec![f]);
        self.push(name, "conv2d", inputs.as_deref())
            .set_conv(io, k, s);
    }

    fn bn(&mut self, name: &str, channels: usize) {
        self.push(name, "batch_norm", None).channels = Some(channels);
    }

    fn linear(&mut self, name: &str, (i, o): (usize, usize)) {
        let node = self.push(name, "linear", None);
        node.in_features = Some(i);
        node.out_features = Some(o);
        node.bias = Some(true);
    }

    fn pool(&mut self, name: &str, k: usize) {
        self.push(name, "max_pool", None).kernel = Some(k);
    }
}

/// One stage of a ResNet-like network: basic blocks of `width` channels, block `i` with
/// `kernels[i]` x `kernels[i]` convolutions; the first block of every stage after the
/// first halves the map.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StageArch {
    /// Output channels of every block.
    pub width: usize,
    /// Kernel side of each block's two convolutions (the depth is its length).
    pub kernels: Vec<usize>,
}

/// A ResNet-like network: a 3x3 stem, stages of basic blocks, global pooling and a linear
/// classifier. Nodes are named `stem.*`, `layer{stage}.{block}.*` and `fc`, so that a
/// smaller network of the same family shares names with a larger one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MacroArch {
    /// Stem output channels.
    pub stem: usize,
    /// The stages, in order.
    pub stages: Vec<StageArch>,
    /// Whether the first block of every stage has a 1x1 projection shortcut even when its
    /// input and output shapes agree (so that every network of a weight-sharing family
    /// has the same shortcut nodes); otherwise only where the shapes differ.
    pub always_project: bool,
}

impl MacroArch {
    /// The graph on `input` (channels, height, width) images of `classes` classes.
    ///
    /// # Errors
    /// A network whose shapes do not work out on the input (e.g. a map reduced below 1).
    pub fn graph(&self, input: [usize; 3], classes: usize) -> Result<Graph> {
        let mut b = Builder { nodes: Vec::new() };
        self.build(&mut b, input[0], classes);
        finish(b, input, classes, &format!("network on input {input:?}"))
    }

    fn build(&self, b: &mut Builder, in_channels: usize, classes: usize) {
        b.conv("stem.conv", Some(INPUT), (in_channels, self.stem), 3, 1);
        b.bn("stem.bn", self.stem);
        b.push("stem.relu", "relu", None);
        let mut last = "stem.relu".to_string();
        let mut channels = self.stem;
        for (stage, spec) in self.stages.iter().enumerate() {
            let out = spec.width;
            for (block, &k) in spec.kernels.iter().enumerate() {
                let stride = if stage > 0 && block == 0 { 2 } else { 1 };
                let p = format!("layer{}.{block}", stage + 1);
                b.conv(
                    &format!("{p}.conv1"),
                    Some(&last),
                    (channels, out),
                    k,
                    stride,
                );
                b.bn(&format!("{p}.bn1"), out);
                b.push(&format!("{p}.relu1"), "relu", None);
                b.conv(&format!("{p}.conv2"), None, (out, out), k, 1);
                b.bn(&format!("{p}.bn2"), out);
                let project = stride != 1 || channels != out || (self.always_project && block == 0);
                let shortcut = if project {
                    b.conv(
                        &format!("{p}.down.conv"),
                        Some(&last),
                        (channels, out),
                        1,
                        stride,
                    );
                    b.bn(&format!("{p}.down.bn"), out);
                    format!("{p}.down.bn")
                } else {
                    last.clone()
                };
                let bn2 = format!("{p}.bn2");
                b.push(&format!("{p}.add"), "add", Some(&[&bn2, &shortcut]));
                b.push(&format!("{p}.relu2"), "relu", None);
                last = format!("{p}.relu2");
                channels = out;
            }
        }
        b.push("pool", "global_avg_pool", None);
        b.push("flatten", "flatten", None);
        b.linear("fc", (channels, classes));
    }
}

fn finish(b: Builder, input: [usize; 3], classes: usize, origin: &str) -> Result<Graph> {
    let file = GraphFile {
        format: FORMAT.into(),
        version: 1,
        input,
        classes,
        nodes: b.nodes,
        normalization: None,
    };
    Graph::from_file(&file, origin)
}

impl Arch {
    /// The graph for images of shape `input` (channels, height, width) and `classes` classes.
    ///
    /// # Errors
    /// Inputs too small for the architecture.
    pub fn graph(&self, input: [usize; 3], classes: usize) -> Result<Graph> {
        let mut b = Builder { nodes: Vec::new() };
        match *self {
            Arch::Cell(cell) => return cell.graph(input, classes),
            Arch::LeNet => {
                let (h, w) = (input[1], input[2]);
                let side = |s: usize| (s.saturating_sub(4) / 2).saturating_sub(4) / 2;
                let conv = |b: &mut Builder, name: &str, io: (usize, usize)| {
                    let node = b.push(name, "conv2d", None);
                    node.in_channels = Some(io.0);
                    node.out_channels = Some(io.1);
                    node.kernel = Some(5);
                    node.bias = Some(true);
                };
                conv(&mut b, "conv1", (input[0], 16));
                b.push("relu1", "relu", None);
                b.pool("pool1", 2);
                conv(&mut b, "conv2", (16, 32));
                b.push("relu2", "relu", None);
                b.pool("pool2", 2);
                b.push("flatten", "flatten", None);
                b.linear("fc1", (32 * side(h) * side(w), 128));
                b.push("relu3", "relu", None);
                b.linear("fc2", (128, classes));
            }
            Arch::Vgg8 => {
                let mut channels = input[0];
                let (mut h, mut w) = (input[1], input[2]);
                for (stage, out) in [128, 256, 512].into_iter().enumerate() {
                    for i in 1..=2 {
                        let name = format!("conv{}", 2 * stage + i);
                        let node = b.push(&name, "conv2d", None);
                        node.in_channels = Some(channels);
                        node.out_channels = Some(out);
                        node.kernel = Some(3);
                        node.padding = Some(1);
                        node.bias = Some(true);
                        b.push(&format!("relu{}", 2 * stage + i), "relu", None);
                        channels = out;
                    }
                    b.pool(&format!("pool{}", stage + 1), 2);
                    (h, w) = (h / 2, w / 2);
                }
                b.push("flatten", "flatten", None);
                b.linear("fc1", (channels * h * w, 1024));
                b.push("relu7", "relu", None);
                b.linear("fc2", (1024, classes));
            }
            Arch::ResNet { blocks, width } => {
                let stages = (0..3)
                    .map(|stage| StageArch {
                        width: width << stage,
                        kernels: vec![3; blocks],
                    })
                    .collect();
                let arch = MacroArch {
                    stem: width,
                    stages,
                    always_project: false,
                };
                arch.build(&mut b, input[0], classes);
            }
        }
        finish(b, input, classes, &format!("{self} on input {input:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenet_matches_the_benchmark_net() {
        let g = Arch::LeNet.graph([1, 28, 28], 10).unwrap();
        let matrices: Vec<_> = g
            .matrix_nodes()
            .map(|i| g.nodes[i].op.matrix().unwrap())
            .collect();
        assert_eq!(matrices, [(16, 25), (32, 400), (128, 512), (10, 128)]);
    }

    #[test]
    fn resnet_family_depths_and_names() {
        for (name, convs) in [
            ("resnet8", 7 + 2),
            ("resnet14-w8", 13 + 2),
            ("resnet20", 19 + 2),
        ] {
            let arch: Arch = name.parse().unwrap();
            assert_eq!(arch.to_string(), name);
            let g = arch.graph([3, 32, 32], 10).unwrap();
            // Stem + 2 per block + 2 projection shortcuts, then the classifier.
            assert_eq!(g.matrix_nodes().count(), convs + 1, "{name}");
            // The graph survives its file form.
            assert_eq!(Graph::from_file(&g.to_file(), name).unwrap(), g);
        }
        assert!("resnet9".parse::<Arch>().is_err());
        assert!("vgg".parse::<Arch>().is_err());
    }

    #[test]
    fn vgg8_matches_neurosim_network() {
        let g = "vgg8"
            .parse::<Arch>()
            .unwrap()
            .graph([3, 32, 32], 10)
            .unwrap();
        let matrices: Vec<_> = g
            .matrix_nodes()
            .map(|i| g.nodes[i].op.matrix().unwrap())
            .collect();
        assert_eq!(
            matrices,
            [
                (128, 27),
                (128, 1152),
                (256, 1152),
                (256, 2304),
                (512, 2304),
                (512, 4608),
                (1024, 8192),
                (10, 1024)
            ]
        );
    }

    #[test]
    fn lenet_rejects_inputs_too_small() {
        let e = Arch::LeNet.graph([1, 8, 8], 10).unwrap_err().to_string();
        assert!(e.contains("conv2"), "{e}");
    }
}
