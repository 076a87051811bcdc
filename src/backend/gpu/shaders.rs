//! The WGSL kernels of the engine, loaded once from `shaders/` and keyed by an enum.
//! Every kernel is the host's constants (the workgroup sizes the dispatches are counted in,
//! written here once), `common.wgsl`, then its own file.

use crate::config::chip::MAX_TILE;
/// Helpers prepended to every kernel.
const COMMON: &str = include_str!("../../../shaders/common.wgsl");

/// Invocations per workgroup of `program_conductances` (its `WORKGROUP`): one per weight.
pub const PROGRAM_WORKGROUP: usize = 256;
/// Invocations per workgroup of `gdc_readout` (its `WORKGROUP`): one per (output group,
/// input column).
pub const READOUT_WORKGROUP: usize = 64;
/// Input vectors per workgroup of `analog_mvm` (its `ROWS`).
pub const MVM_ROWS: usize = 2;
/// Invocations per workgroup of the kernels of `network_ops.wgsl` (its `OPS_WG`): one per
/// output value.
pub const OPS_WORKGROUP: usize = 256;

/// Invocations per workgroup of `sliced_mvm` (its `SWG`): one workgroup per input vector and
/// block of this many columns of an output group, one invocation per column, the tile's rows
/// held in workgroup memory (`SMAX_K`).
pub const SLICED_WORKGROUP: usize = 64;

/// Column blocks of `sliced_mvm` per output group of `grid`: its workgroups along y are the
/// output groups of a chunk times these blocks (the kernel counts them the same way).
pub fn sliced_column_blocks(grid: &crate::physics::mapping::TileGrid) -> usize {
    grid.out_range(0).len().div_ceil(SLICED_WORKGROUP)
}

/// A compute kernel of the engine; each has a CPU twin of the same name in
/// `backend::cpu`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// `shaders/program_conductances.wgsl`.
    ProgramConductances,
    /// `shaders/analog_mvm.wgsl`.
    AnalogMvm,
    /// `shaders/gdc_readout.wgsl`.
    GdcReadout,
    /// `shaders/sliced_mvm.wgsl`: the sliced chip's MVM.
    SlicedMvm,
    /// `shaders/network_ops.wgsl`: NCHW images to normalised channels-last activations.
    NormalizeInput,
    /// `shaders/network_ops.wgsl`: convolution patches.
    Im2col,
    /// `shaders/network_ops.wgsl`: the inputs a pruned layer maps.
    SelectColumns,
    /// `shaders/network_ops.wgsl`: per-channel scale and shift, in place.
    ChannelAffine,
    /// `shaders/network_ops.wgsl`: relu, in place.
    Relu,
    /// `shaders/network_ops.wgsl`: residual add, in place.
    Add,
    /// `shaders/network_ops.wgsl`: max or average pooling.
    Pool,
    /// `shaders/network_ops.wgsl`: global average pooling.
    GlobalAvgPool,
    /// `shaders/network_ops.wgsl`: channels-last to channel-major vectors.
    ToChannelsFirst,
}

impl Kernel {
    /// Every kernel.
    pub const ALL: [Kernel; 13] = [
        Kernel::ProgramConductances,
        Kernel::AnalogMvm,
        Kernel::GdcReadout,
        Kernel::SlicedMvm,
        Kernel::NormalizeInput,
        Kernel::Im2col,
        Kernel::SelectColumns,
        Kernel::ChannelAffine,
        Kernel::Relu,
        Kernel::Add,
        Kernel::Pool,
        Kernel::GlobalAvgPool,
        Kernel::ToChannelsFirst,
    ];

    /// Entry point, equal to the name of the CPU twin.
    pub fn entry_point(self) -> &'static str {
        match self {
            Kernel::ProgramConductances => "program_conductances",
            Kernel::AnalogMvm => "analog_mvm",
            Kernel::GdcReadout => "gdc_readout",
            Kernel::SlicedMvm => "sliced_mvm",
            Kernel::NormalizeInput => "normalize_input",
            Kernel::Im2col => "im2col",
            Kernel::SelectColumns => "select_columns",
            Kernel::ChannelAffine => "channel_affine",
            Kernel::Relu => "relu",
            Kernel::Add => "add",
            Kernel::Pool => "pool",
            Kernel::GlobalAvgPool => "global_avg_pool",
            Kernel::ToChannelsFirst => "to_channels_first",
        }
    }

    /// The invocations per workgroup the host counts a dispatch of this kernel in, one per
    /// item; `None` for `analog_mvm`, whose workgroups take [`MVM_ROWS`] input vectors each,
    /// and `sliced_mvm`, whose workgroups take one.
    pub fn workgroup_size(self) -> Option<usize> {
        match self {
            Kernel::ProgramConductances => Some(PROGRAM_WORKGROUP),
            Kernel::GdcReadout => Some(READOUT_WORKGROUP),
            Kernel::AnalogMvm | Kernel::SlicedMvm => None,
            _ => Some(OPS_WORKGROUP),
        }
    }

    /// The host's constants the kernel's file reads, as WGSL.
    fn constants(self) -> String {
        match self {
            Kernel::ProgramConductances => format!("const WORKGROUP: u32 = {PROGRAM_WORKGROUP}u;"),
            Kernel::GdcReadout => format!("const WORKGROUP: u32 = {READOUT_WORKGROUP}u;"),
            Kernel::AnalogMvm => format!("const ROWS: u32 = {MVM_ROWS}u;"),
            Kernel::SlicedMvm => {
                format!("const SWG: u32 = {SLICED_WORKGROUP}u;\nconst SMAX_K: u32 = {MAX_TILE}u;")
            }
            _ => format!("const OPS_WG: u32 = {OPS_WORKGROUP}u;"),
        }
    }

    /// The complete WGSL source.
    pub fn source(self) -> String {
        let own = match self {
            Kernel::ProgramConductances => {
                include_str!("../../../shaders/program_conductances.wgsl")
            }
            Kernel::AnalogMvm => include_str!("../../../shaders/analog_mvm.wgsl"),
            Kernel::GdcReadout => include_str!("../../../shaders/gdc_readout.wgsl"),
            Kernel::SlicedMvm => include_str!("../../../shaders/sliced_mvm.wgsl"),
            _ => include_str!("../../../shaders/network_ops.wgsl"),
        };
        format!(
            "// Constants of the host (src/backend/gpu/shaders.rs).\n{}\n\n{COMMON}\n{own}",
            self.constants()
        )
    }
}
