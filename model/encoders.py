"""The clip representation Phi(v, p) (paper Sec. 3.1, Fig. 3 left; LIReC ``mlp/model.py``).

Per modality a two-layer MLP ``Linear -> Dropout(0.3) -> ReLU -> Linear`` (dialog and visual to
``hidden`` = 512, each track role to ``track_hidden`` = 256, separate weights for the subject and
the object role), concatenated ``[dialog | visual | subject track | object track]`` and passed
through tanh. A missing modality or character is a zero input vector (paper Sec. 4.1).

Because tanh acts element-wise, tanh(concat(parts)) = concat(tanh(part)), so each unique clip and
each unique character row of a batch is encoded once and Phi of any (clip, subject, object) row is
a gather; the relationship pooling g over context clips (Eq. 3: avg or max) is likewise taken part
by part (avg as a sparse weighted sum, no (rows x K x D) tensor).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from model.data import Batch


class ModalityMLP(nn.Sequential):
    """Two-layer MLP of one modality: Linear -> Dropout -> ReLU -> Linear (LIReC order)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, dropout: float):
        super().__init__(nn.Linear(in_dim, hidden), nn.Dropout(dropout), nn.ReLU(), nn.Linear(hidden, out_dim))


@dataclass
class Encodings:
    """tanh'ed encodings of a batch's unique items; Phi rows are gathers from these."""

    clip: torch.Tensor      # (Uc, Dc): [dialog | visual] part of Phi per unique clip
    subject: torch.Tensor   # (Us + 1, Dt): subject-role track part per unique character (last: none)
    object: torch.Tensor    # (Uo + 1, Dt): object-role track part (last: none)


class ClipRepresentation(nn.Module):
    """Phi(v, p) for the configured modalities."""

    def __init__(self, modalities: tuple[str, ...], visual_dim: int, dialog_dim: int, hidden: int,
                 track_hidden: int, dropout: float):
        super().__init__()
        self.modalities = tuple(modalities)
        self.dialog = ModalityMLP(dialog_dim, hidden, hidden, dropout) if "dialog" in modalities else None
        self.visual = ModalityMLP(visual_dim, hidden, hidden, dropout) if "visual" in modalities else None
        uses_tracks = "tracks" in modalities
        self.subject_track = ModalityMLP(visual_dim, hidden, track_hidden, dropout) if uses_tracks else None
        self.object_track = ModalityMLP(visual_dim, hidden, track_hidden, dropout) if uses_tracks else None
        self.visual_dim = visual_dim
        self.clip_dim = hidden * ((self.dialog is not None) + (self.visual is not None))
        self.track_dim = track_hidden if uses_tracks else 0
        self.out_dim = self.clip_dim + 2 * self.track_dim

    def encode(self, batch: Batch) -> Encodings:
        clip_parts = []
        if self.dialog is not None:
            clip_parts.append(self.dialog(batch.clip_dialog))
        if self.visual is not None:
            clip_parts.append(self.visual(batch.clip_visual))
        clip = torch.tanh(torch.cat(clip_parts, dim=-1)) if clip_parts else batch.clip_visual.new_zeros(
            (batch.clip_visual.shape[0], 0))
        if self.subject_track is not None:  # + one zero input row: "no character"
            no_character = batch.subject_tracks.new_zeros((1, self.visual_dim))
            subject = torch.tanh(self.subject_track(torch.cat([batch.subject_tracks, no_character])))
            object_ = torch.tanh(self.object_track(torch.cat([batch.object_tracks, no_character])))
        else:
            subject = object_ = clip.new_zeros((1, 0))
        return Encodings(clip, subject, object_)

    def rows(self, enc: Encodings, clip: torch.Tensor, subject: torch.Tensor, object_: torch.Tensor) -> torch.Tensor:
        """Phi(v, p) of rows given by index tensors of equal shape S -> (*S, out_dim)."""
        if self.track_dim == 0:
            return enc.clip[clip]
        return torch.cat([enc.clip[clip], enc.subject[subject], enc.object[object_]], dim=-1)

    def pooled(self, enc: Encodings, clip: torch.Tensor, subject: torch.Tensor, object_: torch.Tensor,
               mask: torch.Tensor, pooling: str) -> torch.Tensor:
        """g(Phi(V, p)) over the last axis (K context clips, ``mask`` valid) -> (*S, out_dim) (Eq. 3).

        A pair without any context clip gets a zero representation.
        """
        parts = [(enc.clip, clip)]
        if self.track_dim:
            parts += [(enc.subject, subject), (enc.object, object_)]
        if pooling == "avg":
            return torch.cat([_masked_mean(table, index, mask) for table, index in parts], dim=-1)
        if pooling == "max":
            return torch.cat([_masked_max(table, index, mask) for table, index in parts], dim=-1)
        raise ValueError(f"unknown context pooling {pooling!r}")


def _masked_mean(table: torch.Tensor, index: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``table[index]`` over the last index axis where ``mask``, as one sparse matmul
    (no gathered (rows x K x D) tensor)."""
    shape = index.shape[:-1]
    index = index.reshape(-1, index.shape[-1])
    mask = mask.reshape(-1, mask.shape[-1])
    weight = (1.0 / mask.sum(dim=-1, keepdim=True).clamp(min=1)).to(table.dtype).expand(index.shape)
    rows = torch.arange(index.shape[0], device=index.device)[:, None].expand(index.shape)
    pooling_matrix = torch.sparse_coo_tensor(torch.stack([rows[mask], index[mask]]), weight[mask],
                                             (index.shape[0], table.shape[0]), check_invariants=False)
    return torch.sparse.mm(pooling_matrix, table).reshape(*shape, table.shape[-1])


def _masked_max(table: torch.Tensor, index: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    gathered = table[index].masked_fill(~mask[..., None], float("-inf"))
    pooled = gathered.max(dim=-2).values
    return torch.where(mask.any(dim=-1, keepdim=True), pooled, torch.zeros_like(pooled))
