"""Face tracks of the MovieGraphs release and the character names attached to them.

Files (paths from :class:`pipeline.dataset.DatasetLayout`):

- ``ftrack_ids/<movie>.json``: ``{clip: [label of track 0, label of track 1, ...]}``; labels are
  character names as written by the annotators (mixed case, sometimes with ``\\xa0``), or
  ``"other"``, ``"no_face"``, ``"track_switch"``, group names, or ``null``.
- ``ftracks/<movie>/<clip>.json``: ``{"ftracks": [[{"timestamp", "frame", "ftrack_id", "x", "y",
  "w", "h"}, ...], ...], "frame2ftracks": [[track index, ...] per frame]}``. Track ``k`` is the
  ``k``-th list (``frame2ftracks`` refers to list positions; ``ftrack_id`` is the annotators' own
  id and need not equal ``k``). Frames and timestamps are clip-relative; coordinates are pixels of
  the face-detection resolution (``dataset.track_scale`` maps them to video pixels).

Identity rule (LIReC, ``AnnotatedInter.add_ftracks``): a track belongs to a character when its
lower-cased name equals the character's name or is one of the character's words
("harding" -> "dale harding"). Names are compared through :func:`canonical_name`.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pipeline.dataset import DatasetError, check_name
from pipeline.errors import PipelineError

# Track labels that name no character: such tracks keep their label but get ``character=None``
# and never match a character.
NON_CHARACTER_LABELS = frozenset({"other", "no_face", "track_switch"})

_DETECTION_KEYS = ("timestamp", "frame", "x", "y", "w", "h")


def canonical_name(name: str | None) -> str | None:
    """Lower case, ``\\xa0`` -> space, whitespace collapsed and stripped; ``None``/empty -> ``None``."""
    if name is None:
        return None
    canonical = " ".join(str(name).replace("\xa0", " ").lower().split())
    return canonical or None


def track_character(track_name: str | None) -> str | None:
    """The canonical character name a track label stands for, ``None`` for non-character labels."""
    canonical = canonical_name(track_name)
    if canonical is None or canonical in NON_CHARACTER_LABELS:
        return None
    return canonical


def track_matches_character(track_name: str | None, character: str) -> bool:
    """LIReC's identity rule: the canonical track name equals the character or is one of its words.

    Labels that name no character (``None``, ``"other"``, ``"no_face"``, ``"track_switch"``) never
    match.
    """
    track = track_character(track_name)
    wanted = canonical_name(character)
    if track is None or wanted is None:
        return False
    return track == wanted or track in wanted.split(" ")


def movie_characters(track_names: Sequence[str | None]) -> dict[str, str]:
    """Characters of a movie known only from its track labels: canonical label -> character name.

    By the identity rule a label that is one word of exactly one other label of the movie names the
    same character ("lowell" -> "leo lowell"); a label that fits several ("rita" with "rita hayes"
    and "rita moreno") or none stays a character of its own. Non-character labels are left out.
    """
    labels = sorted({name for name in map(track_character, track_names) if name is not None})
    characters = {}
    for label in labels:
        fuller = [other for other in labels if other != label and track_matches_character(label, other)]
        characters[label] = fuller[0] if len(fuller) == 1 else label
    return characters


@dataclass(frozen=True)
class FaceDetection:
    """One face box of a track: clip-relative frame index and seconds, box in video pixels."""

    frame: int
    time: float
    x: float
    y: float
    w: float
    h: float


@dataclass
class FaceTrack:
    """A face track of one clip: its position ``track_id`` in the clip file, label and boxes."""

    track_id: int
    name: str | None            # raw label from ftrack_ids (None when the file has none)
    character: str | None       # canonical character name, None for non-character labels
    detections: list[FaceDetection] = field(default_factory=list)


def _read_json(path: Path, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise DatasetError(f"{path}: {what} file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: {what} file is not valid JSON ({exc})") from None


def load_track_names(path: str | Path) -> dict[str, list[str | None]]:
    """Read ``ftrack_ids/<movie>.json``: clip name -> label of each track (raw, ``None`` kept)."""
    path = Path(path)
    payload = _read_json(path, "track names")
    if not isinstance(payload, dict):
        raise DatasetError(f"{path}: expected an object mapping clip names to lists of track names")
    names: dict[str, list[str | None]] = {}
    for clip, labels in payload.items():
        check_name(clip, "clip name", path)
        if not isinstance(labels, list) or not all(label is None or isinstance(label, str) for label in labels):
            raise DatasetError(f"{path}: clip {clip!r}: expected a list of track names (strings or null)")
        names[clip] = list(labels)
    return names


def _detection(path: Path, track_index: int, element: Any, scale: float) -> FaceDetection:
    if not isinstance(element, dict):
        raise DatasetError(f"{path}: track {track_index}: detections must be objects")
    missing = [key for key in _DETECTION_KEYS if key not in element]
    if missing:
        raise DatasetError(f"{path}: track {track_index}: detection without key(s) {missing}")
    try:
        frame = int(element["frame"])
        time = float(element["timestamp"])
        x, y, w, h = (float(element[key]) * scale for key in ("x", "y", "w", "h"))
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: track {track_index}: non-numeric detection {element}") from None
    if not all(math.isfinite(v) for v in (time, x, y, w, h)):
        raise DatasetError(f"{path}: track {track_index}: non-finite detection {element}")
    return FaceDetection(frame=frame, time=time, x=x, y=y, w=w, h=h)


def load_clip_tracks(path: str | Path, names: Sequence[str | None] | None = None,
                     scale: float = 1.0) -> list[FaceTrack]:
    """Read ``ftracks/<movie>/<clip>.json`` into :class:`FaceTrack` objects.

    ``names[k]`` labels track ``k`` (from :func:`load_track_names`; ``None``: all unnamed);
    ``scale`` multiplies the pixel coordinates (``dataset.track_scale``). Detections are sorted by
    frame. Empty tracks are kept out (they have no time span).
    """
    path = Path(path)
    payload = _read_json(path, "face track")
    if not isinstance(payload, dict) or "ftracks" not in payload:
        raise DatasetError(f"{path}: expected an object with key 'ftracks'")
    raw_tracks = payload["ftracks"]
    if not isinstance(raw_tracks, list) or not all(isinstance(t, list) for t in raw_tracks):
        raise DatasetError(f"{path}: 'ftracks' must be a list of tracks (lists of detections)")
    if names is not None and len(names) != len(raw_tracks):
        raise DatasetError(f"{path}: {len(raw_tracks)} tracks but {len(names)} track names in the "
                           "ftrack_ids file")
    tracks = []
    for index, raw in enumerate(raw_tracks):
        if not raw:
            continue
        detections = sorted((_detection(path, index, element, scale) for element in raw),
                            key=lambda d: d.frame)
        name = names[index] if names is not None else None
        tracks.append(FaceTrack(track_id=index, name=name, character=track_character(name),
                                detections=detections))
    return tracks


# --- writers (the demo generator, tests and benchmarks) ----------------------------------------

Detection = tuple[int, float, float, float, float]   # (frame, x, y, w, h) in video pixels


def face_tracks_payload(tracks: Sequence[Sequence[Detection]], fps: float, n_frames: int | None = None,
                        track_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """The ``ftracks/<movie>/<clip>.json`` object of ``tracks`` (one list of detections per track);
    ``frame2ftracks`` lists the track positions per frame (empty when ``n_frames`` is None)."""
    frame2ftracks: list[list[int]] = [[] for _ in range(n_frames or 0)]
    ftracks = []
    for position, track in enumerate(tracks):
        track_id = track_ids[position] if track_ids is not None else position
        detections = []
        for frame, x, y, w, h in track:
            detections.append({"timestamp": round(frame / fps, 5), "frame": int(frame), "ftrack_id": track_id,
                               "w": round(w, 4), "h": round(h, 4), "y": round(y, 4), "x": round(x, 4)})
            if n_frames is not None:
                frame2ftracks[frame].append(position)
        ftracks.append(detections)
    return {"ftracks": ftracks, "frame2ftracks": frame2ftracks}


def write_release_json(path: str | Path, payload: Any, indent: int | None = None) -> Path:
    """JSON as the release writes it (Python 2's json: ASCII, ", " item separator even when
    indented, no trailing newline): ftracks compact, ftrack_ids with ``indent=2``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=True, indent=indent, separators=(", ", ": ")),
                    encoding="utf-8")
    return path


def write_clip_tracks(path: str | Path, tracks: Sequence[Sequence[Detection]], fps: float,
                      n_frames: int | None = None, track_ids: Sequence[int] | None = None) -> Path:
    """Write ``ftracks/<movie>/<clip>.json`` (the format :func:`load_clip_tracks` reads)."""
    return write_release_json(path, face_tracks_payload(tracks, fps, n_frames, track_ids))


def write_track_names(path: str | Path, names: dict[str, list[str | None]]) -> Path:
    """Write ``ftrack_ids/<movie>.json`` (the format :func:`load_track_names` reads)."""
    return write_release_json(path, names, indent=2)


@dataclass(frozen=True)
class PersonBoxRatios:
    """Where the face lies inside the person box, as fractions of its width/height (LIReC)."""

    face_x0: float
    face_x1: float
    face_y0: float
    face_y1: float

    def __post_init__(self) -> None:
        if not (self.face_x0 < self.face_x1 and self.face_y0 < self.face_y1):
            raise PipelineError(f"person-box ratios need face_x0 < face_x1 and face_y0 < face_y1, got {self}")

    @classmethod
    def defaults(cls) -> "PersonBoxRatios":
        """The schema's defaults (LIReC's ratios)."""
        from pipeline.config import validate_config

        return cls.from_config(validate_config({}))

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "PersonBoxRatios":
        """From ``visual.person_box`` of the validated config."""
        box = config["visual"]["person_box"]
        return cls(face_x0=float(box["face_x0"]), face_x1=float(box["face_x1"]),
                   face_y0=float(box["face_y0"]), face_y1=float(box["face_y1"]))


def face_to_person_box(x: float, y: float, w: float, h: float,
                       ratios: PersonBoxRatios) -> tuple[float, float, float, float]:
    """Expand a face box ``(x, y, w, h)`` to a person box ``(x0, y0, x1, y1)`` (LIReC's rule).

    The face spans ``[face_x0, face_x1]`` of the person width and ``[face_y0, face_y1]`` of its
    height: ``pw = w / (fx1 - fx0)``, ``ph = h / (fy1 - fy0)``, ``px = x - fx0 * pw``,
    ``py = y - fy0 * ph``. Not clipped to the frame (see :func:`clip_boxes`).
    """
    person_w = w / (ratios.face_x1 - ratios.face_x0)
    person_h = h / (ratios.face_y1 - ratios.face_y0)
    x0 = x - ratios.face_x0 * person_w
    y0 = y - ratios.face_y0 * person_h
    return (x0, y0, x0 + person_w, y0 + person_h)


def clip_boxes(boxes: np.ndarray | Sequence[Sequence[float]], width: float, height: float) -> np.ndarray:
    """Clip ``(N, 4)`` boxes ``(x0, y0, x1, y1)`` to the frame ``[0, width] x [0, height]``."""
    array = np.asarray(boxes)
    dtype = array.dtype if np.issubdtype(array.dtype, np.floating) else np.float64
    clipped = np.array(array, dtype=dtype, copy=True).reshape(-1, 4)
    clipped[:, [0, 2]] = np.clip(clipped[:, [0, 2]], 0.0, width)
    clipped[:, [1, 3]] = np.clip(clipped[:, [1, 3]], 0.0, height)
    return clipped
