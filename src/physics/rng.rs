//! Counter-based random numbers shared bit for bit with the GPU.
//!
//! Twin of `shaders/common.wgsl` (`philox4x32_10`, `normals4`, `uniforms4`).
//!
//! Every random draw of the engine is a pure function of `(seed, counter)`: Philox4x32-10
//! (Salmon et al., SC'11) maps a 128-bit counter and a 64-bit key to four 32-bit words, and
//! Box-Muller turns them into four standard normals. Because nothing is sequential, the CPU
//! and the GPU draw the same noise for the same element in any order and on any number of
//! threads, and a run is reproducible from its seed alone.
//!
//! The logarithm and the sine/cosine are evaluated with the same polynomials on both sides
//! (instead of each platform's libm, whose last bits differ), so CPU and GPU normals agree to
//! within float rounding of the same arithmetic.

/// Philox multiplier for the first word pair.
const PHILOX_M0: u32 = 0xD251_1F53;
/// Philox multiplier for the second word pair.
const PHILOX_M1: u32 = 0xCD9E_8D57;
/// Key schedule increment (golden ratio).
const PHILOX_W0: u32 = 0x9E37_79B9;
/// Key schedule increment (sqrt(3) - 1).
const PHILOX_W1: u32 = 0xBB67_AE85;

/// What a draw is for: the last counter word, so that draws for different purposes of the
/// same element never share random bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Purpose {
    /// Programming noise of the positive device of a pair.
    ProgPos = 1,
    /// Programming noise of the negative device of a pair.
    ProgNeg = 2,
    /// Drift exponent of the positive device.
    DriftPos = 3,
    /// Drift exponent of the negative device.
    DriftNeg = 4,
    /// Accumulated read noise of the positive device.
    ReadPos = 5,
    /// Accumulated read noise of the negative device.
    ReadNeg = 6,
    /// Stuck-at draw of the positive device.
    StuckPos = 7,
    /// Stuck-at draw of the negative device.
    StuckNeg = 8,
    /// Additive output noise of an MVM.
    OutNoise = 9,
    /// Per-MVM weight read noise.
    WeightNoise = 10,
    /// Output noise of the drift-compensation read-out before drift.
    ReadoutBefore = 11,
    /// Output noise of the drift-compensation read-out after drift.
    ReadoutAfter = 12,
}

/// A 32-bit stream id, one counter word of every draw: which layer, chip instance or call a
/// draw belongs to, so that two of them never share random bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Stream(pub u32);

impl Stream {
    /// Stream of a chip instance of a layer: distinct layers and instances never collide
    /// while `layer < 2^12` and `instance < 2^20`.
    pub fn chip(layer: u32, instance: u32) -> Self {
        Stream((layer << 20) ^ instance)
    }
}

/// The 64-bit key of all draws of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Seed(pub u64);

impl Seed {
    /// The two key words, low word first.
    pub fn key(self) -> [u32; 2] {
        [self.0 as u32, (self.0 >> 32) as u32]
    }
}

#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let product = u64::from(a) * u64::from(b);
    ((product >> 32) as u32, product as u32)
}

/// Philox4x32 with 10 rounds. Twin of `philox4x32_10` in `shaders/common.wgsl`.
#[inline(always)]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(PHILOX_W0);
            k[1] = k[1].wrapping_add(PHILOX_W1);
        }
        let (hi0, lo0) = mulhilo(PHILOX_M0, c[0]);
        let (hi1, lo1) = mulhilo(PHILOX_M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// 2^-24: spacing of the 24-bit uniforms.
const INV_2_24: f32 = 1.0 / 16_777_216.0;

/// Uniform in [0, 1) from the top 24 bits of a word. Twin of `uniform01` in WGSL.
#[inline(always)]
pub fn uniform01(word: u32) -> f32 {
    (word >> 8) as f32 * INV_2_24
}

/// Natural logarithm of a positive normal float (Cephes-style reduction to
/// [sqrt(1/2), sqrt(2)) and a degree-9 polynomial; about 1e-7 relative error).
/// Twin of `ln_poly` in WGSL.
#[inline(always)]
pub fn ln_poly(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut exponent = ((bits >> 23) & 0xff) as i32 - 126;
    // Mantissa in [0.5, 1).
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    if m < std::f32::consts::FRAC_1_SQRT_2 {
        exponent -= 1;
        m = m + m - 1.0;
    } else {
        m -= 1.0;
    }
    let z = m * m;
    let mut p = 7.037_683_6e-2_f32;
    p = p * m - 1.151_461e-1;
    p = p * m + 1.167_699_9e-1;
    p = p * m - 1.242_014_1e-1;
    p = p * m + 1.424_932_3e-1;
    p = p * m - 1.666_805_8e-1;
    p = p * m + 2.000_071_4e-1;
    p = p * m - 2.499_999_4e-1;
    p = p * m + 3.333_333e-1;
    let e = exponent as f32;
    let mut y = m * z * p;
    y += -2.121_944_4e-4 * e;
    y += -0.5 * z;
    m + y + 0.693_359_4 * e
}

/// Cosine and sine of `2 pi t` for t in [0, 1): quadrant selection plus short polynomials
/// on [-pi/4, pi/4). Twin of `sincos_turn` in WGSL.
#[inline(always)]
pub fn sincos_turn(t: f32) -> (f32, f32) {
    let scaled = t * 4.0;
    let quadrant = scaled.floor();
    let f = scaled - quadrant;
    // Angle within the quadrant, centred: a in [-pi/4, pi/4).
    let a = (f - 0.5) * std::f32::consts::FRAC_PI_2;
    let a2 = a * a;
    let sin_a = a + a * a2 * (-1.666_665_5e-1 + a2 * (8.332_161e-3 + a2 * -1.951_529_6e-4));
    let cos_a =
        1.0 - 0.5 * a2 + a2 * a2 * (4.166_664_6e-2 + a2 * (-1.388_731_6e-3 + a2 * 2.443_315_7e-5));
    // Rotate by pi/4: the quadrant's first angle is its centre minus pi/4.
    let h = std::f32::consts::FRAC_1_SQRT_2;
    let c = h * (cos_a - sin_a);
    let s = h * (cos_a + sin_a);
    // Odd quadrants rotate by pi/2, the upper two by pi: selects, not a jump table, so that
    // the batched generator vectorises.
    let q = quadrant as u32;
    let (c, s) = if q & 1 == 0 { (c, s) } else { (-s, c) };
    if q & 2 == 0 { (c, s) } else { (-c, -s) }
}

/// Four standard normals from one Philox block (two Box-Muller pairs).
/// Twin of `normals4` in WGSL.
#[inline(always)]
pub fn normals4(counter: [u32; 4], key: [u32; 2]) -> [f32; 4] {
    let r = philox4x32_10(counter, key);
    let (a0, a1) = box_muller(r[0], r[1]);
    let (b0, b1) = box_muller(r[2], r[3]);
    [a0, a1, b0, b1]
}

/// One Box-Muller pair; the radius word maps to (0, 1] so the logarithm is finite.
#[inline(always)]
fn box_muller(radius_word: u32, angle_word: u32) -> (f32, f32) {
    let u = ((radius_word >> 8) + 1) as f32 * INV_2_24;
    let radius = (-2.0 * ln_poly(u)).sqrt();
    let (c, s) = sincos_turn(uniform01(angle_word));
    (radius * c, radius * s)
}

/// Four uniforms in [0, 1) from one Philox block. Twin of `uniforms4` in WGSL.
#[inline(always)]
pub fn uniforms4(counter: [u32; 4], key: [u32; 2]) -> [f32; 4] {
    philox4x32_10(counter, key).map(uniform01)
}

/// Fills `out` with normals for a run of consecutive lanes `first .. first + out.len()` of
/// the counter family `[lane / 4, c1, c2, c3]`, lane `lane % 4` of each block.
pub fn fill_normals(out: &mut [f32], first: u32, c1: u32, c2: u32, c3: u32, key: [u32; 2]) {
    let cols = out.len();
    fill_normals_rows(out, cols, first, &[c1], c2, c3, key);
}

/// Fills `out` (rows.len(), cols) with normals: row `a`, column `j` is lane `first + j` of the
/// counter family `[lane / 4, rows[a], c2, c3]`, so each row equals [`fill_normals`] with
/// `c1 = rows[a]`.
///
/// This is the hot loop of the output noise. Rows of an analog tile are short (16 columns for
/// a small convolution), so the Philox blocks of all rows are generated together, eight at a
/// time in struct-of-arrays form, which the compiler vectorises.
///
/// # Panics
/// If `out` does not hold `rows.len() * cols` values.
pub fn fill_normals_rows(
    out: &mut [f32],
    cols: usize,
    first: u32,
    rows: &[u32],
    c2: u32,
    c3: u32,
    key: [u32; 2],
) {
    assert_eq!(out.len(), rows.len() * cols, "normals buffer size");
    simd::dispatch_fill_rows(out, cols, first, rows, [c2, c3], key);
}

/// Philox blocks generated together.
const LANES: usize = 8;

/// [`philox4x32_10`] of eight counters at once, struct of arrays: `counters[w][i]` is word
/// `w` of block `i`. Portable form, one block at a time; `simd::philox_x8_avx2` is the
/// vectorised one.
#[inline(always)]
fn philox_x8(counters: [[u32; LANES]; 4], key: [u32; 2]) -> [[u32; LANES]; 4] {
    let mut out = [[0u32; LANES]; 4];
    for i in 0..LANES {
        let block = philox4x32_10(counters.map(|words| words[i]), key);
        for (w, word) in block.into_iter().enumerate() {
            out[w][i] = word;
        }
    }
    out
}

/// The normals of eight Philox blocks, as [`normals4`]: `result[k][i]` is normal `k` of block `i`.
#[inline(always)]
fn box_muller_x8(words: [[u32; LANES]; 4]) -> [[f32; LANES]; 4] {
    let mut out = [[0f32; LANES]; 4];
    for i in 0..LANES {
        let (a0, a1) = box_muller(words[0][i], words[1][i]);
        let (b0, b1) = box_muller(words[2][i], words[3][i]);
        out[0][i] = a0;
        out[1][i] = a1;
        out[2][i] = b0;
        out[3][i] = b1;
    }
    out
}

mod simd {
    //! Runtime selection of an AVX2+FMA build of the normal generator on x86-64.

    use super::{LANES, box_muller_x8, philox_x8};

    /// Eight Philox blocks at once.
    type Philox8 = fn([[u32; LANES]; 4], [u32; 2]) -> [[u32; LANES]; 4];

    #[inline(always)]
    fn fill_rows_generic(
        out: &mut [f32],
        cols: usize,
        first: u32,
        rows: &[u32],
        words: [u32; 2],
        key: [u32; 2],
        philox: Philox8,
    ) {
        if cols == 0 || rows.is_empty() {
            return;
        }
        let first = first as usize;
        let first_block = first / 4;
        let blocks_per_row = (first + cols - 1) / 4 - first_block + 1;
        let tasks = rows.len() * blocks_per_row;
        // (row, block within the row) of the next task.
        let (mut row, mut block) = (0usize, 0usize);
        let mut done = 0;
        while done < tasks {
            let n = (tasks - done).min(LANES);
            let mut counters = [[0u32; LANES]; 4];
            let mut slots = [(0usize, 0usize); LANES];
            for (i, slot) in slots.iter_mut().enumerate().take(n) {
                counters[0][i] = (first_block + block) as u32;
                counters[1][i] = rows[row];
                *slot = (row, first_block + block);
                block += 1;
                if block == blocks_per_row {
                    block = 0;
                    row += 1;
                }
            }
            counters[2] = [words[0]; LANES];
            counters[3] = [words[1]; LANES];
            let normals = box_muller_x8(philox(counters, key));
            for (i, &(r, b)) in slots.iter().enumerate().take(n) {
                let dst = &mut out[r * cols..(r + 1) * cols];
                let start = 4 * b;
                if start >= first && start + 4 <= first + cols {
                    // A whole block inside the row: the common case.
                    let block = [normals[0][i], normals[1][i], normals[2][i], normals[3][i]];
                    dst[start - first..start - first + 4].copy_from_slice(&block);
                    continue;
                }
                for (lane, z) in normals.iter().enumerate() {
                    let global = start + lane;
                    if global >= first && global < first + cols {
                        dst[global - first] = z[i];
                    }
                }
            }
            done += n;
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fill_rows_avx2(
        out: &mut [f32],
        cols: usize,
        first: u32,
        rows: &[u32],
        words: [u32; 2],
        key: [u32; 2],
    ) {
        // The closure inherits this function's target features, so the AVX2 Philox is safe here.
        fill_rows_generic(out, cols, first, rows, words, key, |c, k| {
            philox_x8_avx2(c, k)
        })
    }

    /// [`philox_x8`] in AVX2 integer vectors: the compiler does not vectorise the 32x32->64-bit
    /// products of the portable form. Same results bit for bit (tested).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    pub(super) fn philox_x8_avx2(counters: [[u32; LANES]; 4], key: [u32; 2]) -> [[u32; LANES]; 4] {
        use super::{PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1};
        use std::arch::x86_64::*;
        // High and low words of m * x per 32-bit lane: the products of the even lanes, then of
        // the odd lanes shifted down, woven back together.
        let mulhilo = |m: __m256i, x: __m256i| {
            let even = _mm256_mul_epu32(x, m);
            let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(x), m);
            let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
            let lo = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
            (hi, lo)
        };
        // SAFETY: [u32; 8] and __m256i have the same size, and any bits are valid for both.
        let to_vec = |a: [u32; LANES]| unsafe { std::mem::transmute::<[u32; LANES], __m256i>(a) };
        let mut c = counters.map(to_vec);
        let (m0, m1) = (
            _mm256_set1_epi32(PHILOX_M0 as i32),
            _mm256_set1_epi32(PHILOX_M1 as i32),
        );
        let mut k = key;
        for round in 0..10 {
            if round > 0 {
                k[0] = k[0].wrapping_add(PHILOX_W0);
                k[1] = k[1].wrapping_add(PHILOX_W1);
            }
            let (k0, k1) = (
                _mm256_set1_epi32(k[0] as i32),
                _mm256_set1_epi32(k[1] as i32),
            );
            let (hi0, lo0) = mulhilo(m0, c[0]);
            let (hi1, lo1) = mulhilo(m1, c[2]);
            c = [
                _mm256_xor_si256(_mm256_xor_si256(hi1, c[1]), k0),
                lo1,
                _mm256_xor_si256(_mm256_xor_si256(hi0, c[3]), k1),
                lo0,
            ];
        }
        // SAFETY: as above.
        c.map(|v| unsafe { std::mem::transmute::<__m256i, [u32; LANES]>(v) })
    }

    pub(super) fn dispatch_fill_rows(
        out: &mut [f32],
        cols: usize,
        first: u32,
        rows: &[u32],
        words: [u32; 2],
        key: [u32; 2],
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if crate::simd::avx2_fma() {
                // SAFETY: the CPU supports the features the function is compiled for.
                return unsafe { fill_rows_avx2(out, cols, first, rows, words, key) };
            }
        }
        fill_rows_generic(out, cols, first, rows, words, key, philox_x8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_matches_the_random123_known_answers() {
        // Known-answer vectors of Random123's kat_vectors for philox4x32_10.
        assert_eq!(
            philox4x32_10([0; 4], [0; 2]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn ln_poly_tracks_the_true_logarithm() {
        let mut worst = 0f32;
        for k in 1..=100_000u32 {
            let x = k as f32 / 100_000.0;
            worst = worst.max((ln_poly(x) - x.ln()).abs());
        }
        let tiny = 2f32.powi(-24);
        worst = worst.max((ln_poly(tiny) - tiny.ln()).abs() / 16.0);
        assert!(worst < 2e-6, "worst abs error {worst}");
    }

    #[test]
    fn sincos_turn_tracks_sin_and_cos() {
        let mut worst = 0f32;
        for k in 0..100_000u32 {
            let t = k as f32 / 100_000.0;
            let (c, s) = sincos_turn(t);
            let angle = t as f64 * std::f64::consts::TAU;
            worst = worst.max((c as f64 - angle.cos()).abs() as f32);
            worst = worst.max((s as f64 - angle.sin()).abs() as f32);
        }
        assert!(worst < 1e-6, "worst abs error {worst}");
    }

    #[test]
    fn normals_have_unit_moments_and_gaussian_tails() {
        let n = 400_000usize;
        let mut z = vec![0f32; n];
        fill_normals(&mut z, 3, 7, 0, 1, Seed(42).key());
        let mean = z.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = z.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        let beyond_2 = z.iter().filter(|v| v.abs() > 2.0).count() as f64 / n as f64;
        // Standard errors: mean 1.6e-3, variance 2.2e-3, tail fraction 3.3e-4.
        assert!(mean.abs() < 0.008, "mean {mean}");
        assert!((var - 1.0).abs() < 0.011, "variance {var}");
        assert!((beyond_2 - 0.0455).abs() < 0.0017, "P(|z|>2) = {beyond_2}");
    }

    #[test]
    fn batched_philox_equals_the_scalar_one() {
        let key = Seed(0x0F0F_1234_5678_9ABC).key();
        let mut counters = [[0u32; LANES]; 4];
        for (w, words) in counters.iter_mut().enumerate() {
            for (i, v) in words.iter_mut().enumerate() {
                *v = (w as u32 + 1)
                    .wrapping_mul(0x9E37_79B9)
                    .wrapping_add(i as u32)
                    ^ 0xFFFF_0000;
            }
        }
        let portable = philox_x8(counters, key);
        #[cfg(target_arch = "x86_64")]
        if crate::simd::avx2_fma() {
            // SAFETY: the CPU supports AVX2.
            assert_eq!(unsafe { simd::philox_x8_avx2(counters, key) }, portable);
        }
        for i in 0..LANES {
            let scalar = philox4x32_10(counters.map(|w| w[i]), key);
            assert_eq!(portable.map(|w| w[i]), scalar);
        }
    }

    #[test]
    fn fill_normals_rows_equals_the_scalar_definition() {
        let key = Seed(0x1234_5678_9ABC).key();
        let rows = [4u32, 17, 0, 4_000_000_000];
        for first in [0u32, 2, 4, 13] {
            for cols in [1usize, 3, 4, 16, 19, 37] {
                let mut fast = vec![0f32; rows.len() * cols];
                fill_normals_rows(&mut fast, cols, first, &rows, 6, 5, key);
                for (a, &row) in rows.iter().enumerate() {
                    for j in 0..cols {
                        let lane = first + j as u32;
                        let expected = normals4([lane / 4, row, 6, 5], key)[(lane % 4) as usize];
                        assert_eq!(fast[a * cols + j].to_bits(), expected.to_bits());
                    }
                }
            }
        }
    }

    #[test]
    fn fill_normals_equals_the_scalar_definition_at_any_offset() {
        let key = Seed(0xDEAD_BEEF_0123).key();
        for first in [0u32, 1, 2, 3, 5, 33] {
            for len in [0usize, 1, 3, 4, 31, 32, 33, 77] {
                let mut fast = vec![0f32; len];
                fill_normals(&mut fast, first, 9, 8, 7, key);
                for (i, &v) in fast.iter().enumerate() {
                    let lane = first + i as u32;
                    let expected = normals4([lane / 4, 9, 8, 7], key)[(lane % 4) as usize];
                    assert_eq!(
                        v.to_bits(),
                        expected.to_bits(),
                        "first {first} len {len} i {i}"
                    );
                }
            }
        }
    }
}
