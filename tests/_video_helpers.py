"""Tiny synthetic clip videos and face tracks in the MovieGraphs layout, for the visual tests."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from pipeline.demo.writers import write_test_pattern_video
from pipeline.tracks import Detection, write_clip_tracks
from pipeline.tracks import write_track_names as write_names


def write_video(path: str | Path, n_frames: int = 48, size: tuple[int, int] = (64, 48), fps: int = 16,
                seed: int = 0) -> Path:
    return write_test_pattern_video(path, n_frames, size, fps, seed)


def write_tracks(root: Path, movie: str, clip: str, tracks: Sequence[Sequence[Detection]], fps: int = 16) -> Path:
    """``ftracks/<movie>/<clip>.json`` with one list of detections per track."""
    return write_clip_tracks(root / "ftracks" / movie / f"{clip}.json", tracks, fps)


def write_track_names(root: Path, movie: str, names: dict[str, list[str | None]]) -> Path:
    return write_names(root / "ftrack_ids" / f"{movie}.json", names)


def visual_config(root: Path, work: Path, **visual: Any) -> dict[str, Any]:
    """A validated config for a dataset under ``root``: tiny input, random weights allowed."""
    from pipeline.config import deep_update, validate_config

    base = {"work_dir": str(work), "dataset": {"format": "moviegraphs", "root": str(root)},
            "visual": {"allow_random_weights": True, "input_size": 32, "batch_size": 2,
                       "weights": str(work / "no-weights.pt")}}
    return validate_config(deep_update(base, {"visual": visual}))
