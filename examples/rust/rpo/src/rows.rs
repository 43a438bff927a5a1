//! One contrast matrix across data-parallel ranks (librpo 1.2,
//! docs/extensions.md section 5): each rank computes its block of chosen rows
//! against the rejected responses gathered from every rank, and one
//! all-reduce (sum) of the blocks' partial buffers gives every rank the
//! loss, metrics and rejected gradients of the whole batch.
use std::ptr;

use crate::context::{out_ptr, opt_ptr, rows_match, Context, Inputs, Metrics};
use crate::error::{checked_len, size_error, Error};
use crate::real::Real;
use crate::sys;

/// `RPO_PARTIAL_COUNT`: the number of partial statistics at the head of a
/// partial buffer, in `RPO_PARTIAL_*` order: loss, reward_chosen,
/// reward_rejected, margin, accuracy.
pub const PARTIAL_COUNT: usize = sys::RPO_PARTIAL_COUNT;

/// Which rows of a global problem a call computes: chosen rows
/// `row_offset .. row_offset + M` of `m_total`, M being the length of the
/// inputs' `policy_chosen`. The blocks of all ranks must cover rows
/// `0 .. m_total` once each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RowBlock {
    /// The number of chosen rows over all ranks.
    pub m_total: usize,
    /// The global index of this block's first row.
    pub row_offset: usize,
}

impl RowBlock {
    pub fn new(m_total: usize, row_offset: usize) -> RowBlock {
        RowBlock { m_total, row_offset }
    }

    /// `Err(ErrorKind::Size)` unless M rows from the offset fit in m_total.
    pub(crate) fn check(&self, m: usize) -> Result<(), Error> {
        match self.row_offset.checked_add(m) {
            Some(end) if end <= self.m_total => Ok(()),
            _ => Err(size_error(format!("row_offset + m exceeds m_total (row_offset = {}, \
                                         m = {m}, m_total = {})",
                                        self.row_offset, self.m_total))),
        }
    }
}

/// The length of a partial buffer for N gathered rejected responses of
/// dimension D: `PARTIAL_COUNT + N + N * D` (D = 0: no embedding
/// gradients). `Err(ErrorKind::Size)` when it overflows.
pub fn partial_len(n: usize, d: usize) -> Result<usize, Error> {
    n.checked_mul(d)
        .and_then(|nd| nd.checked_add(n))
        .and_then(|len| len.checked_add(PARTIAL_COUNT))
        .ok_or_else(|| size_error(format!("partial_len({n}, {d}) overflows usize")))
}

/// A partial buffer holds, side by side so that one all-reduce sums them:
/// the statistics (PARTIAL_COUNT), then optionally dL/d policy_rejected
/// (N), then, only after those, optionally dL/d rejected_emb (N x D). Its
/// length says which: PARTIAL_COUNT, PARTIAL_COUNT + N, or
/// [`partial_len`]`(N, D)`; anything else is `Err(ErrorKind::Size)`. Returns
/// the lengths of the two optional parts present, 0 for one absent.
fn partial_parts(len: usize, n: usize, d: usize) -> Result<(usize, usize), Error> {
    if len == PARTIAL_COUNT {
        Ok((0, 0))
    } else if len == partial_len(n, 0)? {
        Ok((n, 0))
    } else if len == partial_len(n, d)? {
        Ok((n, n * d))
    } else {
        Err(size_error(format!("partial has {len} entries, want {PARTIAL_COUNT}, {} or {} \
                                (n = {n}, d = {d})", partial_len(n, 0)?, partial_len(n, d)?)))
    }
}

/// (statistics, dL/d policy_rejected, dL/d rejected_emb) of a partial
/// buffer, each part's pointer NULL when the buffer lacks it.
fn partial_ptrs<T>(buffer: &mut [T], n: usize,
                  d: usize) -> Result<(*mut T, *mut T, *mut T), Error> {
    let (grad_len, emb_len) = partial_parts(buffer.len(), n, d)?;
    let (stats, rest) = buffer.split_at_mut(PARTIAL_COUNT);
    let (grad, emb) = rest.split_at_mut(grad_len);
    let part = |s: &mut [T], len: usize| if len == 0 { ptr::null_mut() } else { s.as_mut_ptr() };
    Ok((stats.as_mut_ptr(), part(grad, grad_len), part(emb, emb_len)))
}

/// A partial buffer, typically the sum over all blocks, read by part.
///
/// ```
/// let summed = [0.5, 0.1, -0.2, 0.3, 1.0,   0.25, -0.25];   // N = 2, D = 0
/// let total = rpo::Partial::new(&summed, 2, 0)?;
/// assert_eq!(total.loss(), 0.5);
/// assert_eq!(total.metrics().accuracy, 1.0);
/// assert_eq!(total.grad_rejected, [0.25, -0.25]);
/// assert!(total.grad_rejected_emb.is_empty());
/// # Ok::<(), rpo::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Partial<'a, T> {
    /// The statistics, `RPO_PARTIAL_*` order (PARTIAL_COUNT).
    pub stats: &'a [T],
    /// dL/d policy_rejected (N); empty when the buffer has no gradients.
    pub grad_rejected: &'a [T],
    /// dL/d rejected_emb (N x D); empty when the buffer has none.
    pub grad_rejected_emb: &'a [T],
}

impl<'a, T: Real> Partial<'a, T> {
    /// Splits a buffer laid out as the row-block calls write it, for N
    /// rejected responses of dimension D.
    pub fn new(buffer: &'a [T], n: usize, d: usize) -> Result<Partial<'a, T>, Error> {
        let (grad_len, _) = partial_parts(buffer.len(), n, d)?;
        let (stats, rest) = buffer.split_at(PARTIAL_COUNT);
        let (grad_rejected, grad_rejected_emb) = rest.split_at(grad_len);
        Ok(Partial { stats, grad_rejected, grad_rejected_emb })
    }

    /// The loss: of the whole problem once the blocks are summed.
    pub fn loss(&self) -> T {
        self.stats[sys::RPO_PARTIAL_LOSS]
    }

    /// The metrics: of the whole problem once the blocks are summed.
    pub fn metrics(&self) -> Metrics {
        let stat = |k: usize| -> f64 { self.stats[k].into() };
        Metrics {
            loss: stat(sys::RPO_PARTIAL_LOSS),
            reward_chosen: stat(sys::RPO_PARTIAL_REWARD_CHOSEN),
            reward_rejected: stat(sys::RPO_PARTIAL_REWARD_REJECTED),
            margin: stat(sys::RPO_PARTIAL_MARGIN),
            accuracy: stat(sys::RPO_PARTIAL_ACCURACY),
        }
    }
}

/// The result of the allocating row-block calls.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows<T> {
    /// dL/d policy_chosen of this block's rows (M): complete.
    pub grad_chosen: Vec<T>,
    /// dL/d chosen_emb of this block's rows (M x D): complete; `None`
    /// unless asked for ([`Context::loss_rows_embed_grad`]).
    pub grad_chosen_emb: Option<Vec<T>>,
    /// This block's share: statistics, dL/d policy_rejected (N) and, when
    /// asked for, dL/d rejected_emb (N x D). Sum it over all blocks (one
    /// all-reduce), then read the sum with [`Partial::new`].
    pub partial: Vec<T>,
}

impl Context {
    /// One row block of a global problem (`rpo_loss_rows_f32`/`_f64`):
    /// `inputs` holds this block's M chosen rows (log-probs and, for
    /// embedding weighting, `Embeddings::Unpaired { chosen: (M, D),
    /// rejected: (N, D) }`) and the N rejected responses gathered from every
    /// rank. There is no paired shorthand: the rejected embeddings are the
    /// gathered matrix (`Embeddings::Paired` passes none, which embedding
    /// weighting refuses with `Err(ErrorKind::NullPointer)`). The MEAN reduction
    /// divides by `block.m_total`, so the summed partials need no rescaling.
    /// Diagonal weighting needs `m_total == N`; Sinkhorn weighting is
    /// `Err(ErrorKind::Unsupported)` (use [`Context::loss_rows_weighted`] with
    /// this block's rows of the whole plan). The context's metrics are left
    /// unchanged.
    ///
    /// ```
    /// use rpo::{Context, Inputs, Partial, RowBlock, Weighting};
    ///
    /// let (pc, pr) = ([-1.0, -2.0, -0.5], [-1.5, -1.0]);
    /// let mut ctx = Context::new()?;
    /// ctx.set_weighting(Weighting::Uniform)?;
    /// let whole = ctx.loss(&Inputs::new(&pc, &pr))?;
    ///
    /// // Two "ranks": rows 0..1 and 1..3, each against both rejected.
    /// let a = ctx.loss_rows(RowBlock::new(3, 0), &Inputs::new(&pc[..1], &pr))?;
    /// let b = ctx.loss_rows(RowBlock::new(3, 1), &Inputs::new(&pc[1..], &pr))?;
    /// let summed: Vec<f64> = a.partial.iter().zip(&b.partial).map(|(x, y)| x + y).collect();
    /// let total = Partial::new(&summed, 2, 0)?;
    /// assert!((total.loss() - whole.loss).abs() < 1e-15);
    /// assert!((total.grad_rejected[1] - whole.grad_rejected[1]).abs() < 1e-15);
    /// assert_eq!(b.grad_chosen[0], whole.grad_chosen[1]);  // complete per block
    /// # Ok::<(), rpo::Error>(())
    /// ```
    pub fn loss_rows<T: Real>(&mut self, block: RowBlock,
                              inputs: &Inputs<T>) -> Result<Rows<T>, Error> {
        let mut grad_chosen = vec![T::default(); inputs.m()];
        let mut partial = vec![T::default(); partial_len(inputs.n(), 0)?];
        self.loss_rows_into(block, inputs, Some(&mut grad_chosen), None, &mut partial)?;
        Ok(Rows { grad_chosen, grad_chosen_emb: None, partial })
    }

    /// [`Context::loss_rows`] with the embedding gradients: `grad_chosen_emb`
    /// (M x D, complete) and the partial dL/d rejected_emb (N x D) at the
    /// end of `partial`. For paired data, the gradient of pair i's one
    /// embedding is row i of `grad_chosen_emb` plus row `row_offset + i` of
    /// the summed partial's `grad_rejected_emb`.
    pub fn loss_rows_embed_grad<T: Real>(&mut self, block: RowBlock,
                                         inputs: &Inputs<T>) -> Result<Rows<T>, Error> {
        let (d, _, _) = inputs.embedding_args();
        let mut grad_chosen = vec![T::default(); inputs.m()];
        let mut grad_chosen_emb = vec![T::default(); checked_len(inputs.m(), d, "m * d")?];
        let mut partial = vec![T::default(); partial_len(inputs.n(), d)?];
        self.loss_rows_into(block, inputs, Some(&mut grad_chosen), Some(&mut grad_chosen_emb),
                            &mut partial)?;
        Ok(Rows { grad_chosen, grad_chosen_emb: Some(grad_chosen_emb), partial })
    }

    /// The row-block call into the caller's slices: `grad_chosen` (M),
    /// `grad_chosen_emb` (M x D), `None` skipping one, and `partial`, whose
    /// length chooses the partial outputs: PARTIAL_COUNT (statistics only),
    /// PARTIAL_COUNT + N (and dL/d policy_rejected) or
    /// [`partial_len`]`(N, D)` (and dL/d rejected_emb). Every entry of
    /// `partial` is written: the buffer can go to the all-reduce as it is.
    pub fn loss_rows_into<T: Real>(&mut self, block: RowBlock, inputs: &Inputs<T>,
                                   grad_chosen: Option<&mut [T]>,
                                   grad_chosen_emb: Option<&mut [T]>,
                                   partial: &mut [T]) -> Result<(), Error> {
        inputs.check()?;
        let (m, n) = (inputs.m(), inputs.n());
        block.check(m)?;
        let (d, ce, re) = inputs.embedding_args();
        let gc = out_ptr("grad_chosen", grad_chosen, m)?;
        let gce = out_ptr("grad_chosen_emb", grad_chosen_emb, checked_len(m, d, "m * d")?)?;
        let (stats, gr, gre) = partial_ptrs(partial, n, d)?;
        // SAFETY: inputs checked against M, N and D (a paired matrix is
        // passed as the chosen rows only); outputs NULL or of the lengths
        // librpo writes: M, M x D, PARTIAL_COUNT, N, N x D.
        let status = unsafe {
            T::loss_rows(self.raw(), block.m_total, block.row_offset, m,
                         inputs.policy_chosen.as_ptr(), opt_ptr(inputs.ref_chosen), n,
                         inputs.policy_rejected.as_ptr(), opt_ptr(inputs.ref_rejected),
                         d, ce, re, gc, gce, stats, gr, gre)
        };
        self.check(status)
    }

    /// [`Context::loss_rows`] over the caller's weights: this block's rows
    /// of the global weight matrix (M x N, row-major), as for
    /// [`Context::loss_weighted`] (`rpo_loss_rows_weighted_f32`/`_f64`).
    /// The inputs' embeddings are ignored. This is the recipe for Sinkhorn
    /// weights across ranks: compute the whole plan with
    /// [`Context::weights`] on the gathered embeddings (deterministic, the
    /// same on every rank) and pass each block its rows.
    pub fn loss_rows_weighted<T: Real>(&mut self, block: RowBlock, inputs: &Inputs<T>,
                                       weights: &[T]) -> Result<Rows<T>, Error> {
        let mut grad_chosen = vec![T::default(); inputs.m()];
        let mut partial = vec![T::default(); partial_len(inputs.n(), 0)?];
        self.loss_rows_weighted_into(block, inputs, weights, Some(&mut grad_chosen),
                                     &mut partial)?;
        Ok(Rows { grad_chosen, grad_chosen_emb: None, partial })
    }

    /// [`Context::loss_rows_weighted`] into the caller's slices:
    /// `grad_chosen` (M) or `None`, and `partial` of length PARTIAL_COUNT
    /// or PARTIAL_COUNT + N (then with dL/d policy_rejected).
    pub fn loss_rows_weighted_into<T: Real>(&mut self, block: RowBlock, inputs: &Inputs<T>,
                                            weights: &[T], grad_chosen: Option<&mut [T]>,
                                            partial: &mut [T]) -> Result<(), Error> {
        inputs.check()?;
        let (m, n) = (inputs.m(), inputs.n());
        block.check(m)?;
        rows_match("weights", weights, m, n)?;
        let gc = out_ptr("grad_chosen", grad_chosen, m)?;
        let (stats, gr, _) = partial_ptrs(partial, n, 0)?;
        // SAFETY: inputs of lengths M and N, weights M x N; outputs NULL or
        // of lengths M, PARTIAL_COUNT and N.
        let status = unsafe {
            T::loss_rows_weighted(self.raw(), block.m_total, block.row_offset, m,
                                  inputs.policy_chosen.as_ptr(), opt_ptr(inputs.ref_chosen),
                                  n, inputs.policy_rejected.as_ptr(),
                                  opt_ptr(inputs.ref_rejected), weights.as_ptr(), gc,
                                  stats, gr)
        };
        self.check(status)
    }
}
