// Statistics over rows (ops/stats.rs): var, std and logsumexp of a dense [rows, C] input, in passes
// planned by wgpu/stats.rs. The centre of each row (its mean for var/std, its max for logsumexp) comes
// from reduce.wgsl; `centered` then sums f(x - centre) over chunks exactly as reduce.wgsl chunks a
// row (workgroup w of G = rows * cpr folds chunk w % cpr of row w / cpr with a tree over workgroup
// memory; the host sums the cpr partials of a row with reduce.wgsl); `finish` turns each row's sum
// and centre into the result.
// MODE (override): 0 var, 1 std, 2 logsumexp. As the CPU: f(v) = v * v for var/std; for logsumexp
// f(v) = exp(v) and the centre is the max, or 0 where the max is infinite (rows of -inf give
// log(0) = -inf, rows holding +inf give +inf), the result log(sum) + centre; a NaN propagates.
// var divides by D = n - 1 (unbiased) or n, and is NaN when D is 0 (one element unbiased).
// centered: info = [G, chunk CH, row length C, cpr, offset of x, offset of c].
// finish: info = [rows, offset of x (the sums), offset of c, D].

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read> c: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(3) var<storage, read> info: array<u32>;

override MODE: u32 = 0u;

const SWG: u32 = 256u;

var<workgroup> part: array<T, 256>;

fn is_finite(v: T) -> bool {
    return !is_nan(v) && v != t_inf() && v != -t_inf();
}

// The centre a row's terms are taken around.
fn centre(m: T) -> T {
    if (MODE == 2u && !is_finite(m)) {
        return T(0);
    }
    return m;
}

fn term(v: T, m: T) -> T {
    let d = v - m;
    if (MODE == 2u) {
        return m_exp(d);
    }
    return d * d;
}

@compute @workgroup_size(256)
fn centered(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let w = wid.y * nwg.x + wid.x;
    let cpr = info[3];
    let row = w / cpr;
    let row_start = row * info[2];
    let start = row_start + (w % cpr) * info[1];
    let end = min(start + info[1], row_start + info[2]);
    var a = T(0);
    if (w < info[0]) {
        let m = centre(c[info[5] + row]);
        for (var i = start + lid; i < end; i = i + SWG) {
            a = a + term(x[info[4] + i], m);
        }
    }
    part[lid] = a;
    workgroupBarrier();
    for (var s = SWG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            part[lid] = part[lid] + part[lid + s];
        }
        workgroupBarrier();
    }
    if (lid == 0u && w < info[0]) {
        y[w] = part[0];
    }
}

@compute @workgroup_size(256)
fn finish(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * SWG + lid;
    if (i >= info[0]) {
        return;
    }
    let s = x[info[1] + i];
    if (MODE == 2u) {
        y[i] = m_log(s) + centre(c[info[2] + i]);
        return;
    }
    var v = t_nan();
    if (info[3] > 0u) {
        v = s / T(info[3]);
    }
    if (MODE == 1u) {
        v = m_sqrt(v);
    }
    y[i] = v;
}
