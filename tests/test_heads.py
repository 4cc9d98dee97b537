"""Phi, the heads and the whole model: shapes, Table 3 wiring, and that deduplicated gathers equal
the plain per-row computation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from _model_helpers import experiment_config, learnable_shards
from model.config import ExperimentError, RunConfig
from model.data import make_batch
from pipeline.formats.shard import SampleShard
from model.encoders import ClipRepresentation, Encodings
from model.heads import InteractionHead, InteractionRelationshipModel


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    train, val, classes = learnable_shards(tmp_path_factory.mktemp("heads"), train_movies=2, val_movies=1,
                                           clips_per_movie=6)
    return train, val, classes


def _model(task: str, shard: SampleShard, **experiment) -> tuple[InteractionRelationshipModel, RunConfig]:
    run = RunConfig.from_config(experiment_config(task, **experiment), "exp")
    torch.manual_seed(0)
    model = InteractionRelationshipModel(run, shard.visual_dim, shard.dialog_dim, shard.num_interactions,
                                         shard.num_relationships)
    return model.eval(), run


def test_clip_representation_is_mlp_per_modality_concat_tanh():
    torch.manual_seed(0)
    phi = ClipRepresentation(("visual", "dialog", "tracks"), visual_dim=6, dialog_dim=4, hidden=8, track_hidden=3,
                             dropout=0.3).eval()
    assert phi.out_dim == 8 + 8 + 3 + 3
    layers = [type(m).__name__ for m in phi.visual]
    assert layers == ["Linear", "Dropout", "ReLU", "Linear"]
    visual, dialog, tracks = torch.randn(2, 6), torch.randn(2, 4), torch.randn(3, 6)

    class Items:
        clip_visual, clip_dialog, subject_tracks, object_tracks = visual, dialog, tracks, tracks

    enc = phi.encode(Items)
    row = phi.rows(enc, torch.tensor([1]), torch.tensor([2]), torch.tensor([3]))  # object: no character
    expected = torch.tanh(torch.cat([phi.dialog(dialog[1:]), phi.visual(visual[1:]), phi.subject_track(tracks[2:]),
                                     phi.object_track(torch.zeros(1, 6))], dim=-1))
    torch.testing.assert_close(row, expected)
    head = InteractionHead(22, 5, 7, dropout=0.3).eval()  # Eq. 1: two layers with a ReLU
    torch.testing.assert_close(head(row), head.classify(torch.relu(head.hidden(row))))


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_context_pooling_equals_pooling_the_gathered_rows(pooling):
    torch.manual_seed(1)
    phi = ClipRepresentation(("visual", "dialog", "tracks"), 6, 4, 8, 3, 0.0)
    enc = Encodings(torch.randn(5, 16), torch.randn(4, 3), torch.randn(4, 3))
    clip = torch.tensor([[[0, 2, 2, 4], [1, 0, 0, 0]], [[3, 3, 0, 0], [0, 0, 0, 0]]])
    subject = torch.tensor([[[0, 1, 1, 3], [2, 0, 0, 0]], [[1, 2, 0, 0], [0, 0, 0, 0]]])
    object_ = torch.tensor([[[1, 0, 3, 2], [0, 0, 0, 0]], [[3, 1, 0, 0], [0, 0, 0, 0]]])
    mask = torch.tensor([[[True] * 4, [True, False, False, False]], [[True, True, False, False], [False] * 4]])
    pooled = phi.pooled(enc, clip, subject, object_, mask, pooling)
    rows = phi.rows(enc, clip, subject, object_)
    for b in range(2):
        for n in range(2):
            valid = rows[b, n][mask[b, n]]
            if valid.shape[0] == 0:
                expected = torch.zeros(rows.shape[-1])
            else:
                expected = valid.mean(0) if pooling == "avg" else valid.max(0).values
            torch.testing.assert_close(pooled[b, n], expected)


@pytest.mark.parametrize("task,joint,extra_int,extra_rel", [
    ("int", "rel_to_int", False, False), ("rel", "rel_to_int", False, False),
    ("int_rel", "rel_to_int", True, False), ("int_rel", "int_to_rel", False, True), ("int_rel", "both", True, True),
    ("int_char", "rel_to_int", False, False), ("int_rel_char", "rel_to_int", True, False)])
def test_table3_wiring_and_output_shapes(shards, task, joint, extra_int, extra_rel):
    shard = SampleShard(shards[0])
    model, run = _model(task, shard, joint=joint)
    phi = 2 * 32 + 2 * 16
    if model.interaction_head is not None:
        assert model.interaction_head.hidden.in_features == phi * (2 if extra_int else 1)
    if model.relationship_head is not None:
        assert model.relationship_head.classify.in_features == phi * (2 if extra_rel else 1)
    batch = make_batch(shard, range(6), run.experiment)
    logits = model(batch)
    N = shard.max_candidates if run.experiment.predicts_characters else 1
    if run.experiment.predicts_interactions:
        assert logits.interaction.shape == (6, N, shard.num_interactions)
    else:
        assert logits.interaction is None
    if run.experiment.predicts_relationships:
        assert logits.relationship.shape == (6, N, shard.num_relationships)
    else:
        assert logits.relationship is None


@pytest.mark.parametrize("task", ["int_rel", "int_rel_char"])
def test_scores_do_not_depend_on_the_rest_of_the_batch(shards, task):
    """Deduplicated tables + gathers give each sample the same scores as scoring it alone."""
    shard = SampleShard(shards[0])
    model, run = _model(task, shard)
    ids = list(range(len(shard)))[:9]
    together = model(make_batch(shard, ids, run.experiment))
    for position, sample in enumerate(ids):
        alone = model(make_batch(shard, [sample], run.experiment))
        torch.testing.assert_close(alone.interaction[0], together.interaction[position], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(alone.relationship[0], together.relationship[position], rtol=1e-4, atol=1e-5)


def test_candidate_rows_use_each_candidates_tracks(shards):
    shard = SampleShard(shards[0])
    model, run = _model("int_char", shard)
    batch = make_batch(shard, [0], run.experiment)
    count = int(shard.candidate_count[0])
    assert batch.pair_mask[0].sum().item() == count
    tables = (batch.subject_tracks.numpy(), batch.object_tracks.numpy())
    for slot in range(count):
        for role, rows in ((0, batch.pair_subject), (1, batch.pair_object)):
            stored = shard.candidates[0, slot, role]
            index = int(rows[0, slot])
            if stored < 0:
                assert index == tables[role].shape[0]  # the zero "no character" row
            else:
                np.testing.assert_allclose(tables[role][index],
                                           shard.read_rows("characters/track", np.array([stored]))[0])


def test_inconsistent_experiments_are_refused():
    with pytest.raises(ExperimentError, match="tracks"):
        RunConfig.from_config(experiment_config("int_char", modalities=["visual", "dialog"]), "exp")
    with pytest.raises(ExperimentError, match="weak"):
        RunConfig.from_config(experiment_config("int", supervision="weak"), "exp")
    with pytest.raises(ExperimentError, match="sampling"):
        RunConfig.from_config(experiment_config("int_char", sampling=True), "exp")
    with pytest.raises(ExperimentError, match="not in the configuration"):
        RunConfig.from_config(experiment_config("int"), "other")
