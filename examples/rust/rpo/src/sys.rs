//! The raw C API of `include/rpo.h`, declared by hand (no bindgen: the
//! crate has no dependencies). Every function is unsafe to call; the safe
//! wrapper in the crate root checks slice lengths before calling them.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_double, c_int, c_uint};

/// The opaque context (`rpo_ctx`).
#[repr(C)]
pub struct rpo_ctx {
    _private: [u8; 0],
}

pub const RPO_OK: c_int = 0;
pub const RPO_ERR_NULL_POINTER: c_int = -1;
pub const RPO_ERR_SIZE: c_int = -2;
pub const RPO_ERR_PARAM: c_int = -3;
pub const RPO_ERR_NONFINITE: c_int = -4;
pub const RPO_ERR_NOMEM: c_int = -5;
pub const RPO_ERR_UNSUPPORTED: c_int = -6;
pub const RPO_ERR_RANGE: c_int = -7;

pub const RPO_PARAM_WEIGHTING: c_int = 1;
pub const RPO_PARAM_BETA: c_int = 2;
pub const RPO_PARAM_TAU: c_int = 3;
pub const RPO_PARAM_ALPHA: c_int = 4;
pub const RPO_PARAM_PLACEMENT: c_int = 5;
pub const RPO_PARAM_REDUCTION: c_int = 6;
pub const RPO_PARAM_THREADS: c_int = 7;
// librpo 1.2 (docs/extensions.md).
pub const RPO_PARAM_LOSS: c_int = 8;
pub const RPO_PARAM_LABEL_SMOOTHING: c_int = 9;
pub const RPO_PARAM_DISCOPOP_TAU: c_int = 10;
pub const RPO_PARAM_LOGIT_SCALE: c_int = 11;
pub const RPO_PARAM_SINKHORN_ITERS: c_int = 12;
pub const RPO_PARAM_SINKHORN_TOL: c_int = 13;

pub const RPO_WEIGHTING_UNIFORM: c_int = 0;
pub const RPO_WEIGHTING_DIAGONAL: c_int = 1;
pub const RPO_WEIGHTING_EMBEDDING: c_int = 2;
pub const RPO_WEIGHTING_SINKHORN: c_int = 3;

pub const RPO_PLACEMENT_AUTO: c_int = 0;
pub const RPO_PLACEMENT_LOGIT: c_int = 1;
pub const RPO_PLACEMENT_LOSS: c_int = 2;

pub const RPO_REDUCTION_MEAN: c_int = 0;
pub const RPO_REDUCTION_SUM: c_int = 1;

pub const RPO_LOSS_SIGMOID: c_int = 0;
pub const RPO_LOSS_HINGE: c_int = 1;
pub const RPO_LOSS_IPO: c_int = 2;
pub const RPO_LOSS_ROBUST: c_int = 3;
pub const RPO_LOSS_EXO_PAIR: c_int = 4;
pub const RPO_LOSS_BCO_PAIR: c_int = 5;
pub const RPO_LOSS_SPPO_HARD: c_int = 6;
pub const RPO_LOSS_NCA_PAIR: c_int = 7;
pub const RPO_LOSS_APO_ZERO: c_int = 8;
pub const RPO_LOSS_APO_DOWN: c_int = 9;
pub const RPO_LOSS_DISCOPOP: c_int = 10;

pub const RPO_LOGIT_SCALE_ROW_SUM: c_int = 0;
pub const RPO_LOGIT_SCALE_ROW_MEAN: c_int = 1;

pub const RPO_STAT_LOSS: c_int = 1;
pub const RPO_STAT_REWARD_CHOSEN: c_int = 2;
pub const RPO_STAT_REWARD_REJECTED: c_int = 3;
pub const RPO_STAT_MARGIN: c_int = 4;
pub const RPO_STAT_ACCURACY: c_int = 5;
pub const RPO_STAT_SINKHORN_ITERATIONS: c_int = 6;
pub const RPO_STAT_SINKHORN_ERROR: c_int = 7;

pub const RPO_PARTIAL_LOSS: usize = 0;
pub const RPO_PARTIAL_REWARD_CHOSEN: usize = 1;
pub const RPO_PARTIAL_REWARD_REJECTED: usize = 2;
pub const RPO_PARTIAL_MARGIN: usize = 3;
pub const RPO_PARTIAL_ACCURACY: usize = 4;
pub const RPO_PARTIAL_COUNT: usize = 5;

pub const RPO_SEQ_SUM: c_int = 0;
pub const RPO_SEQ_MEAN: c_int = 1;

extern "C" {
    pub fn rpo_ctx_create() -> *mut rpo_ctx;
    pub fn rpo_ctx_free(ctx: *mut rpo_ctx);
    pub fn rpo_ctx_set(ctx: *mut rpo_ctx, param: c_int, value: c_double) -> c_int;
    pub fn rpo_ctx_get(ctx: *const rpo_ctx, param: c_int, value: *mut c_double) -> c_int;
    pub fn rpo_param_bounds(param: c_int, lo: *mut c_double, hi: *mut c_double) -> c_int;
    pub fn rpo_ctx_stat(ctx: *const rpo_ctx, stat: c_int, value: *mut c_double) -> c_int;
    pub fn rpo_version_number() -> c_uint;
    pub fn rpo_version_string() -> *const c_char;
    pub fn rpo_status_string(status: c_int) -> *const c_char;
    pub fn rpo_ctx_error_detail(ctx: *const rpo_ctx) -> *const c_char;
}

// The float32 and float64 entry points (rpo.h), in the header's order.
extern "C" {
    pub fn rpo_loss_f32(ctx: *mut rpo_ctx,
        m: usize, policy_chosen: *const f32, ref_chosen: *const f32,
        n: usize, policy_rejected: *const f32, ref_rejected: *const f32,
        d: usize, chosen_emb: *const f32, rejected_emb: *const f32,
        loss: *mut f32, grad_chosen: *mut f32, grad_rejected: *mut f32) -> c_int;
    pub fn rpo_loss_f64(ctx: *mut rpo_ctx,
        m: usize, policy_chosen: *const f64, ref_chosen: *const f64,
        n: usize, policy_rejected: *const f64, ref_rejected: *const f64,
        d: usize, chosen_emb: *const f64, rejected_emb: *const f64,
        loss: *mut f64, grad_chosen: *mut f64, grad_rejected: *mut f64) -> c_int;

    pub fn rpo_weights_f32(ctx: *mut rpo_ctx, m: usize, n: usize, d: usize,
        chosen_emb: *const f32, rejected_emb: *const f32, weights: *mut f32) -> c_int;
    pub fn rpo_weights_f64(ctx: *mut rpo_ctx, m: usize, n: usize, d: usize,
        chosen_emb: *const f64, rejected_emb: *const f64, weights: *mut f64) -> c_int;

    pub fn rpo_loss_weighted_f32(ctx: *mut rpo_ctx,
        m: usize, policy_chosen: *const f32, ref_chosen: *const f32,
        n: usize, policy_rejected: *const f32, ref_rejected: *const f32,
        weights: *const f32,
        loss: *mut f32, grad_chosen: *mut f32, grad_rejected: *mut f32) -> c_int;
    pub fn rpo_loss_weighted_f64(ctx: *mut rpo_ctx,
        m: usize, policy_chosen: *const f64, ref_chosen: *const f64,
        n: usize, policy_rejected: *const f64, ref_rejected: *const f64,
        weights: *const f64,
        loss: *mut f64, grad_chosen: *mut f64, grad_rejected: *mut f64) -> c_int;

    // Token-level helpers (librpo 1.1).
    pub fn rpo_token_logps_f32(ctx: *mut rpo_ctx, t: usize, v: usize, stride: usize,
        logits: *const f32, targets: *const i32, logps: *mut f32) -> c_int;
    pub fn rpo_token_logps_f64(ctx: *mut rpo_ctx, t: usize, v: usize, stride: usize,
        logits: *const f64, targets: *const i32, logps: *mut f64) -> c_int;
    pub fn rpo_token_logps_backward_f32(ctx: *mut rpo_ctx, t: usize, v: usize,
        stride: usize, logits: *const f32, targets: *const i32,
        dlogps: *const f32, dlogits: *mut f32) -> c_int;
    pub fn rpo_token_logps_backward_f64(ctx: *mut rpo_ctx, t: usize, v: usize,
        stride: usize, logits: *const f64, targets: *const i32,
        dlogps: *const f64, dlogits: *mut f64) -> c_int;
    pub fn rpo_seq_logps_f32(b: usize, t: usize, token_logps: *const f32,
        mask: *const u8, reduce: c_int, seq_logps: *mut f32) -> c_int;
    pub fn rpo_seq_logps_f64(b: usize, t: usize, token_logps: *const f64,
        mask: *const u8, reduce: c_int, seq_logps: *mut f64) -> c_int;
    pub fn rpo_seq_logps_backward_f32(b: usize, t: usize, mask: *const u8,
        reduce: c_int, dseq_logps: *const f32, dtoken_logps: *mut f32) -> c_int;
    pub fn rpo_seq_logps_backward_f64(b: usize, t: usize, mask: *const u8,
        reduce: c_int, dseq_logps: *const f64, dtoken_logps: *mut f64) -> c_int;

    // Beyond the paper (librpo 1.2): embedding gradients and row blocks.
    pub fn rpo_loss_embed_grad_f32(ctx: *mut rpo_ctx,
        m: usize, policy_chosen: *const f32, ref_chosen: *const f32,
        n: usize, policy_rejected: *const f32, ref_rejected: *const f32,
        d: usize, chosen_emb: *const f32, rejected_emb: *const f32,
        loss: *mut f32, grad_chosen: *mut f32, grad_rejected: *mut f32,
        grad_chosen_emb: *mut f32, grad_rejected_emb: *mut f32) -> c_int;
    pub fn rpo_loss_embed_grad_f64(ctx: *mut rpo_ctx,
        m: usize, policy_chosen: *const f64, ref_chosen: *const f64,
        n: usize, policy_rejected: *const f64, ref_rejected: *const f64,
        d: usize, chosen_emb: *const f64, rejected_emb: *const f64,
        loss: *mut f64, grad_chosen: *mut f64, grad_rejected: *mut f64,
        grad_chosen_emb: *mut f64, grad_rejected_emb: *mut f64) -> c_int;

    pub fn rpo_loss_rows_f32(ctx: *mut rpo_ctx, m_total: usize, row_offset: usize,
        m: usize, policy_chosen: *const f32, ref_chosen: *const f32,
        n: usize, policy_rejected: *const f32, ref_rejected: *const f32,
        d: usize, chosen_emb: *const f32, rejected_emb: *const f32,
        grad_chosen: *mut f32, grad_chosen_emb: *mut f32, partial_stats: *mut f32,
        partial_grad_rejected: *mut f32, partial_grad_rejected_emb: *mut f32) -> c_int;
    pub fn rpo_loss_rows_f64(ctx: *mut rpo_ctx, m_total: usize, row_offset: usize,
        m: usize, policy_chosen: *const f64, ref_chosen: *const f64,
        n: usize, policy_rejected: *const f64, ref_rejected: *const f64,
        d: usize, chosen_emb: *const f64, rejected_emb: *const f64,
        grad_chosen: *mut f64, grad_chosen_emb: *mut f64, partial_stats: *mut f64,
        partial_grad_rejected: *mut f64, partial_grad_rejected_emb: *mut f64) -> c_int;

    pub fn rpo_loss_rows_weighted_f32(ctx: *mut rpo_ctx, m_total: usize, row_offset: usize,
        m: usize, policy_chosen: *const f32, ref_chosen: *const f32,
        n: usize, policy_rejected: *const f32, ref_rejected: *const f32,
        weights: *const f32, grad_chosen: *mut f32, partial_stats: *mut f32,
        partial_grad_rejected: *mut f32) -> c_int;
    pub fn rpo_loss_rows_weighted_f64(ctx: *mut rpo_ctx, m_total: usize, row_offset: usize,
        m: usize, policy_chosen: *const f64, ref_chosen: *const f64,
        n: usize, policy_rejected: *const f64, ref_rejected: *const f64,
        weights: *const f64, grad_chosen: *mut f64, partial_stats: *mut f64,
        partial_grad_rejected: *mut f64) -> c_int;
}

// librpo 1.3: batches of related prompts.
extern "C" {
    pub fn rpo_related_batches_f32(ctx: *mut rpo_ctx, p: usize, d: usize,
        embeddings: *const f32, batch_size: usize, seed: u64,
        order: *mut usize) -> c_int;
    pub fn rpo_related_batches_f64(ctx: *mut rpo_ctx, p: usize, d: usize,
        embeddings: *const f64, batch_size: usize, seed: u64,
        order: *mut usize) -> c_int;
}

// librpo 1.3: the token path (safe wrappers: token_lse.rs, packed.rs).
pub const RPO_GRAD_ACCUMULATE: c_int = 0;
pub const RPO_GRAD_OVERWRITE: c_int = 1;
extern "C" {
    pub fn rpo_token_logps_lse_f32(ctx: *mut rpo_ctx, t: usize, v: usize,
        stride: usize, logits: *const f32, targets: *const i32, logps: *mut f32,
        lse: *mut f64) -> c_int;
    pub fn rpo_token_logps_lse_f64(ctx: *mut rpo_ctx, t: usize, v: usize,
        stride: usize, logits: *const f64, targets: *const i32, logps: *mut f64,
        lse: *mut f64) -> c_int;
    pub fn rpo_token_logps_backward_lse_f32(ctx: *mut rpo_ctx, t: usize, v: usize,
        stride: usize, logits: *const f32, targets: *const i32, lse: *const f64,
        dlogps: *const f32, dlogits: *mut f32, write: c_int) -> c_int;
    pub fn rpo_token_logps_backward_lse_f64(ctx: *mut rpo_ctx, t: usize, v: usize,
        stride: usize, logits: *const f64, targets: *const i32, lse: *const f64,
        dlogps: *const f64, dlogits: *mut f64, write: c_int) -> c_int;
    pub fn rpo_packed_seq_logps_f32(ctx: *mut rpo_ctx, b: usize, t: usize,
        offsets: *const i64, token_logps: *const f32, mask: *const u8,
        reduce: c_int, seq_logps: *mut f32) -> c_int;
    pub fn rpo_packed_seq_logps_f64(ctx: *mut rpo_ctx, b: usize, t: usize,
        offsets: *const i64, token_logps: *const f64, mask: *const u8,
        reduce: c_int, seq_logps: *mut f64) -> c_int;
    pub fn rpo_packed_seq_logps_backward_f32(ctx: *mut rpo_ctx, b: usize, t: usize,
        offsets: *const i64, mask: *const u8, reduce: c_int,
        dseq_logps: *const f32, dtoken_logps: *mut f32) -> c_int;
    pub fn rpo_packed_seq_logps_backward_f64(ctx: *mut rpo_ctx, b: usize, t: usize,
        offsets: *const i64, mask: *const u8, reduce: c_int,
        dseq_logps: *const f64, dtoken_logps: *mut f64) -> c_int;
}

// librpo 1.3: fused linear log-probs (safe wrapper: linear.rs).
pub const RPO_PARAM_LINEAR_CHUNK: c_int = 19;
extern "C" {
    pub fn rpo_linear_logps_f32(ctx: *mut rpo_ctx, t: usize, h: usize, v: usize,
        hidden: *const f32, weight: *const f32, ldw: usize, bias: *const f32,
        targets: *const i32, logps: *mut f32, lse: *mut f32) -> c_int;
    pub fn rpo_linear_logps_f64(ctx: *mut rpo_ctx, t: usize, h: usize, v: usize,
        hidden: *const f64, weight: *const f64, ldw: usize, bias: *const f64,
        targets: *const i32, logps: *mut f64, lse: *mut f64) -> c_int;
    pub fn rpo_linear_logps_backward_f32(ctx: *mut rpo_ctx, t: usize, h: usize,
        v: usize, hidden: *const f32, weight: *const f32, ldw: usize,
        bias: *const f32, targets: *const i32, lse: *const f32,
        dlogps: *const f32, dhidden: *mut f32, dweight: *mut f32,
        dbias: *mut f32) -> c_int;
    pub fn rpo_linear_logps_backward_f64(ctx: *mut rpo_ctx, t: usize, h: usize,
        v: usize, hidden: *const f64, weight: *const f64, ldw: usize,
        bias: *const f64, targets: *const i32, lse: *const f64,
        dlogps: *const f64, dhidden: *mut f64, dweight: *mut f64,
        dbias: *mut f64) -> c_int;
}

// librpo 1.3: objectives (docs/objectives.md). The descriptors hold
// pointers to the caller's arrays; T is f32 or f64, the layout is the same.
pub const RPO_PARAM_SIMPO_GAMMA: c_int = 14;
pub const RPO_PARAM_F_DIVERGENCE: c_int = 15;
pub const RPO_PARAM_F_ALPHA: c_int = 16;
pub const RPO_PARAM_DESIRABLE_WEIGHT: c_int = 17;
pub const RPO_PARAM_UNDESIRABLE_WEIGHT: c_int = 18;
pub const RPO_STAT_LOGPS_CHOSEN: c_int = 8;
pub const RPO_STAT_LOGPS_REJECTED: c_int = 9;
pub const RPO_STAT_KL: c_int = 10;

// librpo 1.3: effective contrasts (docs/extensions.md).
pub const RPO_PARAM_TARGET_CONTRASTS: c_int = 20;
pub const RPO_STAT_EFFECTIVE_CONTRASTS: c_int = 11;
pub const RPO_STAT_DIAGONAL_WEIGHT: c_int = 12;
pub const RPO_MAX_TERMS: usize = 8;
pub const RPO_LOSS_SIGMOID_NORM: c_int = 11;
pub const RPO_LOSS_SIMPO: c_int = 12;
pub const RPO_LOSS_ORPO: c_int = 13;
pub const RPO_LOSS_SFT: c_int = 14;
pub const RPO_LOSS_KTO: c_int = 15;
pub const RPO_LOSS_APO_ZERO_UNPAIRED: c_int = 16;
pub const RPO_FDIV_REVERSE_KL: c_int = 0;
pub const RPO_FDIV_FORWARD_KL: c_int = 1;
pub const RPO_FDIV_JS: c_int = 2;
pub const RPO_FDIV_ALPHA: c_int = 3;

/// `rpo_batch_f32` (T = f32) and `rpo_batch_f64` (T = f64).
#[repr(C)]
pub struct rpo_batch<T> {
    pub size: usize,
    pub m: usize,
    pub n: usize,
    pub d: usize,
    pub policy_chosen: *const T,
    pub ref_chosen: *const T,
    pub policy_rejected: *const T,
    pub ref_rejected: *const T,
    pub chosen_emb: *const T,
    pub rejected_emb: *const T,
    pub weights: *const T,
    pub chosen_lengths: *const T,
    pub rejected_lengths: *const T,
    pub chosen_weights: *const T,
    pub rejected_weights: *const T,
    pub terms: usize,
    pub term_losses: *const c_int,
    pub term_weights: *const c_double,
    pub k: usize,
    pub policy_kl: *const T,
    pub ref_kl: *const T,
    pub kl: *const T,
    pub sft_tokens: *const T,
    pub losses_grad: *const T,
}

/// `rpo_results_f32` (T = f32) and `rpo_results_f64` (T = f64).
#[repr(C)]
pub struct rpo_results<T> {
    pub size: usize,
    pub loss: *mut T,
    pub grad_chosen: *mut T,
    pub grad_rejected: *mut T,
    pub grad_chosen_emb: *mut T,
    pub grad_rejected_emb: *mut T,
    pub losses: *mut T,
    pub chosen_rewards: *mut T,
    pub rejected_rewards: *mut T,
    pub partial_stats: *mut T,
}

pub type rpo_batch_f32 = rpo_batch<f32>;
pub type rpo_batch_f64 = rpo_batch<f64>;
pub type rpo_results_f32 = rpo_results<f32>;
pub type rpo_results_f64 = rpo_results<f64>;

extern "C" {
    pub fn rpo_objective_f32(ctx: *mut rpo_ctx, batch: *const rpo_batch_f32,
        results: *mut rpo_results_f32) -> c_int;
    pub fn rpo_objective_f64(ctx: *mut rpo_ctx, batch: *const rpo_batch_f64,
        results: *mut rpo_results_f64) -> c_int;
    pub fn rpo_objective_rows_f32(ctx: *mut rpo_ctx, m_total: usize, row_offset: usize,
        batch: *const rpo_batch_f32, results: *mut rpo_results_f32) -> c_int;
    pub fn rpo_objective_rows_f64(ctx: *mut rpo_ctx, m_total: usize, row_offset: usize,
        batch: *const rpo_batch_f64, results: *mut rpo_results_f64) -> c_int;
}
