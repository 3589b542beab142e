// Elementwise binary ops (ops/binary.rs BinaryOp) with broadcasting: both operands are read through
// their own strides (0 on broadcast dims, see strided.wgsl), so views and broadcasts need no copy.
// OP is the BinaryOp index (a pipeline-overridable constant).

@group(0) @binding(0) var<storage, read> a: array<T>;
@group(0) @binding(1) var<storage, read> b: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;
@group(0) @binding(3) var<storage, read> info: array<u32>;

@group(0) @binding(0) var<storage, read> ai: array<I64>;
@group(0) @binding(1) var<storage, read> bi: array<I64>;
@group(0) @binding(2) var<storage, read_write> outi: array<I64>;

override OP: u32 = 0u;

fn apply_float(x: T, y: T) -> T {
    switch OP {
        case 0u: { return x + y; }
        case 1u: { return x - y; }
        case 2u: { return x * y; }
        case 3u: { return x / y; }
        case 4u: { return m_pow(x, y); }
        case 5u: {
            if (is_nan(x) || is_nan(y)) {
                return t_nan();
            }
            return select(x, y, y > x);
        }
        case 6u: {
            if (is_nan(x) || is_nan(y)) {
                return t_nan();
            }
            return select(x, y, y < x);
        }
        default: { return x; }
    }
}

fn apply_i64(x: I64, y: I64) -> I64 {
    switch OP {
        case 0u: { return i64_add(x, y); }
        case 1u: { return i64_sub(x, y); }
        case 2u: { return i64_mul(x, y); }
        case 4u: { return i64_pow(x, y); }
        case 5u: { return i64_max(x, y); }
        case 6u: { return i64_min(x, y); }
        default: { return x; }
    }
}

@compute @workgroup_size(256)
fn binary_float(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = linear_index(wid, nwg, lid);
    if (i >= info[0]) {
        return;
    }
    let o = offsets_of(i);
    out[i] = apply_float(a[o.x], b[o.y]);
}

@compute @workgroup_size(256)
fn binary_i64(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = linear_index(wid, nwg, lid);
    if (i >= info[0]) {
        return;
    }
    let o = offsets_of(i);
    outi[i] = apply_i64(ai[o.x], bi[o.y]);
}
