//! Batches of related prompts (librpo 1.3, docs/extensions.md): an order of a
//! dataset whose consecutive runs of a batch size are similar prompts, so
//! that each mini-batch holds contrasts worth weighting.
use crate::context::Context;
use crate::error::{size_error, Error};
use crate::real::Real;

impl Context {
    /// A permutation of `0..P` (`P = embeddings.len() / d`) whose
    /// consecutive runs of `batch_size` are batches of prompts similar in
    /// cosine space (`rpo_related_batches_f32`/`_f64`; the last batch is
    /// shorter when `batch_size` does not divide `P`). The same seed and
    /// data give the same order for any thread count ([`Context::set_threads`]).
    /// an error of kind `ErrorKind::Size` for `d == 0`, a length that is not a multiple of
    /// `d`, no prompts, `batch_size` 0 or above `P`; `Err(Error::NonFinite)`
    /// for NaN or infinity. Nothing is returned but the order: the
    /// permutation is O(P) memory and the work O(P D log(P / batch_size)).
    ///
    /// ```
    /// // Four prompts in two directions, two per batch.
    /// let prompts: [f32; 8] = [1.0, 0.0,   0.0, 1.0,   0.9, 0.1,   0.1, 0.9];
    /// let mut ctx = rpo::Context::new()?;
    /// let order = ctx.related_batches(&prompts, 2, 2, 0)?;
    /// let direction = |i: usize| prompts[2 * i] > prompts[2 * i + 1];
    /// assert_eq!(direction(order[0]), direction(order[1]));
    /// assert_eq!(direction(order[2]), direction(order[3]));
    /// # Ok::<(), rpo::Error>(())
    /// ```
    pub fn related_batches<T: Real>(&mut self, embeddings: &[T], d: usize,
                                    batch_size: usize, seed: u64)
                                    -> Result<Vec<usize>, Error> {
        if d == 0 || embeddings.len() % d != 0 {
            return Err(size_error(format!(
                "embeddings hold {} values, not a whole number of rows of d = {d}",
                embeddings.len())));
        }
        let p = embeddings.len() / d;
        let mut order = vec![0usize; p];
        // SAFETY: a valid context; embeddings holds p rows of d, order p.
        Error::check(unsafe {
            T::related_batches(self.raw(), p, d, embeddings.as_ptr(), batch_size, seed,
                               order.as_mut_ptr())
        })?;
        Ok(order)
    }
}
