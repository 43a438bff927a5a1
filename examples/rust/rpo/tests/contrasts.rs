//! Effective contrasts through the crate: the setting round-trips and
//! refuses (0, 1) and k > N with ErrorKind::Param; the solved rows have
//! exp(entropy) = k, computed here from the returned weights; the shape of
//! UNIFORM and DIAGONAL weights is their closed form.
use rpo::{Context, Embeddings, ErrorKind, Param, Weighting};

/// exp(-sum_j w_j ln w_j) of one row.
fn effective(row: &[f64]) -> f64 {
    (-row.iter().filter(|&&w| w > 0.0).map(|&w| w * w.ln()).sum::<f64>()).exp()
}

#[test]
fn target_round_trips_and_refuses_bad_values() {
    let mut ctx = Context::new().unwrap();
    assert_eq!(ctx.target_contrasts(), Ok(0.0));
    assert_eq!(Context::bounds(Param::TARGET_CONTRASTS), Ok((0.0, f64::MAX)));
    ctx.set_target_contrasts(3.5).unwrap();
    for bad in [0.5, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(ctx.set_target_contrasts(bad).map_err(|e| e.kind()),
                   Err(ErrorKind::Param), "{bad}");
    }
    assert_eq!(ctx.target_contrasts(), Ok(3.5));
    // k > N at call time
    let e = [1.0f64, 0.0, 0.0, 1.0, 0.5, 0.5];
    let err = ctx.weights(3, 3, Embeddings::Paired { chosen: &e, dim: 2 }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Param);
    assert!(err.to_string().contains("exceeds n = 3"), "{err}");
}

#[test]
fn solved_rows_have_k_effective_contrasts() {
    let (m, n, d) = (4, 7, 3);
    let chosen: Vec<f64> = (0..m * d).map(|k| ((k * 7 % 11) as f64 - 5.0) / 5.0).collect();
    let rejected: Vec<f64> = (0..n * d).map(|k| ((k * 5 % 13) as f64 - 6.0) / 6.0).collect();
    let mut ctx = Context::new().unwrap();
    for k in [1.5, 3.0, 6.25] {
        ctx.set_target_contrasts(k).unwrap();
        let w = ctx.weights(m, n, Embeddings::Unpaired { chosen: &chosen,
                                                         rejected: &rejected, dim: d })
                   .unwrap();
        for row in w.chunks(n) {
            assert!((effective(row) / k - 1.0).abs() < 1e-9, "k {k}: {}", effective(row));
        }
        let shape = ctx.weight_shape().unwrap();
        assert!((shape.effective_contrasts / k - 1.0).abs() < 1e-9);
        assert_eq!(shape.diagonal_weight, 0.0); // M != N
    }
}

#[test]
fn closed_forms_of_uniform_and_diagonal() {
    let pc = [-1.0f64, -2.0, -3.0, -4.0];
    let pr = [-2.0f64, -2.5, -1.0, -5.0];
    let mut ctx = Context::new().unwrap();
    ctx.set_weighting(Weighting::Uniform).unwrap();
    ctx.loss(&rpo::Inputs::new(&pc, &pr)).unwrap();
    let shape = ctx.weight_shape().unwrap();
    assert!((shape.effective_contrasts - 4.0).abs() < 1e-12);
    assert!((shape.diagonal_weight - 0.25).abs() < 1e-15);
    ctx.set_weighting(Weighting::Diagonal).unwrap();
    ctx.set_alpha(0.7).unwrap();
    ctx.loss(&rpo::Inputs::new(&pc, &pr)).unwrap();
    let shape = ctx.weight_shape().unwrap();
    let row = [0.7, 0.1, 0.1, 0.1];
    assert!((shape.effective_contrasts - effective(&row)).abs() < 1e-12);
    assert!((shape.diagonal_weight - 0.7).abs() < 1e-15);
}
