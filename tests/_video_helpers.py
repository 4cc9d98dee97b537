"""Tiny synthetic clip videos and face tracks in the MovieGraphs layout, for the visual tests."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

# (frame, x, y, w, h) of one face detection, in video pixels.
Detection = tuple[int, float, float, float, float]


def write_video(path: str | Path, n_frames: int = 48, size: tuple[int, int] = (64, 48), fps: int = 16,
                seed: int = 0) -> Path:
    """An mp4v video of a bright square moving over a noisy background (frames differ)."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 120, size=(height, width, 3), dtype=np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for k in range(n_frames):
        frame = background.copy()
        x = (3 * k) % max(width - 12, 1)
        frame[height // 4: height // 4 + 12, x: x + 12] = (40 + 4 * k) % 256
        writer.write(frame)
    writer.release()
    return path


def write_tracks(root: Path, movie: str, clip: str, tracks: Sequence[Sequence[Detection]], fps: int = 16) -> Path:
    """``ftracks/<movie>/<clip>.json`` with one list of detections per track."""
    ftracks = [[{"timestamp": frame / fps, "frame": frame, "ftrack_id": k, "x": x, "y": y, "w": w, "h": h}
                for frame, x, y, w, h in track] for k, track in enumerate(tracks)]
    path = root / "ftracks" / movie / f"{clip}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"ftracks": ftracks, "frame2ftracks": []}), encoding="utf-8")
    return path


def write_track_names(root: Path, movie: str, names: dict[str, list[str | None]]) -> Path:
    path = root / "ftrack_ids" / f"{movie}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(names), encoding="utf-8")
    return path


def visual_config(root: Path, work: Path, **visual: Any) -> dict[str, Any]:
    """A validated config for a dataset under ``root``: tiny input, random weights allowed."""
    from pipeline.config import deep_update, validate_config

    base = {"work_dir": str(work), "dataset": {"format": "moviegraphs", "root": str(root)},
            "visual": {"allow_random_weights": True, "input_size": 32, "batch_size": 2,
                       "weights": str(work / "no-weights.pt")}}
    return validate_config(deep_update(base, {"visual": visual}))
