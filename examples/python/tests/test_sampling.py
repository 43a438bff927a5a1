"""rpo.sampling: related_batches and RelatedPromptSampler. The order is a
permutation whose batches are the clusters of well-separated data; the
sampler serves every index once per epoch, keeps each batch's contents and
reshuffles their order per epoch; a DataLoader accepts it; hostile input
raises librpo's error with its detail."""

import unittest

import numpy as np
import torch

import rpo
from rpo.sampling import related_batches
from rpo.torch import RelatedPromptSampler


def clustered(p, d, clusters, spread, seed):
    """Cluster of row i is i % clusters (interleaved: the identity order
    mixes them all)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-1, 1, (clusters, d))
    return spread * centres[np.arange(p) % clusters] + rng.uniform(-1, 1, (p, d))


class RelatedBatches(unittest.TestCase):
    def test_batches_are_clusters(self):
        b, clusters, d = 6, 20, 16
        x = clustered(b * clusters, d, clusters, 4.0, 1)
        for emb in (x, x.astype(np.float32), torch.from_numpy(x)):
            order = related_batches(emb, b, seed=3)
            self.assertEqual(order.dtype, np.int64)
            self.assertEqual(sorted(order.tolist()), list(range(b * clusters)))
            for s in range(0, len(order), b):
                self.assertEqual(len(set(order[s:s + b] % clusters)), 1,
                                 "batch %d mixes clusters" % (s // b))

    def test_deterministic_any_threads(self):
        x = clustered(1500, 8, 30, 0.5, 2)
        want = related_batches(x, 10, seed=9)
        for threads in (1, 2, 5):
            np.testing.assert_array_equal(
                related_batches(x, 10, seed=9, threads=threads), want)
        ctx = rpo.Context()  # a context that served a loss call before
        ctx.loss([0.0, 1.0], [0.5, 0.2], chosen_emb=np.eye(2))
        np.testing.assert_array_equal(related_batches(x, 10, seed=9, context=ctx),
                                      want)

    def test_hostile_input(self):
        x = clustered(10, 3, 2, 1.0, 3)
        with self.assertRaises(rpo.SizeError) as caught:
            related_batches(x, 11)
        self.assertIn("batch_size", str(caught.exception))
        with self.assertRaises(rpo.SizeError):
            related_batches(x, 0)
        with self.assertRaises(rpo.SizeError):
            related_batches(np.zeros((0, 3)), 1)
        with self.assertRaises(ValueError):
            related_batches(x, -1)
        with self.assertRaises(ValueError):
            related_batches(x[0], 1)
        bad = x.copy()
        bad[7, 1] = np.nan
        with self.assertRaises(rpo.NonFiniteError) as caught:
            related_batches(bad, 2)
        self.assertIn("row 7", str(caught.exception))


class Sampler(unittest.TestCase):
    def test_epochs(self):
        p, b = 103, 10
        x = clustered(p, 8, 10, 2.0, 4)
        sampler = RelatedPromptSampler(x, b, seed=5)
        self.assertEqual(len(sampler), 11)
        epochs = [list(sampler) for _ in range(3)]
        contents = None
        for batches in epochs:
            flat = [i for batch in batches for i in batch]
            self.assertEqual(sorted(flat), list(range(p)))  # each index once
            self.assertTrue(all(isinstance(i, int) for i in flat))
            these = sorted(tuple(sorted(batch)) for batch in batches)
            if contents is None:
                contents = these
            self.assertEqual(these, contents)  # same batches every epoch
        self.assertNotEqual(epochs[0], epochs[1])  # in another order
        self.assertNotEqual(epochs[1], epochs[2])
        # The order is a function of (seed, epoch): resuming replays it.
        again = RelatedPromptSampler(x, b, seed=5)
        again.set_epoch(1)
        self.assertEqual(list(again), epochs[1])
        short = RelatedPromptSampler(x, b, seed=5, drop_last=True)
        self.assertEqual(len(short), 10)
        self.assertTrue(all(len(batch) == b for batch in short))

    def test_dataloader(self):
        p, b = 40, 8
        x = clustered(p, 4, 5, 4.0, 6)
        dataset = torch.utils.data.TensorDataset(torch.arange(p))
        loader = torch.utils.data.DataLoader(
            dataset, batch_sampler=RelatedPromptSampler(x, b))
        seen = [batch[0].tolist() for batch in loader]
        self.assertEqual(len(seen), p // b)
        self.assertEqual(sorted(i for batch in seen for i in batch),
                         list(range(p)))
        for batch in seen:  # clusters are i % 5, 8 members each
            self.assertEqual(len({i % 5 for i in batch}), 1)


if __name__ == "__main__":
    unittest.main()
