// The program of the crate that `make check-rust-dependent` creates with
// `cargo new` next to nothing but a path dependency on examples/rust/rpo:
// what a user's first program looks like. It must build and run with no
// environment variable set, librpo linked in statically.
use rpo::{Context, Inputs, Weighting};

fn main() -> Result<(), rpo::Error> {
    let mut ctx = Context::new()?;
    ctx.set_weighting(Weighting::Diagonal)?;
    ctx.set_alpha(1.0)?; // DPO
    let out = ctx.loss(&Inputs::new(&[-1.0f64, -2.0], &[-3.0, -1.5]))?;
    // DPO on the pairs (a - b) = 2 and -0.5 with beta 0.1.
    let want = ((1.0 + (-0.2f64).exp()).ln() + (1.0 + 0.05f64.exp()).ln()) / 2.0;
    assert!((out.loss - want).abs() < 1e-12, "loss {} want {}", out.loss, want);
    let err = ctx.loss(&Inputs::new(&[-1.0f64, -2.0], &[-3.0])).unwrap_err();
    assert!(err.to_string().contains("m == n (m = 2, n = 1)"), "{err}");
    println!("librpo {} linked: DPO loss {:.6}", rpo::version(), out.loss);
    Ok(())
}
