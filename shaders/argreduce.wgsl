// max / min along one dim with the index of the winner (ops/extrema.rs: argmax, argmin,
// max_dim_with_indices, ...), one workgroup per row: a dense input seen as [outer, n, inner] has
// outer * inner rows of n elements, `inner` apart (a flat argmax over all elements is one row).
// As the CPU: ties go to the first occurrence, and a NaN wins over everything (the first NaN).
// Each invocation scans a strided part of the row, then a tree over workgroup memory combines the
// (value, index) pairs; the index decides ties, so the result is the sequential scan's.
// info = [rows, n, inner, offset of x]. MAX (override): 1 max, 0 min.

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read_write> vals: array<T>;
@group(0) @binding(2) var<storage, read_write> idxs: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> info: array<u32>;

@group(0) @binding(0) var<storage, read> xi: array<I64>;
@group(0) @binding(1) var<storage, read_write> valsi: array<I64>;

override MAX: u32 = 1u;

const AWG: u32 = 256u;
const NONE: u32 = 0xffffffffu;

var<workgroup> wv: array<T, 256>;
var<workgroup> wvi: array<I64, 256>;
var<workgroup> wi: array<u32, 256>;

// True when (v, i) beats the current (cv, ci) (ci may be NONE).
fn better_float(v: T, i: u32, cv: T, ci: u32) -> bool {
    if (ci == NONE) {
        return true;
    }
    let vn = is_nan(v);
    let cn = is_nan(cv);
    if (vn || cn) {
        return vn && (!cn || i < ci);
    }
    if (v == cv) {
        return i < ci;
    }
    return select((v < cv), (v > cv), MAX == 1u);
}

fn better_i64(v: I64, i: u32, cv: I64, ci: u32) -> bool {
    if (ci == NONE) {
        return true;
    }
    if (all(v == cv)) {
        return i < ci;
    }
    return select(i64_lt(v, cv), i64_lt(cv, v), MAX == 1u);
}

fn row_base(r: u32, n: u32) -> u32 {
    let inner = info[2];
    return info[3] + (r / inner) * n * inner + r % inner;
}

@compute @workgroup_size(256)
fn argreduce_float(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let r = wid.y * nwg.x + wid.x;
    let valid = r < info[0];
    let n = select(0u, info[1], valid);
    let base = row_base(r, n);
    var bv = T(0);
    var bi = NONE;
    for (var j = lid; j < n; j = j + AWG) {
        let v = x[base + j * info[2]];
        if (better_float(v, j, bv, bi)) {
            bv = v;
            bi = j;
        }
    }
    wv[lid] = bv;
    wi[lid] = bi;
    workgroupBarrier();
    for (var s = AWG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s && wi[lid + s] != NONE && better_float(wv[lid + s], wi[lid + s], wv[lid], wi[lid])) {
            wv[lid] = wv[lid + s];
            wi[lid] = wi[lid + s];
        }
        workgroupBarrier();
    }
    if (lid == 0u && valid) {
        vals[r] = wv[0];
        idxs[r] = vec2<u32>(wi[0], 0u);
    }
}

@compute @workgroup_size(256)
fn argreduce_i64(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let r = wid.y * nwg.x + wid.x;
    let valid = r < info[0];
    let n = select(0u, info[1], valid);
    let base = row_base(r, n);
    var bv = I64(0u, 0u);
    var bi = NONE;
    for (var j = lid; j < n; j = j + AWG) {
        let v = xi[base + j * info[2]];
        if (better_i64(v, j, bv, bi)) {
            bv = v;
            bi = j;
        }
    }
    wvi[lid] = bv;
    wi[lid] = bi;
    workgroupBarrier();
    for (var s = AWG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s && wi[lid + s] != NONE && better_i64(wvi[lid + s], wi[lid + s], wvi[lid], wi[lid])) {
            wvi[lid] = wvi[lid + s];
            wi[lid] = wi[lid + s];
        }
        workgroupBarrier();
    }
    if (lid == 0u && valid) {
        valsi[r] = wvi[0];
        idxs[r] = vec2<u32>(wi[0], 0u);
    }
}
