//! Packed sequences (librpo 1.3): sequence log-probs over one stream of
//! tokens that concatenates the sequences without padding, given by B + 1
//! offsets (the `cu_seqlens` of FlashAttention and TRL).
use std::os::raw::c_int;

use crate::context::{opt_ptr, Context};
use crate::error::{size_error, Error};
use crate::real::Real;
use crate::sys::{self, rpo_ctx};
use crate::tokens::SeqReduce;

/// B, from the B + 1 offsets, and the mask's length checked against T.
fn sequences(offsets: &[i64], mask: Option<&[u8]>, t: usize) -> Result<usize, Error> {
    if offsets.is_empty() {
        return Err(size_error("offsets is empty: B sequences need B + 1 offsets".to_string()));
    }
    if let Some(m) = mask {
        if m.len() != t {
            return Err(size_error(format!("mask has {} entries, the stream {t} tokens",
                                          m.len())));
        }
    }
    Ok(offsets.len() - 1)
}

impl Context {
    /// `seq_logps[b]`: the sum (or mean) of `token_logps[k]` over sequence
    /// b's tokens, `offsets[b] <= k < offsets[b + 1]`, those whose `mask`
    /// entry is nonzero (all when None). Offsets out of order or past the
    /// stream are `ErrorKind::Size` with librpo's detail.
    ///
    /// ```
    /// let tokens = [-1.0, -2.0, -9.0, -0.5, -0.5];
    /// let offsets = [0i64, 2, 5];               // sequences [0, 2) and [2, 5)
    /// let mut seq = [0.0; 2];
    /// let mut ctx = rpo::Context::new()?;
    /// ctx.packed_seq_logps(&offsets, &tokens, None, rpo::SeqReduce::Sum, &mut seq)?;
    /// assert_eq!(seq, [-3.0, -10.0]);
    /// let err = ctx.packed_seq_logps(&[0, 3, 2], &tokens, None, rpo::SeqReduce::Sum, &mut seq)
    ///     .unwrap_err();
    /// assert_eq!(err, rpo::ErrorKind::Size);
    /// # Ok::<(), rpo::Error>(())
    /// ```
    pub fn packed_seq_logps<T: PackedReal>(&mut self, offsets: &[i64], token_logps: &[T],
                                           mask: Option<&[u8]>, reduce: SeqReduce,
                                           seq_logps: &mut [T]) -> Result<(), Error> {
        let b = sequences(offsets, mask, token_logps.len())?;
        if seq_logps.len() != b {
            return Err(size_error(format!("seq_logps has {} entries, offsets give {b} \
                                           sequences", seq_logps.len())));
        }
        // SAFETY: offsets (B + 1), token_logps and mask (T), seq_logps (B).
        let status = unsafe {
            T::packed_seq_logps(self.raw(), b, token_logps.len(), offsets.as_ptr(),
                                token_logps.as_ptr(), opt_ptr(mask), reduce as c_int,
                                seq_logps.as_mut_ptr())
        };
        self.check(status)
    }

    /// The backward of [`Context::packed_seq_logps`]: WRITES every entry of
    /// `dtoken_logps` (the stream's T): `dseq_logps[b]` (over the count for
    /// the mean) for each counted token of sequence b, 0 elsewhere.
    pub fn packed_seq_logps_backward<T: PackedReal>(&mut self, offsets: &[i64],
                                                    mask: Option<&[u8]>, reduce: SeqReduce,
                                                    dseq_logps: &[T], dtoken_logps: &mut [T])
                                                    -> Result<(), Error> {
        let b = sequences(offsets, mask, dtoken_logps.len())?;
        if dseq_logps.len() != b {
            return Err(size_error(format!("dseq_logps has {} entries, offsets give {b} \
                                           sequences", dseq_logps.len())));
        }
        // SAFETY: offsets (B + 1), mask and dtoken_logps (T), dseq_logps (B).
        let status = unsafe {
            T::packed_seq_logps_backward(self.raw(), b, dtoken_logps.len(), offsets.as_ptr(),
                                         opt_ptr(mask), reduce as c_int, dseq_logps.as_ptr(),
                                         dtoken_logps.as_mut_ptr())
        };
        self.check(status)
    }
}

/// f32 or f64 with the packed-sequence entry points.
#[doc(hidden)]
#[allow(clippy::missing_safety_doc, clippy::too_many_arguments)]
pub trait PackedReal: Real {
    unsafe fn packed_seq_logps(ctx: *mut rpo_ctx, b: usize, t: usize, offsets: *const i64,
                               token_logps: *const Self, mask: *const u8, reduce: c_int,
                               seq_logps: *mut Self) -> c_int;
    unsafe fn packed_seq_logps_backward(ctx: *mut rpo_ctx, b: usize, t: usize,
                                        offsets: *const i64, mask: *const u8, reduce: c_int,
                                        dseq_logps: *const Self, dtoken_logps: *mut Self)
                                        -> c_int;
}

macro_rules! packed_impl {
    ($t:ty, $fwd:ident, $bwd:ident) => {
        impl PackedReal for $t {
            unsafe fn packed_seq_logps(ctx: *mut rpo_ctx, b: usize, t: usize,
                                       offsets: *const i64, token_logps: *const Self,
                                       mask: *const u8, reduce: c_int,
                                       seq_logps: *mut Self) -> c_int {
                sys::$fwd(ctx, b, t, offsets, token_logps, mask, reduce, seq_logps)
            }
            unsafe fn packed_seq_logps_backward(ctx: *mut rpo_ctx, b: usize, t: usize,
                                                offsets: *const i64, mask: *const u8,
                                                reduce: c_int, dseq_logps: *const Self,
                                                dtoken_logps: *mut Self) -> c_int {
                sys::$bwd(ctx, b, t, offsets, mask, reduce, dseq_logps, dtoken_logps)
            }
        }
    };
}

packed_impl!(f32, rpo_packed_seq_logps_f32, rpo_packed_seq_logps_backward_f32);
packed_impl!(f64, rpo_packed_seq_logps_f64, rpo_packed_seq_logps_backward_f64);
