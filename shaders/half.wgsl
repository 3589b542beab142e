// The 16-bit floats (F16, BF16) on the GPU, packed two per u32 word: element 2k in the low 16 bits
// of word k, element 2k+1 in the high 16 bits (the little-endian bytes of the host's u16 array; an
// odd count leaves the high half of the last word unused). Every conversion is integer arithmetic
// on the bits, never a float operation (which may flush subnormals), and reproduces the `half`
// crate bit for bit: round to nearest even, subnormals, overflow to infinity, -0, and NaN with the
// quiet bit set and the top payload bits kept.
//
// Override constants name the element kinds: SRC is 0 = F32 (one word of f32 bits), 1 = F16 or
// 2 = BF16 (packed); DST is one of those or 3 = Bool (a u32 0/1, `widen` only). `info` is the
// source's strided layout (strided.wgsl); the output is dense.

override SRC: u32 = 0u;
override DST: u32 = 0u;

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<storage, read> info: array<u32>;

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

// The 16 bits of packed source element j.
fn half_at(j: u32) -> u32 {
    return (src[j >> 1u] >> ((j & 1u) * 16u)) & 0xFFFFu;
}

// Source element j as f32 bits.
fn load_f32(j: u32) -> u32 {
    if (SRC == 1u) {
        return f16_to_f32(half_at(j));
    }
    if (SRC == 2u) {
        return bf16_to_f32(half_at(j));
    }
    return src[j];
}

// Source element j as DST's 16 bits: the raw bits when the kinds match (a copy keeps every NaN
// payload), else through f32 (F16 <-> BF16 as the CPU does).
fn load_half(j: u32) -> u32 {
    if (SRC == DST) {
        return half_at(j);
    }
    let x = load_f32(j);
    if (DST == 1u) {
        return f32_to_f16(x);
    }
    return f32_to_bf16(x);
}

// One invocation per element: the source (packed 16-bit) as f32 bits, or as Bool (nonzero, NaN
// included, tested on the bits so subnormals count).
@compute @workgroup_size(256)
fn widen(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = linear_index(wid, nwg, lid);
    if (i >= info[0]) {
        return;
    }
    let j = offsets_of(i).x;
    if (DST == 3u) {
        dst[i] = select(0u, 1u, (half_at(j) & 0x7FFFu) != 0u);
    } else {
        dst[i] = load_f32(j);
    }
}

// One invocation per output word: source elements 2w and 2w+1 (f32 or 16-bit, any strides) packed
// as DST. The high half of the last word of an odd count is zero.
@compute @workgroup_size(256)
fn narrow(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let w = linear_index(wid, nwg, lid);
    let n = info[0];
    if (w >= n / 2u + (n & 1u)) {
        return;
    }
    let e = 2u * w;
    var word = load_half(offsets_of(e).x);
    if (e + 1u < n) {
        word = word | (load_half(offsets_of(e + 1u).x) << 16u);
    }
    dst[w] = word;
}
