// Primitive math for T = f32: the hardware builtins, with the IEEE special cases that WGSL leaves
// undefined (log of a negative or zero, sqrt of a negative) made explicit.
// Composed by the host after `alias T = f32;`; every kernel calls these through the m_* names.

var<private> PZERO: T = T(0);

// +inf and NaN built at run time (WGSL forbids them as constants).
fn t_inf() -> T {
    return 1.0 / PZERO;
}

fn t_nan() -> T {
    return PZERO / PZERO;
}

fn is_nan(x: T) -> bool {
    return !(x == x);
}

// x < 0 for a number (false for NaN and -0), decided on the bits: drivers may rewrite a float
// `select(x, 0, x < 0)` into a NaN-dropping max(x, 0) (NVIDIA's Vulkan driver does).
fn is_negative(x: T) -> bool {
    let b = bitcast<u32>(x);
    let mag = b & 0x7fffffffu;
    return (b >> 31u) == 1u && mag != 0u && mag <= 0x7f800000u;
}

fn m_exp(x: T) -> T {
    if (is_nan(x)) {
        return x;
    }
    if (x > 88.72283) {
        return t_inf();
    }
    if (x < -103.97208) {
        return 0.0;
    }
    return exp(x);
}

fn m_log(x: T) -> T {
    if (is_nan(x) || x < 0.0) {
        return t_nan();
    }
    if (x == 0.0) {
        return -t_inf();
    }
    if (x == t_inf()) {
        return x;
    }
    return log(x);
}

fn m_sqrt(x: T) -> T {
    if (x < 0.0) {
        return t_nan();
    }
    return sqrt(x);
}

// sin and cos with their own argument reduction (Cephes sinf/cosf: three-part Cody-Waite reduction
// by pi/4, then minimax polynomials on [-pi/4, pi/4]): WGSL's builtins are only specified on
// [-pi, pi], and NVIDIA's Vulkan driver loses digits beyond it (sin(700) was off in the 5th digit).
// Accurate to about 1 ulp for |x| up to 8192 and close to it well beyond.
fn sin_cos_reduced(x: T, want_cos: bool) -> T {
    if (is_nan(x) || abs(x) == t_inf()) {
        return t_nan();
    }
    var sign = 1.0;
    var ax = abs(x);
    if (!want_cos && x < 0.0) {
        sign = -1.0;
    }
    var j = u32(ax * 1.2732395447351628);
    var y = T(j);
    if ((j & 1u) == 1u) {
        j = j + 1u;
        y = y + 1.0;
    }
    j = j & 7u;
    if (j > 3u) {
        j = j - 4u;
        sign = -sign;
    }
    if (want_cos && j > 1u) {
        sign = -sign;
    }
    let z = ((ax - y * 0.78515625) - y * 2.4187564849853515625e-4) - y * 3.77489497744594108e-8;
    let zz = z * z;
    let c = ((2.443315711809948e-5 * zz - 1.388731625493765e-3) * zz + 4.166664568298827e-2) * zz * zz
        - 0.5 * zz + 1.0;
    let s = ((-1.9515295891e-4 * zz + 8.3321608736e-3) * zz - 1.6666654611e-1) * zz * z + z;
    if (j == 1u || j == 2u) {
        return sign * select(c, s, want_cos);
    }
    return sign * select(s, c, want_cos);
}

fn m_sin(x: T) -> T {
    return sin_cos_reduced(x, false);
}

fn m_cos(x: T) -> T {
    return sin_cos_reduced(x, true);
}

// Exponents up to this magnitude use exact repeated multiplication in m_pow.
const POW_INT_LIMIT: f32 = 16777216.0;
