// Cross-entropy of logits x [N, C] against I64 class indices t [N] (ops/cross_entropy.rs), forward
// and backward each in one dispatch. Per row n with lse = log(sum_c exp(x[n, c])) and target t:
//   loss_n = (1 - eps) * w[t] * (lse - x[n, t]) + eps / C * sum_c w[c] * (lse - x[n, c]),
// 0 (and weight 0) where t == ignore_index; w = 1 without class weights. The result is
// sum_n loss_n, divided by total = sum_n w[t_n] (non-ignored) for the mean. Its gradient is
//   d loss_n / d x[n, c] = Q * softmax(x[n])[c] - q_c, q_c = (1 - eps) w[t] [c == t] + eps / C w[c],
// Q = sum_c q_c = (1 - eps) w[t] + eps / C * sum_c w[c].
// `forward` is one workgroup: each invocation takes rows lid, lid + 256, ... (a row's C classes in
// one loop: the host uses this kernel for C <= 4096), then the partial sums are tree-reduced.
// A target outside [0, C) that is not ignore_index is not read through: the kernel stores n + 1 of
// such a row (the largest) in info[STATUS] for the host to report.
// stats = [loss, total, sum_c w[c], eps, lse_0 .. lse_{N-1}] (the forward's output; eps comes in
// stats[3] from the host). The backward is cross_entropy_backward.wgsl.
// info = [N, C, x offset, t offset, w offset (or NO_WEIGHT), ignore lo, ignore hi, mean, g offset,
//         status].

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read> t: array<I64>;
@group(0) @binding(2) var<storage, read> w: array<T>;
@group(0) @binding(3) var<storage, read_write> stats: array<T>;
@group(0) @binding(4) var<storage, read_write> info: array<u32>;

const WG: u32 = 256u;
const NO_WEIGHT: u32 = 0xffffffffu;
const STATUS: u32 = 9u;

var<workgroup> red_loss: array<T, 256>;
var<workgroup> red_total: array<T, 256>;
var<workgroup> red_w: array<T, 256>;
var<workgroup> red_bad: array<u32, 256>;

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
fn forward(@builtin(local_invocation_index) lid: u32) {
    let rows = info[0];
    let classes = info[1];
    let eps = stats[3];
    var loss = T(0);
    var total = T(0);
    var sum_w = T(0);
    var bad = 0u;
    for (var c = lid; c < classes; c = c + WG) {
        sum_w = sum_w + weight_of(c);
    }
    for (var n = lid; n < rows; n = n + WG) {
        let base = info[2] + n * classes;
        var m = -t_inf();
        for (var c = 0u; c < classes; c = c + 1u) {
            m = max(m, x[base + c]);
        }
        var s = T(0);
        for (var c = 0u; c < classes; c = c + 1u) {
            s = s + m_exp(x[base + c] - m);
        }
        let lse = m + m_log(s);
        stats[4u + n] = lse;
        let k = class_of(n);
        if (k == classes + 1u) {
            bad = max(bad, n + 1u);
        }
        if (k < classes) {
            let wt = weight_of(k);
            var row = (T(1) - eps) * wt * (lse - x[base + k]);
            if (eps > T(0)) {
                var uniform_part = T(0);
                for (var c = 0u; c < classes; c = c + 1u) {
                    uniform_part = uniform_part + weight_of(c) * (lse - x[base + c]);
                }
                row = row + eps / T(classes) * uniform_part;
            }
            loss = loss + row;
            total = total + wt;
        }
    }
    red_loss[lid] = loss;
    red_total[lid] = total;
    red_w[lid] = sum_w;
    red_bad[lid] = bad;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red_loss[lid] = red_loss[lid] + red_loss[lid + s];
            red_total[lid] = red_total[lid] + red_total[lid + s];
            red_w[lid] = red_w[lid] + red_w[lid + s];
            red_bad[lid] = max(red_bad[lid], red_bad[lid + s]);
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        let sum = red_loss[0];
        total = red_total[0];
        stats[0] = select(sum, sum / total, info[7] == 1u);
        stats[1] = total;
        stats[2] = red_w[0];
        info[STATUS] = red_bad[0];
    }
}
