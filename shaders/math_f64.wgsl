// Primitive math for T = f64, in software: Vulkan, Metal and DX12 have no f64 exp/log/sin/cos, so
// these follow fdlibm (Sun's freely distributable libm): argument reduction, then the same minimax
// polynomials. Accuracy is about 1 ulp; sin/cos use a three-part Cody-Waite reduction by pi/2, exact
// for |x| below about 1e5 and degrading slowly above.
// Composed by the host after `alias T = f64;` (needs wgpu::Features::SHADER_F64).

var<private> PZERO: T = T(0);

fn t_inf() -> T {
    return 1.0 / PZERO;
}

fn t_nan() -> T {
    return PZERO / PZERO;
}

fn is_nan(x: T) -> bool {
    return !(x == x);
}

// x < 0 for a number (false for NaN and -0), decided on bits so a driver cannot rewrite
// `select(x, 0, x < 0)` into a NaN-dropping max (see math_f32.wgsl). WGSL has no f64 bitcast, so the
// sign and NaN-ness come from the f32 conversion, which keeps both (a tiny negative becomes -0.0,
// still signed); the f64 comparison with zero then excludes -0.0 itself.
fn is_negative(x: T) -> bool {
    let b = bitcast<u32>(f32(x));
    return (b >> 31u) == 1u && (b & 0x7fffffffu) <= 0x7f800000u && x != 0.0;
}

const LN2_HI: f64 = 6.93147180369123816490e-01;
const LN2_LO: f64 = 1.90821492927058770002e-10;
const INV_LN2: f64 = 1.44269504088896338700e+00;

// 2^k for k in about -1074..1023, as two ldexp steps so no intermediate overflows.
fn scale2(y: f64, k: i32) -> f64 {
    let h = k / 2;
    return ldexp(ldexp(y, h), k - h);
}

fn m_exp(x: f64) -> f64 {
    if (is_nan(x)) {
        return x;
    }
    if (x > 7.09782712893383973096e+02) {
        return x * 1.0e308;
    }
    if (x < -7.45133219101941108420e+02) {
        return 0.0;
    }
    let k = round(x * INV_LN2);
    let hi = x - k * LN2_HI;
    let lo = k * LN2_LO;
    let r = hi - lo;
    let t = r * r;
    let c = r - t * (1.66666666666666019037e-01 + t * (-2.77777777770155933842e-03 + t * (6.61375632143793436117e-05
        + t * (-1.65339022054652515390e-06 + t * 4.13813679705723846039e-08))));
    let y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    return scale2(y, i32(k));
}

fn m_log(x: f64) -> f64 {
    if (is_nan(x) || x < 0.0) {
        return t_nan();
    }
    if (x == 0.0) {
        return -t_inf();
    }
    if (x == t_inf()) {
        return x;
    }
    // x = m * 2^e with m in [0.5, 1): scale into f32's range by exact powers of two, take the
    // exponent from f32's frexp (naga's f64 frexp would need 64-bit integers), then rescale.
    var xs = x;
    var e: f64 = 0.0;
    // Eleven steps of 2^100 cover every finite f64 (1.8e308 and 4.9e-324 both lie within 2^1100 of
    // 1). The bounds are fixed rather than "until in range" so the loops end even where a driver
    // assumes no NaN/inf and lets such an input past the checks above (NVIDIA's Vulkan driver hung
    // on `log(NaN)` with the open-ended form).
    for (var i = 0; i < 11 && xs > 1.0e30; i = i + 1) {
        xs = xs * 7.888609052210118e-31;
        e = e + 100.0;
    }
    for (var i = 0; i < 11 && xs < 1.0e-30; i = i + 1) {
        xs = xs * 1.2676506002282294e30;
        e = e - 100.0;
    }
    let fe = frexp(f32(xs)).exp;
    var m = ldexp(xs, -fe);
    e = e + f64(fe);
    if (m < 7.07106781186547524401e-01) {
        m = m * 2.0;
        e = e - 1.0;
    }
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
    let t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01
        + w * 1.479819860511658591e-01)));
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    return e * LN2_HI - ((hfsq - (s * (hfsq + r) + e * LN2_LO)) - f);
}

fn m_sqrt(x: f64) -> f64 {
    if (x < 0.0) {
        return t_nan();
    }
    return sqrt(x);
}

fn kernel_sin(r: f64) -> f64 {
    let z = r * r;
    let p = -1.66666666666666324348e-01 + z * (8.33333333332248946124e-03 + z * (-1.98412698298579493134e-04
        + z * (2.75573137070700676789e-06 + z * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10))));
    return r + r * z * p;
}

fn kernel_cos(r: f64) -> f64 {
    let z = r * r;
    let p = z * (4.16666666666666019037e-02 + z * (-1.38888888888741095749e-03 + z * (2.48015872894767294178e-05
        + z * (-2.75573143513906633035e-07 + z * (2.08757232129817482790e-09 + z * -1.13596475577881948265e-11)))));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    return w + (((1.0 - w) - hz) + z * p);
}

// x = k * pi/2 + r with |r| <= pi/4; returns (r, k mod 4).
fn reduce_pio2(x: f64) -> vec2<f64> {
    let k = round(x * 6.36619772367581382433e-01);
    var r = x - k * 1.57079632673412561417e+00;
    r = r - k * 6.07710050630396597660e-11;
    r = r - k * 2.02226624871116645580e-21;
    let q = k - 4.0 * floor(k * 0.25);
    return vec2<f64>(r, q);
}

fn m_sin(x: f64) -> f64 {
    if (abs(x) < 7.85398163397448278999e-01) {
        return kernel_sin(x);
    }
    let rq = reduce_pio2(x);
    let q = rq.y;
    if (q == 0.0) {
        return kernel_sin(rq.x);
    }
    if (q == 1.0) {
        return kernel_cos(rq.x);
    }
    if (q == 2.0) {
        return -kernel_sin(rq.x);
    }
    return -kernel_cos(rq.x);
}

fn m_cos(x: f64) -> f64 {
    if (abs(x) < 7.85398163397448278999e-01) {
        return kernel_cos(x);
    }
    let rq = reduce_pio2(x);
    let q = rq.y;
    if (q == 0.0) {
        return kernel_cos(rq.x);
    }
    if (q == 1.0) {
        return -kernel_sin(rq.x);
    }
    if (q == 2.0) {
        return -kernel_cos(rq.x);
    }
    return kernel_sin(rq.x);
}

const POW_INT_LIMIT: f64 = 9007199254740992.0;
