// Fused optimizer updates (ops/fused.rs) on f32: one pass over memory where the composite of
// elementwise kernels would take a dozen dispatches (and a dozen buffers) per parameter.
// adam: reads θ, g, m, v (each dense from its offset) and writes θ', m', v' (dense), as
// cpu/fused.rs: m' = m + (g - m)(1 - β1), v' = vβ2 + g²(1 - β2), θ' = θ - m' / (√v' + eps) · scale.
// info = [n, θ offset, g offset, m offset, v offset, then the f32 bits of 1 - β1, β2, 1 - β2,
// scale, eps].
// sgd (bindings of its own, below): reads θ, g, b and writes θ', b', as cpu/fused.rs:
// b' = bμ + g(1 - τ), d = g + b'μ (Nesterov) or b', θ' = θ - d · lr.
// info = [n, θ offset, g offset, b offset, nesterov (0/1), then the f32 bits of μ, 1 - τ, lr].

@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> p_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> m_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> v_out: array<f32>;
@group(0) @binding(7) var<storage, read> info: array<u32>;

@compute @workgroup_size(256)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (i >= info[0]) {
        return;
    }
    let w1 = bitcast<f32>(info[5]);
    let b2 = bitcast<f32>(info[6]);
    let w2 = bitcast<f32>(info[7]);
    let sc = bitcast<f32>(info[8]);
    let ep = bitcast<f32>(info[9]);
    let gi = g[info[2] + i];
    let m0 = m[info[3] + i];
    let v0 = v[info[4] + i];
    let mi = m0 + (gi - m0) * w1;
    let vi = v0 * b2 + gi * gi * w2;
    m_out[i] = mi;
    v_out[i] = vi;
    p_out[i] = p[info[1] + i] - mi / (sqrt(vi) + ep) * sc;
}

@group(0) @binding(0) var<storage, read> sp: array<f32>;
@group(0) @binding(1) var<storage, read> sg: array<f32>;
@group(0) @binding(2) var<storage, read> sb: array<f32>;
@group(0) @binding(3) var<storage, read_write> sp_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> sb_out: array<f32>;
@group(0) @binding(5) var<storage, read> sinfo: array<u32>;

@compute @workgroup_size(256)
fn sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (i >= sinfo[0]) {
        return;
    }
    let mu = bitcast<f32>(sinfo[5]);
    let keep = bitcast<f32>(sinfo[6]);
    let rate = bitcast<f32>(sinfo[7]);
    let gi = sg[sinfo[2] + i];
    let bi = sb[sinfo[3] + i] * mu + gi * keep;
    sb_out[i] = bi;
    var d = bi;
    if (sinfo[4] == 1u) {
        d = gi + bi * mu;
    }
    sp_out[i] = sp[sinfo[1] + i] - d * rate;
}
