"""The dataset layout of the config: resolved paths of the release files and the movie splits."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError

SPLITS = ("train", "val", "test")
# Movie keys and clip names become file names (videos/<movie>/<clip>.mp4, work/.../<movie>.h5, ...):
# a letter or digit first, then letters, digits, '.', '_' and '-' only: never a path of its own.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*")


class DatasetError(PipelineError):
    """A dataset file is missing or malformed; the message names the file and the problem."""


def check_name(name: object, what: str, source: str | Path) -> str:
    """``name`` if it is a safe movie key or clip name; else a :class:`DatasetError` naming
    ``source`` (the file it came from) and the name. A safe name has no path separator, no '..' and
    no character a shell or a file system could take for something else."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise DatasetError(f"{source}: {what} {name!r} cannot be a file name (letters, digits, '.', '_' and '-' "
                           "only, starting with a letter or digit, no '..'); nothing was read or written for it")
    return name


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
    track_scale: float

    @classmethod
    def from_config(cls, config: dict[str, Any], root: str | Path | None = None) -> "DatasetLayout":
        """The dataset section's paths under ``dataset.root`` (or under ``root``: another folder in the
        same layout, e.g. movies to predict on)."""
        ds = config["dataset"]
        root = Path(root or ds["root"])
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
            track_scale=float(ds["track_scale"]),
        )

    def _path(self, template: str, movie: str, clip: str | None = None) -> Path:
        check_name(movie, "movie key", "dataset")
        if clip is not None and clip != _CLIP_MARKER:
            check_name(clip, "clip name", f"movie {movie}")
        return Path(template.format(movie=movie, clip=clip))

    def video(self, movie: str, clip: str) -> Path:
        return self._path(self.videos, movie, clip)

    def ftracks_file(self, movie: str, clip: str) -> Path:
        return self._path(self.ftracks, movie, clip)

    def ftrack_ids_file(self, movie: str) -> Path:
        return self._path(self.ftrack_ids, movie)

    def subtitles_file(self, movie: str, clip: str) -> Path:
        return self._path(self.subtitles, movie, clip)

    def label_files(self) -> list[Path]:
        return [self.interactions_map, self.relationships_map, self.relationships_opposite]

    def clip_files(self, kind: str, movie: str) -> dict[str, Path] | None:
        """``{clip: file}`` of one movie's ``videos`` or ``subtitles`` folder, sorted by clip name.

        The clip is the part of the file name that ``{clip}`` stands for in the template. None when
        the folder does not exist.
        """
        template = {"videos": self.videos, "subtitles": self.subtitles}[kind]
        marker = _CLIP_MARKER
        path = self._path(template, movie, marker)
        if marker in str(path.parent):
            raise DatasetError(f"dataset.{kind} {template!r}: {{clip}} must be in the file name, not in a folder name")
        prefix, _, suffix = path.name.partition(marker)
        folder = path.parent
        if not folder.is_dir():
            return None
        pattern = re.compile(re.escape(prefix) + r"(.+)" + re.escape(suffix) + r"$")
        files = {}
        for candidate in sorted(folder.iterdir()):
            match = pattern.match(candidate.name)
            if match and candidate.is_file():
                files[check_name(match.group(1), "clip name", candidate)] = candidate
        return files


def prediction_layout(config: dict[str, Any], root: str | Path | None = None) -> DatasetLayout:
    """Where the movies to predict on are: ``root``, else ``predict.root``, else ``dataset.root``."""
    return DatasetLayout.from_config(config, root or config["predict"]["root"])


_CLIP_MARKER = "\x00clip\x00"   # stands for {clip} when a movie's folder is listed


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
        splits[split] = [check_name(movie, f"movie key of split '{split}'", path) for movie in movies]
    return splits


def restrict_movies(splits: dict[str, list[str]], wanted: list[str] | None) -> dict[str, list[str]]:
    """``splits`` restricted to the movies of ``dataset.movies`` (None: all)."""
    if not wanted:
        return splits
    keep = set(wanted)
    return {split: [m for m in movies if m in keep] for split, movies in splits.items()}


def movie_splits(config: dict[str, Any]) -> dict[str, list[str]]:
    """Movies per split from the dataset's split file, restricted to ``dataset.movies`` if given."""
    splits = read_split_file(DatasetLayout.from_config(config).split)
    return restrict_movies(splits, config["dataset"]["movies"])
