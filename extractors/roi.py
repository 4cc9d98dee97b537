"""Character features: face boxes -> person boxes -> feature-grid boxes -> ROI pooling.

Paper Sec. 4.1: characters are represented by average pooling the feature map over a region of
interest. LIReC expands each face box to a person box (face at x in [0.35, 0.65], y in [0.10, 0.25]
of the person box), maps it linearly onto the feature grid (grid size / image size per axis) and
averages the cells. Here the pooling is a ``torchvision.ops`` ROI op (``roi_align`` or ``roi_pool``,
configurable) whose ``output_size x output_size`` bins are then averaged into one vector per box.

Coordinates: person boxes are clipped to the video frame, mapped to network-input pixels
(:meth:`extractors.video.FrameGeometry.video_to_input`), then to grid units with
``grid_w / input_w`` and ``grid_h / input_h`` (the two can differ for a non-square input, so the
ROI op runs with ``spatial_scale = 1`` on boxes already in grid units). In grid units cell ``i``
spans ``[i, i + 1)``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torchvision import ops

from extractors.settings import RoiSettings
from extractors.video import FrameGeometry
from pipeline.tracks import FaceDetection, PersonBoxRatios, clip_boxes, face_to_person_box


def person_boxes(detections: Sequence[FaceDetection], ratios: PersonBoxRatios,
                 frame_width: float, frame_height: float) -> np.ndarray:
    """(N, 4) person boxes (x0, y0, x1, y1) in video pixels, clipped to the frame."""
    if not detections:
        return np.zeros((0, 4))
    boxes = [face_to_person_box(d.x, d.y, d.w, d.h, ratios) for d in detections]
    return clip_boxes(np.asarray(boxes, dtype=np.float64), frame_width, frame_height)


def input_to_grid(boxes: np.ndarray, geometry: FrameGeometry, grid_height: int, grid_width: int) -> np.ndarray:
    """Scale (N, 4) input-pixel boxes to feature-grid units (per axis: grid size / input size)."""
    sx = grid_width / geometry.input_width
    sy = grid_height / geometry.input_height
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4) * np.array([sx, sy, sx, sy])


def has_area(boxes: np.ndarray) -> np.ndarray:
    """(N,) True where a box has positive width and height (boxes cut away by a crop have none)."""
    boxes = np.asarray(boxes).reshape(-1, 4)
    return (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


def pool_boxes(maps: torch.Tensor, rois: torch.Tensor, settings: RoiSettings) -> torch.Tensor:
    """ROI features (K, C) of grid-unit boxes on per-window maps (B, C, H, W).

    ``rois`` is (K, 5): ``(window index in maps, x0, y0, x1, y1)`` in grid units. The ROI op gives
    (K, C, s, s) bins; their mean is the box's vector.
    """
    if rois.numel() == 0:
        return maps.new_zeros((0, maps.shape[1]))
    rois = rois.to(device=maps.device, dtype=maps.dtype)
    size = (settings.output_size, settings.output_size)
    if settings.op == "roi_align":
        bins = ops.roi_align(maps, rois, size, spatial_scale=1.0, sampling_ratio=settings.sampling_ratio,
                             aligned=settings.aligned)
    else:
        # roi_pool uses the legacy inclusive-pixel convention (a box [a, b] covers cells round(a)..round(b)):
        # shift the far edges by one cell so a box [i, j) pools exactly cells i..j-1.
        inclusive = rois.clone()
        inclusive[:, 3:5] = torch.maximum(inclusive[:, 3:5] - 1.0, inclusive[:, 1:3])
        bins = ops.roi_pool(maps, inclusive, size, spatial_scale=1.0)
    return bins.mean(dim=(2, 3))
