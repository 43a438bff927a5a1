//! `Real`: the element types librpo computes in (f32 and f64), each tied to
//! its set of entry points, so the safe wrapper is written once.
use std::os::raw::c_int;

use crate::sys::{self, rpo_ctx};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// f32 or f64. Sealed: librpo has entry points for these two only.
#[allow(clippy::missing_safety_doc, clippy::too_many_arguments)]
pub trait Real:
    Copy + Default + PartialEq + std::fmt::Debug + Into<f64> + sealed::Sealed + 'static
{
    #[doc(hidden)]
    unsafe fn loss(ctx: *mut rpo_ctx, m: usize, pc: *const Self, rc: *const Self,
                   n: usize, pr: *const Self, rr: *const Self, d: usize,
                   ce: *const Self, re: *const Self, loss: *mut Self,
                   gc: *mut Self, gr: *mut Self) -> c_int;
    #[doc(hidden)]
    unsafe fn weights(ctx: *mut rpo_ctx, m: usize, n: usize, d: usize,
                      ce: *const Self, re: *const Self, w: *mut Self) -> c_int;
    #[doc(hidden)]
    unsafe fn loss_weighted(ctx: *mut rpo_ctx, m: usize, pc: *const Self,
                            rc: *const Self, n: usize, pr: *const Self,
                            rr: *const Self, w: *const Self, loss: *mut Self,
                            gc: *mut Self, gr: *mut Self) -> c_int;
    #[doc(hidden)]
    unsafe fn token_logps(ctx: *mut rpo_ctx, t: usize, v: usize, stride: usize,
                          logits: *const Self, targets: *const i32,
                          logps: *mut Self) -> c_int;
    #[doc(hidden)]
    unsafe fn token_logps_backward(ctx: *mut rpo_ctx, t: usize, v: usize,
                                   stride: usize, logits: *const Self,
                                   targets: *const i32, dlogps: *const Self,
                                   dlogits: *mut Self) -> c_int;
    #[doc(hidden)]
    unsafe fn seq_logps(b: usize, t: usize, x: *const Self, mask: *const u8,
                        reduce: c_int, out: *mut Self) -> c_int;
    #[doc(hidden)]
    unsafe fn seq_logps_backward(b: usize, t: usize, mask: *const u8,
                                 reduce: c_int, dseq: *const Self,
                                 dtoken: *mut Self) -> c_int;
    #[doc(hidden)]
    unsafe fn loss_embed_grad(ctx: *mut rpo_ctx, m: usize, pc: *const Self,
                              rc: *const Self, n: usize, pr: *const Self,
                              rr: *const Self, d: usize, ce: *const Self,
                              re: *const Self, loss: *mut Self, gc: *mut Self,
                              gr: *mut Self, gce: *mut Self, gre: *mut Self) -> c_int;
    #[doc(hidden)]
    unsafe fn loss_rows(ctx: *mut rpo_ctx, m_total: usize, row_offset: usize,
                        m: usize, pc: *const Self, rc: *const Self, n: usize,
                        pr: *const Self, rr: *const Self, d: usize,
                        ce: *const Self, re: *const Self, gc: *mut Self,
                        gce: *mut Self, stats: *mut Self, gr: *mut Self,
                        gre: *mut Self) -> c_int;
    #[doc(hidden)]
    unsafe fn loss_rows_weighted(ctx: *mut rpo_ctx, m_total: usize,
                                 row_offset: usize, m: usize, pc: *const Self,
                                 rc: *const Self, n: usize, pr: *const Self,
                                 rr: *const Self, w: *const Self, gc: *mut Self,
                                 stats: *mut Self, gr: *mut Self) -> c_int;
    #[doc(hidden)]
    unsafe fn related_batches(ctx: *mut rpo_ctx, p: usize, d: usize,
                              embeddings: *const Self, batch_size: usize,
                              seed: u64, order: *mut usize) -> c_int;
}

macro_rules! real_impl {
    ($t:ty, $loss:ident, $weights:ident, $weighted:ident, $tok:ident,
     $tok_back:ident, $seq:ident, $seq_back:ident, $embed_grad:ident,
     $rows:ident, $rows_weighted:ident, $related:ident) => {
        impl Real for $t {
            unsafe fn loss(ctx: *mut rpo_ctx, m: usize, pc: *const Self, rc: *const Self,
                           n: usize, pr: *const Self, rr: *const Self, d: usize,
                           ce: *const Self, re: *const Self, loss: *mut Self,
                           gc: *mut Self, gr: *mut Self) -> c_int {
                sys::$loss(ctx, m, pc, rc, n, pr, rr, d, ce, re, loss, gc, gr)
            }
            unsafe fn weights(ctx: *mut rpo_ctx, m: usize, n: usize, d: usize,
                              ce: *const Self, re: *const Self, w: *mut Self) -> c_int {
                sys::$weights(ctx, m, n, d, ce, re, w)
            }
            unsafe fn loss_weighted(ctx: *mut rpo_ctx, m: usize, pc: *const Self,
                                    rc: *const Self, n: usize, pr: *const Self,
                                    rr: *const Self, w: *const Self, loss: *mut Self,
                                    gc: *mut Self, gr: *mut Self) -> c_int {
                sys::$weighted(ctx, m, pc, rc, n, pr, rr, w, loss, gc, gr)
            }
            unsafe fn token_logps(ctx: *mut rpo_ctx, t: usize, v: usize, stride: usize,
                                  logits: *const Self, targets: *const i32,
                                  logps: *mut Self) -> c_int {
                sys::$tok(ctx, t, v, stride, logits, targets, logps)
            }
            unsafe fn token_logps_backward(ctx: *mut rpo_ctx, t: usize, v: usize,
                                           stride: usize, logits: *const Self,
                                           targets: *const i32, dlogps: *const Self,
                                           dlogits: *mut Self) -> c_int {
                sys::$tok_back(ctx, t, v, stride, logits, targets, dlogps, dlogits)
            }
            unsafe fn seq_logps(b: usize, t: usize, x: *const Self, mask: *const u8,
                                reduce: c_int, out: *mut Self) -> c_int {
                sys::$seq(b, t, x, mask, reduce, out)
            }
            unsafe fn seq_logps_backward(b: usize, t: usize, mask: *const u8,
                                         reduce: c_int, dseq: *const Self,
                                         dtoken: *mut Self) -> c_int {
                sys::$seq_back(b, t, mask, reduce, dseq, dtoken)
            }
            unsafe fn loss_embed_grad(ctx: *mut rpo_ctx, m: usize, pc: *const Self,
                                      rc: *const Self, n: usize, pr: *const Self,
                                      rr: *const Self, d: usize, ce: *const Self,
                                      re: *const Self, loss: *mut Self, gc: *mut Self,
                                      gr: *mut Self, gce: *mut Self,
                                      gre: *mut Self) -> c_int {
                sys::$embed_grad(ctx, m, pc, rc, n, pr, rr, d, ce, re, loss, gc, gr,
                                 gce, gre)
            }
            unsafe fn loss_rows(ctx: *mut rpo_ctx, m_total: usize, row_offset: usize,
                                m: usize, pc: *const Self, rc: *const Self, n: usize,
                                pr: *const Self, rr: *const Self, d: usize,
                                ce: *const Self, re: *const Self, gc: *mut Self,
                                gce: *mut Self, stats: *mut Self, gr: *mut Self,
                                gre: *mut Self) -> c_int {
                sys::$rows(ctx, m_total, row_offset, m, pc, rc, n, pr, rr, d, ce, re,
                           gc, gce, stats, gr, gre)
            }
            unsafe fn loss_rows_weighted(ctx: *mut rpo_ctx, m_total: usize,
                                         row_offset: usize, m: usize, pc: *const Self,
                                         rc: *const Self, n: usize, pr: *const Self,
                                         rr: *const Self, w: *const Self,
                                         gc: *mut Self, stats: *mut Self,
                                         gr: *mut Self) -> c_int {
                sys::$rows_weighted(ctx, m_total, row_offset, m, pc, rc, n, pr, rr, w,
                                    gc, stats, gr)
            }
            unsafe fn related_batches(ctx: *mut rpo_ctx, p: usize, d: usize,
                                      embeddings: *const Self, batch_size: usize,
                                      seed: u64, order: *mut usize) -> c_int {
                sys::$related(ctx, p, d, embeddings, batch_size, seed, order)
            }
        }
    };
}

real_impl!(f32, rpo_loss_f32, rpo_weights_f32, rpo_loss_weighted_f32,
           rpo_token_logps_f32, rpo_token_logps_backward_f32,
           rpo_seq_logps_f32, rpo_seq_logps_backward_f32, rpo_loss_embed_grad_f32,
           rpo_loss_rows_f32, rpo_loss_rows_weighted_f32, rpo_related_batches_f32);
real_impl!(f64, rpo_loss_f64, rpo_weights_f64, rpo_loss_weighted_f64,
           rpo_token_logps_f64, rpo_token_logps_backward_f64,
           rpo_seq_logps_f64, rpo_seq_logps_backward_f64, rpo_loss_embed_grad_f64,
           rpo_loss_rows_f64, rpo_loss_rows_weighted_f64, rpo_related_batches_f64);
