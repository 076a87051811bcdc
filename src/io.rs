//! Array files (NumPy `.npy`, float32), atomic file writes, and the lock that keeps two
//! processes out of one output folder.
//!
//! Readers never trust a header: the element count it declares is checked against the
//! bytes actually present before anything is allocated for it.

use crate::error::{Error, Result};
use npyz::WriterBuilder;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A float32 array read from a `.npy` file: its shape and row-major data.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Elements in row-major order.
    pub data: Vec<f32>,
}

/// Reads a float32 `.npy` file (little or big endian, C order).
///
/// # Errors
/// Unreadable files, bad magic or header, element types other than float32, Fortran order,
/// and files holding fewer bytes than the header declares.
pub fn read_npy(path: &Path) -> Result<Array> {
    let bad = |message: String| Error::Npy {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let file =
        npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not a valid .npy file ({e})")))?;
    let type_str = match file.dtype() {
        npyz::DType::Plain(t) => t.to_string(),
        other => return Err(bad(format!("element type {other:?} is not float32"))),
    };
    if type_str != "<f4" && type_str != ">f4" {
        return Err(bad(format!(
            "element type {type_str} is not float32 (<f4); convert with .astype(np.float32)"
        )));
    }
    if file.order() != npyz::Order::C {
        return Err(bad(
            "Fortran-ordered arrays are not supported; save with np.ascontiguousarray".into(),
        ));
    }
    let shape: Vec<usize> = file.shape().iter().map(|&d| d as usize).collect();
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    let needed = count
        .checked_mul(4)
        .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    // The data follows the header; at most the whole file is data.
    if needed > bytes.len() {
        return Err(bad(format!(
            "truncated: the header declares {count} float32 values ({needed} bytes) but the file holds {} bytes",
            bytes.len()
        )));
    }
    let data: Vec<f32> = file.into_vec().map_err(|e| {
        bad(format!(
            "truncated or unreadable data for shape {shape:?} ({e})"
        ))
    })?;
    if data.len() != count {
        return Err(bad(format!(
            "holds {} values, the header declares {count}",
            data.len()
        )));
    }
    Ok(Array { shape, data })
}

/// Writes `data` with `shape` as a little-endian float32 `.npy` file, atomically.
///
/// # Errors
/// I/O failures, and a shape whose element count differs from `data.len()`.
pub fn write_npy(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    if shape.iter().product::<usize>() != data.len() {
        return Err(Error::Shape(format!(
            "cannot write {} values as shape {shape:?}",
            data.len()
        )));
    }
    let shape_u64: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut bytes = Vec::with_capacity(128 + 4 * data.len());
    let io_err = |e| Error::io(path, e);
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape_u64)
        .writer(&mut bytes)
        .begin_nd()
        .map_err(io_err)?;
    writer.extend(data.iter().copied()).map_err(io_err)?;
    writer.finish().map_err(io_err)?;
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so
/// that readers see the old file or the new one, never half of one.
///
/// # Errors
/// I/O failures (the temporary file is removed).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temporary_sibling(path);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Checks, before any work, that a file can be written at `path`: it is not a folder, and a
/// file can be made beside it (the probe is removed).
///
/// # Errors
/// A folder at `path`, a missing or read-only parent folder.
pub fn check_writable(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::Invalid(format!(
            "{}: is a folder; name a file to write",
            path.display()
        )));
    }
    let probe = temporary_sibling(path);
    std::fs::File::create(&probe).map_err(|e| Error::io(path, e))?;
    std::fs::remove_file(&probe).map_err(|e| Error::io(&probe, e))
}

/// An exclusive lock on an output folder, held by this process until it is dropped (or the
/// process ends, killed or not: the operating system releases it).
#[derive(Debug)]
pub struct FolderLock {
    _file: std::fs::File,
}

/// The lock file of a folder.
pub const LOCK_FILE: &str = ".imcnas.lock";

impl FolderLock {
    /// Locks `dir` (which must exist) for this process.
    ///
    /// # Errors
    /// Another process holds the lock (naming its pid when it wrote one), I/O failures.
    pub fn acquire(dir: &Path) -> Result<FolderLock> {
        let path = dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = std::io::Read::read_to_string(&mut file, &mut holder);
                let holder = holder.trim();
                let by = if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                };
                return Err(Error::Invalid(format!(
                    "{}: in use by another imcnas process{by}; wait for it to finish or choose another folder",
                    dir.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        // Say who holds it, for the message above.
        file.set_len(0)
            .and_then(|()| file.write_all(std::process::id().to_string().as_bytes()))
            .map_err(|e| Error::io(&path, e))?;
        Ok(FolderLock { _file: file })
    }
}

fn temporary_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("imcnas-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn round_trips_shape_and_values() {
        let path = scratch("a.npy");
        let data: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
        write_npy(&path, &[2, 3, 4], &data).unwrap();
        assert_eq!(
            read_npy(&path).unwrap(),
            Array {
                shape: vec![2, 3, 4],
                data
            }
        );
    }

    #[test]
    fn a_header_claiming_more_than_the_file_holds_is_rejected_before_allocation() {
        let path = scratch("big.npy");
        // Claim 4e12 elements over 16 bytes of data: the reader must refuse, not try to
        // allocate 16 TB.
        let header = format!(
            "{:<117}\n",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000000,), }"
        );
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend([0u8; 16]);
        std::fs::write(&path, bytes).unwrap();
        let err = read_npy(&path).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
    }
}
