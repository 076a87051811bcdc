//! The settings of `imcnas train`: what a training run does, saved as `train.json` beside its
//! results and compared on `--resume`.

use super::check::Checker;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// What a training run does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainOptions {
    /// Dataset name.
    pub dataset: String,
    /// Architecture name.
    pub arch: String,
    /// Epochs in all (1..=100000).
    pub epochs: usize,
    /// Images per step (1..=65536).
    pub batch_size: usize,
    /// Peak learning rate of Adam, decayed by a cosine to 0 over the run (in (0, 10)).
    pub learning_rate: f64,
    /// Seed of initialisation, shuffling, validation split and noise.
    pub seed: u64,
    /// Fraction of the training split held out for validation (in (0, 0.9)).
    pub validation_fraction: f32,
    /// Relative weight noise of hardware-aware training (0 = off, ..=1).
    pub noise_eta: f32,
    /// Hardware configuration whose DAC and ADC are fake-quantized (none = off).
    pub fake_quant: Option<String>,
    /// Weight clipping at this many standard deviations after every step (none = off, > 0).
    pub clip_sigma: Option<f32>,
    /// Relative gain-error noise before every batch norm (0 = off, ..=1; absent in runs saved
    /// before it existed).
    #[serde(default)]
    pub gain_noise: f32,
    /// Training images used at most (none = all), for quick runs.
    pub max_train: Option<usize>,
}

impl TrainOptions {
    /// Checks every value's range.
    ///
    /// # Errors
    /// The first value out of range, named.
    pub fn check(&self) -> Result<()> {
        let check = Checker::new("imcnas train");
        check.range("epochs", self.epochs, 1, 100_000)?;
        check.range("batch size", self.batch_size, 1, 65_536)?;
        if !(self.learning_rate > 0.0 && self.learning_rate < 10.0) {
            return Err(check.fail("learning rate", self.learning_rate, "expected in (0, 10)"));
        }
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 0.9) {
            return Err(check.fail(
                "validation fraction",
                self.validation_fraction,
                "expected in (0, 0.9): a validation split of at least one image",
            ));
        }
        check.range_f("noise eta", f64::from(self.noise_eta), 0.0, 1.0)?;
        check.range_f("gain noise", f64::from(self.gain_noise), 0.0, 1.0)?;
        if let Some(s) = self.clip_sigma {
            check.positive("clip sigma", f64::from(s))?;
        }
        Ok(())
    }
}
