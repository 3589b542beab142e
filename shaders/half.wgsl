// The 16-bit floats (F16, BF16) on the GPU, packed two per u32 word: element 2k in the low 16 bits
// of word k, element 2k+1 in the high 16 bits (the little-endian bytes of the host's u16 array; an
// odd count leaves the high half of the last word unused). Every conversion is integer arithmetic
// on the bits, never a float operation (which may flush subnormals), and reproduces the `half`
// crate bit for bit: round to nearest even, subnormals, overflow to infinity, -0, and NaN with the
// quiet bit set and the top payload bits kept.
//
// Override constants name the element kinds: SRC is 0 = F32 (one word of f32 bits), 1 = F16 or
// 2 = BF16 (packed); DST is one of those or 3 = Bool (a u32 0/1, `widen` only). `info` is the
// source's strided layout (strided.wgsl); the output is dense. The bit conversions are those of
// half_bits.wgsl.

override SRC: u32 = 0u;
override DST: u32 = 0u;

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<storage, read> info: array<u32>;

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
