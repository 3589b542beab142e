// Random tensors generated on the device: Philox4x32-10 (Salmon et al., "Parallel random numbers:
// as easy as 1, 2, 3", SC'11), a counter-based generator: element i's bits are
// philox(counter = (i, 0, 0, 0), key), so every invocation works alone and the result depends only
// on the key (drawn by the host from the seeded generator) and the element's index.
// info = [n, key low, key high]. Entry points: `uniform` ([0, 1)) and `normal` (Box-Muller).

@group(0) @binding(0) var<storage, read_write> y: array<T>;
@group(0) @binding(1) var<storage, read> info: array<u32>;

// The high and low 32 bits of the 64-bit product a * b (WGSL has no 64-bit integers).
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let al = a & 0xffffu;
    let ah = a >> 16u;
    let bl = b & 0xffffu;
    let bh = b >> 16u;
    let ll = al * bl;
    let lh = al * bh;
    let hl = ah * bl;
    let hh = ah * bh;
    let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var r = 0; r < 10; r = r + 1) {
        let p0 = mulhilo(0xD2511F53u, c.x);
        let p1 = mulhilo(0xCD9E8D57u, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
        k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}

fn bits_of(i: u32) -> vec4<u32> {
    return philox(vec4<u32>(i, 0u, 0u, 0u), vec2<u32>(info[1], info[2]));
}

// Uniform in [0, 1) from two words: 24 random bits for f32, 53 for f64.
fn unit(hi: u32, lo: u32) -> T {
    // True exactly when T is f32 (2^24 + 1 rounds back to 2^24), so one source serves both widths.
    if (T(16777216.0) + T(1.0) == T(16777216.0)) {
        return T(hi >> 8u) * T(5.9604644775390625e-8);
    }
    return (T(hi >> 11u) * T(4294967296.0) + T(lo)) * T(1.1102230246251565e-16);
}

@compute @workgroup_size(256)
fn uniform(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (i >= info[0]) {
        return;
    }
    let b = bits_of(i);
    y[i] = unit(b.x, b.y);
}

@compute @workgroup_size(256)
fn normal(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (i >= info[0]) {
        return;
    }
    let b = bits_of(i);
    let u1 = 1.0 - unit(b.x, b.y); // (0, 1]: the log is finite
    let u2 = unit(b.z, b.w);
    y[i] = m_sqrt(-2.0 * m_log(u1)) * m_cos(6.283185307179586 * u2);
}
