// softmax and log_softmax along one dim (ops/softmax.rs), one workgroup per row: a dense input seen
// as [outer, n, inner] has outer * inner rows of n elements, `inner` apart. Each row takes three
// passes: its max (tree reduction over workgroup memory; NaN never becomes the max, as on the
// CPU), the sum of exp(x - max) (tree reduction), then exp(x - max) / sum, or x - max - log(sum)
// for log_softmax. A row holding a NaN, or only -inf, gives NaN, as PyTorch.
// info = [rows, n, inner, offset of x]. LOG (override): 1 for log_softmax.

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read_write> y: array<T>;
@group(0) @binding(2) var<storage, read> info: array<u32>;

override LOG: u32 = 0u;

const SWG: u32 = 256u;

var<workgroup> red: array<T, 256>;

@compute @workgroup_size(256)
fn softmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let r = wid.y * nwg.x + wid.x;
    let valid = r < info[0];
    let n = select(0u, info[1], valid);
    let inner = info[2];
    let base = info[3] + (r / inner) * n * inner + r % inner;
    var m = -t_inf();
    for (var j = lid; j < n; j = j + SWG) {
        let v = x[base + j * inner];
        if (v > m) {
            m = v;
        }
    }
    red[lid] = m;
    workgroupBarrier();
    for (var s = SWG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s && red[lid + s] > red[lid]) {
            red[lid] = red[lid + s];
        }
        workgroupBarrier();
    }
    m = red[0];
    workgroupBarrier();
    var sum = T(0);
    for (var j = lid; j < n; j = j + SWG) {
        sum = sum + m_exp(x[base + j * inner] - m);
    }
    red[lid] = sum;
    workgroupBarrier();
    for (var s = SWG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = red[lid] + red[lid + s];
        }
        workgroupBarrier();
    }
    sum = red[0];
    let out = base - info[3];
    if (LOG == 1u) {
        let ls = m_log(sum);
        for (var j = lid; j < n; j = j + SWG) {
            y[out + j * inner] = x[base + j * inner] - m - ls;
        }
    } else {
        let inv = T(1) / sum;
        for (var j = lid; j < n; j = j + SWG) {
            y[out + j * inner] = m_exp(x[base + j * inner] - m) * inv;
        }
    }
}
