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
}

impl Kernel {
    /// Every kernel.
    pub const ALL: [Kernel; 3] = [
        Kernel::ProgramConductances,
        Kernel::AnalogMvm,
        Kernel::GdcReadout,
    ];

    /// Entry point, equal to the name of the CPU twin.
    pub fn entry_point(self) -> &'static str {
        match self {
            Kernel::ProgramConductances => "program_conductances",
            Kernel::AnalogMvm => "analog_mvm",
            Kernel::GdcReadout => "gdc_readout",
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
        };
        format!("{COMMON}\n{own}")
    }
}
