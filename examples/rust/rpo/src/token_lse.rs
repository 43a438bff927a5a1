//! The token helpers of librpo 1.3: the forward that also returns each
//! row's log-sum-exp, and the backward that takes it, accumulating or
//! overwriting, in place in the logits if asked
//! ([`Context::token_logps_backward_in_place`]).
use std::os::raw::c_int;

use crate::context::{opt_ptr, Context};
use crate::error::{size_error, Error};
use crate::real::Real;
use crate::sys::{self, rpo_ctx};
use crate::tokens::{check_logits, Logits};

/// How the backward writes dlogits (`RPO_GRAD_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GradWrite {
    /// `dlogits += g`, as [`Context::token_logps_backward`].
    Accumulate = 0,
    /// `dlogits = g`; rows without a target (or with dlogps 0) get zeros.
    Overwrite = 1,
}

fn one_per_row<T>(name: &str, x: &[T], rows: usize) -> Result<(), Error> {
    if x.len() == rows {
        Ok(())
    } else {
        Err(size_error(format!("{name} has {} entries, logits {rows} rows", x.len())))
    }
}

impl Context {
    /// [`Context::token_logps`] that also writes each row's log-sum-exp
    /// into `lse` (in f64 for both types; 0 for a row without target), for
    /// [`Context::token_logps_backward_lse`].
    pub fn token_logps_lse<T: TokenLseReal>(&mut self, logits: Logits<T>, targets: &[i32],
                                            logps: &mut [T], lse: &mut [f64])
                                            -> Result<(), Error> {
        check_logits(&logits, targets)?;
        one_per_row("logps", logps, logits.rows)?;
        one_per_row("lse", lse, logits.rows)?;
        // SAFETY: logits span, targets, logps and lse lengths checked above;
        // logps and lse are distinct &mut slices.
        let status = unsafe {
            T::token_logps_lse(self.raw(), logits.rows, logits.vocab, logits.stride,
                               logits.data.as_ptr(), targets.as_ptr(), logps.as_mut_ptr(),
                               lse.as_mut_ptr())
        };
        self.check(status)
    }

    /// The backward into a separate `dlogits` (laid out like the logits):
    /// `g = dlogps[t] * (onehot(targets[t]) - exp(logits[t] - lse[t]))`
    /// added or written as `write` says. `lse`: the forward's (each row
    /// then read once more rather than twice), or None.
    pub fn token_logps_backward_lse<T: TokenLseReal>(&mut self, logits: Logits<T>,
                                                     targets: &[i32], lse: Option<&[f64]>,
                                                     dlogps: &[T], dlogits: &mut [T],
                                                     write: GradWrite) -> Result<(), Error> {
        let need = check_logits(&logits, targets)?;
        one_per_row("dlogps", dlogps, logits.rows)?;
        if let Some(l) = lse {
            one_per_row("lse", l, logits.rows)?;
        }
        if dlogits.len() < need {
            return Err(size_error(format!("dlogits has {} entries, laid out like logits it \
                                           needs {need}", dlogits.len())));
        }
        // SAFETY: every length checked above; dlogits is &mut, so it
        // overlaps no input.
        let status = unsafe {
            T::token_logps_backward_lse(self.raw(), logits.rows, logits.vocab, logits.stride,
                                        logits.data.as_ptr(), targets.as_ptr(), opt_ptr(lse),
                                        dlogps.as_ptr(), dlogits.as_mut_ptr(), write as c_int)
        };
        self.check(status)
    }

    /// The backward that replaces the logits by their gradient (overwrite
    /// mode with dlogits = logits, as llm.c's fused classifier does): no
    /// second (rows, vocab) buffer. `logits` holds `targets.len()` rows of
    /// `vocab` entries, `stride` apart; the padding columns are untouched,
    /// rows without a target (or with dlogps 0) become zeros. On error
    /// nothing is written.
    #[allow(clippy::too_many_arguments)]
    pub fn token_logps_backward_in_place<T: TokenLseReal>(&mut self, logits: &mut [T],
                                                          vocab: usize, stride: usize,
                                                          targets: &[i32],
                                                          lse: Option<&[f64]>, dlogps: &[T])
                                                          -> Result<(), Error> {
        let rows = targets.len();
        check_logits(&Logits::with_stride(&*logits, rows, vocab, stride), targets)?;
        one_per_row("dlogps", dlogps, rows)?;
        if let Some(l) = lse {
            one_per_row("lse", l, rows)?;
        }
        let p = logits.as_mut_ptr();
        // SAFETY: lengths checked above; librpo reads and writes the one
        // array through both pointers, which RPO_GRAD_OVERWRITE allows.
        let status = unsafe {
            T::token_logps_backward_lse(self.raw(), rows, vocab, stride, p, targets.as_ptr(),
                                        opt_ptr(lse), dlogps.as_ptr(), p,
                                        sys::RPO_GRAD_OVERWRITE)
        };
        self.check(status)
    }
}

/// f32 or f64 with librpo 1.3's token entry points.
#[doc(hidden)]
#[allow(clippy::missing_safety_doc, clippy::too_many_arguments)]
pub trait TokenLseReal: Real {
    unsafe fn token_logps_lse(ctx: *mut rpo_ctx, t: usize, v: usize, stride: usize,
                              logits: *const Self, targets: *const i32, logps: *mut Self,
                              lse: *mut f64) -> c_int;
    unsafe fn token_logps_backward_lse(ctx: *mut rpo_ctx, t: usize, v: usize, stride: usize,
                                       logits: *const Self, targets: *const i32,
                                       lse: *const f64, dlogps: *const Self,
                                       dlogits: *mut Self, write: c_int) -> c_int;
}

macro_rules! token_lse_impl {
    ($t:ty, $fwd:ident, $bwd:ident) => {
        impl TokenLseReal for $t {
            unsafe fn token_logps_lse(ctx: *mut rpo_ctx, t: usize, v: usize, stride: usize,
                                      logits: *const Self, targets: *const i32,
                                      logps: *mut Self, lse: *mut f64) -> c_int {
                sys::$fwd(ctx, t, v, stride, logits, targets, logps, lse)
            }
            unsafe fn token_logps_backward_lse(ctx: *mut rpo_ctx, t: usize, v: usize,
                                               stride: usize, logits: *const Self,
                                               targets: *const i32, lse: *const f64,
                                               dlogps: *const Self, dlogits: *mut Self,
                                               write: c_int) -> c_int {
                sys::$bwd(ctx, t, v, stride, logits, targets, lse, dlogps, dlogits, write)
            }
        }
    };
}

token_lse_impl!(f32, rpo_token_logps_lse_f32, rpo_token_logps_backward_lse_f32);
token_lse_impl!(f64, rpo_token_logps_lse_f64, rpo_token_logps_backward_lse_f64);

// The enum's values are the C constants.
const _: () = assert!(sys::RPO_GRAD_ACCUMULATE == GradWrite::Accumulate as i32
    && sys::RPO_GRAD_OVERWRITE == GradWrite::Overwrite as i32);
