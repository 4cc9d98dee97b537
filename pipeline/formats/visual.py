"""``work/features/visual/<movie>.h5``: per-window global and character-track vectors of every clip.

Root attrs: the settings that shaped the numbers (backbone, feature_layer, weights_file,
weights_sha256, random_weights, input_size, crop, window, stride, dtype, device, roi_*,
person_box_*, track_scale, keep_maps, feature_channels, input_mean, input_std, versions (JSON),
settings_hash, movie) and ``complete``::

    /clips/<clip>            attrs: fps, n_frames, width, height, input_width, input_height,
                                    grid_height, grid_width
    /clips/<clip>/window_times       (T, 2) float32  start/end seconds of each window, clip-relative
    /clips/<clip>/global             (T, C) float16  spatial mean of the last feature map per window
    /clips/<clip>/tracks/<k>/windows (n,) int32      windows where track k is present
    /clips/<clip>/tracks/<k>/roi     (n, C) float16  ROI-pooled person-box features; attrs: character, name
    /clips/<clip>/maps               (T, C, H, W) float16  only with visual.keep_maps

``<k>`` is the track's position in the clip's face-track file; every track is listed (n = 0 when none
of its boxes lands on the feature grid). The extractor writes one part file per clip
(:class:`ClipPartWriter`: the clip's group under ``/clip``) and merges them (:func:`merge_clip_parts`);
the sample assembly reads clips back with :class:`VisualFeatureReader`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from pipeline.formats.features import FeatureFileError, FeatureReader, decode_text
from pipeline.h5io import AtomicH5, atomic_h5

_GZIP = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


@dataclass
class VisualTrack:
    """One face track of a clip: its character (canonical name, "" for none), window indices, ROI rows."""

    character: str
    windows: np.ndarray      # (n,) int
    roi: np.ndarray          # (n, C)
    name: str = ""           # the raw track label


@dataclass
class VisualClip:
    """The visual features of one clip, in memory."""

    window_times: np.ndarray                      # (T, 2)
    global_features: np.ndarray                   # (T, C)
    tracks: list[VisualTrack] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)


def _write_tracks(group, tracks: Iterable[tuple[int | str, VisualTrack]], channels: int) -> None:
    tracks_group = group.create_group("tracks")
    for key, track in tracks:
        roi = np.asarray(track.roi, dtype=np.float16).reshape(len(track.windows), channels)
        track_group = tracks_group.create_group(str(key))
        track_group.create_dataset("windows", data=np.asarray(track.windows, dtype=np.int32))
        track_group.create_dataset("roi", data=roi, **(_GZIP if roi.size else {}))
        track_group.attrs["character"] = track.character or ""
        track_group.attrs["name"] = track.name or ""


class ClipPartWriter:
    """One clip's part file: opened as an atomic temp file, :meth:`commit` when the clip is done,
    :meth:`discard` on failure (the temp file is removed; nothing appears under the part's name).

    Global vectors and maps go to disk window by window; tracks are written once, at the end.
    """

    def __init__(self, path: str | Path, clip: str, attrs: dict[str, Any], window_times: np.ndarray,
                 channels: int, inputs: str = ""):
        self.path, self.clip, self.channels = Path(path), clip, channels
        window_times = np.asarray(window_times, dtype=np.float32).reshape(-1, 2)
        self.n_windows = window_times.shape[0]
        # ``inputs``: the stamp of the files the clip was made from (its reuse key on resume)
        self._file = AtomicH5(self.path, clip=clip, inputs=inputs)
        self.group = self._file.handle.create_group("clip")
        self.group.attrs.update(attrs)
        self.group.create_dataset("window_times", data=window_times)
        self.global_ds = self.group.create_dataset(
            "global", shape=(self.n_windows, channels), dtype=np.float16,
            chunks=(min(self.n_windows, 256), channels), **_GZIP)
        self.maps_ds = None

    def set_attrs(self, **attrs: Any) -> None:
        self.group.attrs.update(attrs)

    def add_window(self, index: int, global_vector: np.ndarray, feature_map: np.ndarray | None = None) -> None:
        """One window's global vector (C,) and, with keep_maps, its map (C, H, W)."""
        self.global_ds[index] = global_vector
        if feature_map is not None:
            if self.maps_ds is None:
                self.maps_ds = self.group.create_dataset(
                    "maps", shape=(self.n_windows, *feature_map.shape), dtype=np.float16,
                    chunks=(1, *feature_map.shape), **_GZIP)
            self.maps_ds[index] = feature_map

    def commit(self, tracks: Sequence[tuple[int, VisualTrack]]) -> None:
        """Write the clip's tracks ``(position in the face-track file, track)`` and move the part into place."""
        _write_tracks(self.group, tracks, self.channels)
        self._file.commit()

    def discard(self) -> None:
        self._file.discard()


def part_inputs(path: str | Path) -> str | None:
    """The input stamp of a finished part file; None when there is none or it is incomplete."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            if not bool(handle.attrs.get("complete", False)):
                return None
            return decode_text(handle.attrs.get("inputs", ""))
    except (OSError, FileNotFoundError):
        return None


def merge_clip_parts(out: str | Path, parts: Sequence[tuple[str, Path]], attrs: dict[str, Any]) -> None:
    """Write the movie file ``out`` (atomically) from ``(clip, part file)`` pairs, in that order."""
    import h5py

    with atomic_h5(out, **attrs) as handle:
        clips_group = handle.create_group("clips")
        for clip, part_path in parts:
            with h5py.File(part_path, "r") as part:
                part.copy(part["clip"], clips_group, name=clip)


def write_visual_features(out: str | Path, clips: dict[str, VisualClip], **attrs: Any) -> None:
    """Write a whole movie file from clips in memory (tests and tools; the extractor streams parts)."""
    with atomic_h5(out, **attrs) as handle:
        for name, clip in clips.items():
            group = handle.create_group(f"clips/{name}")
            group.attrs.update(clip.attrs)
            group.create_dataset("window_times", data=np.asarray(clip.window_times, np.float32).reshape(-1, 2))
            group.create_dataset("global", data=np.asarray(clip.global_features, np.float16))
            _write_tracks(group, enumerate(clip.tracks), clip.global_features.shape[1])


class VisualFeatureReader(FeatureReader):
    kind = "visual"
    vector_dataset = "global"
    # Not: paths, device, dtype (bf16 on GPU, float32 on CPU: the same features up to rounding),
    # track_scale (a property of a dataset's track files), keep_maps, versions.
    identity_keys = ("backbone", "feature_layer", "weights_sha256", "feature_channels", "input_size", "crop",
                     "window", "stride", "roi_op", "roi_output_size", "roi_sampling_ratio", "roi_aligned",
                     "person_box_face_x0", "person_box_face_x1", "person_box_face_y0", "person_box_face_y1")

    def clip(self, clip: str) -> VisualClip | None:
        """The clip's features, checked against the layout; None when the file has no such clip."""
        group = self._group(clip)
        if group is None:
            return None
        window_times = self._dataset(group, "window_times", 2).astype(np.float32)
        global_features = self._dataset(group, "global", 2)
        if window_times.shape != (global_features.shape[0], 2):
            raise FeatureFileError(f"{self.path}: {group.name}: window_times {window_times.shape} does not match "
                                   f"global {global_features.shape}")
        tracks = []
        for key in group.get("tracks", {}):
            track = group["tracks"][key]
            windows = self._dataset(track, "windows", 1).astype(np.int64)
            roi = self._dataset(track, "roi", 2)
            if roi.shape != (windows.shape[0], global_features.shape[1]):
                raise FeatureFileError(f"{self.path}: {track.name}/roi has shape {roi.shape}, expected "
                                       f"({windows.shape[0]}, {global_features.shape[1]})")
            if windows.size and (windows.min() < 0 or windows.max() >= window_times.shape[0]):
                raise FeatureFileError(f"{self.path}: {track.name}/windows indexes outside the clip's windows")
            tracks.append(VisualTrack(decode_text(track.attrs.get("character", "")), windows, roi,
                                      decode_text(track.attrs.get("name", ""))))
        return VisualClip(window_times, global_features, tracks, dict(group.attrs))
