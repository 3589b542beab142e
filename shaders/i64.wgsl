// 64-bit two's complement integers as vec2<u32> (x: low word, y: high word), the storage of I64
// tensors on the GPU (little-endian, so a host i64 slice uploads byte for byte). Arithmetic wraps as
// Rust's wrapping_* (and PyTorch's int64) do. Conversions to and from the float type T.

alias I64 = vec2<u32>;

fn i64_is_neg(a: I64) -> bool {
    return (a.y >> 31u) == 1u;
}

fn i64_add(a: I64, b: I64) -> I64 {
    let lo = a.x + b.x;
    return I64(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

fn i64_sub(a: I64, b: I64) -> I64 {
    return I64(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}

fn i64_neg(a: I64) -> I64 {
    return i64_sub(I64(0u, 0u), a);
}

// The full 64-bit product of two u32.
fn mul_wide(a: u32, b: u32) -> I64 {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    return I64((p00 & 0xffffu) | (mid << 16u), p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}

fn i64_mul(a: I64, b: I64) -> I64 {
    let p = mul_wide(a.x, b.x);
    return I64(p.x, p.y + a.x * b.y + a.y * b.x);
}

fn i64_lt(a: I64, b: I64) -> bool {
    if (a.y != b.y) {
        return bitcast<i32>(a.y) < bitcast<i32>(b.y);
    }
    return a.x < b.x;
}

fn i64_max(a: I64, b: I64) -> I64 {
    return select(a, b, i64_lt(a, b));
}

fn i64_min(a: I64, b: I64) -> I64 {
    return select(a, b, i64_lt(b, a));
}

fn i64_abs(a: I64) -> I64 {
    return select(a, i64_neg(a), i64_is_neg(a));
}

// a ** b with wrapping; a negative exponent gives 0, and only the low 32 bits of b count (as the
// CPU backend's `wrapping_pow(b as u32)`).
fn i64_pow(a: I64, b: I64) -> I64 {
    if (i64_is_neg(b)) {
        return I64(0u, 0u);
    }
    var e = b.x;
    var base = a;
    var r = I64(1u, 0u);
    loop {
        if (e == 0u) {
            break;
        }
        if ((e & 1u) == 1u) {
            r = i64_mul(r, base);
        }
        e = e >> 1u;
        if (e != 0u) {
            base = i64_mul(base, base);
        }
    }
    return r;
}

fn i64_to_t(a: I64) -> T {
    let m = i64_abs(a);
    let v = T(m.y) * 4294967296.0 + T(m.x);
    return select(v, -v, i64_is_neg(a));
}

// Truncation toward zero, as `x as i64` (out-of-range values saturate, NaN gives 0).
fn i64_from_t(x: T) -> I64 {
    if (!(x == x)) {
        return I64(0u, 0u);
    }
    let ax = min(trunc(abs(x)), 9223372036854775807.0);
    let hi = floor(ax / 4294967296.0);
    let lo = ax - hi * 4294967296.0;
    let r = I64(u32(lo), u32(hi));
    return select(r, i64_neg(r), x < 0.0);
}
