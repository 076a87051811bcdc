//! Analog MVM throughput against a plain f32 GEMM of the same shape measured in the same
//! run: 512x512 and 2048x2048 layers, batch 1024, the aihwkit-default configuration; and the
//! sliced chip on a 512x512 layer, batch 1024: 8 magnitude bits read bit-serially (8 reads),
//! 8-bit weights on 2-bit cells (4 slices), 128 rows per read (4 row groups): 128 analog
//! passes, whose work together is 32 plain GEMMs of the layer (`sliced_*` over 32 x
//! `plain_f32_gemm` is the ratio the README reports).
//!
//! The GPU backend is measured when a hardware adapter exists (or with IMCNAS_BENCH_GPU=1,
//! which also accepts software adapters); its timings include the upload of the inputs and
//! the download of the outputs, i.e. the full device synchronisation.

#![allow(
    missing_docs,
    reason = "criterion's macros generate the undocumented entry points"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imcnas::backend::Backend;
use imcnas::backend::cpu::{CpuBackend, gemm::matmul_parallel};
use imcnas::backend::gpu::GpuBackend;
use imcnas::config::{self, HwConfig};
use imcnas::physics::rng::{Seed, uniforms4};
use imcnas::runtime::engine::{Chip, program_layer};
use std::hint::black_box;

const BATCH: usize = 1024;

fn uniform(n: usize, lo: f32, hi: f32, stream: u32) -> Vec<f32> {
    let key = Seed(7).key();
    (0..n)
        .map(|i| lo + (hi - lo) * uniforms4([(i / 4) as u32, stream, 0, 0xBE7C], key)[i % 4])
        .collect()
}

fn gpu_backend() -> Option<GpuBackend> {
    let any = std::env::var("IMCNAS_BENCH_GPU").is_ok_and(|v| v == "1");
    GpuBackend::new(any).ok()
}

/// One group: the plain f32 GEMM of an `n` x `n` layer on a batch of [`BATCH`] beside the
/// analog MVM of `hw` (named `{kind}_cpu`, and `{kind}_gpu` when an adapter is measured).
fn layer_group(c: &mut Criterion, group_name: &str, hw: &HwConfig, n: usize, kind: &str) {
    let gpu = gpu_backend();
    // A layer initialised like PyTorch's Linear; inputs in [-1, 1).
    let bound = 1.0 / (n as f32).sqrt();
    let w = uniform(n * n, -bound, bound, 1);
    let x = uniform(BATCH * n, -1.0, 1.0, 2);
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(if kind == "analog" { 20 } else { 10 });

    let mut y = vec![0f32; BATCH * n];
    group.bench_function("plain_f32_gemm", |b| {
        b.iter(|| {
            matmul_parallel(
                black_box(&mut y),
                (BATCH, n, n),
                (black_box(&x), n),
                (&w, n),
            )
        })
    });

    let chip = Chip {
        seed: Seed(1),
        instance: 0,
    };
    let layer = program_layer(&CpuBackend, hw, &w, (n, n), None, 0, chip).expect("program");
    group.bench_function(format!("{kind}_cpu"), |b| {
        b.iter(|| {
            layer
                .forward(&CpuBackend, black_box(&x), BATCH, 0)
                .expect("mvm")
        })
    });

    if let Some(gpu) = &gpu {
        let layer = program_layer(gpu, hw, &w, (n, n), None, 0, chip).expect("program");
        let name = format!("{kind}_gpu ({})", gpu.describe());
        group.bench_function(name, |b| {
            b.iter(|| layer.forward(gpu, black_box(&x), BATCH, 0).expect("mvm"))
        });
    }
    group.finish();
}

/// aihwkit's chip (the `aihwkit-default` preset) on 512x512 and 2048x2048 layers.
fn mvm(c: &mut Criterion) {
    let hw = config::load("aihwkit-default", &[]).expect("preset");
    for n in [512usize, 2048] {
        layer_group(c, &format!("mvm_{n}x{n}_batch{BATCH}"), &hw, n, "analog");
    }
}

/// The sliced chip of the benchmark.
fn sliced(c: &mut Criterion) {
    let set: Vec<String> = [
        "tile.rows=512",
        "tile.cols=512",
        "tile.rows_parallel=128",
        "dac.bits=9",
        "dac.bits_per_read=1",
        "mapping.weight_bits=8",
        "mapping.cell_bits=2",
        "mapping.encoding=\"differential\"",
        "adc.bits=6",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let hw = config::load("neurosim-rram-22nm", &set).expect("preset");
    let passes = hw.reads.total() * hw.slicing.slices * 4;
    assert_eq!(passes, 128, "8 reads x 4 slices x 4 row groups");
    layer_group(
        c,
        &format!("sliced_512x512_batch{BATCH}"),
        &hw,
        512,
        "sliced",
    );
}

criterion_group!(benches, mvm, sliced);
criterion_main!(benches);
