//! The objective's embedding gradients, per-sequence incoming gradients
//! (losses_grad), KTO and row blocks through the crate, each judged
//! against another formulation: the embedding gradients of one sigmoid term
//! are 1.2's `loss_embed_grad`; with g the gradients are central
//! differences of `sum_i g_i losses_i` (a list) or g_k (M + N) times the
//! MEAN gradient (KTO, whose sequences do not interact); row blocks add up
//! to the whole call.
use rpo::{Context, ErrorKind, Inputs, Objective, RowBlock, Term, Weighting};

const PC: [f64; 4] = [-3.0, -5.5, -2.25, -4.0];
const PR: [f64; 4] = [-4.5, -3.0, -6.0, -2.5];
const RC: [f64; 4] = [-3.5, -5.0, -3.0, -4.5];
const RR: [f64; 4] = [-4.0, -3.5, -5.0, -3.0];
const LC: [f64; 4] = [3.0, 7.0, 2.0, 5.0];
const LR: [f64; 4] = [4.0, 2.0, 9.0, 3.0];
const WC: [f64; 4] = [1.0, 0.5, 1.5, 0.8];
const WR: [f64; 4] = [0.7, 1.2, 1.0, 0.4];
const EMB: [f64; 12] = [1.0, 0.0, 0.2, 0.9, 0.1, 0.0, -0.3, 0.8, 0.5, 0.2, -0.6, 0.7];
const G: [f64; 8] = [0.5, -1.25, 0.0, 2.0, 0.75, -0.5, 1.5, 0.25];

fn embedding_context() -> Context {
    let mut ctx = Context::new().unwrap();
    ctx.set_weighting(Weighting::Embedding).unwrap();
    ctx.set_beta(0.4).unwrap();
    ctx
}

fn close_all(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1.0f64, |s, w| s.max(w.abs()));
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * scale, "{what}[{k}]: {g} vs {w}");
    }
}

#[test]
fn one_sigmoid_term_has_the_embedding_gradients_of_the_plain_loss() {
    let mut ctx = embedding_context();
    let inputs = Inputs::new(&PC, &PR).reference(&RC, &RR).paired_embeddings(&EMB, 3);
    let plain = ctx.loss_embed_grad(&inputs).unwrap();
    let got = ctx.objective_embed_grad(&Objective::new(inputs, &[(Term::Sigmoid, 1.0)])).unwrap();
    close_all(&got.grad_chosen_emb, &plain.grad_chosen_emb, 1e-13, "grad_chosen_emb");
    assert!(got.grad_rejected_emb.is_none(), "paired: one matrix");
    close_all(&got.out.grad_chosen, &plain.grad_chosen, 1e-13, "grad_chosen");
    // KTO reads no embeddings
    let kto = [(Term::Kto, 1.0)];
    let err = ctx.objective_embed_grad(&Objective::new(inputs, &kto)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Param);
}

/// sum_i g_i losses_i of a list, from the crate's own per-row losses.
fn weighted(ctx: &mut Context, pc: &[f64], terms: &[(Term, f64)]) -> f64 {
    let o = Objective::new(Inputs::new(pc, &PR).reference(&RC, &RR).paired_embeddings(&EMB, 3),
                           terms).lengths(&LC, &LR).sample_weights(&WC, &WR);
    let out = ctx.objective(&o).unwrap();
    out.losses.iter().zip(&G).map(|(l, g)| l * g).sum()
}

#[test]
fn losses_grad_gives_the_gradient_of_the_weighted_per_row_losses() {
    let mut ctx = embedding_context();
    let terms = [(Term::Sigmoid, 1.0), (Term::Sft, 0.5)];
    let inputs = Inputs::new(&PC, &PR).reference(&RC, &RR).paired_embeddings(&EMB, 3);
    let o = Objective::new(inputs, &terms).lengths(&LC, &LR).sample_weights(&WC, &WR);
    let reduced = ctx.objective_embed_grad(&o).unwrap();
    let with_g = ctx.objective_embed_grad(&o.losses_grad(&G[..4])).unwrap();
    assert_eq!(with_g.out.loss, reduced.out.loss, "the loss stays the reduced one");
    let h = 1e-6;
    for k in 0..4 {
        let (mut up, mut down) = (PC, PC);
        up[k] += h;
        down[k] -= h;
        let fd = (weighted(&mut ctx, &up, &terms) - weighted(&mut ctx, &down, &terms)) / (2.0 * h);
        assert!((fd - with_g.out.grad_chosen[k]).abs() <= 1e-6 * fd.abs().max(1.0),
                "d F / d pc[{k}]: {fd} vs {}", with_g.out.grad_chosen[k]);
    }
    // uniform g = 1/M is the MEAN gradient, embeddings included
    let quarter = [0.25; 4];
    let uniform = ctx.objective_embed_grad(&o.losses_grad(&quarter)).unwrap();
    close_all(&uniform.out.grad_chosen, &reduced.out.grad_chosen, 1e-13, "uniform grad_chosen");
    close_all(&uniform.grad_chosen_emb, &reduced.grad_chosen_emb, 1e-13, "uniform emb");
    // one g per row: a wrong length is the wrapper's size error
    let err = ctx.objective(&o.losses_grad(&G[..3])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Size);
}

#[test]
fn kto_with_losses_grad_scales_each_sequence_by_its_own_g() {
    let mut ctx = Context::new().unwrap();
    ctx.set_beta(0.4).unwrap();
    ctx.set_kto_weights(1.3, 0.6).unwrap();
    let kto = [(Term::Kto, 1.0)];
    let inputs = Inputs::new(&PC, &PR).reference(&RC, &RR);
    let o = Objective::new(inputs, &kto).kl_pairs(&PC, Some(&RR)).sample_weights(&WC, &WR);
    let mean = ctx.objective(&o).unwrap();
    let with_g = ctx.objective(&o.losses_grad(&G)).unwrap();
    // each loss depends on its own sequence alone: d(g_k l_k) = g_k (M + N) dL_mean
    let want_c: Vec<f64> = (0..4).map(|i| G[i] * 8.0 * mean.grad_chosen[i]).collect();
    let want_r: Vec<f64> = (0..4).map(|j| G[4 + j] * 8.0 * mean.grad_rejected[j]).collect();
    close_all(&with_g.grad_chosen, &want_c, 1e-14, "kto grad_chosen");
    close_all(&with_g.grad_rejected, &want_r, 1e-14, "kto grad_rejected");
    assert_eq!(with_g.losses, mean.losses);
    assert!(ctx.last_kl().unwrap() > 0.0);
}

#[test]
fn list_row_blocks_add_up_to_the_whole_call() {
    let mut ctx = embedding_context();
    let terms = [(Term::Sigmoid, 1.0), (Term::Sft, 0.5)];
    let whole = ctx.objective_embed_grad(
        &Objective::new(Inputs::new(&PC, &PR).reference(&RC, &RR).paired_embeddings(&EMB, 3),
                        &terms).lengths(&LC, &LR).losses_grad(&G[..4])).unwrap();
    let tokens: f64 = LC.iter().sum();
    let mut grad_chosen = Vec::new();
    let mut grad_chosen_emb = Vec::new();
    let (mut grad_rejected, mut grad_rejected_emb, mut loss) = ([0.0; 4], [0.0; 12], 0.0);
    for (offset, rows) in [(0usize, 1usize), (1, 3)] {
        let range = offset..offset + rows;
        let inputs = Inputs::new(&PC[range.clone()], &PR)
            .reference(&RC[range.clone()], &RR)
            .unpaired_embeddings(&EMB[offset * 3..(offset + rows) * 3], &EMB, 3);
        let o = Objective::new(inputs, &terms).lengths(&LC[range.clone()], &LR)
            .losses_grad(&G[range]).sft_tokens(tokens);
        let block = ctx.objective_rows_embed_grad(RowBlock::new(4, offset), &o).unwrap();
        grad_chosen.extend_from_slice(&block.grad_chosen);
        grad_chosen_emb.extend_from_slice(block.grad_chosen_emb.as_ref().unwrap());
        for (s, x) in grad_rejected.iter_mut().zip(&block.grad_rejected) { *s += x; }
        for (s, x) in grad_rejected_emb.iter_mut().zip(block.grad_rejected_emb.as_ref().unwrap()) {
            *s += x;
        }
        loss += block.partial_stats[0];
    }
    // paired: the one matrix's gradient is both roles'
    for (c, r) in grad_chosen_emb.iter_mut().zip(&grad_rejected_emb) { *c += r; }
    assert!((loss - whole.out.loss).abs() <= 1e-13);
    close_all(&grad_chosen, &whole.out.grad_chosen, 1e-13, "blocks grad_chosen");
    close_all(&grad_rejected, &whole.out.grad_rejected, 1e-13, "blocks grad_rejected");
    close_all(&grad_chosen_emb, &whole.grad_chosen_emb, 1e-13, "blocks grad_chosen_emb");
}

#[test]
fn kto_row_blocks_add_up_to_the_whole_call() {
    let mut ctx = Context::new().unwrap();
    ctx.set_beta(0.4).unwrap();
    let kto = [(Term::Kto, 1.0)];
    // the gathered kl: the unclamped mean of every rank's KL pairs
    let kl = PC.iter().zip(&RR).map(|(p, r)| p - r).sum::<f64>() / 4.0;
    let whole = ctx.objective(&Objective::new(Inputs::new(&PC, &PR).reference(&RC, &RR), &kto)
                                  .kl_pairs(&PC, Some(&RR)).losses_grad(&G)).unwrap();
    let whole_reward = ctx.metrics().reward_chosen;
    // rank 0: chosen 0..3, rejected 0..1; rank 1: chosen 3..4, rejected 1..4
    let mut loss = 0.0;
    let mut reward_sum = 0.0;
    let mut grad_chosen = Vec::new();
    let mut grad_rejected = Vec::new();
    for (offset, c, r) in [(0usize, 0..3, 0..1), (4, 3..4, 1..4)] {
        let g: Vec<f64> = G[c.clone()].iter().chain(&G[4 + r.start..4 + r.end]).copied().collect();
        let o = Objective::new(Inputs::new(&PC[c.clone()], &PR[r.clone()])
                                   .reference(&RC[c], &RR[r]), &kto)
            .kl(kl).losses_grad(&g);
        let block = ctx.objective_rows(RowBlock::new(8, offset), &o).unwrap();
        loss += block.partial_stats[0];
        reward_sum += block.partial_stats[1];
        grad_chosen.extend_from_slice(&block.grad_chosen);
        grad_rejected.extend_from_slice(&block.grad_rejected);
    }
    assert!((loss - whole.loss).abs() <= 1e-14, "{loss} vs {}", whole.loss);
    assert!((reward_sum / 4.0 - whole_reward).abs() <= 1e-14);
    close_all(&grad_chosen, &whole.grad_chosen, 1e-14, "kto blocks grad_chosen");
    close_all(&grad_rejected, &whole.grad_rejected, 1e-14, "kto blocks grad_rejected");
    // a block beyond m_total is the wrapper's size error
    let o = Objective::new(Inputs::new(&PC, &PR), &kto).kl(kl);
    assert_eq!(ctx.objective_rows(RowBlock::new(8, 1), &o).unwrap_err().kind(), ErrorKind::Size);
}
