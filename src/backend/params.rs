//! Parameter structs shared by each WGSL kernel and its CPU twin.
//!
//! Each struct is `#[repr(C)]` + `Pod` and mirrors, field for field and in the same order,
//! the struct of the same name in `shaders/`; the GPU receives it as a uniform buffer (sizes
//! are multiples of 16 bytes, and a nested struct starts at a multiple of 16, for that
//! reason). The structs are declared through `twin!`, which records every field's name,
//! offset and size ([`ShaderStruct`]); a test reads the WGSL structs with naga and compares
//! the two ([`shader_structs`]).

use crate::config::{HwConfig, NoiseManagement, Slicing, WeightEncoding};
use crate::physics::device::DeviceParams;
use crate::physics::mapping::{group_count, split_size};
use crate::physics::rng::{Purpose, Seed, Stream};
use bytemuck::{Pod, Zeroable};

/// One field of a parameter struct as the host lays it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Field name, the same in WGSL.
    pub name: &'static str,
    /// Byte offset.
    pub offset: usize,
    /// Byte size.
    pub size: usize,
}

/// A parameter struct with a WGSL twin of the same name.
pub trait ShaderStruct: Pod {
    /// The struct's name, the same in WGSL.
    const NAME: &'static str;
    /// Its fields in order.
    fn members() -> Vec<Member>;
}

/// Declares a `#[repr(C)]` parameter struct and its [`ShaderStruct`] layout.
macro_rules! twin {
    ($(#[$attr:meta])* pub struct $name:ident { $($(#[$field_attr:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$attr])*
        #[repr(C)]
        pub struct $name {
            $($(#[$field_attr])* pub $field: $ty,)*
        }

        impl ShaderStruct for $name {
            const NAME: &'static str = stringify!($name);
            fn members() -> Vec<Member> {
                vec![$(Member {
                    name: stringify!($field),
                    offset: std::mem::offset_of!($name, $field),
                    size: std::mem::size_of::<$ty>(),
                }),*]
            }
        }
    };
}

/// A parameter struct as the host lays it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The struct's name, the same in WGSL.
    pub name: &'static str,
    /// Its size in bytes.
    pub size: usize,
    /// Its fields in order.
    pub members: Vec<Member>,
}

/// The layout of `T`.
fn layout<T: ShaderStruct>() -> Layout {
    Layout {
        name: T::NAME,
        size: std::mem::size_of::<T>(),
        members: T::members(),
    }
}

/// Every parameter struct with a WGSL twin.
pub fn shader_structs() -> Vec<Layout> {
    vec![
        layout::<Periphery>(),
        layout::<ProgramParams>(),
        layout::<MvmParams>(),
        layout::<ReadoutParams>(),
        layout::<OpParams>(),
        layout::<SlicedParams>(),
    ]
}

twin! {
/// Twin of `ProgramParams` in `shaders/program_conductances.wgsl`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct ProgramParams {
    /// Weight rows handled by this call.
    pub n_rows: u32,
    /// Layer inputs (weight columns).
    pub n_in: u32,
    /// Layer row of the first handled row.
    pub row_offset: u32,
    /// Layer outputs (weight rows), for the output groups.
    pub n_out: u32,
    /// Input groups of the layer.
    pub in_groups: u32,
    /// Output groups of the layer.
    pub out_groups: u32,
    /// 1: `w_now` is written transposed, (n_in, n_rows); 0: (n_rows, n_in).
    pub w_now_transposed: u32,
    /// Stream of this chip instance and layer.
    pub stream: u32,
    /// Seed, low word.
    pub key_lo: u32,
    /// Seed, high word.
    pub key_hi: u32,
    /// Conductance levels (0 = continuous).
    pub weight_levels: u32,
    /// `device::MODEL_*`.
    pub model: u32,
    /// 1 when drift and read noise apply.
    pub drifts: u32,
    /// 1 for proportional generic noise.
    pub generic_proportional: u32,
    /// g_max (uS).
    pub g_max: f32,
    /// Programming-noise factor.
    pub prog_noise_scale: f32,
    /// Read-noise factor.
    pub read_noise_scale: f32,
    /// Drift-exponent factor.
    pub drift_scale: f32,
    /// ln((t + t0) / t0).
    pub drift_log_time: f32,
    /// Read-noise time factor.
    pub read_time_factor: f32,
    /// Fraction stuck at g_max.
    pub stuck_on: f32,
    /// Fraction stuck at 0.
    pub stuck_off: f32,
    /// Generic relative sigma.
    pub generic_sigma: f32,
    /// Weight matrices (slices) in the buffer, one after another, each `n_rows` rows: slice
    /// `s` draws its devices with counter word 1 = `s` (0 for the single matrix of
    /// continuous weights, as before slices existed).
    pub slices: u32,
    /// 1: one device per weight (offset encoding), the negative device absent (0 uS);
    /// 0: a differential pair.
    pub one_sided: u32,
    /// The Wan et al. 2022 ReRAM model's time index (`device::WAN2022_TIMES_S`).
    pub reram_time: u32,
    /// Padding to 16 bytes.
    pub pad2: u32,
}
}

impl ProgramParams {
    /// Parameters for programming rows `row_offset .. row_offset + n_rows` of a layer.
    pub fn new(
        hw: &HwConfig,
        grid: &crate::physics::mapping::TileGrid,
        rows: std::ops::Range<usize>,
        seed: Seed,
        stream: Stream,
    ) -> Self {
        let d = DeviceParams::new(hw);
        let [key_lo, key_hi] = seed.key();
        ProgramParams {
            n_rows: rows.len() as u32,
            n_in: grid.n_in as u32,
            row_offset: rows.start as u32,
            n_out: grid.n_out as u32,
            in_groups: grid.in_groups as u32,
            out_groups: grid.out_groups as u32,
            w_now_transposed: 0,
            stream: stream.0,
            key_lo,
            key_hi,
            weight_levels: hw.weight_levels,
            model: d.model,
            drifts: d.drifts,
            generic_proportional: d.generic_proportional,
            g_max: d.g_max,
            prog_noise_scale: d.prog_noise_scale,
            read_noise_scale: d.read_noise_scale,
            drift_scale: d.drift_scale,
            drift_log_time: d.drift_log_time,
            read_time_factor: d.read_time_factor,
            stuck_on: d.stuck_on,
            stuck_off: d.stuck_off,
            generic_sigma: d.generic_sigma,
            slices: 1,
            one_sided: 0,
            reram_time: d.reram_time,
            pad2: 0,
        }
    }

    /// The device parameters back out of the struct.
    pub fn device(&self) -> DeviceParams {
        DeviceParams {
            model: self.model,
            g_max: self.g_max,
            prog_noise_scale: self.prog_noise_scale,
            read_noise_scale: self.read_noise_scale,
            drift_scale: self.drift_scale,
            drifts: self.drifts,
            reram_time: self.reram_time,
            drift_log_time: self.drift_log_time,
            read_time_factor: self.read_time_factor,
            stuck_on: self.stuck_on,
            stuck_off: self.stuck_off,
            generic_proportional: self.generic_proportional,
            generic_sigma: self.generic_sigma,
        }
    }
}

twin! {
/// The converter and noise settings of a tile's forward pass, common to the MVM and the
/// drift read-out. Twin of `Periphery` in `shaders/common.wgsl`, nested in `MvmParams` and
/// `ReadoutParams`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Periphery {
    /// The scale every input is divided by before the DAC: 0 for abs-max noise management
    /// (each vector's largest magnitude per tile), 1 without noise management, a layer's
    /// static input range otherwise. The read-out's unit inputs need none.
    pub input_scale: f32,
    /// Bound-management rounds at most.
    pub max_rounds: u32,
    /// DAC step (0 = ideal).
    pub dac_step: f32,
    /// DAC bound.
    pub dac_bound: f32,
    /// ADC step (0 = ideal).
    pub adc_step: f32,
    /// ADC bound.
    pub adc_bound: f32,
    /// Output noise sigma.
    pub out_noise: f32,
    /// Weight read-noise coefficient.
    pub w_noise: f32,
    /// IR-drop scale (0 = none).
    pub ir_drop: f32,
    /// 1 / the IR-drop model's wire-to-g_max conductance ratio.
    pub ir_drop_inv_ratio: f32,
    /// Padding to 16 bytes.
    pub pad0: u32,
    /// See `pad0`.
    pub pad1: u32,
}
}

impl Periphery {
    /// The periphery of a validated configuration.
    pub fn new(hw: &HwConfig) -> Self {
        Periphery {
            // A static range is the layer's, set when it is programmed.
            input_scale: match hw.noise_management {
                NoiseManagement::AbsMax => 0.0,
                NoiseManagement::None | NoiseManagement::Static => 1.0,
            },
            max_rounds: hw.max_bm_rounds,
            dac_step: hw.dac.step,
            dac_bound: hw.dac.bound,
            adc_step: hw.adc.step,
            adc_bound: hw.adc.bound,
            out_noise: hw.out_noise,
            w_noise: hw.w_noise,
            ir_drop: hw.file.tile.ir_drop,
            ir_drop_inv_ratio: 1.0 / hw.file.tile.ir_drop_g_ratio,
            pad0: 0,
            pad1: 0,
        }
    }
}

/// The IR-drop correction factor c = a (a (0.05 a - 0.2) + 0.5) of an output whose total
/// current is `current` (sum of |w x|) on a tile of `rows` rows. Twin of `ir_drop_factor` in
/// `shaders/common.wgsl`.
#[inline(always)]
pub fn ir_drop_factor(p: &Periphery, rows: u32, current: f32) -> f32 {
    let a = rows as f32 * p.ir_drop_inv_ratio * current;
    a * (a * (0.05 * a - 0.2) + 0.5)
}

/// The IR-drop weight of row `j` of `rows`: 1 - (1 - j / rows)^2. Twin of `ir_drop_row` in
/// `shaders/common.wgsl`.
#[inline(always)]
pub fn ir_drop_row(j: u32, rows: u32) -> f32 {
    let p = 1.0 - j as f32 / rows as f32;
    1.0 - p * p
}

twin! {
/// Twin of `MvmParams` in `shaders/analog_mvm.wgsl`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct MvmParams {
    /// Input vectors in this call.
    pub batch: u32,
    /// Layer inputs.
    pub n_in: u32,
    /// Layer outputs (row stride of the output).
    pub n_out: u32,
    /// Input groups.
    pub in_groups: u32,
    /// Output groups.
    pub out_groups: u32,
    /// First output group handled (column chunks of large layers on the GPU).
    pub group_first: u32,
    /// Layer column of the first column held by the weight buffer.
    pub col_offset: u32,
    /// Columns held by the weight buffer (its row stride).
    pub chunk_cols: u32,
    /// Global index of the first input vector (noise counters).
    pub row_offset: u32,
    /// Noise stream of this call.
    pub stream: u32,
    /// Seed, low word.
    pub key_lo: u32,
    /// Seed, high word.
    pub key_hi: u32,
    /// Converters and noise.
    pub periphery: Periphery,
}
}

impl MvmParams {
    /// Parameters of a whole-layer MVM of `batch` vectors.
    pub fn new(
        grid: &crate::physics::mapping::TileGrid,
        periphery: &Periphery,
        batch: usize,
        row_offset: u32,
        seed: Seed,
        stream: Stream,
    ) -> Self {
        let [key_lo, key_hi] = seed.key();
        MvmParams {
            batch: batch as u32,
            n_in: grid.n_in as u32,
            n_out: grid.n_out as u32,
            in_groups: grid.in_groups as u32,
            out_groups: grid.out_groups as u32,
            group_first: 0,
            col_offset: 0,
            chunk_cols: grid.n_out as u32,
            row_offset,
            stream: stream.0,
            key_lo,
            key_hi,
            periphery: *periphery,
        }
    }
}

twin! {
/// Twin of `SlicedParams` in `shaders/sliced_mvm.wgsl`: a tiled MVM of the sliced chip, one
/// conversion per (row group, read, phase, weight slice, column). The head is `MvmParams`'s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct SlicedParams {
    /// Input vectors in this call.
    pub batch: u32,
    /// Layer inputs.
    pub n_in: u32,
    /// Layer outputs (row stride of the output).
    pub n_out: u32,
    /// Input groups (tiles along the inputs).
    pub in_groups: u32,
    /// Output groups.
    pub out_groups: u32,
    /// First output group handled (column chunks of large layers on the GPU).
    pub group_first: u32,
    /// Layer column of the first column held by the weight buffer.
    pub col_offset: u32,
    /// Columns held by the weight buffer (its row stride).
    pub chunk_cols: u32,
    /// Global index of the first input vector (noise counters).
    pub row_offset: u32,
    /// Noise stream of this call.
    pub stream: u32,
    /// Seed, low word.
    pub key_lo: u32,
    /// Seed, high word.
    pub key_hi: u32,
    /// Rows read at once: a tile's rows split into ceil(rows / this) balanced groups.
    pub rows_parallel: u32,
    /// Row groups of the largest tile (the stride of a tile's ranges and noise words).
    pub row_groups: u32,
    /// Weight slices.
    pub slices: u32,
    /// Bits of the integer weight per slice (0: continuous weights, one slice).
    pub bits_per_slice: u32,
    /// Weight bits, sign included (0: continuous).
    pub weight_bits: u32,
    /// 1: offset encoding (its offset subtracted digitally); 0: sign and magnitude.
    pub offset_encoding: u32,
    /// Magnitude bits of the inputs (0: an ideal DAC, one read of the scaled inputs).
    pub magnitude_bits: u32,
    /// Magnitude bits per read.
    pub bits_per_read: u32,
    /// Reads per phase.
    pub reads: u32,
    /// Phases: 1 (signed reads) or 2 (positive, then negative inputs).
    pub phases: u32,
    /// ADC levels, 2^bits - 1 (0: ideal ADC).
    pub adc_levels: u32,
    /// 1 for abs-max noise management.
    pub nm_abs_max: u32,
    /// The scale inputs are divided by without abs-max noise management: the DAC bound, or a
    /// layer's static input range.
    pub input_bound: f32,
    /// Output noise sigma per conversion (partial-sum units).
    pub out_noise: f32,
    /// Weight read-noise coefficient per conversion.
    pub w_noise: f32,
    /// 1 - g_min / g_max: a conversion's value of weight 1 times input 1.
    pub conductance_range: f32,
}
}

impl SlicedParams {
    /// Parameters of a whole-layer MVM of the sliced chip `hw` whose weights are held as
    /// `slicing` says, for `batch` vectors.
    pub fn new(
        hw: &HwConfig,
        slicing: &Slicing,
        grid: &crate::physics::mapping::TileGrid,
        (seed, stream): (Seed, Stream),
        batch: usize,
        row_offset: u32,
    ) -> Self {
        let [key_lo, key_hi] = seed.key();
        let largest_tile = split_size(grid.n_in as u32, grid.in_groups as u32, 0) as usize;
        let reads = &hw.reads;
        SlicedParams {
            batch: batch as u32,
            n_in: grid.n_in as u32,
            n_out: grid.n_out as u32,
            in_groups: grid.in_groups as u32,
            out_groups: grid.out_groups as u32,
            group_first: 0,
            col_offset: 0,
            chunk_cols: grid.n_out as u32,
            row_offset,
            stream: stream.0,
            key_lo,
            key_hi,
            rows_parallel: hw.rows_parallel as u32,
            row_groups: group_count(largest_tile, hw.rows_parallel) as u32,
            slices: slicing.slices,
            bits_per_slice: slicing.bits_per_slice,
            weight_bits: slicing.weight_bits,
            offset_encoding: u32::from(slicing.encoding == WeightEncoding::Offset),
            magnitude_bits: reads.magnitude_bits,
            bits_per_read: reads.bits_per_read,
            reads: reads.per_phase,
            phases: reads.phases(),
            adc_levels: if hw.file.adc.bits == 0 {
                0
            } else {
                (1u32 << hw.file.adc.bits) - 1
            },
            nm_abs_max: u32::from(hw.noise_management == NoiseManagement::AbsMax),
            input_bound: hw.file.dac.bound,
            out_noise: hw.out_noise,
            w_noise: hw.w_noise,
            conductance_range: hw.conductance_range,
        }
    }
}

twin! {
/// Twin of `ReadoutParams` in `shaders/gdc_readout.wgsl`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct ReadoutParams {
    /// Layer inputs.
    pub n_in: u32,
    /// Layer outputs.
    pub n_out: u32,
    /// Input groups.
    pub in_groups: u32,
    /// Output groups.
    pub out_groups: u32,
    /// First output group handled.
    pub group_first: u32,
    /// Output groups handled.
    pub group_count: u32,
    /// Layer row of the first weight row held by the buffer.
    pub row_offset: u32,
    /// Offset between weight rows in the buffer.
    pub w_row_stride: u32,
    /// Offset between weight columns in the buffer.
    pub w_col_stride: u32,
    /// Noise stream.
    pub stream: u32,
    /// Seed, low word.
    pub key_lo: u32,
    /// Seed, high word.
    pub key_hi: u32,
    /// `Purpose` of the output noise (before or after drift).
    pub purpose: u32,
    /// Padding: the periphery starts at a multiple of 16 bytes.
    pub pad0: u32,
    /// See `pad0`.
    pub pad1: u32,
    /// See `pad0`.
    pub pad2: u32,
    /// Converters and noise.
    pub periphery: Periphery,
}
}

impl ReadoutParams {
    /// Read-out of the whole layer stored (n_out, n_in) row-major.
    pub fn new(
        grid: &crate::physics::mapping::TileGrid,
        periphery: &Periphery,
        seed: Seed,
        stream: Stream,
        purpose: Purpose,
    ) -> Self {
        let [key_lo, key_hi] = seed.key();
        ReadoutParams {
            n_in: grid.n_in as u32,
            n_out: grid.n_out as u32,
            in_groups: grid.in_groups as u32,
            out_groups: grid.out_groups as u32,
            group_first: 0,
            group_count: grid.out_groups as u32,
            row_offset: 0,
            w_row_stride: grid.n_in as u32,
            w_col_stride: 1,
            stream: stream.0,
            key_lo,
            key_hi,
            purpose: purpose as u32,
            pad0: 0,
            pad1: 0,
            pad2: 0,
            periphery: *periphery,
        }
    }
}

/// Rounds half to even on the converter's step; step 0 (an ideal converter) keeps `v`.
/// Twin of `round_to_step` in `shaders/common.wgsl`.
#[inline(always)]
pub fn round_to_step(v: f32, step: f32) -> f32 {
    if step > 0.0 {
        (v / step).round_ties_even() * step
    } else {
        v
    }
}

/// DAC or ADC: round on the step, then clip (an ideal converter's bound is infinite).
/// Twin of `quantize` in `shaders/common.wgsl`.
#[inline(always)]
pub fn quantize(v: f32, step: f32, bound: f32) -> f32 {
    round_to_step(v, step).clamp(-bound, bound)
}

/// The third and fourth noise-counter words of a tile's output noise: the input group
/// and bound-management round go beside the purpose.
#[inline(always)]
pub fn noise_word(purpose: Purpose, group: u32, round: u32) -> u32 {
    purpose as u32 | (group << 8) | (round << 24)
}

twin! {
/// Twin of `OpParams` in `shaders/network_ops.wgsl`: the shapes of one digital layer of a
/// network (activations channels-last, `images` of them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct OpParams {
    /// Images in the batch (all chip instances of a stacked pass together).
    pub images: u32,
    /// Input channels.
    pub channels: u32,
    /// Input height.
    pub height: u32,
    /// Input width.
    pub width: u32,
    /// Output channels.
    pub out_channels: u32,
    /// Output height.
    pub out_height: u32,
    /// Output width.
    pub out_width: u32,
    /// Square window size (convolution, pooling).
    pub kernel: u32,
    /// Window stride.
    pub stride: u32,
    /// Zero padding on every side (convolution).
    pub pad: u32,
    /// Pooling: 1 for max, 0 for average.
    pub max_pool: u32,
    /// `im2col`: first output pixel (over the batch) of the block built.
    pub first_pixel: u32,
}
}

impl OpParams {
    /// A layer taking `images` activations of shape `input` to shape `output`.
    pub fn new(images: usize, input: [usize; 3], output: [usize; 3]) -> Self {
        let [channels, height, width] = input.map(|v| v as u32);
        let [out_channels, out_height, out_width] = output.map(|v| v as u32);
        OpParams {
            images: images as u32,
            channels,
            height,
            width,
            out_channels,
            out_height,
            out_width,
            ..OpParams::default()
        }
    }

    /// `select_columns`: of each of `vectors` vectors of `len` values, the `kept` values a
    /// pruned matrix layer maps.
    pub fn select_columns(vectors: usize, len: usize, kept: usize) -> Self {
        OpParams {
            images: vectors as u32,
            channels: len as u32,
            out_channels: kept as u32,
            ..OpParams::default()
        }
    }

    /// Values of one input activation.
    pub fn input_len(&self) -> usize {
        (self.channels * self.height * self.width) as usize
    }

    /// Output pixels of one image.
    pub fn out_pixels(&self) -> usize {
        (self.out_height * self.out_width) as usize
    }

    /// Values of one output activation.
    pub fn out_len(&self) -> usize {
        (self.out_channels * self.out_height * self.out_width) as usize
    }

    /// Values of one im2col patch.
    pub fn patch_len(&self) -> usize {
        (self.channels * self.kernel * self.kernel) as usize
    }
}
