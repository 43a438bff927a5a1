//! librpo 1.3's token path through the safe wrapper: the log-sum-exp
//! forward against token_logps and an f64 log-sum-exp computed here, the
//! backward with lse against the 1.1 backward and the softmax computed
//! here, in place against a separate buffer (padding untouched), packed
//! sequences against sums computed here, and errors with librpo's detail
//! and nothing written.
use rpo::{Context, ErrorKind, GradWrite, Logits, SeqReduce};

const V: usize = 7;
const STRIDE: usize = 9;
const PAD: f64 = -777.0;

/// 4 rows of V logits, STRIDE apart, the padding PAD.
fn logits() -> Vec<f64> {
    let mut x = vec![PAD; 3 * STRIDE + V];
    for r in 0..4 {
        for v in 0..V {
            x[r * STRIDE + v] = ((r * 31 + v * 17) % 13) as f64 * 0.37 - 2.0;
        }
    }
    x
}
const TARGETS: [i32; 4] = [3, -100, 0, 6];
const DLOGPS: [f64; 4] = [0.5, 0.9, -1.25, 0.0];

fn row_lse(x: &[f64], r: usize) -> f64 {
    let row = &x[r * STRIDE..r * STRIDE + V];
    let top = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    top + row.iter().map(|v| (v - top).exp()).sum::<f64>().ln()
}

#[test]
fn lse_forward_matches_token_logps_and_a_direct_lse() {
    let x = logits();
    let mut ctx = Context::new().unwrap();
    let (mut logps, mut lse, mut plain) = ([0.0; 4], [9.0; 4], [0.0; 4]);
    ctx.token_logps_lse(Logits::with_stride(&x, 4, V, STRIDE), &TARGETS, &mut logps, &mut lse)
        .unwrap();
    ctx.token_logps(Logits::with_stride(&x, 4, V, STRIDE), &TARGETS, &mut plain).unwrap();
    assert_eq!(logps, plain);
    for r in 0..4 {
        if TARGETS[r] < 0 {
            assert_eq!((logps[r], lse[r]), (0.0, 0.0));
            continue;
        }
        let want = row_lse(&x, r);
        assert!((lse[r] - want).abs() <= 1e-14 * want.abs().max(1.0), "row {r}");
        let y = TARGETS[r] as usize;
        assert!((logps[r] - (x[r * STRIDE + y] - want)).abs() <= 1e-14, "row {r}");
    }
}

#[test]
fn backward_with_lse_accumulates_overwrites_and_works_in_place() {
    let x = logits();
    let mut ctx = Context::new().unwrap();
    let (mut logps, mut lse) = ([0.0; 4], [0.0; 4]);
    ctx.token_logps_lse(Logits::with_stride(&x, 4, V, STRIDE), &TARGETS, &mut logps, &mut lse)
        .unwrap();
    let start: Vec<f64> = (0..x.len()).map(|k| 0.01 * k as f64).collect();

    // accumulate with lse: the 1.1 backward's values, and the softmax here
    let mut acc = start.clone();
    ctx.token_logps_backward_lse(Logits::with_stride(&x, 4, V, STRIDE), &TARGETS, Some(&lse),
                                 &DLOGPS, &mut acc, GradWrite::Accumulate).unwrap();
    let mut old = start.clone();
    ctx.token_logps_backward(Logits::with_stride(&x, 4, V, STRIDE), &TARGETS, &DLOGPS, &mut old)
        .unwrap();
    for r in 0..4 {
        let skipped = TARGETS[r] < 0 || DLOGPS[r] == 0.0;
        for v in 0..STRIDE {
            let k = r * STRIDE + v;
            if k >= x.len() {
                break; // the last row has no padding
            }
            if v >= V || skipped {
                assert_eq!(acc[k], start[k], "untouched [{r}][{v}]");
                continue;
            }
            let p = (x[k] - row_lse(&x, r)).exp();
            let onehot = if v as i32 == TARGETS[r] { 1.0 } else { 0.0 };
            let want = start[k] + DLOGPS[r] * (onehot - p);
            assert!((acc[k] - want).abs() <= 1e-14, "[{r}][{v}]: {} vs {want}", acc[k]);
            assert!((acc[k] - old[k]).abs() <= 1e-15, "[{r}][{v}] against the 1.1 backward");
        }
    }

    // overwrite into a buffer, and in place in the logits: the same bits,
    // the padding kept, skipped rows zero
    let mut over = start.clone();
    ctx.token_logps_backward_lse(Logits::with_stride(&x, 4, V, STRIDE), &TARGETS, Some(&lse),
                                 &DLOGPS, &mut over, GradWrite::Overwrite).unwrap();
    let mut inplace = x.clone();
    ctx.token_logps_backward_in_place(&mut inplace, V, STRIDE, &TARGETS, Some(&lse), &DLOGPS)
        .unwrap();
    for r in 0..4 {
        let skipped = TARGETS[r] < 0 || DLOGPS[r] == 0.0;
        for v in 0..STRIDE {
            let k = r * STRIDE + v;
            if k >= x.len() {
                break;
            }
            if v >= V {
                assert_eq!((over[k], inplace[k]), (start[k], PAD), "padding [{r}][{v}]");
            } else if skipped {
                assert_eq!((over[k], inplace[k]), (0.0, 0.0), "skipped [{r}][{v}]");
            } else {
                assert!((over[k] - (acc[k] - start[k])).abs() <= 1e-15, "[{r}][{v}]");
                assert_eq!(inplace[k].to_bits(), over[k].to_bits(), "[{r}][{v}]");
            }
        }
    }
}

#[test]
fn token_path_errors_carry_the_detail_and_write_nothing() {
    let x = logits();
    let mut ctx = Context::new().unwrap();
    let mut logps = [5.0; 4];
    let mut lse = [5.0; 3];
    // the wrapper's own shape check
    let err = ctx.token_logps_lse(Logits::with_stride(&x, 4, V, STRIDE), &TARGETS, &mut logps,
                                  &mut lse).unwrap_err();
    assert_eq!(err, ErrorKind::Size);
    assert!(err.detail().contains("lse has 3 entries"), "{err}");
    // librpo's: a target out of range
    let mut lse = [5.0; 4];
    let err = ctx.token_logps_lse(Logits::with_stride(&x, 4, V, STRIDE), &[3, 7, 0, 1],
                                  &mut logps, &mut lse).unwrap_err();
    assert_eq!(err, ErrorKind::Size);
    assert!(err.detail().contains("targets[1] = 7"), "{err}");
    assert_eq!((logps, lse), ([5.0; 4], [5.0; 4]));
    // in place with a NaN in the last row that is read: nothing overwritten
    let mut bad = x.clone();
    bad[2 * STRIDE + 4] = f64::NAN;
    let err = ctx.token_logps_backward_in_place(&mut bad, V, STRIDE, &TARGETS, None, &DLOGPS)
        .unwrap_err();
    assert_eq!(err, ErrorKind::NonFinite);
    assert!(!err.detail().is_empty());
    assert!(bad.iter().zip(&x).enumerate()
               .all(|(k, (a, b))| k == 2 * STRIDE + 4 || a.to_bits() == b.to_bits()));
    // a lse that cannot be its row's
    let err = ctx.token_logps_backward_lse(Logits::with_stride(&x, 4, V, STRIDE), &TARGETS,
                                           Some(&[-50.0, 0.0, 0.0, 0.0]), &DLOGPS,
                                           &mut vec![0.0; x.len()], GradWrite::Accumulate)
        .unwrap_err();
    assert_eq!(err, ErrorKind::Range);
    assert!(err.detail().contains("row 0: lse is not the row's log-sum-exp"), "{err}");
}

#[test]
fn packed_sequences_sum_and_average_their_tokens() {
    let tokens: Vec<f32> = (0..10).map(|k| -0.25 * (k as f32 + 1.0)).collect();
    let offsets = [1i64, 4, 4, 9]; // token 0 and 9 in no sequence, one empty
    let mask: Vec<u8> = (0..10).map(|k| u8::from(k % 3 != 2)).collect();
    let mut ctx = Context::new().unwrap();
    for reduce in [SeqReduce::Sum, SeqReduce::Mean] {
        let mut seq = [1.0f32; 3];
        ctx.packed_seq_logps(&offsets, &tokens, Some(&mask), reduce, &mut seq).unwrap();
        let mut dtok = [7.0f32; 10];
        let dseq = [0.5f32, -2.0, 1.5];
        ctx.packed_seq_logps_backward(&offsets, Some(&mask), reduce, &dseq, &mut dtok).unwrap();
        for b in 0..3 {
            let ks: Vec<usize> = (offsets[b] as usize..offsets[b + 1] as usize)
                .filter(|&k| mask[k] != 0).collect();
            let sum: f32 = ks.iter().map(|&k| tokens[k]).sum();
            let n = ks.len() as f32;
            let want = match reduce {
                SeqReduce::Sum => sum,
                SeqReduce::Mean => if ks.is_empty() { 0.0 } else { sum / n },
            };
            assert!((seq[b] - want).abs() <= 1e-6, "{reduce:?} sequence {b}");
            for &k in &ks {
                let g = if reduce == SeqReduce::Mean { dseq[b] / n } else { dseq[b] };
                assert_eq!(dtok[k], g, "{reduce:?} token {k}");
            }
        }
        for k in [0usize, 2, 5, 9] {
            assert_eq!(dtok[k], 0.0, "token {k}: outside or masked");
        }
    }
    let mut seq = [1.0f32; 3];
    let err = ctx.packed_seq_logps(&[0, 5, 3, 9], &tokens, None, SeqReduce::Sum, &mut seq)
        .unwrap_err();
    assert_eq!(err, ErrorKind::Size);
    assert!(!err.detail().is_empty());
    assert_eq!(seq, [1.0; 3]);
    let err = ctx.packed_seq_logps(&[0, 5, 11, 11], &tokens, None, SeqReduce::Sum, &mut seq)
        .unwrap_err();
    assert_eq!(err, ErrorKind::Size);
    assert!(err.detail().contains("11"), "{err}");
    let err = ctx.packed_seq_logps(&[0, 5], &tokens, Some(&mask[..4]), SeqReduce::Sum,
                                   &mut seq[..1]).unwrap_err();
    assert!(err.detail().contains("mask has 4 entries"), "{err}");
    assert_eq!(ctx.packed_seq_logps::<f32>(&[], &tokens, None, SeqReduce::Sum, &mut [])
                   .unwrap_err(), ErrorKind::Size);
}
