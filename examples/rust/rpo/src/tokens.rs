//! Token-level helpers (librpo 1.1): per-token log-probs from logits and
//! the fused backward into dlogits, per-sequence log-probs from token ones
//! and its backward.
use std::ptr;

use crate::context::Context;
use crate::error::{checked_len, size_error, Error};
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

/// The number of elements the logits span, once their shape is checked.
pub(crate) fn check_logits<T>(logits: &Logits<T>, targets: &[i32]) -> Result<usize, Error> {
    let (rows, vocab, stride) = (logits.rows, logits.vocab, logits.stride);
    if stride < vocab {
        return Err(size_error(format!("stride = {stride} is below vocab = {vocab}")));
    }
    let need = span(rows, vocab, stride).ok_or_else(|| {
        size_error(format!("logits of {rows} rows of stride {stride} overflow usize"))
    })?;
    if logits.data.len() < need {
        return Err(size_error(format!("logits has {} entries, {rows} rows of stride {stride} \
                                       need {need}", logits.data.len())));
    }
    if targets.len() != rows {
        return Err(size_error(format!("targets has {} entries, logits {rows} rows",
                                      targets.len())));
    }
    Ok(need)
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
            return Err(size_error(format!("logps has {} entries, logits {} rows", logps.len(),
                                          logits.rows)));
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
        let need = check_logits(&logits, targets)?;
        if dlogps.len() != logits.rows {
            return Err(size_error(format!("dlogps has {} entries, logits {} rows", dlogps.len(),
                                          logits.rows)));
        }
        if dlogits.len() < need {
            return Err(size_error(format!("dlogits has {} entries, laid out like logits it \
                                           needs {need}", dlogits.len())));
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
        Some(m) => Err(size_error(format!("mask has {} entries, want {len}", m.len()))),
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
    let total = checked_len(out.len(), len, "out.len() * len")?;
    if token_logps.len() != total {
        return Err(size_error(format!("token_logps has {} entries, want {} x {len}",
                                      token_logps.len(), out.len())));
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
    let total = checked_len(dseq_logps.len(), len, "dseq_logps.len() * len")?;
    if dtoken_logps.len() != total {
        return Err(size_error(format!("dtoken_logps has {} entries, want {} x {len}",
                                      dtoken_logps.len(), dseq_logps.len())));
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
