//! librpo 1.3's objectives beyond one call's loss and log-prob gradients
//! (docs/objectives.md): the gradients with respect to the prompt
//! embeddings, and row blocks across data-parallel ranks, KTO's included.
//! The incoming per-sequence gradients of `reduction="none"`
//! ([`Objective::losses_grad`]) apply to every call here.
use crate::context::Context;
use crate::error::{checked_len, Error};
use crate::objectives::{empty_results, Objective, ObjectiveOut, ObjectiveReal, Prepared};
use crate::rows::{RowBlock, PARTIAL_COUNT};

/// The result of [`Context::objective_embed_grad`].
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveEmbedGrad<T> {
    /// What [`Context::objective`] returns.
    pub out: ObjectiveOut<T>,
    /// dL/d chosen embeddings (M x D); for paired embeddings the sum of
    /// both roles of the one matrix.
    pub grad_chosen_emb: Vec<T>,
    /// dL/d rejected embeddings (N x D); `None` for paired embeddings.
    pub grad_rejected_emb: Option<Vec<T>>,
}

/// The result of [`Context::objective_rows`]: one row block.
///
/// For a term list the block holds chosen rows `row_offset .. row_offset + M`
/// of `m_total` against every rank's N rejected rows, gathered:
/// `grad_chosen`, `grad_chosen_emb`, `losses` and the rewards are complete,
/// `grad_rejected`, `grad_rejected_emb` and `partial_stats` are this
/// block's shares, to be summed over all blocks (one all-reduce).
///
/// For KTO and APO_ZERO_UNPAIRED the block holds its own M desirable and N
/// undesirable sequences, sequences `row_offset .. row_offset + M + N` of
/// `m_total`; every per-sequence output is complete, `partial_stats` holds
/// the loss share and the sums of the chosen and rejected rewards.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveRows<T> {
    pub grad_chosen: Vec<T>,
    pub grad_rejected: Vec<T>,
    /// (M x D); `None` unless asked for ([`Context::objective_rows_embed_grad`]).
    pub grad_chosen_emb: Option<Vec<T>>,
    /// (N x D), this block's share; `None` unless asked for.
    pub grad_rejected_emb: Option<Vec<T>>,
    /// M per-row losses (M + N for KTO, chosen first).
    pub losses: Vec<T>,
    pub chosen_rewards: Vec<T>,
    pub rejected_rewards: Vec<T>,
    /// `PARTIAL_COUNT` statistics in `RPO_PARTIAL_*` order; the loss of the
    /// whole problem is the sum of every block's `partial_stats[0]`.
    pub partial_stats: Vec<T>,
}

/// Whether librpo sees the embeddings as one paired matrix.
fn paired<T: ObjectiveReal>(o: &Objective<'_, T>) -> bool {
    let (_, chosen, rejected) = o.inputs.embedding_args();
    rejected.is_null() || rejected == chosen
}

impl Context {
    /// [`Context::objective`] plus the gradients with respect to the
    /// prompt embeddings (EMBEDDING weighting; the other weightings give
    /// zeros). KTO reads no embeddings: `Err(ErrorKind::Param)`.
    pub fn objective_embed_grad<T: ObjectiveReal>(&mut self, o: &Objective<'_, T>)
                                                  -> Result<ObjectiveEmbedGrad<T>, Error> {
        let prepared = Prepared::new(o)?;
        let batch = prepared.batch();
        let (m, n, d) = (o.inputs.m(), o.inputs.n(), batch.d);
        let mut out = ObjectiveOut::sized(o);
        let mut gce = vec![T::default(); checked_len(m, d, "m * d")?];
        let mut gre = if paired(o) { None } else {
            Some(vec![T::default(); checked_len(n, d, "n * d")?])
        };
        let mut results = empty_results();
        out.point(&mut results);
        results.loss = &mut out.loss;
        results.grad_chosen_emb = gce.as_mut_ptr();
        if let Some(gre) = gre.as_mut() {
            results.grad_rejected_emb = gre.as_mut_ptr();
        }
        // SAFETY: the batch points into checked slices (Prepared); the
        // outputs have the lengths librpo writes: M, N, M or M + N, M x D,
        // N x D (not written for paired embeddings, left NULL then).
        let status = unsafe { T::objective(self.raw(), &batch, &mut results) };
        self.check(status)?;
        Ok(ObjectiveEmbedGrad { out, grad_chosen_emb: gce, grad_rejected_emb: gre })
    }

    /// One row block of an objective across data-parallel ranks
    /// (`rpo_objective_rows_f32`/`_f64`; see [`ObjectiveRows`]). For SFT
    /// give the chosen token count of all blocks with
    /// [`Objective::sft_tokens`]; for KTO the gathered, unclamped kl with
    /// [`Objective::kl`] (librpo clamps it once). The context's metrics
    /// are left unchanged.
    ///
    /// ```
    /// use rpo::{Context, Inputs, Objective, RowBlock, Term};
    ///
    /// // KTO over two "ranks", each with its own sequences and the
    /// // gathered kl: the loss shares add up to the whole call's loss.
    /// let (pc, pr): ([f64; 3], [f64; 2]) = ([-1.0, -2.0, -0.5], [-1.5, -1.0]);
    /// let kto = [(Term::Kto, 1.0)];
    /// let mut ctx = Context::new()?;
    /// let whole = ctx.objective(&Objective::new(Inputs::new(&pc, &pr), &kto).kl(0.25))?;
    /// let a = ctx.objective_rows(RowBlock::new(5, 0),
    ///                            &Objective::new(Inputs::new(&pc[..1], &pr[..1]), &kto).kl(0.25))?;
    /// let b = ctx.objective_rows(RowBlock::new(5, 2),
    ///                            &Objective::new(Inputs::new(&pc[1..], &pr[1..]), &kto).kl(0.25))?;
    /// assert!((a.partial_stats[0] + b.partial_stats[0] - whole.loss).abs() < 1e-15);
    /// assert_eq!(b.grad_chosen[0], whole.grad_chosen[1]);
    /// # Ok::<(), rpo::Error>(())
    /// ```
    pub fn objective_rows<T: ObjectiveReal>(&mut self, block: RowBlock, o: &Objective<'_, T>)
                                            -> Result<ObjectiveRows<T>, Error> {
        self.objective_block(block, o, false)
    }

    /// [`Context::objective_rows`] with the embedding gradients of a term
    /// list: `grad_chosen_emb` complete, `grad_rejected_emb` this block's
    /// share of the gathered rejected embeddings' gradient.
    pub fn objective_rows_embed_grad<T: ObjectiveReal>(&mut self, block: RowBlock,
                                                       o: &Objective<'_, T>)
                                                       -> Result<ObjectiveRows<T>, Error> {
        self.objective_block(block, o, true)
    }

    fn objective_block<T: ObjectiveReal>(&mut self, block: RowBlock, o: &Objective<'_, T>,
                                         emb: bool) -> Result<ObjectiveRows<T>, Error> {
        let prepared = Prepared::new(o)?;
        let batch = prepared.batch();
        let (m, n, d) = (o.inputs.m(), o.inputs.n(), batch.d);
        // a list's block is M chosen rows, KTO's its M + N sequences
        block.check(o.rows())?;
        let out = ObjectiveOut::sized(o);
        let mut rows = ObjectiveRows {
            grad_chosen: out.grad_chosen,
            grad_rejected: out.grad_rejected,
            grad_chosen_emb: None,
            grad_rejected_emb: None,
            losses: out.losses,
            chosen_rewards: out.chosen_rewards,
            rejected_rewards: out.rejected_rewards,
            partial_stats: vec![T::default(); PARTIAL_COUNT],
        };
        if emb {
            rows.grad_chosen_emb = Some(vec![T::default(); checked_len(m, d, "m * d")?]);
            rows.grad_rejected_emb = Some(vec![T::default(); checked_len(n, d, "n * d")?]);
        }
        let mut results = empty_results();
        results.grad_chosen = rows.grad_chosen.as_mut_ptr();
        results.grad_rejected = rows.grad_rejected.as_mut_ptr();
        results.losses = rows.losses.as_mut_ptr();
        results.chosen_rewards = rows.chosen_rewards.as_mut_ptr();
        results.rejected_rewards = rows.rejected_rewards.as_mut_ptr();
        results.partial_stats = rows.partial_stats.as_mut_ptr();
        if let (Some(gce), Some(gre)) = (rows.grad_chosen_emb.as_mut(),
                                          rows.grad_rejected_emb.as_mut()) {
            results.grad_chosen_emb = gce.as_mut_ptr();
            results.grad_rejected_emb = gre.as_mut_ptr();
        }
        // SAFETY: the batch points into checked slices (Prepared); the
        // outputs have the lengths librpo writes for a block: M, N, M or
        // M + N, M, N, PARTIAL_COUNT, and M x D, N x D when asked for.
        let status = unsafe {
            T::objective_rows(self.raw(), block.m_total, block.row_offset, &batch, &mut results)
        };
        self.check(status)?;
        Ok(rows)
    }
}
