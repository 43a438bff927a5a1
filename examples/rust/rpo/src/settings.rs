//! The settings added after librpo 1.0: threads (1.1), and the loss family,
//! logit scale and optimal-transport weights of 1.2 (docs/extensions.md), with
//! the statistics of the last Sinkhorn run.
//!
//! Each setter checks nothing itself: librpo owns the ranges
//! ([`Context::bounds`]) and answers `Err(ErrorKind::Param)` outside them,
//! keeping the old value. Each getter returns a `Result` because a librpo
//! older than the setting answers `Err(ErrorKind::Param)` for its key.
use std::fmt;
use std::str::FromStr;

use crate::context::{Context, Param};
use crate::error::{Error, ErrorKind};
use crate::sys;

impl Param {
    /// Threads per call, an integer in [1, 256] (librpo 1.1).
    pub const THREADS: Param = Param(sys::RPO_PARAM_THREADS);
    /// The per-pair function, a [`LossType`] (librpo 1.2).
    pub const LOSS: Param = Param(sys::RPO_PARAM_LOSS);
    /// Label smoothing epsilon in [0, 0.5) (librpo 1.2).
    pub const LABEL_SMOOTHING: Param = Param(sys::RPO_PARAM_LABEL_SMOOTHING);
    /// DiscoPOP's temperature > 0 (librpo 1.2).
    pub const DISCOPOP_TAU: Param = Param(sys::RPO_PARAM_DISCOPOP_TAU);
    /// The factor on W inside the logit, a [`LogitScale`] (librpo 1.2).
    pub const LOGIT_SCALE: Param = Param(sys::RPO_PARAM_LOGIT_SCALE);
    /// Most Sinkhorn iterations, an integer in [1, 1e6] (librpo 1.2).
    pub const SINKHORN_ITERS: Param = Param(sys::RPO_PARAM_SINKHORN_ITERS);
    /// Sinkhorn's column-marginal tolerance in [0, 1] (librpo 1.2).
    pub const SINKHORN_TOL: Param = Param(sys::RPO_PARAM_SINKHORN_TOL);
}

/// The per-pair function f(a_i, b_j) applied to every contrast
/// (`RPO_LOSS_*`, librpo 1.2), named and numbered as TRL's `loss_type`;
/// docs/extensions.md gives each formula. With `x = beta (a - b)`:
///
/// ```
/// use rpo::{Context, Inputs, LossType, Weighting};
///
/// let mut ctx = Context::new()?;
/// ctx.set_weighting(Weighting::Uniform)?;
/// ctx.set_loss_type("hinge".parse()?)?;          // TRL's name, or
/// ctx.set_loss_type(LossType::Hinge)?;           // the variant
/// assert_eq!(ctx.loss_type()?.name(), "hinge");
/// // hinge: max(0, 1 - x); here x = 0.1 * (2 - 0) = 0.2
/// let out = ctx.loss(&Inputs::new(&[2.0f64], &[0.0]))?;
/// assert!((out.loss - 0.8).abs() < 1e-15);
/// # Ok::<(), rpo::Error>(())
/// ```
///
/// Non-exhaustive: a later librpo may add members.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LossType {
    /// `(1-eps) sp(-x) + eps sp(x)`: DPO, conservative DPO with label
    /// smoothing eps; the paper's loss and the default.
    Sigmoid = 0,
    /// `max(0, 1 - x)` (RSO).
    Hinge = 1,
    /// `(a - b - 1/(2 beta))^2` (IPO).
    Ipo = 2,
    /// `((1-eps) sp(-x) - eps sp(x)) / (1 - 2 eps)`: unbiased under label
    /// flips at rate eps.
    Robust = 3,
    /// `KL(s(x) || 1 - eps)` (EXO); needs label smoothing eps > 0.
    ExoPair = 4,
    /// `sp(-beta a) + sp(beta b)` (BCO).
    BcoPair = 5,
    /// `(a - 1/(2 beta))^2 + (b + 1/(2 beta))^2` (SPPO).
    SppoHard = 6,
    /// `sp(-beta a) + sp(beta a)/2 + sp(beta b)/2` (NCA).
    NcaPair = 7,
    /// `s(-beta a) + s(beta b)` (APO-zero).
    ApoZero = 8,
    /// `s(beta a) + s(-x)` (APO-down).
    ApoDown = 9,
    /// `sp(-x) s(-x/tau) + exp(-x) s(x/tau)`, tau = DISCOPOP_TAU (DiscoPOP).
    DiscoPop = 10,
}

/// Every loss type, in `RPO_LOSS_*` order, with TRL's name.
const LOSS_TYPES: [(LossType, &str); 11] = [
    (LossType::Sigmoid, "sigmoid"),
    (LossType::Hinge, "hinge"),
    (LossType::Ipo, "ipo"),
    (LossType::Robust, "robust"),
    (LossType::ExoPair, "exo_pair"),
    (LossType::BcoPair, "bco_pair"),
    (LossType::SppoHard, "sppo_hard"),
    (LossType::NcaPair, "nca_pair"),
    (LossType::ApoZero, "apo_zero"),
    (LossType::ApoDown, "apo_down"),
    (LossType::DiscoPop, "discopop"),
];

impl LossType {
    /// Every loss type this crate knows, in `RPO_LOSS_*` order.
    pub fn all() -> impl Iterator<Item = LossType> {
        LOSS_TYPES.iter().map(|&(loss, _)| loss)
    }

    /// TRL's `loss_type` name ("sigmoid", "exo_pair", ...).
    pub fn name(self) -> &'static str {
        LOSS_TYPES[self as usize].1
    }

    fn from_value(value: f64) -> Option<LossType> {
        LOSS_TYPES.iter().map(|&(loss, _)| loss).find(|&loss| loss as i32 as f64 == value)
    }
}

impl fmt::Display for LossType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// From TRL's `loss_type` name; `Err(ErrorKind::Param)` for any other string.
impl FromStr for LossType {
    type Err = Error;

    fn from_str(name: &str) -> Result<LossType, Error> {
        LOSS_TYPES.iter().find(|&&(_, n)| n == name).map(|&(loss, _)| loss).ok_or_else(|| {
            let names: Vec<&str> = LOSS_TYPES.iter().map(|&(_, n)| n).collect();
            Error::new(ErrorKind::Param,
                       format!("{name:?} is not a loss_type: one of {}", names.join(", ")))
        })
    }
}

/// The factor k on W inside the logit, `f(k W_ij a_i, k W_ij b_j)`
/// (`RPO_LOGIT_SCALE_*`, librpo 1.2). LOGIT placement only; LOSS placement
/// ignores it. Non-exhaustive: a later librpo may add scales.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogitScale {
    /// k = 1: rows of W sum to 1, as in the paper's code; the logit shrinks
    /// like 1/N as N grows. The default.
    RowSum = 0,
    /// k = N: rows of k W average 1, so beta keeps its meaning at any N
    /// (uniform weights give the mean of f over all pairs).
    RowMean = 1,
}

/// The last Sinkhorn run of a context (`RPO_STAT_SINKHORN_*`): that of the
/// last successful call that computed a Sinkhorn plan; zeros after a loss
/// call with another weighting.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SinkhornRun {
    /// Iterations performed.
    pub iterations: u32,
    /// `max_j |N sum_i W_ij / M - 1|` of the weights returned: how far the
    /// plan's columns are from their marginal.
    pub error: f64,
}

// The enums' values are the C constants.
const _: () = assert!(sys::RPO_LOSS_SIGMOID == LossType::Sigmoid as i32
    && sys::RPO_LOSS_HINGE == LossType::Hinge as i32
    && sys::RPO_LOSS_IPO == LossType::Ipo as i32
    && sys::RPO_LOSS_ROBUST == LossType::Robust as i32
    && sys::RPO_LOSS_EXO_PAIR == LossType::ExoPair as i32
    && sys::RPO_LOSS_BCO_PAIR == LossType::BcoPair as i32
    && sys::RPO_LOSS_SPPO_HARD == LossType::SppoHard as i32
    && sys::RPO_LOSS_NCA_PAIR == LossType::NcaPair as i32
    && sys::RPO_LOSS_APO_ZERO == LossType::ApoZero as i32
    && sys::RPO_LOSS_APO_DOWN == LossType::ApoDown as i32
    && sys::RPO_LOSS_DISCOPOP == LossType::DiscoPop as i32
    && sys::RPO_LOGIT_SCALE_ROW_SUM == LogitScale::RowSum as i32
    && sys::RPO_LOGIT_SCALE_ROW_MEAN == LogitScale::RowMean as i32);

impl Context {
    /// Threads per call, 1 to 256 (librpo 1.1; default 1). Results are
    /// bitwise identical for every count; small problems stay on the
    /// caller's thread.
    pub fn set_threads(&mut self, threads: u32) -> Result<(), Error> {
        self.set(Param::THREADS, f64::from(threads))
    }

    pub fn threads(&self) -> Result<u32, Error> {
        Ok(self.get(Param::THREADS)? as u32)
    }

    /// The per-pair function (librpo 1.2; default [`LossType::Sigmoid`]).
    pub fn set_loss_type(&mut self, loss: LossType) -> Result<(), Error> {
        self.set(Param::LOSS, loss as i32 as f64)
    }

    /// The per-pair function; `Err(ErrorKind::Unsupported)` for a value of a
    /// newer librpo that this crate has no variant for.
    pub fn loss_type(&self) -> Result<LossType, Error> {
        let value = self.get(Param::LOSS)?;
        LossType::from_value(value).ok_or_else(|| newer_value("RPO_PARAM_LOSS", value))
    }

    /// Label smoothing eps in [0, 0.5) of [`LossType::Sigmoid`] (cDPO),
    /// [`LossType::Robust`] and [`LossType::ExoPair`] (librpo 1.2; default
    /// 0; the other loss types ignore it).
    pub fn set_label_smoothing(&mut self, eps: f64) -> Result<(), Error> {
        self.set(Param::LABEL_SMOOTHING, eps)
    }

    pub fn label_smoothing(&self) -> Result<f64, Error> {
        self.get(Param::LABEL_SMOOTHING)
    }

    /// [`LossType::DiscoPop`]'s temperature > 0 (librpo 1.2; default 0.05).
    pub fn set_discopop_tau(&mut self, tau: f64) -> Result<(), Error> {
        self.set(Param::DISCOPOP_TAU, tau)
    }

    pub fn discopop_tau(&self) -> Result<f64, Error> {
        self.get(Param::DISCOPOP_TAU)
    }

    /// The factor on W inside the logit (librpo 1.2; default
    /// [`LogitScale::RowSum`]).
    pub fn set_logit_scale(&mut self, scale: LogitScale) -> Result<(), Error> {
        self.set(Param::LOGIT_SCALE, scale as i32 as f64)
    }

    /// The logit scale; `Err(ErrorKind::Unsupported)` for a value of a newer
    /// librpo that this crate has no variant for.
    pub fn logit_scale(&self) -> Result<LogitScale, Error> {
        let value = self.get(Param::LOGIT_SCALE)?;
        [LogitScale::RowSum, LogitScale::RowMean]
            .iter()
            .copied()
            .find(|&scale| scale as i32 as f64 == value)
            .ok_or_else(|| newer_value("RPO_PARAM_LOGIT_SCALE", value))
    }

    /// Weights from the entropic optimal-transport plan between the chosen
    /// and the rejected prompts (`RPO_WEIGHTING_SINKHORN`, librpo 1.2):
    /// cost `1 - cos`, epsilon = tau ([`Context::set_tau`]), rows rescaled
    /// to sum to 1. It reads embeddings as [`Weighting::Embedding`] does;
    /// its plan is a constant of the backward, so
    /// [`Context::loss_embed_grad`] and the row-block calls refuse it with
    /// `Err(ErrorKind::Unsupported)` (docs/extensions.md gives the recipe across
    /// ranks). AUTO placement is LOSS placement.
    ///
    /// [`Weighting`] has no variant for it: adding one would break the
    /// exhaustive `match`es of code written for the 1.0 enum. Reading the
    /// setting back, `get(Param::WEIGHTING)` is 3
    /// ([`sys::RPO_WEIGHTING_SINKHORN`]); [`Context::set_weighting`]
    /// switches back to another weighting.
    ///
    /// [`Weighting`]: crate::Weighting
    /// [`Weighting::Embedding`]: crate::Weighting::Embedding
    ///
    /// ```
    /// use rpo::{Context, Embeddings, Param};
    ///
    /// // 2 chosen prompts, 3 rejected ones, in 2 dimensions.
    /// let chosen: [f64; 4] = [1.0, 0.0,   0.0, 1.0];
    /// let rejected = [1.0, 0.1,   0.9, 0.0,   0.1, 1.0];
    /// let mut ctx = Context::new()?;
    /// ctx.set_sinkhorn_weighting()?;
    /// ctx.set_tau(0.1)?;
    /// ctx.set_sinkhorn_iters(1000)?;
    /// ctx.set_sinkhorn_tol(1e-12)?;
    /// assert_eq!(ctx.get(Param::WEIGHTING)?, 3.0);
    /// let w = ctx.weights(2, 3, Embeddings::Unpaired { chosen: &chosen,
    ///                                                  rejected: &rejected, dim: 2 })?;
    /// let run = ctx.sinkhorn()?;
    /// assert!(run.iterations > 1 && run.error <= 1e-12);
    /// // Every rejected prompt receives the same total weight, M / N.
    /// for j in 0..3 {
    ///     assert!((w[j] + w[3 + j] - 2.0 / 3.0).abs() < 1e-11);
    /// }
    /// # Ok::<(), rpo::Error>(())
    /// ```
    pub fn set_sinkhorn_weighting(&mut self) -> Result<(), Error> {
        self.set(Param::WEIGHTING, f64::from(sys::RPO_WEIGHTING_SINKHORN))
    }

    /// Most Sinkhorn iterations, 1 to 1e6 (librpo 1.2; default 200).
    pub fn set_sinkhorn_iters(&mut self, iters: u32) -> Result<(), Error> {
        self.set(Param::SINKHORN_ITERS, f64::from(iters))
    }

    pub fn sinkhorn_iters(&self) -> Result<u32, Error> {
        Ok(self.get(Param::SINKHORN_ITERS)? as u32)
    }

    /// Sinkhorn stops once every column marginal is within this relative
    /// error, in [0, 1] (librpo 1.2; default 1e-9).
    pub fn set_sinkhorn_tol(&mut self, tol: f64) -> Result<(), Error> {
        self.set(Param::SINKHORN_TOL, tol)
    }

    pub fn sinkhorn_tol(&self) -> Result<f64, Error> {
        self.get(Param::SINKHORN_TOL)
    }

    /// The last Sinkhorn run (librpo 1.2); see [`SinkhornRun`].
    pub fn sinkhorn(&self) -> Result<SinkhornRun, Error> {
        Ok(SinkhornRun {
            iterations: self.stat(sys::RPO_STAT_SINKHORN_ITERATIONS)? as u32,
            error: self.stat(sys::RPO_STAT_SINKHORN_ERROR)?,
        })
    }
}

/// A setting's value that a newer librpo knows and this crate does not.
fn newer_value(setting: &str, value: f64) -> Error {
    Error::new(ErrorKind::Unsupported,
               format!("{setting} = {value} has no variant in this crate (a newer librpo's)"))
}
