//! The context: settings, scratch memory and the last call's metrics; and
//! the loss, weight and weighted-loss calls.
use std::os::raw::c_int;
use std::ptr::{self, NonNull};

use crate::error::{checked_len, size_error, Error, ErrorKind};
use crate::real::Real;
use crate::sys;

/// A setting's key (`RPO_PARAM_*`). New settings of later librpo versions
/// are new constants here (those since 1.1 beside their typed setters, in
/// settings.rs); [`Context::set`] and [`Context::get`] take any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Param(pub i32);

impl Param {
    pub const WEIGHTING: Param = Param(sys::RPO_PARAM_WEIGHTING);
    pub const BETA: Param = Param(sys::RPO_PARAM_BETA);
    pub const TAU: Param = Param(sys::RPO_PARAM_TAU);
    pub const ALPHA: Param = Param(sys::RPO_PARAM_ALPHA);
    pub const PLACEMENT: Param = Param(sys::RPO_PARAM_PLACEMENT);
    pub const REDUCTION: Param = Param(sys::RPO_PARAM_REDUCTION);
}

/// How the M x N contrasts are weighted (`RPO_WEIGHTING_*` of librpo 1.0).
///
/// librpo 1.2's optimal-transport weighting (`RPO_WEIGHTING_SINKHORN`) is
/// not a variant, so that `match`es written for this enum keep compiling:
/// set it with [`Context::set_sinkhorn_weighting`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weighting {
    /// Every contrast alike: W_ij = 1/N.
    Uniform = 0,
    /// alpha on the true pairs, the rest shared (paired data; alpha 1 is DPO).
    Diagonal = 1,
    /// A softmax over the prompts' embedding distance, temperature tau.
    Embedding = 2,
}

/// Where the weights enter the loss (`RPO_PLACEMENT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placement {
    /// Logit for embedding weights, loss for the others.
    Auto = 0,
    Logit = 1,
    Loss = 2,
}

/// The reduction over chosen rows (`RPO_REDUCTION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reduction {
    Mean = 0,
    /// M times the mean, for trainers that normalise across micro-batches.
    Sum = 1,
}

/// Metrics of the last successful loss call, weighted by W.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Metrics {
    pub loss: f64,
    pub reward_chosen: f64,
    pub reward_rejected: f64,
    pub margin: f64,
    pub accuracy: f64,
}

/// Prompt embeddings, row-major, `dim` numbers per row.
#[derive(Debug, Clone, Copy)]
pub enum Embeddings<'a, T> {
    /// None: for uniform and diagonal weighting.
    None,
    /// Paired data: one (M, dim) matrix for both sides (M == N).
    Paired { chosen: &'a [T], dim: usize },
    /// Unpaired data: (M, dim) for the chosen side, (N, dim) for the rejected.
    Unpaired { chosen: &'a [T], rejected: &'a [T], dim: usize },
}

/// The arrays of one loss call: per-sequence log-probs of M chosen and N
/// rejected responses under the policy and (optionally) the reference, and
/// the prompts' embeddings.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a, T> {
    pub policy_chosen: &'a [T],
    pub policy_rejected: &'a [T],
    /// None: reference-free (zeros).
    pub ref_chosen: Option<&'a [T]>,
    pub ref_rejected: Option<&'a [T]>,
    pub embeddings: Embeddings<'a, T>,
}

impl<'a, T: Real> Inputs<'a, T> {
    /// Policy log-probs only: reference-free, no embeddings.
    pub fn new(policy_chosen: &'a [T], policy_rejected: &'a [T]) -> Self {
        Inputs {
            policy_chosen,
            policy_rejected,
            ref_chosen: None,
            ref_rejected: None,
            embeddings: Embeddings::None,
        }
    }

    /// With the reference model's log-probs.
    pub fn reference(mut self, ref_chosen: &'a [T], ref_rejected: &'a [T]) -> Self {
        self.ref_chosen = Some(ref_chosen);
        self.ref_rejected = Some(ref_rejected);
        self
    }

    /// With paired prompt embeddings (M, dim).
    pub fn paired_embeddings(mut self, chosen: &'a [T], dim: usize) -> Self {
        self.embeddings = Embeddings::Paired { chosen, dim };
        self
    }

    /// With unpaired prompt embeddings (M, dim) and (N, dim).
    pub fn unpaired_embeddings(mut self, chosen: &'a [T], rejected: &'a [T], dim: usize) -> Self {
        self.embeddings = Embeddings::Unpaired { chosen, rejected, dim };
        self
    }

    pub(crate) fn m(&self) -> usize {
        self.policy_chosen.len()
    }

    pub(crate) fn n(&self) -> usize {
        self.policy_rejected.len()
    }

    /// Lengths the C API cannot see (it takes counts, not slices).
    pub(crate) fn check(&self) -> Result<(), Error> {
        let (m, n) = (self.m(), self.n());
        if let Some(r) = self.ref_chosen.filter(|r| r.len() != m) {
            return Err(size_error(format!("ref_chosen has {} entries, policy_chosen {m}",
                                          r.len())));
        }
        if let Some(r) = self.ref_rejected.filter(|r| r.len() != n) {
            return Err(size_error(format!("ref_rejected has {} entries, policy_rejected {n}",
                                          r.len())));
        }
        match self.embeddings {
            Embeddings::None => Ok(()),
            Embeddings::Paired { chosen, dim } => rows_match("chosen_emb", chosen, m, dim),
            Embeddings::Unpaired { chosen, rejected, dim } => {
                rows_match("chosen_emb", chosen, m, dim)?;
                rows_match("rejected_emb", rejected, n, dim)
            }
        }
    }

    /// (d, chosen, rejected) pointers for the C call.
    pub(crate) fn embedding_args(&self) -> (usize, *const T, *const T) {
        match self.embeddings {
            Embeddings::None => (0, ptr::null(), ptr::null()),
            Embeddings::Paired { chosen, dim } => (dim, chosen.as_ptr(), ptr::null()),
            Embeddings::Unpaired { chosen, rejected, dim } => {
                (dim, chosen.as_ptr(), rejected.as_ptr())
            }
        }
    }
}

/// `x` (called `name`) must hold rows x dim entries.
pub(crate) fn rows_match<T>(name: &str, x: &[T], rows: usize, dim: usize) -> Result<(), Error> {
    if checked_len(rows, dim, name)? == x.len() {
        Ok(())
    } else {
        Err(size_error(format!("{name} has {} entries, want {rows} x {dim}", x.len())))
    }
}

pub(crate) fn opt_ptr<T>(x: Option<&[T]>) -> *const T {
    x.map_or(ptr::null(), <[T]>::as_ptr)
}

/// The pointer of an output (called `name`) of len entries; NULL for None.
pub(crate) fn out_ptr<T>(name: &str, x: Option<&mut [T]>, len: usize) -> Result<*mut T, Error> {
    match x {
        None => Ok(ptr::null_mut()),
        Some(s) if s.len() == len => Ok(s.as_mut_ptr()),
        Some(s) => Err(size_error(format!("{name} has {} entries, want {len}", s.len()))),
    }
}

/// The result of [`Context::loss`].
#[derive(Debug, Clone, PartialEq)]
pub struct Loss<T> {
    pub loss: T,
    /// dL/d policy_chosen (M); dL/d ref_chosen is its negative.
    pub grad_chosen: Vec<T>,
    /// dL/d policy_rejected (N); dL/d ref_rejected is its negative.
    pub grad_rejected: Vec<T>,
    pub metrics: Metrics,
}

/// librpo's context (`rpo_ctx`): settings, scratch memory that is reused
/// from call to call, and the metrics of the last call.
///
/// A context may move to another thread (`Send`) but not be shared between
/// threads (`!Sync`): librpo allows one thread per context at a time, and
/// every call takes `&mut self`.
///
/// ```compile_fail
/// fn shared<T: Sync>() {}
/// shared::<rpo::Context>(); // a Context is not Sync
/// ```
#[derive(Debug)]
pub struct Context {
    ptr: NonNull<sys::rpo_ctx>,
}

// SAFETY: librpo keeps no thread-local or global state; a context may be
// used from any thread, one at a time, which `&mut self` guarantees.
unsafe impl Send for Context {}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: ptr came from rpo_ctx_create and is freed once.
        unsafe { sys::rpo_ctx_free(self.ptr.as_ptr()) }
    }
}

impl Context {
    /// A context with the default settings (embedding weighting, beta 0.1,
    /// tau 0.5, alpha 0.8, automatic placement, mean reduction, one thread,
    /// the sigmoid loss without label smoothing, row-sum logit scale).
    pub fn new() -> Result<Context, Error> {
        // SAFETY: no arguments; NULL means out of memory.
        let ptr = unsafe { sys::rpo_ctx_create() };
        NonNull::new(ptr)
            .map(|ptr| Context { ptr })
            .ok_or_else(|| Error::new(ErrorKind::NoMemory, "rpo_ctx_create could not allocate a context"))
    }

    /// The error of a status librpo returned for a call on this context,
    /// with the detail librpo recorded.
    pub(crate) fn check(&self, status: c_int) -> Result<(), Error> {
        // SAFETY: the context is alive and, through &self, not in use.
        unsafe { Error::check_ctx(status, self.ptr.as_ptr()) }
    }

    pub(crate) fn raw(&mut self) -> *mut sys::rpo_ctx {
        self.ptr.as_ptr()
    }

    /// Sets any setting by key; `Err(ErrorKind::Param)` keeps the old value.
    pub fn set(&mut self, param: Param, value: f64) -> Result<(), Error> {
        // SAFETY: a valid context.
        let status = unsafe { sys::rpo_ctx_set(self.raw(), param.0, value) };
        self.check(status)
    }

    /// Reads any setting by key.
    pub fn get(&self, param: Param) -> Result<f64, Error> {
        let mut value = 0.0;
        // SAFETY: a valid context and a valid out pointer.
        Error::check(unsafe { sys::rpo_ctx_get(self.ptr.as_ptr(), param.0, &mut value) })?;
        Ok(value)
    }

    /// The inclusive range librpo accepts for a setting.
    pub fn bounds(param: Param) -> Result<(f64, f64), Error> {
        let (mut lo, mut hi) = (0.0, 0.0);
        // SAFETY: valid out pointers.
        Error::check(unsafe { sys::rpo_param_bounds(param.0, &mut lo, &mut hi) })?;
        Ok((lo, hi))
    }

    pub fn set_weighting(&mut self, weighting: Weighting) -> Result<(), Error> {
        self.set(Param::WEIGHTING, weighting as i32 as f64)
    }

    pub fn set_beta(&mut self, beta: f64) -> Result<(), Error> {
        self.set(Param::BETA, beta)
    }

    pub fn set_tau(&mut self, tau: f64) -> Result<(), Error> {
        self.set(Param::TAU, tau)
    }

    pub fn set_alpha(&mut self, alpha: f64) -> Result<(), Error> {
        self.set(Param::ALPHA, alpha)
    }

    pub fn set_placement(&mut self, placement: Placement) -> Result<(), Error> {
        self.set(Param::PLACEMENT, placement as i32 as f64)
    }

    pub fn set_reduction(&mut self, reduction: Reduction) -> Result<(), Error> {
        self.set(Param::REDUCTION, reduction as i32 as f64)
    }

    /// One metric (`RPO_STAT_*`) of the last successful loss call.
    pub(crate) fn stat(&self, key: c_int) -> Result<f64, Error> {
        let mut value = 0.0;
        // SAFETY: a valid context and a valid out pointer.
        Error::check(unsafe { sys::rpo_ctx_stat(self.ptr.as_ptr(), key, &mut value) })?;
        Ok(value)
    }

    /// Metrics of the last successful loss call (zeros before the first).
    pub fn metrics(&self) -> Metrics {
        let stat = |key: c_int| {
            let mut v = 0.0;
            // SAFETY: a valid context, a known stat, a valid out pointer.
            let status = unsafe { sys::rpo_ctx_stat(self.ptr.as_ptr(), key, &mut v) };
            debug_assert_eq!(status, sys::RPO_OK);
            v
        };
        Metrics {
            loss: stat(sys::RPO_STAT_LOSS),
            reward_chosen: stat(sys::RPO_STAT_REWARD_CHOSEN),
            reward_rejected: stat(sys::RPO_STAT_REWARD_REJECTED),
            margin: stat(sys::RPO_STAT_MARGIN),
            accuracy: stat(sys::RPO_STAT_ACCURACY),
        }
    }

    /// The loss, both gradients and the metrics (`rpo_loss_f32`/`_f64`).
    pub fn loss<T: Real>(&mut self, inputs: &Inputs<T>) -> Result<Loss<T>, Error> {
        let mut grad_chosen = vec![T::default(); inputs.m()];
        let mut grad_rejected = vec![T::default(); inputs.n()];
        let loss = self.loss_into(inputs, Some(&mut grad_chosen), Some(&mut grad_rejected))?;
        Ok(Loss { loss, grad_chosen, grad_rejected, metrics: self.metrics() })
    }

    /// The loss, with the gradients written into the caller's slices (M)
    /// and (N); `None` skips a gradient (both `None`: a loss-only call that
    /// does not pay for gradients). Allocates nothing once the context's
    /// scratch has grown to the batch size.
    pub fn loss_into<T: Real>(&mut self, inputs: &Inputs<T>,
                              grad_chosen: Option<&mut [T]>,
                              grad_rejected: Option<&mut [T]>) -> Result<T, Error> {
        inputs.check()?;
        let gc = out_ptr("grad_chosen", grad_chosen, inputs.m())?;
        let gr = out_ptr("grad_rejected", grad_rejected, inputs.n())?;
        let (d, ce, re) = inputs.embedding_args();
        let mut loss = T::default();
        // SAFETY: every pointer is valid for the length the call reads or
        // writes: checked above against M, N and D.
        let status = unsafe {
            T::loss(self.raw(), inputs.m(), inputs.policy_chosen.as_ptr(),
                    opt_ptr(inputs.ref_chosen), inputs.n(),
                    inputs.policy_rejected.as_ptr(), opt_ptr(inputs.ref_rejected),
                    d, ce, re, &mut loss, gc, gr)
        };
        self.check(status)?;
        Ok(loss)
    }

    /// The weight matrix W (M x N, row-major) of the context's weighting
    /// (`rpo_weights_f32`/`_f64`). Embedding weighting reads `embeddings`,
    /// whose rows must number M (and N); the others ignore it.
    pub fn weights<T: Real>(&mut self, m: usize, n: usize,
                            embeddings: Embeddings<T>) -> Result<Vec<T>, Error> {
        let len = checked_len(m, n, "m * n")?;
        let (d, ce, re) = match embeddings {
            Embeddings::None => (0, ptr::null(), ptr::null()),
            Embeddings::Paired { chosen, dim } => {
                rows_match("chosen_emb", chosen, m, dim)?;
                (dim, chosen.as_ptr(), ptr::null())
            }
            Embeddings::Unpaired { chosen, rejected, dim } => {
                rows_match("chosen_emb", chosen, m, dim)?;
                rows_match("rejected_emb", rejected, n, dim)?;
                (dim, chosen.as_ptr(), rejected.as_ptr())
            }
        };
        let mut w = vec![T::default(); len];
        // SAFETY: embeddings checked against (M, d) and (N, d); w has M * N.
        let status = unsafe { T::weights(self.raw(), m, n, d, ce, re, w.as_mut_ptr()) };
        self.check(status)?;
        Ok(w)
    }

    /// The loss over the caller's own weights (M x N, row-major; any finite
    /// values) instead of the context's weighting (`rpo_loss_weighted_*`).
    /// The inputs' embeddings are ignored.
    pub fn loss_weighted<T: Real>(&mut self, inputs: &Inputs<T>,
                                  weights: &[T]) -> Result<Loss<T>, Error> {
        inputs.check()?;
        rows_match("weights", weights, inputs.m(), inputs.n())?;
        let mut loss = T::default();
        let mut grad_chosen = vec![T::default(); inputs.m()];
        let mut grad_rejected = vec![T::default(); inputs.n()];
        // SAFETY: lengths checked above.
        let status = unsafe {
            T::loss_weighted(self.raw(), inputs.m(), inputs.policy_chosen.as_ptr(),
                             opt_ptr(inputs.ref_chosen), inputs.n(),
                             inputs.policy_rejected.as_ptr(),
                             opt_ptr(inputs.ref_rejected), weights.as_ptr(),
                             &mut loss, grad_chosen.as_mut_ptr(),
                             grad_rejected.as_mut_ptr())
        };
        self.check(status)?;
        Ok(Loss { loss, grad_chosen, grad_rejected, metrics: self.metrics() })
    }
}
