//! The joint genome: architecture genes (stem width; per stage a depth, a width and a kernel
//! per block), compression genes (per stage weight bits and a row-pruning fraction) and
//! hardware genes (device, tile size, DAC bits, ADC bits, columns per ADC), all choice genes
//! over the experiment's option lists, decoded into a [`Candidate`].

use crate::config::experiment::mapping_options;
use crate::config::{
    AdcRange, BatchNormMapping, ExperimentFile, HardwareGenes, NoiseManagement, WeightScaling,
};
use crate::network::arch::{MacroArch, StageArch};
use crate::search::{Gene, GeneKind, Genome, Space};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Stages of the macro space.
pub const STAGES: usize = 3;

/// The hardware a candidate runs on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HardwareChoice {
    /// Hardware configuration (preset or file) of the device.
    pub device: String,
    /// Square tile side (rows = columns).
    pub tile: u32,
    /// DAC bits.
    pub dac_bits: u32,
    /// Magnitude bits per read (0 = one read).
    #[serde(default)]
    pub bits_per_read: u32,
    /// Rows read at once (0 = the whole tile).
    #[serde(default)]
    pub rows_parallel: u32,
    /// Bits per device of sliced weights.
    #[serde(default = "one")]
    pub cell_bits: u32,
    /// ADC bits.
    pub adc_bits: u32,
    /// ADC range.
    #[serde(default = "aihwkit_range")]
    pub adc_range: AdcRange,
    /// Columns per ADC.
    pub cols_per_adc: u32,
    /// Weight scaling (none: the device's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_scaling: Option<WeightScaling>,
    /// Batch norm placement (none: the device's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_norm: Option<BatchNormMapping>,
    /// Input scaling (none: the device's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_scaling: Option<NoiseManagement>,
}

fn one() -> u32 {
    1
}

fn aihwkit_range() -> AdcRange {
    AdcRange::Aihwkit
}

impl HardwareChoice {
    /// The genes set on the device's configuration.
    pub fn genes(&self) -> HardwareGenes {
        HardwareGenes {
            tile: self.tile,
            dac_bits: self.dac_bits,
            bits_per_read: self.bits_per_read,
            rows_parallel: self.rows_parallel,
            cell_bits: self.cell_bits,
            adc_bits: self.adc_bits,
            adc_range: self.adc_range,
            cols_per_adc: self.cols_per_adc,
            weight_scaling: self.weight_scaling,
            batch_norm: self.batch_norm,
            noise_management: self.input_scaling,
        }
    }
}

/// A decoded genome: what is built, compressed and costed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Stem width.
    pub stem: usize,
    /// Per stage: width and the kernel of each block.
    pub stages: Vec<(usize, Vec<usize>)>,
    /// Weight bits per stage.
    pub weight_bits: Vec<u32>,
    /// Fraction of input rows pruned per stage.
    pub prune: Vec<f64>,
    /// The hardware.
    pub hardware: HardwareChoice,
}

impl Candidate {
    /// The network family member (with projection shortcuts in every stage, as the
    /// supernet has).
    pub fn arch(&self) -> MacroArch {
        MacroArch {
            stem: self.stem,
            stages: self
                .stages
                .iter()
                .map(|(width, kernels)| StageArch {
                    width: *width,
                    kernels: kernels.clone(),
                })
                .collect(),
            always_project: true,
        }
    }

    /// One line: `stem8 | 16:k3,5 24:k3 32:k5 | w8,6,4 p0,0.25,0.5 | pcm t128 dac6 adc6 c8`.
    /// Genomes that differ only in genes this candidate does not use (kernels of blocks it
    /// lacks) give the same line, which is the key of the evaluation cache.
    pub fn describe(&self) -> String {
        let stages: Vec<String> = self
            .stages
            .iter()
            .map(|(w, k)| {
                let k: Vec<String> = k.iter().map(usize::to_string).collect();
                format!("{w}:k{}", k.join(","))
            })
            .collect();
        let bits: Vec<String> = self.weight_bits.iter().map(u32::to_string).collect();
        let prune: Vec<String> = self.prune.iter().map(f64::to_string).collect();
        let h = &self.hardware;
        // The genes of the one-chip description appear only when they differ from a single
        // multi-bit read of every row of continuous or 1-bit-cell weights with aihwkit's ADC
        // range, so that the lines of earlier runs keep their form.
        let mut read = String::new();
        if h.bits_per_read > 0 {
            read.push_str(&format!(" r{}", h.bits_per_read));
        }
        if h.rows_parallel > 0 {
            read.push_str(&format!(" g{}", h.rows_parallel));
        }
        if h.cell_bits != 1 {
            read.push_str(&format!(" cell{}", h.cell_bits));
        }
        let range = match h.adc_range {
            AdcRange::Aihwkit => "",
            AdcRange::Full => "-full",
            AdcRange::Fixed => "-fixed",
            AdcRange::Calibrated => "-cal",
        };
        let scaling = match h.weight_scaling {
            Some(WeightScaling::Tile) => " ws-tile",
            Some(WeightScaling::Column) => " ws-col",
            Some(WeightScaling::None) | None => "",
        };
        let mut scaling = match h.batch_norm {
            Some(BatchNormMapping::Fold) => format!("{scaling} bn-fold"),
            _ => scaling.to_string(),
        };
        match h.input_scaling {
            Some(NoiseManagement::Static) => scaling.push_str(" in-static"),
            Some(NoiseManagement::None) => scaling.push_str(" in-none"),
            Some(NoiseManagement::AbsMax) | None => {}
        }
        format!(
            "stem{} | {} | w{} p{} | {} t{} dac{}{read} adc{}{range} c{}{scaling}",
            self.stem,
            stages.join(" "),
            bits.join(","),
            prune.join(","),
            h.device,
            h.tile,
            h.dac_bits,
            h.adc_bits,
            h.cols_per_adc
        )
    }
}

/// The hardware keys in genome order, with their option counts.
fn hardware_genes(h: &crate::config::experiment::HardwareSection) -> [(&'static str, usize); 12] {
    [
        ("device", h.devices.len()),
        ("tile", h.tile_sizes.len()),
        ("dac_bits", h.dac_bits.len()),
        ("bits_per_read", h.bits_per_read.len()),
        ("rows_parallel", h.rows_parallel.len()),
        ("cell_bits", h.cell_bits.len()),
        ("adc_bits", h.adc_bits.len()),
        ("adc_range", h.adc_ranges.len()),
        ("cols_per_adc", h.cols_per_adc.len()),
        ("weight_scaling", h.weight_scalings.len()),
        ("batch_norm", h.batch_norms.len()),
        ("input_scaling", h.input_scalings.len()),
    ]
}

/// The genes of an experiment and their option lists.
#[derive(Clone, Debug, PartialEq)]
pub struct JointSpace {
    file: ExperimentFile,
    max_depth: usize,
}

impl JointSpace {
    /// The space of `file`'s option lists (checked by [`crate::config::Experiment`]).
    pub fn new(file: &ExperimentFile) -> JointSpace {
        JointSpace {
            file: file.clone(),
            max_depth: file.space.depths.iter().copied().max().unwrap_or(1),
        }
    }

    /// The genes, in genome order.
    pub fn space(&self) -> Space {
        let f = &self.file;
        let mut genes = Vec::new();
        let mut gene = |name: String, options: usize| {
            genes.push(Gene {
                name,
                kind: GeneKind::Choice { options },
            })
        };
        gene("stem".into(), f.space.stem_widths.len());
        for s in 0..STAGES {
            gene(format!("stage{}.depth", s + 1), f.space.depths.len());
            gene(
                format!("stage{}.width", s + 1),
                f.space.stage_widths[s].len(),
            );
            for b in 0..self.max_depth {
                gene(
                    format!("stage{}.block{b}.kernel", s + 1),
                    f.space.kernels.len(),
                );
            }
        }
        for s in 0..STAGES {
            gene(
                format!("stage{}.weight_bits", s + 1),
                f.compression.weight_bits.len(),
            );
            gene(
                format!("stage{}.prune", s + 1),
                f.compression.prune_fractions.len(),
            );
        }
        // A hardware key with one option is fixed, not a gene.
        let h = &f.hardware;
        for (name, options) in hardware_genes(h) {
            if options > 1 {
                gene(name.into(), options);
            }
        }
        Space { genes }
    }

    /// The candidate a genome encodes.
    pub fn decode(&self, genome: &Genome) -> Candidate {
        let f = &self.file;
        let mut genes = genome.iter().map(|&v| v as usize);
        let mut next = || genes.next().unwrap_or(0);
        let stem = f.space.stem_widths[next()];
        let mut stages = Vec::with_capacity(STAGES);
        for s in 0..STAGES {
            let depth = f.space.depths[next()];
            let width = f.space.stage_widths[s][next()];
            let kernels: Vec<usize> = (0..self.max_depth)
                .map(|_| f.space.kernels[next()])
                .collect();
            stages.push((width, kernels[..depth].to_vec()));
        }
        let mut weight_bits = Vec::with_capacity(STAGES);
        let mut prune = Vec::with_capacity(STAGES);
        for _ in 0..STAGES {
            weight_bits.push(f.compression.weight_bits[next()]);
            prune.push(f.compression.prune_fractions[next()]);
        }
        let h = &f.hardware;
        let mut pick = |options: usize| if options > 1 { next() } else { 0 };
        let hardware = HardwareChoice {
            device: h.devices[pick(h.devices.len())].clone(),
            tile: h.tile_sizes[pick(h.tile_sizes.len())],
            dac_bits: h.dac_bits[pick(h.dac_bits.len())],
            bits_per_read: h.bits_per_read[pick(h.bits_per_read.len())],
            rows_parallel: h.rows_parallel[pick(h.rows_parallel.len())],
            cell_bits: h.cell_bits[pick(h.cell_bits.len())],
            adc_bits: h.adc_bits[pick(h.adc_bits.len())],
            adc_range: h.adc_ranges[pick(h.adc_ranges.len())],
            cols_per_adc: h.cols_per_adc[pick(h.cols_per_adc.len())],
            weight_scaling: {
                let options = mapping_options(&h.weight_scalings);
                options[pick(options.len())]
            },
            batch_norm: {
                let options = mapping_options(&h.batch_norms);
                options[pick(options.len())]
            },
            input_scaling: {
                let options = mapping_options(&h.input_scalings);
                options[pick(options.len())]
            },
        };
        Candidate {
            stem,
            stages,
            weight_bits,
            prune,
            hardware,
        }
    }

    /// The supernet: the largest value of every architecture gene.
    pub fn largest(&self) -> MacroArch {
        self.extreme(|v| v.iter().copied().max().unwrap_or(1))
    }

    /// The smallest subnet.
    pub fn smallest(&self) -> MacroArch {
        self.extreme(|v| v.iter().copied().min().unwrap_or(1))
    }

    fn extreme(&self, pick: impl Fn(&[usize]) -> usize) -> MacroArch {
        let s = &self.file.space;
        MacroArch {
            stem: pick(&s.stem_widths),
            stages: (0..STAGES)
                .map(|i| StageArch {
                    width: pick(&s.stage_widths[i]),
                    kernels: vec![pick(&s.kernels); pick(&s.depths)],
                })
                .collect(),
            always_project: true,
        }
    }

    /// A uniformly drawn architecture (the sandwich rule's random subnets).
    pub fn random_arch(&self, rng: &mut impl Rng) -> MacroArch {
        let s = &self.file.space;
        let mut pick = |v: &[usize]| v[rng.random_range(0..v.len())];
        let stem = pick(&s.stem_widths);
        let stages = (0..STAGES)
            .map(|i| {
                let depth = pick(&s.depths);
                StageArch {
                    width: pick(&s.stage_widths[i]),
                    kernels: (0..depth).map(|_| pick(&s.kernels)).collect(),
                }
            })
            .collect();
        MacroArch {
            stem,
            stages,
            always_project: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn genomes_decode_to_their_options() {
        let file = ExperimentFile::default();
        let joint = JointSpace::new(&file);
        let space = joint.space();
        // stem + 3 x (depth, width, 3 kernels) + 3 x (bits, prune) + 8 hardware genes (device,
        // tile, DAC bits, bits per read, rows read at once, ADC bits, ADC range, columns per
        // ADC; the one cell-bits option is no gene).
        assert_eq!(space.genes.len(), 1 + 3 * 5 + 6 + 8);
        let zero = joint.decode(&vec![0.0; space.genes.len()]);
        assert_eq!(zero.stem, 8);
        assert_eq!(zero.stages[0], (8, vec![3]));
        assert_eq!(zero.hardware.device, "neurosim-rram-22nm");
        assert_eq!(zero.hardware.adc_range, AdcRange::Full);
        let last: Genome = space
            .genes
            .iter()
            .map(|g| match g.kind {
                GeneKind::Choice { options } => (options - 1) as f64,
                GeneKind::Real { high, .. } => high,
            })
            .collect();
        let top = joint.decode(&last);
        assert_eq!(top.arch(), joint.largest());
        assert_eq!(top.weight_bits, vec![8, 8, 8]);
        assert_eq!(top.prune, vec![0.5, 0.5, 0.5]);
        assert_eq!(top.hardware.tile, 256);
        assert_eq!(top.hardware.rows_parallel, 128);
        assert_eq!(top.hardware.adc_bits, 8);
        assert_eq!(top.hardware.adc_range, AdcRange::Calibrated);

        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..20 {
            let arch = joint.random_arch(&mut rng);
            for (stage, (small, large)) in joint
                .smallest()
                .stages
                .iter()
                .zip(&joint.largest().stages)
                .enumerate()
            {
                let got = &arch.stages[stage];
                assert!((small.width..=large.width).contains(&got.width));
                assert!((1..=3).contains(&got.kernels.len()));
            }
        }
    }
}
