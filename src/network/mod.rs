//! Networks as descriptions: a graph of layers ([`graph`]) stored as JSON (`network.json`)
//! with its weights in safetensors (`weights.safetensors`, PyTorch names and layouts), and the
//! architecture families that `imcnas train` and the search build ([`arch`], and
//! NAS-Bench-201's cell networks in [`cell`]). Running them on
//! chips is the runtime's work ([`crate::runtime`]).

pub mod arch;
pub mod cell;
pub mod graph;

pub use graph::{Graph, GraphFile, Node, Op, Shape3};

use crate::data::Normalization;
use crate::error::{Error, Result, ensure_finite};
use crate::io::write_atomic;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::BTreeMap;
use std::path::Path;

/// File name of the architecture in a model folder.
pub const ARCH_FILE: &str = "network.json";
/// File name of the weights in a model folder.
pub const WEIGHTS_FILE: &str = "weights.safetensors";

/// A graph with all its tensors, checked against each other.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// The layers.
    pub graph: Graph,
    /// Input normalisation, if the network expects one.
    pub normalization: Option<Normalization>,
    tensors: BTreeMap<String, Vec<f32>>,
    /// Per matrix node, the inputs (rows of its unrolled weight matrix) removed from the
    /// crossbar by structured pruning, ascending; a property of the mapping, not saved.
    pruned_inputs: BTreeMap<String, Vec<u32>>,
    /// Per matrix node, the weight bits its weights were rounded to by compression, which a
    /// chip of sliced weights then holds; a property of the mapping, not saved.
    weight_bits: BTreeMap<String, u32>,
}

impl Network {
    /// Joins a graph and its tensors (`{node}.{suffix}` -> row-major values).
    ///
    /// # Errors
    /// A missing, extra, wrongly sized or non-finite tensor; normalisation of the wrong length.
    pub fn new(
        graph: Graph,
        normalization: Option<Normalization>,
        tensors: BTreeMap<String, Vec<f32>>,
        origin: &str,
    ) -> Result<Network> {
        let bad = |message: String| Error::network(origin, message);
        let mut expected = 0;
        for node in &graph.nodes {
            for (suffix, shape) in node.op.tensors() {
                let key = format!("{}.{suffix}", node.name);
                let len: usize = shape.iter().product();
                let values = tensors
                    .get(&key)
                    .ok_or_else(|| bad(format!("tensor {key} (shape {shape:?}) is missing")))?;
                if values.len() != len {
                    return Err(bad(format!(
                        "tensor {key} holds {} values, the node needs shape {shape:?}",
                        values.len()
                    )));
                }
                ensure_finite(&key, values).map_err(|e| bad(e.to_string()))?;
                if suffix == "running_var"
                    && let Some((i, v)) = values.iter().enumerate().find(|(_, v)| **v < 0.0)
                {
                    return Err(bad(format!(
                        "tensor {key} holds a negative variance ({v}) at index {i}"
                    )));
                }
                expected += 1;
            }
        }
        if tensors.len() != expected {
            let extra = tensors
                .keys()
                .find(|k| !graph_has_tensor(&graph, k))
                .cloned()
                .unwrap_or_default();
            return Err(bad(format!("tensor {extra} belongs to no node")));
        }
        if let Some(norm) = &normalization {
            let c = graph.input[0];
            if norm.mean.len() != c || norm.std.len() != c || norm.std.iter().any(|&s| s <= 0.0) {
                return Err(bad(format!(
                    "normalization needs {c} means and {c} positive stds"
                )));
            }
        }
        Ok(Network {
            graph,
            normalization,
            tensors,
            pruned_inputs: BTreeMap::new(),
            weight_bits: BTreeMap::new(),
        })
    }

    /// Removes inputs `rows` (rows of the unrolled weight matrix, whose weights must be zero)
    /// of matrix node `node` from the crossbar: they are neither programmed nor fed, so the
    /// layer's tiles hold only the inputs kept. The exact product is unchanged.
    ///
    /// # Errors
    /// An unknown or non-matrix node, a row out of range or with a non-zero weight, or every
    /// row removed.
    pub fn prune_inputs(&mut self, node: &str, mut rows: Vec<u32>) -> Result<()> {
        let bad = |message: String| Error::network(node, message);
        let op = &self
            .graph
            .nodes
            .iter()
            .find(|n| n.name == node)
            .ok_or_else(|| bad("no such node".into()))?
            .op;
        let (n_out, n_in) = op
            .matrix()
            .ok_or_else(|| bad("not a matrix layer".into()))?;
        rows.sort_unstable();
        rows.dedup();
        if rows.last().is_some_and(|&r| r as usize >= n_in) || rows.len() >= n_in {
            return Err(bad(format!(
                "cannot remove rows {rows:?} of a layer of {n_in} inputs"
            )));
        }
        let weights = self.tensor(node, "weight");
        if let Some(&r) = rows
            .iter()
            .find(|&&r| (0..n_out).any(|o| weights[o * n_in + r as usize] != 0.0))
        {
            return Err(bad(format!("row {r} to remove has non-zero weights")));
        }
        if rows.is_empty() {
            self.pruned_inputs.remove(node);
        } else {
            self.pruned_inputs.insert(node.to_string(), rows);
        }
        Ok(())
    }

    /// Records that matrix node `node`'s weights are held with `bits` bits (2..=16) by chips
    /// of sliced weights.
    ///
    /// # Errors
    /// An unknown or non-matrix node, bits out of range.
    pub fn set_weight_bits(&mut self, node: &str, bits: u32) -> Result<()> {
        let bad = |message: String| Error::network(node, message);
        let is_matrix = self
            .graph
            .nodes
            .iter()
            .find(|n| n.name == node)
            .ok_or_else(|| bad("no such node".into()))?
            .op
            .matrix()
            .is_some();
        if !is_matrix {
            return Err(bad("not a matrix layer".into()));
        }
        if !(2..=16).contains(&bits) {
            return Err(bad(format!("weight bits {bits} out of 2..=16")));
        }
        self.weight_bits.insert(node.to_string(), bits);
        Ok(())
    }

    /// The weight bits of matrix node `node` set by [`Network::set_weight_bits`].
    pub fn weight_bits(&self, node: &str) -> Option<u32> {
        self.weight_bits.get(node).copied()
    }

    /// The inputs of matrix node `node` mapped onto the crossbar, ascending, when some were
    /// removed by [`Network::prune_inputs`]; `None` when all are.
    pub fn kept_inputs(&self, node: &str) -> Option<Vec<u32>> {
        let removed = self.pruned_inputs.get(node)?;
        let (_, n_in) = self
            .graph
            .nodes
            .iter()
            .find(|n| n.name == node)?
            .op
            .matrix()?;
        Some(
            (0..n_in as u32)
                .filter(|r| removed.binary_search(r).is_err())
                .collect(),
        )
    }

    /// The tensor `{node}.{suffix}`.
    ///
    /// # Panics
    /// When the node has no such tensor (checked at construction for every op's tensors).
    pub fn tensor(&self, node: &str, suffix: &str) -> &[f32] {
        &self.tensors[&format!("{node}.{suffix}")]
    }

    /// All tensors by name.
    pub fn tensors(&self) -> &BTreeMap<String, Vec<f32>> {
        &self.tensors
    }

    /// Loads `network.json` and `weights.safetensors` from a model folder.
    ///
    /// # Errors
    /// Unreadable or malformed files, and everything [`Network::new`] checks.
    pub fn load(dir: &Path) -> Result<Network> {
        Self::load_files(&dir.join(ARCH_FILE), &dir.join(WEIGHTS_FILE))
    }

    /// Loads only the architecture of the model folder `dir` (for the cost model, which
    /// needs no weights).
    ///
    /// # Errors
    /// A missing or malformed `network.json`.
    pub fn load_graph(dir: &Path) -> Result<Graph> {
        read_graph(&dir.join(ARCH_FILE)).map(|(graph, _)| graph)
    }

    /// Loads an architecture file and a weight file.
    ///
    /// # Errors
    /// As [`Network::load`].
    pub fn load_files(arch: &Path, weights: &Path) -> Result<Network> {
        let (graph, file) = read_graph(arch)?;
        let origin = weights.display().to_string();
        let tensors = read_safetensors(weights)?;
        // Every tensor has exactly its layer's shape: a transposed matrix holds as many
        // values as the right one.
        for node in &graph.nodes {
            for (suffix, shape) in node.op.tensors() {
                let key = format!("{}.{suffix}", node.name);
                if let Some((stored, _)) = tensors.get(&key)
                    && *stored != shape
                {
                    return Err(Error::network(
                        &origin,
                        format!(
                            "tensor {key} has shape {stored:?} ({} values), the node needs {shape:?} ({} values; PyTorch layout: {})",
                            stored.iter().product::<usize>(),
                            shape.iter().product::<usize>(),
                            node.op.layout(suffix)
                        ),
                    ));
                }
            }
        }
        let tensors = tensors
            .into_iter()
            .map(|(k, (_, values))| (k, values))
            .collect();
        Network::new(graph, file.normalization, tensors, &origin)
    }

    /// Writes `network.json` and `weights.safetensors` into `dir` (created if missing), each
    /// file atomically.
    ///
    /// # Errors
    /// I/O failures.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut file = self.graph.to_file();
        file.normalization = self.normalization.clone();
        let json = serde_json::to_string_pretty(&file).expect("network JSON is serialisable");
        write_atomic(&dir.join(ARCH_FILE), json.as_bytes())?;
        let views: Vec<(String, TensorView<'_>)> = self
            .graph
            .nodes
            .iter()
            .flat_map(|node| {
                node.op.tensors().into_iter().map(move |(suffix, shape)| {
                    let key = format!("{}.{suffix}", node.name);
                    (key, shape)
                })
            })
            .map(|(key, shape)| {
                let bytes: &[u8] = bytemuck::cast_slice(&self.tensors[&key]);
                let view = TensorView::new(Dtype::F32, shape, bytes).expect("sizes checked");
                (key, view)
            })
            .collect();
        let bytes = safetensors::serialize(views, None)
            .map_err(|e| Error::network(dir.display(), format!("safetensors: {e}")))?;
        write_atomic(&dir.join(WEIGHTS_FILE), &bytes)
    }
}

fn graph_has_tensor(graph: &Graph, key: &str) -> bool {
    graph.nodes.iter().any(|node| {
        node.op
            .tensors()
            .iter()
            .any(|(suffix, _)| key == format!("{}.{suffix}", node.name))
    })
}

/// Tensors by name, each with its shape and row-major values.
type ShapedTensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Reads every tensor of a safetensors file as f32 with its shape (f32, f16, bf16 and f64 are
/// accepted; the crate checks the header's offsets against the file's real size).
fn read_safetensors(path: &Path) -> Result<ShapedTensors> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let file = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::network(&origin, format!("not a safetensors file ({e})")))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.tensors() {
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|b| half_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
                .collect(),
            other => {
                return Err(Error::network(
                    &origin,
                    format!("tensor {name} has element type {other:?}; store floats"),
                ));
            }
        };
        tensors.insert(name, (view.shape().to_vec(), values));
    }
    Ok(tensors)
}

/// IEEE half to single precision.
fn half_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: value = m * 2^-24.
            let v = m as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Reads and validates an architecture file.
fn read_graph(path: &Path) -> Result<(Graph, GraphFile)> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let file: GraphFile = serde_json::from_str(&text)
        .map_err(|e| Error::network(&origin, format!("not a network description ({e})")))?;
    Ok((Graph::from_file(&file, &origin)?, file))
}
