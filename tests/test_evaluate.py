"""Metrics against hand-computed values, and the evaluate entry point end to end."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import yaml

from _model_helpers import experiment_config, learnable_shards
from model.config import RunConfig
from model.evaluate import FIGURE5_CLIPS
from model.evaluate import main as evaluate_main
from model.metrics import character_hits, interaction_hits, joint_hits, relationship_pair_accuracy, summarize
from model.train import train_model


def test_interaction_top1_soft_top5_and_random():
    scores = np.array([[0.1, 0.9, 0.3, 0.2, 0.0, 0.05],
                       [0.8, 0.1, 0.7, 0.6, 0.5, 0.4],
                       [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])
    target = np.array([1, 2, 5])
    overlap = np.zeros((3, 6), bool)
    overlap[1, 0] = True  # the clip's other interaction: class 0
    hits = interaction_hits(scores, target, overlap)
    top1, soft, top5 = (summarize(*hits[name]) for name in ("top1", "soft_top1", "top5"))
    assert (top1.accuracy, top1.n, top1.random) == pytest.approx((100 / 3, 3, 100 / 6))
    assert (soft.accuracy, soft.random) == pytest.approx((200 / 3, 100 * (1 + 2 + 1) / 18))
    assert (top5.accuracy, top5.random) == pytest.approx((200 / 3, 500 / 6))


def test_interaction_given_the_pair_counts_the_reversed_pair_of_a_bidirectional_interaction():
    scores = np.array([[0.9, 0.1, 0.0], [0.9, 0.1, 0.0]])           # at the true pair: class 0
    reverse = np.array([[0.1, 0.8, 0.0], [0.1, 0.8, 0.0]])          # at the reversed pair: class 1
    target = np.array([1, 1])
    bidirectional = np.array([True, False])
    hits = interaction_hits(scores, target, np.zeros((2, 3), bool), reverse, bidirectional)
    assert hits["top1"][0].tolist() == [True, False]  # only the bidirectional sample may use its reverse
    assert interaction_hits(scores, target, np.zeros((2, 3), bool))["top1"][0].tolist() == [False, False]


def test_relationship_accuracy_sums_scores_per_pair():
    scores = np.array([[0.4, 0.5, 0.1], [0.5, 0.2, 0.1], [0.5, 0.2, 0.3], [0.0, 0.0, 1.0]])
    target = np.array([0, 0, 2, -1])
    rel_key = np.array([7, 7, 9, 5])
    metric = relationship_pair_accuracy(scores, target, rel_key)
    # key 7: [0.9, 0.7, 0.2] -> 0 correct (sample 0 alone would be wrong); key 9 -> 0, wrong; key 5 unlabelled
    assert (metric.accuracy, metric.n, metric.random) == pytest.approx((50.0, 2, 100 / 3))


def test_character_accuracy_given_the_interaction():
    pair_scores = np.array([[0.2, 0.5, 0.6, 0.9], [0.1, 0.3, 0.9, 0.9]])
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    true_pair = np.array([[1, -1], [0, 1]])  # sample 1: bidirectional, slot 1 is its reverse
    hits, chance = character_hits(pair_scores, mask, true_pair)
    assert hits.tolist() == [False, True]
    assert chance.tolist() == pytest.approx([1 / 3, 1.0])


def test_joint_accuracy_over_pairs_interactions_relationships():
    interaction = np.array([[[0.3, 0.8], [0.7, 0.2], [0.99, 0.99]],
                            [[0.1, 0.2], [0.9, 0.3], [0.99, 0.99]]])
    relationship = np.array([[[0.1, 0.0], [0.6, 0.9], [0.99, 0.99]],
                             [[0.9, 0.95], [0.1, 0.2], [0.99, 0.99]]])
    mask = np.array([[True, True, False]] * 2)
    true_pair = np.array([[1, -1], [1, -1]])
    hits, chance = joint_hits(interaction, mask, true_pair, np.array([0, 0]))
    assert hits.tolist() == [False, True]  # sample 0: (pair 0, class 1) scores 0.8
    assert chance.tolist() == pytest.approx([0.25, 0.25])
    hits, chance = joint_hits(interaction, mask, true_pair, np.array([0, 0]), relationship, np.array([1, 1]))
    # sample 0: pair 1 wins 0.7+0.9 > 0.8+0.1 -> (1, 0, 1) correct; sample 1: pair 0 wins 0.2+0.95 > 0.9+0.2
    # although pair 1 has the best interaction -> wrong
    assert hits.tolist() == [True, False]
    assert chance.tolist() == pytest.approx([0.125, 0.125])
    for s in range(2):  # same as the brute-force argmax of the 3-D tensor s_IC + s_RC
        tensor = interaction[s][:, :, None] + relationship[s][:, None, :]
        tensor[~mask[s]] = -np.inf
        p, a, r = np.unravel_index(np.argmax(tensor), tensor.shape)
        assert hits[s] == (p == 1 and a == 0 and r == 1)


def test_summarize_counts_only_included_samples():
    metric = summarize(np.array([True, False, True]), np.array([0.5, 0.5, 0.1]), np.array([True, True, False]))
    assert (metric.accuracy, metric.n, metric.random) == pytest.approx((50.0, 2, 50.0))
    empty = summarize(np.array([True]), np.array([0.5]), np.array([False]))
    assert empty.n == 0 and empty.to_dict()["accuracy"] is None


def test_evaluate_entry_point_writes_metrics_and_figure5_curve(tmp_path, caplog):
    train, val, _ = learnable_shards(tmp_path, train_movies=2, val_movies=1, clips_per_movie=8)
    config = experiment_config("int_rel", epochs=2)
    run = RunConfig.from_config(config, "exp")
    train_model(run, train, val, tmp_path / "model", progress=False)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    out = tmp_path / "eval" / "val.json"
    args = ["--config", str(config_file), "--experiment", "exp", "--checkpoint", str(tmp_path / "model" / "best.pt"),
            "--samples", str(val), "--out", str(out)]
    assert evaluate_main(args) == 0
    report = json.loads(out.read_text())
    assert report["experiment"] == "exp" and report["epoch"] == 2
    assert set(report["metrics"]) == {"interaction_top1", "interaction_soft_top1", "interaction_top5", "relationship"}
    top1 = report["metrics"]["interaction_top1"]
    assert top1["n"] == report["num_samples"] and top1["random"] == pytest.approx(100 / 5)
    assert report["metrics"]["relationship"]["random"] == pytest.approx(100 / 4)
    assert list(report["relationship_vs_clips"]) == [str(k) for k in FIGURE5_CLIPS]
    assert report["relationship_vs_clips"]["18"] == report["metrics"]["relationship"]  # K = 18 is the model's
    # a shard of another pooling does not fit the model: one clear line, exit 2
    other_train, _, _ = learnable_shards(tmp_path / "avg", train_movies=1, val_movies=1, clips_per_movie=2,
                                         pooling="avg")
    with caplog.at_level("ERROR", logger="model.evaluate"):
        assert evaluate_main(args[:-4] + ["--samples", str(other_train), "--out", str(tmp_path / "x.json")]) == 2
    assert "does not match the model" in caplog.text and not (tmp_path / "x.json").exists()


def test_brute_force_joint_agrees_on_random_tensors():
    rng = np.random.default_rng(0)
    interaction = rng.random((20, 4, 3))
    relationship = rng.random((20, 4, 2))
    mask = np.ones((20, 4), bool)
    mask[:, 3] = rng.random(20) > 0.5
    true_pair = np.stack([rng.integers(0, 3, 20), np.full(20, -1)], axis=1)
    target_int, target_rel = rng.integers(0, 3, 20), rng.integers(0, 2, 20)
    hits, _ = joint_hits(interaction, mask, true_pair, target_int, relationship, target_rel)
    for s in range(20):
        best = max(((p, a, r) for p, a, r in itertools.product(range(4), range(3), range(2)) if mask[s, p]),
                   key=lambda x: interaction[s, x[0], x[1]] + relationship[s, x[0], x[2]])
        assert hits[s] == (best == (true_pair[s, 0], target_int[s], target_rel[s]))
