// Comparisons and selection (ops/compare.rs): Bool results (one u32, 0 or 1) of two operands read
// through their broadcast strides (strided.wgsl), and `where` over three operands.
// OP (override): a comparison's row of the op table in op_desc.rs (eq, ne, lt, le, gt, ge), then TEST_AND,
// TEST_OR, TEST_ISNAN (of a), TEST_ISFINITE (of a), numbered after the table (generated constants).
// Comparisons with NaN are false (ne: true), as IEEE and the CPU backend; I64 compares as signed
// 64-bit integers, Bool as 0 < 1.

@group(0) @binding(0) var<storage, read> a: array<T>;
@group(0) @binding(1) var<storage, read> b: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<storage, read> info: array<u32>;

@group(0) @binding(0) var<storage, read> ai: array<I64>;
@group(0) @binding(1) var<storage, read> bi: array<I64>;

@group(0) @binding(0) var<storage, read> au: array<u32>;
@group(0) @binding(1) var<storage, read> bu: array<u32>;

override OP: u32 = 0u;

// `from_order(o)` (the comparison OP of an ordering o: -1, 0 or 1 for lt, eq, gt) and `nan_result()`
// (the comparison OP's result when an operand is NaN) are generated from the op table in
// `op_desc.rs` (`cmp_ops!`), as are the numbers TEST_AND, TEST_OR, TEST_ISNAN, TEST_ISFINITE of the
// other tests (`wgpu/shaders.rs::compare`), so the kernel's numbers are the enum's by construction.

fn cmp_float(x: T, y: T) -> bool {
    if (OP == TEST_ISNAN) {
        return is_nan(x);
    }
    if (OP == TEST_ISFINITE) {
        return abs(x) < t_inf();
    }
    if (is_nan(x) || is_nan(y)) {
        return nan_result();
    }
    return from_order(select(select(0, 1, x > y), -1, x < y));
}

fn cmp_u32(x: u32, y: u32) -> bool {
    if (OP == TEST_AND) {
        return x != 0u && y != 0u;
    }
    if (OP == TEST_OR) {
        return x != 0u || y != 0u;
    }
    return from_order(select(select(0, 1, x > y), -1, x < y));
}

@compute @workgroup_size(256)
fn compare_float(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let i = linear_index(wid, nwg, lid);
    if (i >= info[0]) {
        return;
    }
    let o = offsets_of(i);
    out[i] = select(0u, 1u, cmp_float(a[o.x], b[o.y]));
}

@compute @workgroup_size(256)
fn compare_i64(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = linear_index(wid, nwg, lid);
    if (i >= info[0]) {
        return;
    }
    let o = offsets_of(i);
    let x = ai[o.x];
    let y = bi[o.y];
    out[i] = select(0u, 1u, from_order(select(select(0, 1, i64_lt(y, x)), -1, i64_lt(x, y))));
}

@compute @workgroup_size(256)
fn compare_u32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = linear_index(wid, nwg, lid);
    if (i >= info[0]) {
        return;
    }
    let o = offsets_of(i);
    out[i] = select(0u, 1u, cmp_u32(au[o.x], bu[o.y]));
}

// `where(cond, x, y)` on raw storage words (one word for F32 and Bool, two for F64 and I64), so it
// needs no f64 support. info (3 operands): [n, rank, offset c, offset x, offset y, shape (rank),
// then the strides of c, x and y (rank each)].
@group(0) @binding(0) var<storage, read> wc: array<u32>;
@group(0) @binding(1) var<storage, read> wx1: array<u32>;
@group(0) @binding(2) var<storage, read> wy1: array<u32>;
@group(0) @binding(3) var<storage, read_write> wo1: array<u32>;
@group(0) @binding(1) var<storage, read> wx2: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> wy2: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> wo2: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read> winfo: array<u32>;

fn offsets3_of(i: u32) -> vec3<u32> {
    let rank = winfo[1];
    var off = vec3<u32>(winfo[2], winfo[3], winfo[4]);
    var rem = i;
    var d = rank;
    loop {
        if (d == 0u) {
            break;
        }
        d = d - 1u;
        let size = winfo[5u + d];
        let c = rem % size;
        rem = rem / size;
        off = off + c * vec3<u32>(winfo[5u + rank + d], winfo[5u + 2u * rank + d], winfo[5u + 3u * rank + d]);
    }
    return off;
}

@compute @workgroup_size(256)
fn where_w1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = linear_index(wid, nwg, lid);
    if (i >= winfo[0]) {
        return;
    }
    let o = offsets3_of(i);
    wo1[i] = select(wy1[o.z], wx1[o.y], wc[o.x] != 0u);
}

@compute @workgroup_size(256)
fn where_w2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = linear_index(wid, nwg, lid);
    if (i >= winfo[0]) {
        return;
    }
    let o = offsets3_of(i);
    wo2[i] = select(wy2[o.z], wx2[o.y], wc[o.x] != 0u);
}
