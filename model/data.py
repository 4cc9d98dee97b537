"""Batches from a sample shard (:mod:`pipeline.formats.shard`: the layout and its reader).

:class:`~pipeline.formats.shard.SampleShard` keeps only the small index arrays in memory; feature
rows are read per batch, so memory is bounded by the batch, not the dataset. :func:`make_batch`
gathers what the experiment needs: the true pair only (int / rel / int_rel), every candidate pair (int_char / int_rel_char),
and K relationship-context members of each scored pair's group (rel / int_rel / int_rel_char).

Deduplication: a batch references each needed clip (sample) once (``clip_visual``/``clip_dialog``)
and each character row once per track role it is used in (``subject_tracks``/``object_tracks``);
scored rows and context rows are index triples into those tables, so the per-modality MLPs run
once per unique item (the MLPs are separable: Phi of a row = tanh of the concatenated encodings of
its parts).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterator, Sequence

import numpy as np
import torch

from model.config import Experiment
from pipeline.formats.shard import SampleShard



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
               rel_clips: int | None = None, rng: np.random.Generator | None = None,
               all_candidates: bool = False) -> Batch:
    """Gather a batch for ``experiment``; ``rng`` draws context members (training), else evenly spaced.

    ``all_candidates``: score every candidate pair also with a model of the true pair only
    (prediction on unlabelled samples, which have no true pair).
    """
    ids = np.asarray(sample_ids, dtype=np.int64)
    B = ids.size
    k_context = rel_clips if rel_clips is not None else experiment.rel_clips
    if experiment.predicts_characters or all_candidates:
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
    pair_relationship = (np.where(pair_group >= 0, shard.group_relationship[np.maximum(pair_group, 0)], -1)
                         if shard.group_relationship.size else np.full(pair_group.shape, -1))  # no group at all
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
