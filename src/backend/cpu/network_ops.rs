//! The digital layers of a network on host activations, channels-last: value (n, y, x, c)
//! at `((n * H + y) * W + x) * C + c`.
//!
//! CPU twins of the kernels of `shaders/network_ops.wgsl` (same names, same [`OpParams`],
//! the same arithmetic in the same order, so both backends round alike). Where the GPU runs
//! one invocation per output value, these run rayon tasks over blocks of outputs.

use crate::backend::params::OpParams;
use rayon::prelude::*;

/// Output pixels whose im2col patches one task builds.
const PIXELS_PER_TASK: usize = 64;

/// NCHW images -> `(x - mean[c]) * inv_std[c]`, channels-last; `per_channel` holds the
/// means, then the inverse standard deviations.
pub fn normalize_input(p: &OpParams, images: &[f32], per_channel: &[f32], dst: &mut [f32]) {
    let (c, hw) = (p.channels as usize, (p.height * p.width) as usize);
    let (mean, inv_std) = per_channel.split_at(c);
    dst.par_chunks_mut(c * hw)
        .zip(images.par_chunks(c * hw))
        .for_each(|(dst, src)| {
            for ch in 0..c {
                for px in 0..hw {
                    dst[px * c + ch] = (src[ch * hw + px] - mean[ch]) * inv_std[ch];
                }
            }
        });
}

/// Of each of `p.images` vectors of `p.channels` values in `src`, the `p.out_channels`
/// values at indices `kept` (ascending) into `dst`: the inputs a pruned matrix layer maps,
/// its removed rows being absent from the crossbar.
pub fn select_columns(p: &OpParams, src: &[f32], kept: &[u32], dst: &mut [f32]) {
    let (full, selected) = (p.channels as usize, p.out_channels as usize);
    debug_assert_eq!(kept.len(), selected);
    dst.par_chunks_mut(PIXELS_PER_TASK * selected)
        .zip(src.par_chunks(PIXELS_PER_TASK * full))
        .for_each(|(dst, src)| {
            for (dst, src) in dst.chunks_exact_mut(selected).zip(src.chunks_exact(full)) {
                for (d, &r) in dst.iter_mut().zip(kept) {
                    *d = src[r as usize];
                }
            }
        });
}

/// Patches of the output pixels `p.first_pixel ..` (over the batch, (image, oy, ox) order)
/// into `dst` (pixels, c * k * k), each ordered (channel, ky, kx) like PyTorch's weight;
/// zero outside the image.
///
/// Unlike the shader, this twin reads its input channels-first (`planar`, NCHW): a window
/// row of one channel is then contiguous and is copied at once.
pub fn im2col(p: &OpParams, planar: &[f32], dst: &mut [f32]) {
    let (k, stride, pad) = (p.kernel as usize, p.stride as usize, p.pad as usize);
    let (c, h, w) = (p.channels as usize, p.height as usize, p.width as usize);
    let (ow, pixels) = (p.out_width as usize, p.out_pixels());
    let kk = k * k;
    let cols = c * kk;
    let first = p.first_pixel as usize;
    dst.par_chunks_mut(PIXELS_PER_TASK * cols)
        .enumerate()
        .for_each(|(task, chunk)| {
            for (i, patch) in chunk.chunks_exact_mut(cols).enumerate() {
                let pixel = first + task * PIXELS_PER_TASK + i;
                let (n, within) = (pixel / pixels, pixel % pixels);
                let (y0, x0) = ((within / ow) * stride, (within % ow) * stride);
                let img = &planar[n * c * h * w..][..c * h * w];
                let interior = y0 >= pad && x0 >= pad && y0 + k <= h + pad && x0 + k <= w + pad;
                if interior {
                    // The common case: one contiguous copy per channel and window row.
                    let (y0, x0) = (y0 - pad, x0 - pad);
                    for (ch, dst_ch) in patch.chunks_exact_mut(kk).enumerate() {
                        let plane = &img[ch * h * w..][..h * w];
                        for (ky, dst_row) in dst_ch.chunks_exact_mut(k).enumerate() {
                            copy_short(dst_row, &plane[(y0 + ky) * w + x0..][..k]);
                        }
                    }
                } else {
                    for (j, v) in patch.iter_mut().enumerate() {
                        let (ch, ky, kx) = (j / kk, (j % kk) / k, j % k);
                        let (iy, ix) = (y0 + ky, x0 + kx);
                        *v = if iy < pad || ix < pad || iy - pad >= h || ix - pad >= w {
                            0.0
                        } else {
                            img[(ch * h + iy - pad) * w + ix - pad]
                        };
                    }
                }
            }
        });
}

/// `dst.copy_from_slice(src)` for a window row: kernels are a few pixels wide, and a copy of
/// unknown length is a call to `memmove`, which costs more than the copy itself.
#[inline(always)]
fn copy_short(dst: &mut [f32], src: &[f32]) {
    fn fixed<const N: usize>(dst: &mut [f32], src: &[f32]) {
        let (Ok(dst), Ok(src)) = (<&mut [f32; N]>::try_from(dst), <&[f32; N]>::try_from(src))
        else {
            unreachable!("window rows of equal length")
        };
        *dst = *src;
    }
    match dst.len() {
        1 => fixed::<1>(dst, src),
        2 => fixed::<2>(dst, src),
        3 => fixed::<3>(dst, src),
        4 => fixed::<4>(dst, src),
        5 => fixed::<5>(dst, src),
        7 => fixed::<7>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// In place: `v * scale[c] + shift[c]` (folded batch norm; a bias is scale 1);
/// `per_channel` holds the scales, then the shifts.
pub fn channel_affine(p: &OpParams, per_channel: &[f32], dst: &mut [f32]) {
    let c = p.channels as usize;
    let (scale, shift) = per_channel.split_at(c);
    dst.par_chunks_mut(c * 1024).for_each(|block| {
        for px in block.chunks_mut(c) {
            for ((v, s), t) in px.iter_mut().zip(scale).zip(shift) {
                *v = *v * s + t;
            }
        }
    });
}

/// In place: `max(v, 0)`.
pub fn relu(_: &OpParams, dst: &mut [f32]) {
    dst.par_iter_mut().for_each(|v| *v = v.max(0.0));
}

/// In place: the residual add `v + src`.
pub fn add(_: &OpParams, src: &[f32], dst: &mut [f32]) {
    dst.par_iter_mut().zip(src).for_each(|(a, b)| *a += b);
}

/// Max or average over square windows, visited row by row; max starts from the window's
/// first value, average from zero. Average windows may be padded (`p.pad`): a window then
/// averages the pixels it holds inside the image (max windows are never padded).
pub fn pool(p: &OpParams, src: &[f32], dst: &mut [f32]) {
    let (k, stride, pad) = (p.kernel as usize, p.stride as usize, p.pad as usize);
    let (c, h, w) = (p.channels as usize, p.height as usize, p.width as usize);
    let (oh, ow) = (p.out_height as usize, p.out_width as usize);
    let max = p.max_pool == 1;
    dst.par_chunks_mut(ow * c)
        .enumerate()
        .for_each(|(row_index, row)| {
            let (n, oy) = (row_index / oh, row_index % oh);
            let img = &src[n * h * w * c..][..h * w * c];
            for ox in 0..ow {
                let out = &mut row[ox * c..][..c];
                if max {
                    out.copy_from_slice(&img[(oy * stride * w + ox * stride) * c..][..c]);
                } else {
                    out.fill(0.0);
                }
                let mut count = 0usize;
                for ky in 0..k {
                    let Some(y) = (oy * stride + ky).checked_sub(pad).filter(|&y| y < h) else {
                        continue;
                    };
                    for kx in 0..k {
                        let Some(x) = (ox * stride + kx).checked_sub(pad).filter(|&x| x < w) else {
                            continue;
                        };
                        count += 1;
                        let px = &img[(y * w + x) * c..][..c];
                        for (d, v) in out.iter_mut().zip(px) {
                            *d = if max { d.max(*v) } else { *d + v };
                        }
                    }
                }
                if !max {
                    out.iter_mut().for_each(|d| *d /= count as f32);
                }
            }
        });
}

/// Mean over all pixels of each channel, summed in pixel order: (images, channels).
pub fn global_avg_pool(p: &OpParams, src: &[f32], dst: &mut [f32]) {
    let (c, hw) = (p.channels as usize, (p.height * p.width) as usize);
    dst.par_chunks_mut(c)
        .zip(src.par_chunks(hw * c))
        .for_each(|(sums, img)| {
            sums.fill(0.0);
            for px in img.chunks(c) {
                sums.iter_mut().zip(px).for_each(|(s, v)| *s += v);
            }
            sums.iter_mut().for_each(|s| *s /= hw as f32);
        });
}

/// Channels-last -> per-image channel-major vectors, as PyTorch's `flatten(1)` of NCHW.
pub fn to_channels_first(p: &OpParams, src: &[f32], dst: &mut [f32]) {
    let (c, hw) = (p.channels as usize, (p.height * p.width) as usize);
    dst.par_chunks_mut(c * hw)
        .zip(src.par_chunks(c * hw))
        .for_each(|(dst, src)| {
            for px in 0..hw {
                for ch in 0..c {
                    dst[ch * hw + px] = src[px * c + ch];
                }
            }
        });
}
