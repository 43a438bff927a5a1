//! librpo 1.3's objectives through the crate (docs/objectives.md): a list
//! is the weighted sum of its terms, DIAGONAL with alpha = 1 is TRL's DPO
//! and ORPO (written out here in f64 from TRL's formulas), KTO is TRL's
//! kto_loss, and hostile values come back as errors.
use rpo::{Context, Inputs, Objective, Term, Weighting};

const PC: [f64; 4] = [-3.0, -5.5, -2.25, -4.0];
const PR: [f64; 4] = [-4.5, -3.0, -6.0, -2.5];
const RC: [f64; 4] = [-3.5, -5.0, -3.0, -4.5];
const RR: [f64; 4] = [-4.0, -3.5, -5.0, -3.0];
const LC: [f64; 4] = [3.0, 7.0, 2.0, 5.0];
const LR: [f64; 4] = [4.0, 2.0, 9.0, 3.0];
const BETA: f64 = 0.4;

fn softplus(x: f64) -> f64 { if x > 0.0 { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() } }
fn sigmoid(x: f64) -> f64 { 1.0 / (1.0 + (-x).exp()) }

fn dpo_context() -> Context {
    let mut ctx = Context::new().unwrap();
    ctx.set_weighting(Weighting::Diagonal).unwrap();
    ctx.set_alpha(1.0).unwrap();
    ctx.set_beta(BETA).unwrap();
    ctx
}

fn close(a: f64, b: f64) { assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}"); }

#[test]
fn a_list_is_the_weighted_sum_of_its_terms() {
    let mut ctx = dpo_context();
    let inputs = Inputs::new(&PC, &PR).reference(&RC, &RR);
    let both_terms = [(Term::Sigmoid, 1.0), (Term::Sft, 0.5)];
    let both = ctx.objective(&Objective::new(inputs, &both_terms).lengths(&LC, &LR)).unwrap();
    let sig = ctx.objective(&Objective::new(inputs, &[(Term::Sigmoid, 1.0)])).unwrap();
    let sft = ctx.objective(&Objective::new(inputs, &[(Term::Sft, 1.0)]).lengths(&LC, &LR)).unwrap();
    close(both.loss, sig.loss + 0.5 * sft.loss);
    for i in 0..4 {
        close(both.grad_chosen[i], sig.grad_chosen[i] + 0.5 * sft.grad_chosen[i]);
    }
}

#[test]
fn dpo_and_orpo_are_trls() {
    let mut ctx = dpo_context();
    let inputs = Inputs::new(&PC, &PR).reference(&RC, &RR);
    let dpo = ctx.objective(&Objective::new(inputs, &[(Term::Sigmoid, 1.0)])).unwrap();
    // -logsigmoid(beta * ((pc - pr) - (rc - rr))), mean
    let want: f64 = (0..4).map(|i| softplus(-BETA * ((PC[i] - PR[i]) - (RC[i] - RR[i]))))
                          .sum::<f64>() / 4.0;
    close(dpo.loss, want);
    // ORPO: nll - beta * logsigmoid(log_odds).mean(), averaged log-probs
    let terms = [(Term::Orpo, 1.0), (Term::Sft, 1.0)];
    let orpo = ctx.objective(&Objective::new(Inputs::new(&PC, &PR), &terms).lengths(&LC, &LR))
                  .unwrap();
    let lo = |x: f64| x - (-x.exp()).ln_1p();
    let ratio: f64 = (0..4).map(|i| softplus(-(lo(PC[i] / LC[i]) - lo(PR[i] / LR[i]))))
                           .sum::<f64>() / 4.0;
    let nll = -PC.iter().sum::<f64>() / LC.iter().sum::<f64>();
    close(orpo.loss, nll + BETA * ratio);
}

#[test]
fn kto_is_trls() {
    let mut ctx = dpo_context();
    ctx.set_kto_weights(1.5, 0.5).unwrap();
    let (pk, rk) = ([-2.0, -3.0], [-4.0, -3.5]);
    let inputs = Inputs::new(&PC[..3], &PR[..2]).reference(&RC[..3], &RR[..2]);
    let out = ctx.objective(&Objective::new(inputs, &[(Term::Kto, 1.0)]).kl_pairs(&pk, Some(&rk)))
                 .unwrap();
    let kl = (((pk[0] - rk[0]) + (pk[1] - rk[1])) / 2.0_f64).max(0.0);
    let mut total = 0.0;
    for i in 0..3 { total += 1.5 * (1.0 - sigmoid(BETA * ((PC[i] - RC[i]) - kl))); }
    for j in 0..2 { total += 0.5 * (1.0 - sigmoid(BETA * (kl - (PR[j] - RR[j])))); }
    close(out.loss, total / 5.0);
    assert_eq!(out.losses.len(), 5);
    close(ctx.last_kl().unwrap(), kl);
}

#[test]
fn hostile_values_are_errors() {
    let mut ctx = dpo_context();
    let inputs = Inputs::new(&PC, &PR).reference(&RC, &RR);
    let bad = [3.0, -1.0, 2.0, 5.0];
    let sft = [(Term::Sigmoid, 1.0), (Term::Sft, 1.0)];
    assert_eq!(ctx.objective(&Objective::new(inputs, &sft).lengths(&bad, &LR)).map_err(|e| e.kind()), Err(rpo::ErrorKind::Param));
    assert_eq!(ctx.objective(&Objective::new(inputs, &sft)).map_err(|e| e.kind()), Err(rpo::ErrorKind::NullPointer));
    let twice = [(Term::Sigmoid, 1.0), (Term::Sigmoid, 1.0)];
    assert_eq!(ctx.objective(&Objective::new(inputs, &twice)).map_err(|e| e.kind()), Err(rpo::ErrorKind::Param));
    assert_eq!(ctx.objective(&Objective::new(inputs, &sft).lengths(&LC[..2], &LR)).map_err(|e| e.kind()), Err(rpo::ErrorKind::Size));
}
