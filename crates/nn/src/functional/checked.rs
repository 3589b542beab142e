//! The two helpers behind every functional form's checks: [`ok`] (the panicking form of a `try_*`
//! function) and [`bail`] (an `InvalidArgument` error naming the op).

use ember_tensor::{Error, Result};

/// The value of `r`, or a panic with its error's message at the caller's location.
#[track_caller]
pub(crate) fn ok<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// `Err(InvalidArgument { op, msg })`.
pub(crate) fn bail<T>(op: &'static str, msg: String) -> Result<T> {
    Err(Error::InvalidArgument { op, msg })
}
