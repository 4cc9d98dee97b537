"""Batches from a sample shard (:mod:`pipeline.samples` documents the layout).

:class:`SampleShard` opens the HDF5 file lazily (once per process, so it is safe in DataLoader
workers) and keeps only the small index arrays in memory; feature rows are read per batch, so
memory is bounded by the batch, not the dataset. :func:`make_batch` gathers what the experiment
needs: the true pair only (int / rel / int_rel), every candidate pair (int_char / int_rel_char),
and K relationship-context members of each scored pair's group (rel / int_rel / int_rel_char).

Deduplication: a batch references each needed clip (sample) once (``clip_visual``/``clip_dialog``)
and each character row once per track role it is used in (``subject_tracks``/``object_tracks``);
scored rows and context rows are index triples into those tables, so the per-modality MLPs run
once per unique item (the MLPs are separable: Phi of a row = tanh of the concatenated encodings of
its parts).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from model.config import Experiment
from pipeline.samples import SHARD_FORMAT


class ShardError(ValueError):
    """A sample shard is missing, incomplete or not in the expected format."""


_INDEX_DATASETS = ("samples/movie", "samples/interaction", "samples/overlap", "samples/relationship",
                   "samples/rel_key", "samples/char_offset", "samples/subject_row", "samples/object_row",
                   "samples/candidates", "samples/candidate_count", "samples/candidate_group",
                   "samples/true_candidate", "characters/person", "characters/has_track", "groups/offset",
                   "groups/member_sample", "groups/member_subject_row", "groups/member_object_row",
                   "groups/relationship")


class SampleShard:
    """A sample shard: index arrays in memory, feature rows read on demand."""

    def __init__(self, path: str | Path):
        import h5py

        self.path = Path(path)
        if not self.path.is_file():
            raise ShardError(f"{self.path}: sample shard not found")
        try:
            with h5py.File(self.path, "r") as handle:
                attrs = dict(handle.attrs)
                if attrs.get("format") != SHARD_FORMAT:
                    raise ShardError(f"{self.path}: not a sample shard of format {SHARD_FORMAT} "
                                     f"(format attr: {attrs.get('format')!r})")
                if not bool(attrs.get("complete", False)):
                    raise ShardError(f"{self.path}: incomplete shard (attrs['complete'] is not true)")
                missing = [name for name in _INDEX_DATASETS if name not in handle]
                if missing:
                    raise ShardError(f"{self.path}: missing datasets {missing}")
                index = {name: handle[name][()] for name in _INDEX_DATASETS}
        except OSError as exc:
            raise ShardError(f"{self.path}: not a readable HDF5 file ({exc})") from None
        self.pooling = str(attrs["pooling"])
        self.visual_dim = int(attrs["visual_dim"])
        self.dialog_dim = int(attrs["dialog_dim"])
        self.num_interactions = int(attrs["num_interactions"])
        self.num_relationships = int(attrs["num_relationships"])
        self.interaction_names: list[str] = json.loads(attrs["interaction_names"])
        self.relationship_names: list[str] = json.loads(attrs["relationship_names"])
        self.max_candidates = int(attrs["max_candidates"])
        self.movie = index["samples/movie"]
        self.interaction = index["samples/interaction"].astype(np.int64)
        self.overlap = index["samples/overlap"].astype(bool)
        self.relationship = index["samples/relationship"].astype(np.int64)
        self.rel_key = index["samples/rel_key"].astype(np.int64)
        self.char_offset = index["samples/char_offset"]
        self.subject_row = index["samples/subject_row"].astype(np.int64)
        self.object_row = index["samples/object_row"].astype(np.int64)
        self.candidates = index["samples/candidates"].astype(np.int64)
        self.candidate_count = index["samples/candidate_count"].astype(np.int64)
        self.candidate_group = index["samples/candidate_group"].astype(np.int64)
        self.true_candidate = index["samples/true_candidate"].astype(np.int64)
        self.character_person = index["characters/person"]
        self.has_track = index["characters/has_track"].astype(bool)
        self.group_offset = index["groups/offset"]
        self.member_sample = index["groups/member_sample"].astype(np.int64)
        self.member_subject_row = index["groups/member_subject_row"].astype(np.int64)
        self.member_object_row = index["groups/member_object_row"].astype(np.int64)
        self.group_relationship = index["groups/relationship"].astype(np.int64)
        self._handle = None
        self._pid = None

    def __len__(self) -> int:
        return int(self.interaction.shape[0])

    # Lazy feature access (reopened after a fork) --------------------------------------------
    def _file(self):
        import os

        import h5py

        if self._handle is None or self._pid != os.getpid():
            self._handle = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._handle

    def read_rows(self, dataset: str, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (sorted, unique) of a 2-D float16 dataset, as float32."""
        if rows.size == 0:
            return np.zeros((0, self._file()[dataset].shape[1]), np.float32)
        return self._file()[dataset][rows].astype(np.float32)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handle"] = None
        state["_pid"] = None
        return state

    # Names (for predictions) ---------------------------------------------------------------
    def names(self, dataset: str, index: int) -> str:
        value = self._file()[dataset][index]
        return value.decode() if isinstance(value, bytes) else str(value)

    def character_name(self, row: int) -> str | None:
        if row < 0:
            return None
        return self.names("persons/name", int(self.character_person[row]))

    # Context --------------------------------------------------------------------------------
    def group_members(self, group: int) -> np.ndarray:
        """Member positions (into ``member_*`` arrays) of ``group``, in clip order."""
        return np.arange(self.group_offset[group], self.group_offset[group + 1])

    def pair_visible(self) -> np.ndarray:
        """Samples whose true subject and object both have a track (paper: "a pair of characters appear")."""
        return self.has_track[self.subject_row] & self.has_track[self.object_row]


def choose_context(count: int, k: int, rng: np.random.Generator | None) -> np.ndarray:
    """Which of ``count`` group members to use: all if ``count <= k``; else ``k`` of them, at random
    without replacement in training (``rng`` given) or evenly spaced over all of them at test
    (paper: "uniformly distributed along all occurrences")."""
    if count <= k:
        return np.arange(count)
    if rng is not None:
        return np.sort(rng.choice(count, size=k, replace=False))
    return (np.arange(k) * count) // k


@dataclass
class Batch:
    """Tensors of one batch. B samples, N scored pairs each (N = 1 without candidates), K context."""

    sample_ids: torch.Tensor          # (B,) sample index in the shard
    clip_visual: torch.Tensor         # (Uc, C) unique clips' visual vectors
    clip_dialog: torch.Tensor         # (Uc, D)
    subject_tracks: torch.Tensor      # (Us, C) track vectors of the unique characters in the subject role
    object_tracks: torch.Tensor       # (Uo, C) ... in the object role
    pair_clip: torch.Tensor           # (B, N) index into the clip table
    pair_subject: torch.Tensor        # (B, N) index into subject_tracks; Us = no character (zero input)
    pair_object: torch.Tensor         # (B, N) index into object_tracks; Uo = no character
    pair_mask: torch.Tensor           # (B, N) bool: valid candidate slot
    true_pair: torch.Tensor           # (B, 2) slots of the true pair (and of its reverse if bidirectional, else -1)
    pair_relationship: torch.Tensor   # (B, N) relationship of the pair's context group, -1 "None"/single
    context_clip: torch.Tensor        # (B, N, K) index into the clip table
    context_subject: torch.Tensor     # (B, N, K) index into subject_tracks
    context_object: torch.Tensor      # (B, N, K) index into object_tracks
    context_mask: torch.Tensor        # (B, N, K) bool
    interaction: torch.Tensor         # (B,)
    overlap: torch.Tensor             # (B, A) bool: O_I(v)
    relationship: torch.Tensor        # (B,) -1 missing
    rel_key: torch.Tensor             # (B,)
    pair_visible: torch.Tensor        # (B,) bool

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @property
    def size(self) -> int:
        return int(self.sample_ids.shape[0])

    @property
    def two_character_mask(self) -> torch.Tensor:
        """(B, N) bool: valid candidates made of two characters (not LIReC's single-character slots)."""
        return (self.pair_mask & (self.pair_subject < self.subject_tracks.shape[0])
                & (self.pair_object < self.object_tracks.shape[0]))


def make_batch(shard: SampleShard, sample_ids: Sequence[int], experiment: Experiment, *,
               rel_clips: int | None = None, rng: np.random.Generator | None = None) -> Batch:
    """Gather a batch for ``experiment``; ``rng`` draws context members (training), else evenly spaced."""
    ids = np.asarray(sample_ids, dtype=np.int64)
    B = ids.size
    k_context = rel_clips if rel_clips is not None else experiment.rel_clips
    if experiment.predicts_characters:
        N = shard.max_candidates
        subject_rows = shard.candidates[ids, :, 0]
        object_rows = shard.candidates[ids, :, 1]
        pair_mask = np.arange(N)[None, :] < shard.candidate_count[ids][:, None]
        pair_group = np.where(pair_mask, shard.candidate_group[ids], -1)
        true_pair = shard.true_candidate[ids]
    else:
        N = 1
        subject_rows = shard.subject_row[ids][:, None]
        object_rows = shard.object_row[ids][:, None]
        pair_mask = np.ones((B, 1), bool)
        pair_group = shard.rel_key[ids][:, None]
        true_pair = np.tile(np.array([[0, -1]], np.int64), (B, 1))

    K = k_context if experiment.predicts_relationships else 0
    context_samples = np.zeros((B, N, K), np.int64)
    context_subject_rows = np.full((B, N, K), -1, np.int64)
    context_object_rows = np.full((B, N, K), -1, np.int64)
    context_mask = np.zeros((B, N, K), bool)
    if K:
        valid = pair_group >= 0
        groups = pair_group[valid]
        start = shard.group_offset[groups]
        count = shard.group_offset[groups + 1] - start
        chosen = np.tile(np.arange(K, dtype=np.int64), (groups.size, 1))
        for i in np.flatnonzero(count > K):  # only large groups need a choice
            chosen[i] = choose_context(int(count[i]), K, rng)
        member = start[:, None] + chosen
        member_mask = np.arange(K)[None, :] < np.minimum(count, K)[:, None]
        member = np.where(member_mask, member, 0)
        context_samples[valid] = np.where(member_mask, shard.member_sample[member], 0)
        context_subject_rows[valid] = np.where(member_mask, shard.member_subject_row[member], -1)
        context_object_rows[valid] = np.where(member_mask, shard.member_object_row[member], -1)
        context_mask[valid] = member_mask

    # Unique clips and, per track role, unique character rows -> tables; the rest indexes them.
    needed_clips = np.concatenate([ids, context_samples[context_mask]])
    clip_table, clip_inverse = np.unique(needed_clips, return_inverse=True)
    pair_clip = clip_inverse[:B][:, None].repeat(N, axis=1)
    context_clip = np.zeros((B, N, K), np.int64)
    context_clip[context_mask] = clip_inverse[B:]
    subject_table, pair_subject, context_subject = _role_table(subject_rows, context_subject_rows, context_mask,
                                                               experiment.uses_tracks)
    object_table, pair_object, context_object = _role_table(object_rows, context_object_rows, context_mask,
                                                            experiment.uses_tracks)

    def features(dataset: str, rows: np.ndarray, wanted: bool) -> np.ndarray:
        return shard.read_rows(dataset, rows) if wanted else np.zeros((rows.size, 0), np.float32)

    visual = features("samples/visual", clip_table, "visual" in experiment.modalities)
    dialog = features("samples/dialog", clip_table, "dialog" in experiment.modalities)
    subject_tracks = features("characters/track", subject_table, experiment.uses_tracks)
    object_tracks = features("characters/track", object_table, experiment.uses_tracks)
    pair_relationship = np.where(pair_group >= 0, shard.group_relationship[np.maximum(pair_group, 0)], -1)
    has_track = shard.has_track
    pair_visible = has_track[shard.subject_row[ids]] & has_track[shard.object_row[ids]]
    return Batch(
        sample_ids=torch.from_numpy(ids),
        clip_visual=torch.from_numpy(visual), clip_dialog=torch.from_numpy(dialog),
        subject_tracks=torch.from_numpy(subject_tracks), object_tracks=torch.from_numpy(object_tracks),
        pair_clip=torch.from_numpy(pair_clip),
        pair_subject=torch.from_numpy(pair_subject), pair_object=torch.from_numpy(pair_object),
        pair_mask=torch.from_numpy(pair_mask),
        true_pair=torch.from_numpy(true_pair.astype(np.int64)),
        pair_relationship=torch.from_numpy(pair_relationship.astype(np.int64)),
        context_clip=torch.from_numpy(context_clip),
        context_subject=torch.from_numpy(context_subject), context_object=torch.from_numpy(context_object),
        context_mask=torch.from_numpy(context_mask),
        interaction=torch.from_numpy(shard.interaction[ids]),
        overlap=torch.from_numpy(shard.overlap[ids]),
        relationship=torch.from_numpy(shard.relationship[ids]),
        rel_key=torch.from_numpy(shard.rel_key[ids]),
        pair_visible=torch.from_numpy(pair_visible),
    )


def _role_table(pair_rows: np.ndarray, context_rows: np.ndarray, context_mask: np.ndarray,
                uses_tracks: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique character rows used in one track role, and the pair/context indexes into that table.

    Index ``len(table)`` stands for "no character": the encoder appends a zero input row for it.
    """
    if not uses_tracks:
        return (np.zeros(0, np.int64), np.zeros(pair_rows.shape, np.int64), np.zeros(context_rows.shape, np.int64))
    used = np.concatenate([pair_rows.ravel(), context_rows[context_mask]])
    table = np.unique(used[used >= 0])

    def index(rows: np.ndarray) -> np.ndarray:
        return np.where(rows >= 0, np.searchsorted(table, rows), table.size)

    return table, index(pair_rows), index(context_rows)


def batch_order(shard: SampleShard, batch_size: int, rng: np.random.Generator | None,
                grouping: str = "random") -> list[np.ndarray]:
    """Sample ids per batch.

    Evaluation (``rng`` None): in shard order (movie by movie). Training: ``"random"`` shuffles all
    samples; ``"movie"`` shuffles the movies and the samples within each movie, cuts the sequence
    into batches and shuffles the batches, so a batch holds one or a few movies and its samples
    share their relationship-context clips and characters (encoded once per batch).
    """
    if rng is None:
        order = np.arange(len(shard))
    elif grouping == "random":
        order = rng.permutation(len(shard))
    elif grouping == "movie":
        movies = np.unique(shard.movie)
        order = np.concatenate([rng.permutation(np.flatnonzero(shard.movie == movie))
                                for movie in rng.permutation(movies)])
    else:
        raise ValueError(f"unknown batch grouping {grouping!r} (random or movie)")
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    if rng is not None and grouping == "movie":
        batches = [batches[k] for k in rng.permutation(len(batches))]
    return batches


def iterate_batches(shard: SampleShard, experiment: Experiment, batch_size: int, *,
                    rng: np.random.Generator | None = None, rel_clips: int | None = None,
                    grouping: str = "random") -> Iterator[Batch]:
    """Batches over the whole shard; ``rng`` shuffles and samples context (training)."""
    for ids in batch_order(shard, batch_size, rng, grouping):
        yield make_batch(shard, ids, experiment, rel_clips=rel_clips, rng=rng)
