//! The wgpu context of the GPU backend, built once: adapter, device, queue, the compute
//! pipelines, and the helpers that move data on and off the device.

use super::shaders::Kernel;
use crate::error::{Error, Result};
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// Device, queue and cached pipelines.
pub struct GpuContext {
    pub(super) device: wgpu::Device,
    pub(super) queue: wgpu::Queue,
    pub(super) info: wgpu::AdapterInfo,
    pipelines: Vec<(Kernel, wgpu::ComputePipeline)>,
    /// The first error the device reported since the last check.
    errors: Arc<Mutex<Option<String>>>,
    /// Largest buffer binding used: the adapter's limit, or less for tests of chunking.
    pub(super) max_binding: u64,
}

/// Whether an adapter is a real GPU rather than a software rasteriser.
pub fn is_hardware(info: &wgpu::AdapterInfo) -> bool {
    info.device_type != wgpu::DeviceType::Cpu
}

impl GpuContext {
    /// Picks the best adapter (discrete, integrated, virtual, then software when
    /// `allow_software`), creates the device with the adapter's limits, and compiles the
    /// kernels. `WGPU_BACKEND` selects the graphics API (e.g. `vulkan`).
    ///
    /// # Errors
    /// No suitable adapter, or device creation failed.
    pub fn new(allow_software: bool) -> Result<Self> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        let rank = |info: &wgpu::AdapterInfo| match info.device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Other => 3,
            wgpu::DeviceType::Cpu => 4,
        };
        let seen: Vec<String> = adapters
            .iter()
            .map(|a| format!("{} ({:?})", a.get_info().name, a.get_info().device_type))
            .collect();
        let adapter = adapters
            .into_iter()
            .filter(|a| allow_software || is_hardware(&a.get_info()))
            .filter(|a| {
                a.get_downlevel_capabilities()
                    .flags
                    .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
            })
            .min_by_key(|a| rank(&a.get_info()))
            .ok_or_else(|| {
                let found = if seen.is_empty() {
                    "none".to_string()
                } else {
                    seen.join(", ")
                };
                let hint = if allow_software {
                    ""
                } else {
                    " (software adapters are used only when asked for)"
                };
                Error::Gpu(format!(
                    "no usable GPU adapter; adapters found: {found}{hint}"
                ))
            })?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("imcnas"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| Error::Gpu(format!("{}: cannot create device: {e}", info.name)))?;
        let errors = Arc::new(Mutex::new(None));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut slot) = sink.lock() {
                slot.get_or_insert_with(|| {
                    e.to_string().lines().next().unwrap_or("error").to_string()
                });
            }
        }));
        // Kernels of one shader file share its module.
        let mut modules: Vec<(String, wgpu::ShaderModule)> = Vec::new();
        let pipelines = Kernel::ALL
            .iter()
            .map(|&kernel| {
                let source = kernel.source();
                let module = match modules.iter().position(|(s, _)| *s == source) {
                    Some(i) => &modules[i].1,
                    None => {
                        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                            label: Some(kernel.entry_point()),
                            source: wgpu::ShaderSource::Wgsl(source.clone().into()),
                        });
                        modules.push((source, module));
                        &modules[modules.len() - 1].1
                    }
                };
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(kernel.entry_point()),
                    layout: None,
                    module,
                    entry_point: Some(kernel.entry_point()),
                    compilation_options: Default::default(),
                    cache: None,
                });
                (kernel, pipeline)
            })
            .collect();
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let context = GpuContext {
            device,
            queue,
            info,
            pipelines,
            errors,
            max_binding,
        };
        context.check()?;
        Ok(context)
    }

    /// Fails with the first error the device reported since the last check.
    pub(super) fn check(&self) -> Result<()> {
        match self.errors.lock().ok().and_then(|mut slot| slot.take()) {
            Some(message) => Err(Error::Gpu(message)),
            None => Ok(()),
        }
    }

    pub(super) fn pipeline(&self, kernel: Kernel) -> &wgpu::ComputePipeline {
        &self
            .pipelines
            .iter()
            .find(|(k, _)| *k == kernel)
            .expect("every kernel is compiled at start")
            .1
    }

    /// A storage buffer holding `data`.
    pub(super) fn upload(&self, label: &str, data: &[f32]) -> wgpu::Buffer {
        // wgpu rejects zero-sized bindings.
        let bytes: &[u8] = if data.is_empty() {
            &[0; 4]
        } else {
            bytemuck::cast_slice(data)
        };
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
            })
    }

    /// A zeroed storage buffer of `len` floats.
    pub(super) fn storage(&self, label: &str, len: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (4 * len.max(1)) as u64,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// A uniform buffer holding a parameter struct.
    pub(super) fn uniform<T: bytemuck::Pod>(&self, params: &T) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytemuck::bytes_of(params),
                usage: wgpu::BufferUsages::UNIFORM,
            })
    }

    /// Records one dispatch of `kernel` with `buffers` bound in order from binding 0.
    pub(super) fn dispatch(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        kernel: Kernel,
        buffers: &[&wgpu::Buffer],
        groups: (u32, u32),
    ) {
        let bound: Vec<(u32, &wgpu::Buffer)> = (0..).zip(buffers.iter().copied()).collect();
        self.dispatch_bound(encoder, kernel, &bound, [groups.0, groups.1, 1]);
    }

    /// Records one dispatch of `kernel` with each buffer at its binding number (kernels that
    /// share a shader file use a subset of its bindings).
    pub(super) fn dispatch_bound(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        kernel: Kernel,
        buffers: &[(u32, &wgpu::Buffer)],
        groups: [u32; 3],
    ) {
        let pipeline = self.pipeline(kernel);
        let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
            .iter()
            .map(|(binding, b)| wgpu::BindGroupEntry {
                binding: *binding,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.entry_point()),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(kernel.entry_point()),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
    }

    /// Workgroup grid for `items` invocations of `per_group` each, folded into two
    /// dimensions to stay within the 65,535-per-dimension limit.
    pub(super) fn grid_2d(items: usize, per_group: usize) -> (u32, u32) {
        let groups = items.div_ceil(per_group).max(1);
        let x = groups.min(65_535);
        (x as u32, groups.div_ceil(x) as u32)
    }

    /// Submits `encoder` and waits for the device.
    pub(super) fn submit(&self, encoder: wgpu::CommandEncoder) -> Result<()> {
        self.queue.submit([encoder.finish()]);
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
        self.check()
    }

    /// A host-readable buffer for `len` floats of results.
    pub(super) fn staging(&self, len: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size: (4 * len.max(1)) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Copies `len` floats out of a storage buffer.
    pub(super) fn download(&self, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        let encoder = self.device.create_command_encoder(&Default::default());
        self.submit_and_read(encoder, buffer, &self.staging(len), len)
    }

    /// Appends to `encoder` a copy of the first `len` floats of `buffer` into `staging`,
    /// submits it, waits, and returns those floats.
    pub(super) fn submit_and_read(
        &self,
        mut encoder: wgpu::CommandEncoder,
        buffer: &wgpu::Buffer,
        staging: &wgpu::Buffer,
        len: usize,
    ) -> Result<Vec<f32>> {
        let bytes = (4 * len) as u64;
        if bytes == 0 {
            return self.submit(encoder).map(|()| Vec::new());
        }
        encoder.copy_buffer_to_buffer(buffer, 0, staging, 0, bytes);
        self.submit(encoder)?;
        let (sender, receiver) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, ..bytes, move |result| {
            let _ = sender.send(result);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
        receiver
            .recv()
            .map_err(|_| Error::Gpu("buffer mapping was abandoned".into()))?
            .map_err(|e| Error::Gpu(format!("cannot map a result buffer: {e}")))?;
        let view = staging
            .get_mapped_range(..bytes)
            .map_err(|e| Error::Gpu(format!("cannot read a result buffer: {e}")))?;
        let data = bytemuck::cast_slice::<u8, f32>(&view).to_vec();
        drop(view);
        staging.unmap();
        Ok(data)
    }
}
