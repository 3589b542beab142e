// Subgroup variants of reduce.wgsl's sum, max and min entry points (same bindings, info, chunking
// and OP, tested against the RED_* constants), composed after reduce.wgsl into a separate module built only on devices with
// wgpu::Features::SUBGROUP. Each invocation folds its strided part of the chunk as before; then each
// subgroup combines its values with one subgroup operation, subgroup s stores its partial in
// part[s], and after a barrier every invocation folds the num_subgroups partials (uniform control
// flow throughout). Correct for any subgroup size (known only at run time, 4 to 128) and any mapping
// of invocations to subgroups, partial subgroups included: only subgroup_id and num_subgroups are
// used. No `enable subgroups;`: naga 30 rejects that directive (unimplemented) and accepts the
// subgroup builtins without it when the device has the feature.
// NaN: subgroupMax/subgroupMin leave NaN inputs undefined, so a NaN anywhere in the subgroup
// (subgroupAny) makes its partial NaN, as the plain kernel's NaN-propagating max and min.
// I64 is exact: sums add four 16-bit limbs with u32 subgroupAdd (each limb sum < 2^23 for subgroups
// of at most 128) and recombine them with carries; max/min take the extreme signed high word, then
// the extreme low word among the invocations holding it.

var<workgroup> part: array<T, 256>;
var<workgroup> parti: array<I64, 256>;

fn subgroup_float(a: T) -> T {
    if (OP == RED_MAX) {
        return select(subgroupMax(a), t_nan(), subgroupAny(is_nan(a)));
    }
    if (OP == RED_MIN) {
        return select(subgroupMin(a), t_nan(), subgroupAny(is_nan(a)));
    }
    return subgroupAdd(a);
}

fn subgroup_i64(a: I64) -> I64 {
    if (OP == RED_MAX) {
        let hi = subgroupMax(bitcast<i32>(a.y));
        let lo = subgroupMax(select(0u, a.x, bitcast<i32>(a.y) == hi));
        return I64(lo, bitcast<u32>(hi));
    }
    if (OP == RED_MIN) {
        let hi = subgroupMin(bitcast<i32>(a.y));
        let lo = subgroupMin(select(0xffffffffu, a.x, bitcast<i32>(a.y) == hi));
        return I64(lo, bitcast<u32>(hi));
    }
    let s0 = subgroupAdd(a.x & 0xffffu);
    let s1 = subgroupAdd(a.x >> 16u);
    let s2 = subgroupAdd(a.y & 0xffffu);
    let s3 = subgroupAdd(a.y >> 16u);
    let low = i64_add(I64(s0, 0u), I64(s1 << 16u, s1 >> 16u));
    return i64_add(low, I64(0u, s2 + (s3 << 16u)));
}

@compute @workgroup_size(256)
fn reduce_float_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32, @builtin(subgroup_id) sg: u32,
                   @builtin(num_subgroups) nsg: u32, @builtin(subgroup_invocation_id) sid: u32) {
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
    a = subgroup_float(a);
    if (sid == 0u) {
        part[sg] = a;
    }
    workgroupBarrier();
    var b = identity_float();
    for (var s = 0u; s < nsg; s = s + 1u) {
        b = combine_float(b, part[s]);
    }
    if (lid == 0u && w < info[0]) {
        y[w] = b;
    }
}

@compute @workgroup_size(256)
fn reduce_i64_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32, @builtin(subgroup_id) sg: u32,
                 @builtin(num_subgroups) nsg: u32, @builtin(subgroup_invocation_id) sid: u32) {
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
    a = subgroup_i64(a);
    if (sid == 0u) {
        parti[sg] = a;
    }
    workgroupBarrier();
    var b = identity_i64();
    for (var s = 0u; s < nsg; s = s + 1u) {
        b = combine_i64(b, parti[s]);
    }
    if (lid == 0u && w < info[0]) {
        yi[w] = b;
    }
}
