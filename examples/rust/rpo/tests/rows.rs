//! The 1.2 calls through the safe wrapper: embedding gradients against
//! central differences of loss(); row blocks over a split of the rows,
//! their partial buffers summed as an all-reduce would, against the
//! whole-batch call (the recipes of docs/extensions.md section 5, paired and
//! Sinkhorn included); float32 against float64; and every length the
//! wrapper must check refused with ErrorKind::Size, nothing written.
use rpo::{partial_len, Context, ErrorKind, Inputs, LogitScale, LossType, Partial, Placement,
          Reduction, RowBlock, Weighting, PARTIAL_COUNT};

/// Deterministic numbers in about [-scale, scale].
fn numbers(len: usize, seed: usize, scale: f64) -> Vec<f64> {
    (0..len).map(|k| (((k + 1) * (seed * 2 + 17)) % 41) as f64 / 20.0 * scale - scale).collect()
}

struct Batch {
    d: usize,
    pc: Vec<f64>,
    rc: Vec<f64>,
    pr: Vec<f64>,
    rr: Vec<f64>,
    e: Vec<f64>,
    f: Vec<f64>,
}

fn batch(m: usize, n: usize, d: usize) -> Batch {
    Batch {
        d,
        pc: numbers(m, 1, 3.0),
        rc: numbers(m, 2, 3.0),
        pr: numbers(n, 3, 3.0),
        rr: numbers(n, 4, 3.0),
        e: numbers(m * d, 5, 1.0),
        f: numbers(n * d, 6, 1.0),
    }
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * w.abs().max(1.0), "{what}[{k}]: {g} vs {w}");
    }
}

fn sum_into(total: &mut [f64], part: &[f64]) {
    assert_eq!(total.len(), part.len());
    for (t, p) in total.iter_mut().zip(part) {
        *t += p;
    }
}

/// dL/d embeddings against central differences of loss(), unpaired and
/// paired, with embedding weighting in both placements.
#[test]
fn embedding_gradients_match_finite_differences() {
    let b = batch(3, 4, 3);
    let mut ctx = Context::new().unwrap();
    ctx.set_beta(1.5).unwrap();
    ctx.set_tau(0.4).unwrap();
    for placement in [Placement::Logit, Placement::Loss] {
        ctx.set_placement(placement).unwrap();
        // unpaired: both matrices
        let out = ctx.loss_embed_grad(&Inputs::new(&b.pc, &b.pr).reference(&b.rc, &b.rr)
                                          .unpaired_embeddings(&b.e, &b.f, b.d)).unwrap();
        let plain = ctx.loss(&Inputs::new(&b.pc, &b.pr).reference(&b.rc, &b.rr)
                                 .unpaired_embeddings(&b.e, &b.f, b.d)).unwrap();
        assert!((out.loss - plain.loss).abs() < 1e-15);
        assert_close(&out.grad_chosen, &plain.grad_chosen, 1e-15, "grad_chosen");
        assert_close(&out.grad_rejected, &plain.grad_rejected, 1e-15, "grad_rejected");
        let metrics = |x: rpo::Metrics| [x.loss, x.reward_chosen, x.reward_rejected, x.margin,
                                         x.accuracy];
        assert_close(&metrics(out.metrics), &metrics(plain.metrics), 1e-15, "metrics");
        let grad_f = out.grad_rejected_emb.clone().expect("unpaired: a rejected gradient");
        let h = 1e-6;
        let mut largest: f64 = 0.0;
        for (which, base, grad) in [(0, &b.e, &out.grad_chosen_emb), (1, &b.f, &grad_f)] {
            for k in 0..base.len() {
                let mut at = |delta: f64| {
                    let mut x = base.clone();
                    x[k] += delta;
                    let (e, f) = if which == 0 { (&x, &b.f) } else { (&b.e, &x) };
                    ctx.loss(&Inputs::new(&b.pc, &b.pr).reference(&b.rc, &b.rr)
                                 .unpaired_embeddings(e, f, b.d)).unwrap().loss
                };
                let fd = (at(h) - at(-h)) / (2.0 * h);
                assert!((grad[k] - fd).abs() < 1e-8, "{placement:?} side {which}[{k}]: {} vs {fd}",
                        grad[k]);
                largest = largest.max(grad[k].abs());
            }
        }
        assert!(largest > 1e-2, "the embeddings matter: largest gradient {largest}");

        // paired: one matrix in both roles, its gradient the sum of both
        let e = &b.f; // (4, 3): paired needs M == N
        let pc = &b.pr[..];
        let pr: Vec<f64> = b.pr.iter().map(|x| x - 0.7).collect();
        let out = ctx.loss_embed_grad(&Inputs::new(pc, &pr).paired_embeddings(e, b.d)).unwrap();
        assert_eq!(out.grad_rejected_emb, None);
        // one slice given twice is paired data to librpo too
        let twice = ctx.loss_embed_grad(&Inputs::new(pc, &pr).unpaired_embeddings(e, e, b.d))
            .unwrap();
        assert_eq!(twice.grad_rejected_emb, None);
        assert_eq!(twice.grad_chosen_emb, out.grad_chosen_emb);
        for k in 0..e.len() {
            let mut at = |delta: f64| {
                let mut x = e.clone();
                x[k] += delta;
                ctx.loss(&Inputs::new(pc, &pr).paired_embeddings(&x, b.d)).unwrap().loss
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            assert!((out.grad_chosen_emb[k] - fd).abs() < 1e-8, "paired[{k}]");
        }
    }
    // uniform weights do not depend on the embeddings
    ctx.set_weighting(Weighting::Uniform).unwrap();
    let out = ctx.loss_embed_grad(&Inputs::new(&b.pc, &b.pr)
                                      .unpaired_embeddings(&b.e, &b.f, b.d)).unwrap();
    assert!(out.grad_chosen_emb.iter().chain(out.grad_rejected_emb.as_ref().unwrap())
               .all(|g| *g == 0.0));
}

/// One configuration of the context for the row-block comparisons.
fn configure(ctx: &mut Context, case: usize) -> &'static str {
    match case {
        0 => "embedding, logit placement, sigmoid",
        1 => {
            ctx.set_loss_type(LossType::Ipo).unwrap();
            ctx.set_logit_scale(LogitScale::RowMean).unwrap();
            ctx.set_threads(2).unwrap();
            "embedding, ipo, row-mean logit scale, 2 threads"
        }
        2 => {
            ctx.set_placement(Placement::Loss).unwrap();
            ctx.set_loss_type(LossType::Robust).unwrap();
            ctx.set_label_smoothing(0.1).unwrap();
            "embedding, loss placement, robust"
        }
        3 => {
            ctx.set_weighting(Weighting::Uniform).unwrap();
            ctx.set_reduction(Reduction::Sum).unwrap();
            ctx.set_loss_type(LossType::DiscoPop).unwrap();
            "uniform, sum reduction, discopop"
        }
        _ => {
            ctx.set_weighting(Weighting::Diagonal).unwrap();
            ctx.set_alpha(0.6).unwrap();
            ctx.set_loss_type(LossType::Hinge).unwrap();
            "diagonal, hinge"
        }
    }
}

/// Blocks [0, 2), [2, 2) (a rank without rows) and [2, M) summed against
/// the whole batch, to 1e-12 in float64.
#[test]
fn row_blocks_sum_to_the_whole_batch() {
    for case in 0..5 {
        let (m, n) = if case == 4 { (4, 4) } else { (5, 4) };
        let b = batch(m, n, 3);
        let mut ctx = Context::new().unwrap();
        ctx.set_beta(0.6).unwrap();
        let what = configure(&mut ctx, case);
        let whole = ctx.loss_embed_grad(&Inputs::new(&b.pc, &b.pr).reference(&b.rc, &b.rr)
                                            .unpaired_embeddings(&b.e, &b.f, b.d)).unwrap();
        let mut summed = vec![0.0; partial_len(n, b.d).unwrap()];
        let (mut gc, mut ge) = (Vec::new(), Vec::new());
        for (start, end) in [(0, 2), (2, 2), (2, m)] {
            let rows = ctx.loss_rows_embed_grad(
                RowBlock::new(m, start),
                &Inputs::new(&b.pc[start..end], &b.pr).reference(&b.rc[start..end], &b.rr)
                    .unpaired_embeddings(&b.e[start * b.d..end * b.d], &b.f, b.d)).unwrap();
            sum_into(&mut summed, &rows.partial);
            gc.extend_from_slice(&rows.grad_chosen);
            ge.extend_from_slice(&rows.grad_chosen_emb.unwrap());
        }
        let total = Partial::new(&summed, n, b.d).unwrap();
        assert!((total.loss() - whole.loss).abs() < 1e-12 * whole.loss.abs().max(1.0), "{what}");
        let (got, want) = (total.metrics(), whole.metrics);
        assert_close(&[got.loss, got.reward_chosen, got.reward_rejected, got.margin, got.accuracy],
                     &[want.loss, want.reward_chosen, want.reward_rejected, want.margin,
                       want.accuracy], 1e-12, what);
        assert_close(&gc, &whole.grad_chosen, 1e-12, what);
        assert_close(&ge, &whole.grad_chosen_emb, 1e-12, what);
        assert_close(total.grad_rejected, &whole.grad_rejected, 1e-12, what);
        assert_close(total.grad_rejected_emb, whole.grad_rejected_emb.as_ref().unwrap(), 1e-12,
                     what);
        // row-block calls leave the context's metrics as they were
        assert_eq!(ctx.metrics(), whole.metrics, "{what}");
        // the loss-only form gives the same partial without the embedding part
        let rows = ctx.loss_rows(RowBlock::new(m, 2),
                                 &Inputs::new(&b.pc[2..], &b.pr).reference(&b.rc[2..], &b.rr)
                                     .unpaired_embeddings(&b.e[2 * b.d..], &b.f, b.d)).unwrap();
        assert_eq!(rows.grad_chosen_emb, None);
        assert_eq!(rows.partial.len(), PARTIAL_COUNT + n);
    }
}

/// Paired data: each pair's one embedding gets its block's
/// grad_chosen_emb row plus the summed rejected row of the same index.
#[test]
fn paired_row_blocks_recover_the_paired_gradient() {
    let b = batch(4, 4, 3);
    let e = &b.e;
    let mut ctx = Context::new().unwrap();
    ctx.set_beta(0.9).unwrap();
    let whole = ctx.loss_embed_grad(&Inputs::new(&b.pc, &b.pr).paired_embeddings(e, 3)).unwrap();
    let mut summed = vec![0.0; partial_len(4, 3).unwrap()];
    let mut own = Vec::new();
    for (start, end) in [(0, 1), (1, 4)] {
        let rows = ctx.loss_rows_embed_grad(
            RowBlock::new(4, start),
            &Inputs::new(&b.pc[start..end], &b.pr)
                .unpaired_embeddings(&e[start * 3..end * 3], e, 3)).unwrap();
        sum_into(&mut summed, &rows.partial);
        own.extend_from_slice(&rows.grad_chosen_emb.unwrap());
    }
    let total = Partial::new(&summed, 4, 3).unwrap();
    let per_pair: Vec<f64> = own.iter().zip(total.grad_rejected_emb).map(|(x, y)| x + y).collect();
    assert_close(&per_pair, &whole.grad_chosen_emb, 1e-12, "paired embedding gradient");
    assert!((total.loss() - whole.loss).abs() < 1e-12);
    // the gathered matrix must be passed: Paired gives none to the rows
    let r = ctx.loss_rows(RowBlock::new(4, 0), &Inputs::new(&b.pc[..1], &b.pr)
                                                  .paired_embeddings(&e[..3], 3));
    assert_eq!(r.unwrap_err(), ErrorKind::NullPointer);
}

/// Sinkhorn across ranks: refused by the rows call; the recipe (the whole
/// plan, each block its rows through the weighted rows call) sums to the
/// whole Sinkhorn loss.
#[test]
fn sinkhorn_row_blocks_through_the_weighted_rows() {
    let b = batch(5, 4, 3);
    let mut ctx = Context::new().unwrap();
    ctx.set_sinkhorn_weighting().unwrap();
    ctx.set_beta(0.6).unwrap();
    let batch_all = Inputs::new(&b.pc, &b.pr).reference(&b.rc, &b.rr)
        .unpaired_embeddings(&b.e, &b.f, 3);
    let whole = ctx.loss(&batch_all).unwrap();
    let r = ctx.loss_rows(RowBlock::new(5, 0), &batch_all);
    assert_eq!(r.unwrap_err(), ErrorKind::Unsupported);
    let plan = ctx.weights(5, 4, batch_all.embeddings).unwrap();
    let mut summed = vec![0.0; PARTIAL_COUNT + 4];
    let mut gc = Vec::new();
    for (start, end) in [(0, 3), (3, 5)] {
        let rows = ctx.loss_rows_weighted(
            RowBlock::new(5, start),
            &Inputs::new(&b.pc[start..end], &b.pr).reference(&b.rc[start..end], &b.rr),
            &plan[start * 4..end * 4]).unwrap();
        sum_into(&mut summed, &rows.partial);
        gc.extend_from_slice(&rows.grad_chosen);
    }
    let total = Partial::new(&summed, 4, 0).unwrap();
    assert!((total.loss() - whole.loss).abs() < 1e-12);
    assert_close(&gc, &whole.grad_chosen, 1e-12, "grad_chosen");
    assert_close(total.grad_rejected, &whole.grad_rejected, 1e-12, "grad_rejected");
    assert!((total.metrics().margin - whole.metrics.margin).abs() < 1e-12);
}

/// The float32 entry points, against float64.
#[test]
fn float32_row_blocks_and_embedding_gradients() {
    let b = batch(5, 4, 3);
    let f32s = |x: &[f64]| -> Vec<f32> { x.iter().map(|v| *v as f32).collect() };
    let (pc, rc, pr, rr, e, f) = (f32s(&b.pc), f32s(&b.rc), f32s(&b.pr), f32s(&b.rr),
                                  f32s(&b.e), f32s(&b.f));
    let mut ctx = Context::new().unwrap();
    let wide = ctx.loss_embed_grad(&Inputs::new(&b.pc, &b.pr).reference(&b.rc, &b.rr)
                                       .unpaired_embeddings(&b.e, &b.f, 3)).unwrap();
    let narrow = ctx.loss_embed_grad(&Inputs::new(&pc, &pr).reference(&rc, &rr)
                                         .unpaired_embeddings(&e, &f, 3)).unwrap();
    let widen = |x: &[f32]| -> Vec<f64> { x.iter().map(|v| f64::from(*v)).collect() };
    assert!((f64::from(narrow.loss) - wide.loss).abs() < 1e-6);
    assert_close(&widen(&narrow.grad_chosen_emb), &wide.grad_chosen_emb, 1e-5, "f32 emb");
    assert_close(&widen(narrow.grad_rejected_emb.as_ref().unwrap()),
                 wide.grad_rejected_emb.as_ref().unwrap(), 1e-5, "f32 rejected emb");

    let mut summed = vec![0.0f32; partial_len(4, 3).unwrap()];
    for (start, end) in [(0, 2), (2, 5)] {
        let mut part = vec![f32::NAN; summed.len()];
        ctx.loss_rows_into(RowBlock::new(5, start),
                           &Inputs::new(&pc[start..end], &pr).reference(&rc[start..end], &rr)
                               .unpaired_embeddings(&e[start * 3..end * 3], &f, 3),
                           None, None, &mut part).unwrap();
        for (s, p) in summed.iter_mut().zip(&part) {
            *s += p;
        }
    }
    let total = Partial::new(&summed, 4, 3).unwrap();
    assert!((f64::from(total.loss()) - wide.loss).abs() < 1e-6);
    assert_close(&widen(total.grad_rejected), &wide.grad_rejected, 1e-5, "f32 rows");
    assert_close(&widen(total.grad_rejected_emb), wide.grad_rejected_emb.as_ref().unwrap(), 1e-5,
                 "f32 rows emb");

    let plan = ctx.weights(5, 4, rpo::Embeddings::Unpaired { chosen: &e, rejected: &f, dim: 3 })
        .unwrap();
    let mut part = [f32::NAN; PARTIAL_COUNT];
    let mut gc = [f32::NAN; 5];
    ctx.loss_rows_weighted_into(RowBlock::new(5, 0), &Inputs::new(&pc, &pr).reference(&rc, &rr),
                                &plan, Some(&mut gc), &mut part).unwrap();
    assert!((f64::from(part[0]) - wide.loss).abs() < 1e-6);
    assert_close(&widen(&gc), &wide.grad_chosen, 1e-5, "f32 weighted rows");
}

/// Every length the wrapper checks is ErrorKind::Size before librpo is called,
/// and nothing is written.
#[test]
fn wrong_lengths_are_refused_and_nothing_is_written() {
    let b = batch(3, 4, 2);
    let mut ctx = Context::new().unwrap();
    let good = Inputs::new(&b.pc, &b.pr).reference(&b.rc, &b.rr)
        .unpaired_embeddings(&b.e, &b.f, 2);
    let block = RowBlock::new(3, 0);
    let full = partial_len(4, 2).unwrap();
    let mut gc = vec![7.0; 3];
    let mut ge = vec![7.0; 6];
    let mut partial = vec![7.0; full];
    let untouched = |gc: &[f64], ge: &[f64], partial: &[f64]| {
        gc.iter().chain(ge).chain(partial).all(|x| *x == 7.0)
    };

    // inputs
    let bad_inputs = [
        Inputs::new(&b.pc, &b.pr).reference(&b.rc[..2], &b.rr),
        Inputs::new(&b.pc, &b.pr).reference(&b.rc, &b.rr[..3]),
        Inputs::new(&b.pc, &b.pr).unpaired_embeddings(&b.e[..5], &b.f, 2),
        Inputs::new(&b.pc, &b.pr).unpaired_embeddings(&b.e, &b.f[..7], 2),
        Inputs::new(&b.pc, &b.pr).unpaired_embeddings(&b.e, &b.f, usize::MAX),
    ];
    for (k, inputs) in bad_inputs.iter().enumerate() {
        let r = ctx.loss_rows_into(block, inputs, Some(&mut gc), Some(&mut ge), &mut partial);
        assert_eq!(r.map_err(|e| e.kind()), Err(ErrorKind::Size), "rows, inputs {k}");
        let r = ctx.loss_embed_grad(inputs);
        assert_eq!(r.unwrap_err(), ErrorKind::Size, "embed grad, inputs {k}");
    }
    // the block
    for bad in [RowBlock::new(2, 0), RowBlock::new(3, 1), RowBlock::new(3, usize::MAX)] {
        let r = ctx.loss_rows_into(bad, &good, Some(&mut gc), None, &mut partial);
        assert_eq!(r.map_err(|e| e.kind()), Err(ErrorKind::Size), "{bad:?}");
    }
    // outputs
    for len in [0, PARTIAL_COUNT - 1, PARTIAL_COUNT + 3, PARTIAL_COUNT + 5, full - 1, full + 1] {
        let mut wrong = vec![7.0; len];
        let r = ctx.loss_rows_into(block, &good, Some(&mut gc), None, &mut wrong);
        assert_eq!(r.map_err(|e| e.kind()), Err(ErrorKind::Size), "partial of {len}");
        assert!(wrong.iter().all(|x| *x == 7.0));
    }
    assert_eq!(ctx.loss_rows_into(block, &good, Some(&mut gc[..2]), None, &mut partial).map_err(|e| e.kind()),
               Err(ErrorKind::Size));
    assert_eq!(ctx.loss_rows_into(block, &good, None, Some(&mut ge[..5]), &mut partial).map_err(|e| e.kind()),
               Err(ErrorKind::Size));
    let mut short = vec![7.0; 7];
    assert_eq!(ctx.loss_embed_grad_into(&good, None, None, Some(&mut ge[..5]), None).map_err(|e| e.kind()),
               Err(ErrorKind::Size));
    assert_eq!(ctx.loss_embed_grad_into(&good, None, None, None, Some(&mut short)).map_err(|e| e.kind()),
               Err(ErrorKind::Size));
    assert_eq!(ctx.loss_embed_grad_into(&good, Some(&mut gc[..2]), None, None, None).map_err(|e| e.kind()),
               Err(ErrorKind::Size));
    // weighted rows: the weights, and no embedding part in the partial
    let w = vec![0.25; 12];
    let plain = Inputs::new(&b.pc, &b.pr);
    assert_eq!(ctx.loss_rows_weighted_into(block, &plain, &w[..11], None, &mut partial[..9]).map_err(|e| e.kind()),
               Err(ErrorKind::Size));
    assert_eq!(ctx.loss_rows_weighted_into(block, &plain, &w, None, &mut partial).map_err(|e| e.kind()),
               Err(ErrorKind::Size));
    assert_eq!(ctx.loss_rows_weighted_into(RowBlock::new(2, 0), &plain, &w, None,
                                           &mut partial[..9]).map_err(|e| e.kind()), Err(ErrorKind::Size));
    // librpo's own refusal writes nothing either
    let nan = [f64::NAN, 0.0, 0.0];
    let r = ctx.loss_rows_into(block, &Inputs::new(&nan, &b.pr).unpaired_embeddings(&b.e, &b.f, 2),
                               Some(&mut gc), Some(&mut ge), &mut partial);
    assert_eq!(r.map_err(|e| e.kind()), Err(ErrorKind::NonFinite));
    assert!(untouched(&gc, &ge, &partial));

    // and the good call writes every entry of every buffer
    ctx.loss_rows_into(block, &good, Some(&mut gc), Some(&mut ge), &mut partial).unwrap();
    assert!(gc.iter().chain(&ge).chain(&partial).all(|x| *x != 7.0 && x.is_finite()));
    // paired embeddings write no rejected embedding gradient, of any length
    let pr = &b.pr[..3];
    ctx.loss_embed_grad_into(&Inputs::new(&b.pc, pr).paired_embeddings(&b.e, 2), None, None,
                             Some(&mut ge), Some(&mut short)).unwrap();
    assert!(short.iter().all(|x| *x == 7.0));
}
