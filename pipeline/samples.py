"""Sample assembly: one training/evaluation sample per person-to-person interaction instance.

``python -m pipeline.samples --config FILE [--settings JSON] --pooling max --split train
--out work/samples/max/train.h5`` reads the annotation rows (``work/annotations/<movie>.parquet``)
and both feature files of the split's movies (``work/annotations/split.json``) and writes one HDF5
shard (layout: :mod:`pipeline.formats.shard`). This docstring says what a sample holds.

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
  are the only source: a pair that never interacts has no stated relationship.) As in the authors'
  code (``cache_relationships`` keeps an interaction of a scene only if both characters take part
  in it), a sample joins the group of every ordered pair of its interaction's characters
  (:func:`interaction_characters`: subject, object and the other objects of an interaction
  addressed to several), in either direction, so a group holds the pair's own interactions in the
  clips where it has that relationship, not those of other pairs on screen; and every sample joins
  the group of its own (subject, object, relationship) label (its ``rel_key``). A candidate pair
  that never interacts with its relationship at the clip has an empty group (no context clips: a
  zero relationship representation). Clips are taken in order of first appearance in the
  annotation file (the movie's clip order). The model draws up to K members of a group (random in
  training, evenly spaced at test; :mod:`model.data`).

Unlabelled samples (prediction, :mod:`model.predict`)
-----------------------------------------------------
A movie without annotations gets one unlabelled sample per clip (:func:`unlabelled_row`): the span
is the whole clip, the cast is the characters that have face-track features in the clip
(:func:`tracked_cast`; "lowell" and "leo lowell" are one character,
:func:`pipeline.tracks.movie_characters`), there is no true pair (interaction and relationship
``-1``, ``true_candidate`` ``-1``), the candidates are every ordered pair of the cast, then the
single-character candidates, unshuffled (a clip without characters has the one candidate "no
character", i.e. zero tracks), and each pair's context group is (movie, pair, ``-1``): every clip
where both characters have tracks. The same builder and writer make both kinds of samples.

The assembly is a pure per-clip builder (:func:`clip_samples`: one clip's rows and features in, its
samples out) and a short writer (:func:`write_samples`; :func:`assemble_samples` reads the
annotation files for it) that numbers characters, persons and context groups across the split and
writes the shard movie by movie.
"""
from __future__ import annotations

import contextlib
import json
import logging
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from pipeline.config import schema_enum
from pipeline.dataset import DatasetLayout, read_split_file
from pipeline.errors import PipelineError
from pipeline.formats.annotations import NO_RELATIONSHIP, AnnotationRow, read_annotation_rows
from pipeline.formats.dialog import DialogClip, DialogFeatureReader
from pipeline.formats.shard import NO_CHARACTER, UNLABELLED, ShardWriter
from pipeline.formats.stage_report import StageReport, read_stage_report, report_path
from pipeline.formats.visual import VisualClip, VisualFeatureReader
from pipeline.labels import LabelMaps
from pipeline.paths import WorkPaths
from pipeline.relationships import PairRelationships
from pipeline.tracks import track_matches_character

LOG = logging.getLogger("pipeline.samples")

POOLINGS = schema_enum("experiments.*.pooling")


class SamplesError(PipelineError):
    """An input of the sample assembly is missing or malformed (the message names the file)."""


@dataclass(frozen=True)
class SampleSettings:
    """What shapes a shard: the samples section, the label maps, the seed, where the inputs are."""

    layout: DatasetLayout
    paths: WorkPaths
    max_candidates: int
    seed: int
    on_error: str

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "SampleSettings":
        return cls(layout=DatasetLayout.from_config(config), paths=WorkPaths(config),
                   max_candidates=int(config["samples"]["max_candidates"]), seed=int(config["seed"]),
                   on_error=config["on_error"]["samples"])

    def labels(self) -> LabelMaps:
        return LabelMaps.from_layout(self.layout)

    def split_inputs(self, split: str) -> list["MovieInputs"]:
        """The split's movies (``work/annotations/split.json``) and their three input files."""
        movies = read_split_file(self.paths.annotations_split())[split]
        return [MovieInputs(movie, self.paths.annotations(movie), self.paths.visual_features(movie),
                            self.paths.dialog_features(movie)) for movie in movies]


@dataclass
class MovieInputs:
    movie: str
    annotations: Path | None     # None: unlabelled samples (prediction)
    visual: Path
    dialog: Path | None          # None: no subtitles (dialog vectors are zeros)


# --------------------------------------------------------------------------------------------
# Temporal pooling over an interaction's span
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
    raise SamplesError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")


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


def character_vector(visual: VisualClip, character: str, windows: np.ndarray, pooling: str) -> tuple[np.ndarray, bool]:
    """Pool the ROI rows of all the character's tracks in ``windows``; (vector, has_track)."""
    dim = visual.global_features.shape[1]
    parts = []
    for track in visual.tracks:
        if not track.character or not track_matches_character(track.character, character):
            continue
        keep = np.isin(track.windows, windows)
        if keep.any():
            parts.append(track.roi[keep])
    if not parts:
        return np.zeros(dim, dtype=np.float32), False
    return pool_rows(np.concatenate(parts, axis=0), pooling, dim), True


# --------------------------------------------------------------------------------------------
# The per-clip builder
# --------------------------------------------------------------------------------------------
def clip_cast(rows: Sequence[AnnotationRow]) -> list[str]:
    """The clip's characters in annotation order, plus any subject/object the cast list misses."""
    names: list[str] = []
    for row in rows:
        names.extend(row.characters)
    for row in rows:
        names.extend(name for name in (row.subject, row.object) if name is not None)
    return list(dict.fromkeys(names))


def tracked_cast(visual: VisualClip | None, characters: Mapping[str, str]) -> list[str]:
    """The characters with face-track features in the clip, in track order; ``characters`` maps a
    track's canonical label to its character (:func:`pipeline.tracks.movie_characters`)."""
    if visual is None:
        return []
    return list(dict.fromkeys(characters.get(track.character, track.character) for track in visual.tracks
                              if track.character and track.windows.size))


def unlabelled_row(clip: str, cast: Sequence[str]) -> AnnotationRow:
    """The unlabelled whole-clip sample of a clip (prediction): no true pair, no labels."""
    return AnnotationRow(clip=clip, start=0.0, end=float("inf"), subject=None, object=None, interaction=UNLABELLED,
                         relationship=NO_RELATIONSHIP, overlapping=[], characters=list(cast))


def candidate_pairs(subject: str | None, object_: str | None, cast: Sequence[str],
                    limit: int) -> list[tuple[str | None, str | None]]:
    """LIReC's candidate list (true pair first, its reverse, other ordered pairs, singles), capped.

    Without a true pair (``subject`` None, an unlabelled sample): every ordered pair of the cast,
    then the singles; ``[(None, None)]`` (zero tracks) when the cast is empty.
    """
    singles = [single for name in cast for single in ((name, None), (None, name))]
    if subject is None:
        pairs = [(a, b) for a in cast for b in cast if a != b] + singles
        return (pairs or [(None, None)])[:limit]
    pairs: list[tuple[str | None, str | None]] = [(subject, object_), (object_, subject)]
    pairs += [(a, b) for a in cast for b in cast if a != b and (a, b) not in pairs[:2]]
    pairs += singles
    return pairs[:limit]


def same_instance(row: AnnotationRow, other: AnnotationRow) -> bool:
    """Whether two rows of a clip can be one interaction instance: the same class and span."""
    return other.interaction == row.interaction and (other.start, other.end) == (row.start, row.end)


def interaction_characters(row: AnnotationRow, rows: Sequence[AnnotationRow]) -> list[str]:
    """The characters of ``row``'s interaction instance: its subject and object, and the other objects
    of an interaction addressed to several (rows of the clip with the same subject, class and span)."""
    objects = [other.object for other in rows if other.subject == row.subject and same_instance(row, other)]
    return list(dict.fromkeys([row.subject, row.object, *objects]))


def _sample_rng(seed: int, movie: str, clip: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(f"{movie}/{clip}".encode()), index])


GroupKey = tuple[str, str, int]   # (subject name, object name, relationship or NO_RELATIONSHIP)


@dataclass
class ClipSamples:
    """The samples of one clip, one per annotation row. Character rows are local: sample ``i``'s
    characters are rows ``i * len(cast) + k`` for ``k`` over :attr:`cast` (``-1``: no character)."""

    cast: list[str]
    visual: np.ndarray              # (n, C) pooled clip vectors
    dialog: np.ndarray              # (n, D) pooled dialog vectors (zeros: no dialog)
    has_dialog: np.ndarray          # (n,) bool
    tracks: np.ndarray              # (n * len(cast), C) pooled track vectors
    has_track: np.ndarray           # (n * len(cast),) bool
    rows: list[AnnotationRow]
    candidates: np.ndarray          # (n, Kc, 2) cast indices, -1 none
    candidate_count: np.ndarray     # (n,)
    candidate_pair: list[list[GroupKey | None]]  # per sample and valid slot: the pair's group key
    true_candidate: np.ndarray      # (n, 2)
    # per sample, in order: the context groups it joins (its pairs' groups, then its own label's)
    memberships: list[list[GroupKey]] = field(default_factory=list)


def clip_samples(movie: str, clip: str, rows: Sequence[AnnotationRow], visual: VisualClip | None,
                 dialog: DialogClip | None, relationships: PairRelationships, *, pooling: str,
                 max_candidates: int, seed: int, visual_dim: int, dialog_dim: int) -> ClipSamples:
    """The samples of one clip (pure: no I/O). ``relationships`` must already hold this clip."""
    cast = clip_cast(rows)
    n, m = len(rows), len(cast)
    index_of = {name: k for k, name in enumerate(cast)}
    result = ClipSamples(
        cast=cast, visual=np.zeros((n, visual_dim), np.float32), dialog=np.zeros((n, dialog_dim), np.float32),
        has_dialog=np.zeros(n, bool), tracks=np.zeros((n * m, visual_dim), np.float32),
        has_track=np.zeros(n * m, bool), rows=list(rows),
        candidates=np.full((n, max_candidates, 2), NO_CHARACTER, np.int32),
        candidate_count=np.zeros(n, np.int32), candidate_pair=[], true_candidate=np.full((n, 2), -1, np.int32))

    def relationship_at(a: str, b: str) -> int:
        found = relationships.at_clip(a, b)
        return NO_RELATIONSHIP if found is None else found

    for i, row in enumerate(rows):
        if visual is not None:
            windows = span_windows(visual.window_times, row.start, row.end)
            result.visual[i] = pool_rows(visual.global_features[windows], pooling, visual_dim)
            for k, name in enumerate(cast):
                result.tracks[i * m + k], result.has_track[i * m + k] = character_vector(visual, name, windows,
                                                                                        pooling)
        if dialog is not None:
            sentences = overlapping_intervals(dialog.times, row.start, row.end)
            result.dialog[i] = pool_rows(dialog.vectors[sentences], pooling, dialog_dim)
            result.has_dialog[i] = bool(sentences.size)
        # Relationship context: the sample joins the groups of the ordered pairs of its interaction's
        # characters (an unlabelled sample: of the whole cast), then its own label's group.
        labelled = row.subject is not None
        pair_key = {(a, b): (a, b, relationship_at(a, b)) for a in cast for b in cast if a != b}
        own_key = (row.subject, row.object, row.relationship)
        involved = set(interaction_characters(row, rows)) if labelled else set(cast)
        joined_keys = [key for (a, b), key in pair_key.items() if a in involved and b in involved]
        result.memberships.append(joined_keys + ([own_key] if labelled else []))
        # Candidate pairs (LIReC §1.7), shuffled with a per-sample seeded generator (labelled samples).
        pairs = candidate_pairs(row.subject, row.object, cast, max_candidates)
        order = _sample_rng(seed, movie, clip, i).permutation(len(pairs)) if labelled else np.arange(len(pairs))
        # the same interaction instance (class and span) also runs object -> subject
        bidirectional = labelled and any(other.subject == row.object and other.object == row.subject
                                         and same_instance(row, other) for other in rows)
        slot_keys: list[GroupKey | None] = []
        for slot, original in enumerate(order):
            a, b = pairs[original]
            is_true = labelled and original == 0
            result.candidates[i, slot] = (index_of[a] if a is not None else NO_CHARACTER,
                                          index_of[b] if b is not None else NO_CHARACTER)
            slot_keys.append(None if a is None or b is None else own_key if is_true else pair_key[(a, b)])
            if is_true:
                result.true_candidate[i, 0] = slot
            elif labelled and original == 1 and bidirectional:
                result.true_candidate[i, 1] = slot
        result.candidate_pair.append(slot_keys)
        result.candidate_count[i] = len(pairs)
    return result


# --------------------------------------------------------------------------------------------
# The writer
# --------------------------------------------------------------------------------------------
class GroupTable:
    """Relationship-context groups: (movie, subject person, object person, relationship) -> members."""

    def __init__(self) -> None:
        self.ids: dict[tuple[int, int, int, int], int] = {}
        self.members: list[list[tuple[int, int, int]]] = []
        self._joined: set[tuple[int, int]] = set()

    def group(self, key: tuple[int, int, int, int]) -> int:
        """The id of the group of ``key`` (a new group without members if there is none yet)."""
        group = self.ids.get(key)
        if group is None:
            group = self.ids[key] = len(self.members)
            self.members.append([])
        return group

    def add(self, key: tuple[int, int, int, int], member: tuple[int, int, int]) -> int:
        """Add ``member`` = (sample, subject row, object row) to the group of ``key`` (once)."""
        group = self.group(key)
        if (group, member[0]) not in self._joined:
            self._joined.add((group, member[0]))
            self.members[group].append(member)
        return group

    def items(self) -> list[tuple[tuple[int, int, int, int], list[tuple[int, int, int]]]]:
        return [(key, self.members[group]) for key, group in sorted(self.ids.items(), key=lambda item: item[1])]


def _rows_by_clip(rows: Sequence[AnnotationRow]) -> dict[str, list[AnnotationRow]]:
    by_clip: dict[str, list[AnnotationRow]] = {}
    for row in rows:
        by_clip.setdefault(row.clip, []).append(row)
    return by_clip


def _direct_relationships(rows: Sequence[AnnotationRow]) -> dict[tuple[str, str], int]:
    direct: dict[tuple[str, str], int] = {}
    for row in rows:
        if row.relationship != NO_RELATIONSHIP:
            direct.setdefault((row.subject, row.object), row.relationship)
    return direct


def _feature_dims(movies: Sequence[MovieInputs]) -> tuple[int, int]:
    """C and D from the feature files (the first movie that has clips); all files must agree."""
    dims: dict[str, set[int]] = {"visual": set(), "dialog": set()}
    for inputs in movies:
        for kind, reader in (("visual", VisualFeatureReader), ("dialog", DialogFeatureReader)):
            with reader(getattr(inputs, kind)) as handle:
                dim = handle.feature_dim()
            if dim is not None:
                dims[kind].add(dim)
    for kind, found in dims.items():
        if len(found) > 1:
            raise SamplesError(f"{kind} feature files disagree on the feature dimension: {sorted(found)}")
        if not found:
            raise SamplesError(f"no {kind} features in any of the files of "
                               f"{', '.join(m.movie for m in movies)}; cannot tell the feature dimension")
    return dims["visual"].pop(), dims["dialog"].pop()


def _kept_rows(inputs: MovieInputs, labels: LabelMaps, report: StageReport, on_error: str) -> list[AnnotationRow]:
    """The movie's annotation rows without those of the clips an upstream stage left out (its
    report says which) and, under the skip policy, without malformed rows."""
    skipped_rows: list[dict] | None = [] if on_error == "skip" else None
    try:
        rows = read_annotation_rows(inputs.annotations, labels.num_interactions, labels.num_relationships,
                                    skipped_rows)
    except PipelineError as exc:
        if on_error != "skip":
            raise
        report.skip(f"movie:{inputs.movie}", inputs.annotations, str(exc))
        return []
    for entry in skipped_rows or []:
        report.skip(f"row:{inputs.movie}/{entry['row']}", inputs.annotations, entry["reason"])
    left_out: dict[str, str] = {}
    for stage, features in (("visual", inputs.visual), ("dialog", inputs.dialog)):
        if features is not None and report_path(features).is_file():
            for entry in read_stage_report(report_path(features)).skipped:
                left_out.setdefault(entry["item"], f"{stage} stage: {entry['reason']}")
    if f"movie:{inputs.movie}" in left_out:
        report.skip(f"movie:{inputs.movie}", inputs.annotations, f"{len(rows)} samples left out; "
                    f"{left_out[f'movie:{inputs.movie}']}")
        return []
    kept = []
    for clip, clip_rows in _rows_by_clip(rows).items():
        if f"clip:{clip}" in left_out:
            report.skip(f"clip:{inputs.movie}/{clip}", inputs.annotations,
                        f"{len(clip_rows)} samples left out; {left_out[f'clip:{clip}']}")
        else:
            kept += clip_rows
    return kept


def _check_clip_features(report: StageReport, inputs: MovieInputs, clip: str, rows: Sequence[AnnotationRow],
                         visual: VisualClip | None) -> None:
    """Warnings for what will be zeros or cut short: a clip without visual features, a span past
    the end of the clip's video."""
    if visual is None:
        report.warn(inputs.visual, f"clip {clip} ({len(rows)} samples) has no visual features (no video and no "
                                   "face tracks in the dataset): its visual and track vectors are zeros")
        return
    video_end = float(visual.window_times[:, 1].max()) if visual.window_times.size else 0.0
    late = [row for row in rows if row.start >= video_end]
    if late:
        report.warn(inputs.visual, f"clip {clip}: {len(late)} interaction(s) start at or after the end of the "
                                   f"clip's video ({video_end:.2f} s), e.g. at {late[0].start:.2f} s: the video is "
                                   "shorter than its annotations; their visual vectors come from its last window")


def _feature_identity(movies: Sequence[MovieInputs]) -> dict[str, dict[str, Any] | None]:
    """Which visual and dialog features the movies' files hold (their identity attributes); every
    file must hold the same (None: no file of that kind)."""
    found: dict[str, tuple[Path, dict[str, Any]] | None] = {"visual": None, "dialog": None}
    for inputs in movies:
        for kind, reader in (("visual", VisualFeatureReader), ("dialog", DialogFeatureReader)):
            path = getattr(inputs, kind)
            if path is None:
                continue
            with reader(path) as handle:
                identity = handle.identity()
            if found[kind] is None:
                found[kind] = (path, identity)
            elif found[kind][1] != identity:
                first, expected = found[kind]
                wrong = {key: (expected.get(key), identity.get(key)) for key in sorted(set(expected) | set(identity))
                         if expected.get(key) != identity.get(key)}
                raise SamplesError(f"{path}: other {kind} features than {first} ({first.name} vs {path.name}: {wrong}); "
                                   "extract every movie with the same settings")
    return {kind: None if value is None else value[1] for kind, value in found.items()}


def assemble_samples(movies: Sequence[MovieInputs], out: Path, *, pooling: str, split: str,
                     labels: LabelMaps, max_candidates: int, seed: int,
                     dims: tuple[int, int] | None = None, on_error: str = "fail") -> dict[str, int]:
    """Write the shard ``out`` (and its report beside it) for ``movies`` from their annotation files;
    return counts. See the module docstring. ``dims`` (C, D): the feature dimensions, else read from
    the feature files. The samples of clips an upstream stage left out are left out (their reports)."""
    if pooling not in POOLINGS:
        raise SamplesError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")
    # Pass 1: annotations only -> sizes, so features go into preallocated contiguous datasets.
    report = StageReport("samples", f"{pooling}/{split}", on_error)
    rows_per_movie = [_kept_rows(m, labels, report, on_error) for m in movies]
    if not any(rows_per_movie):
        raise SamplesError(f"no annotated interactions in the {split} movies "
                           f"({', '.join(m.movie for m in movies) or 'none'}); nothing to assemble")
    return write_samples(movies, [_rows_by_clip(rows) for rows in rows_per_movie], out, pooling=pooling, split=split,
                         labels=labels, max_candidates=max_candidates, seed=seed, dims=dims or _feature_dims(movies),
                         report=report)


def write_samples(movies: Sequence[MovieInputs], clips_per_movie: Sequence[dict[str, list[AnnotationRow]]], out: Path,
                  *, pooling: str, split: str, labels: LabelMaps, max_candidates: int, seed: int,
                  dims: tuple[int, int], report: StageReport | None = None) -> dict[str, int]:
    """Write the shard ``out``: the samples of ``clips_per_movie`` (per movie, clip -> rows, in clip
    order; labelled rows or :func:`unlabelled_row`), features from each movie's files; with a
    ``report``, what was left out and the warnings go beside the shard."""
    started = time.time()
    num_samples = sum(len(rows) for clips in clips_per_movie for rows in clips.values())
    num_characters = sum(len(rows) * len(clip_cast(rows)) for clips in clips_per_movie for rows in clips.values())
    visual_dim, dialog_dim = dims
    identity = _feature_identity(movies)
    persons: dict[tuple[int, str], int] = {}
    groups = GroupTable()
    counts = {"missing_visual_clips": 0, "missing_dialog_clips": 0, "samples_without_dialog": 0}
    clip_names: list[str] = []
    from tqdm import tqdm

    writer = ShardWriter(out, pooling=pooling, split=split, num_samples=num_samples, num_characters=num_characters,
                         visual_dim=visual_dim, dialog_dim=dialog_dim, num_interactions=labels.num_interactions,
                         max_candidates=max_candidates)
    with writer:
        index = writer.samples
        sample = char_row = 0
        progress = tqdm(list(zip(movies, clips_per_movie)), desc=f"samples {pooling}/{split}", unit="movie",
                        leave=False)
        for movie_index, (inputs, clips) in enumerate(progress):
            relationships = PairRelationships(labels.opposite)
            first_sample, first_char = sample, char_row
            movie_visual, movie_dialog, movie_tracks = [], [], []
            with VisualFeatureReader(inputs.visual) as visual_file, _dialog_reader(inputs.dialog) as dialog_file:
                for clip, rows in clips.items():
                    relationships.update(_direct_relationships(rows))
                    visual = visual_file.clip(clip)
                    dialog = dialog_file.clip(clip) if dialog_file is not None else None
                    if report is not None:
                        _check_clip_features(report, inputs, clip, rows, visual)
                    counts["missing_visual_clips"] += visual is None
                    counts["missing_dialog_clips"] += dialog is None
                    if dialog is not None and dialog.vectors.shape[1] != dialog_dim:
                        raise SamplesError(f"{inputs.dialog}: clip {clip} has dialog dim {dialog.vectors.shape[1]}, "
                                           f"expected {dialog_dim}")
                    if visual is not None and visual.global_features.shape[1] != visual_dim:
                        raise SamplesError(f"{inputs.visual}: clip {clip} has visual dim "
                                           f"{visual.global_features.shape[1]}, expected {visual_dim}")
                    built = clip_samples(inputs.movie, clip, rows, visual, dialog, relationships, pooling=pooling,
                                         max_candidates=max_candidates, seed=seed, visual_dim=visual_dim,
                                         dialog_dim=dialog_dim)
                    sample, char_row = _add_clip(writer, groups, persons, movie_index, built, sample, char_row)
                    clip_names += [clip] * len(rows)
                    counts["samples_without_dialog"] += int((~built.has_dialog).sum())
                    movie_visual.append(built.visual)
                    movie_dialog.append(built.dialog)
                    movie_tracks.append(built.tracks)
            if movie_visual:
                writer.write_rows(first_sample, np.concatenate(movie_visual), np.concatenate(movie_dialog),
                                  first_char, np.concatenate(movie_tracks))
        counts["characters_with_track"] = int(writer.character_has_track.sum())
        person_items = sorted(persons.items(), key=lambda item: item[1])
        attrs = {
            "visual_dim": visual_dim, "dialog_dim": dialog_dim, "num_interactions": labels.num_interactions,
            "num_relationships": labels.num_relationships,
            "interaction_names": json.dumps(labels.interactions),
            "relationship_names": json.dumps(labels.relationships),
            "max_candidates": max_candidates, "seed": seed, "movies": json.dumps([m.movie for m in movies]),
            "sources": json.dumps([{"movie": m.movie, "annotations": str(m.annotations), "visual": str(m.visual),
                                    "dialog": str(m.dialog)} for m in movies]),
            "num_samples": num_samples, "num_characters": num_characters, "num_groups": len(groups.members),
            "missing_visual_clips": counts["missing_visual_clips"],
            "missing_dialog_clips": counts["missing_dialog_clips"],
            "samples_without_dialog": counts["samples_without_dialog"],
            "characters_with_track": counts["characters_with_track"],
            "visual_features": json.dumps(identity["visual"], sort_keys=True),
            "dialog_features": json.dumps(identity["dialog"], sort_keys=True),
        }
        writer.finish(clips=clip_names, movies=[m.movie for m in movies],
                      persons=[key for key, _ in person_items], groups=groups.items(), attrs=attrs)
    counts.update(num_samples=num_samples, num_characters=num_characters, num_groups=len(groups.members))
    if report is not None:
        counts.update(skipped=len(report.skipped), warnings=len(report.warnings))
        report.counts = dict(counts)
        report.write(out)
    LOG.info("%s: %d samples, %d character rows (%d with a track), %d context groups from %d movies; "
             "%d clips without visual, %d without dialog features, %d samples without dialog; %.1fs",
             out, num_samples, num_characters, counts["characters_with_track"], len(groups.members), len(movies),
             counts["missing_visual_clips"], counts["missing_dialog_clips"], counts["samples_without_dialog"],
             time.time() - started)
    return counts


def _dialog_reader(path: Path | None) -> DialogFeatureReader | contextlib.nullcontext:
    """The movie's dialog file, or (no subtitles) a context yielding None: zero dialog vectors."""
    return DialogFeatureReader(path) if path is not None else contextlib.nullcontext()


def _add_clip(writer: ShardWriter, groups: GroupTable, persons: dict[tuple[int, str], int], movie_index: int,
              built: ClipSamples, sample: int, char_row: int) -> tuple[int, int]:
    """Number the clip's samples and character rows from ``sample``/``char_row`` on; fill the index
    arrays and the context groups. Returns the next sample and character row."""
    index = writer.samples
    person_ids = [persons.setdefault((movie_index, name), len(persons)) for name in built.cast]
    m = len(built.cast)
    for i, row in enumerate(built.rows):
        first_row = char_row + i * m
        writer.character_person[first_row:first_row + m] = person_ids
        writer.character_has_track[first_row:first_row + m] = built.has_track[i * m:(i + 1) * m]
        index["char_offset"][sample + 1] = first_row + m
        index["movie"][sample] = movie_index
        index["span"][sample] = (row.start, row.end)
        index["interaction"][sample] = row.interaction
        index["overlap"][sample, [x for x in row.overlapping if x != row.interaction]] = True
        index["relationship"][sample] = row.relationship
        row_of = {name: first_row + k for k, name in enumerate(built.cast)}
        labelled = row.subject is not None
        index["subject_row"][sample] = row_of[row.subject] if labelled else NO_CHARACTER
        index["object_row"][sample] = row_of[row.object] if labelled else NO_CHARACTER

        def table_key(key: GroupKey) -> tuple[int, int, int, int]:
            subject, object_, relationship = key
            return movie_index, persons[(movie_index, subject)], persons[(movie_index, object_)], relationship

        joined = [groups.add(table_key(key), (sample, row_of[key[0]], row_of[key[1]]))
                  for key in built.memberships[i]]
        index["rel_key"][sample] = joined[-1] if labelled else -1   # the sample's own label's group
        count = int(built.candidate_count[i])
        local = built.candidates[i, :count]
        index["candidates"][sample, :count] = np.where(local >= 0, local + first_row, NO_CHARACTER)
        for slot, key in enumerate(built.candidate_pair[i]):
            if key is not None:  # a pair that never interacts with that relationship has an empty group
                index["candidate_group"][sample, slot] = groups.group(table_key(key))
        index["true_candidate"][sample] = built.true_candidate[i]
        index["candidate_count"][sample] = count
        sample += 1
    return sample, char_row + len(built.rows) * m


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
def run(settings: SampleSettings, pooling: str, split: str, out: Path) -> dict[str, int]:
    return assemble_samples(settings.split_inputs(split), out, pooling=pooling, split=split,
                            labels=settings.labels(), max_candidates=settings.max_candidates, seed=settings.seed,
                            on_error=settings.on_error)


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.cli import stage_main
    from pipeline.dataset import SPLITS

    def arguments(parser) -> None:
        parser.add_argument("--pooling", required=True, choices=POOLINGS)
        parser.add_argument("--split", required=True, choices=SPLITS)
        parser.add_argument("--out", required=True, type=Path, help="work/samples/<pooling>/<split>.h5")

    return stage_main("samples", lambda settings, args: run(settings, args.pooling, args.split, args.out),
                      description=__doc__.split("\n")[0], arguments=arguments, argv=argv)


if __name__ == "__main__":
    import sys

    sys.exit(main())
