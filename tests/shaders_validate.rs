//! The WGSL kernels without a GPU: every kernel parses and validates with naga, every
//! parameter struct it reads matches its Rust `#[repr(C)]` twin member for member (name,
//! offset, size), and the workgroup sizes the host counts its dispatches in are the kernels'.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

use imcnas::backend::gpu::{Kernel, MVM_ROWS, SLICED_WORKGROUP};
use imcnas::backend::params::{Layout, shader_structs};
use imcnas::config::chip::MAX_TILE;
use std::collections::BTreeSet;

fn module(kernel: Kernel) -> naga::Module {
    let source = kernel.source();
    let module = naga::front::wgsl::parse_str(&source)
        .unwrap_or_else(|e| panic!("{kernel:?}: {}", e.emit_to_string(&source)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{kernel:?}: {}", e.emit_to_string(&source)));
    module
}

#[test]
fn every_kernel_parses_and_validates() {
    for kernel in Kernel::ALL {
        let module = module(kernel);
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

/// A struct's name, size and (name, offset, size) of each member.
type Flat = (String, usize, Vec<(String, usize, usize)>);

/// A WGSL struct as naga lays it out, in the terms of the Rust twin's [`Layout`].
fn wgsl_layout(module: &naga::Module, ty: &naga::Type) -> Option<Flat> {
    let naga::TypeInner::Struct { members, span } = &ty.inner else {
        return None;
    };
    let members = members
        .iter()
        .map(|m| {
            (
                m.name.clone().unwrap_or_default(),
                m.offset as usize,
                module.types[m.ty].inner.size(module.to_ctx()) as usize,
            )
        })
        .collect();
    Some((ty.name.clone()?, *span as usize, members))
}

fn rust_layout(twin: &Layout) -> Flat {
    let members = twin
        .members
        .iter()
        .map(|m| (m.name.to_string(), m.offset, m.size))
        .collect();
    (twin.name.to_string(), twin.size, members)
}

#[test]
fn parameter_structs_match_their_rust_twins() {
    let twins = shader_structs();
    let mut matched = BTreeSet::new();
    for kernel in Kernel::ALL {
        let module = module(kernel);
        for (_, ty) in module.types.iter() {
            let Some(wgsl) = wgsl_layout(&module, ty) else {
                continue;
            };
            let twin = twins
                .iter()
                .find(|t| t.name == wgsl.0)
                .unwrap_or_else(|| panic!("{kernel:?}: WGSL struct {} has no Rust twin", wgsl.0));
            assert_eq!(
                wgsl,
                rust_layout(twin),
                "{kernel:?}: WGSL (left) vs Rust (right)"
            );
            matched.insert(twin.name);
        }
        // Every uniform a kernel reads is one of the twins.
        for (_, var) in module.global_variables.iter() {
            if var.space == naga::AddressSpace::Uniform {
                let name = module.types[var.ty].name.clone().unwrap_or_default();
                assert!(
                    twins.iter().any(|t| t.name == name),
                    "{kernel:?}: uniform of type {name} has no Rust twin"
                );
            }
        }
    }
    let all: BTreeSet<_> = twins.iter().map(|t| t.name).collect();
    assert_eq!(matched, all, "Rust twins that no kernel declares");
}

/// The value of the u32 constant `name` of a kernel's module.
fn constant(module: &naga::Module, name: &str) -> Option<u32> {
    let (_, c) = module
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))?;
    match module.global_expressions[c.init] {
        naga::Expression::Literal(naga::Literal::U32(v)) => Some(v),
        _ => None,
    }
}

#[test]
fn dispatches_count_in_the_kernels_workgroup_sizes() {
    for kernel in Kernel::ALL {
        let module = module(kernel);
        let entry = module
            .entry_points
            .iter()
            .find(|e| e.name == kernel.entry_point())
            .expect("checked above");
        match kernel.workgroup_size() {
            Some(size) => assert_eq!(
                entry.workgroup_size,
                [size as u32, 1, 1],
                "{kernel:?}: one invocation per item, as the host counts"
            ),
            // sliced_mvm: one input vector and SLICED_WORKGROUP columns per workgroup,
            // holding the largest tile's rows.
            None if kernel == Kernel::SlicedMvm => {
                assert_eq!(entry.workgroup_size, [SLICED_WORKGROUP as u32, 1, 1]);
                assert_eq!(constant(&module, "SWG"), Some(SLICED_WORKGROUP as u32));
                assert_eq!(constant(&module, "SMAX_K"), Some(MAX_TILE));
            }
            // analog_mvm: workgroups of ROWS input vectors each.
            None => assert_eq!(
                constant(&module, "ROWS"),
                Some(MVM_ROWS as u32),
                "{kernel:?}"
            ),
        }
    }
}
