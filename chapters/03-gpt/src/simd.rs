//! Vector arithmetic for the fused kernels: `exp` on eight lanes at once, and a way to run
//! a kernel compiled for the CPU's wider vector instructions.
//!
//! Rust compiles for the oldest x86-64 by default (SSE2: 4 lanes of f32, no fused
//! multiply-add). [`simd_kernel!`] compiles a kernel twice — as written, and inside a
//! function built for AVX2 and FMA (8 lanes, `a·b + c` in one instruction) — and picks
//! the second at run time when the CPU has them, so the same binary still runs anywhere.
//! The loops of the kernels are written over fixed groups of [`LANES`] values, which the
//! compiler turns into vector instructions without reordering any sum (f32 addition is
//! not associative, so it never reorders a plain `iter().sum()` on its own). Everything
//! a kernel calls from here is `#[inline(always)]`, so it is compiled for AVX2 too.

/// Lanes of one AVX2 register of f32.
pub const LANES: usize = 8;

/// Whether the CPU has AVX2 and FMA (detected once, then cached by the standard library).
#[inline(always)]
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A function compiled twice, for the baseline CPU and for AVX2 + FMA, choosing at run
/// time. Write it as an ordinary `fn` inside the macro.
#[macro_export]
macro_rules! simd_kernel {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if $crate::simd::has_avx2() {
                    // SAFETY: the CPU has the features `avx2` was compiled for.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

// ANCHOR: exp
/// `eˣ` to about 2 ulp (Cephes' `expf`), written without branches so that a loop over a
/// slice becomes vector instructions: write `x = n ln 2 + r` with n an integer and
/// |r| ≤ ½ ln 2, so `eˣ = 2ⁿ · eʳ`; `eʳ` is a degree-6 polynomial, and 2ⁿ is built
/// directly in the float's exponent bits. Below −87.3 the result is 0 (so e^−∞ = 0); above
/// 88.3 it is e^88.3 (2ⁿ must stay below 2¹²⁸, which is already infinite).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4; // ln 2 split in two, so n·LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2²³: adding it rounds to an integer
    let underflow = x < -87.3;
    let x = if x < -87.3 {
        -87.3
    } else if x > 88.3 {
        88.3
    } else {
        x
    };
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // SAFETY: n is an integer in [−126, 127], which an i32 holds.
    let n = unsafe { n.to_int_unchecked::<i32>() };
    let two_n = f32::from_bits(((n + 127) << 23) as u32);
    if underflow { 0.0 } else { e * two_n }
}
// ANCHOR_END: exp

/// `xᵢ ← e^(xᵢ − shift)` in place; returns `Σ e^(xᵢ − shift)`, summed in a fixed order.
#[inline(always)]
pub fn exp_shifted_sum(x: &mut [f32], shift: f32) -> f32 {
    for v in x.iter_mut() {
        *v = exp(*v - shift);
    }
    sum(x)
}

/// `Σ xᵢ` in eight running sums (so it vectorises), added in a fixed order.
#[inline(always)]
pub fn sum(x: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// `Σ aᵢ bᵢ` in eight running sums (so it vectorises), added in a fixed order.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// `y ← y + a·x`.
#[inline(always)]
pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    debug_assert_eq!(x.len(), y.len());
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// The maximum of `x` (−∞ for an empty slice).
#[inline(always)]
pub fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    rest.iter().fold(
        acc.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        |m, &v| m.max(v),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_to_a_few_ulp() {
        let mut worst = 0f32;
        for k in -8700..=8830 {
            let x = k as f32 / 100.0;
            let (want, got) = (x.exp(), exp(x));
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 3e-7, "largest relative error {worst}");
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-200.0), 0.0);
        assert!(exp(100.0).is_finite());
    }

    #[test]
    fn reductions_agree_with_plain_loops() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-5);
        assert_eq!(max(&a), a.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        let mut e = a.clone();
        let total = exp_shifted_sum(&mut e, 1.0);
        let want: f32 = a.iter().map(|v| (v - 1.0).exp()).sum();
        assert!((total - want).abs() < 1e-5 * want);
        assert!(
            e.iter()
                .zip(&a)
                .all(|(e, a)| (e - (a - 1.0).exp()).abs() < 1e-6)
        );
    }
}
