"""Paired statistics against cases counted by hand: McNemar's exact test and the paired bootstrap."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.stats import PairedDifference, binomial_ci95, mcnemar_exact, paired_difference

ALL = dict(resamples=4000, seed=0)


def test_binomial_interval():
    assert binomial_ci95(0.5, 100) == pytest.approx(0.098, abs=1e-3)
    assert binomial_ci95(1.0, 10) == 0.0


@pytest.mark.parametrize("a_only, b_only, p", [
    (5, 0, 2 / 2 ** 5),          # all 5 discordant pairs one way: 2 * (1/2)^5 = 0.0625
    (6, 0, 2 / 2 ** 6),          # 0.03125: the smallest all-one-way count below 0.05
    (3, 1, 2 * (1 + 4) / 16),    # 2 * P(X <= 1 | n=4) = 0.625
    (1, 3, 2 * (1 + 4) / 16),    # symmetric
    (2, 2, 1.0),                 # capped at 1
    (0, 0, 1.0),                 # no discordant pair: no evidence
])
def test_mcnemar_exact_by_hand(a_only, b_only, p):
    assert mcnemar_exact(a_only, b_only) == pytest.approx(p)


def _ones(n: int) -> np.ndarray:
    return np.ones(n)


def test_one_model_right_everywhere_the_other_nowhere():
    result = paired_difference(_ones(10), _ones(10), np.zeros(10), _ones(10), **ALL)
    # every resample: 100% vs 0%, so the interval is the point
    assert (result.difference, result.low, result.high) == (100.0, 100.0, 100.0)
    assert result.verdict == "reproduced"
    assert result.mcnemar_p == pytest.approx(2 / 2 ** 10)
    flipped = paired_difference(np.zeros(10), _ones(10), _ones(10), _ones(10), **ALL)
    assert flipped.verdict == "opposite" and flipped.high == -100.0


def test_the_same_outcomes_differ_by_nothing():
    hits = np.array([1, 0, 1, 1, 0, 0, 1, 0], float)
    result = paired_difference(hits, _ones(8), hits, _ones(8), **ALL)
    assert (result.difference, result.low, result.high) == (0.0, 0.0, 0.0)
    assert result.verdict == "not resolved" and result.mcnemar_p == 1.0


def test_two_units_one_discordant():
    # A hits unit 0 only, B nothing: a resample holds unit 0 twice (1/4), once (1/2) or never (1/4),
    # so the difference is 100, 50 or 0 points: the 95% interval is [0, 100], which includes 0.
    result = paired_difference(np.array([1.0, 0.0]), _ones(2), np.zeros(2), _ones(2), **ALL)
    assert result.difference == 50.0
    assert (result.low, result.high) == (0.0, 100.0)
    assert result.verdict == "not resolved"


def test_twenty_units_ten_discordant_one_way():
    # A right on all 20, B on the even ones: the difference is the resampled share of odd units,
    # Binomial(20, 1/2) / 20: P(X <= 5) = 2.1% and P(X <= 6) = 5.8%, so the 2.5th percentile is
    # 30 points (and by symmetry the 97.5th 70); McNemar: 10 discordant pairs, p = 2 / 2^10.
    b = np.tile([1.0, 0.0], 10)
    result = paired_difference(_ones(20), _ones(20), b, _ones(20), **ALL)
    assert result.difference == 50.0
    assert result.low == pytest.approx(30.0, abs=2.5) and result.high == pytest.approx(70.0, abs=2.5)
    assert result.verdict == "reproduced"
    assert result.mcnemar_p == pytest.approx(2 / 2 ** 10)


def test_seeded_and_chance_rows():
    rng = np.random.default_rng(5)
    a, b = (rng.random(50) < 0.6).astype(float), (rng.random(50) < 0.5).astype(float)
    first = paired_difference(a, _ones(50), b, _ones(50), resamples=500, seed=3)
    again = paired_difference(a, _ones(50), b, _ones(50), resamples=500, seed=3)
    assert first == again
    # A "Random" row: the per-unit chance is no 0/1 outcome, so there is no McNemar test
    chance = paired_difference(a, _ones(50), np.full(50, 0.25), _ones(50), resamples=500, seed=3)
    assert chance.mcnemar_p is None
    assert chance.difference == pytest.approx(100 * (a.mean() - 0.25))


def test_ratio_whose_hits_run_over_other_units_than_its_denominator():
    # hits on units 0, 1 (unit 1 is not counted), denominator units 0, 2: 2 / 2 = 100%
    result = paired_difference(np.array([1.0, 1.0, 0.0]), np.array([1.0, 0.0, 1.0]), np.zeros(3),
                               np.array([1.0, 0.0, 1.0]), **ALL)
    assert result.difference == 100.0 and result.mcnemar_p is None and result.units == 3
    # a unit neither side counts (nor scores) is not resampled: the two-unit case above, padded
    padded = paired_difference(np.array([1.0, 0.0, 0.0]), np.array([1.0, 1.0, 0.0]), np.zeros(3),
                               np.array([1.0, 1.0, 0.0]), **ALL)
    assert (padded.units, padded.low, padded.high) == (2, 0.0, 100.0)
    with pytest.raises(ValueError, match="same units"):
        paired_difference(_ones(3), _ones(3), _ones(2), _ones(2), **ALL)


def test_describe_names_the_interval():
    text = PairedDifference(5.0, 1.25, 9.0, 120, 2000, 0.01).describe()
    assert "+5.0 points" in text and "[+1.2, +9.0]" in text and "120 units" in text and "McNemar p = 0.01" in text
