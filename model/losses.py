"""Max-margin losses of the paper (Sec. 3), on sigmoid scores, with bool masks throughout.

Every loss is the batch mean of per-sample losses (LIReC ``mean_b``); relationship terms average
over the samples that have a relationship label (LIReC drops the others). ``m`` is the margin
(0.101, authors' code) and lambda balances interactions against relationships (1.5, paper).

- Eq. 2  :func:`interaction_margin_loss`  sum over non-overlapping negatives a != a*, a not in O_I(v)
- Eq. 4  :func:`relationship_margin_loss` sum over r != r*
- Eq. 6  :func:`interaction_relationship_loss` L_R + lambda L_I (per sample, so the mean over a
         batch plays the role of 1/|V| sum over v in V)
- Eq. 8  :func:`interaction_character_loss` with ``supervision="full"``: negatives are the whole
         pair x interaction matrix except the overlapping columns O_I(v) and the true element
         (p*, a*) (and (reverse p*, a*) for a bidirectional interaction, LIReC ``gt_tracks``)
- Eq. 9  :func:`choose_pair` (argmax) or multinomial sampling (LIReC: softmax over candidates)
- Eq. 10 :func:`interaction_character_loss` with ``supervision="weak"``: the positive is the chosen
         pair, and the whole a* column is removed from the negatives
- hard negatives: sum over pairs of the max over classes (``hard=True``); the trainer switches
         sum -> max after the burn-in (``negatives: sum_max``)
- Eq. 12 :func:`choose_pair` with relationship scores: argmax_p s_RC(V, r*, p) + s_IC(v, a*, p)
- Eq. 13 :func:`relationship_character_loss` (weak: r* column removed; full: the element (p*, r*)
         and every candidate's own relationship label removed, LIReC's GT mode)
- Eq. 14 :func:`compute_loss` for ``int_rel_char``: L_RC + lambda L_IC
"""
from __future__ import annotations

import torch

from model.config import RunConfig
from model.data import Batch
from model.heads import PairLogits


def _positive_score(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return scores.gather(-1, target.unsqueeze(-1))


def interaction_margin_loss(scores: torch.Tensor, target: torch.Tensor, overlap: torch.Tensor,
                            margin: float) -> torch.Tensor:
    """Eq. 2: mean_b sum_{a != a*, a not in O_I(v)} [m - s(a*) + s(a)]_+ ; scores (B, A) in [0, 1]."""
    negatives = ~overlap
    negatives = negatives.scatter(1, target[:, None], False)
    hinge = torch.relu(margin - _positive_score(scores, target) + scores)
    return (hinge * negatives).sum(dim=1).mean()


def relationship_margin_loss(scores: torch.Tensor, target: torch.Tensor, margin: float) -> torch.Tensor:
    """Eq. 4: mean over labelled samples of sum_{r != r*} [m - s(r*) + s(r)]_+ ; target -1 = no label."""
    labelled = target >= 0
    if not bool(labelled.any()):
        return scores.sum() * 0.0
    scores, target = scores[labelled], target[labelled]
    negatives = torch.ones_like(scores, dtype=torch.bool).scatter(1, target[:, None], False)
    hinge = torch.relu(margin - _positive_score(scores, target) + scores)
    return (hinge * negatives).sum(dim=1).mean()


def interaction_relationship_loss(relationship_loss: torch.Tensor, interaction_loss: torch.Tensor,
                                  lambda_int: float) -> torch.Tensor:
    """Eq. 6 (and Eq. 14): L_R + lambda * L_I."""
    return relationship_loss + lambda_int * interaction_loss


def pair_margin_loss(scores: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor, margin: float,
                     hard: bool, include: torch.Tensor | None = None) -> torch.Tensor:
    """Max-margin over a (B, N pairs, classes) score tensor against one positive score per sample.

    sum:  sum_{p, c negative} [m - s_pos + s(p, c)]_+
    hard: sum_p [m - s_pos + max_{c negative} s(p, c)]_+ over pairs with at least one negative.
    ``include`` (B,) selects the samples averaged over (default: all).
    """
    positive = positive[:, None, None]
    if hard:
        hardest = scores.masked_fill(~negatives, float("-inf")).max(dim=-1).values
        has_negative = negatives.any(dim=-1)
        hinge = torch.relu(margin - positive[..., 0] + torch.where(has_negative, hardest, torch.zeros_like(hardest)))
        per_sample = (hinge * has_negative).sum(dim=-1)
    else:
        per_sample = (torch.relu(margin - positive + scores) * negatives).sum(dim=(1, 2))
    if include is None:
        return per_sample.mean()
    if not bool(include.any()):
        return scores.sum() * 0.0
    return per_sample[include].mean()


def choose_pair(interaction_logits: torch.Tensor, pair_mask: torch.Tensor, *,
                relationship_logits: torch.Tensor | None = None, relationship_known: torch.Tensor | None = None,
                sampling: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    """The positive pair p-hat for weak supervision (B,).

    ``interaction_logits`` (B, N): logits of a* per pair; ``relationship_logits`` (B, N): logits of
    r* per pair, used where ``relationship_known``. Argmax: Eq. 9 (s_IC) / Eq. 12 (s_RC + s_IC).
    Sampling (paper: "treat s_IC(v, a*, p) as a multinomial distribution"): LIReC's softmax over the
    valid candidates, averaged with the relationship softmax when r* is known.

    ``pair_mask`` holds the candidates p-hat is chosen from: the trainer passes the two-character
    pairs only (``train.weak_pair_candidates: pairs``). A weak label still says that two characters
    interact, and Eq. 10 removes the whole a* column from the negatives, so nothing would stop a
    single-character slot (one role fed zeros) from winning the argmax once and then being
    reinforced for good; the singles stay candidates (and negatives for other classes) everywhere
    else. ``weak_pair_candidates: all`` passes every valid candidate, as the authors' code does.
    """
    with torch.no_grad():
        use_rel = None
        if relationship_logits is not None and relationship_known is not None:
            use_rel = relationship_known[:, None].expand_as(pair_mask)
        if not sampling:
            score = torch.sigmoid(interaction_logits)
            if use_rel is not None:
                score = score + torch.where(use_rel, torch.sigmoid(relationship_logits), torch.zeros_like(score))
            return score.masked_fill(~pair_mask, float("-inf")).argmax(dim=1)
        probs = torch.softmax(interaction_logits.masked_fill(~pair_mask, float("-inf")), dim=1)
        if use_rel is not None:
            rel_probs = torch.softmax(relationship_logits.masked_fill(~pair_mask, float("-inf")), dim=1)
            probs = torch.where(use_rel, (probs + rel_probs) / 2, probs)
        probs = torch.nan_to_num(probs, nan=0.0)
        return torch.multinomial(probs, 1, generator=generator)[:, 0]


def interaction_character_loss(scores: torch.Tensor, batch: Batch, positive_pair: torch.Tensor, *,
                               supervision: str, margin: float, hard: bool) -> torch.Tensor:
    """Eq. 8 (full) / Eq. 10 (weak) over the pair x interaction score matrix (B, N, A)."""
    B = scores.shape[0]
    rows = torch.arange(B, device=scores.device)
    target = batch.interaction
    negatives = batch.pair_mask[:, :, None] & ~batch.overlap[:, None, :]
    if supervision == "weak":  # the whole a* column is removed
        negatives = negatives.clone()
        negatives[rows, :, target] = False
    else:  # only the true element(s)
        negatives = negatives.clone()
        negatives[rows, batch.true_pair[:, 0], target] = False
        bidirectional = batch.true_pair[:, 1] >= 0
        negatives[rows[bidirectional], batch.true_pair[bidirectional, 1], target[bidirectional]] = False
    positive = scores[rows, positive_pair, target]
    return pair_margin_loss(scores, positive, negatives, margin, hard)


def relationship_character_loss(scores: torch.Tensor, batch: Batch, positive_pair: torch.Tensor, *,
                                supervision: str, margin: float, hard: bool) -> torch.Tensor:
    """Eq. 13 over the pair x relationship score matrix (B, N, R); samples without r* are left out."""
    B, N, R = scores.shape
    rows = torch.arange(B, device=scores.device)
    labelled = batch.relationship >= 0
    target = batch.relationship.clamp(min=0)
    negatives = batch.pair_mask[:, :, None].expand(B, N, R).clone()
    if supervision == "weak":  # the whole r* column is removed
        negatives[rows, :, target] = False
    else:  # each candidate's own relationship (incl. (p*, r*)) is not a negative (LIReC GT mode)
        negatives[rows, batch.true_pair[:, 0], target] = False
        known = batch.pair_relationship >= 0
        own = torch.zeros_like(negatives).scatter(2, batch.pair_relationship.clamp(min=0)[..., None], True)
        negatives &= ~(own & known[..., None])
    positive = scores[rows, positive_pair, target]
    return pair_margin_loss(scores, positive, negatives, margin, hard, include=labelled)


def hard_negatives_active(run: RunConfig, epoch: int) -> bool:
    """``sum_max``: sum over negatives during the burn-in epochs, hardest negatives afterwards."""
    return run.experiment.negatives == "sum_max" and epoch >= run.train.burn_in


def compute_loss(run: RunConfig, logits: PairLogits, batch: Batch, epoch: int,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The experiment's training loss and its parts (for logging)."""
    e, t = run.experiment, run.train
    parts: dict[str, torch.Tensor] = {}
    if e.task in ("int", "rel", "int_rel"):
        if logits.interaction is not None:
            parts["interaction"] = interaction_margin_loss(torch.sigmoid(logits.interaction[:, 0]), batch.interaction,
                                                           batch.overlap, t.margin)
        if logits.relationship is not None:
            parts["relationship"] = relationship_margin_loss(torch.sigmoid(logits.relationship[:, 0]),
                                                             batch.relationship, t.margin)
    else:
        hard = hard_negatives_active(run, epoch)
        rows = torch.arange(batch.size, device=batch.interaction.device)
        int_at_target = logits.interaction[rows, :, batch.interaction]
        rel_at_target = None
        if logits.relationship is not None:
            rel_at_target = logits.relationship[rows, :, batch.relationship.clamp(min=0)]
        if e.supervision == "weak":  # Eq. 9 / 12, over two-character pairs (see choose_pair) or all candidates
            candidates = batch.two_character_mask if t.weak_pair_candidates == "pairs" else batch.pair_mask
            positive_pair = choose_pair(int_at_target, candidates, relationship_logits=rel_at_target,
                                        relationship_known=batch.relationship >= 0, sampling=e.sampling,
                                        generator=generator)
        else:
            positive_pair = batch.true_pair[:, 0]
        parts["interaction"] = interaction_character_loss(torch.sigmoid(logits.interaction), batch, positive_pair,
                                                          supervision=e.supervision, margin=t.margin, hard=hard)
        if logits.relationship is not None:
            parts["relationship"] = relationship_character_loss(torch.sigmoid(logits.relationship), batch,
                                                                positive_pair, supervision=e.supervision,
                                                                margin=t.margin, hard=hard)
    if "interaction" in parts and "relationship" in parts:  # Eq. 6 / Eq. 14
        loss = interaction_relationship_loss(parts["relationship"], parts["interaction"], t.lambda_int)
    else:
        loss = next(iter(parts.values()))
    return loss, {name: float(value.detach()) for name, value in parts.items()}
