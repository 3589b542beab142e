// cumsum and cumprod along one dim (ops/scan.rs): a dense input seen as [outer, n, inner] has
// outer * inner lines of n elements, `inner` apart, read in place (no permute).
// A workgroup of 256 invocations holds 256 / M segments of M invocations (M a power of two: the
// line length rounded up, at most 256), one line per segment, so short lines share a workgroup.
// Each segment takes its line in chunks of M elements; a chunk is scanned in workgroup memory
// (Hillis-Steele: log2(M) steps, each element combined with the one `s` before it in its segment),
// then combined with the running carry of the chunks before it, which then takes the chunk's
// total. So a line of any length costs one pass over it.
// Floats accumulate in T (the CPU accumulates in f64, so F32 agrees within rounding); I64 is exact
// and wraps, as the CPU's wrapping_add / wrapping_mul (both associative, so any order is exact).
// info = [lines, n, inner, offset of x, M]. PROD (override): 1 cumprod, 0 cumsum.

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read_write> y: array<T>;
@group(0) @binding(2) var<storage, read> info: array<u32>;

@group(0) @binding(0) var<storage, read> xi: array<I64>;
@group(0) @binding(1) var<storage, read_write> yi: array<I64>;

override PROD: u32 = 0u;

const CWG: u32 = 256u;

var<workgroup> cf: array<T, 256>;
var<workgroup> ci: array<I64, 256>;

fn f_id() -> T {
    return select(T(0), T(1), PROD == 1u);
}

fn f_op(a: T, b: T) -> T {
    if (PROD == 1u) {
        return a * b;
    }
    return a + b;
}

fn i_id() -> I64 {
    return I64(select(0u, 1u, PROD == 1u), 0u);
}

fn i_op(a: I64, b: I64) -> I64 {
    if (PROD == 1u) {
        return i64_mul(a, b);
    }
    return i64_add(a, b);
}

// The offset of line `r`'s first element in the dense [outer, n, inner] output.
fn line_start(r: u32, n: u32) -> u32 {
    let inner = info[2];
    return (r / inner) * n * inner + r % inner;
}

// The line, position in its segment and segment start of invocation `lid` of workgroup `wid`.
fn segment(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> vec3<u32> {
    let m = info[4];
    return vec3<u32>((wid.y * nwg.x + wid.x) * (CWG / m) + lid / m, lid % m, lid - lid % m);
}

@compute @workgroup_size(256)
fn scan_float(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let seg = segment(wid, nwg, lid);
    let valid = seg.x < info[0];
    let n = info[1];
    let inner = info[2];
    let m = info[4];
    let out = line_start(seg.x, n);
    let base = info[3] + out;
    var carry = f_id();
    for (var c = 0u; c < n; c = c + m) {
        let j = c + seg.y;
        var v = f_id();
        if (valid && j < n) {
            v = x[base + j * inner];
        }
        cf[lid] = v;
        workgroupBarrier();
        for (var s = 1u; s < m; s = s << 1u) {
            if (seg.y >= s) {
                v = f_op(cf[lid - s], v);
            }
            workgroupBarrier();
            cf[lid] = v;
            workgroupBarrier();
        }
        if (valid && j < n) {
            y[out + j * inner] = f_op(carry, v);
        }
        carry = f_op(carry, cf[seg.z + m - 1u]);
        workgroupBarrier();
    }
}

@compute @workgroup_size(256)
fn scan_i64(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let seg = segment(wid, nwg, lid);
    let valid = seg.x < info[0];
    let n = info[1];
    let inner = info[2];
    let m = info[4];
    let out = line_start(seg.x, n);
    let base = info[3] + out;
    var carry = i_id();
    for (var c = 0u; c < n; c = c + m) {
        let j = c + seg.y;
        var v = i_id();
        if (valid && j < n) {
            v = xi[base + j * inner];
        }
        ci[lid] = v;
        workgroupBarrier();
        for (var s = 1u; s < m; s = s << 1u) {
            if (seg.y >= s) {
                v = i_op(ci[lid - s], v);
            }
            workgroupBarrier();
            ci[lid] = v;
            workgroupBarrier();
        }
        if (valid && j < n) {
            yi[out + j * inner] = i_op(carry, v);
        }
        carry = i_op(carry, ci[seg.z + m - 1u]);
        workgroupBarrier();
    }
}
