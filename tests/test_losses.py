"""Every loss against a value computed by hand on a tiny input, masks included."""
from __future__ import annotations

import pytest
import torch

from _model_helpers import experiment_config
from model.config import RunConfig
from model.data import Batch
from model.heads import PairLogits
from model.losses import (choose_pair, compute_loss, hard_negatives_active, interaction_character_loss,
                          interaction_margin_loss, relationship_character_loss, relationship_margin_loss)

T = torch.tensor


def make_batch(*, interaction, overlap, relationship=None, pair_mask=None, true_pair=None,
               pair_relationship=None, single=None) -> Batch:
    """A Batch with only the label/mask fields the losses read (features empty).

    Every candidate is a pair of character 0 with itself, except the slots marked in ``single``:
    no object (index 1 = "no character"), a single-character candidate.
    """
    interaction = T(interaction)
    B = interaction.shape[0]
    pair_mask = T(pair_mask) if pair_mask is not None else torch.ones(B, 1, dtype=torch.bool)
    N = pair_mask.shape[1]
    empty = torch.zeros(0)
    index = torch.zeros(B, N, dtype=torch.long)
    one_character = torch.zeros(1, 0)
    pair_object = T(single).long() if single is not None else index
    return Batch(sample_ids=torch.arange(B), clip_visual=empty, clip_dialog=empty, subject_tracks=one_character,
                 object_tracks=one_character,
                 pair_clip=index, pair_subject=index, pair_object=pair_object, pair_mask=pair_mask,
                 true_pair=T(true_pair) if true_pair is not None else T([[0, -1]] * B),
                 pair_relationship=T(pair_relationship) if pair_relationship is not None else torch.full((B, N), -1),
                 context_clip=index[..., None], context_subject=index[..., None], context_object=index[..., None],
                 context_mask=torch.zeros(B, N, 1, dtype=torch.bool), interaction=interaction, overlap=T(overlap),
                 relationship=T(relationship) if relationship is not None else torch.full((B,), -1))


# Eq. 2 --------------------------------------------------------------------------------------
INT_SCORES = T([[0.6, 0.55, 0.9, 0.2], [0.3, 0.4, 0.1, 0.35]])
INT_TARGET = T([0, 3])
INT_OVERLAP = T([[False, False, True, False], [False, False, False, False]])


def test_eq2_interaction_loss_masks_overlapping_classes():
    # sample 0: class 1 -> 0.1-0.6+0.55 = 0.05; class 2 overlaps (masked); class 3 -> 0
    # sample 1: class 0 -> 0.05, class 1 -> 0.15, class 2 -> 0          => mean(0.05, 0.2)
    loss = interaction_margin_loss(INT_SCORES, INT_TARGET, INT_OVERLAP, margin=0.1)
    assert loss.item() == pytest.approx(0.125)
    unmasked = interaction_margin_loss(INT_SCORES, INT_TARGET, torch.zeros_like(INT_OVERLAP), margin=0.1)
    assert unmasked.item() == pytest.approx((0.05 + 0.4 + 0.2) / 2)
    # the true class in the overlap mask changes nothing
    own = INT_OVERLAP.clone()
    own[0, 0] = True
    assert interaction_margin_loss(INT_SCORES, INT_TARGET, own, margin=0.1).item() == pytest.approx(0.125)


# Eq. 4 / Eq. 6 ------------------------------------------------------------------------------
REL_SCORES = T([[0.5, 0.45, 0.2], [0.9, 0.1, 0.1]])
REL_TARGET = T([1, -1])


def test_eq4_relationship_loss_skips_unlabelled_samples():
    # sample 0: r0 -> 0.1-0.45+0.5 = 0.15, r2 -> 0; sample 1 has no label (left out of the mean)
    assert relationship_margin_loss(REL_SCORES, REL_TARGET, margin=0.1).item() == pytest.approx(0.15)
    assert relationship_margin_loss(REL_SCORES, T([-1, -1]), margin=0.1).item() == 0.0


def test_eq6_joint_loss_weights_interactions_by_lambda():
    config = experiment_config("int_rel", train={"margin": 0.1, "lambda_int": 1.5})
    run = RunConfig.from_config(config, "exp")
    logits = PairLogits(torch.logit(INT_SCORES)[:, None], torch.logit(REL_SCORES)[:, None])
    batch = make_batch(interaction=[0, 3], overlap=INT_OVERLAP.tolist(), relationship=[1, -1])
    loss, parts = compute_loss(run, logits, batch, epoch=0)
    assert parts["interaction"] == pytest.approx(0.125, abs=1e-6)
    assert parts["relationship"] == pytest.approx(0.15, abs=1e-6)
    assert loss.item() == pytest.approx(0.15 + 1.5 * 0.125, abs=1e-6)


# Eq. 8 / 10 and hard negatives --------------------------------------------------------------
PAIR_SCORES = T([[[0.62, 0.7, 0.3],      # pair 0: the true pair
                  [0.68, 0.65, 0.9],     # pair 1
                  [0.99, 0.99, 0.99]]])  # padding slot: never a negative
PAIR_BATCH = dict(interaction=[1], overlap=[[False, False, True]], pair_mask=[[True, True, False]],
                  true_pair=[[0, -1]])


def test_eq8_full_supervision_sum_and_hard_negatives():
    batch = make_batch(**PAIR_BATCH)
    positive = T([0])
    # negatives: pairs {0,1} x classes {0,1} (class 2 overlaps) except (0, a*=1):
    # (0,0) 0.1-0.7+0.62 = 0.02; (1,0) 0.08; (1,1) 0.05
    loss = interaction_character_loss(PAIR_SCORES, batch, positive, supervision="full", margin=0.1, hard=False)
    assert loss.item() == pytest.approx(0.15)
    # hard: per pair the hardest class: pair 0 -> 0.02, pair 1 -> max(0.68, 0.65) -> 0.08
    loss = interaction_character_loss(PAIR_SCORES, batch, positive, supervision="full", margin=0.1, hard=True)
    assert loss.item() == pytest.approx(0.10)
    # bidirectional: the reversed true pair (slot 1) with a* is not a negative either
    batch = make_batch(**{**PAIR_BATCH, "true_pair": [[0, 1]]})
    loss = interaction_character_loss(PAIR_SCORES, batch, positive, supervision="full", margin=0.1, hard=False)
    assert loss.item() == pytest.approx(0.10)


def test_eq9_eq10_weak_supervision_argmax_and_column_removal():
    batch = make_batch(**PAIR_BATCH)
    chosen = choose_pair(torch.logit(PAIR_SCORES[:, :, 1]), batch.pair_mask)
    assert chosen.tolist() == [0]  # 0.7 > 0.65; the padding slot (0.99) cannot be chosen
    # the whole a* column is removed: only class 0 remains, (0,0) 0.02 and (1,0) 0.08
    loss = interaction_character_loss(PAIR_SCORES, batch, chosen, supervision="weak", margin=0.1, hard=False)
    assert loss.item() == pytest.approx(0.10)
    # with pair 1 scoring higher on a*, it becomes the positive: margin 0.3, s+ = 0.8
    scores = PAIR_SCORES.clone()
    scores[0, 1, 1] = 0.8
    chosen = choose_pair(torch.logit(scores[:, :, 1]), batch.pair_mask)
    assert chosen.tolist() == [1]
    loss = interaction_character_loss(scores, batch, chosen, supervision="weak", margin=0.3, hard=False)
    assert loss.item() == pytest.approx((0.3 - 0.8 + 0.62) + (0.3 - 0.8 + 0.68))


def test_weak_multinomial_sampling_with_a_fixed_generator():
    logits = T([[2.0, 0.5, 5.0], [0.0, 0.0, -1.0]])
    mask = T([[True, True, False], [True, True, True]])
    expected = torch.stack([torch.cat([torch.softmax(T([2.0, 0.5]), 0), T([0.0])]),
                            torch.softmax(T([0.0, 0.0, -1.0]), 0)])
    drawn = choose_pair(logits, mask, sampling=True, generator=torch.Generator().manual_seed(3))
    reference = torch.multinomial(expected, 1, generator=torch.Generator().manual_seed(3))[:, 0]
    assert drawn.tolist() == reference.tolist()
    many = torch.stack([choose_pair(logits, mask, sampling=True, generator=torch.Generator().manual_seed(s))
                        for s in range(400)])
    assert (many[:, 0] != 2).all()  # a padding slot is never drawn
    frequency = (many[:, 0] == 0).float().mean().item()
    assert frequency == pytest.approx(expected[0, 0].item(), abs=0.07)


def test_eq12_pair_choice_adds_relationship_scores():
    interaction = torch.logit(T([[0.7, 0.6]]))
    relationship = torch.logit(T([[0.1, 0.5]]))
    mask = T([[True, True]])
    assert choose_pair(interaction, mask).tolist() == [0]
    assert choose_pair(interaction, mask, relationship_logits=relationship,
                       relationship_known=T([True])).tolist() == [1]       # 0.7+0.1 < 0.6+0.5
    assert choose_pair(interaction, mask, relationship_logits=relationship,
                       relationship_known=T([False])).tolist() == [0]      # no r*: interactions only


# Eq. 13 / 14 --------------------------------------------------------------------------------
RC_SCORES = T([[[0.58, 0.5, 0.6], [0.47, 0.2, 0.55], [0.9, 0.9, 0.9]]])
RC_BATCH = dict(interaction=[0], overlap=[[False, False, False]], relationship=[2],
                pair_mask=[[True, True, False]], true_pair=[[0, -1]], pair_relationship=[[2, 0, -1]])


def test_eq13_weak_relationship_loss_removes_the_r_star_column():
    batch = make_batch(**RC_BATCH)
    positive = T([1])  # s+ = 0.55; negatives: valid pairs x {r0, r1}
    # (0,0) 0.13, (0,1) 0.05, (1,0) 0.02, (1,1) 0
    loss = relationship_character_loss(RC_SCORES, batch, positive, supervision="weak", margin=0.1, hard=False)
    assert loss.item() == pytest.approx(0.20)
    loss = relationship_character_loss(RC_SCORES, batch, positive, supervision="weak", margin=0.1, hard=True)
    assert loss.item() == pytest.approx(0.13 + 0.02)


def test_eq13_full_supervision_keeps_other_pairs_own_relationship_out():
    batch = make_batch(**RC_BATCH)
    # s+ = s(p*=0, r*=2) = 0.6; removed: (0,2) and pair 1's own label (1,0)
    # (0,0) 0.08, (0,1) 0, (1,1) 0, (1,2) 0.05
    loss = relationship_character_loss(RC_SCORES, batch, T([0]), supervision="full", margin=0.1, hard=False)
    assert loss.item() == pytest.approx(0.13)
    # a second sample without a relationship label does not change the mean
    two = make_batch(interaction=[0, 0], overlap=[[False] * 3] * 2, relationship=[2, -1],
                     pair_mask=[[True, True, False]] * 2, true_pair=[[0, -1]] * 2,
                     pair_relationship=[[2, 0, -1]] * 2)
    scores = torch.cat([RC_SCORES, torch.full_like(RC_SCORES, 0.9)])
    loss = relationship_character_loss(scores, two, T([0, 0]), supervision="full", margin=0.1, hard=False)
    assert loss.item() == pytest.approx(0.13)


def test_weak_supervision_chooses_among_two_character_pairs_only():
    # slot 2 is a single-character candidate with the highest a* score: never the chosen positive
    int_scores = T([[[0.65, 0.3], [0.1, 0.6], [0.1, 0.9]]])
    batch = make_batch(interaction=[1], overlap=[[False, False]], pair_mask=[[True, True, True]],
                       single=[[False, False, True]])
    assert batch.two_character_mask.tolist() == [[True, True, False]]
    run = RunConfig.from_config(experiment_config("int_char", supervision="weak", negatives="sum",
                                                  train={"margin": 0.1}), "exp")
    # p^ = pair 1 (s+ = 0.6); a* column removed; negatives: class 0 of the three slots:
    # 0.1-0.6+0.65 = 0.15, the others 0 (with the single as p^, s+ = 0.9, the loss would be 0)
    _, parts = compute_loss(run, PairLogits(torch.logit(int_scores), None), batch, epoch=0)
    assert parts["interaction"] == pytest.approx(0.15, abs=1e-6)
    assert choose_pair(torch.logit(int_scores[:, :, 1]), batch.two_character_mask).tolist() == [1]
    assert choose_pair(torch.logit(int_scores[:, :, 1]), batch.pair_mask).tolist() == [2]


def test_weak_pair_choice_among_all_candidates_as_the_authors_code():
    """train.weak_pair_candidates: all (LIReC): the single-character slot with the best a* score is p^."""
    int_scores = T([[[0.65, 0.3], [0.1, 0.6], [0.1, 0.9]]])
    batch = make_batch(interaction=[1], overlap=[[False, False]], pair_mask=[[True, True, True]],
                       single=[[False, False, True]])
    run = RunConfig.from_config(experiment_config("int_char", supervision="weak", negatives="sum",
                                                  train={"margin": 0.1, "weak_pair_candidates": "all"}), "exp")
    # p^ = slot 2 (s+ = 0.9); negatives class 0 of the three slots: 0.1-0.9+0.65 < 0, so the loss is 0
    _, parts = compute_loss(run, PairLogits(torch.logit(int_scores), None), batch, epoch=0)
    assert parts["interaction"] == pytest.approx(0.0, abs=1e-6)


def test_eq14_weak_joint_loss_and_sum_to_max_switch():
    config = experiment_config("int_rel_char", supervision="weak", negatives="sum_max",
                               train={"margin": 0.1, "lambda_int": 1.5, "burn_in": 3})
    run = RunConfig.from_config(config, "exp")
    assert [hard_negatives_active(run, epoch) for epoch in range(5)] == [False, False, False, True, True]
    int_scores = T([[[0.2, 0.62, 0.5], [0.1, 0.7, 0.68], [0.9, 0.9, 0.9]]])
    batch = make_batch(**{**RC_BATCH, "interaction": [1]})
    logits = PairLogits(torch.logit(int_scores), torch.logit(RC_SCORES))
    # Eq. 12: s_IC(p, a*=1) + s_RC(p, r*=2): pair 0 0.62+0.6 = 1.22 < pair 1 0.7+0.55 = 1.25 -> p^ = 1
    # L_IC (a* column removed): pairs {0,1} x classes {0,2}, s+ = 0.7: (0,2) 0.1-0.7+0.5 -> 0, (1,2) 0.08
    # L_RC (r* column removed), s+ = 0.55: 0.20 (sum) / 0.15 (hard), see Eq. 13 test
    loss, parts = compute_loss(run, logits, batch, epoch=0)
    assert parts["interaction"] == pytest.approx(0.08, abs=1e-6)
    assert parts["relationship"] == pytest.approx(0.20, abs=1e-6)
    assert loss.item() == pytest.approx(0.20 + 1.5 * 0.08, abs=1e-6)
    loss, parts = compute_loss(run, logits, batch, epoch=3)  # after the burn-in: hard negatives
    assert parts["relationship"] == pytest.approx(0.15, abs=1e-6)
    assert loss.item() == pytest.approx(0.15 + 1.5 * 0.08, abs=1e-6)
