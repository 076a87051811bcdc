//! The sliced chip reproduces CrossSim 3.2's bit-sliced MVMs (files in
//! `../shared/reference/crosssim`): each case's CrossSim parameters are translated into a
//! hardware description, its W and X run through the engine on both backends, and the outputs
//! compared with CrossSim's own within 1e-5 of max |y|, except the entries the case lists as
//! depending on an ADC conversion within 1e-3 LSB of a rounding midpoint, which may differ by
//! one ADC step.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

mod common;

use imcnas::backend::Backend;
use imcnas::config::{self, HwConfig};
use imcnas::physics::rng::Seed;
use imcnas::runtime::engine::{AnalogLayer, Chip, LayerOptions, program_layer_with};
use serde_json::Value;

fn read(name: &str) -> Value {
    let path = common::shared().join("reference/crosssim").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The hardware description of a case's CrossSim parameters, as `--set` overrides of the
/// `ideal` preset.
fn overrides(case: &Value) -> Vec<String> {
    let p = &case["params"];
    let core = &p["core"];
    let dac = &p["xbar"]["dac"]["mvm"];
    let adc = &p["xbar"]["adc"]["mvm"];
    let device = &p["xbar"]["device"];
    let derived = &case["derived"];
    let g_max = 25.0;
    let mut set = vec![
        format!(
            "device.g_min_us={}",
            g_max * derived["Gmin_norm"].as_f64().unwrap()
        ),
        "dac.noise_management=\"none\"".into(),
        "dac.bound=1.0".into(),
        format!("dac.bits={}", dac["bits"]),
        "adc.bound_management=\"none\"".into(),
        "adc.out_noise=0.0".into(),
        format!("adc.bits={}", adc["bits"]),
    ];
    assert_eq!(dac["model"], "SignMagnitudeDAC");
    assert_eq!(dac["signed"], true);
    if dac["input_bitslicing"] == true {
        assert_eq!(adc["adc_per_ibit"], true, "one conversion per input bit");
        set.push(format!("dac.bits_per_read={}", dac["slice_size"]));
    }
    let rows_max = core["rows_max"].as_u64().unwrap();
    set.push(format!(
        "tile.rows={}",
        if rows_max == 0 { 512 } else { rows_max }
    ));
    let cell_bits = device["cell_bits"].as_u64().unwrap();
    match core["style"].as_str().unwrap() {
        // One differential pair per weight: continuous weights of 2^cell_bits levels a device.
        "BALANCED" => set.push(format!("mapping.weight_levels={}", 1u64 << cell_bits)),
        "BITSLICED" => {
            assert_eq!(core["bit_sliced"]["style"], "BALANCED");
            let bits = core["weight_bits"].as_u64().unwrap();
            assert_eq!(
                bits.div_ceil(cell_bits),
                core["bit_sliced"]["num_slices"].as_u64().unwrap(),
                "slices of cell_bits bits"
            );
            set.push(format!("mapping.weight_bits={bits}"));
            set.push(format!("mapping.cell_bits={cell_bits}"));
            set.push("mapping.encoding=\"differential\"".into());
        }
        other => panic!("core style {other}"),
    }
    if adc["bits"].as_u64().unwrap() == 0 || adc["model"] == "IdealADC" {
        set.push("adc.range=\"full\"".into());
    } else if let Some(cal) = derived["adc_calibration"].as_object() {
        set.push("adc.range=\"calibrated\"".into());
        set.push(format!("adc.percentile={}", cal["pct"]));
    } else {
        // A range given by value (or GRANULAR's, which the case records): the same for
        // every slice and partition.
        let ranges = &derived["adc_ranges_per_partition_per_slice"];
        let hi = ranges[0][0][1].as_f64().unwrap();
        for partition in ranges.as_array().unwrap() {
            for slice in partition.as_array().unwrap() {
                assert_eq!(slice[1].as_f64().unwrap(), hi);
            }
        }
        set.push("adc.range=\"fixed\"".into());
        set.push(format!("adc.bound={hi}"));
    }
    set
}

/// The largest change one ADC step of one conversion makes to an output.
fn adc_step_in_outputs(hw: &HwConfig, case: &Value) -> f64 {
    let derived = &case["derived"];
    let w_max = derived["w_max"].as_f64().unwrap();
    let wr = derived["Wrange_norm"].as_f64().unwrap();
    let levels = f64::from((1u32 << hw.file.adc.bits) - 1);
    let mut worst: f64 = 0.0;
    for partition in derived["adc_ranges_per_partition_per_slice"]
        .as_array()
        .unwrap()
    {
        for (j, range) in partition.as_array().unwrap().iter().enumerate() {
            let step = 2.0 * range[1].as_f64().unwrap() / (levels - 1.0);
            let bits = hw.slicing.weight_bits;
            let scale = if bits == 0 {
                w_max / wr
            } else {
                let bs = hw.slicing.bits_per_slice;
                let top = f64::from((1u32 << (bits - 1)) - 1);
                2f64.powi((j as u32 * bs) as i32) * f64::from((1u32 << bs) - 1) * w_max / (top * wr)
            };
            worst = worst.max(step * scale);
        }
    }
    worst
}

/// Case `name`'s layer programmed on `backend` with its hardware description (plus `extra`
/// overrides), calibrated on the case's calibration inputs, with the case and the hardware.
fn programmed<B: Backend>(
    backend: &B,
    name: &str,
    extra: &[&str],
) -> (AnalogLayer<B::Layer>, Value, HwConfig) {
    let case = read(name);
    let inputs = read("inputs.json");
    let (n_out, n_in, w) = common::matrix(&case, "W");
    let dataset = if n_in == 100 { "D" } else { "A" };
    let x_cal = common::matrix(&inputs["datasets"][dataset], "X_cal").2;
    let mut set = overrides(&case);
    set.extend(extra.iter().map(|s| s.to_string()));
    let hw = config::load("ideal", &set).unwrap();
    let options = LayerOptions {
        weight_bits: None,
        calibration: Some(&x_cal),
    };
    let chip = Chip {
        seed: Seed(1),
        instance: 0,
    };
    let layer =
        program_layer_with(backend, &hw, (&w, (n_out, n_in), None), 0, chip, &options).unwrap();
    (layer, case, hw)
}

/// Runs case `name` and returns the worst deviation from CrossSim's Y over max|Y|, outside
/// the near-tie entries (which are checked to be within one ADC step).
fn run<B: Backend>(backend: &B, name: &str, extra: &[&str]) -> f64 {
    let (layer, case, hw) = programmed(backend, name, extra);
    let (n_out, _, _) = common::matrix(&case, "W");
    let (batch, _, x) = common::matrix(&case, "X");
    let expected = common::matrix(&case, "Y").2;
    let y = layer.forward(backend, &x, batch, 0).unwrap();
    let scale = expected.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
    let near_ties: Vec<(usize, usize)> = case["tie_check"]["near_tie_outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[0].as_u64().unwrap() as usize,
                e[1].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let step = if hw.file.adc.bits == 0 {
        0.0
    } else {
        adc_step_in_outputs(&hw, &case)
    };
    let mut worst = 0f64;
    let mut flipped = 0;
    for b in 0..batch {
        for o in 0..n_out {
            let e = b * n_out + o;
            let d = f64::from((y[e] - expected[e]).abs());
            if near_ties.contains(&(b, o)) {
                assert!(
                    d <= step * 1.001 + 1e-5 * scale,
                    "{name} [{b}, {o}]: {d} beyond one ADC step {step}"
                );
                flipped += usize::from(d > 1e-5 * scale);
            } else {
                worst = worst.max(d / scale);
            }
        }
    }
    eprintln!(
        "{name} {extra:?}: max deviation {:.3e} of max|y| {scale:.3}; {flipped} of {} near-tie entries one ADC step apart",
        worst,
        near_ties.len()
    );
    worst
}

on_both_backends!(balanced_core_with_a_fixed_range, |b| {
    assert!(run(b, "case_a_balanced.json", &[]) <= 1e-5);
});

on_both_backends!(two_slices_of_four_bits_calibrated, |b| {
    assert!(run(b, "case_b_bitsliced_2x4.json", &[]) <= 1e-5);
});

on_both_backends!(four_slices_of_two_bits_read_bit_serially, |b| {
    assert!(run(b, "case_c_bitsliced_4x2_ibits.json", &[]) <= 1e-5);
});

on_both_backends!(row_partitions_digitised_separately, |b| {
    assert!(run(b, "case_d_row_partition.json", &[]) <= 1e-5);
    // The same partitions as row groups of one tile read 32 rows at a time.
    assert!(
        run(
            b,
            "case_d_row_partition.json",
            &["tile.rows=128", "tile.rows_parallel=32"]
        ) <= 1e-5
    );
});

on_both_backends!(ideal_adcs_give_the_quantised_product, |b| {
    assert!(run(b, "case_e1_ideal_adc_b.json", &[]) <= 1e-5);
    assert!(run(b, "case_e2_ideal_adc_c.json", &[]) <= 1e-5);
});

/// The calibration finds CrossSim's own ranges.
#[test]
fn calibration_finds_crosssim_s_ranges() {
    for name in ["case_b_bitsliced_2x4.json", "case_d_row_partition.json"] {
        let (layer, case, _) = programmed(&imcnas::backend::cpu::CpuBackend, name, &[]);
        let expected: Vec<f32> = case["derived"]["adc_calibration"]["ranges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[1].as_f64().unwrap() as f32)
            .collect();
        for group in layer.inner().ranges().chunks(expected.len()) {
            assert_eq!(group, &expected[..], "{name}");
        }
    }
}
