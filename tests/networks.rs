//! Networks on crossbars: analog execution with the ideal hardware equals burn's float
//! inference, the CPU and GPU backends agree on whole networks, and a small net trained on the
//! embedded digits reaches 95% test accuracy.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use imcnas::backend::Backend;
use imcnas::backend::cpu::CpuBackend;
use imcnas::backend::gpu::GpuBackend;
use imcnas::config;
use imcnas::config::HwConfig;
use imcnas::data::{self, Dataset, DatasetName, Split};
use imcnas::eval::{EvalOptions, EvalReport, argmax, evaluate, float_accuracy};
use imcnas::network::arch::Arch;
use imcnas::network::{Graph, GraphFile, Network};
use imcnas::physics::rng::Seed;
use imcnas::runtime::ChipSet;
use imcnas::runtime::chips::calibration_inputs;
use imcnas::runtime::engine::Chip;
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

fn network_logits<B: Backend>(set: &ChipSet<'_, B>, data: &Dataset) -> Vec<f32> {
    let per = data.image_len();
    let mut logits = Vec::new();
    for start in (0..data.len()).step_by(500) {
        let end = (start + 500).min(data.len());
        let images = &data.images[start * per..end * per];
        logits.extend(set.logits(images, end - start, start).unwrap());
    }
    logits
}

/// The network's float reference.
fn float(net: &Network) -> ChipSet<'_, CpuBackend> {
    ChipSet::float(&CpuBackend, net).unwrap()
}

/// One chip of `net` on `backend`.
fn one_chip<'a, B: Backend>(
    backend: &'a B,
    hw: &HwConfig,
    net: &'a Network,
    chip: Chip,
) -> ChipSet<'a, B> {
    ChipSet::program(
        backend,
        hw,
        net,
        chip.seed,
        chip.instance..chip.instance + 1,
    )
    .unwrap()
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
    let analog = network_logits(&one_chip(backend, &hw, net, chip), &test);
    let (agree, worst) = compare(&analog, &reference, 10);
    eprintln!(
        "ideal analog ({}) vs burn: predictions agree on {:.3}%, worst relative logit deviation {worst:.2e}",
        backend.describe(),
        100.0 * agree
    );
    assert!(agree >= 0.995, "agreement {agree}");
    assert!(worst <= 1e-3, "relative deviation {worst}");
    // The float executor is the same computation without tiles.
    let float = network_logits(&float(net), &test);
    assert!(compare(&float, &reference, 10).1 <= 1e-3);
}

on_both_backends!(ideal_analog_execution_matches_burn_on_mnist, |b| {
    ideal_matches_burn(b)
});

/// Logits (chips, images, classes) of chip instances `instances` of `net` on `backend`, run as
/// the backend's chip sets (on the GPU: stacked, activations on the device), 500 images at a
/// time.
fn chip_set_logits(
    backend: &impl Backend,
    hw: &HwConfig,
    net: &Network,
    instances: std::ops::Range<u32>,
    data: &Dataset,
) -> Vec<f32> {
    let classes = net.graph.classes;
    let mut per_chip = vec![Vec::new(); instances.len()];
    // Sets as large as passes of two images allow: with a small binding limit, several
    // stacked chips and several passes per batch.
    let per_set = ChipSet::chips_per_set(backend, hw, net, 2).unwrap() as u32;
    // Calibrated ADC ranges from the layer inputs of the first 8 images.
    let calibration = if hw.adc_range == imcnas::config::AdcRange::Calibrated {
        calibration_inputs(net, data.images_of(0..8), 1024).unwrap()
    } else {
        Vec::new()
    };
    for first in instances.clone().step_by(per_set as usize) {
        let set = first..instances.end.min(first + per_set);
        let chips =
            ChipSet::program_calibrated(backend, hw, net, Seed(11), set.clone(), &calibration)
                .unwrap();
        assert_eq!(chips.chips(), set.len());
        for start in (0..data.len()).step_by(500) {
            let end = (start + 500).min(data.len());
            let n = end - start;
            let logits = chips.logits(data.images_of(start..end), n, start).unwrap();
            for (z, chip) in logits.chunks(n * classes).enumerate() {
                per_chip[(first - instances.start) as usize + z].extend_from_slice(chip);
            }
        }
    }
    per_chip.concat()
}

/// A network with every kind of layer (strided and padded convolutions with and without
/// bias, batch norms, residual add, max, average and global pooling, flatten, linear) and
/// random weights, and random images for it.
fn every_layer_network() -> (Network, Dataset) {
    let json = r#"{"format": "imcnas-network", "version": 1, "input": [3, 12, 12], "classes": 10,
      "normalization": {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]},
      "nodes": [
        {"name": "c1", "op": "conv2d", "in_channels": 3, "out_channels": 8, "kernel": 3, "padding": 1},
        {"name": "b1", "op": "batch_norm", "channels": 8},
        {"name": "r1", "op": "relu"},
        {"name": "c2", "op": "conv2d", "in_channels": 8, "out_channels": 8, "kernel": 3, "padding": 1, "bias": false},
        {"name": "b2", "op": "batch_norm", "channels": 8},
        {"name": "sum", "op": "add", "inputs": ["b2", "r1"]},
        {"name": "r2", "op": "relu"},
        {"name": "avg", "op": "avg_pool", "kernel": 2},
        {"name": "c3", "op": "conv2d", "in_channels": 8, "out_channels": 16, "kernel": 3, "stride": 2, "padding": 1},
        {"name": "r3", "op": "relu"},
        {"name": "gap", "op": "global_avg_pool", "inputs": ["r3"]},
        {"name": "max", "op": "max_pool", "kernel": 3, "stride": 1, "inputs": ["r3"]},
        {"name": "flat", "op": "flatten"},
        {"name": "f1", "op": "linear", "in_features": 16, "out_features": 10}
      ]}"#;
    let file: GraphFile = serde_json::from_str(json).unwrap();
    let graph = Graph::from_file(&file, "every-layer").unwrap();
    random_network(graph, file.normalization.clone(), "every-layer")
}

/// `graph` with random weights and norms, and 24 random images of its input shape.
fn random_network(
    graph: Graph,
    normalization: Option<imcnas::data::Normalization>,
    name: &str,
) -> (Network, Dataset) {
    let mut tensors = std::collections::BTreeMap::new();
    for (k, node) in graph.nodes.iter().enumerate() {
        for (suffix, shape) in node.op.tensors() {
            let len = shape.iter().product();
            let fan_in = shape.iter().skip(1).product::<usize>().max(1) as f32;
            let bound = 1.5 / fan_in.sqrt();
            let values = match suffix {
                "running_var" => common::uniform(len, 0.5, 1.5, k as u64),
                "weight" if shape.len() == 1 => common::uniform(len, 0.8, 1.2, k as u64),
                _ => common::uniform(len, -bound, bound, 100 + k as u64),
            };
            tensors.insert(format!("{}.{suffix}", node.name), values);
        }
    }
    let shape = graph.input;
    let net = Network::new(graph, normalization, tensors, name).unwrap();
    let images = 24;
    let pixels: usize = shape.iter().product();
    let data = Dataset {
        name: "random".into(),
        shape,
        classes: 10,
        images: common::uniform(images * pixels, 0.0, 1.0, 9),
        labels: vec![0; images],
    };
    (net, data)
}

/// A NAS-Bench-201 cell network of one cell of 4 channels per stage, on 8x8 images: every
/// edge kind (conv 3x3 and 1x1, avg pool, skip, none and so a zero node read by a
/// convolution).
fn cell_network() -> (Network, Dataset) {
    let arch: imcnas::network::arch::Arch = "nb201-410132-n1-c4".parse().unwrap();
    let graph = arch.graph([3, 8, 8], 10).unwrap();
    assert!(
        graph
            .nodes
            .iter()
            .any(|n| n.op == imcnas::network::Op::Zero)
    );
    random_network(graph, None, "cell")
}

/// `net` with the weights of inputs `rows` of each listed matrix node zeroed and, when
/// `remove`, those inputs removed from the crossbar.
fn with_rows_zeroed(net: &Network, rows: &[(&str, Vec<u32>)], remove: bool) -> Network {
    let mut tensors = net.tensors().clone();
    for (node, rows) in rows {
        let n_in = net
            .graph
            .nodes
            .iter()
            .find(|n| n.name == *node)
            .unwrap()
            .op
            .matrix()
            .unwrap()
            .1;
        let w = tensors.get_mut(&format!("{node}.weight")).unwrap();
        for row in w.chunks_exact_mut(n_in) {
            rows.iter().for_each(|&r| row[r as usize] = 0.0);
        }
    }
    let mut out = Network::new(
        net.graph.clone(),
        net.normalization.clone(),
        tensors,
        "zeroed",
    )
    .unwrap();
    if remove {
        for (node, rows) in rows {
            out.prune_inputs(node, rows.clone()).unwrap();
        }
    }
    out
}

/// Rows removed from a convolution (a third of `c2`'s 72) and from the linear layer.
fn every_layer_pruning() -> Vec<(&'static str, Vec<u32>)> {
    vec![("c2", (0..72).step_by(3).collect()), ("f1", vec![1, 5, 6])]
}

/// Structured pruning takes rows out of the crossbar: a pruned layer spans fewer tiles, the
/// exact product is that of the zeroed weights, and on noisy devices the chips differ from
/// ones that program the zeroed rows (whose devices carry programming noise).
#[test]
fn pruned_inputs_leave_the_crossbar() {
    let (net, data) = every_layer_network();
    let rows = every_layer_pruning();
    let zeroed = with_rows_zeroed(&net, &rows, false);
    let pruned = with_rows_zeroed(&net, &rows, true);
    assert_eq!(pruned.kept_inputs("c2").unwrap().len(), 48);
    assert_eq!(
        pruned.kept_inputs("f1").unwrap(),
        vec![0, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    );
    assert!(zeroed.kept_inputs("c2").is_none());

    let exact = network_logits(&float(&zeroed), &data);
    let (agree, worst) = compare(&network_logits(&float(&pruned), &data), &exact, 10);
    assert_eq!(agree, 1.0);
    assert!(worst < 1e-5, "{worst}");

    let cpu = CpuBackend;
    let chip = Chip {
        seed: Seed(5),
        instance: 0,
    };
    let small_tiles = ["tile.rows=32".to_string(), "tile.cols=32".to_string()];
    let hw = config::load("pcm", &small_tiles).unwrap();
    let in_groups = |n: &Network| -> Vec<usize> {
        one_chip(&cpu, &hw, n, chip)
            .grids()
            .iter()
            .map(|grid| grid.in_groups)
            .collect()
    };
    // c2 (the second matrix layer): 72 inputs on 3 tiles of 32 rows, 48 on 2.
    assert_eq!(in_groups(&zeroed)[1], 3);
    assert_eq!(in_groups(&pruned)[1], 2);
    let on_chip = |n: &Network| network_logits(&one_chip(&cpu, &hw, n, chip), &data);
    assert_ne!(on_chip(&pruned), on_chip(&zeroed));
    let ideal = config::load("ideal", &[]).unwrap();
    let ideal_pruned = network_logits(&one_chip(&cpu, &ideal, &pruned, chip), &data);
    let (agree, worst) = compare(&ideal_pruned, &exact, 10);
    assert_eq!(agree, 1.0);
    assert!(worst < 1e-4, "{worst}");

    // Rows with weights cannot be removed, nor every row.
    let mut bad = net.clone();
    let error = bad.prune_inputs("c2", vec![0]).unwrap_err().to_string();
    assert!(
        error.contains("row 0") && error.contains("non-zero"),
        "{error}"
    );
    let mut all = with_rows_zeroed(&net, &[("f1", (0..16).collect())], false);
    assert!(all.prune_inputs("f1", (0..16).collect()).is_err());
    assert!(all.prune_inputs("r1", vec![]).is_err());
}

/// CPU and GPU run whole networks alike: the same chips (bit-identical conductances) give the
/// same predictions; logits differ only where an ADC rounding fell differently in some layer.
/// The GPU runs the chips stacked with activations on the device; with a small binding limit
/// it splits the chips into several sets and the images into several passes.
#[test]
fn cpu_and_gpu_networks_agree() {
    let Some(gpu) = common::gpu() else { return };
    let mut small = GpuBackend::new(true).expect("adapter seen by common::gpu");
    small.limit_binding(256 << 10);
    // Three chips of a LeNet take llvmpipe about 0.6 s per image.
    let n = if images_for(gpu) < 10_000 { 32 } else { 2000 };
    let lenet = (
        lenet_mnist().clone(),
        mnist(Split::Test).select(&(0..n).collect::<Vec<_>>()),
    );
    let every = every_layer_network();
    let cell = cell_network();
    let pruned = (
        with_rows_zeroed(&every.0, &every_layer_pruning(), true),
        every.1.clone(),
    );
    let cases = [
        ("lenet", &lenet, "aihwkit-default", vec![], gpu),
        (
            "lenet",
            &lenet,
            "pcm",
            vec!["device.t_inference_s=86400".to_string()],
            gpu,
        ),
        ("every layer", &every, "aihwkit-default", vec![], gpu),
        (
            "every layer",
            &every,
            "pcm",
            vec!["device.t_inference_s=86400".to_string()],
            &small,
        ),
        ("every layer", &every, "ideal", vec![], &small),
        (
            "pruned",
            &pruned,
            "pcm",
            vec!["device.t_inference_s=86400".to_string()],
            &small,
        ),
        ("pruned", &pruned, "ideal", vec![], gpu),
        // The sliced chip: bit-serial reads, 8 weight slices, row groups.
        ("lenet", &lenet, "neurosim-rram-22nm", vec![], gpu),
        ("every layer", &every, "neurosim-rram-22nm", vec![], &small),
        ("pruned", &pruned, "neurosim-sram-22nm", vec![], gpu),
        ("every layer", &every, "crosssim-bitsliced", vec![], &small),
        ("cell", &cell, "ideal", vec![], gpu),
        ("cell", &cell, "neurosim-rram-22nm", vec![], &small),
    ];
    for (name, (net, data), preset, overrides, gpu) in cases {
        let hw = config::load(preset, &overrides).unwrap();
        let started = std::time::Instant::now();
        let on_cpu = chip_set_logits(&imcnas::backend::cpu::CpuBackend, &hw, net, 2..5, data);
        let cpu_time = started.elapsed();
        let on_gpu = chip_set_logits(gpu, &hw, net, 2..5, data);
        eprintln!(
            "{name}, {preset}: CPU {cpu_time:.1?}, GPU {:.1?}",
            started.elapsed() - cpu_time
        );
        assert_eq!(on_cpu.len(), 3 * data.len() * 10);
        let (agree, worst) = compare(&on_gpu, &on_cpu, 10);
        let close = on_cpu
            .chunks(10)
            .zip(on_gpu.chunks(10))
            .filter(|(a, b)| {
                let scale = a.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
                a.iter().zip(*b).all(|(x, y)| (x - y).abs() <= 0.02 * scale)
            })
            .count() as f64
            / (3 * data.len()) as f64;
        eprintln!(
            "{name}, {preset}, 3 chips: CPU vs GPU predictions agree on {:.2}%, {:.2}% of images within 2% on every logit, worst {worst:.2e}",
            100.0 * agree,
            100.0 * close
        );
        assert!(agree >= 0.99, "{name}, {preset}: agreement {agree}");
        assert!(close >= 0.98, "{name}, {preset}: close {close}");
        if preset == "ideal" {
            // Without converters and noise the two differ only by float rounding.
            assert!(worst <= 1e-4, "{name}, ideal: {worst}");
        }
    }
}

/// An evaluation of the LeNet, with the number of instances measured at each progress call.
fn evaluate_counting(
    backend: &impl Backend,
    hw: &HwConfig,
    test: &Dataset,
    options: &EvalOptions,
) -> (EvalReport, Vec<usize>) {
    let mut progress = Vec::new();
    let report = evaluate(
        backend,
        hw,
        "pcm",
        lenet_mnist(),
        test,
        options,
        &[],
        |all| {
            progress.push(all.iter().map(Vec::len).sum());
            Ok(())
        },
    )
    .unwrap();
    (report, progress)
}

/// An evaluation gives the same accuracies on both backends, whatever their chip sets.
#[test]
fn evaluations_agree_across_backends() {
    let Some(gpu) = common::gpu() else { return };
    let n = if images_for(gpu) < 10_000 { 24 } else { 1000 };
    let test = mnist(Split::Test).select(&(0..n).collect::<Vec<_>>());
    let hw = config::load("pcm", &[]).unwrap();
    let options = EvalOptions {
        instances: 3,
        times: vec!["0".parse().unwrap(), "1d".parse().unwrap()],
        seed: 5,
        batch: 128,
        calibration: None,
    };
    let (cpu, _) = evaluate_counting(&imcnas::backend::cpu::CpuBackend, &hw, &test, &options);
    let (on_gpu, gpu_progress) = evaluate_counting(gpu, &hw, &test, &options);
    // Progress is reported after every instance, also inside a stacked set.
    assert_eq!(gpu_progress, (1..=6).collect::<Vec<_>>());
    assert_eq!(cpu.float_accuracy, on_gpu.float_accuracy);
    for (a, b) in cpu.points.iter().zip(&on_gpu.points) {
        assert_eq!(a.accuracies.len(), 3);
        // At most one image of the set predicted differently by some chip.
        for (x, y) in a.accuracies.iter().zip(&b.accuracies) {
            assert!(
                (x - y).abs() <= 1.0 / n as f64 + 1e-12,
                "{}: {x} vs {y}",
                a.time.label
            );
        }
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
    let acc = float_accuracy(&report.network, &test, 256).unwrap();
    eprintln!("resnet8-w8 on digits: test accuracy {:.2}%", 100.0 * acc);
    assert!(acc >= 0.95, "test accuracy {acc}");
    // What was exported loads back to the same network.
    assert_eq!(Network::load(&out).unwrap(), report.network);
}

/// Batch norms folded into their matrix layers: the folding finds every norm that alone reads
/// a matrix layer, gives the float network's logits on ideal hardware, and keeps channels
/// whose small weights a norm multiplies up out of the devices' noise, on both backends.
#[test]
fn folded_batch_norms_keep_scaled_channels_out_of_the_noise() {
    let (net, data) = every_layer_network();
    let node = |name: &str| net.graph.nodes.iter().position(|n| n.name == name).unwrap();
    let folds = imcnas::runtime::exec::foldable_batch_norms(&net);
    assert_eq!(folds[node("c1")], Some(node("b1")));
    assert_eq!(folds[node("c2")], Some(node("b2")));
    assert_eq!(folds[node("c3")], None, "c3 feeds a ReLU");
    // The first four channels of c1 carry weights 50 times smaller, which b1 multiplies
    // back: the same float function.
    let mut tensors = net.tensors().clone();
    let c1 = tensors.get_mut("c1.weight").unwrap();
    let per_channel = c1.len() / 8;
    c1[..4 * per_channel].iter_mut().for_each(|v| *v *= 0.02);
    tensors.get_mut("c1.bias").unwrap()[..4]
        .iter_mut()
        .for_each(|v| *v *= 0.02);
    tensors.get_mut("b1.weight").unwrap()[..4]
        .iter_mut()
        .for_each(|v| *v *= 50.0);
    tensors.get_mut("b1.running_mean").unwrap()[..4]
        .iter_mut()
        .for_each(|v| *v *= 0.02);
    let net = Network::new(
        net.graph.clone(),
        net.normalization.clone(),
        tensors,
        "scaled",
    )
    .unwrap();
    let reference = network_logits(&float(&net), &data);
    let chip = Chip {
        seed: Seed(4),
        instance: 0,
    };
    let error = |logits: &[f32]| {
        let (mut e, mut n) = (0f64, 0f64);
        for (a, b) in logits.iter().zip(&reference) {
            e += f64::from(a - b).powi(2);
            n += f64::from(*b).powi(2);
        }
        (e / n).sqrt()
    };
    let ideal = config::load("ideal", &["mapping.batch_norm=\"fold\"".into()]).unwrap();
    let folded_ideal = error(&network_logits(
        &one_chip(&CpuBackend, &ideal, &net, chip),
        &data,
    ));
    assert!(
        folded_ideal < 1e-5,
        "folded on ideal hardware: {folded_ideal}"
    );
    let pcm = |mode: &str| {
        config::load(
            "aihwkit-default",
            &[format!("mapping.batch_norm=\"{mode}\"")],
        )
        .unwrap()
    };
    let digital = error(&network_logits(
        &one_chip(&CpuBackend, &pcm("digital"), &net, chip),
        &data,
    ));
    let folded = network_logits(&one_chip(&CpuBackend, &pcm("fold"), &net, chip), &data);
    eprintln!(
        "logit error against float: digital norms {digital:.4}, folded {:.4}",
        error(&folded)
    );
    assert!(
        error(&folded) < 0.5 * digital,
        "{} vs {digital}",
        error(&folded)
    );
    if let Some(gpu) = common::gpu() {
        let on_gpu = network_logits(&one_chip(gpu, &pcm("fold"), &net, chip), &data);
        let (same, worst) = compare(&on_gpu, &folded, 10);
        assert!(
            same == 1.0 && worst < 1e-3,
            "GPU: {same} same, worst {worst}"
        );
    }
}
