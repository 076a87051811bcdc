//! Every malformed-file case of the IDX, CIFAR and digits readers, on small synthetic files;
//! each error must name the file and the field or record, on one line.

use super::*;

#[test]
fn idx_gz_and_raw_give_the_same_data() {
    let root = scratch("idx-gz-raw");
    write_mnist(&root.join("raw"), false);
    write_mnist(&root.join("gz/mnist"), true);
    let raw = load_mnist_train(&root.join("raw")).unwrap();
    // The gz copy sits in a `mnist/` folder of the data directory.
    let gzipped = load_mnist_train(&root.join("gz")).unwrap();
    assert_eq!(raw, gzipped);
    assert_eq!(raw.name, "mnist");
    assert_eq!(raw.shape, [1, 2, 3]);
    assert_eq!(raw.classes, 10);
    assert_eq!(raw.labels, [0, 9, 4]);
    assert_eq!(raw.len(), 3);
    assert_eq!(raw.image_len(), 6);
    let expected: Vec<f32> = (0..18).map(|k| k as f32 / 255.0).collect();
    assert_eq!(raw.images, expected);
    assert_eq!(raw.image(2), &expected[12..18]);
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn idx_wrong_magic_is_named_with_the_expected_one() {
    let dir = scratch("idx-magic");
    // Labels where the images should be.
    write(&dir, "train-images-idx3-ubyte", &idx_labels(&[1, 2, 3]));
    write(&dir, "train-labels-idx1-ubyte", &idx_labels(&[1, 2, 3]));
    let err = error(load_mnist_train(&dir));
    assert!(err.starts_with("dataset "), "{err}");
    assert!(
        err.contains(
            "train-images-idx3-ubyte: wrong magic number 2049, expected 2051 (IDX images)"
        ),
        "{err}"
    );
    // Images where the labels should be.
    write(&dir, "train-images-idx3-ubyte", &idx_images(3, 2, 3));
    write(&dir, "train-labels-idx1-ubyte", &idx_images(3, 2, 3));
    let err = error(load_mnist_train(&dir));
    assert!(
        err.contains(
            "train-labels-idx1-ubyte: wrong magic number 2051, expected 2049 (IDX labels)"
        ),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn idx_truncated_images_say_how_many_bytes() {
    let dir = scratch("idx-trunc-images");
    let mut images = idx_images(3, 2, 3);
    images.pop();
    write(&dir, "train-images-idx3-ubyte.gz", &gz(&images));
    write(&dir, "train-labels-idx1-ubyte", &idx_labels(&[0, 1, 2]));
    let err = error(load_mnist_train(&dir));
    assert!(
        err.contains("train-images-idx3-ubyte.gz: truncated: 33 bytes present, expected 34"),
        "{err}"
    );
    // Cut inside the header.
    write(&dir, "train-images-idx3-ubyte.gz", &gz(&images[..10]));
    let err = error(load_mnist_train(&dir));
    assert!(
        err.contains("truncated: 10 bytes present, expected at least the 16-byte header"),
        "{err}"
    );
    // A header claiming four billion 28 x 28 images over a few bytes: refused by size,
    // nothing allocated for the claim.
    let mut huge = be(&[2051, u32::MAX, 28, 28]);
    huge.extend([0u8; 100]);
    write(&dir, "train-images-idx3-ubyte.gz", &gz(&huge));
    let err = error(load_mnist_train(&dir));
    assert!(err.contains("truncated: 116 bytes present"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn idx_truncated_labels_say_how_many_bytes() {
    let dir = scratch("idx-trunc-labels");
    write(&dir, "train-images-idx3-ubyte", &idx_images(3, 2, 3));
    write(
        &dir,
        "train-labels-idx1-ubyte",
        &idx_labels(&[0, 1, 2])[..10],
    );
    let err = error(load_mnist_train(&dir));
    assert!(err.contains("train-labels-idx1-ubyte: truncated: 10 bytes present, expected 11 (header declares 3 labels)"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn idx_bad_dimensions_and_trailing_bytes_are_rejected() {
    let dir = scratch("idx-dims");
    write(&dir, "train-labels-idx1-ubyte", &idx_labels(&[0, 1, 2]));
    write(&dir, "train-images-idx3-ubyte", &be(&[2051, 3, 0, 28]));
    let err = error(load_mnist_train(&dir));
    assert!(err.contains("every dimension must be nonzero"), "{err}");
    write(&dir, "train-images-idx3-ubyte", &be(&[2051, 3, 2048, 2048]));
    let err = error(load_mnist_train(&dir));
    assert!(err.contains("more than the 1048576 accepted"), "{err}");
    let mut images = idx_images(3, 2, 3);
    images.push(0);
    write(&dir, "train-images-idx3-ubyte", &images);
    let err = error(load_mnist_train(&dir));
    assert!(
        err.contains("1 unexpected trailing bytes: 35 bytes present, expected 34"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn idx_count_mismatch_names_both_counts_and_files() {
    let dir = scratch("idx-count");
    write(&dir, "train-images-idx3-ubyte", &idx_images(3, 2, 3));
    write(
        &dir,
        "train-labels-idx1-ubyte.gz",
        &gz(&idx_labels(&[0, 1])),
    );
    let err = error(load_mnist_train(&dir));
    let images = dir.join("train-images-idx3-ubyte");
    let labels = dir.join("train-labels-idx1-ubyte.gz");
    assert_eq!(
        err,
        format!(
            "dataset {}: 3 images but 2 labels in {}",
            images.display(),
            labels.display()
        )
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn idx_label_out_of_range_names_the_record() {
    let dir = scratch("idx-label");
    write(&dir, "train-images-idx3-ubyte", &idx_images(3, 2, 3));
    write(&dir, "train-labels-idx1-ubyte", &idx_labels(&[0, 10, 255]));
    let err = error(load_mnist_train(&dir));
    assert!(
        err.contains("train-labels-idx1-ubyte: record 1 has label 10, expected < 10"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn missing_files_and_folders_name_the_expected_path() {
    let dir = scratch("missing");
    let err = error(load_mnist_train(&dir));
    let expected = dir.join("train-images-idx3-ubyte.gz");
    assert_eq!(
        err,
        format!(
            "dataset {}: file not found (nor uncompressed train-images-idx3-ubyte)",
            expected.display()
        )
    );
    // Images present, labels missing: the labels are named.
    write(&dir, "train-images-idx3-ubyte", &idx_images(3, 2, 3));
    let err = error(load_mnist_train(&dir));
    assert!(
        err.contains("train-labels-idx1-ubyte.gz: file not found"),
        "{err}"
    );
    // A test split needs its own files.
    write_mnist(&dir, false);
    let err = error(load(DatasetName::Mnist, Split::Test, Some(&dir)));
    assert!(
        err.contains("t10k-images-idx3-ubyte.gz: file not found"),
        "{err}"
    );
    // No data directory at all, or one that does not exist.
    let err = error(load(DatasetName::FashionMnist, Split::Train, None));
    assert!(
        err.starts_with("dataset fashion-mnist: needs a data directory"),
        "{err}"
    );
    let err = error(load_mnist_train(&dir.join("nowhere")));
    assert!(
        err.contains("nowhere: data directory for mnist does not exist"),
        "{err}"
    );
    let err = error(load(DatasetName::Cifar10, Split::Test, Some(&dir)));
    assert!(err.contains("test_batch.bin.gz: file not found"), "{err}");
    let err = error(load(DatasetName::Cifar10, Split::Train, Some(&dir)));
    assert!(
        err.contains("no training batches (data_batch_*.bin"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn corrupt_gzip_is_a_data_error() {
    let dir = scratch("bad-gz");
    write(&dir, "train-images-idx3-ubyte.gz", b"this is not gzip");
    write(&dir, "train-labels-idx1-ubyte", &idx_labels(&[0, 1, 2]));
    let err = error(load_mnist_train(&dir));
    assert!(
        err.contains("train-images-idx3-ubyte.gz: not a valid gzip file"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// CIFAR records whose label is `labels[i]` and whose pixel `k` is `(i + k) % 256`.
fn cifar_records(labels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (i, &label) in labels.iter().enumerate() {
        bytes.push(label);
        bytes.extend((0..3072).map(|k| ((i + k) % 256) as u8));
    }
    bytes
}

#[test]
fn cifar_reads_batches_in_order_gz_or_raw() {
    let root = scratch("cifar-order");
    let dir = root.join("cifar-10-batches-bin");
    write(&dir, "data_batch_2.bin.gz", &gz(&cifar_records(&[5])));
    write(&dir, "data_batch_10.bin", &cifar_records(&[6]));
    write(&dir, "data_batch_1.bin", &cifar_records(&[3, 9]));
    // The same batch gzipped and raw is read once.
    write(&dir, "data_batch_1.bin.gz", &gz(&cifar_records(&[3, 9])));
    write(&dir, "test_batch.bin.gz", &gz(&cifar_records(&[0])));
    write(&dir, "batches.meta.txt", b"airplane\n");
    // A subset folder next to the full data is not used.
    write(
        &root.join("cifar-10-subset"),
        "test_batch.bin",
        &cifar_records(&[1, 1]),
    );

    let train = load(DatasetName::Cifar10, Split::Train, Some(&root)).unwrap();
    assert_eq!(train.name, "cifar10");
    assert_eq!(train.shape, [3, 32, 32]);
    assert_eq!(train.classes, 10);
    assert_eq!(train.labels, [3, 9, 5, 6]);
    // Record 1 of batch 1: pixel k is (1 + k) % 256, planes R, G, B in order.
    let image = train.image(1);
    assert_eq!(image[0], 1.0 / 255.0);
    assert_eq!(image[1024], ((1 + 1024) % 256) as f32 / 255.0);
    assert_eq!(image[3071], ((1 + 3071) % 256) as f32 / 255.0);

    let test = load(DatasetName::Cifar10, Split::Test, Some(&root)).unwrap();
    assert_eq!(test.labels, [0]);
    // The same batch raw or gzipped reads the same.
    let direct = load(
        DatasetName::Cifar10,
        Split::Test,
        Some(&root.join("cifar-10-subset")),
    )
    .unwrap();
    assert_eq!(direct.labels, [1, 1]);
    write(&root.join("raw"), "test_batch.bin", &cifar_records(&[0]));
    let raw = load(DatasetName::Cifar10, Split::Test, Some(&root.join("raw"))).unwrap();
    assert_eq!(raw, test);
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn cifar_truncated_record_is_rejected() {
    let dir = scratch("cifar-trunc");
    let mut bytes = cifar_records(&[1, 2]);
    bytes.truncate(bytes.len() - 5);
    write(&dir, "test_batch.bin.gz", &gz(&bytes));
    let err = error(load(DatasetName::Cifar10, Split::Test, Some(&dir)));
    assert!(
        err.contains(
            "test_batch.bin.gz: truncated: 6141 bytes is not a multiple of the 3073-byte record"
        ),
        "{err}"
    );
    write(&dir, "test_batch.bin.gz", &gz(&[]));
    let err = error(load(DatasetName::Cifar10, Split::Test, Some(&dir)));
    assert!(err.contains("empty: holds no records"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cifar_bad_label_names_the_record() {
    let dir = scratch("cifar-label");
    write(&dir, "data_batch_1.bin", &cifar_records(&[1, 2]));
    write(&dir, "data_batch_2.bin", &cifar_records(&[4, 7, 10]));
    let err = error(load(DatasetName::Cifar10, Split::Train, Some(&dir)));
    assert!(
        err.contains("data_batch_2.bin: record 2 has label 10, expected < 10"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A digits CSV row: 64 pixels `(row + k) % 17` and `label`.
fn digits_row(row: usize, label: &str) -> String {
    let mut fields: Vec<String> = (0..64).map(|k| ((row + k) % 17).to_string()).collect();
    fields.push(label.to_string());
    fields.join(",")
}

#[test]
fn digits_csv_reads_and_splits() {
    let root = scratch("digits-csv");
    let rows: Vec<String> = (0..5)
        .map(|r| digits_row(r, &(r * 2).to_string()))
        .collect();
    let csv = rows.join("\n") + "\n\n";
    write(&root.join("digits"), "digits.csv.gz", &gz(csv.as_bytes()));
    write(&root.join("direct"), "digits.csv", csv.as_bytes());
    let train = load(DatasetName::Digits, Split::Train, Some(&root)).unwrap();
    let test = load(DatasetName::Digits, Split::Test, Some(&root)).unwrap();
    // 5 rows: 4 train (80%, rounded down), 1 test, together every row once.
    assert_eq!((train.len(), test.len()), (4, 1));
    assert_eq!(train.shape, [1, 8, 8]);
    let mut labels: Vec<u8> = train.labels.iter().chain(&test.labels).copied().collect();
    labels.sort();
    assert_eq!(labels, [0, 2, 4, 6, 8]);
    // Pixels are divided by 16 and follow their label.
    let row = usize::from(test.labels[0] / 2);
    assert_eq!(test.image(0)[0], row as f32 / 16.0);
    assert_eq!(test.image(0)[63], ((row + 63) % 17) as f32 / 16.0);
    let direct = load(DatasetName::Digits, Split::Test, Some(&root.join("direct"))).unwrap();
    assert_eq!(direct, test);
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn digits_csv_bad_rows_name_the_line() {
    let dir = scratch("digits-bad");
    let cases = [
        (
            digits_row(0, "3") + ",1",
            "line 2: 66 fields, expected 65 (64 pixels and the label)",
        ),
        (
            digits_row(0, "3").replacen("0", "x", 1),
            "line 2: field 1: \"x\" is not a number",
        ),
        (digits_row(0, "12"), "line 2: label 12, expected < 10"),
        (
            digits_row(0, "2.5"),
            "line 2: label 2.5 is not a class number",
        ),
        (
            digits_row(0, "3").replacen("0", "17", 1),
            "line 2: field 1: pixel value 17 is outside 0..16",
        ),
    ];
    for (bad_row, expected) in cases {
        let csv = format!("{}\n{bad_row}\n", digits_row(1, "1"));
        write(&dir, "digits.csv", csv.as_bytes());
        let err = error(load(DatasetName::Digits, Split::Train, Some(&dir)));
        let path = dir.join("digits.csv");
        assert_eq!(err, format!("dataset {}: {expected}", path.display()));
    }
    write(&dir, "digits.csv", b"\n\n");
    let err = error(load(DatasetName::Digits, Split::Train, Some(&dir)));
    assert!(err.ends_with("digits.csv: holds no rows"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
