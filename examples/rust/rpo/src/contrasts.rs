//! Effective contrasts (librpo 1.3, docs/extensions.md section 10): the target
//! number of contrasts per row that sets each row's temperature, and the
//! shape of the last weight matrix.
use crate::context::{Context, Param};
use crate::error::Error;
use crate::sys;

impl Param {
    /// The target number of effective contrasts k: 0 (off) or k >= 1
    /// (librpo 1.3).
    pub const TARGET_CONTRASTS: Param = Param(sys::RPO_PARAM_TARGET_CONTRASTS);
}

/// The shape of the weight matrix W of the last call that formed it; with
/// `H_i` the entropy of row i:
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightShape {
    /// `(1/M) sum_i exp(H_i)`: how many rejected responses a chosen one is
    /// contrasted with (1 = DPO, N = uniform).
    pub effective_contrasts: f64,
    /// `(1/M) sum_i W_ii` when M == N (the true pairs' share of paired
    /// data), 0 otherwise.
    pub diagonal_weight: f64,
}

impl Context {
    /// Embedding weighting solves each row's temperature so that
    /// `exp(H_i) = k`, instead of using tau (librpo 1.3; default 0: off).
    /// `k` in (0, 1) is `Err(ErrorKind::Param)`; so is, at call time,
    /// `k > N`. The other weightings ignore it.
    ///
    /// ```
    /// use rpo::{Context, Embeddings};
    ///
    /// // 2 chosen prompts, 4 rejected ones, in 2 dimensions.
    /// let chosen: [f64; 4] = [1.0, 0.0,   0.0, 1.0];
    /// let rejected = [1.0, 0.1,   0.9, 0.3,   0.1, 1.0,   -1.0, 0.2];
    /// let mut ctx = Context::new()?;
    /// ctx.set_target_contrasts(2.0)?;
    /// ctx.weights(2, 4, Embeddings::Unpaired { chosen: &chosen,
    ///                                          rejected: &rejected, dim: 2 })?;
    /// let shape = ctx.weight_shape()?;
    /// assert!((shape.effective_contrasts - 2.0).abs() < 1e-9);
    /// # Ok::<(), rpo::Error>(())
    /// ```
    pub fn set_target_contrasts(&mut self, k: f64) -> Result<(), Error> {
        self.set(Param::TARGET_CONTRASTS, k)
    }

    pub fn target_contrasts(&self) -> Result<f64, Error> {
        self.get(Param::TARGET_CONTRASTS)
    }

    /// The shape of the last W formed (librpo 1.3); after a row-block call,
    /// this block's shares, to be summed over the blocks.
    pub fn weight_shape(&self) -> Result<WeightShape, Error> {
        Ok(WeightShape {
            effective_contrasts: self.stat(sys::RPO_STAT_EFFECTIVE_CONTRASTS)?,
            diagonal_weight: self.stat(sys::RPO_STAT_DIAGONAL_WEIGHT)?,
        })
    }
}
