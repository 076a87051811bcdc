//! Reading a dataset's files: found gzipped or not, read fully and decompressed, memory
//! bounded by the bytes really present.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// `dir/name` if it exists, else `dir/name.gz` if that exists.
pub(super) fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// Reads `dir/name` or `dir/name.gz` (see [`find_file`]) fully, decompressed; returns the
/// path read (for error messages) and the bytes.
pub(super) fn read_dataset_file(dir: &Path, name: &str) -> Result<(PathBuf, Vec<u8>)> {
    let Some(path) = find_file(dir, name) else {
        return Err(Error::data(
            dir.join(format!("{name}.gz")).display(),
            format!("file not found (nor uncompressed {name})"),
        ));
    };
    let bytes = read_maybe_gz(&path)?;
    Ok((path, bytes))
}

/// Reads a file fully, gunzipping it when its name ends in `.gz`. Decompression streams
/// into a growing buffer, so memory is bounded by the data really present, never by a size
/// some header claims.
pub(super) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let is_gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if !is_gz {
        return std::fs::read(path).map_err(|e| Error::io(path, e));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    // Multi-member aware: `cat a.gz b.gz` is a valid gzip file.
    flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file))
        .read_to_end(&mut bytes)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidInput
            | std::io::ErrorKind::InvalidData
            | std::io::ErrorKind::UnexpectedEof => {
                Error::data(path.display(), format!("not a valid gzip file ({e})"))
            }
            _ => Error::io(path, e),
        })?;
    Ok(bytes)
}
