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

/// Defines `fn $name($args)`, which runs `$body` (an `#[inline(always)]` function of the same
/// arguments) compiled for AVX2+FMA when the CPU has them and for the baseline target
/// otherwise: the baseline x86-64 target has no SSE4.1, so without it every rounding is a libm
/// call. No floating-point contraction is enabled, so both builds give identical results.
macro_rules! dispatch_avx2 {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $body:path) => {
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if $crate::simd::avx2_fma() {
                    // SAFETY: the CPU supports the features the function is compiled for.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use dispatch_avx2;
