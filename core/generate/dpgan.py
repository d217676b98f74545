"""DP-CTGAN (smartnoise-synth 1.0.8, DP-SGD on the discriminator through opacus 0.14) with its budget kept.

Two things in smartnoise's DPCTGAN are outside its epsilon, and are fixed here:
- its conditional sampler (DataSampler) draws training conditions and, at sampling time, the category mix of
  every output batch from the exact category frequencies of the private data (opendp/smartnoise-sdk#301; the
  noisy frequencies of smartnoise PR #426 are not in 1.0.8): here they are replaced, as the sampler is
  attached, by Laplace-noised counts (OpenDP's sampler) that spend `category_epsilon`;
- it stops training at the first epoch that starts over budget, so the epoch that crossed it has already
  run: here the epochs are capped in advance to the most whose DP-SGD cost (opacus' RDP accountant, two
  discriminator steps a batch) stays within the training epsilon, so the loop never overshoots.

PATE-CTGAN is not offered (core.generate.dp.REFUSED_METHODS says why when asked): smartnoise 1.0.8's
PATECTGAN builds its teachers as one network (`teacher_disc = [discriminator for i in range(...)]`,
snsynth/pytorch/nn/patectgan.py line 255; the student is that network too, line 252), so no teacher sees only
its own partition, and the data-dependent PATE bound it computes (line 307) does not bound its privacy loss.
"""
from __future__ import annotations

import numpy as np
from snsynth.pytorch.nn import DPCTGAN

# opacus' RDP orders as smartnoise's DPCTGAN passes them to its PrivacyEngine
ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))


def dpsgd_epsilon(rows: int, batch_size: int, sigma: float, epochs: int, delta: float) -> float:
    """epsilon opacus' accountant reports after `epochs` of DPCTGAN (two discriminator steps a batch)."""
    from opacus import privacy_analysis

    if epochs <= 0:
        return 0.0
    steps = 2 * epochs * max(rows // batch_size, 1)
    rdp = privacy_analysis.compute_rdp(batch_size / rows, sigma, steps, ALPHAS)
    return float(privacy_analysis.get_privacy_spent(ALPHAS, rdp, delta)[0])


def epochs_within(epsilon: float, rows: int, batch_size: int, sigma: float, delta: float, requested: int) -> int:
    """The most epochs, up to `requested`, whose DP-SGD epsilon is at most `epsilon` (0 if not even one)."""
    low, high = 0, int(requested)
    while low < high:  # the cost grows with epochs: bisect the largest affordable count
        middle = (low + high + 1) // 2
        if dpsgd_epsilon(rows, batch_size, sigma, middle, delta) <= epsilon:
            low = middle
        else:
            high = middle - 1
    return low


def privatize_frequencies(sampler, epsilon: float) -> float:
    """Replace a DataSampler's category frequencies by Laplace-noised counts (epsilon split over its columns:
    one row adds one to each column's histogram); returns the epsilon spent (0 without categories)."""
    from snsynth.utils import laplace_noise

    columns = sampler._n_discrete_columns
    if columns == 0:
        return 0.0
    scale = columns / epsilon
    for i, rows_by_category in enumerate(sampler._rid_by_cat_cols):
        counts = np.array([len(rows) for rows in rows_by_category], dtype=float)
        noisy = np.maximum(counts + np.asarray(laplace_noise(scale, counts.size)), 1.0)  # smartnoise's floor of 1
        sampler._discrete_column_category_prob[i, :counts.size] = noisy / noisy.sum()
    return float(epsilon)


class PrivateFrequencyDPCTGAN(DPCTGAN):
    """smartnoise's DPCTGAN whose conditional sampler's category frequencies are noised as the sampler is
    attached (DPCTGAN.train sets `_data_sampler` before its first step and samples from it afterwards)."""

    def __init__(self, *, category_epsilon: float, **kwargs):
        object.__setattr__(self, "category_epsilon", float(category_epsilon))
        object.__setattr__(self, "category_epsilon_spent", 0.0)
        super().__init__(**kwargs)

    def __setattr__(self, name, value):
        if name == "_data_sampler" and value is not None:
            object.__setattr__(self, "category_epsilon_spent", privatize_frequencies(value, self.category_epsilon))
        super().__setattr__(name, value)
