"""Helpers of the subtitle and dialog tests: tiny MovieGraphs-layout datasets and configs."""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.conftest import FIXTURES

FIXTURE_MOVIE = "tt0073486"
FIXTURE_SUBTITLES = FIXTURES / "clip_srt" / FIXTURE_MOVIE
EMPTY_CLIP = "scene-001.ss-0001.es-0001"  # added by make_dataset: a clip without dialog


def make_dataset(root: Path, movie: str = FIXTURE_MOVIE) -> Path:
    """A dataset folder holding the real webvtt fixtures of ``movie`` plus one header-only clip."""
    folder = root / "clip_srt" / movie
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(FIXTURE_SUBTITLES.glob("*.webvtt")):
        shutil.copy(path, folder / path.name)
    (folder / f"{EMPTY_CLIP}.webvtt").write_text("WEBVTT\n", encoding="utf-8")
    (root / "split.json").write_text(f'{{"train": ["{movie}"], "val": [], "test": []}}\n', encoding="utf-8")
    return root


def write_config(path: Path, dataset_root: Path, **dialog: object) -> Path:
    """A workflow config for the MovieGraphs-format dataset at ``dataset_root``."""
    config = {
        "work_dir": "work",
        "dataset": {"format": "moviegraphs", "root": str(dataset_root)},
        "dialog": {"device": "cpu", "batch_size": 4, **dialog},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def vtt(*cues: tuple[str, str, str]) -> str:
    """A WebVTT document from ``(start, end, text)`` cues."""
    blocks = ["WEBVTT"] + [f"{start} --> {end}\n{text}" for start, end, text in cues]
    return "\n\n".join(blocks) + "\n"
