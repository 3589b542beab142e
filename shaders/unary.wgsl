// Elementwise unary ops (ops/unary.rs UnaryOp), over strided inputs, dense output.
// OP is a pipeline-overridable constant (the UnaryOp index), so each op compiles to its own
// specialised pipeline. Float ops run on T (f32 or f64); integer ops on I64 (vec2<u32>).
// Parameters (pow exponent, clamp bounds, slopes) come in `sc`; absent clamp bounds are -inf/+inf
// (i64::MIN/MAX for I64).

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read_write> y: array<T>;
@group(0) @binding(2) var<storage, read> info: array<u32>;
@group(0) @binding(3) var<storage, read> sc: array<T>;

@group(0) @binding(0) var<storage, read> xi: array<I64>;
@group(0) @binding(1) var<storage, read_write> yi: array<I64>;
@group(0) @binding(3) var<storage, read> sci: array<I64>;

override OP: u32 = 0u;

fn apply_float(v: T) -> T {
    switch OP {
        case 0u: { return -v; }
        case 1u: { return abs(v); }
        case 2u: { return m_exp(v); }
        case 3u: { return m_log(v); }
        case 4u: { return m_log1p(v); }
        case 5u: { return m_sqrt(v); }
        case 6u: { return 1.0 / m_sqrt(v); }
        case 7u: { return m_sin(v); }
        case 8u: { return m_cos(v); }
        case 9u: { return m_tanh(v); }
        case 10u: { return m_sigmoid(v); }
        case 11u: { return select(v, 0.0, is_negative(v)); }
        case 12u: { return 0.5 * v * (1.0 + m_erf(v * 7.07106781186547524401e-01)); }
        case 13u: { return v * m_sigmoid(v); }
        case 14u: {
            if (v > 20.0) {
                return v;
            }
            return m_log1p(m_exp(v));
        }
        case 15u: {
            if (v > 0.0) {
                return 1.0;
            }
            if (v < 0.0) {
                return -1.0;
            }
            // 0, -0 and NaN are their own sign.
            return v;
        }
        case 16u: { return floor(v); }
        case 17u: { return ceil(v); }
        case 18u: { return round(v); }
        case 19u: { return 1.0 / v; }
        case 20u: { return m_erf(v); }
        case 21u: {
            if (sc[0] == 2.0) {
                return v * v;
            }
            return m_pow(v, sc[0]);
        }
        case 22u: {
            if (is_nan(v)) {
                return v;
            }
            var r = v;
            if (r < sc[0]) {
                r = sc[0];
            }
            if (r > sc[1]) {
                r = sc[1];
            }
            return r;
        }
        case 23u: { return select(v * sc[0], v, v > 0.0); }
        case 24u: { return select(sc[0] * m_expm1(v), v, v > 0.0); }
        default: { return v; }
    }
}

fn apply_i64(v: I64) -> I64 {
    switch OP {
        case 0u: { return i64_neg(v); }
        case 1u: { return i64_abs(v); }
        case 11u: { return select(v, I64(0u, 0u), i64_is_neg(v)); }
        case 15u: {
            if (i64_is_neg(v)) {
                return I64(0xffffffffu, 0xffffffffu);
            }
            return select(I64(1u, 0u), v, v.x == 0u && v.y == 0u);
        }
        case 22u: { return i64_min(i64_max(v, sci[0]), sci[1]); }
        default: { return v; }
    }
}

@compute @workgroup_size(256)
fn unary_float(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = linear_index(wid, nwg, lid);
    if (i >= info[0]) {
        return;
    }
    y[i] = apply_float(x[offsets_of(i).x]);
}

@compute @workgroup_size(256)
fn unary_i64(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = linear_index(wid, nwg, lid);
    if (i >= info[0]) {
        return;
    }
    yi[i] = apply_i64(xi[offsets_of(i).x]);
}
