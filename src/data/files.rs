//! Reading a dataset's files: found gzipped or not, decompressed as they are read, and never
//! read past a bound. A reader asks for the bytes its header implies (and one more, to see
//! trailing data), so a small gzip file that inflates to gigabytes costs no more memory than
//! a well-formed one, and nothing is allocated for a size a header merely claims.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// `dir/name` if it exists, else `dir/name.gz` if that exists.
pub(super) fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// `dir/name` or `dir/name.gz` (see [`find_file`]).
///
/// # Errors
/// Neither exists.
pub(super) fn dataset_file(dir: &Path, name: &str) -> Result<PathBuf> {
    find_file(dir, name).ok_or_else(|| {
        Error::data(
            dir.join(format!("{name}.gz")).display(),
            format!("file not found (nor uncompressed {name})"),
        )
    })
}

/// A dataset file opened for reading, decompressed on the fly when its name ends in `.gz`.
pub(super) struct Source {
    path: PathBuf,
    gzipped: bool,
    reader: Box<dyn Read>,
}

/// How many bytes a file holds, as far as a bounded read can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Size {
    /// Exactly this many (the read reached the end, or the file's size on disk says so).
    Exact(usize),
    /// More than this many: a gzip stream read up to its bound and not past it.
    MoreThan(usize),
}

impl Source {
    /// Opens `path`.
    ///
    /// # Errors
    /// An unreadable file.
    pub(super) fn open(path: &Path) -> Result<Source> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let gzipped = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
        let reader: Box<dyn Read> = if gzipped {
            // Multi-member aware: `cat a.gz b.gz` is a valid gzip file.
            Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
                file,
            )))
        } else {
            Box::new(std::io::BufReader::new(file))
        };
        Ok(Source {
            path: path.to_path_buf(),
            gzipped,
            reader,
        })
    }

    /// The file read.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends to `bytes` at most `limit` more bytes of the (decompressed) file; fewer at its
    /// end.
    ///
    /// # Errors
    /// I/O failures and corrupt gzip data.
    pub(super) fn read_up_to(&mut self, bytes: &mut Vec<u8>, limit: usize) -> Result<()> {
        let path = &self.path;
        (&mut self.reader)
            .take(limit as u64)
            .read_to_end(bytes)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidInput
                | std::io::ErrorKind::InvalidData
                | std::io::ErrorKind::UnexpectedEof => {
                    Error::data(path.display(), format!("not a valid gzip file ({e})"))
                }
                _ => Error::io(path, e),
            })?;
        Ok(())
    }

    /// The size of the file, given that `read` bytes were read and the read was bounded at
    /// `bound`: a read that stopped short of the bound reached the end; an uncompressed file's
    /// size is on disk; a gzip stream read to its bound holds more than that.
    pub(super) fn size(&self, read: usize, bound: usize) -> Size {
        if read < bound {
            return Size::Exact(read);
        }
        if !self.gzipped
            && let Ok(meta) = std::fs::metadata(&self.path)
        {
            return Size::Exact(meta.len() as usize);
        }
        Size::MoreThan(read)
    }
}

/// Reads a whole file of at most `max` bytes (decompressed), gunzipping it when its name ends
/// in `.gz`; `what` names the kind of file in the error for a larger one.
///
/// # Errors
/// I/O failures, corrupt gzip data, a file larger than `max` bytes.
pub(super) fn read_at_most(path: &Path, max: usize, what: &str) -> Result<Vec<u8>> {
    let mut source = Source::open(path)?;
    let mut bytes = Vec::new();
    source.read_up_to(&mut bytes, max.saturating_add(1))?;
    if bytes.len() > max {
        return Err(Error::data(
            path.display(),
            format!("holds more than {max} bytes (once decompressed), more than any {what}"),
        ));
    }
    Ok(bytes)
}
