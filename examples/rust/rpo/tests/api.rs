//! The safe wrapper's contract: settings, errors (each status, and the
//! lengths only the wrapper can check), nothing written on error, Send,
//! the version, and the token helpers against a direct f64 computation and
//! finite differences.
use rpo::{Context, Embeddings, Error, ErrorKind, Inputs, Logits, Param, Placement, Reduction, SeqReduce,
          Weighting};

#[test]
fn settings_round_trip_and_reject_bad_values() {
    let mut ctx = Context::new().unwrap();
    assert_eq!(ctx.get(Param::WEIGHTING).unwrap(), 2.0);
    assert_eq!(ctx.get(Param::BETA).unwrap(), 0.1);
    ctx.set_weighting(Weighting::Diagonal).unwrap();
    ctx.set_alpha(0.6).unwrap();
    ctx.set_placement(Placement::Logit).unwrap();
    ctx.set_reduction(Reduction::Sum).unwrap();
    ctx.set_tau(0.25).unwrap();
    assert_eq!(ctx.get(Param::WEIGHTING).unwrap(), 1.0);
    assert_eq!(ctx.get(Param::ALPHA).unwrap(), 0.6);
    assert_eq!(ctx.get(Param::PLACEMENT).unwrap(), 1.0);
    assert_eq!(ctx.get(Param::REDUCTION).unwrap(), 1.0);
    assert_eq!(ctx.get(Param::TAU).unwrap(), 0.25);
    assert_eq!(ctx.set_alpha(1.5).map_err(|e| e.kind()), Err(ErrorKind::Param));
    assert_eq!(ctx.set_beta(f64::NAN).map_err(|e| e.kind()), Err(ErrorKind::Param));
    assert_eq!(ctx.get(Param::ALPHA).unwrap(), 0.6);
    assert_eq!(ctx.set(Param(99), 1.0).map_err(|e| e.kind()), Err(ErrorKind::Param));
    assert_eq!(Context::bounds(Param::ALPHA).unwrap(), (0.0, 1.0));
}

#[test]
fn errors_carry_code_and_message() {
    let mut ctx = Context::new().unwrap();
    let (pc, pr) = ([-1.0f64, -2.0], [-3.0f64, -1.0, -2.0]);
    // embedding weighting without embeddings
    assert_eq!(ctx.loss(&Inputs::new(&pc, &pr[..2])).unwrap_err(), ErrorKind::NullPointer);
    // diagonal with M != N
    ctx.set_weighting(Weighting::Diagonal).unwrap();
    assert_eq!(ctx.loss(&Inputs::new(&pc, &pr)).unwrap_err(), ErrorKind::Size);
    // a reference shorter than its policy: caught by the wrapper
    ctx.set_weighting(Weighting::Uniform).unwrap();
    assert_eq!(ctx.loss(&Inputs::new(&pc, &pr).reference(&pc[..1], &pr)).unwrap_err(),
               ErrorKind::Size);
    // embeddings of the wrong length
    assert_eq!(ctx.loss(&Inputs::new(&pc, &pc).paired_embeddings(&pr, 2)).unwrap_err(),
               ErrorKind::Size);
    // NaN
    assert_eq!(ctx.loss(&Inputs::new(&[f64::NAN, 0.0], &pr)).unwrap_err(), ErrorKind::NonFinite);
    // float32 overflow of the loss
    ctx.set_beta(1e30).unwrap();
    assert_eq!(ctx.loss(&Inputs::new(&[-1e10f32], &[0.0f32])).unwrap_err(), ErrorKind::Range);
    for kind in [ErrorKind::NullPointer, ErrorKind::Size, ErrorKind::Param,
                 ErrorKind::NonFinite, ErrorKind::NoMemory, ErrorKind::Unsupported,
                 ErrorKind::Range, ErrorKind::Other(-99)] {
        assert!(!kind.message().is_empty());
        let e = Error::check(kind.code()).unwrap_err();
        assert_eq!(e.kind(), kind);
        assert_eq!(e.detail(), "");
        assert_eq!(e.to_string(), format!("librpo status {}: {}", kind.code(), kind.message()));
    }
    assert_eq!(Error::check(0), Ok(()));
}

/// A failure of a call on a context carries librpo's detail, and Display
/// shows it ahead of the status.
#[test]
fn errors_carry_the_detail() {
    let mut ctx = Context::new().unwrap();
    let (pc, pr) = ([-1.0f64, -2.0], [-3.0f64, -1.0]);
    let err = ctx.loss(&Inputs::new(&pc, &pr)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NullPointer);
    assert!(err.detail().starts_with("chosen_emb is NULL: EMBEDDING weighting needs prompt \
                                      embeddings"), "{err}");
    assert!(err.to_string().starts_with(err.detail()), "{err}");
    assert!(err.to_string().ends_with(&format!("(librpo status -1: {})", err.message())));
    ctx.set_weighting(Weighting::Uniform).unwrap();
    let err = ctx.loss(&Inputs::new(&[-1.0, f64::NAN], &pr)).unwrap_err();
    assert_eq!(err.detail(), "policy_chosen[1] is NaN");
    let err = ctx.set_threads(0).unwrap_err();
    assert_eq!(err.detail(), "RPO_PARAM_THREADS = 0 is not an integer in [1, 256]");
    let mut logps = [0.0f64; 2];
    let err = ctx.token_logps(Logits::new(&[0.0f64; 6], 3), &[0, 3], &mut logps)
        .unwrap_err();
    assert_eq!(err.detail(), "targets[1] = 3 is not below v = 3");
    // lengths the wrapper checks before librpo is called say which slice
    let err = ctx.loss(&Inputs::new(&pc, &pr).reference(&pc[..1], &pr)).unwrap_err();
    assert_eq!((err.kind(), err.detail()),
               (ErrorKind::Size, "ref_chosen has 1 entries, policy_chosen 2"));
    let mut short = [0.0f64; 1];
    let err = ctx.loss_into(&Inputs::new(&pc, &pr), Some(&mut short), None).unwrap_err();
    assert_eq!(err.detail(), "grad_chosen has 1 entries, want 2");
    let err = ctx.token_logps(Logits::new(&[0.0f64; 6], 3), &[0, 1], &mut [0.0; 1])
        .unwrap_err();
    assert_eq!(err.detail(), "logps has 1 entries, logits 2 rows");
    let err = "dpo".parse::<rpo::LossType>().unwrap_err();
    assert!(err.detail().starts_with("\"dpo\" is not a loss_type: one of sigmoid, "), "{err}");
}

#[test]
fn nothing_written_on_error() {
    let mut ctx = Context::new().unwrap();
    ctx.set_weighting(Weighting::Uniform).unwrap();
    let mut gc = [7.0f64; 2];
    let mut gr = [7.0f64; 2];
    let before = ctx.metrics();
    let bad = [f64::INFINITY, 1.0];
    let r = ctx.loss_into(&Inputs::new(&bad, &[0.0, 1.0]), Some(&mut gc), Some(&mut gr));
    assert_eq!(r.map_err(|e| e.kind()), Err(ErrorKind::NonFinite));
    assert_eq!(gc, [7.0, 7.0]);
    assert_eq!(gr, [7.0, 7.0]);
    assert_eq!(ctx.metrics(), before);
    // a gradient buffer of the wrong length is refused before the call
    let mut short = [0.0f64; 1];
    assert_eq!(ctx.loss_into(&Inputs::new(&[1.0, 2.0], &[0.0, 1.0]), Some(&mut short), None).map_err(|e| e.kind()),
               Err(ErrorKind::Size));
}

#[test]
fn loss_matches_a_direct_computation() {
    // uniform weighting, loss placement: L = mean_ij softplus(-beta z_ij)
    let (pc, rc, pr, rr) = ([-3.0, -5.0, -4.0], [-4.0, -4.5, -4.0], [-6.0, -2.0], [-5.0, -2.5]);
    let mut ctx = Context::new().unwrap();
    ctx.set_weighting(Weighting::Uniform).unwrap();
    ctx.set_beta(0.7).unwrap();
    let out = ctx.loss(&Inputs::new(&pc, &pr).reference(&rc, &rr)).unwrap();
    let mut want = 0.0;
    let mut want_gc = [0.0; 3];
    for i in 0..3 {
        for j in 0..2 {
            let z: f64 = (pc[i] - rc[i]) - (pr[j] - rr[j]);
            want += (1.0 + (-0.7 * z).exp()).ln() / 6.0;
            want_gc[i] += -0.7 / 6.0 / (1.0 + (0.7 * z).exp());
        }
    }
    assert!((out.loss - want).abs() < 1e-14);
    for i in 0..3 {
        assert!((out.grad_chosen[i] - want_gc[i]).abs() < 1e-14);
    }
    assert_eq!(ctx.metrics(), out.metrics);
    // the loss-only call gives the same loss
    let only = ctx.loss_into(&Inputs::new(&pc, &pr).reference(&rc, &rr), None, None).unwrap();
    assert_eq!(only, out.loss);
}

#[test]
fn weights_of_each_weighting() {
    let mut ctx = Context::new().unwrap();
    ctx.set_weighting(Weighting::Diagonal).unwrap();
    ctx.set_alpha(0.7).unwrap();
    let w: Vec<f64> = ctx.weights(3, 3, Embeddings::None).unwrap();
    for (k, got) in w.iter().enumerate() {
        let want = if k % 4 == 0 { 0.7 } else { (1.0 - 0.7) / 2.0 };
        assert_eq!(*got, want, "W[{k}]");
    }
    ctx.set_weighting(Weighting::Embedding).unwrap();
    let (e, f) = ([1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let w = ctx.weights(2, 3, Embeddings::Unpaired { chosen: &e, rejected: &f, dim: 2 }).unwrap();
    for row in w.chunks(3) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    }
    assert!(w[0] > w[2] && w[2] > w[1]);
}

#[test]
fn context_is_send() {
    let mut ctx = Context::new().unwrap();
    ctx.set_weighting(Weighting::Uniform).unwrap();
    let handle = std::thread::spawn(move || {
        let loss = ctx.loss(&Inputs::new(&[0.0f64], &[0.0])).unwrap().loss;
        (ctx, loss)
    });
    let (ctx, loss) = handle.join().unwrap();
    assert!((loss - std::f64::consts::LN_2).abs() < 1e-15);
    assert_eq!(ctx.metrics().loss, loss);
}

#[test]
fn version_matches_the_header() {
    let header = std::fs::read_to_string(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../include/rpo.h")).unwrap();
    let part = |name: &str| -> u32 {
        header.lines()
            .find_map(|l| l.strip_prefix(&format!("#define RPO_VERSION_{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    };
    let (major, minor, patch) = (part("MAJOR"), part("MINOR"), part("PATCH"));
    assert_eq!(rpo::version(), format!("{major}.{minor}.{patch}"));
    assert_eq!(rpo::version_number(), major * 10000 + minor * 100 + patch);
    assert_eq!(env!("CARGO_PKG_VERSION"), rpo::version());
}

/// log softmax(row)[y], directly.
fn logp(row: &[f64], y: usize) -> f64 {
    let top = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = row.iter().map(|x| (x - top).exp()).sum();
    row[y] - top - sum.ln()
}

#[test]
fn token_helpers_against_direct_computation() {
    let (rows, vocab, stride) = (3, 4, 6);
    let mut data = vec![f64::NAN; (rows - 1) * stride + vocab]; // padding never read
    for r in 0..rows {
        for v in 0..vocab {
            data[r * stride + v] = ((r * 7 + v * 3) % 5) as f64 - 2.0;
        }
    }
    let targets = [2, -1, 0];
    let mut ctx = Context::new().unwrap();
    let mut logps = [0.0; 3];
    let logits = Logits::with_stride(&data, rows, vocab, stride);
    ctx.token_logps(logits, &targets, &mut logps).unwrap();
    assert!((logps[0] - logp(&data[0..4], 2)).abs() < 1e-15);
    assert_eq!(logps[1], 0.0);
    assert!((logps[2] - logp(&data[12..16], 0)).abs() < 1e-15);

    // backward against central differences of sum_t g_t * logp_t
    let g = [0.5, 3.0, -2.0];
    let mut dlogits = vec![0.0; data.len()];
    ctx.token_logps_backward(logits, &targets, &g, &mut dlogits).unwrap();
    let objective = |x: &[f64]| -> f64 {
        [(0usize, 2usize, 0.5f64), (2, 0, -2.0)].iter()
            .map(|&(r, y, w)| w * logp(&x[r * stride..r * stride + vocab], y)).sum()
    };
    for k in 0..data.len() {
        if k % stride >= vocab {
            assert!(dlogits[k] == 0.0, "padding written");
            continue;
        }
        let (mut up, mut down) = (data.clone(), data.clone());
        up[k] += 1e-6;
        down[k] -= 1e-6;
        let fd = (objective(&up) - objective(&down)) / 2e-6;
        assert!((dlogits[k] - fd).abs() < 1e-8, "dlogits[{k}] {} vs {fd}", dlogits[k]);
    }
    // wrong lengths are refused
    assert_eq!(ctx.token_logps(logits, &targets[..2], &mut logps).map_err(|e| e.kind()), Err(ErrorKind::Size));
    assert_eq!(ctx.token_logps(Logits::with_stride(&data[..10], rows, vocab, stride),
                               &targets, &mut logps).map_err(|e| e.kind()), Err(ErrorKind::Size));
    // a target outside the vocabulary is librpo's RPO_ERR_SIZE
    assert_eq!(ctx.token_logps(logits, &[4, 0, 0], &mut logps).map_err(|e| e.kind()), Err(ErrorKind::Size));
}

#[test]
fn sequence_helpers() {
    let tokens = [-1.0f32, -2.0, -3.0, -4.0];
    let mask = [1u8, 0, 1, 1];
    let mut seq = [0.0f32; 2];
    rpo::seq_logps(&tokens, 2, Some(&mask), SeqReduce::Mean, &mut seq).unwrap();
    assert_eq!(seq, [-1.0, -3.5]);
    let mut d = [9.0f32; 4];
    rpo::seq_logps_backward(&[2.0f32, 4.0], 2, Some(&mask), SeqReduce::Mean, &mut d).unwrap();
    assert_eq!(d, [2.0, 0.0, 2.0, 2.0]);
    assert_eq!(rpo::seq_logps(&tokens, 3, None, SeqReduce::Sum, &mut seq).map_err(|e| e.kind()), Err(ErrorKind::Size));
}
