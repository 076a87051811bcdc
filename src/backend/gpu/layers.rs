//! Whole layers on the GPU: a set of chip instances stacked layer by layer, their activations
//! kept on the device from the input images to the logits.
//!
//! The chips of a set share every digital layer: their activations are one batch of
//! `chips x images`, chip-major, and each analog layer is one `analog_mvm` dispatch per column
//! chunk with the chip as the third workgroup dimension, reading the chip's own stacked
//! weights, gains and noise stream. Each layer is submitted as soon as it is recorded; only
//! the logits come back to the host.

use super::chip::{GpuBackend, GpuLayer, plan_chunks};
use super::context::GpuContext;
use super::shaders::{Kernel, MVM_ROWS, OPS_WORKGROUP, sliced_column_blocks};
use crate::backend::params::{MvmParams, OpParams, SlicedParams};
use crate::backend::{ChipLayer, LayerParams};
use crate::error::{Error, Result};
use crate::physics::mapping::TileGrid;

/// Most chip instances stacked in one set, whatever the memory: beyond a few dozen the
/// GPU is full and larger sets only delay the first results.
const MAX_CHIPS_PER_SET: usize = 64;

/// The bindings of `network_ops.wgsl`.
const BIND_SRC: u32 = 1;
const BIND_PER_CHANNEL: u32 = 2;
const BIND_DST: u32 = 3;

/// One column chunk of a layer, its transposed weights stacked over the chips.
struct StackedChunk {
    group_first: usize,
    group_count: usize,
    row_start: usize,
    rows: usize,
    /// (chips, slices, n_in, rows).
    w_now_t: wgpu::Buffer,
}

/// One matrix layer of every chip of a set on the GPU.
pub struct GpuStack {
    grid: TileGrid,
    chips: usize,
    /// The first chip's forward parameters; chip z draws from stream `stream + z`.
    params: LayerParams,
    chunks: Vec<StackedChunk>,
    /// (chips, input groups, outputs): digital gains (drift compensation and weight scale)
    /// or, sliced, output scales.
    gains: wgpu::Buffer,
    /// ADC half-ranges of the sliced chip, shared by the chips.
    ranges: wgpu::Buffer,
    /// Ones, then the bias: the bias as a per-channel affine.
    bias: Option<wgpu::Buffer>,
    /// The inputs mapped when some were pruned: their count, and their indices as exact
    /// floats (the `per_channel` operand of `select_columns`).
    kept: Option<(usize, wgpu::Buffer)>,
}

/// Activations of a pass on the device.
pub struct DeviceBatch {
    buffer: wgpu::Buffer,
    len: usize,
}

impl GpuBackend {
    /// See [`crate::backend::Backend::chips_per_set`].
    pub(super) fn set_size(
        &self,
        grids: &[(TileGrid, usize)],
        floats_per_image: usize,
        batch: usize,
    ) -> Result<usize> {
        let max_binding = self.ctx.max_binding as usize;
        let mut widest_chunk = 1;
        for (grid, slices) in grids {
            for (first, count) in plan_chunks(grid, *slices, self.ctx.max_binding)? {
                let rows = grid.out_range(first + count - 1).end - grid.out_range(first).start;
                widest_chunk = widest_chunk.max(4 * rows * grid.n_in * slices);
            }
        }
        let per_image = 4 * floats_per_image.max(1);
        let images = batch.clamp(1, (max_binding / per_image).max(1));
        let chips = (max_binding / widest_chunk).min(max_binding / (images * per_image));
        Ok(chips.clamp(1, MAX_CHIPS_PER_SET))
    }

    /// See [`crate::backend::Backend::images_per_pass`].
    pub(super) fn pass_size(&self, chips: usize, floats_per_image: usize) -> Result<usize> {
        let per_image = 4 * floats_per_image.max(1);
        let max_binding = self.ctx.max_binding as usize;
        if chips * per_image > max_binding {
            return Err(Error::Gpu(format!(
                "{chips} chips of one image need {} bytes in one binding, the adapter allows {max_binding}",
                chips * per_image,
            )));
        }
        Ok(max_binding / (chips * per_image))
    }

    /// Stacks consecutive chips of one layer: each chip's transposed weights are copied into
    /// the set's buffer, its gains uploaded beside the others'.
    pub(super) fn stack_chips(
        &self,
        grid: &TileGrid,
        chips: Vec<ChipLayer<GpuLayer>>,
        bias: Option<&[f32]>,
        kept: Option<&[u32]>,
    ) -> Result<GpuStack> {
        let ctx = &self.ctx;
        let Some(first) = chips.first() else {
            return Err(Error::Shape(
                "a chip set needs at least one instance".into(),
            ));
        };
        let count = chips.len();
        let slices = first.layer.slices;
        let chunks = first
            .layer
            .chunks
            .iter()
            .map(|c| {
                let n = slices * c.rows * grid.n_in;
                if (count * n * 4) as u64 > ctx.max_binding {
                    return Err(Error::Gpu(format!(
                        "{count} chips of a {} x {} layer exceed the adapter's {}-byte binding limit",
                        grid.n_out, grid.n_in, ctx.max_binding
                    )));
                }
                Ok(StackedChunk {
                    group_first: c.group_first,
                    group_count: c.group_count,
                    row_start: c.row_start,
                    rows: c.rows,
                    w_now_t: ctx.storage("stacked w_now_t", count * n),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let params = first.params;
        let mut gains = Vec::with_capacity(count * grid.digital_gains());
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        for (z, chip) in chips.iter().enumerate() {
            // The kernel derives chip z's stream from the first's: the chips must be
            // consecutive instances of one layer and seed.
            let expected = params.with_stream_offset(z as u32);
            if chip.params != expected || chip.layer.grid != *grid || chip.layer.slices != slices {
                return Err(Error::Shape(
                    "stacked chips must be consecutive instances of one layer and seed".into(),
                ));
            }
            for (stacked, chunk) in chunks.iter().zip(&chip.layer.chunks) {
                let bytes = (4 * slices * chunk.rows * grid.n_in) as u64;
                encoder.copy_buffer_to_buffer(
                    &chunk.w_now_t,
                    0,
                    &stacked.w_now_t,
                    z as u64 * bytes,
                    bytes,
                );
            }
            gains.extend_from_slice(&chip.gains);
        }
        // The ranges are the layer's, whatever the chip: the first chip's serve them all.
        let ranges = ctx.storage("ranges", first.layer.ranges.size() as usize / 4);
        encoder.copy_buffer_to_buffer(
            &first.layer.ranges,
            0,
            &ranges,
            0,
            first.layer.ranges.size(),
        );
        ctx.submit(encoder)?;
        let bias = bias.map(|b| {
            let ones_then_bias = [vec![1.0; b.len()], b.to_vec()].concat();
            ctx.upload("bias", &ones_then_bias)
        });
        // Indices travel as floats, exact below 2^24 inputs.
        if kept.is_some() && grid.n_in >= 1 << 24 {
            return Err(Error::Shape(format!(
                "a pruned layer of {} inputs is too wide for the GPU",
                grid.n_in
            )));
        }
        let kept = kept.map(|kept| {
            let indices: Vec<f32> = kept.iter().map(|&r| r as f32).collect();
            (kept.len(), ctx.upload("kept inputs", &indices))
        });
        Ok(GpuStack {
            grid: *grid,
            chips: count,
            params,
            chunks,
            gains: ctx.upload("gains", &gains),
            ranges,
            bias,
            kept,
        })
    }

    /// Records and submits one dispatch of a kernel of `network_ops.wgsl` over `items`
    /// outputs.
    fn run_op(
        &self,
        kernel: Kernel,
        p: &OpParams,
        src: Option<&wgpu::Buffer>,
        per_channel: Option<&wgpu::Buffer>,
        dst: &wgpu::Buffer,
        items: usize,
    ) {
        let ctx = &self.ctx;
        let uniform = ctx.uniform(p);
        let mut bound = vec![(0, &uniform)];
        bound.extend(src.map(|b| (BIND_SRC, b)));
        bound.extend(per_channel.map(|b| (BIND_PER_CHANNEL, b)));
        bound.push((BIND_DST, dst));
        let (x, y) = GpuContext::grid_2d(items, OPS_WORKGROUP);
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        ctx.dispatch_bound(&mut encoder, kernel, &bound, [x, y, 1]);
        ctx.queue.submit([encoder.finish()]);
    }

    /// A new activation of `len` floats written by `kernel` from `x`.
    fn op_to_new(&self, kernel: Kernel, p: &OpParams, x: &DeviceBatch, len: usize) -> DeviceBatch {
        let out = DeviceBatch {
            buffer: self.ctx.storage("activation", len),
            len,
        };
        self.run_op(kernel, p, Some(&x.buffer), None, &out.buffer, len);
        out
    }

    /// Of the `vectors` input vectors in `x`, the elements that `layer` maps when pruning
    /// removed some of its inputs; `None` when it maps them all.
    fn select_kept(
        &self,
        layer: &GpuStack,
        x: &DeviceBatch,
        vectors: usize,
    ) -> Option<DeviceBatch> {
        let (count, indices) = layer.kept.as_ref()?;
        let p = OpParams::select_columns(vectors, x.len / vectors.max(1), *count);
        let len = vectors * count;
        let out = DeviceBatch {
            buffer: self.ctx.storage("activation", len),
            len,
        };
        self.run_op(
            Kernel::SelectColumns,
            &p,
            Some(&x.buffer),
            Some(indices),
            &out.buffer,
            len,
        );
        Some(out)
    }

    /// The product of `layer` for `vectors` input vectors per chip in `x` (chip-major), bias
    /// added; `row_offset` is the data-set index of each chip's first vector.
    fn product(
        &self,
        layer: &GpuStack,
        x: &wgpu::Buffer,
        vectors: usize,
        row_offset: u32,
    ) -> Result<DeviceBatch> {
        let ctx = &self.ctx;
        let n_out = layer.grid.n_out;
        let len = layer.chips * vectors * n_out;
        let y = ctx.storage("activation", len);
        let blocks = vectors.div_ceil(MVM_ROWS).clamp(1, 65_535) as u32;
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        let batch = u32::try_from(vectors)
            .map_err(|_| Error::Shape(format!("{vectors} vectors in one pass")))?;
        for chunk in &layer.chunks {
            let (group_first, col_offset, chunk_cols) = (
                chunk.group_first as u32,
                chunk.row_start as u32,
                chunk.rows as u32,
            );
            match layer.params {
                LayerParams::Aihwkit(p) => {
                    let params = MvmParams {
                        batch,
                        row_offset,
                        group_first,
                        col_offset,
                        chunk_cols,
                        ..p
                    };
                    let uniform = ctx.uniform(&params);
                    let buffers = [
                        (0, &uniform),
                        (1, x),
                        (2, &chunk.w_now_t),
                        (3, &layer.gains),
                        (4, &y),
                    ];
                    let groups = [blocks, chunk.group_count as u32, layer.chips as u32];
                    ctx.dispatch_bound(&mut encoder, Kernel::AnalogMvm, &buffers, groups);
                }
                LayerParams::Sliced(p) => {
                    let params = SlicedParams {
                        batch,
                        row_offset,
                        group_first,
                        col_offset,
                        chunk_cols,
                        ..p
                    };
                    let uniform = ctx.uniform(&params);
                    let buffers = [
                        (0, &uniform),
                        (1, x),
                        (2, &chunk.w_now_t),
                        (3, &layer.gains),
                        (4, &layer.ranges),
                        (5, &y),
                    ];
                    let vectors = vectors.clamp(1, 65_535) as u32;
                    let blocks = sliced_column_blocks(&layer.grid);
                    let groups = [
                        vectors,
                        (chunk.group_count * blocks) as u32,
                        layer.chips as u32,
                    ];
                    ctx.dispatch_bound(&mut encoder, Kernel::SlicedMvm, &buffers, groups);
                }
            }
        }
        ctx.queue.submit([encoder.finish()]);
        if let Some(bias) = &layer.bias {
            let p = OpParams::new(layer.chips * vectors, [n_out, 1, 1], [n_out, 1, 1]);
            self.run_op(Kernel::ChannelAffine, &p, None, Some(bias), &y, len);
        }
        Ok(DeviceBatch { buffer: y, len })
    }

    pub(super) fn input_batch(
        &self,
        p: &OpParams,
        images: &[f32],
        per_channel: &[f32],
        chips: usize,
    ) -> DeviceBatch {
        let ctx = &self.ctx;
        let one = images.len();
        let src = ctx.upload("images", images);
        let per_channel = ctx.upload("normalization", per_channel);
        let normalized = ctx.storage("normalized images", one);
        self.run_op(
            Kernel::NormalizeInput,
            p,
            Some(&src),
            Some(&per_channel),
            &normalized,
            one,
        );
        // Every chip sees the same images.
        let x = ctx.storage("activation", chips * one);
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        let bytes = 4 * one as u64;
        for z in 0..chips as u64 {
            encoder.copy_buffer_to_buffer(&normalized, 0, &x, z * bytes, bytes);
        }
        ctx.queue.submit([encoder.finish()]);
        DeviceBatch {
            buffer: x,
            len: chips * one,
        }
    }

    pub(super) fn duplicate_batch(&self, x: &DeviceBatch) -> DeviceBatch {
        let ctx = &self.ctx;
        let copy = ctx.storage("activation", x.len);
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&x.buffer, 0, &copy, 0, 4 * x.len as u64);
        ctx.queue.submit([encoder.finish()]);
        DeviceBatch {
            buffer: copy,
            len: x.len,
        }
    }

    pub(super) fn conv_layer(
        &self,
        layer: &GpuStack,
        p: &OpParams,
        x: &DeviceBatch,
        row_offset: u32,
    ) -> Result<DeviceBatch> {
        let pixels = p.images as usize * p.out_pixels();
        let patches = self.op_to_new(Kernel::Im2col, p, x, pixels * p.patch_len());
        let selected = self.select_kept(layer, &patches, pixels);
        let inputs = selected.as_ref().unwrap_or(&patches);
        self.product(layer, &inputs.buffer, pixels / layer.chips, row_offset)
    }

    pub(super) fn linear_layer(
        &self,
        layer: &GpuStack,
        p: &OpParams,
        x: &DeviceBatch,
        row_offset: u32,
    ) -> Result<DeviceBatch> {
        let images = p.images as usize;
        let selected = self.select_kept(layer, x, images);
        let inputs = selected.as_ref().unwrap_or(x);
        self.product(layer, &inputs.buffer, images / layer.chips, row_offset)
    }

    pub(super) fn channel_affine_batch(
        &self,
        p: &OpParams,
        per_channel: &[f32],
        x: &mut DeviceBatch,
    ) {
        let per_channel = self.ctx.upload("batch norm", per_channel);
        self.run_op(
            Kernel::ChannelAffine,
            p,
            None,
            Some(&per_channel),
            &x.buffer,
            x.len,
        );
    }

    pub(super) fn in_place(
        &self,
        kernel: Kernel,
        p: &OpParams,
        other: Option<&DeviceBatch>,
        x: &mut DeviceBatch,
    ) {
        self.run_op(kernel, p, other.map(|o| &o.buffer), None, &x.buffer, x.len);
    }

    pub(super) fn to_new(&self, kernel: Kernel, p: &OpParams, x: &DeviceBatch) -> DeviceBatch {
        self.op_to_new(kernel, p, x, p.images as usize * p.out_len())
    }

    pub(super) fn download_batch(&self, x: DeviceBatch) -> Result<Vec<f32>> {
        let ctx = &self.ctx;
        let encoder = ctx.device.create_command_encoder(&Default::default());
        ctx.submit_and_read(encoder, &x.buffer, &ctx.staging(x.len), x.len)
    }
}
