//! Hardware configuration: loading (file or embedded preset), `--set` overrides, and
//! validation into the checked [`HwConfig`] that the engine runs on.

mod schema;

pub use schema::*;

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
];

/// Reads a configuration from a file path or a preset name and applies `overrides`
/// (`section.key=value`), then validates it.
///
/// # Errors
/// A missing file that is not a preset either, TOML syntax, unknown keys, wrong types and
/// out-of-range values, each naming the file and the key.
pub fn load(name_or_path: &str, overrides: &[String]) -> Result<HwConfig> {
    let (origin, text) = read_source(name_or_path)?;
    let mut table: toml::Table =
        toml::from_str(&text).map_err(|e| toml_error(&origin, &text, &e))?;
    for assignment in overrides {
        apply_override(&mut table, assignment)?;
    }
    let origin = if overrides.is_empty() {
        origin
    } else {
        format!("{origin} (with --set)")
    };
    let file: HwConfigFile =
        HwConfigFile::deserialize_table(table).map_err(|message| Error::Config {
            origin: origin.clone(),
            message,
        })?;
    HwConfig::validate(file, &origin)
}

fn read_source(name_or_path: &str) -> Result<(String, String)> {
    let path = Path::new(name_or_path);
    if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        return Ok((path.display().to_string(), text));
    }
    match PRESETS.iter().find(|(name, _)| *name == name_or_path) {
        Some((name, text)) => Ok((format!("preset {name}"), (*text).to_string())),
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

/// One line out of a TOML error: the message and where it is.
fn toml_error(origin: &str, text: &str, error: &toml::de::Error) -> Error {
    let place = error
        .span()
        .map(|span| {
            format!(
                "line {}: ",
                text[..span.start.min(text.len())].lines().count().max(1)
            )
        })
        .unwrap_or_default();
    Error::Config {
        origin: origin.to_string(),
        message: format!("{place}{}", error.message().trim()),
    }
}

/// Sets `section.key` in the table to `value`, read as a TOML value when it parses as one
/// (numbers, booleans, quoted strings) and as a bare string otherwise (`model=pcm`).
pub fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<()> {
    let bad = |message: String| Error::Config {
        origin: format!("--set {assignment}"),
        message,
    };
    let (key, value) = assignment
        .split_once('=')
        .ok_or_else(|| bad("expected section.key=value".to_string()))?;
    let path: Vec<&str> = key.trim().split('.').collect();
    if path.len() != 2 || path.iter().any(|p| p.is_empty()) {
        return Err(bad(format!(
            "`{}` is not of the form section.key",
            key.trim()
        )));
    }
    let value = value.trim();
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let section = table
        .entry(path[0].to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match section {
        toml::Value::Table(section) => {
            section.insert(path[1].to_string(), parsed);
            Ok(())
        }
        _ => Err(bad(format!("`{}` is not a section", path[0]))),
    }
}

impl HwConfigFile {
    fn deserialize_table(table: toml::Table) -> std::result::Result<Self, String> {
        // Serialising the table back to text lets the TOML deserialiser report unknown keys
        // and wrong types with their names.
        let text = toml::to_string(&table).map_err(|e| e.to_string())?;
        toml::from_str(&text).map_err(|e| e.message().trim().replace('\n', " "))
    }

    /// The configuration as TOML text, for saving beside results.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

/// A quantizer of the DAC or the ADC: `step` 0 means ideal (no rounding, no clipping).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantizer {
    /// Quantization step (0 = ideal).
    pub step: f32,
    /// Clipping bound (infinite when ideal).
    pub bound: f32,
}

impl Quantizer {
    /// A converter of `bits` bits (0 = ideal) over [-bound, bound].
    pub fn new(bits: u32, bound: f32) -> Self {
        if bits == 0 {
            Quantizer {
                step: 0.0,
                bound: f32::INFINITY,
            }
        } else {
            // aihwkit's resolution 1 / (2^bits - 2) of the full range 2 * bound.
            let levels_minus_two = (2f64.powi(bits as i32) - 2.0) as f32;
            Quantizer {
                step: 2.0 * bound / levels_minus_two,
                bound,
            }
        }
    }
}

/// A validated hardware configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct HwConfig {
    /// The configuration as given (after overrides), saved with results.
    pub file: HwConfigFile,
    /// Largest tile: rows (inputs) and columns (outputs).
    pub tile_rows: usize,
    /// See `tile_rows`.
    pub tile_cols: usize,
    /// Input quantizer.
    pub dac: Quantizer,
    /// Output quantizer.
    pub adc: Quantizer,
    /// Input scaling.
    pub noise_management: NoiseManagement,
    /// Rounds of bound management at most (1 = none).
    pub max_bm_rounds: u32,
    /// Output noise standard deviation.
    pub out_noise: f32,
    /// Per-MVM weight read noise coefficient.
    pub w_noise: f32,
    /// Conductance levels per device (0 = continuous).
    pub weight_levels: u32,
    /// The chip of the cost model.
    pub cost: crate::cost::CostParams,
}

impl HwConfig {
    /// The device section (validated with the rest).
    pub fn device(&self) -> &DeviceSection {
        &self.file.device
    }

    /// The same hardware read `seconds` after programming.
    ///
    /// # Errors
    /// A time out of the configuration's range.
    pub fn at_time(&self, seconds: f64, origin: &str) -> Result<Self> {
        let mut file = self.file.clone();
        file.device.t_inference_s = seconds;
        Self::validate(file, origin)
    }

    /// Checks every value of `file`; `origin` names it in errors.
    ///
    /// # Errors
    /// [`Error::ConfigValue`] for the first out-of-range key.
    pub fn validate(file: HwConfigFile, origin: &str) -> Result<Self> {
        let check = Checker { origin };
        check.range_u("tile.rows", file.tile.rows, 4, 1024)?;
        check.range_u("tile.cols", file.tile.cols, 4, 1024)?;
        check.bits("dac.bits", file.dac.bits)?;
        check.bits("adc.bits", file.adc.bits)?;
        check.positive("dac.bound", file.dac.bound)?;
        check.positive("adc.bound", file.adc.bound)?;
        check.range_f("adc.bm_max_factor", file.adc.bm_max_factor, 1.0, 1e9)?;
        check.positive("adc.bm_max_res", file.adc.bm_max_res)?;
        check.non_negative("adc.out_noise", file.adc.out_noise)?;
        let d = &file.device;
        check.positive("device.g_max_us", d.g_max_us)?;
        check.non_negative("device.prog_noise_scale", d.prog_noise_scale)?;
        check.non_negative("device.read_noise_scale", d.read_noise_scale)?;
        check.non_negative("device.drift_scale", d.drift_scale)?;
        check.non_negative("device.w_noise", d.w_noise)?;
        check.non_negative("device.generic_sigma", d.generic_sigma)?;
        if !(d.t_inference_s.is_finite() && d.t_inference_s >= 0.0) {
            return Err(check.fail(
                "device.t_inference_s",
                d.t_inference_s,
                "a finite time >= 0 s",
            ));
        }
        check.range_f("device.stuck_on", d.stuck_on, 0.0, 1.0)?;
        check.range_f("device.stuck_off", d.stuck_off, 0.0, 1.0)?;
        if d.stuck_on + d.stuck_off > 1.0 {
            return Err(check.fail(
                "device.stuck_on + device.stuck_off",
                d.stuck_on + d.stuck_off,
                "at most 1",
            ));
        }
        let levels = file.mapping.weight_levels;
        if levels == 1 || levels > 65536 {
            return Err(check.fail(
                "mapping.weight_levels",
                levels,
                "0 (continuous) or 2..=65536",
            ));
        }

        let cost = crate::cost::CostParams::new(
            &file.cost,
            file.tile.rows as usize,
            file.tile.cols as usize,
            origin,
        )?;
        let dac = Quantizer::new(file.dac.bits, file.dac.bound);
        let adc = Quantizer::new(file.adc.bits, file.adc.bound);
        let max_bm_rounds = match file.adc.bound_management {
            BoundManagement::None => 1,
            BoundManagement::Iterative => {
                bm_rounds(file.adc.bm_max_factor, file.adc.bm_max_res, dac.step)
            }
        };
        Ok(HwConfig {
            tile_rows: file.tile.rows as usize,
            tile_cols: file.tile.cols as usize,
            dac,
            adc,
            noise_management: file.dac.noise_management,
            max_bm_rounds,
            out_noise: file.adc.out_noise,
            w_noise: file.device.w_noise,
            weight_levels: levels,
            cost,
            file,
        })
    }
}

/// Number of bound-management rounds: the input scale is halved (r = 1, 2, 4, ...) while
/// an output saturates and r has not passed min(max_factor, max_res / dac_step).
fn bm_rounds(max_factor: f32, max_res: f32, dac_step: f32) -> u32 {
    let limit = if dac_step > 0.0 {
        max_factor.min(max_res / dac_step)
    } else {
        max_factor
    };
    let mut rounds = 1;
    let mut r = 1.0f32;
    while r <= limit && rounds < 32 {
        rounds += 1;
        r *= 2.0;
    }
    rounds
}

struct Checker<'a> {
    origin: &'a str,
}

impl Checker<'_> {
    fn fail(&self, field: &str, value: impl std::fmt::Display, expected: &str) -> Error {
        Error::ConfigValue {
            origin: self.origin.to_string(),
            field: field.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }
    fn range_u(&self, field: &str, v: u32, lo: u32, hi: u32) -> Result<()> {
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(self.fail(field, v, &format!("expected {lo}..={hi}")))
        }
    }
    fn bits(&self, field: &str, v: u32) -> Result<()> {
        if v == 0 || (2..=24).contains(&v) {
            Ok(())
        } else {
            Err(self.fail(field, v, "expected 0 (ideal) or 2..=24"))
        }
    }
    fn range_f(&self, field: &str, v: f32, lo: f32, hi: f32) -> Result<()> {
        if v.is_finite() && v >= lo && v <= hi {
            Ok(())
        } else {
            Err(self.fail(field, v, &format!("expected {lo}..={hi}")))
        }
    }
    fn positive(&self, field: &str, v: f32) -> Result<()> {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(self.fail(field, v, "expected a finite value > 0"))
        }
    }
    fn non_negative(&self, field: &str, v: f32) -> Result<()> {
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(self.fail(field, v, "expected a finite value >= 0"))
        }
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
}
