//! One chip's layers on the GPU: the backend and its context, a programmed layer (its
//! column chunks, each within the adapter's binding limit), and the kernels that act on one:
//! programming, the identity read-out and the analog MVM.

use super::context::{GpuContext, is_hardware};
use super::shaders::{
    Kernel, MVM_ROWS, PROGRAM_WORKGROUP, READOUT_WORKGROUP, sliced_column_blocks,
};
use crate::backend::params::{MvmParams, ProgramParams, ReadoutParams, SlicedParams};
use crate::backend::{Conductances, WeightState};
use crate::error::{Error, Result};
use crate::physics::mapping::TileGrid;

/// Runs the kernels on a GPU through wgpu.
pub struct GpuBackend {
    pub(super) ctx: GpuContext,
}

impl GpuBackend {
    /// Opens the best adapter: a hardware GPU, or a software one when `allow_software`.
    ///
    /// # Errors
    /// No suitable adapter or device.
    pub fn new(allow_software: bool) -> Result<Self> {
        Ok(GpuBackend {
            ctx: GpuContext::new(allow_software)?,
        })
    }

    /// Whether the adapter is a hardware GPU.
    pub fn is_hardware(&self) -> bool {
        is_hardware(&self.ctx.info)
    }

    /// Lowers the largest buffer binding used (bytes), forcing the chunked paths that
    /// large layers take on real adapters.
    pub fn limit_binding(&mut self, bytes: u64) {
        self.ctx.max_binding = self.ctx.max_binding.min(bytes.max(4096));
    }
}

/// A run of consecutive output groups whose weights fit one binding.
pub(super) struct ColumnChunk {
    pub(super) group_first: usize,
    pub(super) group_count: usize,
    pub(super) row_start: usize,
    pub(super) rows: usize,
    pub(super) g_pos: wgpu::Buffer,
    pub(super) g_neg: wgpu::Buffer,
    /// (rows, n_in).
    pub(super) w_prog: wgpu::Buffer,
    /// Transposed, (n_in, rows): what `analog_mvm` reads.
    pub(super) w_now_t: wgpu::Buffer,
}

/// A layer programmed on the GPU.
pub struct GpuLayer {
    pub(super) grid: TileGrid,
    /// Weight matrices programmed one after another in every chunk.
    pub(super) slices: usize,
    pub(super) chunks: Vec<ColumnChunk>,
    /// Drift-compensation gain per tile (aihwkit chip), or output scale per tile (sliced).
    gains: wgpu::Buffer,
    /// ADC half-range per (layer row group, slice) of the sliced chip.
    pub(super) ranges: wgpu::Buffer,
}

/// One dispatch of [`GpuBackend::in_batch_chunks`]: a column chunk of the layer on `rows`
/// vectors from `start`, whose inputs are in `x` and outputs go to `y`.
struct ChunkCall<'a> {
    encoder: &'a mut wgpu::CommandEncoder,
    chunk: &'a ColumnChunk,
    rows: usize,
    start: usize,
    x: &'a wgpu::Buffer,
    y: &'a wgpu::Buffer,
}

/// Splits the output groups into runs whose `slices x rows x n_in` floats fit `max_binding`
/// bytes.
pub(super) fn plan_chunks(
    grid: &TileGrid,
    slices: usize,
    max_binding: u64,
) -> Result<Vec<(usize, usize)>> {
    let row_bytes = 4 * (grid.n_in * slices) as u64;
    let mut chunks = Vec::new();
    let mut first = 0;
    let mut rows = 0u64;
    for o in 0..grid.out_groups {
        let size = grid.out_range(o).len() as u64;
        if size * row_bytes > max_binding {
            return Err(Error::Gpu(format!(
                "one output group of {size} x {} weights exceeds the adapter's {max_binding}-byte binding limit; use fewer tile columns",
                grid.n_in
            )));
        }
        if (rows + size) * row_bytes > max_binding {
            chunks.push((first, o - first));
            first = o;
            rows = 0;
        }
        rows += size;
    }
    chunks.push((first, grid.out_groups - first));
    Ok(chunks)
}

impl GpuBackend {
    pub(super) fn program_chip(
        &self,
        grid: &TileGrid,
        w: &[f32],
        scales: &[f32],
        params: &ProgramParams,
    ) -> Result<GpuLayer> {
        let ctx = &self.ctx;
        let scales_buffer = ctx.upload("scales", scales);
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        let mut chunks = Vec::new();
        let slices = params.slices.max(1) as usize;
        let per_slice = grid.n_out * grid.n_in;
        for (group_first, group_count) in plan_chunks(grid, slices, ctx.max_binding)? {
            let row_start = grid.out_range(group_first).start;
            let rows = grid.out_range(group_first + group_count - 1).end - row_start;
            let n = slices * rows * grid.n_in;
            // The chunk's rows of every slice, one slice after another.
            let chunk_weights: Vec<f32> = (0..slices)
                .flat_map(|s| {
                    let start = s * per_slice + row_start * grid.n_in;
                    w[start..start + rows * grid.n_in].iter().copied()
                })
                .collect();
            let weights = ctx.upload("weights", &chunk_weights);
            let chunk = ColumnChunk {
                group_first,
                group_count,
                row_start,
                rows,
                g_pos: ctx.storage("g_pos", n),
                g_neg: ctx.storage("g_neg", n),
                w_prog: ctx.storage("w_prog", n),
                w_now_t: ctx.storage("w_now_t", n),
            };
            let chunk_params = ProgramParams {
                n_rows: rows as u32,
                row_offset: row_start as u32,
                w_now_transposed: 1,
                ..*params
            };
            let uniform = ctx.uniform(&chunk_params);
            let buffers = [
                &uniform,
                &scales_buffer,
                &weights,
                &chunk.g_pos,
                &chunk.g_neg,
                &chunk.w_prog,
                &chunk.w_now_t,
            ];
            ctx.dispatch(
                &mut encoder,
                Kernel::ProgramConductances,
                &buffers,
                GpuContext::grid_2d(n, PROGRAM_WORKGROUP),
            );
            chunks.push(chunk);
        }
        ctx.submit(encoder)?;
        Ok(GpuLayer {
            grid: *grid,
            slices,
            chunks,
            gains: ctx.upload("gains", &vec![1.0; grid.digital_gains()]),
            ranges: ctx.storage("ranges", 1),
        })
    }

    pub(super) fn readout_chip(
        &self,
        layer: &GpuLayer,
        state: WeightState,
        params: &ReadoutParams,
    ) -> Result<Vec<f32>> {
        let ctx = &self.ctx;
        let n_in = layer.grid.n_in;
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        let mut outputs = Vec::new();
        for chunk in &layer.chunks {
            let (weights, row_stride, col_stride) = match state {
                WeightState::Programmed => (&chunk.w_prog, n_in, 1),
                WeightState::Now => (&chunk.w_now_t, 1, chunk.rows),
            };
            let chunk_params = ReadoutParams {
                group_first: chunk.group_first as u32,
                group_count: chunk.group_count as u32,
                row_offset: chunk.row_start as u32,
                w_row_stride: row_stride as u32,
                w_col_stride: col_stride as u32,
                ..*params
            };
            let items = chunk.group_count * n_in;
            let sums = ctx.storage("sums", items);
            let uniform = ctx.uniform(&chunk_params);
            ctx.dispatch(
                &mut encoder,
                Kernel::GdcReadout,
                &[&uniform, weights, &sums],
                GpuContext::grid_2d(items, READOUT_WORKGROUP),
            );
            outputs.push((sums, items));
        }
        ctx.submit(encoder)?;
        let mut all = Vec::with_capacity(layer.grid.out_groups * n_in);
        for (sums, items) in outputs {
            all.extend(ctx.download(&sums, items)?);
        }
        Ok(all)
    }

    pub(super) fn set_gains_chip(&self, layer: &mut GpuLayer, gains: &[f32]) -> Result<()> {
        layer.grid.check_digital_gains(gains)?;
        self.ctx
            .queue
            .write_buffer(&layer.gains, 0, bytemuck::cast_slice(gains));
        self.ctx.check()
    }

    pub(super) fn mvm_chip(
        &self,
        layer: &GpuLayer,
        x: &[f32],
        params: &MvmParams,
    ) -> Result<Vec<f32>> {
        let batch = params.batch as usize;
        self.in_batch_chunks(layer, x, batch, 65_535 * MVM_ROWS, |call| {
            let chunk_params = MvmParams {
                batch: call.rows as u32,
                group_first: call.chunk.group_first as u32,
                col_offset: call.chunk.row_start as u32,
                chunk_cols: call.chunk.rows as u32,
                row_offset: params.row_offset + call.start as u32,
                ..*params
            };
            let uniform = self.ctx.uniform(&chunk_params);
            let buffers = [&uniform, call.x, &call.chunk.w_now_t, &layer.gains, call.y];
            let groups = (
                call.rows.div_ceil(MVM_ROWS) as u32,
                call.chunk.group_count as u32,
            );
            self.ctx
                .dispatch(call.encoder, Kernel::AnalogMvm, &buffers, groups);
            uniform
        })
    }

    /// Runs one chip's MVM kernel on `batch` vectors `x` in batch chunks whose inputs and
    /// outputs fit the binding limit (at most `max_rows` vectors each), recording one dispatch
    /// per column chunk of the layer with `record`, which returns the uniform buffer to keep
    /// until the submission.
    fn in_batch_chunks(
        &self,
        layer: &GpuLayer,
        x: &[f32],
        batch: usize,
        max_rows: usize,
        mut record: impl FnMut(ChunkCall<'_>) -> wgpu::Buffer,
    ) -> Result<Vec<f32>> {
        let ctx = &self.ctx;
        let (n_in, n_out) = (layer.grid.n_in, layer.grid.n_out);
        let widest = 4 * n_in.max(n_out) as u64;
        let rows_per_chunk = ((ctx.max_binding / widest) as usize).clamp(1, max_rows);
        // One set of buffers for the call, sized for the largest batch chunk.
        let capacity = rows_per_chunk.min(batch);
        let x_buffer = ctx.storage("x", capacity * n_in);
        let y_buffer = ctx.storage("y", capacity * n_out);
        let staging = ctx.staging(capacity * n_out);
        let mut y = Vec::with_capacity(batch * n_out);
        for start in (0..batch).step_by(rows_per_chunk) {
            let rows = rows_per_chunk.min(batch - start);
            let x_chunk = &x[start * n_in..(start + rows) * n_in];
            ctx.queue
                .write_buffer(&x_buffer, 0, bytemuck::cast_slice(x_chunk));
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            let mut uniforms = Vec::with_capacity(layer.chunks.len());
            for chunk in &layer.chunks {
                uniforms.push(record(ChunkCall {
                    encoder: &mut encoder,
                    chunk,
                    rows,
                    start,
                    x: &x_buffer,
                    y: &y_buffer,
                }));
            }
            y.extend(ctx.submit_and_read(encoder, &y_buffer, &staging, rows * n_out)?);
        }
        Ok(y)
    }

    pub(super) fn conductances_chip(&self, layer: &GpuLayer) -> Result<Conductances> {
        Ok(Conductances {
            g_pos: self.gather(layer, |c| &c.g_pos, false)?,
            g_neg: self.gather(layer, |c| &c.g_neg, false)?,
        })
    }

    /// A per-chunk array of every slice, (slices, rows, n_in) per chunk or its transpose,
    /// as one (slices, n_out, n_in) array.
    fn gather(
        &self,
        layer: &GpuLayer,
        buffer: impl Fn(&ColumnChunk) -> &wgpu::Buffer,
        transposed: bool,
    ) -> Result<Vec<f32>> {
        let (n_out, n_in) = (layer.grid.n_out, layer.grid.n_in);
        let mut all = vec![0.0; layer.slices * n_out * n_in];
        for chunk in &layer.chunks {
            let n = chunk.rows * n_in;
            let values = self.ctx.download(buffer(chunk), layer.slices * n)?;
            for s in 0..layer.slices {
                for r in 0..chunk.rows {
                    for j in 0..n_in {
                        let v = if transposed {
                            values[s * n + j * chunk.rows + r]
                        } else {
                            values[s * n + r * n_in + j]
                        };
                        all[(s * n_out + chunk.row_start + r) * n_in + j] = v;
                    }
                }
            }
        }
        Ok(all)
    }

    pub(super) fn weights_chip(&self, layer: &GpuLayer, state: WeightState) -> Result<Vec<f32>> {
        match state {
            WeightState::Programmed => self.gather(layer, |c| &c.w_prog, false),
            WeightState::Now => self.gather(layer, |c| &c.w_now_t, true),
        }
    }

    pub(super) fn set_ranges_chip(&self, layer: &mut GpuLayer, ranges: &[f32]) -> Result<()> {
        layer.ranges = self.ctx.upload("ranges", ranges);
        self.ctx.check()
    }

    pub(super) fn sliced_mvm_chip(
        &self,
        layer: &GpuLayer,
        x: &[f32],
        params: &SlicedParams,
    ) -> Result<Vec<f32>> {
        let batch = params.batch as usize;
        let blocks = sliced_column_blocks(&layer.grid);
        self.in_batch_chunks(layer, x, batch, 65_535, |call| {
            let chunk_params = SlicedParams {
                batch: call.rows as u32,
                group_first: call.chunk.group_first as u32,
                col_offset: call.chunk.row_start as u32,
                chunk_cols: call.chunk.rows as u32,
                row_offset: params.row_offset + call.start as u32,
                ..*params
            };
            let uniform = self.ctx.uniform(&chunk_params);
            let buffers = [
                &uniform,
                call.x,
                &call.chunk.w_now_t,
                &layer.gains,
                &layer.ranges,
                call.y,
            ];
            let groups = (call.rows as u32, (call.chunk.group_count * blocks) as u32);
            self.ctx
                .dispatch(call.encoder, Kernel::SlicedMvm, &buffers, groups);
            uniform
        })
    }
}
