//! Every user-written configuration and its checked type, at the ground floor of the crate:
//! the hardware description ([`hardware`], with its `[cost]` section in [`cost`]), the
//! training settings of `imcnas train` ([`train`]) and the experiment of `imcnas run`
//! ([`experiment`]). One TOML loader reads them all ([`load`]), naming file, line and key in
//! its errors, and one validator checks their values ([`check`]) before any work starts.

pub mod cell;
pub mod check;
pub mod chip;
pub mod cost;
pub mod cost_section;
pub mod experiment;
pub mod hardware;
pub mod load;
pub mod parts;
pub mod train;

pub use cell::CellOp;
pub use check::Checker;
pub use chip::{HardwareGenes, HwConfig, Quantizer, ReadModel, Reads, Slicing};
pub use cost::{CostConfig, CostSection, Memory, Node};
pub use experiment::{DriftTime, Experiment, ExperimentFile, Objective, Strategy};
pub use hardware::*;
pub use load::Source;
pub use train::TrainOptions;

use crate::error::{Error, Result};
use std::path::Path;

/// The presets shipped in `models/`, embedded so that the binary needs no files.
pub const PRESETS: &[(&str, &str)] = &[
    ("ideal", include_str!("../../models/ideal.toml")),
    ("quant-only", include_str!("../../models/quant-only.toml")),
    (
        "aihwkit-default",
        include_str!("../../models/aihwkit-default.toml"),
    ),
    ("pcm", include_str!("../../models/pcm.toml")),
    ("rram", include_str!("../../models/rram.toml")),
    ("sram", include_str!("../../models/sram.toml")),
    (
        "neurosim-rram-22nm",
        include_str!("../../models/neurosim-rram-22nm.toml"),
    ),
    (
        "neurosim-sram-22nm",
        include_str!("../../models/neurosim-sram-22nm.toml"),
    ),
    (
        "crosssim-bitsliced",
        include_str!("../../models/crosssim-bitsliced.toml"),
    ),
    (
        "aihwkit-hwa-standard",
        include_str!("../../models/aihwkit-hwa-standard.toml"),
    ),
    (
        "analognas-bench",
        include_str!("../../models/analognas-bench.toml"),
    ),
];

/// Reads a hardware configuration from a file path or a preset name ([`hardware_source`])
/// and applies `overrides` (`section.key=value`), then validates it.
///
/// # Errors
/// An unknown preset, an unreadable file, TOML syntax, unknown keys, wrong types and
/// out-of-range values, each naming the file (or `--set`) and the key.
pub fn load(name_or_path: &str, overrides: &[String]) -> Result<HwConfig> {
    let source = hardware_source(name_or_path)?;
    let file: HwConfigFile = source.parse(overrides)?;
    let origin = if overrides.is_empty() {
        source.origin
    } else {
        format!("{} with --set {}", source.origin, overrides.join(" --set "))
    };
    HwConfig::validate(file, &origin)
}

/// The text of a hardware configuration named on the command line or in an experiment. A
/// name is a path when it contains `/` or ends in `.toml` (`./pcm` is the file `pcm`), and a
/// preset otherwise: a file in the working directory never shadows a preset; when one of that
/// name exists, a warning says which was read.
///
/// # Errors
/// A preset name that is not one of [`PRESETS`], an unreadable file.
pub fn hardware_source(name_or_path: &str) -> Result<Source> {
    if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
        return Source::file(Path::new(name_or_path));
    }
    match PRESETS.iter().find(|(name, _)| *name == name_or_path) {
        Some((name, text)) => {
            if Path::new(name_or_path).exists() {
                eprintln!(
                    "warning: `{name}` is read as the preset of that name, not as the file `{name}` in the working directory (write ./{name} for the file)"
                );
            }
            Ok(Source::embedded(format!("preset {name}"), text))
        }
        None => Err(Error::UnknownPreset {
            name: name_or_path.to_string(),
            known: PRESETS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_loads_and_validates() {
        for (name, _) in PRESETS {
            load(name, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn aihwkit_default_steps_and_bound_rounds() {
        let hw = load("aihwkit-default", &[]).unwrap();
        assert!((hw.dac.step - 1.0 / 63.0).abs() < 1e-9);
        assert!((hw.adc.step - 24.0 / 510.0).abs() < 1e-7);
        // r = 1, 2, 4, 8, 16: the last r passes 0.25 / (1/63) = 15.75.
        assert_eq!(hw.max_bm_rounds, 5);
    }

    #[test]
    fn overrides_change_values_and_reject_unknown_keys() {
        let hw = load("ideal", &["tile.rows=64".into(), "device.model=pcm".into()]).unwrap();
        assert_eq!(hw.tile_rows, 64);
        assert_eq!(hw.device().model, DeviceModel::Pcm);
        let err = load("ideal", &["tile.rowz=64".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("rowz"), "{err}");
        let err = load("ideal", &["dac.bits=1".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("dac.bits") && err.contains("= 1"), "{err}");
        let err = load("no-such-preset", &[]).unwrap_err().to_string();
        assert!(
            err.contains("no-such-preset") && err.contains("aihwkit-default"),
            "{err}"
        );
    }

    #[test]
    fn a_name_is_a_preset_unless_it_is_a_path() {
        let dir = std::env::temp_dir().join(format!("imcnas-presets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("custom.toml");
        std::fs::write(&file, "[tile]\nrows = 64\n").unwrap();
        assert_eq!(load(file.to_str().unwrap(), &[]).unwrap().tile_rows, 64);
        // A preset name without a path is the preset, a missing path is an I/O error, and a
        // bare name that is no preset is refused as one.
        assert_eq!(load("pcm", &[]).unwrap().origin, "preset pcm");
        let err = load("./pcm", &[]).unwrap_err().to_string();
        assert!(err.contains("./pcm"), "{err}");
        let err = load("custom", &[]).unwrap_err().to_string();
        assert!(err.contains("no preset"), "{err}");
    }

    #[test]
    fn genes_set_their_keys_on_both_views() {
        let base = load("neurosim-rram-22nm", &[]).unwrap();
        let genes = HardwareGenes {
            tile: 64,
            dac_bits: 6,
            bits_per_read: 2,
            rows_parallel: 16,
            cell_bits: 2,
            adc_bits: 6,
            adc_range: AdcRange::Full,
            cols_per_adc: 16,
            weight_scaling: Some(WeightScaling::Column),
            batch_norm: Some(BatchNormMapping::Fold),
            noise_management: Some(NoiseManagement::Static),
        };
        let hw = base.with_genes(&genes).unwrap();
        assert_eq!(hw.weight_scaling, WeightScaling::Column);
        assert!(hw.cost().unwrap().digital_scale);
        let cost = hw.cost().unwrap();
        assert_eq!((hw.tile_rows, hw.tile_cols), (64, 64));
        assert_eq!((cost.rows, cost.cols), (64, 64));
        assert_eq!((hw.reads.bits, cost.input_bits), (6, 6));
        // 5 magnitude bits, 2 per read: 3 reads, as simulated and as priced.
        assert_eq!((hw.reads.per_phase, cost.dac_bits), (3, 2));
        assert_eq!(cost.reads, hw.reads.total());
        assert_eq!((hw.rows_parallel, cost.rows_parallel), (16, 16));
        assert_eq!((hw.slicing.cell_bits, cost.cell_bits), (2, 2));
        assert_eq!((hw.file.adc.bits, cost.adc_bits), (6, 6));
        assert_eq!(cost.cols_per_adc, 16);
        // The same as the overrides a user would write.
        let by_hand = load(
            "neurosim-rram-22nm",
            &[
                "tile.rows=64".into(),
                "tile.cols=64".into(),
                "tile.rows_parallel=16".into(),
                "dac.bits=6".into(),
                "dac.bits_per_read=2".into(),
                "mapping.cell_bits=2".into(),
                "adc.bits=6".into(),
                "adc.range=\"full\"".into(),
                "cost.cols_per_adc=16".into(),
                "mapping.weight_scaling=\"column\"".into(),
                "mapping.batch_norm=\"fold\"".into(),
                "dac.noise_management=\"static\"".into(),
            ],
        )
        .unwrap();
        assert_eq!(hw.file, by_hand.file);
        let too_wide = HardwareGenes {
            cols_per_adc: 256,
            ..genes
        };
        let err = base.with_genes(&too_wide).unwrap_err().to_string();
        assert!(err.contains("cost.cols_per_adc"), "{err}");
    }

    #[test]
    fn the_aihwkit_range_reads_only_aihwkit_s_chip() {
        let err = load("aihwkit-default", &["tile.rows_parallel=32".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("adc.range") && err.contains("tile.rows_parallel"),
            "{err}"
        );
        let hw = load(
            "aihwkit-default",
            &["tile.rows_parallel=32".into(), "adc.range=\"full\"".into()],
        )
        .unwrap();
        assert_eq!(hw.read_model, ReadModel::Sliced);
    }
}
