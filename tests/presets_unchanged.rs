//! The presets of aihwkit's chip keep their numbers: outputs of `imcnas mvm` saved from commit
//! 37f7994 (the engine before the sliced chip existed; `scripts/preset-outputs.py` says how)
//! are reproduced bit for bit on the CPU, two chip instances each, every device, converter
//! and noise draw included.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

use imcnas::backend::cpu::CpuBackend;
use imcnas::config;
use imcnas::io::read_npy;
use imcnas::physics::rng::Seed;
use imcnas::runtime::engine::{Chip, program_layer};
use std::path::PathBuf;

fn data(name: &str) -> Vec<f32> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/presets");
    read_npy(&dir.join(name)).unwrap().data
}

#[test]
fn aihwkit_chip_presets_are_bit_identical_to_the_engine_before_slicing() {
    let (w, x) = (data("W.npy"), data("X.npy"));
    let (n_out, n_in, batch) = (48, 600, 32);
    assert_eq!((w.len(), x.len()), (n_out * n_in, batch * n_in));
    // The rram preset now models Wan et al. 2022's devices; the chip it named at 37f7994
    // (3% Gaussian programming noise) is written out as overrides.
    let old_rram = [
        "device.model=\"generic\"",
        "device.generic_noise=\"independent\"",
        "device.generic_sigma=0.03",
        "device.w_noise=0.0175",
        "cost.memory=\"rram\"",
    ];
    for (preset, base, overrides) in [
        ("ideal", "ideal", &[][..]),
        ("quant-only", "quant-only", &[][..]),
        ("aihwkit-default", "aihwkit-default", &[][..]),
        ("pcm", "pcm", &[][..]),
        ("rram", "aihwkit-default", &old_rram[..]),
        ("sram", "sram", &[][..]),
    ] {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let hw = config::load(base, &overrides).unwrap();
        let saved = data(&format!("Y_{preset}.npy"));
        let mut y = Vec::new();
        for instance in 0..2 {
            let chip = Chip {
                seed: Seed(7),
                instance,
            };
            let layer = program_layer(&CpuBackend, &hw, &w, (n_out, n_in), None, 0, chip).unwrap();
            y.extend(layer.forward(&CpuBackend, &x, batch, 0).unwrap());
        }
        let differing = y
            .iter()
            .zip(&saved)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        assert_eq!(y.len(), saved.len(), "{preset}");
        assert_eq!(
            differing,
            0,
            "{preset}: {differing} of {} outputs differ",
            y.len()
        );
        // The saved outputs are not trivial: the chips differ from each other and from zero.
        let half = y.len() / 2;
        if preset != "ideal" && preset != "quant-only" && preset != "sram" {
            assert_ne!(y[..half], y[half..], "{preset}: both chips alike");
        }
        assert!(y.iter().any(|v| *v != 0.0));
    }
}
