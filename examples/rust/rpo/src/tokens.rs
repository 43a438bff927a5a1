//! Token-level helpers (librpo 1.1): per-token log-probs from logits and
//! the fused backward into dlogits, per-sequence log-probs from token ones
//! and its backward.
use std::ptr;

use crate::context::Context;
use crate::error::{Error, ErrorKind};
use crate::real::Real;
use crate::sys;

/// A (rows, vocab) matrix of logits whose row r starts at `r * stride`;
/// `stride >= vocab` lets rows be padded (e.g. a vocabulary rounded up).
#[derive(Debug, Clone, Copy)]
pub struct Logits<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub vocab: usize,
    pub stride: usize,
}

impl<'a, T> Logits<'a, T> {
    /// Contiguous rows: stride == vocab, rows = data.len() / vocab.
    pub fn new(data: &'a [T], vocab: usize) -> Self {
        let rows = if vocab == 0 { 0 } else { data.len() / vocab };
        Logits { data, rows, vocab, stride: vocab }
    }

    /// Rows spaced `stride` apart, the first `vocab` entries of each used.
    pub fn with_stride(data: &'a [T], rows: usize, vocab: usize, stride: usize) -> Self {
        Logits { data, rows, vocab, stride }
    }
}

/// The number of elements a (rows, vocab) matrix with this stride spans,
/// or None when it overflows.
fn span(rows: usize, vocab: usize, stride: usize) -> Option<usize> {
    if rows == 0 {
        return Some(0);
    }
    (rows - 1).checked_mul(stride)?.checked_add(vocab)
}

fn check_logits<T>(logits: &Logits<T>, targets: &[i32]) -> Result<(), Error> {
    let need = span(logits.rows, logits.vocab, logits.stride).ok_or(Error::from(ErrorKind::Size))?;
    if logits.data.len() < need || targets.len() != logits.rows || logits.stride < logits.vocab {
        return Err(Error::from(ErrorKind::Size));
    }
    Ok(())
}

/// How a sequence's token log-probs are reduced (`RPO_SEQ_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqReduce {
    /// The response's log-prob: what the loss expects.
    Sum = 0,
    /// Length-normalised; 0 for a sequence without tokens.
    Mean = 1,
}

impl Context {
    /// `logps[t] = log softmax(logits[t])[targets[t]]` by a stable
    /// log-softmax; a negative target means "no token" (log-prob 0).
    /// `targets` and `logps` have one entry per row.
    pub fn token_logps<T: Real>(&mut self, logits: Logits<T>, targets: &[i32],
                                logps: &mut [T]) -> Result<(), Error> {
        check_logits(&logits, targets)?;
        if logps.len() != logits.rows {
            return Err(Error::from(ErrorKind::Size));
        }
        // SAFETY: logits span, targets and logps lengths checked above.
        let status = unsafe {
            T::token_logps(self.raw(), logits.rows, logits.vocab, logits.stride,
                           logits.data.as_ptr(), targets.as_ptr(), logps.as_mut_ptr())
        };
        self.check(status)
    }

    /// Accumulates `dlogps[t] * (onehot(targets[t]) - softmax(logits[t]))`
    /// into `dlogits`, laid out like `logits` (same rows and stride).
    pub fn token_logps_backward<T: Real>(&mut self, logits: Logits<T>, targets: &[i32],
                                         dlogps: &[T], dlogits: &mut [T]) -> Result<(), Error> {
        check_logits(&logits, targets)?;
        let need = span(logits.rows, logits.vocab, logits.stride).ok_or(Error::from(ErrorKind::Size))?;
        if dlogps.len() != logits.rows || dlogits.len() < need {
            return Err(Error::from(ErrorKind::Size));
        }
        // SAFETY: every length checked above.
        let status = unsafe {
            T::token_logps_backward(self.raw(), logits.rows, logits.vocab, logits.stride,
                                    logits.data.as_ptr(), targets.as_ptr(),
                                    dlogps.as_ptr(), dlogits.as_mut_ptr())
        };
        self.check(status)
    }
}

fn mask_ptr(mask: Option<&[u8]>, len: usize) -> Result<*const u8, Error> {
    match mask {
        None => Ok(ptr::null()),
        Some(m) if m.len() == len => Ok(m.as_ptr()),
        Some(_) => Err(Error::from(ErrorKind::Size)),
    }
}

/// Per-sequence log-probs: `token_logps` holds `out.len()` rows of `len`
/// tokens; each row's entries where `mask` is nonzero (all when None) are
/// summed or averaged into `out`. Needs no context.
///
/// ```
/// let tokens = [-1.0, -2.0, -9.0,   -0.5, -0.5, -0.5];
/// let mask = [1, 1, 0,   1, 1, 1];
/// let mut seq = [0.0; 2];
/// rpo::seq_logps(&tokens, 3, Some(&mask), rpo::SeqReduce::Sum, &mut seq)?;
/// assert_eq!(seq, [-3.0, -1.5]);
/// # Ok::<(), rpo::Error>(())
/// ```
pub fn seq_logps<T: Real>(token_logps: &[T], len: usize, mask: Option<&[u8]>,
                          reduce: SeqReduce, out: &mut [T]) -> Result<(), Error> {
    let total = out.len().checked_mul(len).ok_or(Error::from(ErrorKind::Size))?;
    if token_logps.len() != total {
        return Err(Error::from(ErrorKind::Size));
    }
    let mask = mask_ptr(mask, total)?;
    // SAFETY: token_logps and mask hold out.len() * len entries.
    Error::check(unsafe {
        T::seq_logps(out.len(), len, token_logps.as_ptr(), mask, reduce as i32,
                     out.as_mut_ptr())
    })
}

/// The backward of [`seq_logps`]: writes (does not accumulate) every entry
/// of `dtoken_logps` (`dseq_logps.len()` rows of `len`).
pub fn seq_logps_backward<T: Real>(dseq_logps: &[T], len: usize, mask: Option<&[u8]>,
                                   reduce: SeqReduce, dtoken_logps: &mut [T]) -> Result<(), Error> {
    let total = dseq_logps.len().checked_mul(len).ok_or(Error::from(ErrorKind::Size))?;
    if dtoken_logps.len() != total {
        return Err(Error::from(ErrorKind::Size));
    }
    let mask = mask_ptr(mask, total)?;
    // SAFETY: dtoken_logps and mask hold dseq_logps.len() * len entries.
    Error::check(unsafe {
        T::seq_logps_backward(dseq_logps.len(), len, mask, reduce as i32,
                              dseq_logps.as_ptr(), dtoken_logps.as_mut_ptr())
    })
}

// The enum's values are the C constants.
const _: () = assert!(sys::RPO_SEQ_SUM == SeqReduce::Sum as i32
    && sys::RPO_SEQ_MEAN == SeqReduce::Mean as i32);
