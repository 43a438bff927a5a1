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
    /// The incoming gradient of each per-sequence loss (M for a list, M + N
    /// for KTO, chosen first): the gradients returned are then those of
    /// `sum_i g_i losses_i` (`batch.losses_grad`).
    pub losses_grad: Option<&'a [T]>,
    /// SFT's chosen token count over all row blocks (`batch.sft_tokens`).
    pub sft_tokens: Option<T>,
}

impl<'a, T: Real> Objective<'a, T> {
    pub fn new(inputs: Inputs<'a, T>, terms: &'a [(Term, f64)]) -> Self {
        Objective { inputs, lengths: None, sample_weights: None, terms, kl_pairs: None, kl: None,
                    losses_grad: None, sft_tokens: None }
    }
    pub fn kl(mut self, kl: T) -> Self {
        self.kl = Some(kl);
        self
    }
    pub fn losses_grad(mut self, g: &'a [T]) -> Self {
        self.losses_grad = Some(g);
        self
    }
    pub fn sft_tokens(mut self, tokens: T) -> Self {
        self.sft_tokens = Some(tokens);
        self
    }
    /// KTO or APO_ZERO_UNPAIRED: M + N per-sequence losses.
    pub(crate) fn unpaired(&self) -> bool {
        matches!(self.terms.first(), Some((Term::Kto | Term::ApoZeroUnpaired, _)))
    }
    /// The number of per-sequence losses: M, or M + N when unpaired.
    pub(crate) fn rows(&self) -> usize {
        let (m, n) = (self.inputs.m(), self.inputs.n());
        if self.unpaired() { m + n } else { m }
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
    unsafe fn objective_rows(ctx: *mut rpo_ctx, m_total: usize, row_offset: usize,
                             b: *const rpo_batch<Self>, r: *mut rpo_results<Self>) -> c_int;
}
impl ObjectiveReal for f32 {
    unsafe fn objective(ctx: *mut rpo_ctx, b: *const rpo_batch<f32>,
                        r: *mut rpo_results<f32>) -> c_int {
        sys::rpo_objective_f32(ctx, b, r)
    }
    unsafe fn objective_rows(ctx: *mut rpo_ctx, m_total: usize, row_offset: usize,
                             b: *const rpo_batch<f32>, r: *mut rpo_results<f32>) -> c_int {
        sys::rpo_objective_rows_f32(ctx, m_total, row_offset, b, r)
    }
}
impl ObjectiveReal for f64 {
    unsafe fn objective(ctx: *mut rpo_ctx, b: *const rpo_batch<f64>,
                        r: *mut rpo_results<f64>) -> c_int {
        sys::rpo_objective_f64(ctx, b, r)
    }
    unsafe fn objective_rows(ctx: *mut rpo_ctx, m_total: usize, row_offset: usize,
                             b: *const rpo_batch<f64>, r: *mut rpo_results<f64>) -> c_int {
        sys::rpo_objective_rows_f64(ctx, m_total, row_offset, b, r)
    }
}

fn same_len<T>(x: &[T], len: usize) -> Result<(), Error> {
    if x.len() == len {
        Ok(())
    } else {
        Err(size_error(format!("an array holds {} values where {len} are needed", x.len())))
    }
}

/// An objective's arrays checked against M and N, with the term list in
/// the layout librpo reads; [`Prepared::batch`] points into it.
pub(crate) struct Prepared<'o, 'a, T> {
    o: &'o Objective<'a, T>,
    losses: Vec<c_int>,
    weights: Vec<f64>,
}

impl<'o, 'a, T: Real> Prepared<'o, 'a, T> {
    /// Slice lengths are checked here; librpo checks the rest.
    pub(crate) fn new(o: &'o Objective<'a, T>) -> Result<Self, Error> {
        let i = &o.inputs;
        i.check()?;
        let (m, n) = (i.m(), i.n());
        for (x, len) in [(o.lengths.map(|l| l.0), m), (o.lengths.map(|l| l.1), n),
                         (o.sample_weights.map(|w| w.0), m), (o.sample_weights.map(|w| w.1), n),
                         (o.losses_grad, o.rows())] {
            if let Some(x) = x {
                same_len(x, len)?;
            }
        }
        if let Some((pk, Some(rk))) = o.kl_pairs {
            same_len(rk, pk.len())?;
        }
        if o.terms.len() > sys::RPO_MAX_TERMS {
            return Err(size_error(format!("{} terms, more than RPO_MAX_TERMS = {}",
                                          o.terms.len(), sys::RPO_MAX_TERMS)));
        }
        Ok(Prepared { o,
                      losses: o.terms.iter().map(|t| t.0 as c_int).collect(),
                      weights: o.terms.iter().map(|t| t.1).collect() })
    }

    /// The batch descriptor: every pointer a live slice of the length it
    /// states (checked in `new`) or NULL, valid while `self` is.
    pub(crate) fn batch(&self) -> rpo_batch<T> {
        let (o, i) = (self.o, &self.o.inputs);
        let (d, ce, re) = i.embedding_args();
        let (lc, lr) = o.lengths.map_or((None, None), |(c, r)| (Some(c), Some(r)));
        let (wc, wr) = o.sample_weights.map_or((None, None), |(c, r)| (Some(c), Some(r)));
        let (pk, rk) = o.kl_pairs.map_or((None, None), |(p, r)| (Some(p), r));
        let scalar = |x: &Option<T>| x.as_ref().map_or(ptr::null(), |x| x as *const T);
        rpo_batch {
            size: std::mem::size_of::<rpo_batch<T>>(),
            m: i.m(), n: i.n(), d,
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
            terms: self.losses.len(),
            term_losses: if self.losses.is_empty() { ptr::null() } else { self.losses.as_ptr() },
            term_weights: if self.weights.is_empty() { ptr::null() } else { self.weights.as_ptr() },
            k: pk.map_or(0, <[T]>::len),
            policy_kl: opt_ptr(pk),
            ref_kl: opt_ptr(rk),
            kl: scalar(&o.kl),
            sft_tokens: scalar(&o.sft_tokens),
            losses_grad: opt_ptr(o.losses_grad),
        }
    }
}

/// A results descriptor whose pointers are all NULL.
pub(crate) fn empty_results<T>() -> rpo_results<T> {
    rpo_results {
        size: std::mem::size_of::<rpo_results<T>>(),
        loss: ptr::null_mut(),
        grad_chosen: ptr::null_mut(),
        grad_rejected: ptr::null_mut(),
        grad_chosen_emb: ptr::null_mut(),
        grad_rejected_emb: ptr::null_mut(),
        losses: ptr::null_mut(),
        chosen_rewards: ptr::null_mut(),
        rejected_rewards: ptr::null_mut(),
        partial_stats: ptr::null_mut(),
    }
}

impl<T: Real> ObjectiveOut<T> {
    /// Zeros of the sizes an objective `o` fills.
    pub(crate) fn sized(o: &Objective<'_, T>) -> Self {
        let (m, n) = (o.inputs.m(), o.inputs.n());
        ObjectiveOut {
            loss: T::default(),
            grad_chosen: vec![T::default(); m],
            grad_rejected: vec![T::default(); n],
            losses: vec![T::default(); o.rows()],
            chosen_rewards: vec![T::default(); m],
            rejected_rewards: vec![T::default(); n],
        }
    }

    /// `results` pointing at these outputs.
    pub(crate) fn point(&mut self, results: &mut rpo_results<T>) {
        results.grad_chosen = self.grad_chosen.as_mut_ptr();
        results.grad_rejected = self.grad_rejected.as_mut_ptr();
        results.losses = self.losses.as_mut_ptr();
        results.chosen_rewards = self.chosen_rewards.as_mut_ptr();
        results.rejected_rewards = self.rejected_rewards.as_mut_ptr();
    }
}

impl Context {
    /// Runs the objective: the loss, gradients with respect to the policy
    /// log-probs, per-sequence losses and rewards. Slice lengths are
    /// checked here; librpo checks the rest (`ErrorKind::Param` for an unknown
    /// or misplaced term, a zero or negative length, a negative weight, ...).
    pub fn objective<T: ObjectiveReal>(&mut self, o: &Objective<'_, T>)
                                       -> Result<ObjectiveOut<T>, Error> {
        let prepared = Prepared::new(o)?;
        let batch = prepared.batch();
        let mut out = ObjectiveOut::sized(o);
        let mut results = empty_results();
        out.point(&mut results);
        results.loss = &mut out.loss;
        // SAFETY: every pointer is a live slice of the length the batch
        // states (checked by Prepared) or NULL; the outputs are sized likewise.
        let status = unsafe { T::objective(self.raw(), &batch, &mut results) };
        self.check(status)?;
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
