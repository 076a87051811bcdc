//! Whole networks on the GPU: a set of chip instances stacked layer by layer, run with the
//! activations on the device from the input images to the logits.
//!
//! The chips of a set share every digital layer: their activations are one batch of
//! `chips x images`, chip-major, and each analog layer is one `analog_mvm` dispatch per column
//! chunk with the chip as the third workgroup dimension, reading the chip's own stacked
//! weights, gains and noise stream. Each layer is submitted as soon as it is recorded; only
//! the logits come back to the host.

use super::context::GpuContext;
use super::{GpuBackend, GpuLayer, Kernel, MVM_ROWS, plan_chunks};
use crate::backend::params::{MvmParams, OpParams};
use crate::config::HwConfig;
use crate::engine::{AnalogLayer, Chip};
use crate::error::{Error, Result};
use crate::mapping::TileGrid;
use crate::network::Network;
use crate::network::chips::{ChipSet, NetworkBackend};
use crate::network::exec::{Executor, LayerRunner};
use crate::network::graph::Op;
use crate::network::matrices::AnalogMatrices;
use crate::rng::Seed;
use std::ops::Range;

/// Invocations per workgroup of the kernels of `network_ops.wgsl` (its OPS_WG).
const OPS_WORKGROUP: usize = 256;

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
    /// (chips, n_in, rows).
    w_now_t: wgpu::Buffer,
}

/// One matrix layer of every chip of a set.
struct StackedLayer {
    grid: TileGrid,
    /// The first chip's forward parameters; chip z draws from stream `stream + z`.
    params: MvmParams,
    chunks: Vec<StackedChunk>,
    /// (chips, tiles).
    gains: wgpu::Buffer,
    /// Ones, then the bias: the bias as a per-channel affine.
    bias: Option<wgpu::Buffer>,
    /// The inputs mapped when some were pruned: their count, and their indices as exact
    /// floats (the `per_channel` operand of `select_columns`).
    kept: Option<(usize, wgpu::Buffer)>,
}

/// Consecutive chip instances of a network on the GPU.
pub struct GpuChips<'g> {
    gpu: &'g GpuBackend,
    chips: usize,
    /// Images per chip in one pass, so that every activation fits a binding.
    images_per_pass: usize,
    layers: Vec<StackedLayer>,
}

/// Activations of a pass on the device.
pub struct DeviceBatch {
    buffer: wgpu::Buffer,
    len: usize,
}

/// Floats of the largest buffer one image needs in a network: an activation or the im2col
/// patches of a convolution.
fn largest_per_image(net: &Network) -> usize {
    let graph = &net.graph;
    let mut largest = graph.input.iter().product::<usize>();
    for node in &graph.nodes {
        let p = OpParams::new(1, graph.shape_of(node.inputs[0]), node.shape);
        largest = largest.max(p.out_len());
        if let Op::Conv2d { kernel, .. } = node.op {
            largest = largest.max(p.out_pixels() * p.channels as usize * kernel * kernel);
        }
    }
    largest
}

impl NetworkBackend for GpuBackend {
    fn chips_per_set(&self, hw: &HwConfig, net: &Network, batch: usize) -> Result<usize> {
        let max_binding = self.ctx.max_binding as usize;
        let mut widest_chunk = 1;
        for i in net.graph.matrix_nodes() {
            let (n_out, n_in) = net.graph.nodes[i].op.matrix().expect("matrix node");
            let grid = TileGrid::new(n_out, n_in, hw.tile_rows, hw.tile_cols)?;
            for (first, count) in plan_chunks(&grid, self.ctx.max_binding)? {
                let rows = grid.out_range(first + count - 1).end - grid.out_range(first).start;
                widest_chunk = widest_chunk.max(4 * rows * n_in);
            }
        }
        let per_image = 4 * largest_per_image(net);
        let images = batch.clamp(1, (max_binding / per_image).max(1));
        let chips = (max_binding / widest_chunk).min(max_binding / (images * per_image));
        Ok(chips.clamp(1, MAX_CHIPS_PER_SET))
    }

    fn program_chips<'a>(
        &'a self,
        hw: &HwConfig,
        net: &Network,
        seed: Seed,
        instances: Range<u32>,
    ) -> Result<Box<dyn ChipSet + 'a>> {
        Ok(Box::new(GpuChips::program(self, hw, net, seed, instances)?))
    }
}

impl<'g> GpuChips<'g> {
    /// Programs the consecutive chip instances `instances` of `net` and stacks them: each
    /// chip is programmed with the engine as a single chip would be, then its weights and
    /// gains are copied into the set's buffers.
    ///
    /// # Errors
    /// Layers the engine cannot hold, a set too large for the adapter's bindings, GPU
    /// failures.
    pub fn program(
        gpu: &'g GpuBackend,
        hw: &HwConfig,
        net: &Network,
        seed: Seed,
        instances: Range<u32>,
    ) -> Result<Self> {
        let chips = instances.len();
        if chips == 0 {
            return Err(Error::Shape(
                "a chip set needs at least one instance".into(),
            ));
        }
        let ctx = &gpu.ctx;
        let mut layers: Vec<StackedLayer> = Vec::new();
        let mut gains: Vec<Vec<f32>> = Vec::new();
        for (z, instance) in instances.enumerate() {
            let programmed = AnalogMatrices::program(gpu, hw, net, Chip { seed, instance })?;
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            for (k, (layer, kept)) in programmed.into_layers().into_iter().enumerate() {
                if z == 0 {
                    layers.push(StackedLayer::allocate(ctx, &layer, kept, chips)?);
                    gains.push(Vec::with_capacity(chips * layer.gains().len()));
                }
                layers[k].copy_chip(&mut encoder, &layer, z)?;
                gains[k].extend_from_slice(layer.gains());
            }
            ctx.submit(encoder)?;
        }
        for (layer, gains) in layers.iter_mut().zip(&gains) {
            layer.gains = ctx.upload("gains", gains);
        }
        let per_image = 4 * largest_per_image(net);
        if chips * per_image > ctx.max_binding as usize {
            return Err(Error::Gpu(format!(
                "{chips} chips of one image need {} bytes in one binding, the adapter allows {}",
                chips * per_image,
                ctx.max_binding
            )));
        }
        Ok(GpuChips {
            gpu,
            chips,
            images_per_pass: ctx.max_binding as usize / (chips * per_image),
            layers,
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
        let ctx = &self.gpu.ctx;
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
            buffer: self.gpu.ctx.storage("activation", len),
            len,
        };
        self.run_op(kernel, p, Some(&x.buffer), None, &out.buffer, len);
        out
    }

    /// Of the `vectors` input vectors in `x`, the elements that matrix layer `layer` maps
    /// when pruning removed some of its inputs; `None` when it maps them all.
    fn select_kept(&self, layer: usize, x: &DeviceBatch, vectors: usize) -> Option<DeviceBatch> {
        let (count, indices) = self.layers[layer].kept.as_ref()?;
        let p = OpParams::select_columns(vectors, x.len / vectors.max(1), *count);
        let len = vectors * count;
        let out = DeviceBatch {
            buffer: self.gpu.ctx.storage("activation", len),
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

    /// The product of matrix layer `layer` for `vectors` input vectors per chip in `x`
    /// (chip-major), bias added; `row_offset` is the data-set index of each chip's first
    /// vector.
    fn product(
        &self,
        layer: usize,
        x: &wgpu::Buffer,
        vectors: usize,
        row_offset: u32,
    ) -> Result<DeviceBatch> {
        let ctx = &self.gpu.ctx;
        let stacked = &self.layers[layer];
        let n_out = stacked.grid.n_out;
        let len = self.chips * vectors * n_out;
        let y = ctx.storage("activation", len);
        let blocks = vectors.div_ceil(MVM_ROWS).clamp(1, 65_535) as u32;
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        for chunk in &stacked.chunks {
            let params = MvmParams {
                batch: u32::try_from(vectors)
                    .map_err(|_| Error::Shape(format!("{vectors} vectors in one pass")))?,
                row_offset,
                group_first: chunk.group_first as u32,
                col_offset: chunk.row_start as u32,
                chunk_cols: chunk.rows as u32,
                ..stacked.params
            };
            let uniform = ctx.uniform(&params);
            let buffers = [
                (0, &uniform),
                (1, x),
                (2, &chunk.w_now_t),
                (3, &stacked.gains),
                (4, &y),
            ];
            let groups = [blocks, chunk.group_count as u32, self.chips as u32];
            ctx.dispatch_bound(&mut encoder, Kernel::AnalogMvm, &buffers, groups);
        }
        ctx.queue.submit([encoder.finish()]);
        if let Some(bias) = &stacked.bias {
            let p = OpParams::new(self.chips * vectors, [n_out, 1, 1], [n_out, 1, 1]);
            self.run_op(Kernel::ChannelAffine, &p, None, Some(bias), &y, len);
        }
        Ok(DeviceBatch { buffer: y, len })
    }
}

impl StackedLayer {
    /// Buffers for `chips` copies of a layer programmed like `layer`, which maps the inputs
    /// `kept` when some were pruned.
    fn allocate(
        ctx: &GpuContext,
        layer: &AnalogLayer<GpuLayer>,
        kept: Option<Vec<u32>>,
        chips: usize,
    ) -> Result<Self> {
        let grid = *layer.grid();
        let chunks = layer
            .inner()
            .chunks
            .iter()
            .map(|c| {
                let n = c.rows * grid.n_in;
                if (chips * n * 4) as u64 > ctx.max_binding {
                    return Err(Error::Gpu(format!(
                        "{chips} chips of a {} x {} layer exceed the adapter's {}-byte binding limit",
                        grid.n_out, grid.n_in, ctx.max_binding
                    )));
                }
                Ok(StackedChunk {
                    group_first: c.group_first,
                    group_count: c.group_count,
                    row_start: c.row_start,
                    rows: c.rows,
                    w_now_t: ctx.storage("stacked w_now_t", chips * n),
                })
            })
            .collect::<Result<_>>()?;
        let bias = layer.bias().map(|b| {
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
        Ok(StackedLayer {
            grid,
            params: layer.mvm_params(0, 0),
            chunks,
            gains: ctx.storage("gains", 0),
            bias,
            kept,
        })
    }

    /// Records the copy of chip `z`'s weights into the stack; chips must be consecutive
    /// instances of the same seed, so that their streams follow each other.
    fn copy_chip(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        layer: &AnalogLayer<GpuLayer>,
        z: usize,
    ) -> Result<()> {
        let own = layer.mvm_params(0, 0);
        let expected = MvmParams {
            stream: self.params.stream + z as u32,
            ..self.params
        };
        if own != expected {
            return Err(Error::Shape(
                "stacked chips must be consecutive instances of one layer and seed".into(),
            ));
        }
        for (stacked, chunk) in self.chunks.iter().zip(&layer.inner().chunks) {
            let bytes = (4 * chunk.rows * self.grid.n_in) as u64;
            encoder.copy_buffer_to_buffer(
                &chunk.w_now_t,
                0,
                &stacked.w_now_t,
                z as u64 * bytes,
                bytes,
            );
        }
        Ok(())
    }
}

impl LayerRunner for GpuChips<'_> {
    type Batch = DeviceBatch;

    fn copies(&self) -> usize {
        self.chips
    }

    fn input(&self, p: &OpParams, images: &[f32], per_channel: &[f32]) -> Result<DeviceBatch> {
        let ctx = &self.gpu.ctx;
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
        let x = ctx.storage("activation", self.chips * one);
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        let bytes = 4 * one as u64;
        for z in 0..self.chips as u64 {
            encoder.copy_buffer_to_buffer(&normalized, 0, &x, z * bytes, bytes);
        }
        ctx.queue.submit([encoder.finish()]);
        Ok(DeviceBatch {
            buffer: x,
            len: self.chips * one,
        })
    }

    fn duplicate(&self, x: &DeviceBatch) -> Result<DeviceBatch> {
        let ctx = &self.gpu.ctx;
        let copy = ctx.storage("activation", x.len);
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&x.buffer, 0, &copy, 0, 4 * x.len as u64);
        ctx.queue.submit([encoder.finish()]);
        Ok(DeviceBatch {
            buffer: copy,
            len: x.len,
        })
    }

    fn conv(
        &self,
        layer: usize,
        p: &OpParams,
        x: &DeviceBatch,
        row_offset: u32,
    ) -> Result<DeviceBatch> {
        let pixels = p.images as usize * p.out_pixels();
        let patches = self.op_to_new(Kernel::Im2col, p, x, pixels * p.patch_len());
        let selected = self.select_kept(layer, &patches, pixels);
        let inputs = selected.as_ref().unwrap_or(&patches);
        self.product(layer, &inputs.buffer, pixels / self.chips, row_offset)
    }

    fn linear(
        &self,
        layer: usize,
        p: &OpParams,
        x: &DeviceBatch,
        row_offset: u32,
    ) -> Result<DeviceBatch> {
        let images = p.images as usize;
        let selected = self.select_kept(layer, x, images);
        let inputs = selected.as_ref().unwrap_or(x);
        self.product(layer, &inputs.buffer, images / self.chips, row_offset)
    }

    fn channel_affine(&self, p: &OpParams, per_channel: &[f32], x: &mut DeviceBatch) -> Result<()> {
        let per_channel = self.gpu.ctx.upload("batch norm", per_channel);
        self.run_op(
            Kernel::ChannelAffine,
            p,
            None,
            Some(&per_channel),
            &x.buffer,
            x.len,
        );
        Ok(())
    }

    fn relu(&self, p: &OpParams, x: &mut DeviceBatch) -> Result<()> {
        self.run_op(Kernel::Relu, p, None, None, &x.buffer, x.len);
        Ok(())
    }

    fn add(&self, p: &OpParams, other: &DeviceBatch, x: &mut DeviceBatch) -> Result<()> {
        self.run_op(Kernel::Add, p, Some(&other.buffer), None, &x.buffer, x.len);
        Ok(())
    }

    fn pool(&self, p: &OpParams, x: &DeviceBatch) -> Result<DeviceBatch> {
        Ok(self.op_to_new(Kernel::Pool, p, x, p.images as usize * p.out_len()))
    }

    fn global_avg_pool(&self, p: &OpParams, x: &DeviceBatch) -> Result<DeviceBatch> {
        Ok(self.op_to_new(Kernel::GlobalAvgPool, p, x, p.images as usize * p.out_len()))
    }

    fn to_channels_first(&self, p: &OpParams, x: &DeviceBatch) -> Result<DeviceBatch> {
        Ok(self.op_to_new(
            Kernel::ToChannelsFirst,
            p,
            x,
            p.images as usize * p.out_len(),
        ))
    }

    fn output(&self, x: DeviceBatch) -> Result<Vec<f32>> {
        let ctx = &self.gpu.ctx;
        let encoder = ctx.device.create_command_encoder(&Default::default());
        ctx.submit_and_read(encoder, &x.buffer, &ctx.staging(x.len), x.len)
    }
}

impl ChipSet for GpuChips<'_> {
    fn chips(&self) -> usize {
        self.chips
    }

    /// Passes of at most `images_per_pass` images, their logits put in chip-major order.
    fn logits(
        &self,
        exec: &Executor,
        images: &[f32],
        batch: usize,
        first_image: usize,
    ) -> Result<Vec<f32>> {
        let per = exec.network().graph.input.iter().product::<usize>();
        let classes = exec.network().graph.classes;
        if images.len() != batch * per {
            return Err(Error::Shape(format!(
                "{} input values for {batch} images of {per} values",
                images.len()
            )));
        }
        let mut all = vec![0.0; self.chips * batch * classes];
        for start in (0..batch).step_by(self.images_per_pass) {
            let n = self.images_per_pass.min(batch - start);
            let pass = &images[start * per..(start + n) * per];
            let logits = exec.run(self, pass, n, first_image + start)?;
            for (z, chip) in logits.chunks(n * classes).enumerate() {
                all[(z * batch + start) * classes..][..n * classes].copy_from_slice(chip);
            }
        }
        Ok(all)
    }
}
