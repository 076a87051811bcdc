//! Time to cost one network on one configuration: VGG-8 (8 matrix layers) and a ResNet-20
//! (22) on the `neurosim-rram-22nm` chip. A search costs every candidate, so this must stay
//! far below a millisecond.

#![allow(
    missing_docs,
    reason = "criterion's macros generate the undocumented entry points"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use imcnas::config;
use imcnas::cost::model::network_cost;
use imcnas::network::arch::Arch;
use std::hint::black_box;

fn cost(c: &mut Criterion) {
    let hw = config::load("neurosim-rram-22nm", &[]).expect("preset");
    let chip = hw.cost().expect("a priced chip");
    let mut group = c.benchmark_group("cost");
    for name in ["vgg8", "resnet20"] {
        let arch: Arch = name.parse().expect("architecture");
        let graph = arch.graph([3, 32, 32], 10).expect("graph");
        group.bench_function(name, |b| b.iter(|| network_cost(chip, black_box(&graph))));
    }
    group.finish();
}

criterion_group!(benches, cost);
criterion_main!(benches);
