//! Pieces every training loop shares: the one-file checkpoint (model record, optimizer state
//! and a JSON state, written atomically so that a kill leaves the previous epoch whole), image
//! batches as tensors, accuracy counts and the progress bar.

use super::model::TrainNet;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::io::write_atomic;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Int, Tensor, TensorData};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// Magic of a checkpoint: three parts, then the CRC-32 of everything before it.
const CHECKPOINT_MAGIC: &[u8; 8] = b"IMCNASC2";
/// Magic of the checkpoints of earlier versions, without a checksum (still read).
const LEGACY_MAGIC: &[u8; 8] = b"IMCNASCK";

/// Writes `model`, `optim` and `state` to `path`: the magic, three length-prefixed parts
/// (model record, optimizer state, JSON state), and the CRC-32 of all that, which
/// [`read_checkpoint`] verifies before it reads a part.
///
/// # Errors
/// Serialisation or I/O failures.
pub fn write_checkpoint<S: Serialize>(
    path: &Path,
    state: &S,
    model: &TrainNet,
    optim: &ModuleOptimizer,
) -> Result<()> {
    let to_training = |e: burn::store::RecordError| Error::Training(format!("checkpoint: {e}"));
    let model_bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(to_training)?;
    let optim_bytes = optim.into_bytes().map_err(to_training)?;
    let state = serde_json::to_vec(state).map_err(|e| Error::Training(format!("{e}")))?;
    let mut file = Vec::with_capacity(model_bytes.len() + optim_bytes.len() + state.len() + 32);
    file.extend_from_slice(CHECKPOINT_MAGIC);
    for part in [&model_bytes[..], &optim_bytes[..], &state[..]] {
        file.extend_from_slice(&(part.len() as u64).to_le_bytes());
        file.extend_from_slice(part);
    }
    let crc = crc32fast::hash(&file);
    file.extend_from_slice(&crc.to_le_bytes());
    write_atomic(path, &file)
}

/// Reads a checkpoint written by [`write_checkpoint`] into `model` and `optim`, returning
/// its JSON state. The lengths in the file are checked against its size, and the state is
/// handed to `check` before any weight is loaded, so that a checkpoint of another run is
/// refused rather than loaded into a model it does not fit.
///
/// # Errors
/// A file that is not a whole checkpoint, a state `check` refuses, parts that do not fit the
/// model.
pub fn read_checkpoint<S: DeserializeOwned>(
    path: &Path,
    model: TrainNet,
    optim: ModuleOptimizer,
    check: impl FnOnce(&S) -> Result<()>,
) -> Result<(S, TrainNet, ModuleOptimizer)> {
    let bad = |m: &str| Error::Training(format!("checkpoint {}: {m}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut rest = if let Some(body) = bytes.strip_prefix(CHECKPOINT_MAGIC) {
        let (body, crc) = body
            .split_last_chunk::<4>()
            .ok_or_else(|| bad("truncated"))?;
        if crc32fast::hash(&bytes[..bytes.len() - 4]) != u32::from_le_bytes(*crc) {
            return Err(bad(
                "corrupt (its checksum does not match its contents); delete it to start the run afresh",
            ));
        }
        body
    } else {
        bytes
            .strip_prefix(LEGACY_MAGIC)
            .ok_or_else(|| bad("not a checkpoint (wrong magic)"))?
    };
    let mut parts = Vec::with_capacity(3);
    for _ in 0..3 {
        let (len, tail) = rest
            .split_first_chunk::<8>()
            .ok_or_else(|| bad("truncated"))?;
        let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| bad("corrupt length"))?;
        if len > tail.len() {
            return Err(bad("truncated: a part is longer than the file"));
        }
        parts.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    if !rest.is_empty() {
        return Err(bad("corrupt: bytes after its last part"));
    }
    let state: S =
        serde_json::from_slice(&parts[2]).map_err(|e| bad(&format!("corrupt state: {e}")))?;
    check(&state)?;
    let optim_bytes = parts.swap_remove(1);
    let model_bytes = parts.swap_remove(0);
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(model_bytes))
        .map_err(|e| bad(&format!("corrupt model: {e}")))?;
    let model = model.load_record(record);
    let optim = optim
        .from_bytes(Bytes::from_bytes_vec(optim_bytes))
        .map_err(|e| bad(&format!("corrupt optimizer state: {e}")))?;
    Ok((state, model, optim))
}

/// A progress bar of `steps` steps titled `message` (none when `show` is false).
pub fn progress_bar(show: bool, steps: usize, message: String) -> Option<indicatif::ProgressBar> {
    show.then(|| {
        let bar = indicatif::ProgressBar::new(steps as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {pos}/{len} steps, {elapsed} elapsed, eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(message);
        bar
    })
}

/// Images `range` of `data` as tensors on `device`.
pub fn batch_tensors(
    data: &Dataset,
    range: std::ops::Range<usize>,
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let [c, h, w] = data.shape;
    let n = range.len();
    let per = data.image_len();
    let pixels = data.images[range.start * per..range.end * per].to_vec();
    let labels: Vec<i64> = data.labels[range].iter().map(|&l| i64::from(l)).collect();
    let images = Tensor::from_data(TensorData::new(pixels, [n, c, h, w]), device);
    let labels = Tensor::from_data(TensorData::new(labels, [n]), device);
    (images, labels)
}

/// Rows of `logits` whose arg-max is their label.
pub fn count_correct(logits: &Tensor<2>, labels: &Tensor<1, Int>) -> usize {
    let predicted: Tensor<1, Int> = logits.clone().argmax(1).flatten(0, 1);
    predicted
        .equal(labels.clone())
        .int()
        .sum()
        .into_scalar::<i64>() as usize
}
