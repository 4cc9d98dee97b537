"""Time spans of interactions (clip-relative seconds; an ``inf`` end means "until the clip ends")."""
from __future__ import annotations

import math


def temporal_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Intersection over union of two time spans; ``inf`` ends (whole clip) are handled as limits:
    two whole-clip spans have IoU 1, a whole-clip span and a finite one IoU 0."""
    intersection = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    if union == 0.0 or math.isinf(union):
        return 1.0 if a == b else 0.0
    return intersection / union
