// 2-d pooling over the planes of a dense [planes, in_h, in_w] input (ops/pool.rs), one invocation
// per output element, by the host's plan: per output row and column the window's clipped input
// range (start, end) and, for averages, its divisor. Windows are scanned in row-major order as on
// the CPU, so the results (and max indices) are the CPU's.
// info = [total, oh, ow, in_h, in_w, step h, step w, offset of x, then (start, end, divisor) of
// each output row, then of each output column].

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read_write> vals: array<T>;
@group(0) @binding(2) var<storage, read_write> idxs: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> info: array<u32>;

struct Window {
    plane: u32,
    rs: u32,
    re: u32,
    rd: u32,
    cs: u32,
    ce: u32,
    cd: u32,
}

fn window(e: u32) -> Window {
    let ow = info[2];
    let oh = info[1];
    let oy = (e / ow) % oh;
    let ox = e % ow;
    let r = 8u + 3u * oy;
    let c = 8u + 3u * oh + 3u * ox;
    return Window(e / (ow * oh), info[r], info[r + 1u], info[r + 2u], info[c], info[c + 1u], info[c + 2u]);
}

// Max pool: PyTorch's CPU rule, a larger value or any NaN replaces the running max (so ties keep
// the first maximum and the last NaN wins); a window wholly in the padding gives -inf and the
// index of its first tap.
@compute @workgroup_size(256)
fn max_pool(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let e = linear_index(wid, nwg, lid);
    if (e >= info[0]) {
        return;
    }
    let w = window(e);
    let in_w = info[4];
    let base = info[7] + w.plane * info[3] * in_w;
    var best = -t_inf();
    var at = w.rs * in_w + w.cs;
    for (var ih = w.rs; ih < w.re; ih = ih + info[5]) {
        for (var iw = w.cs; iw < w.ce; iw = iw + info[6]) {
            let v = x[base + ih * in_w + iw];
            if (v > best || is_nan(v)) {
                best = v;
                at = ih * in_w + iw;
            }
        }
    }
    vals[e] = best;
    idxs[e] = vec2<u32>(at, 0u);
}

// Average pool (fixed or adaptive windows): the window's sum over its divisors, 0 for a window
// wholly in the padding.
@compute @workgroup_size(256)
fn avg_pool(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let e = linear_index(wid, nwg, lid);
    if (e >= info[0]) {
        return;
    }
    let w = window(e);
    let in_w = info[4];
    let base = info[7] + w.plane * info[3] * in_w;
    var s = T(0);
    if (w.rs < w.re && w.cs < w.ce) {
        for (var ih = w.rs; ih < w.re; ih = ih + 1u) {
            for (var iw = w.cs; iw < w.ce; iw = iw + 1u) {
                s = s + x[base + ih * in_w + iw];
            }
        }
        s = s / T(w.rd * w.cd);
    }
    vals[e] = s;
}

// Where an input element of a backward pass sits: its plane, row and column, the output shape,
// the offset of the output columns' (start, end, divisor) in `info` (the rows' start at 8), and
// the offsets of the (first, last + 1) output row covering its row (`rr`) and output column
// covering its column (`cr`).
struct Gather {
    oh: u32,
    ow: u32,
    in_h: u32,
    in_w: u32,
    plane: u32,
    ih: u32,
    iw: u32,
    cols: u32,
    rr: u32,
    cr: u32,
}

fn gather(e: u32) -> Gather {
    let oh = info[1];
    let ow = info[2];
    let in_h = info[3];
    let in_w = info[4];
    let ih = (e / in_w) % in_h;
    let iw = e % in_w;
    let cols = 8u + 3u * oh;
    let rr = cols + 3u * ow + 2u * ih;
    let cr = cols + 3u * ow + 2u * in_h + 2u * iw;
    return Gather(oh, ow, in_h, in_w, e / (in_w * in_h), ih, iw, cols, rr, cr);
}

// Average pool backward (fixed or adaptive windows), gather style: one invocation per input
// element of [planes, in_h, in_w] (written to `vals`) sums grad / divisor over the output windows
// covering it, in the CPU's order (output rows, then columns), so the result is the CPU's.
// info = [total, oh, ow, in_h, in_w, 0, 0, offset of the gradient (in `x`), then (start, end,
// divisor) of each output row, then of each output column, then the (first, last + 1) output row
// that may cover each input row, then the same of output columns for each input column].
@compute @workgroup_size(256)
fn avg_pool_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let e = linear_index(wid, nwg, lid);
    if (e >= info[0]) {
        return;
    }
    let g = gather(e);
    let base = info[7] + g.plane * g.oh * g.ow;
    var s = T(0);
    for (var oy = info[g.rr]; oy < info[g.rr + 1u]; oy = oy + 1u) {
        let r = 8u + 3u * oy;
        if (info[r] > g.ih || g.ih >= info[r + 1u]) {
            continue;
        }
        for (var ox = info[g.cr]; ox < info[g.cr + 1u]; ox = ox + 1u) {
            let c = g.cols + 3u * ox;
            if (info[c] > g.iw || g.iw >= info[c + 1u]) {
                continue;
            }
            s = s + x[base + oy * g.ow + ox] / T(info[r + 2u] * info[c + 2u]);
        }
    }
    vals[e] = s;
}

// Max pool backward, gather style: one invocation per input element of [planes, in_h, in_w]
// (written to `vals`) sums, in output order (as the CPU's scatter adds), the gradient of every
// output whose window has this element as a tap and whose index (`idxs`, I64 as two words) names
// it; the windows of other outputs cannot have chosen it, so no zero fill and no atomics.
// info = [total, oh, ow, in_h, in_w, step h, step w, offset of the gradient (in `x`), then the
// (start, end, divisor) of each output row and column, then the (first, last + 1) output row that
// may cover each input row and the same of output columns for each input column, then the offset
// of the indices].
@compute @workgroup_size(256)
fn max_pool_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let e = linear_index(wid, nwg, lid);
    if (e >= info[0]) {
        return;
    }
    let g = gather(e);
    let at = vec2<u32>(g.ih * g.in_w + g.iw, 0u);
    let o0 = g.plane * g.oh * g.ow;
    let idx0 = info[g.cols + 3u * g.ow + 2u * g.in_h + 2u * g.in_w];
    var s = T(0);
    for (var oy = info[g.rr]; oy < info[g.rr + 1u]; oy = oy + 1u) {
        let r = 8u + 3u * oy;
        if (info[r] > g.ih || g.ih >= info[r + 1u] || (g.ih - info[r]) % info[5] != 0u) {
            continue;
        }
        for (var ox = info[g.cr]; ox < info[g.cr + 1u]; ox = ox + 1u) {
            let c = g.cols + 3u * ox;
            if (info[c] > g.iw || g.iw >= info[c + 1u] || (g.iw - info[c]) % info[6] != 0u) {
                continue;
            }
            let o = o0 + oy * g.ow + ox;
            if (all(idxs[idx0 + o] == at)) {
                s = s + x[info[7] + o];
            }
        }
    }
    vals[e] = s;
}
