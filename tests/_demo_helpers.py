"""Helpers of the demo-dataset tests: make the tiny demo once per seed, read its files back."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import validate_config
from pipeline.dataset import DatasetLayout
from pipeline.demo.generate import generate_dataset, movie_rngs
from pipeline.demo.knobs import DemoKnobs
from pipeline.demo.render import choreograph, clip_figures, face_tracks
from pipeline.demo.sizes import demo_size
from pipeline.demo.story import MoviePlan, draw_movie

_CACHE: dict[tuple[int, str], tuple[Path, dict[str, Any]]] = {}


def demo_config(root: Path) -> dict[str, Any]:
    """The default config (validated, defaults filled) with the dataset under ``root``."""
    config = validate_config({"dataset": {"root": str(root)}, "demo": {"size": "tiny"}})
    return config


def tiny_demo(base: Path, seed: int = 7) -> tuple[Path, dict[str, Any]]:
    """The tiny demo for ``seed`` under ``base`` (made once per test session): (root, summary)."""
    key = (seed, str(base))
    if key not in _CACHE:
        root = base / f"demo-seed{seed}"
        config = demo_config(root)
        summary = generate_dataset(root, config["dataset"], "tiny", seed, DemoKnobs(), workers=1)
        _CACHE[key] = (root, summary)
    return _CACHE[key]


def layout_of(root: Path) -> DatasetLayout:
    return DatasetLayout.from_config(demo_config(root))


def release_bytes(root: Path) -> dict[str, bytes]:
    """Annotation pickle, subtitles, face tracks and track names of a demo folder (relative path -> bytes)."""
    files = [root / "py3loader" / "all_movies.pkl", root / "split.json"]
    for pattern in ("clip_srt/*/*.webvtt", "ftracks/*/*.json", "ftrack_ids/*.json", "others/*.txt"):
        files += sorted(root.glob(pattern))
    return {str(path.relative_to(root)): path.read_bytes() for path in files}


def planned_movies(count: int, knobs: DemoKnobs | None = None, size_name: str = "default",
                   seed: int = 11) -> list[MoviePlan]:
    """Movie plans (no rendering) for statistics of the generative model (the preset's knobs by default)."""
    size = demo_size(size_name)
    knobs = knobs or DemoKnobs.for_size(size)
    return [draw_movie(movie_rngs(seed, k)[0], f"dm{k:04d}", size, knobs) for k in range(1, count + 1)]


def tracks_of_plans(plans: list[MoviePlan], knobs: DemoKnobs | None = None, size_name: str = "default"):
    """Yield (plan, clip, figures, choreography, tracks) without rendering any frame."""
    size = demo_size(size_name)
    knobs = knobs or DemoKnobs.for_size(size)
    for plan in plans:
        rng = np.random.default_rng(len(plan.clips))
        for clip in plan.clips:
            figures = clip_figures(plan, clip, rng, size, knobs)
            chor = choreograph(clip, figures, size, knobs, rng)
            tracks, _ = face_tracks(plan, clip, figures, chor, size, knobs, rng)
            yield plan, clip, figures, chor, tracks
