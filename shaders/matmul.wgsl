// Batched matrix product C[b] = A[b] @ B[b] (A: M x K, B: K x N, C: M x N dense). A and B are read
// through arbitrary element strides (batch, row, column), so transposed or broadcast operands need
// no copy. Two tilings, both 16 x 16 invocations staging slices of K in workgroup memory as vec4s:
// - `matmul`: a 64 x 64 tile of C, 4 x 4 outputs per invocation, K in slices of 16 (small and
//   mid-sized products, where many workgroups keep the device busy);
// - `matmul_big`: a 128 x 128 tile, 8 x 8 outputs per invocation, K in slices of 8 (twice the
//   arithmetic per workgroup-memory load, for large products).
// Accumulators are named vec4 registers, not arrays, so no driver has to promote a dynamically
// indexed array to registers. The next slice of A and B is loaded into registers while the current
// one is multiplied. Every global access checks its own bounds (out-of-range elements read as 0 and
// are not written), so the module is created without runtime bounds checks.
// Split K: with S > 1 splits, workgroup z = batch * S + s multiplies only K range
// [s * chunk, (s + 1) * chunk) and writes its partial product to C[batch * S + s] (the host sums
// the S partials); products with few output tiles but a long K (weight gradients) keep the
// device busy this way.
// Loads are coalesced for either operand layout: by default invocations next to each other read
// neighbouring k of A (row-major A) and neighbouring n of B (row-major B); A_M_MAJOR (A's stride
// along m is 1, a transposed A) makes them walk m instead, B_K_MAJOR (B's stride along k is 1, a
// transposed B such as a Linear weight) makes them walk k.
// BIAS (an epilogue: Linear, convolution): C[b][m][n] += bias[bias offset + m * bias row stride +
// n * bias col stride] (one of the strides 0: a bias per column, or per row), added where C is
// written (by split_sum when K is split); `bias` is bound to any buffer otherwise.
// Convolutions as implicit GEMMs (no column matrix in memory; wgpu/conv.rs):
// - A_K2: A's K index is two dims, k = hi * (info[17]) + lo, read at hi * info[18] + lo * (col
//   stride): the gradient dy [N, O, L] seen as [O, N * L] in place (weight gradient);
// - IM2COL = 1 (forward): B[batch][k][n] is tap k = (c, ki, kj) of output position n = (oy, ox) of
//   image-and-group `batch` of x (dense NCHW at b offset + batch * b batch stride), 0 in the
//   padding; A's batch is taken modulo info[19] (the group of `batch`, the weight of that group);
// - IM2COL = 2 (weight gradient): B[batch][k][n] is tap n of position k = (image, oy, ox) of group
//   `batch` (the columns transposed), and 1 in column n = taps (info[33]): that extra column of
//   dy @ cols^T is the bias gradient, the sum of dy over images and positions;
// - A_RELU / B_RELU: the operand is a pending relu gradient (wgpu/fusion.rs), read as its
//   gradient (bound as A or B) where relu's output (bound as `mask`, same indexing) is not <= 0,
//   so the relu backward needs no dispatch of its own;
// - SPLIT_COL: the final output's last column goes after all of C's other columns, so the weight
//   gradient [batch, M, N - 1] and the bias gradient [batch, M] come out dense, one buffer.
// info = [M, N, K, a offset, a batch stride, a row stride, a col stride,
//         b offset, b batch stride, b row stride, b col stride, S, chunk, batch,
//         bias offset, bias col stride, bias row stride,
//         (A_K2, IM2COL only) A's inner K length, A's outer K stride, A's batch modulus,
//         H, W, kh, kw, ow, L = oh * ow, stride h, stride w, padding h, padding w,
//         dilation h, dilation w, image stride C * H * W, taps C/G * kh * kw];
// grid = (ceil(N / tile), ceil(M / tile), batch * S).
// Storage is read and written through accessors the host puts before this file (wgpu/shaders.rs
// for F32/F64: `T` elements as they are; wgpu/matmul_half.rs for F16/BF16: 16-bit elements read
// into f32, the f32 sums rounded once when written): IN and OUT are the element types of the
// operands' and the output's arrays, get_a/get_b/get_bias/get_mask(i) read element i as T,
// put_c(i, v) writes element i, put_c2(i, x, y) elements i and i + 1, put_c4(i, v) i..i+3 (i even
// in these two where the output is packed 16-bit words, so each invocation writes whole words).

@group(0) @binding(0) var<storage, read> a: array<IN>;
@group(0) @binding(1) var<storage, read> b: array<IN>;
@group(0) @binding(2) var<storage, read_write> c: array<OUT>;
@group(0) @binding(3) var<storage, read> info: array<u32>;
@group(0) @binding(4) var<storage, read> bias: array<IN>;
@group(0) @binding(5) var<storage, read> mask: array<IN>;

override A_M_MAJOR: bool = false;
override B_K_MAJOR: bool = false;
override BIAS: bool = false;
override A_K2: bool = false;
override A_RELU: bool = false;
override B_RELU: bool = false;
override IM2COL: u32 = 0u;
override SPLIT_COL: bool = false;

// The bias of row r, column n (0 past the last column, or without BIAS).
fn bias_at(r: u32, n: u32) -> T {
    if (BIAS && n < info[1]) {
        return get_bias(info[14] + n * info[15] + r * info[16]);
    }
    return 0.0;
}

// A[batch][r][k], 0 outside the matrix (and for k >= k_end, the end of this split).
fn load_a(base: u32, r: u32, k: u32, k_end: u32) -> T {
    if (r < info[0] && k < k_end) {
        var i = base + r * info[5] + k * info[6];
        if (A_K2) {
            i = base + r * info[5] + (k / info[17]) * info[18] + (k % info[17]) * info[6];
        }
        if (A_RELU) {
            return select(get_a(i), 0.0, get_mask(i) <= 0.0);
        }
        return get_a(i);
    }
    return 0.0;
}

// Tap j = (c, ki, kj) of output position l = (oy, ox) of the image whose group's channels start
// at x[base]: x[c][oy * stride + ki * dilation - padding][..], 0 in the padding.
fn conv_x(base: u32, j: u32, l: u32) -> T {
    let kw = info[23];
    let khw = info[22] * kw;
    let c = j / khw;
    let t = j % khw;
    let ow = info[24];
    let y = i32((l / ow) * info[26] + (t / kw) * info[30]) - i32(info[28]);
    let x = i32((l % ow) * info[27] + (t % kw) * info[31]) - i32(info[29]);
    if (y >= 0 && u32(y) < info[20] && x >= 0 && u32(x) < info[21]) {
        return get_b(base + (c * info[20] + u32(y)) * info[21] + u32(x));
    }
    return 0.0;
}

// B[batch][k][n], 0 outside the matrix (and for k >= k_end).
fn load_b(base: u32, k: u32, n: u32, k_end: u32) -> T {
    if (k < k_end && n < info[1]) {
        if (IM2COL == 1u) {
            return conv_x(base, k, n);
        }
        if (IM2COL == 2u) {
            if (n >= info[33]) {
                return 1.0;
            }
            return conv_x(base + (k / info[25]) * info[32], n, k % info[25]);
        }
        let i = base + k * info[9] + n * info[10];
        if (B_RELU) {
            return select(get_b(i), 0.0, get_mask(i) <= 0.0);
        }
        return get_b(i);
    }
    return 0.0;
}

// Four rows r..r+3 of A at column k.
fn load_a4(base: u32, r: u32, k: u32, e: u32) -> vec4<T> {
    return vec4<T>(load_a(base, r, k, e), load_a(base, r + 1u, k, e), load_a(base, r + 2u, k, e), load_a(base, r + 3u, k, e));
}

// Four columns n..n+3 of B at row k.
fn load_b4(base: u32, k: u32, n: u32, e: u32) -> vec4<T> {
    return vec4<T>(load_b(base, k, n, e), load_b(base, k, n + 1u, e), load_b(base, k, n + 2u, e), load_b(base, k, n + 3u, e));
}

// The K range [k_begin, k_end) of workgroup z's split, and the A and B offsets of its batch.
struct Split {
    k_begin: u32,
    k_end: u32,
    a_base: u32,
    b_base: u32,
}

fn split_of(z: u32) -> Split {
    let splits = info[11];
    let chunk = info[12];
    let batch = z / splits;
    let k_begin = (z % splits) * chunk;
    let k_end = min(info[2], k_begin + chunk);
    var a_batch = batch;
    if (IM2COL == 1u) {
        a_batch = batch % info[19];
    }
    return Split(k_begin, k_end, info[3] + a_batch * info[4], info[7] + batch * info[8]);
}

// With SPLIT_COL: writes v as C[batch][r][n] (n < N), the last column after all the others.
fn put_split(batch: u32, r: u32, n: u32, v: T) {
    let m_size = info[0];
    let n1 = info[1] - 1u;
    if (n == n1) {
        put_c(info[13] * m_size * n1 + batch * m_size + r, v);
    } else {
        put_c((batch * m_size + r) * n1 + n, v);
    }
}

// Writes v to C[batch][r][n..n+4], skipping what lies outside.
fn store4(base: u32, r: u32, n: u32, acc: vec4<T>) {
    let m_size = info[0];
    let n_size = info[1];
    if (r >= m_size) {
        return;
    }
    if (SPLIT_COL) {
        let batch = base / (m_size * n_size);
        for (var i = 0u; i < 4u; i = i + 1u) {
            if (n + i < n_size) {
                put_split(batch, r, n + i, acc[i]);
            }
        }
        return;
    }
    var v = acc;
    if (BIAS) {
        v = v + vec4<T>(bias_at(r, n), bias_at(r, n + 1u), bias_at(r, n + 2u), bias_at(r, n + 3u));
    }
    let o = base + r * n_size;
    if (n + 3u < n_size) {
        put_c4(o + n, v);
        return;
    }
    // 1 to 3 columns left (with an even N and packed output: exactly 2, one whole word)
    if (n + 1u < n_size) {
        put_c2(o + n, v.x, v.y);
        if (n + 2u < n_size) {
            put_c(o + n + 2u, v.z);
        }
    } else if (n < n_size) {
        put_c(o + n, v.x);
    }
}

// ---- 64 x 64 tile, 4 x 4 per invocation ----

// [k][i]: the 64 rows of A (as 16 vec4s) and 64 columns of B at each of 16 k.
var<workgroup> sa: array<vec4<T>, 256>;
var<workgroup> sb: array<vec4<T>, 256>;

@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let sp = split_of(wid.z);
    let row0 = wid.y * 64u;
    let col0 = wid.x * 64u;
    // This invocation stages A rows row0 + am*4.. at k ak, and B columns col0 + bn*4.. at k bk.
    var ak = lid % 16u;
    var am = lid / 16u;
    if (A_M_MAJOR) {
        ak = lid / 16u;
        am = lid % 16u;
    }
    var bk = lid / 16u;
    var bn = lid % 16u;
    if (B_K_MAJOR) {
        bk = lid % 16u;
        bn = lid / 16u;
    }
    let tx = lid3.x;
    let ty = lid3.y;
    var c0 = vec4<T>(0.0);
    var c1 = vec4<T>(0.0);
    var c2 = vec4<T>(0.0);
    var c3 = vec4<T>(0.0);
    var ra = load_a4(sp.a_base, row0 + am * 4u, sp.k_begin + ak, sp.k_end);
    var rb = load_b4(sp.b_base, sp.k_begin + bk, col0 + bn * 4u, sp.k_end);
    for (var k0 = sp.k_begin; k0 < sp.k_end; k0 = k0 + 16u) {
        sa[ak * 16u + am] = ra;
        sb[bk * 16u + bn] = rb;
        workgroupBarrier();
        let k1 = k0 + 16u;
        if (k1 < sp.k_end) {
            ra = load_a4(sp.a_base, row0 + am * 4u, k1 + ak, sp.k_end);
            rb = load_b4(sp.b_base, k1 + bk, col0 + bn * 4u, sp.k_end);
        }
        for (var k = 0u; k < 16u; k = k + 1u) {
            let av = sa[k * 16u + ty];
            let bv = sb[k * 16u + tx];
            c0 = c0 + av.x * bv;
            c1 = c1 + av.y * bv;
            c2 = c2 + av.z * bv;
            c3 = c3 + av.w * bv;
        }
        workgroupBarrier();
    }
    let c_base = wid.z * info[0] * info[1];
    let r = row0 + ty * 4u;
    let n = col0 + tx * 4u;
    store4(c_base, r, n, c0);
    store4(c_base, r + 1u, n, c1);
    store4(c_base, r + 2u, n, c2);
    store4(c_base, r + 3u, n, c3);
}

// ---- 128 x 128 tile, 8 x 8 per invocation ----

// [k][i]: the 128 rows of A (as 32 vec4s) and 128 columns of B at each of 8 k.
var<workgroup> ga: array<vec4<T>, 256>;
var<workgroup> gb: array<vec4<T>, 256>;

@compute @workgroup_size(16, 16)
fn matmul_big(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let sp = split_of(wid.z);
    let row0 = wid.y * 128u;
    let col0 = wid.x * 128u;
    var ak = lid % 8u;
    var am = lid / 8u;
    if (A_M_MAJOR) {
        ak = lid / 32u;
        am = lid % 32u;
    }
    var bk = lid / 32u;
    var bn = lid % 32u;
    if (B_K_MAJOR) {
        bk = lid % 8u;
        bn = lid / 8u;
    }
    let tx = lid3.x;
    let ty = lid3.y;
    // Rows ty*4.. and 64 + ty*4.. (p = 0, 1), columns tx*4.. and 64 + tx*4.. (q = 0, 1): c<row><q>.
    var c00 = vec4<T>(0.0);
    var c01 = vec4<T>(0.0);
    var c10 = vec4<T>(0.0);
    var c11 = vec4<T>(0.0);
    var c20 = vec4<T>(0.0);
    var c21 = vec4<T>(0.0);
    var c30 = vec4<T>(0.0);
    var c31 = vec4<T>(0.0);
    var c40 = vec4<T>(0.0);
    var c41 = vec4<T>(0.0);
    var c50 = vec4<T>(0.0);
    var c51 = vec4<T>(0.0);
    var c60 = vec4<T>(0.0);
    var c61 = vec4<T>(0.0);
    var c70 = vec4<T>(0.0);
    var c71 = vec4<T>(0.0);
    var ra = load_a4(sp.a_base, row0 + am * 4u, sp.k_begin + ak, sp.k_end);
    var rb = load_b4(sp.b_base, sp.k_begin + bk, col0 + bn * 4u, sp.k_end);
    for (var k0 = sp.k_begin; k0 < sp.k_end; k0 = k0 + 8u) {
        ga[ak * 32u + am] = ra;
        gb[bk * 32u + bn] = rb;
        workgroupBarrier();
        let k1 = k0 + 8u;
        if (k1 < sp.k_end) {
            ra = load_a4(sp.a_base, row0 + am * 4u, k1 + ak, sp.k_end);
            rb = load_b4(sp.b_base, k1 + bk, col0 + bn * 4u, sp.k_end);
        }
        for (var k = 0u; k < 8u; k = k + 1u) {
            let a0 = ga[k * 32u + ty];
            let a1 = ga[k * 32u + 16u + ty];
            let b0 = gb[k * 32u + tx];
            let b1 = gb[k * 32u + 16u + tx];
            c00 = c00 + a0.x * b0;
            c01 = c01 + a0.x * b1;
            c10 = c10 + a0.y * b0;
            c11 = c11 + a0.y * b1;
            c20 = c20 + a0.z * b0;
            c21 = c21 + a0.z * b1;
            c30 = c30 + a0.w * b0;
            c31 = c31 + a0.w * b1;
            c40 = c40 + a1.x * b0;
            c41 = c41 + a1.x * b1;
            c50 = c50 + a1.y * b0;
            c51 = c51 + a1.y * b1;
            c60 = c60 + a1.z * b0;
            c61 = c61 + a1.z * b1;
            c70 = c70 + a1.w * b0;
            c71 = c71 + a1.w * b1;
        }
        workgroupBarrier();
    }
    let c_base = wid.z * info[0] * info[1];
    let r = row0 + ty * 4u;
    let r2 = r + 64u;
    let n = col0 + tx * 4u;
    let n2 = n + 64u;
    store4(c_base, r, n, c00);
    store4(c_base, r, n2, c01);
    store4(c_base, r + 1u, n, c10);
    store4(c_base, r + 1u, n2, c11);
    store4(c_base, r + 2u, n, c20);
    store4(c_base, r + 2u, n2, c21);
    store4(c_base, r + 3u, n, c30);
    store4(c_base, r + 3u, n2, c31);
    store4(c_base, r2, n, c40);
    store4(c_base, r2, n2, c41);
    store4(c_base, r2 + 1u, n, c50);
    store4(c_base, r2 + 1u, n2, c51);
    store4(c_base, r2 + 2u, n, c60);
    store4(c_base, r2 + 2u, n2, c61);
    store4(c_base, r2 + 3u, n, c70);
    store4(c_base, r2 + 3u, n2, c71);
}

// ---- the sum of split-K partials ----

// c[batch][e] = sum over s of a[batch * S + s][e], for the bsz * M * N outputs (one per invocation;
// consecutive invocations read consecutive partials). Bound as (a = b = partials, c = output).
@compute @workgroup_size(256)
fn split_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    let mn = info[0] * info[1];
    let splits = info[11];
    let total = info[13] * mn;
    if (i >= total) {
        return;
    }
    let batch = i / mn;
    let e = i % mn;
    var acc: T = 0.0;
    for (var s = 0u; s < splits; s = s + 1u) {
        acc = acc + get_a((batch * splits + s) * mn + e);
    }
    if (SPLIT_COL) {
        put_split(batch, e / info[1], e % info[1], acc);
        return;
    }
    put_c(i, acc + bias_at(e / info[1], e % info[1]));
}
