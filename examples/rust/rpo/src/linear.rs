//! Fused linear log-probs (librpo 1.3): per-token log-probs from the final
//! hidden states and the LM head, and their backward, without ever holding
//! the T x V logits ([`Context::linear_logps`]).
use std::os::raw::c_int;

use crate::context::{opt_ptr, out_ptr, rows_match, Context, Param};
use crate::error::{size_error, Error};
use crate::real::Real;
use crate::sys::{self, rpo_ctx};

/// The output projection: `vocab` rows of `hidden_size` weights, row v
/// starting at `v * stride` (`stride >= hidden_size`: a slice of a wider
/// matrix, tied embeddings), and an optional bias (`vocab`).
#[derive(Debug, Clone, Copy)]
pub struct LinearHead<'a, T> {
    pub weight: &'a [T],
    pub vocab: usize,
    pub hidden_size: usize,
    pub stride: usize,
    pub bias: Option<&'a [T]>,
}

impl<'a, T> LinearHead<'a, T> {
    /// Contiguous rows: stride == hidden_size, vocab = weight.len() / hidden_size.
    pub fn new(weight: &'a [T], hidden_size: usize) -> Self {
        let vocab = if hidden_size == 0 { 0 } else { weight.len() / hidden_size };
        LinearHead { weight, vocab, hidden_size, stride: hidden_size, bias: None }
    }

    /// Rows spaced `stride` apart, the first `hidden_size` entries of each used.
    pub fn with_stride(weight: &'a [T], vocab: usize, hidden_size: usize, stride: usize) -> Self {
        LinearHead { weight, vocab, hidden_size, stride, bias: None }
    }

    pub fn bias(mut self, bias: &'a [T]) -> Self {
        self.bias = Some(bias);
        self
    }

    /// The entries the rows span (what `weight` and `dweight` must hold),
    /// once the shape is checked.
    fn span(&self) -> Result<usize, Error> {
        let (v, h, ld) = (self.vocab, self.hidden_size, self.stride);
        if ld < h {
            return Err(size_error(format!("stride = {ld} is below hidden_size = {h}")));
        }
        let need = if v == 0 {
            Some(0)
        } else {
            (v - 1).checked_mul(ld).and_then(|x| x.checked_add(h))
        }
        .ok_or_else(|| size_error(format!("{v} weight rows of stride {ld} overflow usize")))?;
        if self.weight.len() < need {
            return Err(size_error(format!("weight has {} entries, {v} rows of stride {ld} \
                                           need {need}", self.weight.len())));
        }
        if let Some(b) = self.bias {
            if b.len() != v {
                return Err(size_error(format!("bias has {} entries, want vocab = {v}",
                                              b.len())));
            }
        }
        Ok(need)
    }
}

/// The backward's outputs, ACCUMULATED into (`+=`), as librpo does.
#[derive(Debug)]
pub struct LinearGrads<'a, T> {
    /// (T, hidden_size)
    pub dhidden: &'a mut [T],
    /// laid out like the head's weight (its stride); the padding is never touched
    pub dweight: &'a mut [T],
    /// (vocab), or None: not wanted
    pub dbias: Option<&'a mut [T]>,
}

/// The shape checks the forward and the backward share: hidden holds one
/// row of hidden_size per target; returns the weight's span.
fn check_inputs<T>(head: &LinearHead<T>, hidden: &[T], targets: &[i32]) -> Result<usize, Error> {
    let need = head.span()?;
    rows_match("hidden", hidden, targets.len(), head.hidden_size)?;
    Ok(need)
}

fn same_len<T>(name: &str, x: &[T], len: usize) -> Result<(), Error> {
    if x.len() == len {
        Ok(())
    } else {
        Err(size_error(format!("{name} has {} entries, want {len} (one per target)", x.len())))
    }
}

impl Context {
    /// Per-token log-probs through the LM head:
    /// `logps[t] = log softmax(hidden[t] W^T + bias)[targets[t]]`, a
    /// negative target meaning "no token" (log-prob 0, lse 0). `lse`, if
    /// given, receives each row's log-sum-exp in T (librpo's double lse
    /// rounded once), all [`Context::linear_logps_backward`] needs. The
    /// logits are formed a chunk of [`Context::set_linear_chunk`] tokens by
    /// words at a time and never held whole.
    pub fn linear_logps<T: LinearReal>(&mut self, head: &LinearHead<T>, hidden: &[T],
                                       targets: &[i32], logps: &mut [T],
                                       lse: Option<&mut [T]>) -> Result<(), Error> {
        check_inputs(head, hidden, targets)?;
        let t = targets.len();
        same_len("logps", logps, t)?;
        let lse = out_ptr("lse", lse, t)?;
        // SAFETY: every slice's length checked above against (T, H, V, stride).
        let status = unsafe {
            T::linear_logps(self.raw(), t, head.hidden_size, head.vocab, hidden.as_ptr(),
                            head.weight.as_ptr(), head.stride, opt_ptr(head.bias),
                            targets.as_ptr(), logps.as_mut_ptr(), lse)
        };
        self.check(status)
    }

    /// The backward of [`Context::linear_logps`], accumulated into `grads`:
    /// with `g[t, v] = dlogps[t] * (onehot(targets[t]) - softmax(logits[t]))`,
    /// `dhidden += g W`, `dweight += g^T hidden`, `dbias += sum_t g`.
    /// `lse`: the forward's on the same inputs, or None (computed again).
    /// Tokens without a target or with `dlogps[t] == 0` are skipped.
    pub fn linear_logps_backward<T: LinearReal>(&mut self, head: &LinearHead<T>,
                                                hidden: &[T], targets: &[i32],
                                                lse: Option<&[T]>, dlogps: &[T],
                                                grads: LinearGrads<'_, T>)
                                                -> Result<(), Error> {
        let need = check_inputs(head, hidden, targets)?;
        let t = targets.len();
        same_len("dlogps", dlogps, t)?;
        if let Some(l) = lse {
            same_len("lse", l, t)?;
        }
        rows_match("dhidden", grads.dhidden, t, head.hidden_size)?;
        if grads.dweight.len() < need {
            return Err(size_error(format!("dweight has {} entries, laid out like weight it \
                                           needs {need}", grads.dweight.len())));
        }
        let dbias = out_ptr("dbias", grads.dbias, head.vocab)?;
        // SAFETY: every slice's length checked above; the outputs are
        // &mut, so they overlap neither each other nor the inputs.
        let status = unsafe {
            T::linear_logps_backward(self.raw(), t, head.hidden_size, head.vocab,
                                     hidden.as_ptr(), head.weight.as_ptr(), head.stride,
                                     opt_ptr(head.bias), targets.as_ptr(), opt_ptr(lse),
                                     dlogps.as_ptr(), grads.dhidden.as_mut_ptr(),
                                     grads.dweight.as_mut_ptr(), dbias)
        };
        self.check(status)
    }

    /// Tokens and words per chunk of logits, 16 to 4096 (librpo 1.3;
    /// default 256): the fused path's extra memory grows with it, and its
    /// results change with it by rounding only.
    pub fn set_linear_chunk(&mut self, chunk: u32) -> Result<(), Error> {
        self.set(Param(sys::RPO_PARAM_LINEAR_CHUNK), f64::from(chunk))
    }

    pub fn linear_chunk(&self) -> Result<u32, Error> {
        Ok(self.get(Param(sys::RPO_PARAM_LINEAR_CHUNK))? as u32)
    }
}

/// f32 or f64 with the fused linear entry points.
#[doc(hidden)]
#[allow(clippy::missing_safety_doc, clippy::too_many_arguments)]
pub trait LinearReal: Real {
    unsafe fn linear_logps(ctx: *mut rpo_ctx, t: usize, h: usize, v: usize,
                           hidden: *const Self, weight: *const Self, ldw: usize,
                           bias: *const Self, targets: *const i32, logps: *mut Self,
                           lse: *mut Self) -> c_int;
    unsafe fn linear_logps_backward(ctx: *mut rpo_ctx, t: usize, h: usize, v: usize,
                                    hidden: *const Self, weight: *const Self, ldw: usize,
                                    bias: *const Self, targets: *const i32,
                                    lse: *const Self, dlogps: *const Self,
                                    dhidden: *mut Self, dweight: *mut Self,
                                    dbias: *mut Self) -> c_int;
}

macro_rules! linear_impl {
    ($t:ty, $fwd:ident, $bwd:ident) => {
        impl LinearReal for $t {
            unsafe fn linear_logps(ctx: *mut rpo_ctx, t: usize, h: usize, v: usize,
                                   hidden: *const Self, weight: *const Self, ldw: usize,
                                   bias: *const Self, targets: *const i32,
                                   logps: *mut Self, lse: *mut Self) -> c_int {
                sys::$fwd(ctx, t, h, v, hidden, weight, ldw, bias, targets, logps, lse)
            }
            unsafe fn linear_logps_backward(ctx: *mut rpo_ctx, t: usize, h: usize,
                                            v: usize, hidden: *const Self,
                                            weight: *const Self, ldw: usize,
                                            bias: *const Self, targets: *const i32,
                                            lse: *const Self, dlogps: *const Self,
                                            dhidden: *mut Self, dweight: *mut Self,
                                            dbias: *mut Self) -> c_int {
                sys::$bwd(ctx, t, h, v, hidden, weight, ldw, bias, targets, lse, dlogps,
                          dhidden, dweight, dbias)
            }
        }
    };
}

linear_impl!(f32, rpo_linear_logps_f32, rpo_linear_logps_backward_f32);
linear_impl!(f64, rpo_linear_logps_f64, rpo_linear_logps_backward_f64);

