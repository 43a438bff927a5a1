//! Every case of the conformance vectors (tests/data/vectors.txt of the
//! project, or the file RPO_VECTORS names) through the safe wrapper, in f64
//! and f32, within the tolerances of the README beside it: the loss and both gradients, the
//! weight matrix, and the weighted loss fed the expected weights.
use std::path::PathBuf;

use rpo::{Context, Embeddings, Inputs, Param, Real};

#[derive(Default, Debug)]
struct Case {
    name: String,
    weighting: f64,
    placement: f64,
    beta: f64,
    tau: f64,
    alpha: f64,
    m: usize,
    n: usize,
    d: usize,
    policy_chosen: Vec<f64>,
    ref_chosen: Option<Vec<f64>>,
    policy_rejected: Vec<f64>,
    ref_rejected: Option<Vec<f64>>,
    chosen_emb: Option<Vec<f64>>,
    rejected_emb: Option<Vec<f64>>,
    rejected_same: bool,
    loss: f64,
    grad_chosen: Vec<f64>,
    grad_rejected: Vec<f64>,
    weights: Vec<f64>,
}

fn vectors_path() -> PathBuf {
    if let Ok(p) = std::env::var("RPO_VECTORS") {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    root.join("tests/data/vectors.txt")
}

fn numbers(words: &[&str]) -> Vec<f64> {
    words.iter().map(|w| w.parse().expect("a number")).collect()
}

fn optional(words: &[&str]) -> Option<Vec<f64>> {
    if words == ["none"] { None } else { Some(numbers(words)) }
}

fn enum_value(word: &str) -> f64 {
    match word {
        "uniform" | "auto" => 0.0,
        "diagonal" | "logit" => 1.0,
        "embedding" | "loss" => 2.0,
        other => panic!("unknown value {other}"),
    }
}

fn load() -> Vec<Case> {
    let text = std::fs::read_to_string(vectors_path()).expect("conformance vectors");
    let mut cases = Vec::new();
    let mut c = Case::default();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() || words[0].starts_with('#') {
            continue;
        }
        let (key, rest) = (words[0], &words[1..]);
        match key {
            "case" => c = Case { name: rest[0].to_string(), ..Case::default() },
            "end" => cases.push(std::mem::take(&mut c)),
            "weighting" => c.weighting = enum_value(rest[0]),
            "placement" => c.placement = enum_value(rest[0]),
            "beta" => c.beta = numbers(rest)[0],
            "tau" => c.tau = numbers(rest)[0],
            "alpha" => c.alpha = numbers(rest)[0],
            "m" => c.m = rest[0].parse().unwrap(),
            "n" => c.n = rest[0].parse().unwrap(),
            "d" => c.d = rest[0].parse().unwrap(),
            "policy_chosen" => c.policy_chosen = numbers(rest),
            "ref_chosen" => c.ref_chosen = optional(rest),
            "policy_rejected" => c.policy_rejected = numbers(rest),
            "ref_rejected" => c.ref_rejected = optional(rest),
            "chosen_emb" => c.chosen_emb = optional(rest),
            "rejected_emb" => {
                c.rejected_same = rest == ["same"];
                c.rejected_emb = if c.rejected_same { None } else { optional(rest) };
            }
            "loss" => c.loss = numbers(rest)[0],
            "grad_chosen" => c.grad_chosen = numbers(rest),
            "grad_rejected" => c.grad_rejected = numbers(rest),
            "weights" => c.weights = numbers(rest),
            other => panic!("unknown key {other}"),
        }
    }
    assert!(!cases.is_empty(), "no conformance cases");
    cases
}

fn context_for(c: &Case) -> Context {
    let mut ctx = Context::new().unwrap();
    for (param, value) in [(Param::WEIGHTING, c.weighting), (Param::PLACEMENT, c.placement),
                           (Param::BETA, c.beta), (Param::TAU, c.tau),
                           (Param::ALPHA, c.alpha)] {
        ctx.set(param, value).unwrap();
    }
    ctx
}

/// Each |got - want| <= tol * max |want| (the README's gradient rule).
fn check_rel<T: Real + Into<f64>>(what: &str, got: &[T], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f64, |a, w| a.max(w.abs()));
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        let g: f64 = (*g).into();
        assert!((g - w).abs() <= tol * scale, "{what}[{k}]: {g} vs {w}");
    }
}

fn check_loss(what: &str, got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol * want.abs().max(1.0), "{what}: {got} vs {want}");
}

/// Runs one precision over every case.
fn run<T: Real + Into<f64>>(convert: fn(f64) -> T, tol: f64) {
    for c in load() {
        let v = |x: &Vec<f64>| x.iter().map(|&e| convert(e)).collect::<Vec<T>>();
        let (pc, pr) = (v(&c.policy_chosen), v(&c.policy_rejected));
        let rc = c.ref_chosen.as_ref().map(v);
        let rr = c.ref_rejected.as_ref().map(v);
        let ce = c.chosen_emb.as_ref().map(v);
        let re = c.rejected_emb.as_ref().map(v);
        let mut inputs = Inputs::new(&pc, &pr);
        inputs.ref_chosen = rc.as_deref();
        inputs.ref_rejected = rr.as_deref();
        inputs.embeddings = match (&ce, &re) {
            (None, _) => Embeddings::None,
            (Some(ce), None) => Embeddings::Paired { chosen: ce, dim: c.d },
            (Some(ce), Some(re)) => Embeddings::Unpaired { chosen: ce, rejected: re, dim: c.d },
        };
        let what = format!("{} ({})", c.name, std::any::type_name::<T>());

        let mut ctx = context_for(&c);
        let out = ctx.loss(&inputs).unwrap();
        check_loss(&what, out.loss.into(), c.loss, tol);
        check_rel(&format!("{what} grad_chosen"), &out.grad_chosen, &c.grad_chosen, tol);
        check_rel(&format!("{what} grad_rejected"), &out.grad_rejected, &c.grad_rejected, tol);

        let w = ctx.weights(c.m, c.n, inputs.embeddings).unwrap();
        for (k, (g, want)) in w.iter().zip(&c.weights).enumerate() {
            let g: f64 = (*g).into();
            assert!((g - want).abs() <= tol, "{what} weights[{k}]: {g} vs {want}");
        }

        let weighted = ctx.loss_weighted(&inputs, &v(&c.weights)).unwrap();
        check_loss(&format!("{what} weighted"), weighted.loss.into(), c.loss, tol);
        check_rel(&format!("{what} weighted grad_chosen"), &weighted.grad_chosen,
                  &c.grad_chosen, tol);
    }
}

#[test]
fn conformance_f64() {
    run::<f64>(|x| x, 1e-12);
}

#[test]
fn conformance_f32() {
    run::<f32>(|x| x as f32, 1e-5);
}
