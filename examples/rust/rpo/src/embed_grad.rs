//! The loss with its gradients with respect to the prompt embeddings
//! (librpo 1.2, docs/extensions.md section 4), for trainers whose embeddings
//! come from a model being trained.
use crate::context::{out_ptr, opt_ptr, Context, Inputs, Metrics};
use crate::error::{checked_len, Error};
use crate::real::Real;

/// The result of [`Context::loss_embed_grad`]: that of [`Context::loss`]
/// and the embedding gradients.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedGrad<T> {
    pub loss: T,
    /// dL/d policy_chosen (M).
    pub grad_chosen: Vec<T>,
    /// dL/d policy_rejected (N).
    pub grad_rejected: Vec<T>,
    /// dL/d chosen embeddings (M x D); for paired embeddings the sum of the
    /// gradients of both roles of the one matrix. Empty without embeddings.
    pub grad_chosen_emb: Vec<T>,
    /// dL/d rejected embeddings (N x D); `None` for paired embeddings
    /// (including `Unpaired` given one slice twice, which librpo treats as
    /// paired) and without embeddings.
    pub grad_rejected_emb: Option<Vec<T>>,
    pub metrics: Metrics,
}

/// Whether librpo sees the embeddings as one paired matrix.
fn paired<T: Real>(inputs: &Inputs<T>) -> bool {
    let (_, chosen, rejected) = inputs.embedding_args();
    rejected.is_null() || rejected == chosen
}

impl Context {
    /// [`Context::loss`] plus the gradients with respect to the prompt
    /// embeddings (`rpo_loss_embed_grad_f32`/`_f64`). Embedding weighting
    /// differentiates through its softmax and the rows' normalisation;
    /// uniform and diagonal weights do not depend on the embeddings and
    /// give zeros; Sinkhorn weighting is `Err(ErrorKind::Unsupported)`.
    ///
    /// ```
    /// use rpo::{Context, Inputs};
    ///
    /// let (pc, pr) = ([-1.0, -2.0], [-1.5, -1.0, -3.0]);
    /// let chosen: [f64; 4] = [1.0, 0.0,   0.6, 0.8];     // (2, 2)
    /// let rejected = [0.0, 1.0,   1.0, 1.0,   2.0, 0.0]; // (3, 2)
    /// let mut ctx = Context::new()?;                     // embedding weighting
    /// let out = ctx.loss_embed_grad(&Inputs::new(&pc, &pr)
    ///                                   .unpaired_embeddings(&chosen, &rejected, 2))?;
    /// let plain = ctx.loss(&Inputs::new(&pc, &pr).unpaired_embeddings(&chosen, &rejected, 2))?;
    /// assert!((out.loss - plain.loss).abs() < 1e-15);
    /// // The loss sees directions only: each row's gradient is orthogonal to it.
    /// let ge = &out.grad_chosen_emb;
    /// assert!((ge[0] * chosen[0] + ge[1] * chosen[1]).abs() < 1e-15);
    /// assert_eq!(out.grad_rejected_emb.map(|g| g.len()), Some(6));
    /// # Ok::<(), rpo::Error>(())
    /// ```
    pub fn loss_embed_grad<T: Real>(&mut self, inputs: &Inputs<T>) -> Result<EmbedGrad<T>, Error> {
        inputs.check()?;
        let (d, _, _) = inputs.embedding_args();
        let chosen_len = checked_len(inputs.m(), d, "m * d")?;
        let mut grad_chosen = vec![T::default(); inputs.m()];
        let mut grad_rejected = vec![T::default(); inputs.n()];
        let mut grad_chosen_emb = vec![T::default(); chosen_len];
        let mut grad_rejected_emb = if paired(inputs) {
            None
        } else {
            Some(vec![T::default(); checked_len(inputs.n(), d, "n * d")?])
        };
        let loss = self.loss_embed_grad_into(inputs, Some(&mut grad_chosen),
                                             Some(&mut grad_rejected),
                                             Some(&mut grad_chosen_emb),
                                             grad_rejected_emb.as_deref_mut())?;
        Ok(EmbedGrad { loss, grad_chosen, grad_rejected, grad_chosen_emb, grad_rejected_emb,
                       metrics: self.metrics() })
    }

    /// [`Context::loss_embed_grad`] into the caller's slices: (M), (N),
    /// (M x D) and (N x D); `None` skips an output. For paired embeddings
    /// `grad_rejected_emb` is not written (`grad_chosen_emb` receives both
    /// roles) and its length is not checked.
    pub fn loss_embed_grad_into<T: Real>(&mut self, inputs: &Inputs<T>,
                                         grad_chosen: Option<&mut [T]>,
                                         grad_rejected: Option<&mut [T]>,
                                         grad_chosen_emb: Option<&mut [T]>,
                                         grad_rejected_emb: Option<&mut [T]>) -> Result<T, Error> {
        inputs.check()?;
        let (d, ce, re) = inputs.embedding_args();
        let (m, n) = (inputs.m(), inputs.n());
        let gc = out_ptr("grad_chosen", grad_chosen, m)?;
        let gr = out_ptr("grad_rejected", grad_rejected, n)?;
        let gce = out_ptr("grad_chosen_emb", grad_chosen_emb, checked_len(m, d, "m * d")?)?;
        let gre = if paired(inputs) {
            std::ptr::null_mut()
        } else {
            out_ptr("grad_rejected_emb", grad_rejected_emb, checked_len(n, d, "n * d")?)?
        };
        let mut loss = T::default();
        // SAFETY: inputs checked against M, N and D; every output pointer is
        // NULL or valid for the length librpo writes (checked above; a
        // paired call writes no rejected embedding gradient).
        let status = unsafe {
            T::loss_embed_grad(self.raw(), m, inputs.policy_chosen.as_ptr(),
                               opt_ptr(inputs.ref_chosen), n,
                               inputs.policy_rejected.as_ptr(), opt_ptr(inputs.ref_rejected),
                               d, ce, re, &mut loss, gc, gr, gce, gre)
        };
        self.check(status)?;
        Ok(loss)
    }
}
