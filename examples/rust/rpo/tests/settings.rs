//! The settings since 1.0 through their typed setters: each round-trips,
//! refuses values outside librpo's range with ErrorKind::Param (keeping the old
//! value), and changes what a call computes as docs/extensions.md says: every
//! loss type against its formula, the logit scale, Sinkhorn weights against
//! their marginals and statistics, and threads against one thread.
use rpo::{Context, Embeddings, ErrorKind, Inputs, LogitScale, LossType, Param, Placement, Weighting};

#[test]
fn threads_round_trip_and_reject_bad_values() {
    let mut ctx = Context::new().unwrap();
    assert_eq!(ctx.threads(), Ok(1));
    assert_eq!(Context::bounds(Param::THREADS), Ok((1.0, 256.0)));
    ctx.set_threads(4).unwrap();
    assert_eq!(ctx.threads(), Ok(4));
    assert_eq!(ctx.get(Param::THREADS), Ok(4.0));
    assert_eq!(ctx.set_threads(0).map_err(|e| e.kind()), Err(ErrorKind::Param));
    assert_eq!(ctx.set_threads(257).map_err(|e| e.kind()), Err(ErrorKind::Param));
    assert_eq!(ctx.threads(), Ok(4));
    ctx.set_threads(256).unwrap();
    assert_eq!(ctx.threads(), Ok(256));
}

#[test]
fn loss_settings_round_trip_and_reject_bad_values() {
    let mut ctx = Context::new().unwrap();
    assert_eq!(ctx.loss_type(), Ok(LossType::Sigmoid));
    for loss in LossType::all() {
        ctx.set_loss_type(loss).unwrap();
        assert_eq!(ctx.loss_type(), Ok(loss));
        assert_eq!(ctx.get(Param::LOSS), Ok(loss as i32 as f64));
    }
    assert_eq!(LossType::all().count(), 11);
    assert_eq!(ctx.set(Param::LOSS, 11.0).map_err(|e| e.kind()), Err(ErrorKind::Param));
    assert_eq!(ctx.loss_type(), Ok(LossType::DiscoPop));

    assert_eq!(ctx.label_smoothing(), Ok(0.0));
    ctx.set_label_smoothing(0.25).unwrap();
    assert_eq!(ctx.label_smoothing(), Ok(0.25));
    for bad in [0.5, -0.01, f64::NAN, f64::INFINITY] {
        assert_eq!(ctx.set_label_smoothing(bad).map_err(|e| e.kind()), Err(ErrorKind::Param), "{bad}");
    }
    assert_eq!(ctx.label_smoothing(), Ok(0.25));

    assert_eq!(ctx.discopop_tau(), Ok(0.05));
    ctx.set_discopop_tau(2.5).unwrap();
    assert_eq!(ctx.discopop_tau(), Ok(2.5));
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(ctx.set_discopop_tau(bad).map_err(|e| e.kind()), Err(ErrorKind::Param), "{bad}");
    }
    assert_eq!(ctx.discopop_tau(), Ok(2.5));

    assert_eq!(ctx.logit_scale(), Ok(LogitScale::RowSum));
    ctx.set_logit_scale(LogitScale::RowMean).unwrap();
    assert_eq!(ctx.logit_scale(), Ok(LogitScale::RowMean));
    assert_eq!(ctx.get(Param::LOGIT_SCALE), Ok(1.0));
    assert_eq!(ctx.set(Param::LOGIT_SCALE, 2.0).map_err(|e| e.kind()), Err(ErrorKind::Param));
    assert_eq!(ctx.logit_scale(), Ok(LogitScale::RowMean));
}

#[test]
fn sinkhorn_settings_round_trip_and_reject_bad_values() {
    let mut ctx = Context::new().unwrap();
    ctx.set_sinkhorn_weighting().unwrap();
    assert_eq!(ctx.get(Param::WEIGHTING), Ok(3.0));
    ctx.set_weighting(Weighting::Uniform).unwrap();
    assert_eq!(ctx.get(Param::WEIGHTING), Ok(0.0));

    assert_eq!(ctx.sinkhorn_iters(), Ok(200));
    ctx.set_sinkhorn_iters(1_000_000).unwrap();
    assert_eq!(ctx.sinkhorn_iters(), Ok(1_000_000));
    assert_eq!(ctx.set_sinkhorn_iters(0).map_err(|e| e.kind()), Err(ErrorKind::Param));
    assert_eq!(ctx.set_sinkhorn_iters(1_000_001).map_err(|e| e.kind()), Err(ErrorKind::Param));
    assert_eq!(ctx.sinkhorn_iters(), Ok(1_000_000));

    assert_eq!(ctx.sinkhorn_tol(), Ok(1e-9));
    ctx.set_sinkhorn_tol(0.0).unwrap();
    assert_eq!(ctx.sinkhorn_tol(), Ok(0.0));
    for bad in [-1e-12, 1.5, f64::NAN] {
        assert_eq!(ctx.set_sinkhorn_tol(bad).map_err(|e| e.kind()), Err(ErrorKind::Param), "{bad}");
    }
    assert_eq!(ctx.sinkhorn_tol(), Ok(0.0));
}

/// The names and numbers of docs/extensions.md's table, TRL's `loss_type`s.
#[test]
fn loss_type_names_are_the_documented_ones() {
    let doc = std::fs::read_to_string(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../docs/extensions.md")).unwrap();
    let mut rows = 0;
    for line in doc.lines().filter(|l| l.starts_with("| `") && l.matches('|').count() > 4) {
        let cells: Vec<&str> = line.split('|').map(|c| c.trim().trim_matches('`')).collect();
        let (value, name) = match (cells[2].parse::<i32>(), cells[3]) {
            (Ok(value), name) => (value, name),
            _ => continue,
        };
        let loss: LossType = name.parse().unwrap();
        assert_eq!(loss as i32, value, "{name}");
        assert_eq!(loss.name(), name);
        assert_eq!(loss.to_string(), name);
        rows += 1;
    }
    assert_eq!(rows, LossType::all().count());
    assert_eq!("dpo".parse::<LossType>().map_err(|e| e.kind()), Err(ErrorKind::Param));
}

fn sp(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn s(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// f(a, b) of docs/extensions.md's table.
fn pair_loss(loss: LossType, beta: f64, eps: f64, tau_d: f64, a: f64, b: f64) -> f64 {
    let x = beta * (a - b);
    let h = 1.0 / (2.0 * beta);
    match loss {
        LossType::Sigmoid => (1.0 - eps) * sp(-x) + eps * sp(x),
        LossType::Hinge => (1.0 - x).max(0.0),
        LossType::Ipo => ((a - b) - h).powi(2),
        LossType::Robust => ((1.0 - eps) * sp(-x) - eps * sp(x)) / (1.0 - 2.0 * eps),
        LossType::ExoPair => {
            s(x) * (s(x).ln() - (1.0 - eps).ln()) + s(-x) * (s(-x).ln() - eps.ln())
        }
        LossType::BcoPair => sp(-beta * a) + sp(beta * b),
        LossType::SppoHard => (a - h).powi(2) + (b + h).powi(2),
        LossType::NcaPair => sp(-beta * a) + sp(beta * a) / 2.0 + sp(beta * b) / 2.0,
        LossType::ApoZero => (1.0 - s(beta * a)) + s(beta * b),
        LossType::ApoDown => s(beta * a) + (1.0 - s(x)),
        LossType::DiscoPop => sp(-x) * (1.0 - s(x / tau_d)) + (-x).exp() * s(x / tau_d),
        _ => unreachable!("a loss type without a formula here"),
    }
}

const A: [f64; 3] = [0.9, -0.4, 2.0];
const B: [f64; 4] = [-1.0, 0.3, 1.5, -0.2];

/// Uniform weighting in LOSS placement: the mean of f over all pairs.
#[test]
fn every_loss_type_computes_its_formula() {
    let (beta, eps, tau_d) = (0.7, 0.1, 0.2);
    let mut ctx = Context::new().unwrap();
    ctx.set_weighting(Weighting::Uniform).unwrap();
    ctx.set_beta(beta).unwrap();
    ctx.set_label_smoothing(eps).unwrap();
    ctx.set_discopop_tau(tau_d).unwrap();
    for loss in LossType::all() {
        ctx.set_loss_type(loss).unwrap();
        let got = ctx.loss(&Inputs::new(&A, &B)).unwrap().loss;
        let mut want = 0.0;
        for a in A {
            for b in B {
                want += pair_loss(loss, beta, eps, tau_d, a, b) / 12.0;
            }
        }
        assert!((got - want).abs() <= 1e-14 * want.abs().max(1.0), "{loss}: {got} vs {want}");
    }
    // EXO's loss is infinite without smoothing: refused at the call.
    ctx.set_loss_type(LossType::ExoPair).unwrap();
    ctx.set_label_smoothing(0.0).unwrap();
    assert_eq!(ctx.loss(&Inputs::new(&A, &B)).unwrap_err(), ErrorKind::Param);
}

/// LOGIT placement with uniform weights: f(k a / N, k b / N) averaged;
/// ROW_MEAN (k = N) is then the mean of f, as LOSS placement gives.
#[test]
fn logit_scale_multiplies_the_weight_in_the_logit() {
    let beta = 0.9;
    let mut ctx = Context::new().unwrap();
    ctx.set_weighting(Weighting::Uniform).unwrap();
    ctx.set_placement(Placement::Logit).unwrap();
    ctx.set_beta(beta).unwrap();
    let n = B.len() as f64;
    for (scale, k) in [(LogitScale::RowSum, 1.0), (LogitScale::RowMean, n)] {
        ctx.set_logit_scale(scale).unwrap();
        let got = ctx.loss(&Inputs::new(&A, &B)).unwrap().loss;
        let mut want = 0.0;
        for a in A {
            for b in B {
                want += sp(-beta * k / n * (a - b)) / 12.0;
            }
        }
        assert!((got - want).abs() < 1e-15, "{scale:?}: {got} vs {want}");
    }
}

fn embeddings() -> (Vec<f64>, Vec<f64>) {
    let chosen = (0..3 * 2).map(|k| ((k * 37 % 11) as f64 - 5.0) / 4.0).collect();
    let rejected = (0..4 * 2).map(|k| ((k * 53 % 13) as f64 - 6.0) / 5.0).collect();
    (chosen, rejected)
}

/// max_j |N sum_i W_ij / M - 1|: the documented Sinkhorn error.
fn column_error(w: &[f64], m: usize, n: usize) -> f64 {
    (0..n)
        .map(|j| ((0..m).map(|i| w[i * n + j]).sum::<f64>() * n as f64 / m as f64 - 1.0).abs())
        .fold(0.0, f64::max)
}

#[test]
fn sinkhorn_weights_meet_their_marginals_and_report_the_run() {
    let (e, f) = embeddings();
    let emb = Embeddings::Unpaired { chosen: &e, rejected: &f, dim: 2 };
    let mut ctx = Context::new().unwrap();
    ctx.set_weighting(Weighting::Uniform).unwrap();
    ctx.loss(&Inputs::new(&A, &B)).unwrap();
    assert_eq!(ctx.sinkhorn(), Ok(rpo::SinkhornRun { iterations: 0, error: 0.0 }));

    ctx.set_sinkhorn_weighting().unwrap();
    ctx.set_tau(0.3).unwrap();
    ctx.set_sinkhorn_tol(1e-12).unwrap();
    ctx.set_sinkhorn_iters(5000).unwrap();
    let w = ctx.weights(3, 4, emb).unwrap();
    let run = ctx.sinkhorn().unwrap();
    assert!(run.iterations > 1 && run.iterations < 5000, "{run:?}");
    assert!(run.error <= 1e-12, "{run:?}");
    assert!((column_error(&w, 3, 4) - run.error).abs() < 1e-14);
    for row in w.chunks(4) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    }

    // Capped at 3 iterations: an unconverged plan, its error reported.
    ctx.set_sinkhorn_iters(3).unwrap();
    let w3 = ctx.weights(3, 4, emb).unwrap();
    let run3 = ctx.sinkhorn().unwrap();
    assert_eq!(run3.iterations, 3);
    assert!(run3.error > 1e-6 && (column_error(&w3, 3, 4) - run3.error).abs() < 1e-14);

    // One iteration keeps g = 0: the embedding softmax itself.
    ctx.set_sinkhorn_iters(1).unwrap();
    let w1 = ctx.weights(3, 4, emb).unwrap();
    ctx.set_weighting(Weighting::Embedding).unwrap();
    let softmax = ctx.weights(3, 4, emb).unwrap();
    for (x, y) in w1.iter().zip(&softmax) {
        assert!((x - y).abs() < 1e-15);
    }
}

/// The plan is a constant of the backward: the Sinkhorn loss is the
/// weighted loss over its plan, and embedding gradients are refused.
#[test]
fn sinkhorn_loss_is_the_loss_over_its_plan() {
    let (e, f) = embeddings();
    let mut ctx = Context::new().unwrap();
    ctx.set_sinkhorn_weighting().unwrap();
    ctx.set_beta(0.8).unwrap();
    let batch = Inputs::new(&A, &B).unpaired_embeddings(&e, &f, 2);
    let out = ctx.loss(&batch).unwrap();
    assert!(ctx.sinkhorn().unwrap().iterations >= 1);
    let plan = ctx.weights(3, 4, batch.embeddings).unwrap();
    let weighted = ctx.loss_weighted(&Inputs::new(&A, &B), &plan).unwrap();
    assert!((out.loss - weighted.loss).abs() < 1e-14);
    for (x, y) in out.grad_rejected.iter().zip(&weighted.grad_rejected) {
        assert!((x - y).abs() < 1e-14);
    }
    assert_eq!(ctx.loss_embed_grad(&batch).unwrap_err(), ErrorKind::Unsupported);
}

/// Results are bitwise identical for any thread count.
#[test]
fn threads_change_nothing() {
    let (m, n, d) = (96, 80, 24);
    let pc: Vec<f64> = (0..m).map(|k| -((k * 13 % 29) as f64) / 3.0).collect();
    let pr: Vec<f64> = (0..n).map(|k| -((k * 7 % 31) as f64) / 3.0).collect();
    let e: Vec<f64> = (0..m * d).map(|k| ((k * 17 % 23) as f64 - 11.0) / 7.0).collect();
    let f: Vec<f64> = (0..n * d).map(|k| ((k * 19 % 29) as f64 - 14.0) / 9.0).collect();
    let batch = Inputs::new(&pc, &pr).unpaired_embeddings(&e, &f, d);
    let mut ctx = Context::new().unwrap();
    let one = ctx.loss_embed_grad(&batch).unwrap();
    ctx.set_threads(3).unwrap();
    let three = ctx.loss_embed_grad(&batch).unwrap();
    assert_eq!(one, three);
}
