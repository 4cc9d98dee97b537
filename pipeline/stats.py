"""Interval arithmetic shared by the demo's summary, the result tables and the report.

- :func:`binomial_ci95`: the 95% interval of one accuracy (one table cell);
- :func:`paired_difference`: two accuracies measured on the same units (samples, or relationship
  pairs) compared by their paired difference, with a seeded paired-bootstrap 95% interval (units
  resampled with replacement, both accuracies recomputed on every resample) and, for two 0/1
  outcomes over the same units, McNemar's exact test (:func:`mcnemar_exact`). The verdict of a
  comparison (:attr:`PairedDifference.verdict`) is "reproduced" / "opposite" when the interval
  excludes 0 on the claimed / the other side, else "not resolved".

An accuracy here is a ratio ``sum(numerator) / sum(denominator)`` over units: the numerator is a
unit's hit (0/1, a mean over seeds, or a uniform guess's chance for a "Random" row), the
denominator says whether the unit is counted. Most metrics count exactly the units they score;
the authors' code also has ratios whose numerator runs over other units than the denominator
(:mod:`model.metrics`, protocol ``lirec``), which the bootstrap handles alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.96   # two-sided 95% quantile of the normal distribution
BOOTSTRAP_CHUNK = 250   # resamples drawn at once (bounds memory at chunk x units)


def binomial_ci95(accuracy: float, n: int) -> float:
    """Half-width of the 95% normal-approximation interval of an accuracy (a fraction) over n samples."""
    if n <= 0:
        return float("nan")
    return Z95 * math.sqrt(max(accuracy * (1.0 - accuracy), 0.0) / n)


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (A right and B wrong, and the reverse):
    the binomial test of ``a_only`` successes in ``a_only + b_only`` trials at p = 1/2."""
    trials = a_only + b_only
    if trials == 0:
        return 1.0
    tail = sum(math.comb(trials, k) for k in range(min(a_only, b_only) + 1)) / 2.0 ** trials
    return min(1.0, 2.0 * tail)


@dataclass(frozen=True)
class PairedDifference:
    """Accuracy A minus accuracy B on the same units, in percentage points, with its 95% interval."""

    difference: float
    low: float
    high: float
    units: int                     # units compared (resampled): those that either accuracy counts
    resamples: int
    mcnemar_p: float | None        # two 0/1 outcomes on the same counted units only

    @property
    def verdict(self) -> str:
        """'reproduced' (interval above 0: A beats B), 'opposite' (below 0) or 'not resolved' (includes 0)."""
        if self.low > 0:
            return "reproduced"
        if self.high < 0:
            return "opposite"
        return "not resolved"

    def describe(self) -> str:
        text = (f"difference {self.difference:+.1f} points, paired 95% interval [{self.low:+.1f}, {self.high:+.1f}] "
                f"({self.resamples} bootstrap resamples of {self.units} units")
        if self.mcnemar_p is not None:
            text += f"; McNemar p = {self.mcnemar_p:.3g}"
        return text + ")"


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> float:
    return float(numerator.sum() / denominator.sum())


def paired_difference(a_numerator: np.ndarray, a_denominator: np.ndarray, b_numerator: np.ndarray,
                      b_denominator: np.ndarray, *, resamples: int, seed: int) -> PairedDifference:
    """Accuracy A - accuracy B (percentage points) over the same units, by a seeded paired bootstrap.

    Arrays are per unit (aligned: index i is the same sample in A and B); an accuracy is
    ``sum(numerator) / sum(denominator)``. Each resample draws as many units as there are, with
    replacement, and recomputes both ratios on them; the interval is the 2.5th and 97.5th percentile
    of the resampled differences (resamples whose denominator is 0 are dropped).
    """
    arrays = [np.asarray(x, float) for x in (a_numerator, a_denominator, b_numerator, b_denominator)]
    if any(x.shape != arrays[0].shape or x.ndim != 1 for x in arrays):
        raise ValueError("paired arrays must be 1-D and of one length (the same units)")
    # units neither accuracy counts nor scores take no part (e.g. samples without a track)
    relevant = np.logical_or.reduce([x != 0 for x in arrays])
    arrays = [x[relevant] for x in arrays]
    units = int(relevant.sum())
    if arrays[1].sum() == 0 or arrays[3].sum() == 0:
        raise ValueError("nothing to compare: no counted units")
    difference = 100.0 * (_ratio(arrays[0], arrays[1]) - _ratio(arrays[2], arrays[3]))
    stacked = np.stack(arrays, axis=1)            # (U, 4)
    rng = np.random.default_rng(seed)
    draws = []
    for start in range(0, resamples, BOOTSTRAP_CHUNK):
        size = min(BOOTSTRAP_CHUNK, resamples - start)
        drawn = rng.integers(0, units, size=(size, units))               # (size, U) unit indices
        rows = (drawn + (np.arange(size) * units)[:, None]).ravel()
        counts = np.bincount(rows, minlength=size * units).reshape(size, units)   # times each unit is drawn
        sums = counts @ stacked                                           # (size, 4)
        with np.errstate(invalid="ignore", divide="ignore"):
            draws.append(100.0 * (sums[:, 0] / sums[:, 1] - sums[:, 2] / sums[:, 3]))
    values = np.concatenate(draws)
    values = values[np.isfinite(values)]
    low, high = np.percentile(values, [2.5, 97.5])
    mcnemar = None
    binary = all(np.isin(x, (0.0, 1.0)).all() for x in arrays)
    if binary and np.array_equal(arrays[1], arrays[3]) and not (arrays[0] > arrays[1]).any() \
            and not (arrays[2] > arrays[3]).any():
        counted = arrays[1] > 0
        a, b = arrays[0][counted] > 0, arrays[2][counted] > 0
        mcnemar = mcnemar_exact(int((a & ~b).sum()), int((~a & b).sum()))
    return PairedDifference(difference, float(low), float(high), units, resamples, mcnemar)
