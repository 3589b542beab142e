//! The machine's f32 multiply-add ceiling: independent FMA chains held in registers on every core,
//! no memory traffic. `cpu-peak-fma` puts the matmul GFLOP/s in proportion (no GEMM can beat it).

use std::time::Instant;

/// GFLOP/s of `threads` threads each running 12 independent FMA chains, 16 lanes wide where the
/// CPU has AVX-512 (a CPU that splits 512-bit FMAs in two, as Zen 4, then measures the same as with
/// 8 lanes; one with full-width units measures twice that), 8 lanes wide with AVX2.
#[cfg(target_arch = "x86_64")]
pub fn peak_fma_gflops(threads: usize) -> Option<f64> {
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        return None;
    }
    let wide = is_x86_feature_detected!("avx512f");
    const ITERS: u64 = 20_000_000;
    let t = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                if wide {
                    // SAFETY: the CPU supports AVX-512F (checked above).
                    unsafe { fma_chains_512(ITERS) }
                } else {
                    // SAFETY: the CPU supports AVX2 and FMA (checked above).
                    unsafe { fma_chains(ITERS) }
                }
            })
        })
        .collect();
    let sum: f32 = handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum();
    std::hint::black_box(sum);
    let lanes = if wide { 16.0 } else { 8.0 };
    let flops = threads as f64 * ITERS as f64 * 12.0 * lanes * 2.0;
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fma_chains_512(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_set1_ps(0.0); 12];
    let a = _mm512_set1_ps(1.000_000_1);
    let b = _mm512_set1_ps(0.999_999_9);
    for _ in 0..iters {
        for r in acc.iter_mut() {
            *r = _mm512_fmadd_ps(*r, a, b);
        }
    }
    let s = acc.iter().fold(_mm512_setzero_ps(), |s, &r| _mm512_add_ps(s, r));
    _mm512_reduce_add_ps(s)
}

/// The CPU's model name (`/proc/cpuinfo`) and whether it has AVX-512, for the bench table.
pub fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let name = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| std::env::consts::ARCH.to_string(), |(_, v)| v.trim().to_string());
    #[cfg(target_arch = "x86_64")]
    let isa = if is_x86_feature_detected!("avx512f") {
        "AVX-512"
    } else if is_x86_feature_detected!("avx2") {
        "AVX2"
    } else {
        "SSE"
    };
    #[cfg(not(target_arch = "x86_64"))]
    let isa = "";
    format!("{name} ({isa}, {} threads)", rayon::current_num_threads())
}
