"""Sample assembly: one training/evaluation sample per person-to-person interaction instance.

``python -m pipeline.samples --config FILE [--settings JSON] --pooling max --split train
--out work/samples/max/train.h5`` reads the annotation rows (``work/annotations/<movie>.parquet``)
and both feature files of the split's movies (``work/annotations/split.json``) and writes one HDF5
shard. This docstring is the shard's contract (read by :mod:`model.data`).

What a sample holds (paper Sec. 3, LIReC §1.3-1.8)
---------------------------------------------------
- clip visual vector: the visual ``global`` rows of the windows overlapping the interaction's
  ``[start, end]`` (windows whose interval intersects it; if none, the nearest window), pooled with
  the shard's pooling (``max`` as the paper, ``avg``, ``sum``);
- clip dialog vector: the dialog ``vectors`` of the sentences overlapping the span, pooled; zeros
  when there are none (paper: "we set the representations for missing modalities to 0");
- one track vector per character of the clip's cast (plus subject/object if the cast misses them):
  all ROI rows of all of the character's tracks (LIReC's name rule, :mod:`pipeline.tracks`) in the
  span's windows, pooled together; zeros (and ``has_track`` false) when there are none. Storing every
  character once per sample lets candidate pairs and relationship context rows be gathered by index.
- labels: merged interaction id, the overlap mask O_I(v) (bool over interaction classes), the
  relationship id (``-1`` when missing);
- candidate character pairs (LIReC §1.7): the true ordered pair, its reverse, every other ordered
  pair of the cast, then single-character candidates (character as subject only / object only),
  capped at ``samples.max_candidates`` (the true pair is never cut), then shuffled with a seeded
  generator so that ties in scores cannot favour a fixed slot. ``true_candidate[:, 0]`` is the
  true pair's slot; ``true_candidate[:, 1]`` the reversed pair's slot when the interaction is
  bidirectional (the clip also has object -> subject with the same class and span, i.e. the same
  interaction instance; LIReC ``gt_tracks[1]``),
  else ``-1``. The cast is every character of the clip: between the paper's P_M (all pairs of the
  movie, Eq. 8) and LIReC's code (only the characters linked to the interaction node, which tells
  the model who is involved); "who is interacting?" is then asked among everybody on screen.
- relationship context (LIReC §1.8): groups keyed by (movie, ordered pair, relationship). A pair's
  relationship at a clip is the label of the clip's rows for that pair; else the opposite of the
  reverse pair's label in the clip; else the last label of the pair earlier in the movie (LIReC
  propagates relationships over the following clips); else "None" (``-1``). (The annotation rows
  are the only source: a pair that never interacts has no stated relationship.) Every sample of a clip
  joins the group of every ordered pair of the clip's cast, so "None" pairs use all their
  co-occurring interaction clips, and every sample joins the group of its own (subject, object,
  relationship) label (its ``rel_key``). Clips are taken in order of first appearance in the
  annotation file (the movie's clip order). The model draws up to K members of a group (random in
  training, evenly spaced at test; :mod:`model.data`).

Shard layout (float16 features, int32 indices unless noted)
-----------------------------------------------------------
Root attrs: ``format`` (``"lirec-samples/1"``), ``pooling``, ``split``, ``visual_dim`` (C),
``dialog_dim`` (D), ``num_interactions`` (A), ``num_relationships`` (R), ``interaction_names``,
``relationship_names`` (JSON lists), ``max_candidates``, ``seed``, ``movies`` (JSON list),
``sources`` (JSON: input files), counts (``num_samples``, ``num_characters``, ``num_groups``,
``missing_visual_clips``, ``missing_dialog_clips``), ``complete``.
::

    /movies                    (n_movies,) str
    /persons/movie             (P,)   index into /movies
    /persons/name              (P,)   str, canonical character name
    /samples/movie             (N,)   index into /movies
    /samples/clip              (N,)   str
    /samples/span              (N, 2) float32 start, end (clip-relative seconds)
    /samples/visual            (N, C) float16 pooled clip visual vector
    /samples/dialog            (N, D) float16 pooled dialog vector (zeros: no dialog)
    /samples/interaction       (N,)   merged interaction id
    /samples/overlap           (N, A) bool    O_I(v): classes of overlapping interactions (never own)
    /samples/relationship      (N,)   merged relationship id, -1 missing
    /samples/rel_key           (N,)   group id of (movie, subject, object, relationship)
    /samples/char_offset       (N+1,) int64   the sample's characters are rows char_offset[i]:[i+1]
    /samples/subject_row       (N,)   row of /characters of the true subject
    /samples/object_row        (N,)   row of /characters of the true object
    /samples/candidates        (N, Kc, 2) rows of /characters (subject, object); -1 = no character
    /samples/candidate_count   (N,)   valid slots (the rest is padding)
    /samples/candidate_group   (N, Kc) group of the candidate pair; -1 single-character / padding
    /samples/true_candidate    (N, 2) slot of the true pair, slot of its reverse if bidirectional
    /characters/person         (M,)   index into /persons
    /characters/track          (M, C) float16 pooled track vector (zeros: no track in the span)
    /characters/has_track      (M,)   bool
    /groups/movie              (G,)
    /groups/subject            (G,)   index into /persons
    /groups/object             (G,)   index into /persons
    /groups/relationship       (G,)   -1 = "None"
    /groups/offset             (G+1,) int64   members of group g: offset[g]:offset[g+1]
    /groups/member_sample      (T,)   sample id (clip order)
    /groups/member_subject_row (T,)   character row of the group's subject in that sample
    /groups/member_object_row  (T,)   character row of the group's object in that sample

Features are written movie by movie into preallocated contiguous datasets (fast row gathers by
index), so memory is bounded by one movie, not the split.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pipeline.dataset import DatasetError, read_split_file
from pipeline.paths import WorkPaths
from pipeline.tracks import track_matches_character

LOG = logging.getLogger("pipeline.samples")

SHARD_FORMAT = "lirec-samples/1"
POOLINGS = ("max", "avg", "sum")
ANNOTATION_COLUMNS = ("movie", "clip", "start", "end", "subject", "object", "interaction_fine",
                      "interaction", "relationship", "overlapping", "characters")
NO_RELATIONSHIP = -1
NO_CHARACTER = -1


class SamplesError(ValueError):
    """An input of the sample assembly is missing or malformed (the message names the file)."""


# --------------------------------------------------------------------------------------------
# Temporal pooling
# --------------------------------------------------------------------------------------------
def pool_rows(rows: np.ndarray, pooling: str, dim: int) -> np.ndarray:
    """Pool ``rows`` (n, dim) over time into one float32 vector; zeros when ``n == 0``."""
    if rows.shape[0] == 0:
        return np.zeros(dim, dtype=np.float32)
    rows = rows.astype(np.float32, copy=False)
    if pooling == "max":
        return rows.max(axis=0)
    if pooling == "avg":
        return rows.mean(axis=0)
    if pooling == "sum":
        return rows.sum(axis=0)
    raise ValueError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")


def overlapping_intervals(intervals: np.ndarray, start: float, end: float) -> np.ndarray:
    """Indices of ``intervals`` (n, 2) intersecting ``[start, end]``.

    A span of positive length needs a true overlap (touching ends do not count); a zero-length span
    takes the intervals containing its instant.
    """
    if intervals.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    if end > start:
        hit = (intervals[:, 0] < end) & (intervals[:, 1] > start)
    else:
        hit = (intervals[:, 0] <= start) & (intervals[:, 1] >= start)
    return np.flatnonzero(hit)


def span_windows(window_times: np.ndarray, start: float, end: float) -> np.ndarray:
    """Visual windows of a span: those intersecting it, else the single nearest window."""
    windows = overlapping_intervals(window_times, start, end)
    if windows.size or window_times.shape[0] == 0:
        return windows
    gap = np.maximum(0.0, np.maximum(window_times[:, 0] - end, start - window_times[:, 1]))
    return np.array([int(np.argmin(gap))], dtype=np.int64)


# --------------------------------------------------------------------------------------------
# Feature files
# --------------------------------------------------------------------------------------------
@dataclass
class ClipVisual:
    """The visual features of one clip, read into memory."""

    window_times: np.ndarray                      # (T, 2)
    global_features: np.ndarray                   # (T, C)
    tracks: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)
    # (character attr, windows (n,), roi (n, C)) per track

    def clip_vector(self, windows: np.ndarray, pooling: str) -> np.ndarray:
        return pool_rows(self.global_features[windows], pooling, self.global_features.shape[1])

    def character_vector(self, character: str, windows: np.ndarray, pooling: str) -> tuple[np.ndarray, bool]:
        """Pool the ROI rows of all the character's tracks in ``windows``; (vector, has_track)."""
        dim = self.global_features.shape[1]
        parts = []
        for track_character, track_windows, roi in self.tracks:
            if not track_character or not track_matches_character(track_character, character):
                continue
            keep = np.isin(track_windows, windows)
            if keep.any():
                parts.append(roi[keep])
        if not parts:
            return np.zeros(dim, dtype=np.float32), False
        return pool_rows(np.concatenate(parts, axis=0), pooling, dim), True


@dataclass
class ClipDialog:
    times: np.ndarray      # (S, 2)
    vectors: np.ndarray    # (S, D)

    def vector(self, start: float, end: float, pooling: str) -> tuple[np.ndarray, bool]:
        sentences = overlapping_intervals(self.times, start, end)
        return pool_rows(self.vectors[sentences], pooling, self.vectors.shape[1]), bool(sentences.size)


class FeatureFile:
    """One movie's visual or dialog HDF5 file, checked to be complete, read clip by clip."""

    def __init__(self, path: Path, kind: str):
        import h5py

        self.path = Path(path)
        self.kind = kind
        if not self.path.is_file():
            raise SamplesError(f"{self.path}: {kind} feature file not found")
        try:
            self.handle = h5py.File(self.path, "r")
        except OSError as exc:
            raise SamplesError(f"{self.path}: not a readable HDF5 file ({exc})") from None
        if not bool(self.handle.attrs.get("complete", False)):
            self.handle.close()
            raise SamplesError(f"{self.path}: {kind} feature file is incomplete (attrs['complete'] is not true)")
        self.clips = self.handle.get("clips")

    def close(self) -> None:
        self.handle.close()

    def _group(self, clip: str):
        if self.clips is None or clip not in self.clips:
            return None
        return self.clips[clip]

    def _dataset(self, group, name: str, ndim: int) -> np.ndarray:
        if name not in group:
            raise SamplesError(f"{self.path}: clip {group.name} has no dataset '{name}'")
        data = group[name][()]
        if data.ndim != ndim:
            raise SamplesError(f"{self.path}: {group.name}/{name} has shape {data.shape}, expected {ndim} dims")
        return data

    def visual(self, clip: str) -> ClipVisual | None:
        group = self._group(clip)
        if group is None:
            return None
        window_times = self._dataset(group, "window_times", 2).astype(np.float32)
        global_features = self._dataset(group, "global", 2)
        if window_times.shape != (global_features.shape[0], 2):
            raise SamplesError(f"{self.path}: {group.name}: window_times {window_times.shape} does not match "
                               f"global {global_features.shape}")
        tracks = []
        for key in group.get("tracks", {}):
            track = group["tracks"][key]
            windows = self._dataset(track, "windows", 1).astype(np.int64)
            roi = self._dataset(track, "roi", 2)
            if roi.shape != (windows.shape[0], global_features.shape[1]):
                raise SamplesError(f"{self.path}: {track.name}/roi has shape {roi.shape}, expected "
                                   f"({windows.shape[0]}, {global_features.shape[1]})")
            if windows.size and (windows.min() < 0 or windows.max() >= window_times.shape[0]):
                raise SamplesError(f"{self.path}: {track.name}/windows indexes outside the clip's windows")
            character = track.attrs.get("character", "")
            character = character.decode() if isinstance(character, bytes) else str(character)
            tracks.append((character, windows, roi))
        return ClipVisual(window_times, global_features, tracks)

    def dialog(self, clip: str) -> ClipDialog | None:
        group = self._group(clip)
        if group is None:
            return None
        times = self._dataset(group, "times", 2).astype(np.float32)
        vectors = self._dataset(group, "vectors", 2)
        if times.shape[0] != vectors.shape[0]:
            raise SamplesError(f"{self.path}: {group.name}: times {times.shape} and vectors {vectors.shape} differ in S")
        return ClipDialog(times, vectors)

    def feature_dim(self) -> int | None:
        """C (visual ``global``) or D (dialog ``vectors``) of the first clip; None without clips."""
        if self.clips is None:
            return None
        name = "global" if self.kind == "visual" else "vectors"
        for clip in self.clips:
            if name in self.clips[clip]:
                return int(self.clips[clip][name].shape[1])
        return None


# --------------------------------------------------------------------------------------------
# Annotations
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClassInfo:
    """Class names (ids = positions) and the opposite map of relationships."""

    interactions: list[str]
    relationships: list[str]
    opposite: dict[int, int]

    @property
    def num_interactions(self) -> int:
        return len(self.interactions)

    @property
    def num_relationships(self) -> int:
        return len(self.relationships)


@dataclass
class AnnotationRow:
    clip: str
    start: float
    end: float
    subject: str
    object: str
    interaction: int
    relationship: int
    overlapping: list[int]
    characters: list[str]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, float) and np.isnan(value):
        return []
    return list(value)


def read_annotation_rows(path: Path, classes: ClassInfo) -> list[AnnotationRow]:
    """Read and check one movie's annotation parquet."""
    import pandas as pd

    if not path.is_file():
        raise SamplesError(f"{path}: annotation file not found")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        raise SamplesError(f"{path}: not a readable parquet file ({exc})") from None
    missing = [c for c in ANNOTATION_COLUMNS if c not in frame.columns]
    if missing:
        raise SamplesError(f"{path}: missing columns {missing}")
    rows = []
    for number, record in enumerate(frame.itertuples(index=False)):
        where = f"{path}: row {number}"
        relationship = record.relationship
        relationship = NO_RELATIONSHIP if relationship is None or pd.isna(relationship) else int(relationship)
        row = AnnotationRow(
            clip=str(record.clip), start=float(record.start), end=float(record.end),
            subject=str(record.subject), object=str(record.object), interaction=int(record.interaction),
            relationship=relationship, overlapping=[int(x) for x in _as_list(record.overlapping)],
            characters=[str(x) for x in _as_list(record.characters)])
        if not row.end >= row.start:
            raise SamplesError(f"{where}: end {row.end} is before start {row.start}")
        if not 0 <= row.interaction < classes.num_interactions:
            raise SamplesError(f"{where}: interaction {row.interaction} outside 0..{classes.num_interactions - 1}")
        if row.relationship != NO_RELATIONSHIP and not 0 <= row.relationship < classes.num_relationships:
            raise SamplesError(f"{where}: relationship {row.relationship} outside 0..{classes.num_relationships - 1}")
        if any(not 0 <= x < classes.num_interactions for x in row.overlapping):
            raise SamplesError(f"{where}: overlapping ids {row.overlapping} outside the interaction classes")
        if row.subject == row.object:
            raise SamplesError(f"{where}: subject and object are the same character {row.subject!r}")
        rows.append(row)
    return rows


def clip_cast(rows: Sequence[AnnotationRow]) -> list[str]:
    """The clip's characters in annotation order, plus any subject/object the cast list misses."""
    names: list[str] = []
    for row in rows:
        names.extend(row.characters)
    for row in rows:
        names.extend([row.subject, row.object])
    return list(dict.fromkeys(names))


class PairRelationships:
    """The relationship of every ordered pair at each clip of one movie (see module docstring)."""

    def __init__(self, opposite: dict[int, int]):
        self.opposite = opposite
        self.known: dict[tuple[str, str], int] = {}

    def update(self, rows: Sequence[AnnotationRow]) -> dict[tuple[str, str], int]:
        """Labels stated by this clip's rows (direct, else the reverse pair's opposite)."""
        direct: dict[tuple[str, str], int] = {}
        for row in rows:
            if row.relationship != NO_RELATIONSHIP:
                direct.setdefault((row.subject, row.object), row.relationship)
        stated = dict(direct)
        for (a, b), relationship in direct.items():
            if (b, a) not in stated and relationship in self.opposite:
                stated[(b, a)] = self.opposite[relationship]
        self.known.update(stated)
        return stated

    def at_clip(self, a: str, b: str) -> int:
        return self.known.get((a, b), NO_RELATIONSHIP)


def candidate_pairs(subject: str, object_: str, cast: Sequence[str], limit: int) -> list[tuple[str | None, str | None]]:
    """LIReC's candidate list (true pair first, its reverse, other ordered pairs, singles), capped."""
    pairs: list[tuple[str | None, str | None]] = [(subject, object_), (object_, subject)]
    pairs += [(a, b) for a in cast for b in cast if a != b and (a, b) not in pairs[:2]]
    pairs += [single for name in cast for single in ((name, None), (None, name))]
    return pairs[:limit]


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------
@dataclass
class MovieInputs:
    movie: str
    annotations: Path
    visual: Path
    dialog: Path


@dataclass
class GroupTable:
    """Relationship-context groups: (movie, subject person, object person, relationship) -> members."""

    ids: dict[tuple[int, int, int, int], int] = field(default_factory=dict)
    members: list[list[tuple[int, int, int]]] = field(default_factory=list)
    _joined: set[tuple[int, int]] = field(default_factory=set)

    def add(self, key: tuple[int, int, int, int], member: tuple[int, int, int]) -> int:
        """Add ``member`` = (sample, subject row, object row) to the group of ``key`` (once)."""
        group = self.ids.get(key)
        if group is None:
            group = self.ids[key] = len(self.members)
            self.members.append([])
        if (group, member[0]) not in self._joined:
            self._joined.add((group, member[0]))
            self.members[group].append(member)
        return group


def _sample_rng(seed: int, movie: str, clip: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(f"{movie}/{clip}".encode()), index])


def assemble_samples(movies: Sequence[MovieInputs], out: Path, *, pooling: str, split: str,
                     classes: ClassInfo, max_candidates: int, seed: int) -> dict[str, int]:
    """Write the shard ``out`` for ``movies``; return counts. See the module docstring."""
    from pipeline.h5io import atomic_h5

    if pooling not in POOLINGS:
        raise SamplesError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")
    started = time.time()
    # Pass 1: annotations only -> sizes, so features go into preallocated contiguous datasets.
    rows_per_movie: list[list[AnnotationRow]] = []
    num_samples = num_characters = 0
    for inputs in movies:
        rows = read_annotation_rows(inputs.annotations, classes)
        rows_per_movie.append(rows)
        for clip_rows in _rows_by_clip(rows).values():
            num_samples += len(clip_rows)
            num_characters += len(clip_rows) * len(clip_cast(clip_rows))
    if num_samples == 0:
        raise SamplesError(f"no annotated interactions in the {split} movies "
                           f"({', '.join(m.movie for m in movies) or 'none'}); nothing to assemble")

    visual_dim, dialog_dim = _feature_dims(movies)
    A, Kc = classes.num_interactions, max_candidates
    persons: dict[tuple[int, str], int] = {}
    groups = GroupTable()
    counts = {"missing_visual_clips": 0, "missing_dialog_clips": 0, "samples_without_dialog": 0,
              "characters_with_track": 0}
    index_arrays = {
        "movie": np.zeros(num_samples, np.int32), "span": np.zeros((num_samples, 2), np.float32),
        "interaction": np.zeros(num_samples, np.int32), "overlap": np.zeros((num_samples, A), bool),
        "relationship": np.zeros(num_samples, np.int32), "rel_key": np.zeros(num_samples, np.int32),
        "char_offset": np.zeros(num_samples + 1, np.int64),
        "subject_row": np.zeros(num_samples, np.int32), "object_row": np.zeros(num_samples, np.int32),
        "candidates": np.full((num_samples, Kc, 2), NO_CHARACTER, np.int32),
        "candidate_count": np.zeros(num_samples, np.int32),
        "candidate_group": np.full((num_samples, Kc), -1, np.int32),
        "true_candidate": np.full((num_samples, 2), -1, np.int32),
    }
    clip_names: list[str] = []
    char_person = np.zeros(num_characters, np.int32)
    char_has_track = np.zeros(num_characters, bool)

    with atomic_h5(out, format=SHARD_FORMAT, pooling=pooling, split=split) as shard:
        visual_out = shard.create_dataset("samples/visual", (num_samples, visual_dim), np.float16)
        dialog_out = shard.create_dataset("samples/dialog", (num_samples, dialog_dim), np.float16)
        track_out = shard.create_dataset("characters/track", (num_characters, visual_dim), np.float16)
        sample = char_row = 0
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - tqdm is a dependency
            tqdm = None
        iterator = zip(movies, rows_per_movie)
        if tqdm is not None:
            iterator = tqdm(list(iterator), desc=f"samples {pooling}/{split}", unit="movie", leave=False)
        for movie_index, (inputs, rows) in enumerate(iterator):
            visual_file = FeatureFile(inputs.visual, "visual")
            dialog_file = FeatureFile(inputs.dialog, "dialog")
            try:
                relationships = PairRelationships(classes.opposite)
                movie_visual, movie_dialog, movie_tracks = [], [], []
                movie_first_sample = sample
                for clip, clip_rows in _rows_by_clip(rows).items():
                    cast = clip_cast(clip_rows)
                    person_ids = [persons.setdefault((movie_index, name), len(persons)) for name in cast]
                    relationships.update(clip_rows)
                    visual = visual_file.visual(clip)
                    dialog = dialog_file.dialog(clip)
                    counts["missing_visual_clips"] += visual is None
                    counts["missing_dialog_clips"] += dialog is None
                    if dialog is not None and dialog.vectors.shape[1] != dialog_dim:
                        raise SamplesError(f"{inputs.dialog}: clip {clip} has dialog dim {dialog.vectors.shape[1]}, "
                                           f"expected {dialog_dim}")
                    if visual is not None and visual.global_features.shape[1] != visual_dim:
                        raise SamplesError(f"{inputs.visual}: clip {clip} has visual dim "
                                           f"{visual.global_features.shape[1]}, expected {visual_dim}")
                    for index, row in enumerate(clip_rows):
                        first_row = char_row
                        rows_of = {name: first_row + k for k, name in enumerate(cast)}
                        windows = span_windows(visual.window_times, row.start, row.end) if visual else None
                        movie_visual.append(visual.clip_vector(windows, pooling) if visual
                                            else np.zeros(visual_dim, np.float32))
                        dialog_vector, has_dialog = (dialog.vector(row.start, row.end, pooling) if dialog
                                                     else (np.zeros(dialog_dim, np.float32), False))
                        movie_dialog.append(dialog_vector)
                        counts["samples_without_dialog"] += not has_dialog
                        for k, name in enumerate(cast):
                            vector, has_track = (visual.character_vector(name, windows, pooling) if visual
                                                 else (np.zeros(visual_dim, np.float32), False))
                            movie_tracks.append(vector)
                            char_person[first_row + k] = person_ids[k]
                            char_has_track[first_row + k] = has_track
                        char_row += len(cast)
                        index_arrays["char_offset"][sample + 1] = char_row
                        index_arrays["movie"][sample] = movie_index
                        index_arrays["span"][sample] = (row.start, row.end)
                        index_arrays["interaction"][sample] = row.interaction
                        index_arrays["overlap"][sample, [x for x in row.overlapping if x != row.interaction]] = True
                        index_arrays["relationship"][sample] = row.relationship
                        index_arrays["subject_row"][sample] = rows_of[row.subject]
                        index_arrays["object_row"][sample] = rows_of[row.object]
                        clip_names.append(clip)

                        def person(name: str) -> int:
                            return persons[(movie_index, name)]

                        # Relationship context: this sample joins every ordered pair's group.
                        pair_group = {}
                        for a in cast:
                            for b in cast:
                                if a != b:
                                    key = (movie_index, person(a), person(b), relationships.at_clip(a, b))
                                    pair_group[(a, b)] = groups.add(key, (sample, rows_of[a], rows_of[b]))
                        own_key = (movie_index, person(row.subject), person(row.object), row.relationship)
                        rel_key = groups.add(own_key, (sample, rows_of[row.subject], rows_of[row.object]))
                        index_arrays["rel_key"][sample] = rel_key

                        # Candidate pairs (LIReC §1.7), shuffled with a per-sample seeded generator.
                        pairs = candidate_pairs(row.subject, row.object, cast, Kc)
                        order = _sample_rng(seed, inputs.movie, clip, index).permutation(len(pairs))
                        # the same interaction instance (class and span) also runs object -> subject
                        bidirectional = any(other.subject == row.object and other.object == row.subject
                                            and other.interaction == row.interaction
                                            and (other.start, other.end) == (row.start, row.end)
                                            for other in clip_rows)
                        for slot, original in enumerate(order):
                            a, b = pairs[original]
                            index_arrays["candidates"][sample, slot] = (
                                rows_of[a] if a is not None else NO_CHARACTER,
                                rows_of[b] if b is not None else NO_CHARACTER)
                            if a is not None and b is not None:
                                index_arrays["candidate_group"][sample, slot] = (
                                    rel_key if original == 0 else pair_group[(a, b)])
                            if original == 0:
                                index_arrays["true_candidate"][sample, 0] = slot
                            elif original == 1 and bidirectional:
                                index_arrays["true_candidate"][sample, 1] = slot
                        index_arrays["candidate_count"][sample] = len(pairs)
                        sample += 1
                # Write this movie's features (contiguous slices).
                if movie_visual:
                    visual_out[movie_first_sample:sample] = np.stack(movie_visual).astype(np.float16)
                    dialog_out[movie_first_sample:sample] = np.stack(movie_dialog).astype(np.float16)
                    first_char = int(index_arrays["char_offset"][movie_first_sample])
                    track_out[first_char:char_row] = np.stack(movie_tracks).astype(np.float16)
            finally:
                visual_file.close()
                dialog_file.close()
        counts["characters_with_track"] = int(char_has_track.sum())

        for name, values in index_arrays.items():
            shard.create_dataset(f"samples/{name}", data=values)
        shard.create_dataset("samples/clip", data=np.array(clip_names, dtype=object), dtype=_str_dtype())
        shard.create_dataset("characters/person", data=char_person)
        shard.create_dataset("characters/has_track", data=char_has_track)
        shard.create_dataset("movies", data=np.array([m.movie for m in movies], dtype=object), dtype=_str_dtype())
        person_items = sorted(persons.items(), key=lambda item: item[1])
        shard.create_dataset("persons/movie", data=np.array([m for (m, _), _ in person_items], np.int32))
        shard.create_dataset("persons/name", data=np.array([n for (_, n), _ in person_items], dtype=object),
                             dtype=_str_dtype())
        _write_groups(shard, groups)
        attrs = {
            "visual_dim": visual_dim, "dialog_dim": dialog_dim, "num_interactions": A,
            "num_relationships": classes.num_relationships,
            "interaction_names": json.dumps(classes.interactions),
            "relationship_names": json.dumps(classes.relationships),
            "max_candidates": Kc, "seed": seed, "movies": json.dumps([m.movie for m in movies]),
            "sources": json.dumps([{"movie": m.movie, "annotations": str(m.annotations), "visual": str(m.visual),
                                    "dialog": str(m.dialog)} for m in movies]),
            "num_samples": num_samples, "num_characters": num_characters, "num_groups": len(groups.members),
            **counts,
        }
        for key, value in attrs.items():
            shard.attrs[key] = value
    counts.update(num_samples=num_samples, num_characters=num_characters, num_groups=len(groups.members))
    LOG.info("%s: %d samples, %d character rows (%d with a track), %d context groups from %d movies; "
             "%d clips without visual, %d without dialog features, %d samples without dialog; %.1fs",
             out, num_samples, num_characters, counts["characters_with_track"], len(groups.members), len(movies),
             counts["missing_visual_clips"], counts["missing_dialog_clips"], counts["samples_without_dialog"],
             time.time() - started)
    return counts


def _str_dtype():
    import h5py

    return h5py.string_dtype("utf-8")


def _rows_by_clip(rows: Sequence[AnnotationRow]) -> dict[str, list[AnnotationRow]]:
    by_clip: dict[str, list[AnnotationRow]] = {}
    for row in rows:
        by_clip.setdefault(row.clip, []).append(row)
    return by_clip


def _feature_dims(movies: Sequence[MovieInputs]) -> tuple[int, int]:
    """C and D from the feature files (the first movie that has clips); all files must agree."""
    dims: dict[str, set[int]] = {"visual": set(), "dialog": set()}
    for inputs in movies:
        for kind, path in (("visual", inputs.visual), ("dialog", inputs.dialog)):
            handle = FeatureFile(path, kind)
            try:
                dim = handle.feature_dim()
            finally:
                handle.close()
            if dim is not None:
                dims[kind].add(dim)
    for kind, found in dims.items():
        if len(found) > 1:
            raise SamplesError(f"{kind} feature files disagree on the feature dimension: {sorted(found)}")
        if not found:
            raise SamplesError(f"no {kind} features in any of the files of "
                               f"{', '.join(m.movie for m in movies)}; cannot tell the feature dimension")
    return dims["visual"].pop(), dims["dialog"].pop()


def _write_groups(shard, groups: GroupTable) -> None:
    keys = sorted(groups.ids.items(), key=lambda item: item[1])
    shard.create_dataset("groups/movie", data=np.array([k[0] for k, _ in keys], np.int32))
    shard.create_dataset("groups/subject", data=np.array([k[1] for k, _ in keys], np.int32))
    shard.create_dataset("groups/object", data=np.array([k[2] for k, _ in keys], np.int32))
    shard.create_dataset("groups/relationship", data=np.array([k[3] for k, _ in keys], np.int32))
    sizes = np.array([len(m) for m in groups.members], np.int64)
    shard.create_dataset("groups/offset", data=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))
    flat = np.array([member for members in groups.members for member in members], np.int32).reshape(-1, 3)
    shard.create_dataset("groups/member_sample", data=flat[:, 0])
    shard.create_dataset("groups/member_subject_row", data=flat[:, 1])
    shard.create_dataset("groups/member_object_row", data=flat[:, 2])


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
def load_classes(config: dict[str, Any]) -> ClassInfo:
    """Class names and opposites from the configured label map files (:mod:`pipeline.labels`)."""
    from pipeline.dataset import DatasetLayout
    from pipeline.labels import LabelMaps

    layout = DatasetLayout.from_config(config)
    maps = LabelMaps.load(layout.interactions_map, layout.relationships_map, layout.relationships_opposite)
    return ClassInfo(list(maps.interactions), list(maps.relationships), dict(maps.opposite))


def split_inputs(config: dict[str, Any], split: str) -> list[MovieInputs]:
    """The split's movies (``work/annotations/split.json``) and their three input files."""
    paths = WorkPaths(config)
    movies = read_split_file(paths.annotations_split())[split]
    return [MovieInputs(movie, paths.annotations(movie), paths.visual_features(movie), paths.dialog_features(movie))
            for movie in movies]


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.config import ConfigError, settings_from_cli
    from pipeline.h5io import exit_cleanly_on_sigterm

    exit_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=None, help="workflow_config.yaml")
    parser.add_argument("--settings", default=None, help="JSON overrides (Snakemake passes the stage's sections)")
    parser.add_argument("--pooling", required=True, choices=POOLINGS)
    parser.add_argument("--split", required=True, choices=("train", "val", "test"))
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = settings_from_cli(args.config, args.settings)
        assemble_samples(split_inputs(config, args.split), args.out, pooling=args.pooling, split=args.split,
                         classes=load_classes(config), max_candidates=config["samples"]["max_candidates"],
                         seed=int(config["seed"]))
    except (SamplesError, DatasetError, ConfigError, ValueError) as exc:
        LOG.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
