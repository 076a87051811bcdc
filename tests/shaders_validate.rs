//! Every WGSL kernel parses and validates with naga, without a GPU.

use imcnas::backend::gpu::Kernel;

#[test]
fn every_kernel_parses_and_validates() {
    for kernel in Kernel::ALL {
        let source = kernel.source();
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{kernel:?}: {}", e.emit_to_string(&source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{kernel:?}: {}", e.emit_to_string(&source)));
        assert!(
            module
                .entry_points
                .iter()
                .any(|e| e.name == kernel.entry_point()),
            "{kernel:?} has no entry point {}",
            kernel.entry_point()
        );
    }
}
