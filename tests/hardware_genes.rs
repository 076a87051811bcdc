//! Every hardware gene of a search is a key of the one hardware description: changing it
//! changes the simulated chip's outputs and its price together, except the columns per ADC,
//! which only the price reads (columns take turns on a converter; no conversion changes), and
//! the ADC range policy, which only the accuracy reads.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

mod common;

use imcnas::backend::cpu::CpuBackend;
use imcnas::config::{self, AdcRange, HardwareGenes, HwConfig, WeightScaling};
use imcnas::cost::model::network_cost;
use imcnas::network::arch::Arch;
use imcnas::physics::rng::Seed;
use imcnas::runtime::engine::{Chip, LayerOptions, program_layer_with};

/// Outputs of a 64 x 300 layer on `hw` (calibrated on the inputs themselves).
fn outputs(hw: &HwConfig) -> Vec<f32> {
    let (n_out, n_in, batch) = (64, 300, 24);
    let w = common::uniform(n_out * n_in, -0.5, 0.5, 1);
    let x = common::uniform(batch * n_in, 0.0, 1.0, 2);
    let options = LayerOptions {
        weight_bits: None,
        calibration: Some(&x),
    };
    let chip = Chip {
        seed: Seed(3),
        instance: 0,
    };
    let layer = program_layer_with(
        &CpuBackend,
        hw,
        (&w, (n_out, n_in), None),
        0,
        chip,
        &options,
    )
    .unwrap();
    layer.forward(&CpuBackend, &x, batch, 0).unwrap()
}

/// Energy, latency and area of a VGG-8 on `hw`.
fn price(hw: &HwConfig) -> [f64; 3] {
    let graph = Arch::Vgg8.graph([3, 32, 32], 10).unwrap();
    let r = network_cost(hw.cost().unwrap(), &graph);
    [r.energy.total(), r.period_s, r.area.total()]
}

#[test]
fn every_gene_moves_accuracy_and_cost_together() {
    let base_genes = HardwareGenes {
        tile: 128,
        dac_bits: 7,
        bits_per_read: 1,
        rows_parallel: 32,
        cell_bits: 1,
        adc_bits: 5,
        adc_range: AdcRange::Full,
        cols_per_adc: 8,
        weight_scaling: None,
        batch_norm: None,
        noise_management: None,
    };
    let device = config::load("neurosim-rram-22nm", &[]).unwrap();
    let base = device.with_genes(&base_genes).unwrap();
    let (y0, c0) = (outputs(&base), price(&base));
    let changes: [(&str, HardwareGenes); 10] = [
        (
            "tile",
            HardwareGenes {
                tile: 64,
                ..base_genes
            },
        ),
        (
            "dac_bits",
            HardwareGenes {
                dac_bits: 5,
                ..base_genes
            },
        ),
        (
            "bits_per_read",
            HardwareGenes {
                bits_per_read: 3,
                ..base_genes
            },
        ),
        (
            "rows_parallel",
            HardwareGenes {
                rows_parallel: 64,
                ..base_genes
            },
        ),
        (
            "cell_bits",
            HardwareGenes {
                cell_bits: 2,
                ..base_genes
            },
        ),
        (
            "adc_bits",
            HardwareGenes {
                adc_bits: 4,
                ..base_genes
            },
        ),
        (
            "adc_range",
            HardwareGenes {
                adc_range: AdcRange::Calibrated,
                ..base_genes
            },
        ),
        (
            "cols_per_adc",
            HardwareGenes {
                cols_per_adc: 16,
                ..base_genes
            },
        ),
        (
            "weight_scaling",
            HardwareGenes {
                weight_scaling: Some(WeightScaling::Column),
                ..base_genes
            },
        ),
        (
            "weight_scaling",
            HardwareGenes {
                weight_scaling: Some(WeightScaling::Tile),
                ..base_genes
            },
        ),
    ];
    for (gene, genes) in changes {
        let hw = device.with_genes(&genes).unwrap();
        let (y, c) = (outputs(&hw), price(&hw));
        let accuracy_moves = y != y0;
        let cost_moves = c != c0;
        eprintln!("{gene}: outputs change {accuracy_moves}, price {c:?} vs {c0:?}");
        match gene {
            // The range policy decides the conversions, not the converters: it moves the
            // outputs only.
            "adc_range" => assert!(accuracy_moves && !cost_moves, "{gene}"),
            "cols_per_adc" => assert!(!accuracy_moves && cost_moves, "{gene}"),
            _ => assert!(accuracy_moves && cost_moves, "{gene}"),
        }
    }
}
