// Derived math, generic over the float type T (f32 or f64), written with the primitives of
// math_f32.wgsl / math_f64.wgsl (m_exp, m_log, m_sin, m_cos, m_sqrt, t_inf, t_nan, is_nan).
// Semantics follow the CPU backend (crates/tensor/src/cpu/unary.rs, cpu/math.rs).

// ln(1 + x), accurate near 0 (Goldberg's trick: the rounding of 1 + x cancels out).
fn m_log1p(x: T) -> T {
    let u = 1.0 + x;
    if (u == 1.0) {
        return x;
    }
    if (u == t_inf()) {
        return u;
    }
    return m_log(u) * (x / (u - 1.0));
}

// e^x - 1, accurate near 0 (Kahan's trick).
fn m_expm1(x: T) -> T {
    let u = m_exp(x);
    if (u == 1.0) {
        return x;
    }
    let um1 = u - 1.0;
    if (um1 == -1.0 || u == t_inf()) {
        return um1;
    }
    return um1 * (x / m_log(u));
}

fn m_tanh(x: T) -> T {
    let ax = abs(x);
    if (is_nan(x) || ax < 1.0e-30) {
        return x;
    }
    var r: T = 1.0;
    if (ax < 22.0) {
        let t = m_expm1(2.0 * ax);
        r = t / (t + 2.0);
    }
    return select(r, -r, x < 0.0);
}

fn m_sigmoid(x: T) -> T {
    if (x >= 0.0) {
        return 1.0 / (1.0 + m_exp(-x));
    }
    let e = m_exp(x);
    return e / (1.0 + e);
}

// x ** y with C99/PyTorch special cases; small integral exponents multiply exactly.
fn m_pow(x: T, y: T) -> T {
    if (y == 0.0 || x == 1.0) {
        return 1.0;
    }
    if (is_nan(x) || is_nan(y)) {
        return t_nan();
    }
    let ay = abs(y);
    let inf = t_inf();
    let y_int = floor(y) == y;
    let y_odd = y_int && ay < POW_INT_LIMIT && (y - 2.0 * floor(y * 0.5)) == 1.0;
    let neg = x < 0.0 || (x == 0.0 && 1.0 / x < 0.0);
    let ax = abs(x);
    if (ax == inf) {
        return select(select(0.0, inf, y > 0.0), select(-0.0, -inf, y > 0.0), x < 0.0 && y_odd);
    }
    if (x < 0.0 && !y_int) {
        return t_nan();
    }
    var r: T;
    if (ax == 0.0) {
        r = select(inf, 0.0, y > 0.0);
    } else if (ay == inf) {
        if (ax == 1.0) {
            return 1.0;
        }
        r = select(0.0, inf, (ax > 1.0) == (y > 0.0));
    } else if (y_int && ay <= 64.0) {
        var e = u32(ay);
        var b = ax;
        r = 1.0;
        loop {
            if ((e & 1u) == 1u) {
                r = r * b;
            }
            e = e >> 1u;
            if (e == 0u) {
                break;
            }
            b = b * b;
        }
        if (y < 0.0) {
            r = 1.0 / r;
        }
    } else {
        r = m_exp(y * m_log(ax));
    }
    return select(r, -r, neg && y_odd);
}

// The error function, fdlibm's rational approximations (as cpu/math.rs).
const ERX = 8.45062911510467529297e-01;
const EFX8 = 1.02703333676410069053e+00;
const PP0 = 1.28379167095512558561e-01;
const PP1 = -3.25042107247001499370e-01;
const PP2 = -2.84817495755985104766e-02;
const PP3 = -5.77027029648944159157e-03;
const PP4 = -2.37630166566501626084e-05;
const QQ1 = 3.97917223959155352819e-01;
const QQ2 = 6.50222499887672944485e-02;
const QQ3 = 5.08130628187576562776e-03;
const QQ4 = 1.32494738004321644526e-04;
const QQ5 = -3.96022827877536812320e-06;
const PA0 = -2.36211856075265944077e-03;
const PA1 = 4.14856118683748331666e-01;
const PA2 = -3.72207876035701323847e-01;
const PA3 = 3.18346619901161753674e-01;
const PA4 = -1.10894694282396677476e-01;
const PA5 = 3.54783043256182359371e-02;
const PA6 = -2.16637559486879084300e-03;
const QA1 = 1.06420880400844228286e-01;
const QA2 = 5.40397917702171048937e-01;
const QA3 = 7.18286544141962662868e-02;
const QA4 = 1.26171219808761642112e-01;
const QA5 = 1.36370839120290507362e-02;
const QA6 = 1.19844998467991074170e-02;
const RA0 = -9.86494292470009928597e-03;
const RA1 = -6.93858572707181764372e-01;
const RA2 = -1.05586262253232909814e+01;
const RA3 = -6.23753324503260060396e+01;
const RA4 = -1.62396669462573470355e+02;
const RA5 = -1.84605092906711035994e+02;
const RA6 = -8.12874355063065934246e+01;
const RA7 = -9.81432934416914548592e+00;
const SA1 = 1.96512716674392571292e+01;
const SA2 = 1.37657754143519042600e+02;
const SA3 = 4.34565877475229228821e+02;
const SA4 = 6.45387271733267880336e+02;
const SA5 = 4.29008140027567833386e+02;
const SA6 = 1.08635005541779435134e+02;
const SA7 = 6.57024977031928170135e+00;
const SA8 = -6.04244152148580987438e-02;
const RB0 = -9.86494292470009928597e-03;
const RB1 = -7.99283237680523006574e-01;
const RB2 = -1.77579549177547519889e+01;
const RB3 = -1.60636384855821916062e+02;
const RB4 = -6.37566443368389627722e+02;
const RB5 = -1.02509513161107724954e+03;
const RB6 = -4.83519191608651397019e+02;
const SB1 = 3.03380607434824582924e+01;
const SB2 = 3.25792512996573918826e+02;
const SB3 = 1.53672958608443695994e+03;
const SB4 = 3.19985821950859553908e+03;
const SB5 = 2.55305040643316442583e+03;
const SB6 = 4.74528541206955367215e+02;
const SB7 = -2.24409524465858183362e+01;

fn m_erf(x: T) -> T {
    if (is_nan(x)) {
        return x;
    }
    let ax = abs(x);
    if (ax < 0.84375) {
        if (ax < 3.7252902984e-09) {
            return 0.125 * (8.0 * x + EFX8 * x);
        }
        let z = x * x;
        let r = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
        let s = 1.0 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
        return x + x * (r / s);
    }
    var y: T;
    if (ax < 1.25) {
        let s = ax - 1.0;
        let p = PA0 + s * (PA1 + s * (PA2 + s * (PA3 + s * (PA4 + s * (PA5 + s * PA6)))));
        let q = 1.0 + s * (QA1 + s * (QA2 + s * (QA3 + s * (QA4 + s * (QA5 + s * QA6)))));
        y = ERX + p / q;
    } else if (ax >= 6.0) {
        y = 1.0;
    } else {
        let s = 1.0 / (ax * ax);
        var r: T;
        var ss: T;
        if (ax < 2.857142857142857) {
            r = RA0 + s * (RA1 + s * (RA2 + s * (RA3 + s * (RA4 + s * (RA5 + s * (RA6 + s * RA7))))));
            ss = 1.0 + s * (SA1 + s * (SA2 + s * (SA3 + s * (SA4 + s * (SA5 + s * (SA6 + s * (SA7 + s * SA8)))))));
        } else {
            r = RB0 + s * (RB1 + s * (RB2 + s * (RB3 + s * (RB4 + s * (RB5 + s * RB6)))));
            ss = 1.0 + s * (SB1 + s * (SB2 + s * (SB3 + s * (SB4 + s * (SB5 + s * (SB6 + s * SB7))))));
        }
        // z: ax rounded to f32, so z * z is exact in f64 (fdlibm masks the low word the same way).
        let z = T(f32(ax));
        let e = m_exp(-z * z - 0.5625) * m_exp((z - ax) * (z + ax) + r / ss);
        y = 1.0 - e / ax;
    }
    return select(y, -y, x < 0.0);
}
