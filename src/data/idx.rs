//! IDX files, the format of MNIST and Fashion-MNIST.
//!
//! An IDX file is a big-endian header (a magic number giving the element type and the
//! number of dimensions, then one u32 per dimension) followed by the elements. Images are
//! u8 with 3 dimensions (magic 2051: N, H, W), labels u8 with 1 dimension (magic 2049: N).

use super::dataset::{Dataset, DatasetName, Split};
use super::files::{Size, Source, dataset_file};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Magic number of an IDX file of u8 (0x08) with 3 dimensions.
const IMAGES_MAGIC: u32 = 0x0803;
/// Magic number of an IDX file of u8 (0x08) with 1 dimension.
const LABELS_MAGIC: u32 = 0x0801;
/// MNIST and Fashion-MNIST both have ten classes.
const CLASSES: usize = 10;
/// Largest image accepted (pixels per image): far above 28 x 28, but small enough that a
/// corrupt header cannot make the product of the dimensions overflow or mean anything silly.
const MAX_PIXELS: usize = 1 << 20;

/// Loads the `split` of an MNIST-like dataset from `dir`.
pub(super) fn load(dir: &Path, name: DatasetName, split: Split) -> Result<Dataset> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let (images_path, images_bytes) =
        read_idx(dir, &format!("{prefix}-images-idx3-ubyte"), &IMAGES)?;
    let (labels_path, labels_bytes) =
        read_idx(dir, &format!("{prefix}-labels-idx1-ubyte"), &LABELS)?;
    let images = parse_images(&images_path, &images_bytes)?;
    let labels = parse_labels(&labels_path, &labels_bytes)?;
    if images.count != labels.len() {
        return Err(Error::data(
            images_path.display(),
            format!(
                "{} images but {} labels in {}",
                images.count,
                labels.len(),
                labels_path.display()
            ),
        ));
    }
    check_labels(&labels_path, labels, CLASSES)?;
    Ok(Dataset {
        name: name.to_string(),
        shape: [1, images.height, images.width],
        classes: CLASSES,
        images: images
            .pixels
            .iter()
            .map(|&p| f32::from(p) / 255.0)
            .collect(),
        labels: labels.to_vec(),
    })
}

/// The images of an IDX file, still as bytes.
struct Images<'a> {
    count: usize,
    height: usize,
    width: usize,
    /// `count * height * width` pixels.
    pixels: &'a [u8],
}

/// The size in bytes of an IDX file of the given dimensions, and what its header declares in
/// words; an error for dimensions that make no sense.
type SizeOf = fn(&Path, &[usize]) -> Result<(usize, String)>;

/// A kind of IDX file: its magic number, dimensions, and the size its header implies.
struct Kind {
    magic: u32,
    ndims: usize,
    what: &'static str,
    /// The file's size given its dimensions.
    size: SizeOf,
}

impl Kind {
    /// Header bytes: the magic and one u32 per dimension.
    fn header_len(&self) -> usize {
        4 * (1 + self.ndims)
    }
}

const IMAGES: Kind = Kind {
    magic: IMAGES_MAGIC,
    ndims: 3,
    what: "IDX images",
    size: images_size,
};

const LABELS: Kind = Kind {
    magic: LABELS_MAGIC,
    ndims: 1,
    what: "IDX labels",
    size: labels_size,
};

/// The size of an image file of dimensions `dims` (N, H, W).
fn images_size(path: &Path, dims: &[usize]) -> Result<(usize, String)> {
    let bad = |message: String| Error::data(path.display(), message);
    let [count, height, width] = [dims[0], dims[1], dims[2]];
    if count == 0 || height == 0 || width == 0 {
        return Err(bad(format!(
            "header declares {count} images of {height} x {width}; every dimension must be nonzero"
        )));
    }
    if height * width > MAX_PIXELS {
        return Err(bad(format!(
            "header declares images of {height} x {width} pixels, more than the {MAX_PIXELS} accepted"
        )));
    }
    // u32 * (at most 2^20) fits in u64 and, on 64-bit targets, in usize; checked anyway.
    let size = count
        .checked_mul(height * width)
        .and_then(|n| n.checked_add(IMAGES.header_len()))
        .ok_or_else(|| bad(format!("header declares {count} images, too many")))?;
    Ok((size, format!("{count} images of {height} x {width}")))
}

/// The size of a label file of dimensions `dims` (N).
fn labels_size(path: &Path, dims: &[usize]) -> Result<(usize, String)> {
    let count = dims[0];
    let size = count.checked_add(LABELS.header_len()).ok_or_else(|| {
        Error::data(
            path.display(),
            format!("header declares {count} labels, too many"),
        )
    })?;
    Ok((size, format!("{count} labels")))
}

/// Reads the IDX file `dir/name(.gz)` of `kind`: its header, then no more than the bytes the
/// header implies and one more, checking that there are exactly that many. Returns the path
/// and the bytes.
fn read_idx(dir: &Path, name: &str, kind: &Kind) -> Result<(PathBuf, Vec<u8>)> {
    let mut source = Source::open(&dataset_file(dir, name)?)?;
    let path = source.path().to_path_buf();
    let mut bytes = Vec::new();
    source.read_up_to(&mut bytes, kind.header_len())?;
    let dims = header(&path, &bytes, kind.magic, kind.ndims, kind.what)?;
    let (expected, declared) = (kind.size)(&path, &dims)?;
    let bound = expected + 1;
    let more = bound - bytes.len();
    source.read_up_to(&mut bytes, more)?;
    check_size(&path, source.size(bytes.len(), bound), expected, &declared)?;
    Ok((path, bytes))
}

/// An IDX image file read into `bytes` (its size checked) as a view of its pixels.
fn parse_images<'a>(path: &Path, bytes: &'a [u8]) -> Result<Images<'a>> {
    let dims = header(path, bytes, IMAGES_MAGIC, 3, IMAGES.what)?;
    let (expected, declared) = images_size(path, &dims)?;
    check_size(path, Size::Exact(bytes.len()), expected, &declared)?;
    Ok(Images {
        count: dims[0],
        height: dims[1],
        width: dims[2],
        pixels: &bytes[IMAGES.header_len()..],
    })
}

/// An IDX label file read into `bytes` (its size checked) as its labels (unchecked values).
fn parse_labels<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a [u8]> {
    let dims = header(path, bytes, LABELS_MAGIC, 1, LABELS.what)?;
    let (expected, declared) = labels_size(path, &dims)?;
    check_size(path, Size::Exact(bytes.len()), expected, &declared)?;
    Ok(&bytes[LABELS.header_len()..])
}

/// Checks that every label is below `classes`, naming the first that is not.
fn check_labels(path: &Path, labels: &[u8], classes: usize) -> Result<()> {
    match labels.iter().position(|&l| usize::from(l) >= classes) {
        None => Ok(()),
        Some(i) => Err(Error::data(
            path.display(),
            format!("record {i} has label {}, expected < {classes}", labels[i]),
        )),
    }
}

/// Reads the magic number and `ndims` big-endian u32 dimensions, checking the magic.
fn header(path: &Path, bytes: &[u8], magic: u32, ndims: usize, what: &str) -> Result<Vec<usize>> {
    let bad = |message: String| Error::data(path.display(), message);
    let header_len = 4 * (1 + ndims);
    let word = |i: usize| {
        u32::from_be_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ])
    };
    // Check the magic as soon as it is there, so that a short file of the wrong kind is
    // reported as the wrong kind rather than as truncated.
    if bytes.len() >= 4 && word(0) != magic {
        return Err(bad(format!(
            "wrong magic number {}, expected {magic} ({what})",
            word(0)
        )));
    }
    if bytes.len() < header_len {
        return Err(bad(format!(
            "truncated: {} bytes present, expected at least the {header_len}-byte header ({what})",
            bytes.len()
        )));
    }
    Ok((1..=ndims).map(|i| word(i) as usize).collect())
}

/// Compares the size of a file with the size its header implies.
fn check_size(path: &Path, size: Size, expected: usize, declared: &str) -> Result<()> {
    let present = match size {
        Size::Exact(present) => present,
        Size::MoreThan(read) => {
            return Err(Error::data(
                path.display(),
                format!(
                    "unexpected trailing bytes: more than {read} bytes once inflated, expected {expected} (header declares {declared})"
                ),
            ));
        }
    };
    if present < expected {
        return Err(Error::data(
            path.display(),
            format!(
                "truncated: {present} bytes present, expected {expected} (header declares {declared})"
            ),
        ));
    }
    if present > expected {
        return Err(Error::data(
            path.display(),
            format!(
                "{} unexpected trailing bytes: {present} bytes present, expected {expected} (header declares {declared})",
                present - expected
            ),
        ));
    }
    Ok(())
}
