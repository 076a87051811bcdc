//! Runtime CPU feature detection for the hot loops that are compiled twice (a baseline
//! x86-64 build and an AVX2+FMA build) and chosen when called.

/// Whether this CPU runs the AVX2+FMA builds. The standard library caches the answer.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline]
pub(crate) fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
