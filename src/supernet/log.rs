//! The run folder's append-only logs (JSON lines): one line flushed to disk per result, so
//! that a run killed at any moment loses at most the line it was writing.

use crate::error::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::Write;
use std::path::Path;

/// Reads a JSON-lines log, dropping a last line cut short by a kill (and cutting it off the
/// file, so that appends start on a fresh line).
pub(super) fn read_log<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        // No log yet: nothing was evaluated.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut items = Vec::new();
    let mut good = 0;
    for line in text.split_inclusive('\n') {
        if !line.ends_with('\n') {
            break;
        }
        match serde_json::from_str::<T>(line) {
            Ok(item) => items.push(item),
            Err(e) => {
                return Err(Error::Search(format!(
                    "{}: line {}: {e}",
                    path.display(),
                    items.len() + 1
                )));
            }
        }
        good += line.len();
    }
    if good < text.len() {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        file.set_len(good as u64).map_err(|e| Error::io(path, e))?;
    }
    Ok(items)
}

/// Appends one JSON line to `path` and flushes it to disk.
pub(super) fn append_log<T: Serialize>(path: &Path, item: &T) -> Result<()> {
    let mut line = serde_json::to_string(item).map_err(|e| Error::Search(e.to_string()))?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io(path, e))
}
