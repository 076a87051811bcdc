//! Mapping a layer onto crossbar tiles: aihwkit's balanced split into input and output
//! groups, and the per-tile weight-to-conductance scale.
//!
//! The split helpers are closed forms so that the shaders compute the same groups without
//! tables (twins of `split_start`, `split_size` and `group_of` in `shaders/common.wgsl`).

use crate::error::{Error, Result};

/// Groups needed to split `total` into pieces of at most `max_size`.
pub fn group_count(total: usize, max_size: usize) -> usize {
    total.div_ceil(max_size).max(1)
}

/// First index of group `g` when `total` is split into `groups` near-equal groups, the
/// first `total % groups` of them one larger (48 in 2 groups: [24, 24]; 50 in 3: [17, 17, 16]).
#[inline]
pub fn split_start(total: u32, groups: u32, g: u32) -> u32 {
    let base = total / groups;
    let extra = total % groups;
    g * base + g.min(extra)
}

/// Size of group `g` of the balanced split.
#[inline]
pub fn split_size(total: u32, groups: u32, g: u32) -> u32 {
    total / groups + u32::from(g < total % groups)
}

/// The group holding index `x` of the balanced split.
#[inline]
pub fn group_of(x: u32, total: u32, groups: u32) -> u32 {
    let base = total / groups;
    let extra = total % groups;
    let big_end = extra * (base + 1);
    if x < big_end {
        x / (base + 1)
    } else {
        extra + (x - big_end) / base
    }
}

/// A layer of `n_out` x `n_in` weights split onto tiles of at most `tile_rows` inputs and
/// `tile_cols` outputs. Tile `t = g * out_groups + o` holds input group `g` and output
/// group `o`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileGrid {
    /// Layer outputs (weight rows).
    pub n_out: usize,
    /// Layer inputs (weight columns).
    pub n_in: usize,
    /// Input groups (tile rows of the grid).
    pub in_groups: usize,
    /// Output groups (tile columns of the grid).
    pub out_groups: usize,
}

impl TileGrid {
    /// The grid of a layer.
    ///
    /// # Errors
    /// Empty layers, and layers whose element count does not fit the engine's 32-bit
    /// indices (2^32 weights).
    pub fn new(n_out: usize, n_in: usize, tile_rows: usize, tile_cols: usize) -> Result<Self> {
        if n_out == 0 || n_in == 0 {
            return Err(Error::Shape(format!(
                "layer of {n_out} x {n_in} weights is empty"
            )));
        }
        if n_out
            .checked_mul(n_in)
            .is_none_or(|n| n > u32::MAX as usize)
        {
            return Err(Error::Shape(format!(
                "layer of {n_out} x {n_in} weights exceeds 2^32 weights"
            )));
        }
        Ok(TileGrid {
            n_out,
            n_in,
            in_groups: group_count(n_in, tile_rows),
            out_groups: group_count(n_out, tile_cols),
        })
    }

    /// Number of tiles.
    pub fn tiles(&self) -> usize {
        self.in_groups * self.out_groups
    }

    /// Input range of group `g`.
    pub fn in_range(&self, g: usize) -> std::ops::Range<usize> {
        range(self.n_in, self.in_groups, g)
    }

    /// Output range of group `o`.
    pub fn out_range(&self, o: usize) -> std::ops::Range<usize> {
        range(self.n_out, self.out_groups, o)
    }

    /// Tile holding weight (row `i`, column `j`).
    pub fn tile_of(&self, i: usize, j: usize) -> usize {
        let g = group_of(j as u32, self.n_in as u32, self.in_groups as u32) as usize;
        let o = group_of(i as u32, self.n_out as u32, self.out_groups as u32) as usize;
        g * self.out_groups + o
    }

    /// Per-tile conductance scale g_max / max(max|W_tile|, [`ZERO_CLIP`]), so that the
    /// largest weight of each tile maps to g_max. `w` is (n_out, n_in) row-major.
    pub fn conductance_scales(&self, w: &[f32], g_max: f32) -> Vec<f32> {
        let mut max_abs = vec![0f32; self.tiles()];
        for o in 0..self.out_groups {
            for i in self.out_range(o) {
                let row = &w[i * self.n_in..(i + 1) * self.n_in];
                for g in 0..self.in_groups {
                    let m = row[self.in_range(g)]
                        .iter()
                        .fold(0f32, |m, v| m.max(v.abs()));
                    let t = g * self.out_groups + o;
                    max_abs[t] = max_abs[t].max(m);
                }
            }
        }
        // A tile of all-zero (or tiny) weights is scaled as if its largest magnitude were
        // ZERO_CLIP, aihwkit's choice: its devices' programming noise then divides into
        // weight errors of ~1e-9, where a scale of 1 would make them ~0.3 weight units.
        max_abs
            .into_iter()
            .map(|m| g_max / m.max(ZERO_CLIP))
            .collect()
    }
}

impl TileGrid {
    /// Count of digital gains of a layer: one per (input group, output).
    pub fn digital_gains(&self) -> usize {
        self.in_groups * self.n_out
    }

    /// Per-tile values `per_tile[g * out_groups + o]` spread over the digital gains of
    /// their tiles' outputs, `[g * n_out + i]`.
    pub fn per_output(&self, per_tile: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.digital_gains());
        for g in 0..self.in_groups {
            for o in 0..self.out_groups {
                out.extend(self.out_range(o).map(|_| per_tile[g * self.out_groups + o]));
            }
        }
        out
    }

    /// The largest weight magnitude of every (input group, output), `[g * n_out + i]`: of
    /// the output's own row within the group (`per_column`) or of the whole tile; never
    /// below [`ZERO_CLIP`], so that all-zero weights divide into zeros.
    pub fn weight_magnitudes(&self, w: &[f32], per_column: bool) -> Vec<f32> {
        let mut m = vec![0f32; self.digital_gains()];
        for g in 0..self.in_groups {
            for i in 0..self.n_out {
                m[g * self.n_out + i] = w[i * self.n_in..][self.in_range(g)]
                    .iter()
                    .fold(0f32, |m, v| m.max(v.abs()));
            }
            if !per_column {
                for o in 0..self.out_groups {
                    let tile = &mut m[g * self.n_out..][self.out_range(o)];
                    let top = tile.iter().fold(0f32, |a, &b| a.max(b));
                    tile.fill(top);
                }
            }
        }
        m.iter_mut().for_each(|v| *v = v.max(ZERO_CLIP));
        m
    }

    /// Weights `w` (n_out, n_in) divided by the magnitude of their (input group, output).
    pub fn divide_by(&self, w: &[f32], magnitudes: &[f32]) -> Vec<f32> {
        let mut out = w.to_vec();
        for (i, row) in out.chunks_mut(self.n_in).enumerate() {
            for g in 0..self.in_groups {
                let m = magnitudes[g * self.n_out + i];
                row[self.in_range(g)].iter_mut().for_each(|v| *v /= m);
            }
        }
        out
    }

    /// Refuses a digital-gain vector of the wrong length.
    ///
    /// # Errors
    /// [`Error::Shape`] naming both counts.
    pub fn check_digital_gains(&self, gains: &[f32]) -> Result<()> {
        if gains.len() == self.digital_gains() {
            Ok(())
        } else {
            Err(Error::Shape(format!(
                "{} digital gains for a layer of {} input groups x {} outputs",
                gains.len(),
                self.in_groups,
                self.n_out
            )))
        }
    }
}

/// Smallest largest-magnitude a tile is scaled for (aihwkit's conductance converter's clamp).
pub const ZERO_CLIP: f32 = 1e-7;

fn range(total: usize, groups: usize, g: usize) -> std::ops::Range<usize> {
    let start = split_start(total as u32, groups as u32, g as u32) as usize;
    start..start + split_size(total as u32, groups as u32, g as u32) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_split_matches_aihwkit_examples() {
        let sizes = |total: u32, max: usize| {
            let n = group_count(total as usize, max) as u32;
            (0..n).map(|g| split_size(total, n, g)).collect::<Vec<_>>()
        };
        assert_eq!(sizes(48, 32), vec![24, 24]);
        assert_eq!(sizes(300, 128), vec![100, 100, 100]);
        assert_eq!(sizes(64, 32), vec![32, 32]);
        assert_eq!(sizes(50, 20), vec![17, 17, 16]);
        assert_eq!(sizes(7, 512), vec![7]);
    }

    #[test]
    fn group_of_inverts_split_start() {
        for total in 1..200u32 {
            for groups in 1..=total.min(9) {
                for g in 0..groups {
                    let start = split_start(total, groups, g);
                    for x in start..start + split_size(total, groups, g) {
                        assert_eq!(
                            group_of(x, total, groups),
                            g,
                            "total {total} groups {groups}"
                        );
                    }
                }
                assert_eq!(split_start(total, groups, groups), total);
            }
        }
    }

    #[test]
    fn scales_map_each_tiles_largest_weight_to_g_max() {
        let grid = TileGrid::new(3, 4, 2, 2).unwrap();
        let w = [1.0, -2.0, 0.5, 0.0, 4.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, -8.0];
        // Output groups [0,1] and [2]; input groups [0,1] and [2,3].
        assert_eq!(
            grid.conductance_scales(&w, 25.0),
            vec![25.0 / 4.0, 25.0 / ZERO_CLIP, 25.0 / 0.5, 25.0 / 8.0]
        );
        // Per (input group, output): the largest magnitude of the output's row in the
        // group, or of its tile; all-zero ones clipped.
        assert_eq!(
            grid.weight_magnitudes(&w, true),
            vec![2.0, 4.0, ZERO_CLIP, 0.5, ZERO_CLIP, 8.0]
        );
        assert_eq!(
            grid.weight_magnitudes(&w, false),
            vec![4.0, 4.0, ZERO_CLIP, 0.5, 0.5, 8.0]
        );
        assert_eq!(
            grid.per_output(&[1.0, 2.0, 3.0, 4.0]),
            vec![1.0, 1.0, 2.0, 3.0, 3.0, 4.0]
        );
    }
}
