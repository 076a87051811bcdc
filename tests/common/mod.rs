//! Helpers shared by the integration tests: the backends under test, seeded data, and the
//! aihwkit reference files in `../shared/reference/aihwkit`.

#![allow(dead_code)]

use imcnas::backend::gpu::GpuBackend;
use std::path::PathBuf;

/// Defines `$name::cpu` and `$name::gpu` running the same body on both backends. The GPU
/// variant skips when no adapter exists, unless IMCNAS_REQUIRE_GPU=1 (set by CI), where a
/// missing adapter fails the test.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn cpu() {
                let backend = imcnas::backend::cpu::CpuBackend;
                ($body)(&backend);
            }
            #[test]
            fn gpu() {
                if let Some(backend) = $crate::common::gpu() {
                    ($body)(backend);
                }
            }
        }
    };
}

/// The shared GPU backend of the test process, or None (skip) when there is no adapter and
/// the environment does not require one.
pub fn gpu() -> Option<&'static GpuBackend> {
    static GPU: std::sync::OnceLock<Option<GpuBackend>> = std::sync::OnceLock::new();
    let required = std::env::var("IMCNAS_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let backend = GPU.get_or_init(|| match GpuBackend::new(true) {
        Ok(b) => {
            eprintln!("gpu tests on {}", imcnas::backend::Backend::describe(&b));
            Some(b)
        }
        Err(e) if required => panic!("IMCNAS_REQUIRE_GPU=1 but no GPU backend: {e}"),
        Err(e) => {
            eprintln!("skipping GPU test: {e} (set IMCNAS_REQUIRE_GPU=1 to make this a failure)");
            None
        }
    });
    backend.as_ref()
}

/// `../shared` beside the checkout.
pub fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// A 2-D array of a reference JSON file as (rows, cols, row-major data).
pub fn matrix(value: &serde_json::Value, key: &str) -> (usize, usize, Vec<f32>) {
    let rows = value[key]
        .as_array()
        .unwrap_or_else(|| panic!("reference has no array {key}"));
    let cols = rows[0].as_array().map_or(0, Vec::len);
    let data = rows
        .iter()
        .flat_map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|v| v.as_f64().expect("number") as f32)
        })
        .collect();
    (rows.len(), cols, data)
}

/// Reads a JSON reference file.
pub fn reference(name: &str) -> serde_json::Value {
    let path = shared().join("reference/aihwkit").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("reference JSON")
}

/// Seeded uniform values in [lo, hi) from the engine's own counter-based generator.
pub fn uniform(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
    let key = imcnas::physics::rng::Seed(seed).key();
    (0..n)
        .map(|i| {
            let u = imcnas::physics::rng::uniforms4([(i / 4) as u32, 0xDA7A, 0, 0], key)[i % 4];
            lo + (hi - lo) * u
        })
        .collect()
}
