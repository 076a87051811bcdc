//! Networks on crossbars: analog execution with the ideal hardware equals burn's float
//! inference, the CPU and GPU backends agree on whole networks, and a small net trained on the
//! embedded digits reaches 95% test accuracy.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use imcnas::backend::Backend;
use imcnas::config;
use imcnas::data::{self, Dataset, DatasetName, Split};
use imcnas::engine::Chip;
use imcnas::eval::{accuracy, argmax};
use imcnas::network::Network;
use imcnas::network::arch::Arch;
use imcnas::network::exec::{AnalogMatrices, Executor, FloatMatrices, Matrices};
use imcnas::rng::Seed;
use imcnas::train::{TrainNet, TrainOptions, train};
use std::path::PathBuf;
use std::sync::OnceLock;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imcnas-networks-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn options(dataset: &str, arch: &str, epochs: usize, max_train: Option<usize>) -> TrainOptions {
    TrainOptions {
        dataset: dataset.into(),
        arch: arch.into(),
        epochs,
        batch_size: 64,
        learning_rate: 2e-3,
        seed: 7,
        validation_fraction: 0.05,
        noise_eta: 0.0,
        fake_quant: None,
        clip_sigma: None,
        gain_noise: 0.0,
        max_train,
    }
}

fn mnist(split: Split) -> Dataset {
    data::load(
        DatasetName::Mnist,
        split,
        Some(&common::shared().join("datasets")),
    )
    .unwrap()
}

/// A LeNet trained for one epoch on part of MNIST, shared by the tests of this file.
fn lenet_mnist() -> &'static Network {
    static NET: OnceLock<Network> = OnceLock::new();
    NET.get_or_init(|| {
        let train_set = mnist(Split::Train);
        let graph = Arch::LeNet.graph(train_set.shape, 10).unwrap();
        let out = scratch("lenet");
        let opts = options("mnist", "lenet", 1, Some(6000));
        let report = train(
            &opts,
            &graph,
            train_set,
            None,
            &Device::flex(),
            &out,
            false,
            false,
        );
        report.unwrap().network
    })
}

/// Logits of `images` (pixels in [0, 1]) by burn's inference of the same network.
fn burn_logits(net: &Network, data: &Dataset) -> Vec<f32> {
    let device = Device::flex();
    let model = TrainNet::from_network(net, &device);
    let mut normalized = data.clone();
    normalized.normalize(net.normalization.as_ref().unwrap());
    let [c, h, w] = data.shape;
    let mut logits = Vec::with_capacity(data.len() * net.graph.classes);
    for start in (0..data.len()).step_by(1000) {
        let end = (start + 1000).min(data.len());
        let pixels = normalized.images[start * c * h * w..end * c * h * w].to_vec();
        let x = Tensor::from_data(TensorData::new(pixels, [end - start, c, h, w]), &device);
        let y: Vec<f32> = model.forward(x, None).into_data().try_to_vec().unwrap();
        logits.extend(y);
    }
    logits
}

fn network_logits(net: &Network, m: &impl Matrices, data: &Dataset) -> Vec<f32> {
    let exec = Executor::new(net);
    let per = data.image_len();
    let mut logits = Vec::new();
    for start in (0..data.len()).step_by(500) {
        let end = (start + 500).min(data.len());
        let images = &data.images[start * per..end * per];
        logits.extend(exec.logits(m, images, end - start, start).unwrap());
    }
    logits
}

/// Fraction of rows with the same arg-max, and the largest deviation relative to the
/// row's largest |logit|.
fn compare(a: &[f32], b: &[f32], classes: usize) -> (f64, f32) {
    let mut same = 0;
    let mut worst = 0.0f32;
    for (ra, rb) in a.chunks(classes).zip(b.chunks(classes)) {
        same += usize::from(argmax(ra) == argmax(rb));
        let scale = rb.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        for (x, y) in ra.iter().zip(rb) {
            worst = worst.max((x - y).abs() / scale);
        }
    }
    (same as f64 / (a.len() / classes) as f64, worst)
}

/// How many MNIST test images a backend runs: all of them, but a prefix on a software GPU
/// adapter (llvmpipe runs the kernels about a hundred times slower than the CPU backend).
fn images_for(backend: &impl Backend) -> usize {
    if backend.describe().contains("software") {
        200
    } else {
        10_000
    }
}

fn ideal_matches_burn<B: Backend>(backend: &B) {
    let net = lenet_mnist();
    let test = mnist(Split::Test);
    let test = test.select(&(0..images_for(backend).min(test.len())).collect::<Vec<_>>());
    let reference = burn_logits(net, &test);
    let hw = config::load("ideal", &[]).unwrap();
    let chip = Chip {
        seed: Seed(3),
        instance: 0,
    };
    let matrices = AnalogMatrices::program(backend, &hw, net, chip).unwrap();
    let analog = network_logits(net, &matrices, &test);
    let (agree, worst) = compare(&analog, &reference, 10);
    eprintln!(
        "ideal analog ({}) vs burn: predictions agree on {:.3}%, worst relative logit deviation {worst:.2e}",
        backend.describe(),
        100.0 * agree
    );
    assert!(agree >= 0.995, "agreement {agree}");
    assert!(worst <= 1e-3, "relative deviation {worst}");
    // The float executor is the same computation without tiles.
    let float = network_logits(net, &FloatMatrices::new(net), &test);
    assert!(compare(&float, &reference, 10).1 <= 1e-3);
}

on_both_backends!(ideal_analog_execution_matches_burn_on_mnist, |b| {
    ideal_matches_burn(b)
});

/// CPU and GPU run whole networks alike: the same chips (bit-identical conductances) give the
/// same predictions; logits differ only where an ADC rounding fell differently in some layer.
#[test]
fn cpu_and_gpu_networks_agree() {
    let Some(gpu) = common::gpu() else { return };
    let net = lenet_mnist();
    let n = images_for(gpu).min(2000);
    let test = mnist(Split::Test).select(&(0..n).collect::<Vec<_>>());
    for (preset, overrides) in [
        ("aihwkit-default", vec![]),
        ("pcm", vec!["device.t_inference_s=86400".to_string()]),
    ] {
        let hw = config::load(preset, &overrides).unwrap();
        let chip = Chip {
            seed: Seed(11),
            instance: 2,
        };
        let cpu = imcnas::backend::cpu::CpuBackend;
        let on_cpu = network_logits(
            net,
            &AnalogMatrices::program(&cpu, &hw, net, chip).unwrap(),
            &test,
        );
        let on_gpu = network_logits(
            net,
            &AnalogMatrices::program(gpu, &hw, net, chip).unwrap(),
            &test,
        );
        let (agree, worst) = compare(&on_gpu, &on_cpu, 10);
        let close = on_cpu
            .chunks(10)
            .zip(on_gpu.chunks(10))
            .filter(|(a, b)| {
                let scale = a.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
                a.iter().zip(*b).all(|(x, y)| (x - y).abs() <= 0.02 * scale)
            })
            .count() as f64
            / n as f64;
        eprintln!(
            "{preset}: CPU vs GPU predictions agree on {:.2}%, {:.2}% of images within 2% on every logit, worst {worst:.2e}",
            100.0 * agree,
            100.0 * close
        );
        assert!(agree >= 0.995, "{preset}: agreement {agree}");
        assert!(close >= 0.99, "{preset}: close {close}");
    }
}

/// The zero-setup path: a small ResNet trained on the embedded digits generalises.
#[test]
fn resnet_trained_on_embedded_digits_reaches_95_percent() {
    let train_set = data::load(DatasetName::Digits, Split::Train, None).unwrap();
    let test = data::load(DatasetName::Digits, Split::Test, None).unwrap();
    let arch: Arch = "resnet8-w8".parse().unwrap();
    let graph = arch.graph(train_set.shape, 10).unwrap();
    let out = scratch("digits");
    let opts = options("digits", "resnet8-w8", 12, None);
    let report = train(
        &opts,
        &graph,
        train_set,
        None,
        &Device::flex(),
        &out,
        false,
        false,
    )
    .unwrap();
    let acc = accuracy(
        &report.network,
        &FloatMatrices::new(&report.network),
        &test,
        256,
    )
    .unwrap();
    eprintln!("resnet8-w8 on digits: test accuracy {:.2}%", 100.0 * acc);
    assert!(acc >= 0.95, "test accuracy {acc}");
    // What was exported loads back to the same network.
    assert_eq!(Network::load(&out).unwrap(), report.network);
}
