//! NAS-Bench-201's cell networks (Dong & Yang 2020), the space of AnalogNAS-Bench: a cell
//! is a DAG of 4 nodes whose 6 edges (i -> j, i < j) each carry one of five operations,
//! every node the sum of its incoming edges; the network is a 3x3 stem, three stages of N
//! cells of C, 2C and 4C channels joined by residual reduction blocks, then batch norm,
//! ReLU, global pooling and a linear classifier.
//!
//! The graph is NAS-Bench-201's own network, node for node, with one difference that does
//! not change its output: layers whose value reaches no output (a node all of whose
//! outgoing edges are `none`) are left out, as a compiler would leave them out of a chip.

use super::graph::{FORMAT, Graph, GraphFile, INPUT, RawNode};
pub use crate::config::CellOp;
use crate::error::{Error, Result};
use std::collections::HashSet;

/// The edges of a cell, in AnalogNAS-Bench's order: (from, to) with nodes 1..=4, node 1 the
/// cell's input and node 4 its output.
pub const EDGES: [(usize, usize); 6] = [(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)];

/// A cell network: the cell's six operations, cells per stage and the first stage's
/// channels. Written `nb201-DDDDDD` (AnalogNAS-Bench's digits; the benchmark's 5 cells of
/// 16 channels) or `nb201-DDDDDD-nN-cC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CellArch {
    /// The operation of each edge of [`EDGES`].
    pub ops: [CellOp; 6],
    /// Cells per stage (NAS-Bench-201: 5).
    pub cells: usize,
    /// Channels of the stem and the first stage (NAS-Bench-201: 16).
    pub channels: usize,
}

/// Widest first stage of a cell network (its last is four times as wide).
const MAX_CHANNELS: usize = 256;
/// Most cells per stage.
const MAX_CELLS: usize = 32;

impl CellArch {
    /// The benchmark's network (5 cells, 16 channels) of the cell whose `op_indices` are
    /// `digits`.
    ///
    /// # Errors
    /// Anything but six digits 0-4.
    pub fn from_digits(digits: &str) -> Result<CellArch> {
        let bad = || {
            Error::network(
                digits,
                "a cell is six digits 0-4 (0 skip, 1 none, 2 conv 3x3, 3 conv 1x1, 4 avg pool), one per edge",
            )
        };
        let bytes = digits.as_bytes();
        if bytes.len() != 6 {
            return Err(bad());
        }
        let mut ops = [CellOp::None; 6];
        for (op, &b) in ops.iter_mut().zip(bytes) {
            *op = b
                .checked_sub(b'0')
                .and_then(CellOp::from_digit)
                .ok_or_else(bad)?;
        }
        Ok(CellArch {
            ops,
            cells: 5,
            channels: 16,
        })
    }

    /// The same cell with `cells` cells per stage and `channels` channels.
    ///
    /// # Errors
    /// Zero or too many cells or channels.
    pub fn sized(self, cells: usize, channels: usize) -> Result<CellArch> {
        if !(1..=MAX_CELLS).contains(&cells) || !(1..=MAX_CHANNELS).contains(&channels) {
            return Err(Error::network(
                self.to_string(),
                format!(
                    "{cells} cells of {channels} channels: expected 1..={MAX_CELLS} cells per stage and 1..={MAX_CHANNELS} channels"
                ),
            ));
        }
        Ok(CellArch {
            cells,
            channels,
            ..self
        })
    }

    /// The six digits.
    pub fn digits(&self) -> String {
        self.ops
            .iter()
            .map(|op| char::from(b'0' + op.digit()))
            .collect()
    }

    /// Parses `DDDDDD`, `DDDDDD-nN-cC` (either size part may be left out) after `nb201-`.
    pub(super) fn parse(rest: &str) -> Result<CellArch> {
        let mut parts = rest.split('-');
        let arch = CellArch::from_digits(parts.next().unwrap_or(""))?;
        let (mut cells, mut channels) = (arch.cells, arch.channels);
        for part in parts {
            let bad = || {
                Error::network(
                    rest,
                    format!("{part:?} is not -nN (cells) or -cC (channels)"),
                )
            };
            let number = |p: &str| p.parse::<usize>().map_err(|_| bad());
            match part.split_at_checked(1) {
                Some(("n", n)) => cells = number(n)?,
                Some(("c", c)) => channels = number(c)?,
                _ => return Err(bad()),
            }
        }
        arch.sized(cells, channels)
    }

    /// The graph on `input` (channels, height, width) images of `classes` classes.
    ///
    /// # Errors
    /// Inputs too small for the two reductions.
    pub fn graph(&self, input: [usize; 3], classes: usize) -> Result<Graph> {
        let mut b = CellBuilder::default();
        let c = self.channels;
        b.conv("stem.conv", INPUT, (input[0], c), 3, 1);
        b.bn("stem.bn", "stem.conv", c);
        let mut last = "stem.bn".to_string();
        let mut channels = c;
        for stage in 0..3 {
            if stage > 0 {
                last = b.reduction(&format!("reduce{stage}"), &last, channels);
                channels *= 2;
            }
            for cell in 0..self.cells {
                last = b.cell(
                    &format!("stage{}.cell{cell}", stage + 1),
                    &last,
                    channels,
                    &self.ops,
                );
            }
        }
        b.bn("last.bn", &last, channels);
        b.push("last.relu", "relu", &["last.bn"]);
        b.push("pool", "global_avg_pool", &["last.relu"]);
        let fc = b.push("fc", "linear", &["pool"]);
        fc.in_features = Some(channels);
        fc.out_features = Some(classes);
        fc.bias = Some(true);
        let file = GraphFile {
            format: FORMAT.into(),
            version: 1,
            input,
            classes,
            nodes: live_nodes(b.nodes),
            normalization: None,
        };
        Graph::from_file(&file, &format!("{self} on input {input:?}"))
    }
}

impl std::fmt::Display for CellArch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "nb201-{}", self.digits())?;
        if (self.cells, self.channels) != (5, 16) {
            write!(f, "-n{}-c{}", self.cells, self.channels)?;
        }
        Ok(())
    }
}

/// Appends nodes, every one naming its inputs.
#[derive(Default)]
struct CellBuilder {
    nodes: Vec<RawNode>,
}

impl CellBuilder {
    fn push(&mut self, name: &str, op: &str, inputs: &[&str]) -> &mut RawNode {
        self.nodes.push(RawNode::new(name, op, Some(inputs)));
        self.nodes.last_mut().expect("just pushed")
    }

    /// A convolution followed by batch norm (NAS-Bench-201's affine norms).
    fn conv(&mut self, name: &str, from: &str, io: (usize, usize), k: usize, stride: usize) {
        self.push(name, "conv2d", &[from]).set_conv(io, k, stride);
    }

    fn bn(&mut self, name: &str, from: &str, channels: usize) {
        self.push(name, "batch_norm", &[from]).channels = Some(channels);
    }

    /// ReLU, k x k convolution, batch norm: NAS-Bench-201's `ReLUConvBN`. Its output's name.
    fn relu_conv_bn(
        &mut self,
        p: &str,
        from: &str,
        io: (usize, usize),
        k: usize,
        s: usize,
    ) -> String {
        self.push(&format!("{p}.relu"), "relu", &[from]);
        self.conv(&format!("{p}.conv"), &format!("{p}.relu"), io, k, s);
        self.bn(&format!("{p}.bn"), &format!("{p}.conv"), io.1);
        format!("{p}.bn")
    }

    /// The residual reduction block between stages: two ReLU-conv-BN (the first of stride 2)
    /// beside a 2x2 average pool and 1x1 convolution, summed. Its output's name.
    fn reduction(&mut self, p: &str, from: &str, channels: usize) -> String {
        let io = (channels, 2 * channels);
        let a = self.relu_conv_bn(&format!("{p}.a"), from, io, 3, 2);
        let b = self.relu_conv_bn(&format!("{p}.b"), &a, (io.1, io.1), 3, 1);
        let pool = self.push(&format!("{p}.down.pool"), "avg_pool", &[from]);
        pool.kernel = Some(2);
        pool.stride = Some(2);
        let down = format!("{p}.down.conv");
        self.conv(&down, &format!("{p}.down.pool"), io, 1, 1);
        self.push(p, "add", &[&b, &down]);
        p.to_string()
    }

    /// One cell reading `from`. Its output's name (`from` itself for a cell that passes
    /// its input on).
    fn cell(&mut self, p: &str, from: &str, channels: usize, ops: &[CellOp; 6]) -> String {
        // The value of each node: a node name, or None while it is zero.
        let mut value: [Option<String>; 5] = Default::default();
        value[1] = Some(from.to_string());
        for to in 2..=4 {
            let mut terms = Vec::new();
            for (e, &(i, j)) in EDGES.iter().enumerate() {
                if j != to {
                    continue;
                }
                // An edge from a zero node reads zeros: its operation still runs (a
                // convolution's batch norm turns them into its shift), as in NAS-Bench-201.
                let source = match &value[i] {
                    Some(v) => v.clone(),
                    // Skip and pool keep zeros zero.
                    None if ops[e] != CellOp::Conv3x3 && ops[e] != CellOp::Conv1x1 => continue,
                    None => self.zero(&format!("{p}.n{i}.zero"), from),
                };
                let edge = format!("{p}.e{i}{j}");
                let io = (channels, channels);
                terms.push(match ops[e] {
                    CellOp::None => continue,
                    CellOp::Skip => source,
                    CellOp::Conv3x3 => self.relu_conv_bn(&edge, &source, io, 3, 1),
                    CellOp::Conv1x1 => self.relu_conv_bn(&edge, &source, io, 1, 1),
                    CellOp::AvgPool3x3 => {
                        let pool = self.push(&edge, "avg_pool", &[&source]);
                        pool.kernel = Some(3);
                        pool.stride = Some(1);
                        pool.padding = Some(1);
                        edge
                    }
                });
            }
            value[to] = terms.split_first().map(|(first, rest)| {
                let mut sum = first.clone();
                for (k, term) in rest.iter().enumerate() {
                    let name = format!("{p}.n{to}.add{k}");
                    self.push(&name, "add", &[&sum, term]);
                    sum = name;
                }
                sum
            });
        }
        value[4]
            .clone()
            .unwrap_or_else(|| self.zero(&format!("{p}.n4.zero"), from))
    }

    /// A zero node of `from`'s shape, made once.
    fn zero(&mut self, name: &str, from: &str) -> String {
        if !self.nodes.iter().any(|n| n.name == name) {
            self.push(name, "zero", &[from]);
        }
        name.to_string()
    }
}

/// The nodes that the last one depends on, in order.
fn live_nodes(nodes: Vec<RawNode>) -> Vec<RawNode> {
    let mut live: HashSet<String> = HashSet::new();
    if let Some(last) = nodes.last() {
        live.insert(last.name.clone());
    }
    for node in nodes.iter().rev() {
        if live.contains(&node.name) {
            live.extend(node.inputs.iter().flatten().cloned());
        }
    }
    nodes
        .into_iter()
        .filter(|n| live.contains(&n.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Op;

    fn matrices(arch: &str) -> usize {
        let arch = CellArch::parse(arch).unwrap();
        arch.graph([3, 32, 32], 10).unwrap().matrix_nodes().count()
    }

    #[test]
    fn names_round_trip_and_bad_ones_are_refused() {
        for name in ["012340", "222222-n1-c8", "444444-n2"] {
            let arch = CellArch::parse(name).unwrap();
            assert_eq!(CellArch::parse(&arch.to_string()[6..]).unwrap(), arch);
        }
        assert_eq!(
            CellArch::parse("012340").unwrap().to_string(),
            "nb201-012340"
        );
        for bad in [
            "01234",
            "012345",
            "0123a0",
            "012340-x3",
            "012340-n0",
            "012340-c999",
        ] {
            assert!(CellArch::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_skeleton_and_the_cells_have_their_layers() {
        // Stem, two reductions of three convolutions, classifier: 8 matrix layers.
        assert_eq!(matrices("111111"), 8);
        assert_eq!(matrices("000000"), 8);
        // Six convolution edges in each of 15 cells.
        assert_eq!(matrices("222222"), 8 + 6 * 15);
        // Node 4 reached by no edge: every cell gives zeros (read through the zero nodes'
        // inputs back to the stem), and the edges into nodes 2 and 3 are left out.
        let dead = CellArch::parse("221111")
            .unwrap()
            .graph([3, 32, 32], 10)
            .unwrap();
        assert!(dead.nodes.iter().any(|n| n.op == Op::Zero));
        assert_eq!(dead.matrix_nodes().count(), 8);
        // Node 2 computed but read by no edge: its convolution is left out.
        assert_eq!(matrices("200011"), 8);
        // An edge from a zero node still runs its convolution (on zeros).
        assert_eq!(matrices("101020"), 8 + 15);
        // The file form of a graph with zero nodes and padded pools survives.
        let g = CellArch::parse("243141-n1-c4")
            .unwrap()
            .graph([3, 8, 8], 10)
            .unwrap();
        assert_eq!(Graph::from_file(&g.to_file(), "g").unwrap(), g);
    }
}
