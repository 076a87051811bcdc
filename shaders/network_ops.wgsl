// The digital layers of a network, on activations kept on the device between layers.
// Activations are channels-last: value (n, y, x, c) at ((n * H + y) * W + x) * C + c.
// One invocation per output value; the grid is folded into two dimensions.
// Twins: src/backend/cpu/network_ops.rs (functions of the same names, same OpParams).

// Twin of OpParams in src/backend/params.rs.
struct OpParams {
    images: u32,
    channels: u32,
    height: u32,
    width: u32,
    out_channels: u32,
    out_height: u32,
    out_width: u32,
    kernel: u32,
    stride: u32,
    pad: u32,
    max_pool: u32,
    first_pixel: u32,
}

// OPS_WG, the invocations per workgroup, is prepended by the host (OPS_WORKGROUP in
// src/backend/gpu/shaders.rs), which sizes the dispatch by it.

@group(0) @binding(0) var<uniform> q: OpParams;
// The layer's input (or the second operand of an in-place layer).
@group(0) @binding(1) var<storage, read> src: array<f32>;
// Per-channel constants: (mean, 1 / std) or (scale, shift), channels values each.
@group(0) @binding(2) var<storage, read> per_channel: array<f32>;
// The layer's output (updated in place by element-wise layers).
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn item(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.y * groups.x * OPS_WG + gid.x;
}

// NCHW images -> (x - mean[c]) / std[c], channels-last.
@compute @workgroup_size(OPS_WG)
fn normalize_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = item(gid, groups);
    let c = q.channels;
    let hw = q.height * q.width;
    if (i >= q.images * hw * c) {
        return;
    }
    let ch = i % c;
    let p = (i / c) % hw;
    let n = i / (c * hw);
    dst[i] = (src[(n * c + ch) * hw + p] - per_channel[ch]) * per_channel[c + ch];
}

// Patches (pixel, c * k * k) of the output pixels first_pixel.., each ordered (channel, ky, kx)
// like PyTorch's weight (out, in, k, k); zero outside the image.
@compute @workgroup_size(OPS_WG)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = item(gid, groups);
    let k = q.kernel;
    let cols = q.channels * k * k;
    let pixels = q.out_height * q.out_width;
    if (i >= q.images * pixels * cols) {
        return;
    }
    let pixel = q.first_pixel + i / cols;
    let j = i % cols;
    let n = pixel / pixels;
    let within = pixel % pixels;
    let ch = j / (k * k);
    let ky = (j % (k * k)) / k;
    let kx = j % k;
    // Coordinates in the padded image; unsigned, so the padding test needs no negatives.
    let iy = (within / q.out_width) * q.stride + ky;
    let ix = (within % q.out_width) * q.stride + kx;
    var v = 0.0;
    if (iy >= q.pad && ix >= q.pad && iy - q.pad < q.height && ix - q.pad < q.width) {
        v = src[((n * q.height + iy - q.pad) * q.width + ix - q.pad) * q.channels + ch];
    }
    dst[i] = v;
}

// The inputs a pruned matrix layer maps: of each of `images` vectors of `channels` values,
// the `out_channels` values whose indices per_channel lists (exact integers, ascending).
// Pruned rows are absent from the crossbar, so their inputs are never fed.
@compute @workgroup_size(OPS_WG)
fn select_columns(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = item(gid, groups);
    let kept = q.out_channels;
    if (i >= q.images * kept) {
        return;
    }
    let vector = i / kept;
    dst[i] = src[vector * q.channels + u32(per_channel[i % kept])];
}

// In place: v -> v * scale[c] + shift[c] (folded batch norm; a bias is scale 1).
@compute @workgroup_size(OPS_WG)
fn channel_affine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = item(gid, groups);
    let c = q.channels;
    if (i >= q.images * q.height * q.width * c) {
        return;
    }
    let ch = i % c;
    dst[i] = dst[i] * per_channel[ch] + per_channel[c + ch];
}

// In place: max(v, 0).
@compute @workgroup_size(OPS_WG)
fn relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = item(gid, groups);
    if (i >= q.images * q.height * q.width * q.channels) {
        return;
    }
    dst[i] = max(dst[i], 0.0);
}

// In place: the residual add, v -> v + src.
@compute @workgroup_size(OPS_WG)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = item(gid, groups);
    if (i >= q.images * q.height * q.width * q.channels) {
        return;
    }
    dst[i] = dst[i] + src[i];
}

// Max or average over square windows, visited row by row. Average windows may be padded
// (q.pad): a window then averages the pixels it holds inside the image (max windows are
// never padded).
@compute @workgroup_size(OPS_WG)
fn pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = item(gid, groups);
    let c = q.channels;
    if (i >= q.images * q.out_height * q.out_width * c) {
        return;
    }
    let ch = i % c;
    let ox = (i / c) % q.out_width;
    let oy = (i / (c * q.out_width)) % q.out_height;
    let n = i / (c * q.out_width * q.out_height);
    // Max starts from the window's first value, average from zero.
    var acc = 0.0;
    if (q.max_pool == 1u) {
        acc = src[((n * q.height + oy * q.stride) * q.width + ox * q.stride) * c + ch];
    }
    var count = 0u;
    for (var ky = 0u; ky < q.kernel; ky++) {
        let y = oy * q.stride + ky;
        if (y < q.pad || y - q.pad >= q.height) {
            continue;
        }
        for (var kx = 0u; kx < q.kernel; kx++) {
            let x = ox * q.stride + kx;
            if (x < q.pad || x - q.pad >= q.width) {
                continue;
            }
            count += 1u;
            let v = src[((n * q.height + y - q.pad) * q.width + x - q.pad) * c + ch];
            if (q.max_pool == 1u) {
                acc = max(acc, v);
            } else {
                acc = acc + v;
            }
        }
    }
    if (q.max_pool == 0u) {
        acc = acc / f32(count);
    }
    dst[i] = acc;
}

// Mean over all pixels of each channel, summed in pixel order: (images, channels).
@compute @workgroup_size(OPS_WG)
fn global_avg_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = item(gid, groups);
    let c = q.channels;
    if (i >= q.images * c) {
        return;
    }
    let ch = i % c;
    let n = i / c;
    let hw = q.height * q.width;
    var sum = 0.0;
    for (var p = 0u; p < hw; p++) {
        sum = sum + src[(n * hw + p) * c + ch];
    }
    dst[i] = sum / f32(hw);
}

// Channels-last -> per-image channel-major vectors, as PyTorch's flatten(1) of NCHW.
@compute @workgroup_size(OPS_WG)
fn to_channels_first(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = item(gid, groups);
    let c = q.channels;
    let hw = q.height * q.width;
    if (i >= q.images * hw * c) {
        return;
    }
    // i indexes the output (n, ch, p).
    let p = i % hw;
    let ch = (i / hw) % c;
    let n = i / (c * hw);
    dst[i] = src[(n * hw + p) * c + ch];
}
