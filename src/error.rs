//! The library's one error type, grouped by area; every variant names what it is about
//! (file, field, layer) so that the command line can print it as a single line.

use std::path::PathBuf;

/// Every failure the library reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said (part of the message, so not chained as a source:
        /// a chain would print it twice).
        cause: std::io::Error,
    },

    /// A configuration file or override is not valid TOML or does not fit the schema.
    #[error("config {origin}: {message}")]
    Config {
        /// The file or preset name, or `--set` for an override.
        origin: String,
        /// What is wrong, naming the key.
        message: String,
    },

    /// A configuration value is out of range; checked before any work starts.
    #[error("config {origin}: {field} = {value}: {expected}")]
    ConfigValue {
        /// The file or preset name.
        origin: String,
        /// The key, as `section.key`.
        field: String,
        /// The value given.
        value: String,
        /// What would be accepted.
        expected: String,
    },

    /// A hardware configuration named without a path (no `/`, no `.toml`) that is no preset.
    #[error(
        "config {name}: no preset of that name (presets: {known}; name a file with a path, e.g. ./{name}.toml)"
    )]
    UnknownPreset {
        /// What was asked for.
        name: String,
        /// The preset names.
        known: String,
    },

    /// A `.npy` file that is malformed, truncated or of the wrong element type.
    #[error("{path}: {message}")]
    Npy {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A dataset file that is missing, malformed, truncated or inconsistent.
    #[error("dataset {origin}: {message}")]
    Data {
        /// The file, or the dataset name where no file is involved.
        origin: String,
        /// What is wrong, naming the field or record.
        message: String,
    },

    /// A network description or weight file that is malformed or does not fit together.
    #[error("network {origin}: {message}")]
    Network {
        /// The file, or the node where no file is involved.
        origin: String,
        /// What is wrong, naming the node or tensor.
        message: String,
    },

    /// Training failed or a checkpoint does not fit the run.
    #[error("training: {0}")]
    Training(String),

    /// Arrays whose shapes do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),

    /// NaN or infinite values where finite numbers are required.
    #[error("{what} holds a non-finite value ({value}) at flat index {index}")]
    NonFinite {
        /// Which array.
        what: String,
        /// The flat index of the first offending element.
        index: usize,
        /// The value.
        value: f32,
    },

    /// No usable GPU adapter, or the GPU failed.
    #[error("gpu: {0}")]
    Gpu(String),

    /// An argument or request that asks for nothing or for something impossible (no images
    /// to evaluate, a folder that is not what the command needs).
    #[error("{0}")]
    Invalid(String),

    /// A search that cannot go on (an evaluator out of step, a log that does not match).
    #[error("search: {0}")]
    Search(String),
}

/// Result with the library's error.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error with the file it concerns.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause,
        }
    }
}

impl Error {
    /// A dataset error about `origin`.
    pub fn data(origin: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Error::Data {
            origin: origin.to_string(),
            message: message.into(),
        }
    }

    /// A network error about `origin`.
    pub fn network(origin: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Error::Network {
            origin: origin.to_string(),
            message: message.into(),
        }
    }
}

/// Checks that every value of `values` is finite, naming `what` otherwise.
pub fn ensure_finite(what: &str, values: &[f32]) -> Result<()> {
    // A branch-free pass (vectorised) on the common path; the index is searched only on failure.
    if values.iter().fold(true, |ok, v| ok & v.is_finite()) {
        return Ok(());
    }
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(Error::NonFinite {
            what: what.to_string(),
            index,
            value: values[index],
        }),
    }
}
