"""Interaction and relationship heads and the whole model (paper Sec. 3, Eq. 1, 3, 5, 7, 11).

:class:`InteractionRelationshipModel` scores, for each sample of a batch, N character pairs
(N = 1: the true pair; with candidates: every candidate pair of the clip, Eq. 7/11) and returns
logits; scores are their sigmoids (the paper's sigma in Eq. 1/3). Variants of Table 3 (``joint``):

- ``rel_to_int`` (Eq. 5, the paper's choice): interaction head on [Phi_I(v, p); Phi_R(V, p)];
- ``int_to_rel``: relationship head on [Phi_R(V, p); Phi_I(v, p)];
- ``both``: both concatenations.

Phi_I and Phi_R are separate :class:`~model.encoders.ClipRepresentation` modules (LIReC keeps
separate copies for the interaction and the context branch).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from model.config import RunConfig
from model.data import Batch
from model.encoders import ClipRepresentation


class InteractionHead(nn.Module):
    """Eq. 1 (and 5, 7): s_I = sigma(w^I2 . ReLU(W^I1 Phi + b^I1) + b^I2); returns the logits."""

    def __init__(self, in_dim: int, hidden: int, num_interactions: int, dropout: float):
        super().__init__()
        self.input_dropout = nn.Dropout(dropout)
        self.hidden = nn.Linear(in_dim, hidden)          # W^I1, b^I1
        self.hidden_dropout = nn.Dropout(dropout)
        self.classify = nn.Linear(hidden, num_interactions)  # W^I2, b^I2

    def forward(self, representation: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.hidden(self.input_dropout(representation)))
        return self.classify(self.hidden_dropout(hidden))


class RelationshipHead(nn.Module):
    """Eq. 3 (and 11): s_R = sigma(w^R . g(Phi(V, p)) + b^R), a linear classifier; returns the logits."""

    def __init__(self, in_dim: int, num_relationships: int, dropout: float):
        super().__init__()
        self.input_dropout = nn.Dropout(dropout)
        self.classify = nn.Linear(in_dim, num_relationships)  # W^R, b^R

    def forward(self, representation: torch.Tensor) -> torch.Tensor:
        return self.classify(self.input_dropout(representation))


@dataclass
class PairLogits:
    """Logits per sample and scored pair: interaction (B, N, A) and relationship (B, N, R) or None."""

    interaction: torch.Tensor | None
    relationship: torch.Tensor | None


class InteractionRelationshipModel(nn.Module):
    """Phi_I / Phi_R, the interaction head and the relationship head, wired by the experiment."""

    def __init__(self, run: RunConfig, visual_dim: int, dialog_dim: int, num_interactions: int,
                 num_relationships: int):
        super().__init__()
        t, e = run.train, run.experiment
        self.context_pooling = t.context_pooling
        self.relationship_to_interaction = e.relationship_to_interaction
        self.interaction_to_relationship = e.interaction_to_relationship

        def representation() -> ClipRepresentation:
            return ClipRepresentation(e.modalities, visual_dim, dialog_dim, t.hidden, t.track_hidden, t.dropout)

        self.phi_interaction = representation() if e.predicts_interactions else None
        self.phi_relationship = representation() if e.predicts_relationships else None
        self.interaction_head = None
        self.relationship_head = None
        if self.phi_interaction is not None:
            in_dim = self.phi_interaction.out_dim
            if self.relationship_to_interaction:
                in_dim += self.phi_relationship.out_dim
            self.interaction_head = InteractionHead(in_dim, t.hidden, num_interactions, t.dropout)
        if self.phi_relationship is not None:
            in_dim = self.phi_relationship.out_dim
            if self.interaction_to_relationship:
                in_dim += self.phi_interaction.out_dim
            self.relationship_head = RelationshipHead(in_dim, num_relationships, t.dropout)

    def forward(self, batch: Batch) -> PairLogits:
        phi_i = phi_r = None
        if self.phi_interaction is not None:  # Phi_I(v, p) for every scored pair
            enc = self.phi_interaction.encode(batch)
            phi_i = self.phi_interaction.rows(enc, batch.pair_clip, batch.pair_subject, batch.pair_object)
        if self.phi_relationship is not None:  # Phi_R(V, p) = g(Phi(v, p), v in V)   (Eq. 3 / 11)
            enc = self.phi_relationship.encode(batch)
            phi_r = self.phi_relationship.pooled(enc, batch.context_clip, batch.context_subject,
                                                 batch.context_object, batch.context_mask, self.context_pooling)
        interaction = relationship = None
        if self.interaction_head is not None:  # Eq. 1 / 7; Eq. 5 with [Phi_I; Phi_R]
            features = torch.cat([phi_i, phi_r], dim=-1) if self.relationship_to_interaction else phi_i
            interaction = self.interaction_head(features)
        if self.relationship_head is not None:  # Eq. 3 / 11 (Table 3 "Rel <- Int": [Phi_R; Phi_I])
            features = torch.cat([phi_r, phi_i], dim=-1) if self.interaction_to_relationship else phi_r
            relationship = self.relationship_head(features)
        return PairLogits(interaction, relationship)
