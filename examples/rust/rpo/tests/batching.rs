//! `Context::related_batches`: a permutation whose batches are the clusters
//! of well-separated data, the same for any thread count, and errors for
//! hostile input.

fn clustered(p: usize, d: usize, clusters: usize) -> Vec<f64> {
    // Cluster of row i is i % clusters; a small deterministic generator.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let centres: Vec<f64> = (0..clusters * d).map(|_| 6.0 * uniform()).collect();
    (0..p * d).map(|k| centres[(k / d % clusters) * d + k % d] + uniform()).collect()
}

#[test]
fn batches_are_the_clusters() {
    let (b, clusters, d) = (5, 12, 8);
    let x = clustered(b * clusters, d, clusters);
    let x32: Vec<f32> = x.iter().map(|v| *v as f32).collect();
    let mut ctx = rpo::Context::new().unwrap();
    for order in [ctx.related_batches(&x, d, b, 4).unwrap(),
                  ctx.related_batches(&x32, d, b, 4).unwrap()] {
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..b * clusters).collect::<Vec<_>>());
        for batch in order.chunks(b) {
            assert!(batch.iter().all(|i| i % clusters == batch[0] % clusters),
                    "{batch:?} mixes clusters");
        }
    }
}

#[test]
fn same_order_for_any_thread_count() {
    let d = 6;
    let x = clustered(900, d, 30);
    let mut ctx = rpo::Context::new().unwrap();
    let want = ctx.related_batches(&x, d, 7, 11).unwrap();
    for threads in [2, 3, 8] {
        ctx.set_threads(threads).unwrap();
        assert_eq!(ctx.related_batches(&x, d, 7, 11).unwrap(), want, "{threads} threads");
    }
}

#[test]
fn hostile_input() {
    let mut ctx = rpo::Context::new().unwrap();
    let x = [1.0f64, 0.0, 0.0, 1.0, 1.0, 1.0];
    assert_eq!(ctx.related_batches(&x, 2, 4, 0).map_err(|e| e.kind()), Err(rpo::ErrorKind::Size));
    assert_eq!(ctx.related_batches(&x, 2, 0, 0).map_err(|e| e.kind()), Err(rpo::ErrorKind::Size));
    assert_eq!(ctx.related_batches(&x, 0, 1, 0).map_err(|e| e.kind()), Err(rpo::ErrorKind::Size));
    assert_eq!(ctx.related_batches(&x, 4, 1, 0).map_err(|e| e.kind()), Err(rpo::ErrorKind::Size));
    assert_eq!(ctx.related_batches::<f64>(&[], 2, 1, 0).map_err(|e| e.kind()), Err(rpo::ErrorKind::Size));
    let bad = [1.0f32, f32::NAN, 0.0, 1.0];
    assert_eq!(ctx.related_batches(&bad, 2, 1, 0).map_err(|e| e.kind()), Err(rpo::ErrorKind::NonFinite));
}
