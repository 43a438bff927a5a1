//! The fused linear log-probs through the safe wrapper, against the unfused
//! path: the logits formed here in f64, then the crate's token_logps and
//! token_logps_backward, then the chain rule's products formed here; the
//! returned lse against the token path's; f32 against f64; shapes checked
//! by the wrapper, errors with librpo's detail, nothing written on error.
use rpo::{Context, ErrorKind, LinearGrads, LinearHead, Logits};

const T: usize = 5;
const H: usize = 6;
const V: usize = 37; // chunks of 16: two full and a partial one
const LDW: usize = 8;

struct Case {
    hidden: Vec<f64>,
    weight: Vec<f64>, // (V, LDW), padding NaN: never read
    bias: Vec<f64>,
    targets: [i32; T],
    dlogps: [f64; T],
}

fn case() -> Case {
    let mut weight = vec![f64::NAN; V * LDW];
    for v in 0..V {
        for k in 0..H {
            weight[v * LDW + k] = (((v * 7 + k * 11) % 17) as f64 - 8.0) * 0.09;
        }
    }
    Case {
        hidden: (0..T * H).map(|k| ((k * 5 % 11) as f64 - 5.0) * 0.3).collect(),
        weight,
        bias: (0..V).map(|v| (v % 5) as f64 * 0.1 - 0.2).collect(),
        targets: [4, 36, -1, 0, 17],
        dlogps: [0.7, -1.1, 0.3, 0.0, 1.9],
    }
}

fn head(c: &Case) -> LinearHead<'_, f64> {
    LinearHead::with_stride(&c.weight, V, H, LDW).bias(&c.bias)
}

/// logits (T, V) = hidden W^T + bias, in f64 here.
fn logits(c: &Case) -> Vec<f64> {
    let mut x = vec![0.0; T * V];
    for t in 0..T {
        for v in 0..V {
            x[t * V + v] = c.bias[v] +
                (0..H).map(|k| c.hidden[t * H + k] * c.weight[v * LDW + k]).sum::<f64>();
        }
    }
    x
}

fn close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * w.abs().max(1.0), "{what}[{k}]: {g} vs {w}");
    }
}

#[test]
fn forward_and_backward_match_the_unfused_path() {
    let c = case();
    let mut ctx = Context::new().unwrap();
    ctx.set_linear_chunk(16).unwrap();
    assert_eq!(ctx.linear_chunk().unwrap(), 16);
    let (mut logps, mut lse) = ([0.0; T], [0.0; T]);
    ctx.linear_logps(&head(&c), &c.hidden, &c.targets, &mut logps, Some(&mut lse)).unwrap();

    let x = logits(&c);
    let (mut want, mut want_lse) = ([0.0; T], [0.0; T]);
    ctx.token_logps_lse(Logits::new(&x, V), &c.targets, &mut want, &mut want_lse).unwrap();
    close("logps", &logps, &want, 1e-13);
    close("lse", &lse, &want_lse, 1e-13);

    // backward: dlogits by the token helper, then the chain rule here
    let mut dlogits = vec![0.0; T * V];
    ctx.token_logps_backward(Logits::new(&x, V), &c.targets, &c.dlogps, &mut dlogits).unwrap();
    let start = |n: usize| -> Vec<f64> { (0..n).map(|k| 0.001 * k as f64).collect() };
    let (mut want_dh, mut want_dw, mut want_db) = (start(T * H), start(V * LDW), start(V));
    for t in 0..T {
        for v in 0..V {
            let g = dlogits[t * V + v];
            want_db[v] += g;
            for k in 0..H {
                want_dh[t * H + k] += g * c.weight[v * LDW + k];
                want_dw[v * LDW + k] += g * c.hidden[t * H + k];
            }
        }
    }
    for given in [true, false] {
        let (mut dh, mut dw, mut db) = (start(T * H), start(V * LDW), start(V));
        ctx.linear_logps_backward(&head(&c), &c.hidden, &c.targets,
                                  if given { Some(&lse[..]) } else { None }, &c.dlogps,
                                  LinearGrads { dhidden: &mut dh, dweight: &mut dw,
                                                dbias: Some(&mut db) }).unwrap();
        close("dhidden", &dh, &want_dh, 1e-13);
        close("dbias", &db, &want_db, 1e-13);
        for v in 0..V {
            close("dweight row", &dw[v * LDW..v * LDW + H], &want_dw[v * LDW..v * LDW + H], 1e-13);
            assert_eq!(&dw[v * LDW + H..v * LDW + LDW], &start(V * LDW)[v * LDW + H..v * LDW + LDW],
                       "dweight padding of row {v}");
        }
        // tokens without a target or with dlogps 0: rows untouched
        for t in [2usize, 3] {
            assert_eq!(&dh[t * H..t * H + H], &start(T * H)[t * H..t * H + H], "dhidden row {t}");
        }
    }
}

#[test]
fn float32_agrees_with_float64() {
    let c = case();
    let f = |x: &[f64]| -> Vec<f32> { x.iter().map(|&v| v as f32).collect() };
    let (hidden, weight, bias) = (f(&c.hidden), f(&c.weight), f(&c.bias));
    let head32 = LinearHead::with_stride(&weight, V, H, LDW).bias(&bias);
    let mut ctx = Context::new().unwrap();
    let (mut logps, mut lse) = ([0.0f32; T], [0.0f32; T]);
    ctx.linear_logps(&head32, &hidden, &c.targets, &mut logps, Some(&mut lse)).unwrap();
    let (mut want, mut want_lse) = ([0.0; T], [0.0; T]);
    ctx.linear_logps(&head(&c), &c.hidden, &c.targets, &mut want, Some(&mut want_lse)).unwrap();
    for t in 0..T {
        assert!((f64::from(logps[t]) - want[t]).abs() <= 1e-5, "logps[{t}]");
        // lse is the element type's rounding of the double lse
        assert!((f64::from(lse[t]) - want_lse[t]).abs() <= 1e-5, "lse[{t}]");
    }
    let (mut dh, mut dw) = (vec![0.0f32; T * H], vec![0.0f32; V * LDW]);
    ctx.linear_logps_backward(&head32, &hidden, &c.targets, Some(&lse), &f(&c.dlogps),
                              LinearGrads { dhidden: &mut dh, dweight: &mut dw, dbias: None })
        .unwrap();
    let (mut dh64, mut dw64) = (vec![0.0; T * H], vec![0.0; V * LDW]);
    ctx.linear_logps_backward(&head(&c), &c.hidden, &c.targets, None, &c.dlogps,
                              LinearGrads { dhidden: &mut dh64, dweight: &mut dw64, dbias: None })
        .unwrap();
    for k in 0..T * H {
        assert!((f64::from(dh[k]) - dh64[k]).abs() <= 1e-5, "dhidden[{k}]");
    }
}

#[test]
fn shapes_and_librpo_errors_with_nothing_written() {
    let c = case();
    let mut ctx = Context::new().unwrap();
    let mut logps = [3.0; T];
    // the wrapper's checks
    let short = LinearHead::with_stride(&c.weight[..V * LDW - 3], V, H, LDW);
    let err = ctx.linear_logps(&short, &c.hidden, &c.targets, &mut logps, None).unwrap_err();
    assert_eq!(err, ErrorKind::Size);
    assert!(err.detail().contains("weight has"), "{err}");
    let narrow = LinearHead::with_stride(&c.weight, V, H, H - 1);
    assert!(ctx.linear_logps(&narrow, &c.hidden, &c.targets, &mut logps, None).unwrap_err()
               .detail().contains("stride = 5 is below hidden_size = 6"));
    let err = ctx.linear_logps(&head(&c), &c.hidden[1..], &c.targets, &mut logps, None)
        .unwrap_err();
    assert!(err.detail().contains("hidden has 29 entries"), "{err}");
    let err = ctx.linear_logps(&LinearHead::with_stride(&c.weight, V, H, LDW).bias(&c.bias[1..]),
                               &c.hidden, &c.targets, &mut logps, None).unwrap_err();
    assert!(err.detail().contains("bias has 36 entries"), "{err}");
    // librpo's: a target out of range, a NaN in a weight row that is read
    let err = ctx.linear_logps(&head(&c), &c.hidden, &[0, 1, 2, 37, 4], &mut logps, None)
        .unwrap_err();
    assert_eq!(err, ErrorKind::Size);
    assert!(err.detail().contains("37"), "{err}");
    let mut bad = c.weight.clone();
    bad[30 * LDW + 2] = f64::NAN;
    let bad_head = LinearHead::with_stride(&bad, V, H, LDW);
    let err = ctx.linear_logps(&bad_head, &c.hidden, &c.targets, &mut logps, None).unwrap_err();
    assert_eq!(err, ErrorKind::NonFinite);
    assert!(err.detail().contains("weight[30][2]"), "{err}");
    assert_eq!(logps, [3.0; T]);
    let (mut dh, mut dw, mut db) = (vec![2.0; T * H], vec![2.0; V * LDW], vec![2.0; V]);
    let err = ctx.linear_logps_backward(&bad_head, &c.hidden, &c.targets, None, &c.dlogps,
                                        LinearGrads { dhidden: &mut dh, dweight: &mut dw,
                                                      dbias: Some(&mut db) }).unwrap_err();
    assert_eq!(err, ErrorKind::NonFinite);
    assert!(!err.detail().is_empty());
    assert!(dh.iter().chain(&dw).chain(&db).all(|&x| x == 2.0));
    let err = ctx.linear_logps_backward(&head(&c), &c.hidden, &c.targets, None, &c.dlogps,
                                        LinearGrads { dhidden: &mut dh, dweight: &mut dw[..10],
                                                      dbias: None }).unwrap_err();
    assert!(err.detail().contains("dweight has 10 entries"), "{err}");
    assert_eq!(ctx.set_linear_chunk(8).unwrap_err(), ErrorKind::Param);
}
