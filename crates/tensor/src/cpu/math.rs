//! Scalar special functions the standard library lacks.

/// The error function in f64, from the `libm` crate (a port of musl's, which is FreeBSD's: W. J.
/// Cody's rational approximations, within 1 ulp).
#[inline]
pub fn erf(x: f64) -> f64 {
    libm::erf(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_known_values() {
        // erf(0.5), erf(1), erf(2) to 16 digits (Abramowitz and Stegun, table 7.1)
        for (x, want) in
            [(0.5, 0.520_499_877_813_046_5), (1.0, 0.842_700_792_949_714_9), (2.0, 0.995_322_265_018_952_7)]
        {
            assert!((erf(x) - want).abs() < 2e-16, "erf({x}) = {}", erf(x));
            assert_eq!(erf(-x), -erf(x));
        }
        assert_eq!(erf(f64::INFINITY), 1.0);
        assert!(erf(f64::NAN).is_nan());
    }
}
