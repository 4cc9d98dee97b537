"""The dataset layout of the config: resolved paths of the release files and the movie splits."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.demo.sizes import SPLITS, demo_movie_ids


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class DatasetLayout:
    """Where the MovieGraphs-layout files of one dataset are (absolute or relative to the cwd)."""

    root: Path
    annotations: Path
    split: Path
    videos: str
    ftracks: str
    ftrack_ids: str
    subtitles: str
    interactions_map: Path
    relationships_map: Path
    relationships_opposite: Path
    track_scale: float = 1.0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "DatasetLayout":
        ds = config["dataset"]
        root = Path(ds["root"])
        labels = ds["labels"]
        return cls(
            root=root,
            annotations=root / ds["annotations"],
            split=root / ds["split"],
            videos=str(root / ds["videos"]),
            ftracks=str(root / ds["ftracks"]),
            ftrack_ids=str(root / ds["ftrack_ids"]),
            subtitles=str(root / ds["subtitles"]),
            interactions_map=root / labels["interactions"],
            relationships_map=root / labels["relationships"],
            relationships_opposite=root / labels["relationships_opposite"],
            track_scale=float(ds.get("track_scale", 1.0)),
        )

    def video(self, movie: str, clip: str) -> Path:
        return Path(self.videos.format(movie=movie, clip=clip))

    def ftracks_file(self, movie: str, clip: str) -> Path:
        return Path(self.ftracks.format(movie=movie, clip=clip))

    def ftrack_ids_file(self, movie: str) -> Path:
        return Path(self.ftrack_ids.format(movie=movie))

    def subtitles_file(self, movie: str, clip: str) -> Path:
        return Path(self.subtitles.format(movie=movie, clip=clip))

    def label_files(self) -> list[Path]:
        return [self.interactions_map, self.relationships_map, self.relationships_opposite]


def read_split_file(path: str | Path) -> dict[str, list[str]]:
    """Read ``split.json`` ({"train": [...], "val": [...], "test": [...]})."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
    except FileNotFoundError:
        raise DatasetError(f"{path}: split file not found") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(payload, dict) or any(s not in payload for s in SPLITS):
        raise DatasetError(f"{path}: expected an object with keys {list(SPLITS)}")
    splits = {}
    for split in SPLITS:
        movies = payload[split]
        if not isinstance(movies, list) or not all(isinstance(m, str) for m in movies):
            raise DatasetError(f"{path}: '{split}' must be a list of imdb keys")
        splits[split] = list(movies)
    return splits


def movie_splits(config: dict[str, Any]) -> dict[str, list[str]]:
    """Movies per split for the configured dataset, restricted to ``dataset.movies`` if given.

    For the demo the ids follow from the size preset (the data may not exist yet); for MovieGraphs
    they come from the split file.
    """
    ds = config["dataset"]
    if ds["format"] == "demo":
        splits = demo_movie_ids(config["demo"]["size"])
    else:
        splits = read_split_file(DatasetLayout.from_config(config).split)
    wanted = ds.get("movies")
    if wanted:
        splits = {split: [m for m in movies if m in set(wanted)] for split, movies in splits.items()}
    return splits


def all_movies(config: dict[str, Any]) -> list[str]:
    splits = movie_splits(config)
    return [movie for split in SPLITS for movie in splits[split]]
