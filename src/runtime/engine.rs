//! The crossbar engine: a layer programmed onto tiles as one chip instance, with global
//! drift compensation, and its analog forward pass with digital bias. Backend-agnostic:
//! the same code drives the CPU and the GPU.
//!
//! Two chips follow from the hardware description ([`ReadModel`]): aihwkit's (continuous
//! weights as differential pairs scaled per tile, one read of all rows, the aihwkit ADC) and
//! the sliced chip (weights cut into slices by [`super::sliced`], inputs read in a few bits
//! at a time, rows in groups, one conversion each).

use super::sliced;
use crate::backend::params::{MvmParams, Periphery, ProgramParams, ReadoutParams, SlicedParams};
use crate::backend::{Backend, ChipLayer, Conductances, LayerParams, WeightState};
use crate::config::{DriftCompensation, HwConfig, NoiseManagement, ReadModel, WeightScaling};
use crate::error::{Error, Result, ensure_finite};
use crate::physics::device::DeviceParams;
use crate::physics::mapping::TileGrid;
use crate::physics::rng::{Purpose, Seed, Stream};
use std::borrow::Cow;

/// Which chip a layer is programmed on: the run's seed and the instance number. Each
/// instance is an independent draw of every device non-ideality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chip {
    /// Seed of all draws.
    pub seed: Seed,
    /// Chip instance (< 2^20).
    pub instance: u32,
}

/// What a layer's programming takes beyond its weights.
#[derive(Clone, Copy, Debug, Default)]
pub struct LayerOptions<'a> {
    /// The layer's weight bits on a sliced chip of sliced weights (none: the chip's
    /// `mapping.weight_bits`).
    pub weight_bits: Option<u32>,
    /// Calibration vectors of the layer's inputs, (count, n_in): needed by calibrated ADC
    /// ranges.
    pub calibration: Option<&'a [f32]>,
}

/// A layer programmed onto crossbar tiles of one chip instance, held by a backend.
pub struct AnalogLayer<L> {
    grid: TileGrid,
    /// Forward parameters, batch fields unset.
    params: LayerParams,
    bias: Option<Vec<f32>>,
    gains: Vec<f32>,
    layer: L,
}

impl<L> AnalogLayer<L> {
    /// How the layer is split onto tiles.
    pub fn grid(&self) -> &TileGrid {
        &self.grid
    }

    /// Digital gain of every (input group, output), at `g * n_out + i`: on aihwkit's chip the
    /// tile's drift compensation (1 without) times the column's weight scale; on the sliced
    /// chip the output scale, compensation included.
    pub fn gains(&self) -> &[f32] {
        &self.gains
    }

    /// The backend's layer.
    pub fn inner(&self) -> &L {
        &self.layer
    }

    /// The digital bias added after the analog product, if any.
    pub fn bias(&self) -> Option<&[f32]> {
        self.bias.as_deref()
    }

    /// The layer as one chip of a set to stack ([`Backend::stack`]); the stack takes the
    /// digital bias once for all its chips.
    pub fn into_chip(self) -> ChipLayer<L> {
        ChipLayer {
            params: self.params,
            layer: self.layer,
            gains: self.gains,
        }
    }

    /// The kernel parameters of a forward pass of `batch` vectors, the first of them number
    /// `row_offset` of the data set.
    pub fn params(&self, batch: usize, row_offset: u32) -> LayerParams {
        let batch = batch as u32;
        match self.params {
            LayerParams::Aihwkit(p) => LayerParams::Aihwkit(MvmParams {
                batch,
                row_offset,
                ..p
            }),
            LayerParams::Sliced(p) => LayerParams::Sliced(SlicedParams {
                batch,
                row_offset,
                ..p
            }),
        }
    }
}

/// Programs chip `chip` of layer `layer_id` with weights `w` of shape (n_out, n_in) and an optional
/// digital bias (n_out).
///
/// # Errors
/// Shape mismatches, non-finite weights or bias, layers too large, GPU failures.
pub fn program_layer<B: Backend>(
    backend: &B,
    hw: &HwConfig,
    w: &[f32],
    shape: (usize, usize),
    bias: Option<&[f32]>,
    layer_id: u32,
    chip: Chip,
) -> Result<AnalogLayer<B::Layer>> {
    program_layer_with(
        backend,
        hw,
        (w, shape, bias),
        layer_id,
        chip,
        &LayerOptions::default(),
    )
}

/// [`program_layer`] with the layer's own weight bits and calibration inputs.
///
/// # Errors
/// As [`program_layer`]; a calibrated ADC range without calibration inputs.
pub fn program_layer_with<B: Backend>(
    backend: &B,
    hw: &HwConfig,
    (w, (n_out, n_in), bias): (&[f32], (usize, usize), Option<&[f32]>),
    layer_id: u32,
    chip: Chip,
    options: &LayerOptions<'_>,
) -> Result<AnalogLayer<B::Layer>> {
    if Some(w.len()) != n_out.checked_mul(n_in) {
        return Err(Error::Shape(format!(
            "weights hold {} values, expected {n_out} x {n_in}",
            w.len()
        )));
    }
    ensure_finite("weights", w)?;
    if let Some(b) = bias {
        if b.len() != n_out {
            return Err(Error::Shape(format!(
                "bias holds {} values, the layer has {n_out} outputs",
                b.len()
            )));
        }
        ensure_finite("bias", b)?;
    }
    let grid = TileGrid::new(n_out, n_in, hw.tile_rows, hw.tile_cols)?;
    let stream = Stream::chip(layer_id, chip.instance);
    let input_range = match hw.noise_management {
        NoiseManagement::Static => Some(static_input_range(hw, n_in, options.calibration)?),
        _ => None,
    };
    let (params, layer, gains) = match hw.read_model {
        ReadModel::Aihwkit => {
            let (layer, gains) = program_aihwkit(backend, hw, w, &grid, chip.seed, stream)?;
            let mut periphery = Periphery::new(hw);
            if let Some(range) = input_range {
                periphery.input_scale = range;
            }
            let params = MvmParams::new(&grid, &periphery, 0, 0, chip.seed, stream);
            (LayerParams::Aihwkit(params), layer, gains)
        }
        ReadModel::Sliced => {
            let slicing = hw.slicing(options.weight_bits);
            let mut params = SlicedParams::new(hw, &slicing, &grid, (chip.seed, stream), 0, 0);
            if let Some(range) = input_range {
                params.input_bound = range;
            }
            let (layer, gains) = program_sliced(
                backend,
                hw,
                (w, &grid, &slicing),
                &params,
                chip.seed,
                options.calibration,
            )?;
            (LayerParams::Sliced(params), layer, gains)
        }
    };
    Ok(AnalogLayer {
        grid,
        params,
        bias: bias.map(<[f32]>::to_vec),
        gains,
        layer,
    })
}

/// A layer's static input range: the `dac.range_percentile` percentile of the magnitudes of
/// its calibration inputs (1 when they are all zero, which tells nothing).
fn static_input_range(hw: &HwConfig, n_in: usize, calibration: Option<&[f32]>) -> Result<f32> {
    let x = calibration.ok_or_else(|| Error::Config {
        origin: hw.origin.clone(),
        message: "dac.noise_management \"static\" needs calibration inputs for every layer".into(),
    })?;
    if x.is_empty() || x.len() % n_in != 0 {
        return Err(Error::Shape(format!(
            "{} calibration values for a layer of {n_in} inputs",
            x.len()
        )));
    }
    ensure_finite("calibration inputs", x)?;
    let mut magnitudes: Vec<f32> = x.iter().map(|v| v.abs()).collect();
    let rank = ((hw.file.dac.range_percentile / 100.0) * (magnitudes.len() - 1) as f64).round();
    let k = (rank as usize).min(magnitudes.len() - 1);
    let (_, range, _) = magnitudes.select_nth_unstable_by(k, f32::total_cmp);
    Ok(if *range > 0.0 { *range } else { 1.0 })
}

/// aihwkit's chip: differential pairs scaled per tile, then global drift compensation by
/// identity read-outs.
fn program_aihwkit<B: Backend>(
    backend: &B,
    hw: &HwConfig,
    w: &[f32],
    grid: &TileGrid,
    seed: Seed,
    stream: Stream,
) -> Result<(B::Layer, Vec<f32>)> {
    // With weight scaling the tiles hold weights of largest magnitude 1 (per tile or per
    // column) and the magnitudes become digital gains.
    let (w, magnitudes) = match hw.weight_scaling {
        WeightScaling::None => (Cow::Borrowed(w), None),
        scaling => {
            let m = grid.weight_magnitudes(w, scaling == WeightScaling::Column);
            (Cow::Owned(grid.divide_by(w, &m)), Some(m))
        }
    };
    let scales = grid.conductance_scales(&w, hw.device().g_max_us);
    let params = ProgramParams::new(hw, grid, 0..grid.n_out, seed, stream);
    let mut layer = backend.program(grid, &w, &scales, &params)?;
    let periphery = Periphery::new(hw);
    let mut gains = vec![1.0; grid.digital_gains()];
    let drifts = DeviceParams::new(hw).drifts == 1;
    if hw.device().drift_compensation == DriftCompensation::Global && drifts {
        let before = ReadoutParams::new(grid, &periphery, seed, stream, Purpose::ReadoutBefore);
        let after = ReadoutParams::new(grid, &periphery, seed, stream, Purpose::ReadoutAfter);
        let sums_before = backend.readout(&layer, WeightState::Programmed, &before)?;
        let sums_after = backend.readout(&layer, WeightState::Now, &after)?;
        gains = grid.per_output(&compensation_gains(grid, &sums_before, &sums_after));
    }
    if let Some(m) = magnitudes {
        gains.iter_mut().zip(&m).for_each(|(g, m)| *g *= m);
    }
    if gains.iter().any(|&g| g != 1.0) {
        backend.set_gains(&mut layer, &gains)?;
    }
    Ok((layer, gains))
}

/// The sliced chip: every slice's devices programmed over the conductance window g_max - g_min
/// (so that a device's value is its conductance above g_min over the window), drift
/// compensation from the devices' contributions, the tiles' output scales and the ADC ranges.
fn program_sliced<B: Backend>(
    backend: &B,
    hw: &HwConfig,
    (w, grid, slicing): (&[f32], &TileGrid, &crate::config::Slicing),
    params: &SlicedParams,
    seed: Seed,
    calibration: Option<&[f32]>,
) -> Result<(B::Layer, Vec<f32>)> {
    let sliced = sliced::slice_weights(w, slicing, grid, hw.weight_scaling);
    let window = hw.device().g_max_us * hw.conductance_range;
    let mut program = ProgramParams::new(hw, grid, 0..grid.n_out, seed, Stream(params.stream));
    program.g_max = window;
    program.slices = slicing.slices;
    program.one_sided = u32::from(slicing.encoding == crate::config::WeightEncoding::Offset);
    let scales = vec![window; grid.tiles()];
    let mut layer = backend.program(grid, &sliced.slices, &scales, &program)?;
    let w_now = backend.weights(&layer, WeightState::Now)?;
    let mut gains = vec![1.0; grid.tiles()];
    let drifts = DeviceParams::new(hw).drifts == 1;
    if hw.device().drift_compensation == DriftCompensation::Global && drifts {
        let before = backend.weights(&layer, WeightState::Programmed)?;
        gains = sliced::compensation_gains(grid, params, &before, &w_now);
    }
    let out_scales = sliced::out_scales(hw, slicing, grid, &sliced.magnitudes, &gains);
    backend.set_gains(&mut layer, &out_scales)?;
    // The ranges are a design choice: calibrated on the weights as designed, the same for
    // every chip instance.
    let ranges = sliced::ranges(hw, grid, params, &sliced.slices, calibration)?;
    backend.set_ranges(&mut layer, &ranges)?;
    Ok((layer, out_scales))
}

/// Per tile: mean |F(I)| right after programming over mean |F(I)| now.
fn compensation_gains(grid: &TileGrid, before: &[f32], after: &[f32]) -> Vec<f32> {
    let mut gains = Vec::with_capacity(grid.tiles());
    for g in 0..grid.in_groups {
        let inputs = grid.in_range(g);
        for o in 0..grid.out_groups {
            // The read-out sums of tile (g, o): output group o's row, input group g's columns.
            let tile_sum = |sums: &[f32]| -> f64 {
                sums[o * grid.n_in..][inputs.clone()]
                    .iter()
                    .map(|&v| f64::from(v))
                    .sum()
            };
            let size = (inputs.len() * grid.out_range(o).len()) as f64;
            let (mean_before, mean_after) = (tile_sum(before) / size, tile_sum(after) / size);
            // A read-out of nothing carries no information: leave the tile alone.
            let gain = if mean_before > 0.0 {
                mean_before / mean_after.max(1e-4)
            } else {
                1.0
            };
            gains.push(gain as f32);
        }
    }
    gains
}

impl<L> AnalogLayer<L> {
    /// Analog forward pass of `batch` input vectors `x` (batch, n_in) -> (batch, n_out),
    /// bias added digitally. `row_offset` is the global index of the first vector: the
    /// output noise of vector r is drawn for index `row_offset + r`, so the vectors of a
    /// data set split into batches each get their own noise.
    ///
    /// # Errors
    /// Shape mismatches, non-finite inputs, GPU failures.
    pub fn forward<B: Backend<Layer = L>>(
        &self,
        backend: &B,
        x: &[f32],
        batch: usize,
        row_offset: u32,
    ) -> Result<Vec<f32>> {
        if Some(x.len()) != batch.checked_mul(self.grid.n_in) {
            return Err(Error::Shape(format!(
                "inputs hold {} values, expected {batch} x {} (the layer's inputs)",
                x.len(),
                self.grid.n_in
            )));
        }
        if batch > u32::MAX as usize {
            return Err(Error::Shape(format!(
                "batch of {batch} vectors is too large"
            )));
        }
        ensure_finite("inputs", x)?;
        let y = self.forward_finite(backend, x, batch, row_offset)?;
        // Finite inputs can still overflow f32 in the products.
        ensure_finite("outputs (the products overflow f32)", &y)?;
        Ok(y)
    }

    /// [`Self::forward`] of inputs known to be finite and of the right size.
    fn forward_finite<B: Backend<Layer = L>>(
        &self,
        backend: &B,
        x: &[f32],
        batch: usize,
        row_offset: u32,
    ) -> Result<Vec<f32>> {
        debug_assert_eq!(x.len(), batch * self.grid.n_in);
        let mut y = match self.params(batch, row_offset) {
            LayerParams::Aihwkit(p) => backend.mvm(&self.layer, x, &p)?,
            LayerParams::Sliced(p) => backend.sliced_mvm(&self.layer, x, &p)?,
        };
        if let Some(bias) = &self.bias {
            for row in y.chunks_mut(self.grid.n_out) {
                row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            }
        }
        Ok(y)
    }

    /// The programmed conductances.
    ///
    /// # Errors
    /// GPU failures.
    pub fn conductances<B: Backend<Layer = L>>(&self, backend: &B) -> Result<Conductances> {
        backend.conductances(&self.layer)
    }
}
