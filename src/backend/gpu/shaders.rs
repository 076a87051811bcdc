//! The WGSL kernels of the engine, loaded once from `shaders/` and keyed by an enum.
//! Every kernel is `common.wgsl` followed by its own file.

/// Helpers prepended to every kernel.
const COMMON: &str = include_str!("../../../shaders/common.wgsl");

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
    pub const ALL: [Kernel; 12] = [
        Kernel::ProgramConductances,
        Kernel::AnalogMvm,
        Kernel::GdcReadout,
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

    /// The complete WGSL source.
    pub fn source(self) -> String {
        let own = match self {
            Kernel::ProgramConductances => {
                include_str!("../../../shaders/program_conductances.wgsl")
            }
            Kernel::AnalogMvm => include_str!("../../../shaders/analog_mvm.wgsl"),
            Kernel::GdcReadout => include_str!("../../../shaders/gdc_readout.wgsl"),
            _ => include_str!("../../../shaders/network_ops.wgsl"),
        };
        format!("{COMMON}\n{own}")
    }
}
