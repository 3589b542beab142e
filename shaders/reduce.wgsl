// Row reductions in chunks: rows of length C are cut into `cpr` chunks of at most CH elements, and
// workgroup w (of R * cpr, split over x and y of the grid) reduces chunk w % cpr of row w / cpr into
// y[w]. One workgroup has 256 invocations: each folds a strided part of its chunk, then a tree over
// workgroup memory combines the 256 partials. No subgroup operations, so it is correct for any
// subgroup size. The host repeats passes (C <- cpr) until every row is one value; short chunks keep
// f32 sums accurate (each invocation adds at most CH / 256 elements before the tree).
// Devices with subgroups run reduce_subgroup.wgsl's entry points instead for sum, max and min.
// info = [workgroups G, chunk CH, row length C, chunks per row cpr, offset of x,
//         row stride, inner length, outer stride, inner stride] (the last four read with STRIDED).
// STRIDED (override; the first pass of a reduction over dims of a strided view): element j of row r
// is x[offset + r * row stride + (j / inner length) * outer stride + (j % inner length) * inner
// stride], so a column sum or a conv bias gradient reads its input in place (no copy first).
// OP (override): RED_SUM, RED_MAX, RED_MIN or RED_PROD, constants written before this file from the
// table `ReduceKind::KERNELS` (op_desc.rs); max and min propagate NaN; I64 sums and products wrap
// (exact in any order).

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read_write> y: array<T>;
@group(0) @binding(2) var<storage, read> info: array<u32>;

@group(0) @binding(0) var<storage, read> xi: array<I64>;
@group(0) @binding(1) var<storage, read_write> yi: array<I64>;

override OP: u32 = 0u;
override STRIDED: bool = false;

// Where element i (row-major over rows of length C) of the reduced input lies.
fn src_index(i: u32) -> u32 {
    if (!STRIDED) {
        return info[4] + i;
    }
    let j = i % info[2];
    return info[4] + (i / info[2]) * info[5] + (j / info[6]) * info[7] + (j % info[6]) * info[8];
}

const RWG: u32 = 256u;

var<workgroup> acc: array<T, 256>;
var<workgroup> acci: array<I64, 256>;

fn identity_float() -> T {
    if (OP == RED_MAX) {
        return -t_inf();
    }
    if (OP == RED_MIN) {
        return t_inf();
    }
    if (OP == RED_PROD) {
        return 1.0;
    }
    return 0.0;
}

fn combine_float(a: T, b: T) -> T {
    if (OP == RED_MAX || OP == RED_MIN) {
        if (is_nan(a) || is_nan(b)) {
            return select(b, a, is_nan(a));
        }
        if (OP == RED_MAX) {
            return select(a, b, b > a);
        }
        return select(a, b, b < a);
    }
    if (OP == RED_PROD) {
        return a * b;
    }
    return a + b;
}

fn identity_i64() -> I64 {
    if (OP == RED_MAX) {
        return I64(0u, 0x80000000u);
    }
    if (OP == RED_MIN) {
        return I64(0xffffffffu, 0x7fffffffu);
    }
    if (OP == RED_PROD) {
        return I64(1u, 0u);
    }
    return I64(0u, 0u);
}

fn combine_i64(a: I64, b: I64) -> I64 {
    if (OP == RED_MAX) {
        return i64_max(a, b);
    }
    if (OP == RED_MIN) {
        return i64_min(a, b);
    }
    if (OP == RED_PROD) {
        return i64_mul(a, b);
    }
    return i64_add(a, b);
}

@compute @workgroup_size(256)
fn reduce_float(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let w = wid.y * nwg.x + wid.x;
    let cpr = info[3];
    let row_start = (w / cpr) * info[2];
    let start = row_start + (w % cpr) * info[1];
    let end = min(start + info[1], row_start + info[2]);
    var a = identity_float();
    if (w < info[0]) {
        for (var i = start + lid; i < end; i = i + RWG) {
            a = combine_float(a, x[src_index(i)]);
        }
    }
    acc[lid] = a;
    workgroupBarrier();
    for (var s = RWG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            acc[lid] = combine_float(acc[lid], acc[lid + s]);
        }
        workgroupBarrier();
    }
    if (lid == 0u && w < info[0]) {
        y[w] = acc[0];
    }
}

@compute @workgroup_size(256)
fn reduce_i64(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let w = wid.y * nwg.x + wid.x;
    let cpr = info[3];
    let row_start = (w / cpr) * info[2];
    let start = row_start + (w % cpr) * info[1];
    let end = min(start + info[1], row_start + info[2]);
    var a = identity_i64();
    if (w < info[0]) {
        for (var i = start + lid; i < end; i = i + RWG) {
            a = combine_i64(a, xi[src_index(i)]);
        }
    }
    acci[lid] = a;
    workgroupBarrier();
    for (var s = RWG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            acci[lid] = combine_i64(acci[lid], acci[lid + s]);
        }
        workgroupBarrier();
    }
    if (lid == 0u && w < info[0]) {
        yi[w] = acci[0];
    }
}
