//! Analog inference throughput of the LeNet-like CNN (conv 1->16 5x5, relu, maxpool 2,
//! conv 16->32 5x5, relu, maxpool 2, fc 512->128, relu, fc 128->10) on a batch of 256 MNIST
//! test images with the aihwkit-default configuration, beside the same network's plain f32
//! inference (same executor, exact products) measured in the same run.
//!
//! The GPU backend is measured when a hardware adapter exists (or with IMCNAS_BENCH_GPU=1,
//! which also accepts software adapters), its activations resident on the device, for one
//! chip and for a stacked set of ten.

#![allow(
    missing_docs,
    reason = "criterion's macros generate the undocumented entry points"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imcnas::backend::Backend;
use imcnas::backend::cpu::CpuBackend;
use imcnas::backend::gpu::GpuBackend;
use imcnas::config;
use imcnas::data::{self, DatasetName, Split};
use imcnas::network::arch::Arch;
use imcnas::physics::rng::Seed;
use imcnas::runtime::ChipSet;
use imcnas::runtime::engine::Chip;
use imcnas::train::TrainNet;
use std::hint::black_box;
use std::path::PathBuf;

const BATCH: usize = 256;

/// Chip instances of the stacked GPU measurement.
const CHIPS: u32 = 10;

fn lenet(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    let test = data::load(DatasetName::Mnist, Split::Test, Some(&dir))
        .expect("MNIST in ../shared/datasets");
    let images = &test.images[..BATCH * test.image_len()];
    let device = burn::tensor::Device::flex();
    device.seed(5);
    let graph = Arch::LeNet.graph(test.shape, 10).expect("lenet");
    let net = TrainNet::new(&graph, &device)
        .to_network(None)
        .expect("network");
    let hw = config::load("aihwkit-default", &[]).expect("preset");
    let chip = Chip {
        seed: Seed(1),
        instance: 0,
    };

    let mut group = c.benchmark_group(format!("lenet_batch{BATCH}"));
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    let float = ChipSet::float(&CpuBackend, &net).expect("float");
    group.bench_function("plain_f32", |b| {
        b.iter(|| float.logits(black_box(images), BATCH, 0).expect("float"))
    });
    let cpu = ChipSet::program(&CpuBackend, &hw, &net, chip.seed, 0..1).expect("program");
    group.bench_function("analog_cpu", |b| {
        b.iter(|| cpu.logits(black_box(images), BATCH, 0).expect("analog"))
    });
    let any = std::env::var("IMCNAS_BENCH_GPU").is_ok_and(|v| v == "1");
    if let Ok(gpu) = GpuBackend::new(any) {
        // Activations on the device from images to logits; one chip, then a stacked set of
        // CHIPS chips (the throughput counts every image on every chip).
        for chips in [1, CHIPS] {
            let set = ChipSet::program(&gpu, &hw, &net, chip.seed, 0..chips).expect("program");
            let name = format!("analog_gpu_resident_{chips}_chips ({})", gpu.describe());
            group.throughput(Throughput::Elements(BATCH as u64 * u64::from(chips)));
            group.bench_function(name, |b| {
                b.iter(|| set.logits(black_box(images), BATCH, 0).expect("analog"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, lenet);
criterion_main!(benches);
