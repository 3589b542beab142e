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

fn m_sin(x: T) -> T {
    return sin(x);
}

fn m_cos(x: T) -> T {
    return cos(x);
}

// Exponents up to this magnitude use exact repeated multiplication in m_pow.
const POW_INT_LIMIT: f32 = 16777216.0;
