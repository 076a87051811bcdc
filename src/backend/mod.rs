//! Simulation backends: one trait in domain terms, a CPU reference ([`cpu`]) and a
//! WGSL/wgpu GPU implementation ([`gpu`]) that is tested against it.
//!
//! A backend holds programmed layers in its own memory (host vectors or GPU buffers) and runs
//! the kernels of `shaders/` (or their CPU twins) on them. Its trait, [`Backend`], speaks of
//! three things:
//! - one chip's matrix layer: programming it (`program_conductances`), the identity read-outs
//!   of drift compensation (`gdc_readout`) and its analog products on host vectors
//!   (`analog_mvm`);
//! - a set of chips: the same matrix layer of consecutive chip instances stacked, so that
//!   every chip of the set runs in the same pass;
//! - layers on a batch: the analog and digital layers of a network applied to the
//!   activations of a batch of images on every chip of a set (`network_ops.wgsl`).
//!
//! What to program, how to combine the read-outs and in which order to run the layers is
//! decided once, above the backends, in [`crate::runtime`].

pub mod cpu;
pub mod gpu;
pub mod params;

use crate::error::Result;
use crate::physics::mapping::TileGrid;
use params::{MvmParams, OpParams, ProgramParams, ReadoutParams, SlicedParams};

/// Which weights of a programmed layer a read-out sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightState {
    /// Right after programming (before drift).
    Programmed,
    /// At inference time.
    Now,
}

/// The programmed conductances of a layer, (n_out, n_in) row-major, in microsiemens.
#[derive(Clone, Debug, PartialEq)]
pub struct Conductances {
    /// Positive device of each pair.
    pub g_pos: Vec<f32>,
    /// Negative device of each pair.
    pub g_neg: Vec<f32>,
}

/// The forward parameters of a programmed layer: aihwkit's chip or the sliced one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerParams {
    /// `analog_mvm`.
    Aihwkit(MvmParams),
    /// `sliced_mvm`.
    Sliced(SlicedParams),
}

impl LayerParams {
    /// The same parameters with the noise stream of the chip `z` places after this one.
    pub fn with_stream_offset(&self, z: u32) -> LayerParams {
        match *self {
            LayerParams::Aihwkit(p) => LayerParams::Aihwkit(MvmParams {
                stream: p.stream + z,
                ..p
            }),
            LayerParams::Sliced(p) => LayerParams::Sliced(SlicedParams {
                stream: p.stream + z,
                ..p
            }),
        }
    }
}

/// One chip's programmed matrix layer with what its forward pass needs, handed to
/// [`Backend::stack`].
pub struct ChipLayer<L> {
    /// The programmed layer (its ADC ranges set, for the sliced chip).
    pub layer: L,
    /// Its forward parameters (the batch fields are set per pass).
    pub params: LayerParams,
    /// Its digital gains per (input group, output), see [`Backend::set_gains`].
    pub gains: Vec<f32>,
}

/// A place where the kernels run.
///
/// Activations of a set of chips are one batch, chip-major: the images of the first chip,
/// then those of the second, and so on; each is channels-last (NHWC).
pub trait Backend {
    /// One matrix layer programmed onto one chip.
    type Layer;
    /// One matrix layer of every chip of a set, ready to run on batches.
    type Stack;
    /// The activations of a batch of images on every chip of a set.
    type Batch;

    /// One line naming the backend and its device.
    fn describe(&self) -> String;

    // One chip's layer.

    /// Programs one chip instance of a layer of weights `w` (n_out, n_in) with the
    /// conductance scale `scales[t]` of each tile; digital gains start at 1.
    ///
    /// # Errors
    /// GPU failures (out of memory, lost device).
    fn program(
        &self,
        grid: &TileGrid,
        w: &[f32],
        scales: &[f32],
        params: &ProgramParams,
    ) -> Result<Self::Layer>;

    /// Identity read-out sums per (output group, input column), `out_groups * n_in` values.
    ///
    /// # Errors
    /// GPU failures.
    fn readout(
        &self,
        layer: &Self::Layer,
        state: WeightState,
        params: &ReadoutParams,
    ) -> Result<Vec<f32>>;

    /// Sets the digital gain applied to every converted partial sum, per (input group `g`,
    /// output `i`) at `gains[g * n_out + i]`: on aihwkit's chip the tile's drift compensation
    /// times the column's weight scale, on the sliced chip the output scale.
    ///
    /// # Errors
    /// A gain count other than `in_groups * n_out`; GPU failures.
    fn set_gains(&self, layer: &mut Self::Layer, gains: &[f32]) -> Result<()>;

    /// Analog MVM of `params.batch` vectors `x` (batch, n_in) -> (batch, n_out).
    ///
    /// # Errors
    /// GPU failures.
    fn mvm(&self, layer: &Self::Layer, x: &[f32], params: &MvmParams) -> Result<Vec<f32>>;

    /// The programmed conductances (for inspection and tests).
    ///
    /// # Errors
    /// GPU failures.
    fn conductances(&self, layer: &Self::Layer) -> Result<Conductances>;

    /// Sets the ADC half-range of every conversion of a sliced layer: per layer row group
    /// (input group times the row groups of a tile, plus the group) and slice, at
    /// `group * slices + slice`.
    ///
    /// # Errors
    /// GPU failures.
    fn set_ranges(&self, layer: &mut Self::Layer, ranges: &[f32]) -> Result<()>;

    /// The sliced chip's MVM of `params.batch` vectors `x` (batch, n_in) -> (batch, n_out),
    /// the layer's gains being each tile's output scale.
    ///
    /// # Errors
    /// GPU failures.
    fn sliced_mvm(&self, layer: &Self::Layer, x: &[f32], params: &SlicedParams)
    -> Result<Vec<f32>>;

    /// The effective weights of every slice, (slices, n_out, n_in), right after programming
    /// or at inference time.
    ///
    /// # Errors
    /// GPU failures.
    fn weights(&self, layer: &Self::Layer, state: WeightState) -> Result<Vec<f32>>;

    // Sets of chips.

    /// How many chips a set should hold for a network whose matrix layers map onto `grids`
    /// (each with its weight slices) and whose largest activation (or im2col block) of one
    /// image holds `floats_per_image` values, run on batches of `batch` images: as many as fit
    /// the backend in one pass.
    ///
    /// # Errors
    /// Layers the backend cannot hold.
    fn chips_per_set(
        &self,
        grids: &[(TileGrid, usize)],
        floats_per_image: usize,
        batch: usize,
    ) -> Result<usize>;

    /// Images per chip in one pass of a set of `chips` chips (passes split larger batches).
    ///
    /// # Errors
    /// A set too large for one image.
    fn images_per_pass(&self, chips: usize, floats_per_image: usize) -> Result<usize>;

    /// Stacks one matrix layer of consecutive chips, mapped onto `grid`, with its digital
    /// `bias` and, when structured pruning removed some, the inputs `kept` it maps.
    ///
    /// # Errors
    /// An empty set, a set too large for the backend, GPU failures.
    fn stack(
        &self,
        grid: &TileGrid,
        chips: Vec<ChipLayer<Self::Layer>>,
        bias: Option<&[f32]>,
        kept: Option<&[u32]>,
    ) -> Result<Self::Stack>;

    // Layers on a batch.

    /// The network's input for `chips` chips: `p.images` NCHW images normalised with
    /// `per_channel` (means, then inverse standard deviations), channels-last, repeated for
    /// every chip.
    ///
    /// # Errors
    /// Backend failures.
    fn input(
        &self,
        p: &OpParams,
        images: &[f32],
        per_channel: &[f32],
        chips: usize,
    ) -> Result<Self::Batch>;

    /// A copy of `x`, for a layer that updates in place an input read later again.
    ///
    /// # Errors
    /// Backend failures.
    fn duplicate(&self, x: &Self::Batch) -> Result<Self::Batch>;

    /// Convolution by `layer`: im2col, then the product of every patch, bias added.
    /// `p.images` counts the images of every chip; `row_offset` is the data-set index of each
    /// chip's first output pixel (noise counters), the same for every chip.
    ///
    /// # Errors
    /// Backend failures.
    fn conv(
        &self,
        layer: &Self::Stack,
        p: &OpParams,
        x: &Self::Batch,
        row_offset: u32,
    ) -> Result<Self::Batch>;

    /// Linear layer `layer` on `p.images` vectors; `row_offset` is the data-set index of
    /// each chip's first image.
    ///
    /// # Errors
    /// Backend failures.
    fn linear(
        &self,
        layer: &Self::Stack,
        p: &OpParams,
        x: &Self::Batch,
        row_offset: u32,
    ) -> Result<Self::Batch>;

    /// In place: folded batch norm, `per_channel` holding the scales, then the shifts.
    ///
    /// # Errors
    /// Backend failures.
    fn channel_affine(&self, p: &OpParams, per_channel: &[f32], x: &mut Self::Batch) -> Result<()>;

    /// In place: `max(x, 0)`.
    ///
    /// # Errors
    /// Backend failures.
    fn relu(&self, p: &OpParams, x: &mut Self::Batch) -> Result<()>;

    /// In place: `x + other`.
    ///
    /// # Errors
    /// Backend failures.
    fn add(&self, p: &OpParams, other: &Self::Batch, x: &mut Self::Batch) -> Result<()>;

    /// Max or average pooling (`p.max_pool`).
    ///
    /// # Errors
    /// Backend failures.
    fn pool(&self, p: &OpParams, x: &Self::Batch) -> Result<Self::Batch>;

    /// Global average pooling.
    ///
    /// # Errors
    /// Backend failures.
    fn global_avg_pool(&self, p: &OpParams, x: &Self::Batch) -> Result<Self::Batch>;

    /// Flatten: channels-last to channel-major vectors.
    ///
    /// # Errors
    /// Backend failures.
    fn to_channels_first(&self, p: &OpParams, x: &Self::Batch) -> Result<Self::Batch>;

    /// The values of `x` on the host.
    ///
    /// # Errors
    /// Backend failures.
    fn output(&self, x: Self::Batch) -> Result<Vec<f32>>;
}
