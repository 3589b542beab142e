// scatter / scatter_value (ops/index.rs, ScatterMode::Set): out = dst, then out[.. index[p] ..] =
// src[p] along dim for every index element p (row-major over the index's shape). Where indices
// collide the last p in row-major order wins, as on the CPU, in two passes:
//   scatter_claim: each p records p + 1 in its target's `win` word with atomicMax (zeroed by the
//     host), so the largest p claims the element;
//   scatter_w1 / scatter_w2: the claiming p writes its value (raw words: w1 F32 and Bool, w2 F64
//     and I64; src is read through its strides, so an expanded scalar serves scatter_value).
// Bounds: an index outside 0..n is never used as an address; the smallest such p is recorded with
// atomicMin in `bad` (0xffffffff from the host), which the host turns into the CPU's error.
// info = [total, rank, dim, n, offset src, offset idx, offset out, index shape (rank), strides of
// src, of idx, of out (rank each)].

@group(0) @binding(0) var<storage, read> src1: array<u32>;
@group(0) @binding(0) var<storage, read> src2: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read> idx: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> out1: array<u32>;
@group(0) @binding(2) var<storage, read_write> out2: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> info: array<u32>;
@group(0) @binding(4) var<storage, read_write> bad: atomic<u32>;
@group(0) @binding(5) var<storage, read_write> win: array<atomic<u32>>;

// (source offset, output element) of index element p, or (0, 0xffffffff) for a bad index.
fn target_of(p: u32) -> vec2<u32> {
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
    let v = idx[off.y];
    if (v.y != 0u || v.x >= info[3]) {
        atomicMin(&bad, p);
        return vec2<u32>(0u, 0xffffffffu);
    }
    let st = info[7u + 3u * rank + info[2]];
    return vec2<u32>(off.x, off.z - off.w * st + v.x * st);
}

@compute @workgroup_size(256)
fn scatter_claim(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let p = linear_index(wid, nwg, lid);
    if (p >= info[0]) {
        return;
    }
    let t = target_of(p);
    if (t.y != 0xffffffffu) {
        atomicMax(&win[t.y], p + 1u);
    }
}

@compute @workgroup_size(256)
fn scatter_w1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let p = linear_index(wid, nwg, lid);
    if (p >= info[0]) {
        return;
    }
    let t = target_of(p);
    if (t.y != 0xffffffffu && atomicLoad(&win[t.y]) == p + 1u) {
        out1[t.y] = src1[t.x];
    }
}

@compute @workgroup_size(256)
fn scatter_w2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let p = linear_index(wid, nwg, lid);
    if (p >= info[0]) {
        return;
    }
    let t = target_of(p);
    if (t.y != 0xffffffffu && atomicLoad(&win[t.y]) == p + 1u) {
        out2[t.y] = src2[t.x];
    }
}
