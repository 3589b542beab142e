// Bit-exact conversions between f32 and the 16-bit floats, on the bits (u32 in, u32 out): integer
// arithmetic only, never a float operation (which may flush subnormals), reproducing the `half`
// crate: round to nearest even, subnormals, overflow to infinity, -0, NaN quieted with its top
// payload bits kept. Used by half.wgsl (conversions) and the 16-bit matmul (its operands and its
// rounded output).

// f32 bits -> f16 bits, as `half::f16::from_f32`.
fn f32_to_f16(x: u32) -> u32 {
    let sign = (x >> 16u) & 0x8000u;
    let e = (x >> 23u) & 0xFFu;
    let man = x & 0x7FFFFFu;
    if (e == 0xFFu) {
        // infinity, or NaN: quiet bit set, top mantissa bits kept
        return sign | 0x7C00u | select(0u, 0x200u, man != 0u) | (man >> 13u);
    }
    let he = i32(e) - 112; // the f16 biased exponent
    if (he >= 31) {
        return sign | 0x7C00u;
    }
    if (he <= 0) {
        if (he < -10) {
            return sign; // below half the smallest subnormal (f32 subnormals included): signed zero
        }
        // a subnormal: the hidden bit shifted in, rounded to nearest even on the dropped bits
        let m = man | 0x800000u;
        let s = u32(14 - he); // 14 ..= 24
        let rb = 1u << (s - 1u);
        var hm = m >> s;
        if ((m & rb) != 0u && (m & (3u * rb - 1u)) != 0u) {
            hm = hm + 1u;
        }
        return sign | hm;
    }
    // a carry out of the mantissa moves to the next exponent (up to infinity), as it should
    let base = sign | (u32(he) << 10u) | (man >> 13u);
    if ((man & 0x1000u) != 0u && (man & 0x2FFFu) != 0u) {
        return base + 1u;
    }
    return base;
}

// f16 bits -> f32 bits, as `half::f16::to_f32` (exact; subnormals normalised).
fn f16_to_f32(h: u32) -> u32 {
    let sign = (h & 0x8000u) << 16u;
    let e = h & 0x7C00u;
    let man = h & 0x3FFu;
    if ((h & 0x7FFFu) == 0u) {
        return sign;
    }
    if (e == 0x7C00u) {
        if (man == 0u) {
            return sign | 0x7F800000u;
        }
        return sign | 0x7FC00000u | (man << 13u);
    }
    if (e == 0u) {
        // normalise: `adj` more leading zeros than a mantissa with its top bit set (0x200)
        let adj = countLeadingZeros(man) - 22u;
        return sign | ((112u - adj) << 23u) | ((man << (14u + adj)) & 0x7FFFFFu);
    }
    return sign | (((e >> 10u) + 112u) << 23u) | (man << 13u);
}

// f32 bits -> bf16 bits, as `half::bf16::from_f32`.
fn f32_to_bf16(x: u32) -> u32 {
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) {
        return (x >> 16u) | 0x40u;
    }
    let r = x >> 16u;
    if ((x & 0x8000u) != 0u && (x & 0x17FFFu) != 0u) {
        return r + 1u;
    }
    return r;
}

// bf16 bits -> f32 bits, as `half::bf16::to_f32` (NaN quieted).
fn bf16_to_f32(h: u32) -> u32 {
    if ((h & 0x7FFFu) > 0x7F80u) {
        return (h | 0x40u) << 16u;
    }
    return h << 16u;
}
