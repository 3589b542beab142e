// Indexing with I64 index tensors (ops/index.rs): index_select (and embedding), gather, and the
// accumulating scatter_add (and index_add, embedding_backward) with atomics.
//
// Bounds: an index outside 0..n (negative ones included: their high word is nonzero) is never used
// to address memory. The kernel records the smallest such position (row-major over the index's
// shape) with atomicMin in `bad` (initialised to 0xffffffff by the host), which the host reads back
// to return Error::IndexOutOfRange with the CPU's message; the output element is left at 0 or
// unchanged.
//
// Values of gathers are raw storage words (w1: F32 and Bool, w2: F64 and I64), so gathers need no
// f64 support. scatter_add accumulates F32 with a compare-exchange loop on the value's bits (exact
// under any number of collisions, in an unspecified order) and I64 as two 32-bit atomicAdds with
// the low word's carry propagated to the high word (exact, wrapping).

@group(0) @binding(0) var<storage, read> src1: array<u32>;
@group(0) @binding(0) var<storage, read> src2: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read> idx: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> out1: array<u32>;
@group(0) @binding(2) var<storage, read_write> out2: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> outa: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read> info: array<u32>;
@group(0) @binding(4) var<storage, read_write> bad: atomic<u32>;

// The index at storage position `at`, or 0xffffffff when it is outside 0..n (then recording the
// row-major position `p`).
fn checked(at: u32, n: u32, p: u32) -> u32 {
    let v = idx[at];
    if (v.y != 0u || v.x >= n) {
        atomicMin(&bad, p);
        return 0xffffffffu;
    }
    return v.x;
}

// index_select: out [outer, k, inner] from a dense src [outer, n, inner] and a 1-d index of k.
// info = [total, k, n, inner, offset of src, offset of idx, stride of idx].
fn select_source(e: u32) -> u32 {
    let inner = info[3];
    let k = info[1];
    let j = (e / inner) % k;
    let o = e / (inner * k);
    let r = checked(info[5] + j * info[6], info[2], j);
    if (r == 0xffffffffu) {
        return r;
    }
    return info[4] + (o * info[2] + r) * inner + e % inner;
}

@compute @workgroup_size(256)
fn index_select_w1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let e = linear_index(wid, nwg, lid);
    if (e >= info[0]) {
        return;
    }
    let s = select_source(e);
    out1[e] = select(src1[s], 0u, s == 0xffffffffu);
}

@compute @workgroup_size(256)
fn index_select_w2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let e = linear_index(wid, nwg, lid);
    if (e >= info[0]) {
        return;
    }
    let s = select_source(e);
    out2[e] = select(src2[s], vec2<u32>(0u, 0u), s == 0xffffffffu);
}

// gather / scatter_add: one invocation per index element p (row-major over the index's shape).
// info = [total, rank, dim, n, offset a, offset idx, offset b, shape (rank), strides of a, of
// idx, of b (rank each)]. Returns the offsets of p in a, idx and b (all dims) and p's coordinate
// along dim.
fn decode(p: u32) -> vec4<u32> {
    let rank = info[1];
    var off = vec4<u32>(info[4], info[5], info[6], 0u);
    var rem = p;
    var d = rank;
    loop {
        if (d == 0u) {
            break;
        }
        d = d - 1u;
        let size = info[7u + d];
        let c = rem % size;
        rem = rem / size;
        off = off + c * vec4<u32>(info[7u + rank + d], info[7u + 2u * rank + d], info[7u + 3u * rank + d], 0u);
        if (d == info[2]) {
            off.w = c;
        }
    }
    return off;
}

// gather: a is src (strided), b the dense output; src's coordinate along dim is the index.
fn gather_source(p: u32) -> u32 {
    let o = decode(p);
    let r = checked(o.y, info[3], p);
    if (r == 0xffffffffu) {
        return r;
    }
    let st = info[7u + info[1] + info[2]];
    return o.x - o.w * st + r * st;
}

@compute @workgroup_size(256)
fn gather_w1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let p = linear_index(wid, nwg, lid);
    if (p >= info[0]) {
        return;
    }
    let s = gather_source(p);
    out1[p] = select(src1[s], 0u, s == 0xffffffffu);
}

@compute @workgroup_size(256)
fn gather_w2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let p = linear_index(wid, nwg, lid);
    if (p >= info[0]) {
        return;
    }
    let s = gather_source(p);
    out2[p] = select(src2[s], vec2<u32>(0u, 0u), s == 0xffffffffu);
}

// scatter_add: a is the source (strided), b the dense output; the output's coordinate along dim
// is the index. Returns (source offset, output element) or 0xffffffff for a bad index.
fn scatter_target(p: u32) -> vec2<u32> {
    let o = decode(p);
    let r = checked(o.y, info[3], p);
    if (r == 0xffffffffu) {
        return vec2<u32>(0u, r);
    }
    let st = info[7u + 3u * info[1] + info[2]];
    return vec2<u32>(o.x, o.z - o.w * st + r * st);
}

@compute @workgroup_size(256)
fn scatter_add_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let p = linear_index(wid, nwg, lid);
    if (p >= info[0]) {
        return;
    }
    let t = scatter_target(p);
    if (t.y == 0xffffffffu) {
        return;
    }
    let v = bitcast<f32>(src1[t.x]);
    var old = atomicLoad(&outa[t.y]);
    loop {
        let r = atomicCompareExchangeWeak(&outa[t.y], old, bitcast<u32>(bitcast<f32>(old) + v));
        if (r.exchanged) {
            break;
        }
        old = r.old_value;
    }
}

@compute @workgroup_size(256)
fn scatter_add_i64(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let p = linear_index(wid, nwg, lid);
    if (p >= info[0]) {
        return;
    }
    let t = scatter_target(p);
    if (t.y == 0xffffffffu) {
        return;
    }
    let v = src2[t.x];
    let lo = atomicAdd(&outa[2u * t.y], v.x);
    let carry = select(0u, 1u, lo + v.x < lo);
    atomicAdd(&outa[2u * t.y + 1u], v.y + carry);
}
