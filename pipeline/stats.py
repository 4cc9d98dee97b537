"""Interval arithmetic shared by the demo's summary and the result tables."""
from __future__ import annotations

import math

Z95 = 1.96   # two-sided 95% quantile of the normal distribution


def binomial_ci95(accuracy: float, n: int) -> float:
    """Half-width of the 95% normal-approximation interval of an accuracy (a fraction) over n samples."""
    if n <= 0:
        return float("nan")
    return Z95 * math.sqrt(max(accuracy * (1.0 - accuracy), 0.0) / n)
