//! A dataset file is read no further than its header implies: a small gzip file whose header
//! declares a few images but which inflates to half a gigabyte is refused without the process
//! ever holding that half gigabyte. (Alone in its test binary, so that the process's peak
//! memory is this test's.)

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

use std::io::Write;

/// The process's peak resident memory (bytes), from `/proc/self/status`.
#[cfg(target_os = "linux")]
fn peak_memory() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

#[cfg(target_os = "linux")]
#[test]
fn a_gzip_file_that_inflates_far_beyond_its_header_is_refused_within_its_size() {
    const TRAILING: usize = 512 << 20;
    let dir = std::env::temp_dir().join(format!("imcnas-bounded-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // 3 images of 2 x 3 pixels, then half a gigabyte of zeros: a few hundred kB of gzip.
    let header: Vec<u8> = [2051u32, 3, 2, 3]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let file = std::fs::File::create(dir.join("train-images-idx3-ubyte.gz")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    gz.write_all(&header).unwrap();
    gz.write_all(&[7; 18]).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..TRAILING >> 20 {
        gz.write_all(&zeros).unwrap();
    }
    gz.finish().unwrap();
    drop(zeros);
    let labels: Vec<u8> = [2049u32, 3]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .chain([0, 1, 2])
        .collect();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).unwrap();

    let before = peak_memory();
    let error = imcnas::data::load(
        imcnas::data::DatasetName::Mnist,
        imcnas::data::Split::Train,
        Some(&dir),
    )
    .unwrap_err()
    .to_string();
    let grown = peak_memory().saturating_sub(before);
    assert!(error.contains("trailing"), "{error}");
    assert!(
        grown < 64 << 20,
        "the reader held {} MB to refuse the file",
        grown >> 20
    );
    let _ = std::fs::remove_dir_all(&dir);
}
