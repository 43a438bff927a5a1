//! Safe Rust bindings of librpo: the **Relative Preference Optimization**
//! loss (RPO; Yin et al. 2024, arXiv 2402.10958) and its gradients, for
//! aligning language models with preference data. Not "iterative reasoning
//! preference optimization" nor reward-aware preference optimization, which
//! share the acronym.
//!
//! Your trainer computes per-sequence log-probs of chosen and rejected
//! responses under the policy and the reference model; librpo returns the
//! loss, its gradients with respect to the policy log-probs, the weight
//! matrix and metrics. The [`sys`] module declares the raw C API; the rest
//! is a safe wrapper: a [`Context`] with setters, slices in,
//! `Result<_, rpo::Error>` out. It covers the whole API of librpo 1.2: the
//! token helpers of 1.1 ([`Context::token_logps`], [`seq_logps`]), and
//! beyond the paper (docs/extensions.md) TRL's loss family ([`LossType`]), the
//! logit scale, optimal-transport weights
//! ([`Context::set_sinkhorn_weighting`]), gradients with respect to the
//! prompt embeddings ([`Context::loss_embed_grad`]) and one contrast
//! matrix across data-parallel ranks ([`Context::loss_rows`]); from
//! librpo 1.3, batches of related prompts ([`Context::related_batches`]),
//! the token path's log-sum-exps and in-place backward
//! ([`Context::token_logps_lse`], [`Context::token_logps_backward_in_place`]),
//! packed sequences ([`Context::packed_seq_logps`]) and the fused linear
//! log-probs from hidden states and the LM head ([`Context::linear_logps`]).
//!
//! ```
//! use rpo::{Context, Inputs, Weighting};
//!
//! // 2 paired examples: log-probs under the policy and the reference, and
//! // their prompts' embeddings (2 rows of 3).
//! let (pc, rc) = ([-12.0, -20.5], [-13.0, -20.0]);
//! let (pr, rr) = ([-15.0, -19.0], [-14.5, -19.5]);
//! let prompts = [1.0, 0.0, 0.2, 0.9, 0.1, 0.0];
//!
//! let mut ctx = Context::new()?;
//! ctx.set_weighting(Weighting::Embedding)?;
//! ctx.set_beta(0.1)?;
//! let out = ctx.loss(&Inputs::new(&pc, &pr).reference(&rc, &rr)
//!                                          .paired_embeddings(&prompts, 3))?;
//! assert!(out.loss > 0.0 && out.grad_chosen.iter().all(|g| *g < 0.0));
//! assert_eq!(out.metrics.loss, out.loss);
//!
//! // DPO is diagonal weighting with alpha = 1.
//! ctx.set_weighting(Weighting::Diagonal)?;
//! ctx.set_alpha(1.0)?;
//! let dpo = ctx.loss(&Inputs::new(&pc, &pr).reference(&rc, &rr))?;
//! assert!(dpo.loss > 0.0);
//! # Ok::<(), rpo::Error>(())
//! ```
//!
//! Build: the crate links the librpo of this source tree (`make` first), or
//! one named by `RPO_LIB_DIR`, or an installed one found by pkg-config; see
//! `build.rs` and docs/rust.md.

mod batching;
mod context;
mod contrasts;
mod embed_grad;
mod error;
mod linear;
mod objective_blocks;
mod objectives;
mod packed;
mod real;
mod rows;
mod settings;
pub mod sys;
mod token_lse;
mod tokens;

pub use context::{Context, Embeddings, Inputs, Loss, Metrics, Param, Placement, Reduction,
                  Weighting};
pub use contrasts::WeightShape;
pub use embed_grad::EmbedGrad;
pub use error::{Error, ErrorKind};
pub use linear::{LinearGrads, LinearHead, LinearReal};
pub use objective_blocks::{ObjectiveEmbedGrad, ObjectiveRows};
pub use objectives::{FDivergence, Objective, ObjectiveOut, ObjectiveReal, Term};
pub use packed::PackedReal;
pub use real::Real;
pub use rows::{partial_len, Partial, RowBlock, Rows, PARTIAL_COUNT};
pub use settings::{LogitScale, LossType, SinkhornRun};
pub use token_lse::{GradWrite, TokenLseReal};
pub use tokens::{seq_logps, seq_logps_backward, Logits, SeqReduce};

/// docs/rust.md, whose `rust` blocks `cargo test` runs as doc tests so the
/// guide cannot drift from the crate.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/rust.md")]
pub struct RustGuide;

/// The version of the librpo actually linked, e.g. "1.2.1".
pub fn version() -> &'static str {
    // SAFETY: rpo_version_string returns a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(sys::rpo_version_string()) }
        .to_str()
        .unwrap_or("?")
}

/// `MAJOR * 10000 + MINOR * 100 + PATCH` of the librpo actually linked.
pub fn version_number() -> u32 {
    // SAFETY: no arguments.
    unsafe { sys::rpo_version_number() }
}
