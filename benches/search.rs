//! Search throughput: candidate evaluations per second, each one subnet of the MNIST
//! experiment's space cut out of the supernet, its batch norms recalibrated, compressed,
//! programmed onto 4 chip instances of its hardware, run on 1,000 MNIST test images and
//! costed; beside the plain f32 inference of the same subnets on the same images, measured
//! in the same run.
//!
//! The GPU backend is measured when a hardware adapter exists (or with IMCNAS_BENCH_GPU=1,
//! which also accepts software adapters).

#![allow(
    missing_docs,
    reason = "criterion's macros generate the undocumented entry points"
)]

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use imcnas::backend::Backend;
use imcnas::backend::cpu::CpuBackend;
use imcnas::backend::gpu::GpuBackend;
use imcnas::data::{self, DatasetName, Normalization, Split};
use imcnas::eval::float_accuracy;
use imcnas::supernet::Experiment;
use imcnas::supernet::evaluate::CandidateEvaluator;
use imcnas::supernet::genome::{Candidate, JointSpace};
use imcnas::train::TrainNet;
use rand::SeedableRng;
use std::path::PathBuf;

const IMAGES: usize = 1000;
const CANDIDATES: usize = 4;

fn search(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data_dir = root.join("../shared/datasets");
    let experiment = Experiment::load(
        Some(&root.join("models/experiment-mnist.toml")),
        &[
            format!("data.data_dir={}", data_dir.display()),
            "hardware.instances=4".into(),
        ],
    )
    .expect("experiment");
    let mut train = data::load(DatasetName::Mnist, Split::Train, Some(&data_dir))
        .expect("MNIST in ../shared/datasets");
    train = train.select(&(0..1024).collect::<Vec<_>>());
    let normalization = Normalization::from_dataset(&train);
    train.normalize(&normalization);
    let test = data::load(DatasetName::Mnist, Split::Test, Some(&data_dir)).expect("MNIST");
    let test = test.select(&(0..IMAGES).collect::<Vec<_>>());

    let joint = JointSpace::new(&experiment.file);
    let device = burn::tensor::Device::flex();
    device.seed(3);
    let graph = joint
        .largest()
        .graph(train.shape, train.classes)
        .expect("supernet");
    let supernet = TrainNet::new(&graph, &device);
    let space = joint.space();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let candidates: Vec<Candidate> = (0..CANDIDATES)
        .map(|_| joint.decode(&space.random(&mut rng)))
        .collect();

    let mut group = c.benchmark_group(format!("candidates_{IMAGES}_images_4_chips"));
    group.throughput(Throughput::Elements(CANDIDATES as u64));
    // Seconds per iteration: the same few iterations per sample, not criterion's ramp.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    let cpu = CandidateEvaluator {
        experiment: &experiment,
        supernet: &supernet,
        device: device.clone(),
        calibration: train.clone(),
        normalization: normalization.clone(),
        validation: test.clone(),
        backend: &CpuBackend,
    };
    let subnets: Vec<_> = candidates
        .iter()
        .map(|c| cpu.subnet(c).expect("subnet"))
        .collect();
    group.bench_function("plain_f32", |b| {
        b.iter(|| {
            for net in &subnets {
                float_accuracy(net, &test, 256).expect("float");
            }
        })
    });
    bench_backend(&mut group, "evaluate_cpu", &cpu, &candidates);
    let any = std::env::var("IMCNAS_BENCH_GPU").is_ok_and(|v| v == "1");
    if let Ok(gpu) = GpuBackend::new(any) {
        let name = format!("evaluate_gpu ({})", gpu.describe());
        let on_gpu = CandidateEvaluator {
            backend: &gpu,
            calibration: train.clone(),
            normalization: normalization.clone(),
            validation: test.clone(),
            device: device.clone(),
            experiment: &experiment,
            supernet: &supernet,
        };
        bench_backend(&mut group, &name, &on_gpu, &candidates);
    }
    group.finish();
}

fn bench_backend<B: Backend>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    evaluator: &CandidateEvaluator<'_, B>,
    candidates: &[Candidate],
) {
    group.bench_function(name, |b| {
        b.iter(|| {
            for candidate in candidates {
                evaluator.measure(candidate).expect("evaluation");
            }
        })
    });
}

criterion_group!(benches, search);
criterion_main!(benches);
