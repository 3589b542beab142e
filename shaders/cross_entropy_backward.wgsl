// The gradient of cross_entropy.wgsl's loss with respect to the logits x [N, C], in one dispatch:
// dx[n, c] = g * (Q * softmax(x[n])[c] - q_c) (divided by total for the mean), 0 for rows whose
// target is ignored or out of range (see cross_entropy.wgsl for Q, q and the layouts of stats and
// info; g is the 0-d gradient of the loss, at info[8]; stats start at info[9]). One invocation per element.

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read> t: array<I64>;
@group(0) @binding(2) var<storage, read> w: array<T>;
@group(0) @binding(3) var<storage, read> stats: array<T>;
@group(0) @binding(4) var<storage, read> info: array<u32>;
@group(0) @binding(5) var<storage, read> g: array<T>;
@group(0) @binding(6) var<storage, read_write> dx: array<T>;

const WG: u32 = 256u;
const NO_WEIGHT: u32 = 0xffffffffu;


// The class weight of class c (1 without weights).
fn weight_of(c: u32) -> T {
    if (info[4] == NO_WEIGHT) {
        return T(1);
    }
    return w[info[4] + c];
}

// The class of row n: its target when in [0, C), C when ignored, C + 1 when out of range.
fn class_of(n: u32) -> u32 {
    let v = t[info[3] + n];
    if (v.x == info[5] && v.y == info[6]) {
        return info[1];
    }
    if (v.y != 0u || v.x >= info[1]) {
        return info[1] + 1u;
    }
    return v.x;
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * WG + lid;
    let classes = info[1];
    if (i >= info[0] * classes) {
        return;
    }
    let n = i / classes;
    let c = i % classes;
    let k = class_of(n);
    if (k >= classes) {
        dx[i] = T(0);
        return;
    }
    var scale = g[info[8]];
    if (info[7] == 1u) {
        scale = scale / stats[info[9] + 1u];
    }
    let eps = stats[info[9] + 3u];
    let wt = weight_of(k);
    let q_sum = (T(1) - eps) * wt + eps / T(classes) * stats[info[9] + 2u];
    var q = eps / T(classes) * weight_of(c);
    if (c == k) {
        q = q + (T(1) - eps) * wt;
    }
    let p = m_exp(x[info[2] + i] - stats[info[9] + 4u + n]);
    dx[i] = scale * (q_sum * p - q);
}
