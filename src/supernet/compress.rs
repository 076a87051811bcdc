//! Compression of a subnet before it is mapped: per stage, weights rounded to fewer bits, and
//! crossbar-aware structured pruning that removes whole input rows of each convolution's
//! unrolled weight matrix (the rows of smallest L1 norm), so that the rows, and with them
//! tiles, leave the array.
//!
//! The rows removed leave the network's mapping ([`Network::prune_inputs`]): the engine
//! programs and feeds only the rows kept, so a pruned layer spans fewer tiles and carries no
//! devices for the removed rows, and the cost model maps only the rows kept.

use super::genome::{Candidate, STAGES};
use crate::cost::model::{Compression, LayerCompression};
use crate::error::Result;
use crate::network::{Network, Op};

/// `net` with stage `s`'s convolutions (`layer{s+1}.*`) quantized to `candidate.weight_bits[s]`
/// and pruned by `candidate.prune[s]`, and the plan the cost model needs.
///
/// # Errors
/// A network that no longer validates (cannot happen for a subnet of the family).
pub fn compress(net: &Network, candidate: &Candidate) -> Result<(Network, Compression)> {
    let mut tensors = net.tensors().clone();
    let mut plan = Compression::new();
    let mut removed = Vec::new();
    for node in &net.graph.nodes {
        let Op::Conv2d {
            in_channels,
            out_channels,
            kernel,
            ..
        } = node.op
        else {
            continue;
        };
        let Some(stage) = stage_of(&node.name) else {
            continue;
        };
        let key = format!("{}.weight", node.name);
        let Some(weights) = tensors.get_mut(&key) else {
            continue;
        };
        let rows = in_channels * kernel * kernel;
        let pruned = prune_rows(weights, out_channels, rows, candidate.prune[stage]);
        let rows_kept = rows - pruned.len();
        let bits = candidate.weight_bits[stage];
        quantize(weights, bits);
        plan.insert(
            node.name.clone(),
            LayerCompression {
                rows_kept: Some(rows_kept),
                weight_bits: Some(bits),
            },
        );
        removed.push((node.name.clone(), pruned, bits));
    }
    let mut compressed = Network::new(
        net.graph.clone(),
        net.normalization.clone(),
        tensors,
        "compressed subnet",
    )?;
    for (node, rows, bits) in removed {
        compressed.prune_inputs(&node, rows)?;
        compressed.set_weight_bits(&node, bits)?;
    }
    Ok((compressed, plan))
}

/// The 0-based stage of a node named `layer{s}.*`.
fn stage_of(name: &str) -> Option<usize> {
    let rest = name.strip_prefix("layer")?;
    let stage: usize = rest.split('.').next()?.parse().ok()?;
    (1..=STAGES).contains(&stage).then(|| stage - 1)
}

/// Zeroes the `fraction` of rows (inputs of the unrolled `out x rows` matrix, PyTorch
/// layout: row r is element r of every output's filter) with the smallest L1 norm over the
/// outputs, keeping at least one; returns the rows removed.
pub fn prune_rows(weights: &mut [f32], outputs: usize, rows: usize, fraction: f64) -> Vec<u32> {
    let remove = ((rows as f64 * fraction).floor() as usize).min(rows - 1);
    if remove == 0 {
        return Vec::new();
    }
    let mut norms: Vec<(f64, usize)> = (0..rows)
        .map(|r| {
            let l1 = (0..outputs)
                .map(|o| f64::from(weights[o * rows + r].abs()))
                .sum();
            (l1, r)
        })
        .collect();
    // Ties go to the later row, so the outcome does not depend on the sort.
    norms.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut removed = Vec::with_capacity(remove);
    for &(_, r) in &norms[..remove] {
        for o in 0..outputs {
            weights[o * rows + r] = 0.0;
        }
        removed.push(r as u32);
    }
    removed.sort_unstable();
    removed
}

/// Rounds `weights` to a symmetric grid of 2^(bits-1) - 1 steps per sign spanning the
/// largest magnitude (zero stays exactly zero).
pub fn quantize(weights: &mut [f32], bits: u32) {
    let largest = weights.iter().fold(0.0f32, |m, w| m.max(w.abs()));
    if largest == 0.0 || bits >= 24 {
        return;
    }
    let steps = ((1u32 << (bits - 1)) - 1) as f32;
    let step = largest / steps;
    for w in weights.iter_mut() {
        *w = (*w / step).round() * step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_removes_the_rows_of_smallest_l1_norm() {
        // 2 outputs x 4 rows; row norms 3, 0.5, 2, 1.
        let mut w = vec![1.0, 0.25, -1.0, 0.5, -2.0, 0.25, 1.0, -0.5];
        assert_eq!(prune_rows(&mut w, 2, 4, 0.5), vec![1, 3]);
        assert_eq!(w, vec![1.0, 0.0, -1.0, 0.0, -2.0, 0.0, 1.0, 0.0]);
        let mut all = w.clone();
        assert!(prune_rows(&mut all, 2, 4, 0.0).is_empty());
        assert_eq!(all, w);
        // Never every row.
        assert_eq!(prune_rows(&mut [1.0; 8], 2, 4, 0.95).len(), 3);
    }

    #[test]
    fn quantization_keeps_the_largest_weight_and_the_grid() {
        let mut w = vec![0.9, -0.31, 0.0, 0.05, -0.9];
        quantize(&mut w, 3); // 3 steps per sign of 0.3
        let expected = [0.9, -0.3, 0.0, 0.0, -0.9];
        for (a, b) in w.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{w:?}");
        }
    }

    #[test]
    fn stages_are_read_from_node_names() {
        assert_eq!(stage_of("layer1.0.conv1"), Some(0));
        assert_eq!(stage_of("layer3.2.down.conv"), Some(2));
        assert_eq!(stage_of("stem.conv"), None);
        assert_eq!(stage_of("layer4.0.conv1"), None);
    }
}
