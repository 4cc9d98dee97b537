"""The paper's metrics (Sec. 4; LIReC ``utils/evaluation.py``) and their random baselines.

Each metric is an accuracy in percent over the samples it applies to, with ``n`` (how many were
evaluated) and ``random``: the expected accuracy of a uniform guess on the same samples, computed
from the data (the paper's "Random" rows).

- interaction top-1, soft top-1 (a prediction counts when it is a* or in O_I(v)), top-5; for a model
  that scores every candidate pair, these are read at the true pair ("interaction accuracy given the
  GT pair"), and for a bidirectional interaction a hit at its reversed pair counts too (LIReC
  ``update_probs_max_tracks`` checks both true slots);
- relationship accuracy at the pair level: scores summed over all samples with the same
  ``rel_key`` (movie, ordered pair, relationship), then argmax (LIReC ``RelationshipsAcc``);
- character-pair accuracy given the true interaction (and relationship): argmax over the clip's
  candidate pairs, correct when it is the true pair (or its reverse for a bidirectional interaction);
- joint accuracy: argmax over the pair x interaction matrix (or the pair x interaction x
  relationship tensor of s_IC + s_RC) must hit a true pair, a* (and r*).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Metric:
    accuracy: float   # percent
    n: int            # evaluated samples (or pairs, for relationships)
    random: float     # percent, expected accuracy of a uniform guess on the same items

    def to_dict(self) -> dict:
        """JSON-ready: NaN (nothing evaluated) becomes None."""
        return {key: (None if isinstance(value, float) and value != value else value)
                for key, value in asdict(self).items()}


def summarize(hits: np.ndarray, chance: np.ndarray, include: np.ndarray | None = None) -> Metric:
    """Accuracy and random baseline (percent) of per-sample ``hits`` / ``chance`` over ``include``."""
    hits = np.asarray(hits, bool)
    chance = np.asarray(chance, float)
    if include is not None:
        hits, chance = hits[include], chance[include]
    if hits.size == 0:
        return Metric(float("nan"), 0, float("nan"))
    return Metric(100.0 * float(hits.mean()), int(hits.size), 100.0 * float(chance.mean()))


def interaction_hits(scores: np.ndarray, target: np.ndarray, overlap: np.ndarray,
                     reverse_scores: np.ndarray | None = None,
                     bidirectional: np.ndarray | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-sample hits and chance of top-1, soft top-1 and top-5 for scores (S, A).

    ``reverse_scores`` (S, A): the scores at the reversed true pair; a sample marked
    ``bidirectional`` is a hit when either pair's prediction is.
    """
    S, A = scores.shape
    rows = np.arange(S)
    soft_labels = overlap.copy()
    soft_labels[rows, target] = True
    k = min(5, A)

    def hits_of(values: np.ndarray) -> dict[str, np.ndarray]:
        order = np.argsort(-values, axis=1, kind="stable")
        return {"top1": order[:, 0] == target, "soft_top1": soft_labels[rows, order[:, 0]],
                "top5": (order[:, :k] == target[:, None]).any(axis=1)}

    hits = hits_of(scores)
    if reverse_scores is not None:
        reverse = hits_of(reverse_scores)
        hits = {name: value | (bidirectional & reverse[name]) for name, value in hits.items()}
    chance = {"top1": np.full(S, 1.0 / A), "soft_top1": soft_labels.sum(axis=1) / A, "top5": np.full(S, k / A)}
    return {name: (hits[name], chance[name]) for name in hits}


def relationship_pair_accuracy(scores: np.ndarray, target: np.ndarray, rel_key: np.ndarray) -> Metric:
    """Pair-level relationship accuracy: scores (S, R) summed per ``rel_key``; samples with target -1 skipped."""
    labelled = target >= 0
    if not labelled.any():
        return Metric(float("nan"), 0, float("nan"))
    keys, inverse = np.unique(rel_key[labelled], return_inverse=True)
    summed = np.zeros((keys.size, scores.shape[1]))
    np.add.at(summed, inverse, scores[labelled])
    key_target = np.zeros(keys.size, np.int64)
    key_target[inverse] = target[labelled]
    hits = summed.argmax(axis=1) == key_target
    return summarize(hits, np.full(keys.size, 1.0 / scores.shape[1]))


def _true_slots(true_pair: np.ndarray, num_pairs: int) -> np.ndarray:
    """(S, N) bool: slots holding a true pair (the pair, and its reverse if bidirectional)."""
    S = true_pair.shape[0]
    is_true = np.zeros((S, num_pairs), bool)
    rows = np.arange(S)
    is_true[rows, true_pair[:, 0]] = True
    reverse = true_pair[:, 1] >= 0
    is_true[rows[reverse], true_pair[reverse, 1]] = True
    return is_true


def character_hits(pair_scores: np.ndarray, pair_mask: np.ndarray, true_pair: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Character-pair accuracy given the labels: ``pair_scores`` (S, N) = score of the true class(es) per pair."""
    masked = np.where(pair_mask, pair_scores, -np.inf)
    chosen = masked.argmax(axis=1)
    is_true = _true_slots(true_pair, pair_scores.shape[1])
    hits = is_true[np.arange(len(chosen)), chosen]
    chance = (is_true & pair_mask).sum(axis=1) / pair_mask.sum(axis=1)
    return hits, chance


def joint_hits(interaction_scores: np.ndarray, pair_mask: np.ndarray, true_pair: np.ndarray, interaction: np.ndarray,
               relationship_scores: np.ndarray | None = None,
               relationship: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Joint accuracy: argmax over pairs x interactions (x relationships of s_IC + s_RC).

    The maximum of s_IC(p, a) + s_RC(p, r) over (p, a, r) is at p = argmax_p [max_a s_IC + max_r s_RC],
    so the 3-D tensor is never built.
    """
    S, N, A = interaction_scores.shape
    rows = np.arange(S)
    best_interaction = interaction_scores.argmax(axis=2)
    pair_value = interaction_scores.max(axis=2)
    classes = A
    if relationship_scores is not None:
        best_relationship = relationship_scores.argmax(axis=2)
        pair_value = pair_value + relationship_scores.max(axis=2)
        classes *= relationship_scores.shape[2]
    pair = np.where(pair_mask, pair_value, -np.inf).argmax(axis=1)
    is_true = _true_slots(true_pair, N)
    hits = is_true[rows, pair] & (best_interaction[rows, pair] == interaction)
    if relationship_scores is not None:
        hits &= best_relationship[rows, pair] == relationship
    chance = (is_true & pair_mask).sum(axis=1) / (pair_mask.sum(axis=1) * classes)
    return hits, chance
