"""Shot and scene boundaries of the MovieGraphs release (separate download of the June-2025 update).

- ``<tt>.videvents``: header ``CVHCI_VIDEOEVENTS_V1``, then ``frame time CUT`` per shot boundary;
  the cut's frame is the first frame of the next shot, so ``n`` cuts delimit ``n + 1`` shots.
- ``<tt>.scenes.gt``: line ``i`` (1-based) is scene ``i``: ``start_shot end_shot use_flag`` (shots
  1-based and inclusive; scene ``i`` is the clip ``scene-{i:03d}.ss-{start:04d}.es-{end:04d}``).
- ``<tt>.matidx``: ``frame time`` for every frame of the movie (also per clip in LIReC's
  ``frame2time/``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.dataset import DatasetError

VIDEVENTS_HEADER = "CVHCI_VIDEOEVENTS_V1"


class ShotsError(DatasetError):
    """A shot/scene/frame-time file is missing or malformed (message names file and line)."""


@dataclass(frozen=True)
class ShotCut:
    """A shot boundary: the first frame of the next shot and its time in seconds."""

    frame: int
    time: float


@dataclass(frozen=True)
class Scene:
    """One ground-truth scene: 1-based index, first/last shot (1-based, inclusive), use flag."""

    index: int
    start_shot: int
    end_shot: int
    use: bool

    @property
    def clip_name(self) -> str:
        """The release's clip name of this scene (``scene-003.ss-0003.es-0004``)."""
        return f"scene-{self.index:03d}.ss-{self.start_shot:04d}.es-{self.end_shot:04d}"


def _lines(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except FileNotFoundError:
        raise ShotsError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ShotsError(f"{path}: not a text file ({exc})") from None


def _numbers(path: Path, line_no: int, tokens: list[str], kinds: tuple[type, ...]) -> list:
    try:
        return [kind(token) for kind, token in zip(kinds, tokens)]
    except ValueError:
        raise ShotsError(f"{path}:{line_no}: expected numbers, got {' '.join(tokens)!r}") from None


def load_videvents(path: str | Path) -> list[ShotCut]:
    """Read the shot cuts of ``<tt>.videvents`` (frames strictly increasing)."""
    path = Path(path)
    lines = _lines(path)
    if not lines or lines[0].strip() != VIDEVENTS_HEADER:
        raise ShotsError(f"{path}: first line must be {VIDEVENTS_HEADER!r}")
    cuts: list[ShotCut] = []
    for line_no, line in enumerate(lines[1:], start=2):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != 3 or tokens[2] != "CUT":
            raise ShotsError(f"{path}:{line_no}: expected 'frame time CUT', got {line.strip()!r}")
        frame, time = _numbers(path, line_no, tokens, (int, float))
        if cuts and frame <= cuts[-1].frame:
            raise ShotsError(f"{path}:{line_no}: frame {frame} does not follow frame {cuts[-1].frame}")
        cuts.append(ShotCut(frame, time))
    return cuts


def load_scenes_gt(path: str | Path) -> list[Scene]:
    """Read ``<tt>.scenes.gt``: scene ``i`` on line ``i``; shots must be ordered and contiguous."""
    path = Path(path)
    scenes: list[Scene] = []
    for line_no, line in enumerate(_lines(path), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != 3:
            raise ShotsError(f"{path}:{line_no}: expected 'start_shot end_shot use_flag', got {line.strip()!r}")
        start, end, use = _numbers(path, line_no, tokens, (int, int, int))
        if start < 1 or end < start or use not in (0, 1):
            raise ShotsError(f"{path}:{line_no}: invalid scene {line.strip()!r}")
        if scenes and start != scenes[-1].end_shot + 1:
            raise ShotsError(f"{path}:{line_no}: scene starts at shot {start}, previous ended at "
                             f"{scenes[-1].end_shot}")
        scenes.append(Scene(index=len(scenes) + 1, start_shot=start, end_shot=end, use=bool(use)))
    return scenes


def load_matidx(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``.matidx`` file: ``(frames int64, times float64)``, frames strictly increasing."""
    path = Path(path)
    frames, times = [], []
    for line_no, line in enumerate(_lines(path), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != 2:
            raise ShotsError(f"{path}:{line_no}: expected 'frame time', got {line.strip()!r}")
        frame, time = _numbers(path, line_no, tokens, (int, float))
        if frames and frame <= frames[-1]:
            raise ShotsError(f"{path}:{line_no}: frame {frame} does not follow frame {frames[-1]}")
        frames.append(frame)
        times.append(time)
    return np.asarray(frames, dtype=np.int64), np.asarray(times, dtype=np.float64)


def shot_start_frames(cuts: list[ShotCut]) -> list[int]:
    """First frame of every shot (shot ``k`` is element ``k - 1``): 0, then each cut's frame."""
    return [0] + [cut.frame for cut in cuts]


def scene_frame_range(scene: Scene, cuts: list[ShotCut]) -> tuple[int, int | None]:
    """``(first frame, end frame exclusive)`` of a scene; the end is ``None`` for the movie's last shot."""
    starts = shot_start_frames(cuts)
    if scene.end_shot > len(starts):
        raise ShotsError(f"scene {scene.index} ends at shot {scene.end_shot} but there are only "
                         f"{len(starts)} shots")
    end = starts[scene.end_shot] if scene.end_shot < len(starts) else None
    return starts[scene.start_shot - 1], end
