//! The machine's f32 multiply-add ceiling: independent FMA chains held in registers on every core,
//! no memory traffic. `cpu-peak-fma` puts the matmul GFLOP/s in proportion (no GEMM can beat it).

use std::time::Instant;

/// GFLOP/s of `threads` threads each running 12 independent 8-lane FMA chains.
#[cfg(target_arch = "x86_64")]
pub fn peak_fma_gflops(threads: usize) -> Option<f64> {
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        return None;
    }
    const ITERS: u64 = 20_000_000;
    let t = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(|| {
                // SAFETY: the CPU supports AVX2 and FMA (checked above).
                unsafe { fma_chains(ITERS) }
            })
        })
        .collect();
    let sum: f32 = handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum();
    std::hint::black_box(sum);
    let flops = threads as f64 * ITERS as f64 * 12.0 * 8.0 * 2.0;
    Some(flops / t.elapsed().as_secs_f64() / 1e9)
}

/// Not measured on other architectures.
#[cfg(not(target_arch = "x86_64"))]
pub fn peak_fma_gflops(_threads: usize) -> Option<f64> {
    None
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_chains(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_set1_ps(0.0); 12];
    let a = _mm256_set1_ps(1.000_000_1);
    let b = _mm256_set1_ps(0.999_999_9);
    for _ in 0..iters {
        for r in acc.iter_mut() {
            *r = _mm256_fmadd_ps(*r, a, b);
        }
    }
    let mut out = [0f32; 8];
    let s = acc.iter().fold(_mm256_setzero_ps(), |s, &r| _mm256_add_ps(s, r));
    // SAFETY: `out` holds 8 f32, the width of one 256-bit store.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
    out.iter().sum()
}
