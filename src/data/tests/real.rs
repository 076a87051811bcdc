//! The readers on the real shared datasets (`../shared/datasets`, see its README.md).

use super::*;

#[test]
fn embedded_digits_split_80_20_and_match_the_shared_csv() {
    let train = load(DatasetName::Digits, Split::Train, None).unwrap();
    let test = load(DatasetName::Digits, Split::Test, None).unwrap();
    assert_eq!((train.len(), test.len()), (1437, 360));
    assert_eq!((train.shape, train.classes), ([1, 8, 8], 10));
    assert_eq!(train.images.len(), 1437 * 64);
    assert!(
        train
            .images
            .iter()
            .chain(&test.images)
            .all(|&v| (0.0..=1.0).contains(&v))
    );
    assert!(train.images.contains(&1.0), "pixels reach 16/16");
    let mut counts = [0usize; 10];
    train
        .labels
        .iter()
        .chain(&test.labels)
        .for_each(|&l| counts[usize::from(l)] += 1);
    assert!(
        counts.iter().all(|&c| (170..=190).contains(&c)),
        "{counts:?}"
    );
    // A data directory without digits falls back to the embedded copy.
    let empty = scratch("digits-empty");
    assert_eq!(
        load(DatasetName::Digits, Split::Test, Some(&empty)).unwrap(),
        test
    );
    let _ = std::fs::remove_dir_all(empty);
    // The shared CSV is the same data, so it gives the same split.
    let shared = Path::new(SHARED);
    assert_eq!(
        load(DatasetName::Digits, Split::Train, Some(shared)).unwrap(),
        train
    );
    assert_eq!(
        load(DatasetName::Digits, Split::Test, Some(shared)).unwrap(),
        test
    );
}

#[test]
fn real_mnist_and_fashion_mnist_test_splits() {
    let shared = Path::new(SHARED);
    let mnist = load(DatasetName::Mnist, Split::Test, Some(shared)).unwrap();
    assert_eq!(mnist.len(), 10000);
    assert_eq!((mnist.shape, mnist.classes), ([1, 28, 28], 10));
    assert_eq!(mnist.images.len(), 10000 * 784);
    assert_eq!(mnist.labels[0], 7);
    assert!(mnist.images.iter().all(|&v| (0.0..=1.0).contains(&v)));
    // Mostly background, and the first image (a 7) has ink.
    let mean = mnist.images.iter().sum::<f32>() / mnist.images.len() as f32;
    assert!((0.1..0.15).contains(&mean), "{mean}");
    assert!(mnist.image(0).iter().any(|&v| v > 0.9));
    // The data directory may be the dataset folder itself.
    let direct = load(DatasetName::Mnist, Split::Test, Some(&shared.join("mnist"))).unwrap();
    assert_eq!(direct.labels, mnist.labels);

    let fashion = load(DatasetName::FashionMnist, Split::Test, Some(shared)).unwrap();
    assert_eq!((fashion.len(), fashion.shape), (10000, [1, 28, 28]));
    assert_eq!(fashion.name, "fashion-mnist");
    assert_eq!(
        fashion.labels[0], 9,
        "the first Fashion-MNIST test image is an ankle boot"
    );
    assert_ne!(fashion.images, mnist.images);
}

#[test]
fn real_cifar_subset_and_normalization() {
    let shared = Path::new(SHARED);
    let mut test = load(DatasetName::Cifar10, Split::Test, Some(shared)).unwrap();
    assert_eq!(test.len(), 1000);
    assert_eq!((test.shape, test.classes), ([3, 32, 32], 10));
    assert_eq!(test.images.len(), 1000 * 3072);
    assert_eq!(test.labels[0], 3, "the first CIFAR-10 test image is a cat");
    let norm = Normalization::from_dataset(&test);
    assert_eq!((norm.mean.len(), norm.std.len()), (3, 3));
    for c in 0..3 {
        // Natural images: mid-grey means, spread of about a quarter of the range.
        assert!((0.4..0.55).contains(&norm.mean[c]), "{norm:?}");
        assert!((0.2..0.3).contains(&norm.std[c]), "{norm:?}");
    }
    test.normalize(&norm);
    let after = Normalization::from_dataset(&test);
    for c in 0..3 {
        assert!(after.mean[c].abs() < 1e-4, "{after:?}");
        assert!((after.std[c] - 1.0).abs() < 1e-4, "{after:?}");
    }
}
