//! librpo's status codes as a Rust error.
use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_int;

use crate::sys;

/// A failed librpo call: one variant per `RPO_ERR_*` status.
///
/// ```
/// let mut ctx = rpo::Context::new()?;
/// assert_eq!(ctx.set_beta(-1.0), Err(rpo::Error::Param));
/// assert_eq!(rpo::Error::Param.code(), -3);
/// assert!(rpo::Error::Param.to_string().contains("out of its range"));
/// # Ok::<(), rpo::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// `RPO_ERR_NULL_POINTER`: a required array is missing (e.g. embedding
    /// weighting without embeddings).
    NullPointer,
    /// `RPO_ERR_SIZE`: inconsistent lengths, or a size that overflows.
    Size,
    /// `RPO_ERR_PARAM`: a setting's value outside its range.
    Param,
    /// `RPO_ERR_NONFINITE`: NaN or infinity in an input.
    NonFinite,
    /// `RPO_ERR_NOMEM`: librpo could not allocate its scratch memory.
    NoMemory,
    /// `RPO_ERR_UNSUPPORTED`: a valid request this build cannot serve.
    Unsupported,
    /// `RPO_ERR_RANGE`: the result does not fit the output type.
    Range,
    /// A status this crate does not know (a newer librpo's).
    Other(i32),
}

impl Error {
    /// The error of a librpo status, `Ok(())` for `RPO_OK`.
    pub fn check(status: c_int) -> Result<(), Error> {
        match status {
            sys::RPO_OK => Ok(()),
            sys::RPO_ERR_NULL_POINTER => Err(Error::NullPointer),
            sys::RPO_ERR_SIZE => Err(Error::Size),
            sys::RPO_ERR_PARAM => Err(Error::Param),
            sys::RPO_ERR_NONFINITE => Err(Error::NonFinite),
            sys::RPO_ERR_NOMEM => Err(Error::NoMemory),
            sys::RPO_ERR_UNSUPPORTED => Err(Error::Unsupported),
            sys::RPO_ERR_RANGE => Err(Error::Range),
            other => Err(Error::Other(other)),
        }
    }

    /// The `RPO_ERR_*` value.
    pub fn code(&self) -> i32 {
        match *self {
            Error::NullPointer => sys::RPO_ERR_NULL_POINTER,
            Error::Size => sys::RPO_ERR_SIZE,
            Error::Param => sys::RPO_ERR_PARAM,
            Error::NonFinite => sys::RPO_ERR_NONFINITE,
            Error::NoMemory => sys::RPO_ERR_NOMEM,
            Error::Unsupported => sys::RPO_ERR_UNSUPPORTED,
            Error::Range => sys::RPO_ERR_RANGE,
            Error::Other(code) => code,
        }
    }

    /// librpo's own description (`rpo_status_string`).
    pub fn message(&self) -> &'static str {
        // SAFETY: rpo_status_string returns a static, NUL-terminated string
        // for every code, never NULL.
        unsafe { CStr::from_ptr(sys::rpo_status_string(self.code())) }
            .to_str()
            .unwrap_or("librpo status message is not UTF-8")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "librpo status {}: {}", self.code(), self.message())
    }
}

impl std::error::Error for Error {}
