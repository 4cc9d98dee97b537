"""Size presets of the demo dataset: the one place that says how many movies each split has.

The Snakefile needs the movie list before the demo data exists, so movie ids are a pure function
of the preset (``demo_movie_ids``), shared by the generator and the workflow.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.config import ConfigError, schema_defaults
from pipeline.dataset import SPLITS



# Frames per visual feature window (the schema's default), which the demo's summary counts windows in.
WINDOW = schema_defaults("visual.window")


@dataclass(frozen=True)
class DemoSize:
    """How much demo data to make; how hard it is lives in :class:`pipeline.demo.knobs.DemoKnobs`."""

    name: str
    movies_train: int
    movies_val: int
    movies_test: int
    clips_per_movie: int          # clips (scenes) per movie
    frame_size: tuple[int, int]   # (width, height) of the rendered videos
    fps: int                      # frames per second of the rendered videos
    max_interactions: int = 3     # sequential layout: interactions per clip are drawn from 1..max_interactions
    min_clip_seconds: int = 4     # sequential layout: clip duration bounds (seconds)
    max_clip_seconds: int = 20
    # The preset's defaults of difficulty/layout knobs (pipeline.demo.knobs.DemoKnobs field -> value);
    # the config's demo.knobs override them.
    knobs: tuple[tuple[str, Any], ...] = ()


# The lanes layout (pipeline.demo.knobs): short clips of 2-s shots in which two pairs interact
# side by side, casts large enough for many labelled pairs, smaller figures so that two pairs fit
# in a 160-px frame.
LANES: tuple[tuple[str, Any], ...] = (
    ("layout", "lanes"), ("min_characters", 5), ("max_characters", 7), ("importance_decay", 0.85),
    ("min_on_screen", 4), ("max_on_screen", 5), ("figure_height", (0.36, 0.46)), ("long_shot_rate", 0.0),
    ("lanes_per_shot", (0.1, 0.9)), ("one_to_many_rate", 0.5), ("bidirectional_rate", 0.8),
    # Shots are all action or all talk, so that in a shot without dialog only the visual channel
    # tells the interactions, and in a talk shot only the dialog; more action than talk (the clip
    # vectors pool both pairs of a shot, and the visual one separates motions less well than the
    # dialog separates cues); motions performed more often.
    ("lane_modality_coupling", 1.0), ("modality_weights", (0.45, 0.30, 0.25)), ("visual_cue_rate", 0.95),
    # Relationship evidence in the dialog of each clip, weak alone and mixed with the other pair's
    # words in a two-pair shot: vocatives and lines that reveal the relationship.
    ("address_rate", 0.6), ("relationship_line_rate", 0.6),
)

# At 8 fps one 16-frame feature window covers 2 s. The default preset renders about 1,900
# windows in total (see summary.json, "windows_16") holding about 4,400 interaction samples
# (about 2.4 per window), which keeps CPU feature extraction within the README's time budget;
# "large" (about 16,800 windows, 24,000 training samples: the size of MovieGraphs' training split) is
# meant for a GPU. "tiny" (the tests) keeps the sequential layout.
DEMO_SIZES: dict[str, DemoSize] = {
    "tiny": DemoSize("tiny", 2, 1, 1, 4, (160, 120), 8, max_interactions=2, max_clip_seconds=8),
    "small": DemoSize("small", 8, 3, 3, 12, (160, 120), 8, knobs=LANES),
    "default": DemoSize("default", 26, 9, 9, 14, (160, 120), 8, knobs=LANES),
    "large": DemoSize("large", 240, 80, 80, 14, (160, 120), 8, knobs=LANES),
}


def demo_size(name: str) -> DemoSize:
    try:
        return DEMO_SIZES[name]
    except KeyError:
        raise ConfigError(f"unknown demo size {name!r}; choose one of {sorted(DEMO_SIZES)}") from None


def demo_movie_ids(name: str) -> dict[str, list[str]]:
    """Movie ids per split, e.g. ``{"train": ["dm0001", ...], ...}`` (imdb-key-like, 'dm' prefix)."""
    size = demo_size(name)
    counts = {"train": size.movies_train, "val": size.movies_val, "test": size.movies_test}
    ids: dict[str, list[str]] = {}
    next_id = 1
    for split in SPLITS:
        ids[split] = [f"dm{next_id + k:04d}" for k in range(counts[split])]
        next_id += counts[split]
    return ids
