//! librpo 1.3's objectives (docs/objectives.md): weighted lists of terms
//! (TRL's `loss_type` lists with `loss_weights`) on the contrast matrix,
//! with lengths, sample weights, f-divergences and per-row losses, and
//! KTO. [`Objective`] gathers the arrays, [`Context::objective`] runs it.
use std::os::raw::c_int;
use std::ptr;

use crate::context::{opt_ptr, Context, Inputs, Param};
use crate::error::{size_error, Error};
use crate::real::Real;
use crate::sys::{self, rpo_batch, rpo_ctx, rpo_results};

/// A term of the list (`RPO_LOSS_*`), TRL's `loss_type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Term {
    Sigmoid = 0, Hinge = 1, Ipo = 2, Robust = 3, ExoPair = 4, BcoPair = 5,
    SppoHard = 6, NcaPair = 7, ApoZero = 8, ApoDown = 9, Discopop = 10,
    SigmoidNorm = 11, Simpo = 12, Orpo = 13, Sft = 14, Kto = 15,
    ApoZeroUnpaired = 16,
}

/// TRL's `f_divergence_type` (`RPO_FDIV_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum FDivergence { ReverseKl = 0, ForwardKl = 1, Js = 2, Alpha = 3 }

/// The arrays of one objective call besides those of [`Inputs`]; every
/// optional one is `None` by default.
#[derive(Debug, Clone, Copy)]
pub struct Objective<'a, T> {
    pub inputs: Inputs<'a, T>,
    /// (M) and (N) completion token counts.
    pub lengths: Option<(&'a [T], &'a [T])>,
    /// (M) and (N) sample weights: pair (i, j) is weighed by their product.
    pub sample_weights: Option<(&'a [T], &'a [T])>,
    /// (term, weight) pairs; empty: the context's loss alone.
    pub terms: &'a [(Term, f64)],
    /// KTO's mismatched pairs: policy and (optionally) reference log-probs.
    pub kl_pairs: Option<(&'a [T], Option<&'a [T]>)>,
    /// KTO's kl gathered by the caller (unclamped mean).
    pub kl: Option<T>,
}

impl<'a, T: Real> Objective<'a, T> {
    pub fn new(inputs: Inputs<'a, T>, terms: &'a [(Term, f64)]) -> Self {
        Objective { inputs, lengths: None, sample_weights: None, terms, kl_pairs: None, kl: None }
    }
    pub fn lengths(mut self, chosen: &'a [T], rejected: &'a [T]) -> Self {
        self.lengths = Some((chosen, rejected));
        self
    }
    pub fn sample_weights(mut self, chosen: &'a [T], rejected: &'a [T]) -> Self {
        self.sample_weights = Some((chosen, rejected));
        self
    }
    pub fn kl_pairs(mut self, policy: &'a [T], reference: Option<&'a [T]>) -> Self {
        self.kl_pairs = Some((policy, reference));
        self
    }
}

/// What an objective call returns.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveOut<T> {
    pub loss: T,
    pub grad_chosen: Vec<T>,
    pub grad_rejected: Vec<T>,
    /// Per sequence: M for a list (mean: the MEAN loss), M + N for KTO.
    pub losses: Vec<T>,
    pub chosen_rewards: Vec<T>,
    pub rejected_rewards: Vec<T>,
}

#[doc(hidden)]
#[allow(clippy::missing_safety_doc)]
pub trait ObjectiveReal: Real {
    unsafe fn objective(ctx: *mut rpo_ctx, b: *const rpo_batch<Self>,
                        r: *mut rpo_results<Self>) -> c_int;
}
impl ObjectiveReal for f32 {
    unsafe fn objective(ctx: *mut rpo_ctx, b: *const rpo_batch<f32>,
                        r: *mut rpo_results<f32>) -> c_int {
        sys::rpo_objective_f32(ctx, b, r)
    }
}
impl ObjectiveReal for f64 {
    unsafe fn objective(ctx: *mut rpo_ctx, b: *const rpo_batch<f64>,
                        r: *mut rpo_results<f64>) -> c_int {
        sys::rpo_objective_f64(ctx, b, r)
    }
}

fn same_len<T>(x: &[T], len: usize) -> Result<(), Error> {
    if x.len() == len {
        Ok(())
    } else {
        Err(size_error(format!("an array holds {} values where {len} are needed", x.len())))
    }
}

impl Context {
    /// Runs the objective: the loss, gradients with respect to the policy
    /// log-probs, per-sequence losses and rewards. Slice lengths are
    /// checked here; librpo checks the rest (`ErrorKind::Param` for an unknown
    /// or misplaced term, a negative length or weight, ...).
    pub fn objective<T: ObjectiveReal>(&mut self, o: &Objective<'_, T>)
                                       -> Result<ObjectiveOut<T>, Error> {
        let i = &o.inputs;
        i.check()?;
        let (m, n) = (i.m(), i.n());
        let (d, ce, re) = i.embedding_args();
        let (lc, lr) = o.lengths.map_or((None, None), |(c, r)| (Some(c), Some(r)));
        let (wc, wr) = o.sample_weights.map_or((None, None), |(c, r)| (Some(c), Some(r)));
        for (x, len) in [(lc, m), (lr, n), (wc, m), (wr, n)] {
            if let Some(x) = x {
                same_len(x, len)?;
            }
        }
        let (pk, rk) = o.kl_pairs.map_or((None, None), |(p, r)| (Some(p), r));
        let k = pk.map_or(0, <[T]>::len);
        if let Some(rk) = rk {
            same_len(rk, k)?;
        }
        if o.terms.len() > sys::RPO_MAX_TERMS {
            return Err(size_error(format!("{} terms, more than RPO_MAX_TERMS = {}",
                                          o.terms.len(), sys::RPO_MAX_TERMS)));
        }
        let losses: Vec<c_int> = o.terms.iter().map(|t| t.0 as c_int).collect();
        let weights: Vec<f64> = o.terms.iter().map(|t| t.1).collect();
        let unpaired = matches!(o.terms.first(), Some((Term::Kto | Term::ApoZeroUnpaired, _)));
        let kl = o.kl;
        let batch = rpo_batch {
            size: std::mem::size_of::<rpo_batch<T>>(),
            m, n, d,
            policy_chosen: i.policy_chosen.as_ptr(),
            ref_chosen: opt_ptr(i.ref_chosen),
            policy_rejected: i.policy_rejected.as_ptr(),
            ref_rejected: opt_ptr(i.ref_rejected),
            chosen_emb: ce,
            rejected_emb: re,
            weights: ptr::null(),
            chosen_lengths: opt_ptr(lc),
            rejected_lengths: opt_ptr(lr),
            chosen_weights: opt_ptr(wc),
            rejected_weights: opt_ptr(wr),
            terms: losses.len(),
            term_losses: if losses.is_empty() { ptr::null() } else { losses.as_ptr() },
            term_weights: if weights.is_empty() { ptr::null() } else { weights.as_ptr() },
            k,
            policy_kl: opt_ptr(pk),
            ref_kl: opt_ptr(rk),
            kl: kl.as_ref().map_or(ptr::null(), |x| x as *const T),
            sft_tokens: ptr::null(),
            losses_grad: ptr::null(),
        };
        let mut out = ObjectiveOut {
            loss: T::default(),
            grad_chosen: vec![T::default(); m],
            grad_rejected: vec![T::default(); n],
            losses: vec![T::default(); if unpaired { m + n } else { m }],
            chosen_rewards: vec![T::default(); m],
            rejected_rewards: vec![T::default(); n],
        };
        let mut results = rpo_results {
            size: std::mem::size_of::<rpo_results<T>>(),
            loss: &mut out.loss,
            grad_chosen: out.grad_chosen.as_mut_ptr(),
            grad_rejected: out.grad_rejected.as_mut_ptr(),
            grad_chosen_emb: ptr::null_mut(),
            grad_rejected_emb: ptr::null_mut(),
            losses: out.losses.as_mut_ptr(),
            chosen_rewards: out.chosen_rewards.as_mut_ptr(),
            rejected_rewards: out.rejected_rewards.as_mut_ptr(),
            partial_stats: ptr::null_mut(),
        };
        // SAFETY: every pointer is a live slice of the length the batch
        // states (checked above) or NULL; the outputs are sized likewise.
        Error::check(unsafe { T::objective(self.raw(), &batch, &mut results) })?;
        Ok(out)
    }

    /// The margin gamma of simpo, sigmoid and sigmoid_norm (TRL's `simpo_gamma`).
    pub fn set_simpo_gamma(&mut self, gamma: f64) -> Result<(), Error> {
        self.set(Param(sys::RPO_PARAM_SIMPO_GAMMA), gamma)
    }
    /// TRL's `f_divergence_type`.
    pub fn set_f_divergence(&mut self, f: FDivergence) -> Result<(), Error> {
        self.set(Param(sys::RPO_PARAM_F_DIVERGENCE), f as i32 as f64)
    }
    /// TRL's `f_alpha_divergence_coef`.
    pub fn set_f_alpha(&mut self, alpha: f64) -> Result<(), Error> {
        self.set(Param(sys::RPO_PARAM_F_ALPHA), alpha)
    }
    /// KTO's desirable and undesirable weights.
    pub fn set_kto_weights(&mut self, desirable: f64, undesirable: f64) -> Result<(), Error> {
        self.set(Param(sys::RPO_PARAM_DESIRABLE_WEIGHT), desirable)?;
        self.set(Param(sys::RPO_PARAM_UNDESIRABLE_WEIGHT), undesirable)
    }
    /// KTO's kl of the last successful objective call.
    pub fn last_kl(&self) -> Result<f64, Error> {
        self.stat(sys::RPO_STAT_KL)
    }
}
