//! Safe wrapper over the blocked SIMD GEMM of the `gemm` crate for the shapes the engine
//! uses: a row-major left operand times the transpose of a row-major weight block.

/// A matrix operand: its elements and the offset between its rows.
pub type Operand<'a> = (&'a [f32], usize);

/// `dst (m, n) = lhs (m, k) . rhs^T` for `shape = (m, n, k)`, where `lhs` is row-major with
/// row stride `lhs_rs` and `rhs` holds the weight rows: element (c, j) of the (n, k) block at
/// `c * rhs_rs + j`. Single-threaded: callers parallelise over blocks of rows.
///
/// # Panics
/// When a slice is too short for the shape (an internal invariant, not user input).
pub fn matmul(dst: &mut [f32], shape: (usize, usize, usize), lhs: Operand<'_>, rhs: Operand<'_>) {
    matmul_with(dst, shape, lhs, rhs, gemm::Parallelism::None)
}

/// [`matmul`] on all cores, for a single large product (the plain-GEMM baseline).
pub fn matmul_parallel(
    dst: &mut [f32],
    shape: (usize, usize, usize),
    lhs: Operand<'_>,
    rhs: Operand<'_>,
) {
    let threads = rayon::current_num_threads();
    matmul_with(dst, shape, lhs, rhs, gemm::Parallelism::Rayon(threads))
}

fn matmul_with(
    dst: &mut [f32],
    (m, n, k): (usize, usize, usize),
    (lhs, lhs_rs): Operand<'_>,
    (rhs, rhs_rs): Operand<'_>,
    parallelism: gemm::Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() >= m * n, "gemm: destination too short");
    assert!(
        k == 0 || lhs.len() >= (m - 1) * lhs_rs + k,
        "gemm: left operand too short"
    );
    assert!(
        k == 0 || rhs.len() >= (n - 1) * rhs_rs + k,
        "gemm: right operand too short"
    );
    // SAFETY: the asserts above keep every access inside the three slices; `dst` does not
    // alias the operands (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.as_ptr(),
            1,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_rs as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_triple_loop_on_strided_blocks() {
        let (m, n, k, lhs_rs, rhs_rs) = (5, 7, 9, 11, 13);
        let lhs: Vec<f32> = (0..m * lhs_rs)
            .map(|i| ((i * 37) % 17) as f32 - 8.0)
            .collect();
        let rhs: Vec<f32> = (0..n * rhs_rs)
            .map(|i| ((i * 53) % 19) as f32 - 9.0)
            .collect();
        let mut dst = vec![f32::NAN; m * n];
        matmul(&mut dst, (m, n, k), (&lhs, lhs_rs), (&rhs, rhs_rs));
        for r in 0..m {
            for c in 0..n {
                let expected: f32 = (0..k)
                    .map(|j| lhs[r * lhs_rs + j] * rhs[c * rhs_rs + j])
                    .sum();
                assert_eq!(dst[r * n + c], expected, "({r}, {c})");
            }
        }
    }
}
