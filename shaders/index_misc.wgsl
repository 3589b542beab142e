// one_hot and masked_select (ops/index_misc.rs); flip and repeat are strided copies (join.wgsl).
//
// one_hot: one invocation per output element of [n, classes] (I64 0 or 1) from a dense I64 index.
// An index outside 0..classes (negative ones included: their high word is nonzero) is never used;
// the smallest row holding one is recorded with atomicMin in `bad` (0xffffffff from the host),
// which the host turns into the CPU's Error::IndexOutOfRange. info = [total, classes, offset].
//
// masked_select, in three passes over the broadcast shape (strided.wgsl metadata: operand 0 the
// values, operand 1 the Bool mask), so the output keeps row-major order:
//   mask_count: per workgroup of WG elements, the number of true mask elements -> counts[g];
//   mask_scan (one workgroup): counts become exclusive prefix sums, counts[groups] the total,
//     which the host reads back (4 bytes) to size the output;
//   mask_compact: each workgroup scans its mask flags again and writes its selected values at
//     counts[g] + rank within the workgroup (raw words: w1 F32 and Bool, w2 F64 and I64).

@group(0) @binding(0) var<storage, read> idx: array<vec2<u32>>;
@group(0) @binding(0) var<storage, read> mask: array<u32>;
@group(0) @binding(1) var<storage, read> info: array<u32>;
@group(0) @binding(2) var<storage, read_write> bad: atomic<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;
@group(0) @binding(3) var<storage, read_write> hot: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> out1: array<u32>;
@group(0) @binding(3) var<storage, read_write> out2: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read> src1: array<u32>;
@group(0) @binding(4) var<storage, read> src2: array<vec2<u32>>;

@compute @workgroup_size(256)
fn one_hot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let e = linear_index(wid, nwg, lid);
    if (e >= info[0]) {
        return;
    }
    let classes = info[1];
    let row = e / classes;
    let v = idx[info[2] + row];
    var r = 0u;
    if (v.y != 0u || v.x >= classes) {
        atomicMin(&bad, row);
    } else {
        r = select(0u, 1u, v.x == e % classes);
    }
    hot[e] = vec2<u32>(r, 0u);
}

var<workgroup> scan: array<u32, 256>;

// Inclusive prefix sum of `v` over the workgroup (Hillis-Steele); every invocation must call it.
// Afterwards scan[WG - 1] holds the workgroup's total until the next barrier.
fn wg_scan(v: u32, lid: u32) -> u32 {
    scan[lid] = v;
    workgroupBarrier();
    for (var off = 1u; off < WG; off = off * 2u) {
        var t = 0u;
        if (lid >= off) {
            t = scan[lid - off];
        }
        workgroupBarrier();
        scan[lid] = scan[lid] + t;
        workgroupBarrier();
    }
    return scan[lid];
}

// The mask flag (0 or 1) of element e, 0 past the end.
fn mask_flag(e: u32) -> u32 {
    if (e >= info[0]) {
        return 0u;
    }
    return select(0u, 1u, mask[offsets_of(e).y] != 0u);
}

// Workgroups covering info[0] elements.
fn mask_groups() -> u32 {
    return (info[0] + WG - 1u) / WG;
}

@compute @workgroup_size(256)
fn mask_count(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let g = wid.y * nwg.x + wid.x;
    let s = wg_scan(mask_flag(g * WG + lid), lid);
    if (lid == WG - 1u && g < mask_groups()) {
        counts[g] = s;
    }
}

@compute @workgroup_size(256)
fn mask_scan(@builtin(local_invocation_index) lid: u32) {
    let groups = mask_groups();
    var carry = 0u;
    for (var base = 0u; base < groups; base = base + WG) {
        let i = base + lid;
        var v = 0u;
        if (i < groups) {
            v = counts[i];
        }
        let s = wg_scan(v, lid);
        if (i < groups) {
            counts[i] = carry + s - v;
        }
        carry = carry + scan[WG - 1u];
        workgroupBarrier();
    }
    if (lid == 0u) {
        counts[groups] = carry;
    }
}

// The output position of element g * WG + lid when it is selected, else 0xffffffff.
fn mask_target(g: u32, lid: u32) -> u32 {
    let f = mask_flag(g * WG + lid);
    let s = wg_scan(f, lid);
    if (f == 0u || g >= mask_groups()) {
        return 0xffffffffu;
    }
    return counts[g] + s - 1u;
}

@compute @workgroup_size(256)
fn mask_compact_w1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let g = wid.y * nwg.x + wid.x;
    let at = mask_target(g, lid);
    if (at != 0xffffffffu) {
        out1[at] = src1[offsets_of(g * WG + lid).x];
    }
}

@compute @workgroup_size(256)
fn mask_compact_w2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let g = wid.y * nwg.x + wid.x;
    let at = mask_target(g, lid);
    if (at != 0xffffffffu) {
        out2[at] = src2[offsets_of(g * WG + lid).x];
    }
}
