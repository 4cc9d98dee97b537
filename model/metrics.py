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

Two evaluation protocols (``evaluation.protocol``) differ for the character tasks only:

- ``paper`` (the paper's text, Sec. 4.2: "we only consider samples that have a relationship, or
  when a pair of characters appear"): character and joint accuracy count the samples whose true
  subject and object both have a track; the joint accuracy of int+rel+char also needs a
  relationship label; relationship accuracy is pair level for every task.
- ``lirec`` (the authors' ``utils/evaluation.py``, ``Precision.update_probs_max_tracks[_rels]``):
  (1) int+rel+char relationship accuracy is per sample: a labelled sample is a hit when the
  relationship predicted at the true pair is its label, or, for a bidirectional interaction, the one
  predicted at the reversed pair is that pair's label; the hits of all labelled samples are divided
  by the number of tracked samples (:func:`lirec_relationship_hits`); (2) the joint denominator of
  int+rel+char also counts tracked samples without a relationship label (they cannot hit);
  (3) a sample is tracked when at least one of its characters has a track (``just_zeros`` false),
  not both true characters; the joint hit at the reversed pair also needs the character choice
  not to be the true pair (:func:`lirec_joint_hits`; differs only on ties). Interaction metrics
  and the pair-level relationship accuracy of rel / int+rel are the same in both. The fourth
  difference, single-character candidates in the weak pair choice, is training
  (``train.weak_pair_candidates``), not evaluation.

:class:`Outcomes` keeps what a metric is made of, per unit (a sample, or a relationship pair for
the pair-level accuracy), so that two models are compared on the same units (:mod:`pipeline.stats`).
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


@dataclass
class Outcomes:
    """Per-unit outcomes behind one metric; the accuracy is ``sum(hits[scored]) / sum(counted)``.

    ``scored`` (the units whose hit counts) equals ``counted`` (the denominator) for every metric but
    the ``lirec`` int+rel+char relationship accuracy, whose hits run over labelled samples and whose
    denominator is the tracked samples.
    """

    unit: str              # "sample" (shard order) or "pair" (labelled rel_key groups, sorted)
    hits: np.ndarray       # (U,) bool
    chance: np.ndarray     # (U,) float: a uniform guess's expected hit
    counted: np.ndarray    # (U,) bool: in the denominator
    scored: np.ndarray     # (U,) bool: hits that count

    def metric(self) -> Metric:
        if np.array_equal(self.scored, self.counted):
            return summarize(self.hits, self.chance, self.counted)
        n = int(self.counted.sum())
        if n == 0:
            return Metric(float("nan"), 0, float("nan"))
        return Metric(100.0 * float(self.hits[self.scored].sum() / n), n,
                      100.0 * float(self.chance[self.scored].sum() / n))


def sample_outcomes(hits: np.ndarray, chance: np.ndarray, counted: np.ndarray | None = None,
                    scored: np.ndarray | None = None) -> Outcomes:
    """Outcomes over samples (all counted unless ``counted``; scored = counted unless ``scored``)."""
    hits = np.asarray(hits, bool)
    counted = np.ones(hits.shape, bool) if counted is None else np.asarray(counted, bool)
    scored = counted if scored is None else np.asarray(scored, bool)
    return Outcomes("sample", hits & scored, np.asarray(chance, float), counted, scored)


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
    return relationship_pair_outcomes(scores, target, rel_key).metric()


def relationship_pair_outcomes(scores: np.ndarray, target: np.ndarray, rel_key: np.ndarray) -> Outcomes:
    """Pair-level relationship hits, one unit per labelled ``rel_key`` (sorted): the scores (S, R) of
    the key's samples summed, then argmax; samples with target -1 skipped; every pair counted."""
    labelled = target >= 0
    keys, inverse = np.unique(rel_key[labelled], return_inverse=True)
    summed = np.zeros((keys.size, scores.shape[1]))
    np.add.at(summed, inverse, scores[labelled])
    key_target = np.zeros(keys.size, np.int64)
    key_target[inverse] = target[labelled]
    hits = summed.argmax(axis=1) == key_target
    everything = np.ones(keys.size, bool)
    return Outcomes("pair", hits, np.full(keys.size, 1.0 / scores.shape[1]), everything, everything)


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
    S, N, _ = interaction_scores.shape
    rows = np.arange(S)
    pair, labels_right = _joint_choice(interaction_scores, pair_mask, interaction, relationship_scores, relationship)
    is_true = _true_slots(true_pair, N)
    hits = is_true[rows, pair] & labels_right
    return hits, _joint_chance(interaction_scores, pair_mask, true_pair, relationship_scores)


def _joint_choice(interaction_scores: np.ndarray, pair_mask: np.ndarray, interaction: np.ndarray,
                  relationship_scores: np.ndarray | None,
                  relationship: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The joint argmax's pair (S,) and whether its interaction (and relationship) are right (S,)."""
    rows = np.arange(interaction_scores.shape[0])
    best_interaction = interaction_scores.argmax(axis=2)
    pair_value = interaction_scores.max(axis=2)
    if relationship_scores is not None:
        best_relationship = relationship_scores.argmax(axis=2)
        pair_value = pair_value + relationship_scores.max(axis=2)
    pair = np.where(pair_mask, pair_value, -np.inf).argmax(axis=1)
    right = best_interaction[rows, pair] == interaction
    if relationship_scores is not None:
        right &= best_relationship[rows, pair] == relationship
    return pair, right


def _joint_chance(interaction_scores: np.ndarray, pair_mask: np.ndarray, true_pair: np.ndarray,
                  relationship_scores: np.ndarray | None) -> np.ndarray:
    S, N, classes = interaction_scores.shape
    if relationship_scores is not None:
        classes *= relationship_scores.shape[2]
    is_true = _true_slots(true_pair, N)
    return (is_true & pair_mask).sum(axis=1) / (pair_mask.sum(axis=1) * classes)


# --- the authors' code (protocol "lirec") -------------------------------------------------------
def lirec_joint_hits(interaction_scores: np.ndarray, pair_mask: np.ndarray, true_pair: np.ndarray,
                     interaction: np.ndarray, character_scores: np.ndarray,
                     relationship_scores: np.ndarray | None = None,
                     relationship: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Joint accuracy as ``Precision.update_probs_max_tracks[_rels]`` counts it.

    The same argmax as :func:`joint_hits`; a hit at the true pair's slot, or at the reversed pair's
    slot of a bidirectional interaction only when the character choice given the labels
    (``character_scores`` (S, N), argmax over valid candidates, as :func:`character_hits`) is not
    the true pair's slot. A sample without a relationship label (``relationship`` -1) never hits,
    and its chance is 0.
    """
    pair, labels_right = _joint_choice(interaction_scores, pair_mask, interaction, relationship_scores, relationship)
    choice = np.where(pair_mask, character_scores, -np.inf).argmax(axis=1)
    first, second = true_pair[:, 0], true_pair[:, 1]
    at_reverse = (second >= 0) & (choice != first) & (pair == second)
    hits = labels_right & ((pair == first) | at_reverse)
    chance = _joint_chance(interaction_scores, pair_mask, true_pair, relationship_scores)
    if relationship is not None:
        chance = np.where(relationship >= 0, chance, 0.0)
    return hits, chance


def lirec_relationship_hits(true_scores: np.ndarray, reverse_scores: np.ndarray, relationship: np.ndarray,
                            reverse_relationship: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample relationship hits of int+rel+char as the authors' code counts them (``_rels_top1``).

    ``true_scores`` / ``reverse_scores`` (S, R): relationship scores at the true pair and at the
    reversed pair; ``reverse_relationship`` (S,): the reversed pair's relationship at the clip for a
    bidirectional interaction, else -1. A labelled sample hits when the argmax at the true pair is
    its label or the argmax at the reversed pair is the reversed pair's label. Chance: 1/R per
    labelled sample (0 without a label).
    """
    labelled = relationship >= 0
    first = true_scores.argmax(axis=1) == relationship
    second = (reverse_relationship >= 0) & (reverse_scores.argmax(axis=1) == reverse_relationship)
    chance = np.where(labelled, 1.0 / true_scores.shape[1], 0.0)
    return labelled & (first | second), chance
