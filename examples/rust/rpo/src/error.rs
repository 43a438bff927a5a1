//! librpo's failures as a Rust error: the status's kind and, for a call on
//! a context, librpo's detail of what was wrong (`rpo_ctx_error_detail`).
use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_int;

use crate::sys;

/// What kind of failure: one variant per `RPO_ERR_*` status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// `RPO_ERR_NULL_POINTER`: a required array is missing (e.g. embedding
    /// weighting without embeddings).
    NullPointer,
    /// `RPO_ERR_SIZE`: a size breaks a rule of the call (lengths that must
    /// match, a zero or out-of-bounds size or index), or a size overflows.
    Size,
    /// `RPO_ERR_PARAM`: an unknown setting, a value outside its range, or
    /// settings that conflict.
    Param,
    /// `RPO_ERR_NONFINITE`: NaN or infinity in an input.
    NonFinite,
    /// `RPO_ERR_NOMEM`: librpo could not allocate its scratch memory.
    NoMemory,
    /// `RPO_ERR_UNSUPPORTED`: a valid request that these settings, this
    /// build or this CPU cannot serve.
    Unsupported,
    /// `RPO_ERR_RANGE`: the result does not fit the output type.
    Range,
    /// A status this crate does not know (a newer librpo's).
    Other(i32),
}

impl ErrorKind {
    /// The kind of a librpo status, `None` for `RPO_OK`.
    pub fn from_code(status: c_int) -> Option<ErrorKind> {
        match status {
            sys::RPO_OK => None,
            sys::RPO_ERR_NULL_POINTER => Some(ErrorKind::NullPointer),
            sys::RPO_ERR_SIZE => Some(ErrorKind::Size),
            sys::RPO_ERR_PARAM => Some(ErrorKind::Param),
            sys::RPO_ERR_NONFINITE => Some(ErrorKind::NonFinite),
            sys::RPO_ERR_NOMEM => Some(ErrorKind::NoMemory),
            sys::RPO_ERR_UNSUPPORTED => Some(ErrorKind::Unsupported),
            sys::RPO_ERR_RANGE => Some(ErrorKind::Range),
            other => Some(ErrorKind::Other(other)),
        }
    }

    /// The `RPO_ERR_*` value.
    pub fn code(&self) -> i32 {
        match *self {
            ErrorKind::NullPointer => sys::RPO_ERR_NULL_POINTER,
            ErrorKind::Size => sys::RPO_ERR_SIZE,
            ErrorKind::Param => sys::RPO_ERR_PARAM,
            ErrorKind::NonFinite => sys::RPO_ERR_NONFINITE,
            ErrorKind::NoMemory => sys::RPO_ERR_NOMEM,
            ErrorKind::Unsupported => sys::RPO_ERR_UNSUPPORTED,
            ErrorKind::Range => sys::RPO_ERR_RANGE,
            ErrorKind::Other(code) => code,
        }
    }

    /// librpo's general description of the status (`rpo_status_string`).
    pub fn message(&self) -> &'static str {
        // SAFETY: rpo_status_string returns a static, NUL-terminated string
        // for every code, never NULL.
        unsafe { CStr::from_ptr(sys::rpo_status_string(self.code())) }
            .to_str()
            .unwrap_or("librpo status message is not UTF-8")
    }
}

/// A failed librpo call: its [`ErrorKind`] and, when librpo or this crate
/// said more, the detail: which argument, which rule, the values. Display
/// shows the detail first.
///
/// ```
/// use rpo::{Context, ErrorKind, Inputs, Weighting};
/// let mut ctx = Context::new()?;
/// let err = ctx.set_beta(-1.0).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Param);
/// assert_eq!(err, ErrorKind::Param);   // an error compares with its kind
/// assert_eq!(err.code(), -3);
/// assert!(err.detail().contains("RPO_PARAM_BETA = -1"));
/// ctx.set_weighting(Weighting::Diagonal)?;
/// let err = ctx.loss(&Inputs::new(&[-1.0f64, -2.0, -3.0], &[-2.0, -1.0])).unwrap_err();
/// assert!(err.to_string().contains("DIAGONAL weighting needs m == n (m = 3, n = 2)"));
/// # Ok::<(), rpo::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Error {
    kind: ErrorKind,
    detail: String,
}

impl Error {
    /// An error of this kind with a detail.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Error {
        Error { kind, detail: detail.into() }
    }

    /// The error of a librpo status, `Ok(())` for `RPO_OK`, without a
    /// detail (for the functions that take no context).
    pub fn check(status: c_int) -> Result<(), Error> {
        match ErrorKind::from_code(status) {
            None => Ok(()),
            Some(kind) => Err(kind.into()),
        }
    }

    /// The error of a librpo call on `ctx`, with the context's detail.
    ///
    /// # Safety
    /// `ctx` must be a live context, not used by another thread meanwhile.
    pub(crate) unsafe fn check_ctx(status: c_int, ctx: *const sys::rpo_ctx) -> Result<(), Error> {
        match ErrorKind::from_code(status) {
            None => Ok(()),
            Some(kind) => {
                // SAFETY: rpo_ctx_error_detail never returns NULL, and its
                // text stays valid until the next call on ctx; it is
                // copied at once.
                let detail = CStr::from_ptr(sys::rpo_ctx_error_detail(ctx));
                Err(Error::new(kind, detail.to_string_lossy()))
            }
        }
    }

    /// What kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The `RPO_ERR_*` value.
    pub fn code(&self) -> i32 {
        self.kind.code()
    }

    /// librpo's general description of the status (`rpo_status_string`).
    pub fn message(&self) -> &'static str {
        self.kind.message()
    }

    /// What was wrong, in words ("" when nothing more is known).
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

/// A length this crate checks before calling librpo, which takes counts
/// and cannot see a slice's length.
pub(crate) fn size_error(detail: String) -> Error {
    Error::new(ErrorKind::Size, detail)
}

/// `x * y` as a length, or the error naming the product that overflows.
pub(crate) fn checked_len(x: usize, y: usize, what: &str) -> Result<usize, Error> {
    x.checked_mul(y)
        .ok_or_else(|| size_error(format!("{what} overflows usize ({x} * {y})")))
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error { kind, detail: String::new() }
    }
}

impl PartialEq<ErrorKind> for Error {
    fn eq(&self, kind: &ErrorKind) -> bool {
        self.kind == *kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            write!(f, "librpo status {}: {}", self.code(), self.message())
        } else {
            write!(f, "{} (librpo status {}: {})", self.detail, self.code(), self.message())
        }
    }
}

impl std::error::Error for Error {}
