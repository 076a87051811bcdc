//! The datasets of a run: normalised training images, validation images (raw for the engine,
//! normalised for burn), test images, and the normalisation, as the experiment asks.

use crate::config::Experiment;
use crate::data::{self, Dataset, Normalization, Split};
use crate::error::Result;

/// The datasets of a run: normalised training images, validation images (raw for the
/// engine, normalised for burn), test images, and the normalisation.
pub struct Splits {
    /// Training images (the experiment's first `data.max_train`), normalised.
    pub train: Dataset,
    /// Validation images, raw pixels.
    pub validation: Dataset,
    /// The same, normalised.
    pub validation_normalized: Dataset,
    /// Test images of the final evaluation, raw pixels.
    pub test: Dataset,
    /// Normalisation of the training images.
    pub normalization: Normalization,
}

/// The splits of `experiment`'s dataset.
///
/// # Errors
/// A dataset that does not load.
pub fn load_splits(experiment: &Experiment) -> Result<Splits> {
    let d = &experiment.file.data;
    let all = data::load(experiment.dataset, Split::Train, d.data_dir.as_deref())?;
    let (mut train, validation) =
        all.split_validation(d.validation_fraction, experiment.file.supernet.seed)?;
    if d.max_train > 0 {
        let keep: Vec<usize> = (0..d.max_train.min(train.len())).collect();
        train = train.select(&keep);
    }
    let normalization = Normalization::from_dataset(&train);
    train.normalize(&normalization);
    let first = |set: Dataset, n: usize| {
        if n == 0 || n >= set.len() {
            set
        } else {
            set.select(&(0..n).collect::<Vec<_>>())
        }
    };
    let validation = first(validation, d.search_images);
    let mut validation_normalized = validation.clone();
    validation_normalized.normalize(&normalization);
    let test = first(
        data::load(experiment.dataset, Split::Test, d.data_dir.as_deref())?,
        d.test_images,
    );
    Ok(Splits {
        train,
        validation,
        validation_normalized,
        test,
        normalization,
    })
}
