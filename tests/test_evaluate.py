"""Metrics against hand-computed values, and the evaluate entry point end to end."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import yaml

from _model_helpers import experiment_config, learnable_shards
from model.config import RunConfig
from model.evaluate import FIGURE5_CLIPS, outcomes_from_scores
from model.evaluate import main as evaluate_main
from model.metrics import (character_hits, interaction_hits, joint_hits, lirec_joint_hits, lirec_relationship_hits,
                           relationship_pair_accuracy, summarize)
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
# --- protocols: the paper's text and the authors' code (hand-counted cases) -------------------------
def test_lirec_relationship_hits_count_per_sample_with_the_reversed_pair():
    true_scores = np.array([[0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.2, 0.1, 0.7], [0.9, 0.0, 0.0]])
    reverse_scores = np.array([[0.0, 0.0, 0.9], [0.6, 0.2, 0.1], [0.9, 0.0, 0.0], [0.9, 0.0, 0.0]])
    relationship = np.array([1, 0, 0, -1])
    reverse_relationship = np.array([2, 0, -1, 0])
    hits, chance = lirec_relationship_hits(true_scores, reverse_scores, relationship, reverse_relationship)
    # 0: right at the true pair; 1: wrong there, right at the reversed pair (its label 0);
    # 2: wrong, no reversed pair; 3: no label, never a hit
    assert hits.tolist() == [True, True, False, False]
    assert chance.tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0.0])


def test_lirec_joint_hit_at_the_reversed_pair_needs_the_character_choice_elsewhere():
    # One bidirectional sample: true pair slot 0, reversed pair slot 1; the joint argmax is (slot 1,
    # class 0). The character choice given a* = 0 ties slots 0 and 1 at 0.9: argmax takes slot 0, so the
    # authors' code does not count the hit at the reversed pair; the paper's text does.
    interaction = np.array([[[0.5, 0.1], [0.95, 0.1], [0.2, 0.2]]])
    mask = np.ones((1, 3), bool)
    true_pair = np.array([[0, 1]])
    character = np.array([[0.9, 0.9, 0.1]])
    assert joint_hits(interaction, mask, true_pair, np.array([0]))[0].tolist() == [True]
    assert lirec_joint_hits(interaction, mask, true_pair, np.array([0]), character)[0].tolist() == [False]
    # without the tie the character choice is slot 1 and both count it
    assert lirec_joint_hits(interaction, mask, true_pair, np.array([0]), np.array([[0.5, 0.9, 0.1]]))[0].tolist() \
        == [True]
    # int+rel+char: a sample without a relationship label never hits, and its chance is 0
    relationship = np.array([[[0.1, 0.9], [0.1, 0.9], [0.1, 0.1]]])
    hits, chance = lirec_joint_hits(interaction, mask, true_pair, np.array([0]), np.array([[0.5, 0.9, 0.1]]),
                                    relationship, np.array([-1]))
    assert hits.tolist() == [False] and chance.tolist() == [0.0]


class _FourSamples:
    """A stand-in shard of four int+rel+char samples (what outcomes_from_scores reads):

    sample | true pair tracked | any character tracked | relationship | rel_key
    0      | both              | yes                   | 1            | 10
    1      | subject only      | yes                   | 0            | 11
    2      | none              | no                    | 2            | 12
    3      | both              | yes                   | none         | 13
    """

    interaction = np.array([0, 1, 0, 1])
    overlap = np.zeros((4, 2), bool)
    relationship = np.array([1, 0, 2, -1])
    rel_key = np.array([10, 11, 12, 13])

    def pair_visible(self):
        return np.array([True, False, False, True])

    def any_character_tracked(self):
        return np.array([True, True, False, True])


def _four_sample_scores() -> dict[str, np.ndarray]:
    return {
        "sample_ids": np.arange(4),
        "interaction": np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.4, 0.6]]),   # top-1 hits 1, 1, 0, 1
        "interaction_reverse": np.zeros((4, 2)), "bidirectional": np.array([False, True, False, False]),
        # relationship argmax at the true pair: 1 (right), 2 (wrong), 2 (right), -
        "relationship": np.array([[0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]]),
        # sample 1 is bidirectional: right at the reversed pair (label 0)
        "relationship_reverse": np.array([[0, 0, 0], [0.9, 0.0, 0.0], [0, 0, 0], [0, 0, 0]], float),
        "reverse_relationship": np.array([-1, 0, -1, -1]),
        "character_hits": np.array([True, False, True, True]), "character_chance": np.full(4, 0.25),
        "joint_hits": np.array([True, False, False, False]), "joint_chance": np.full(4, 0.01),
        "lirec_joint_hits": np.array([True, False, False, False]), "lirec_joint_chance": np.full(4, 0.01),
    }


def test_both_protocols_count_the_four_samples_as_their_definitions_say():
    run = RunConfig.defaults(task="int_rel_char")
    shard, scores = _FourSamples(), _four_sample_scores()
    paper = {name: o.metric() for name, o in outcomes_from_scores(scores, shard, run, "paper").items()}
    lirec = {name: o.metric() for name, o in outcomes_from_scores(scores, shard, run, "lirec").items()}
    # interactions: all four samples, the same in both
    assert (paper["interaction_top1"].accuracy, paper["interaction_top1"].n) == pytest.approx((75.0, 4))
    assert lirec["interaction_top1"] == paper["interaction_top1"]
    # relationship, paper: per labelled pair (keys 10, 11, 12): right, wrong, right
    assert (paper["relationship"].accuracy, paper["relationship"].n) == pytest.approx((200 / 3, 3))
    # lirec (1): per sample, hits of the labelled samples 0, 1 (reversed pair), 2 over the 3 tracked samples
    assert (lirec["relationship"].accuracy, lirec["relationship"].n) == pytest.approx((100.0, 3))
    assert lirec["relationship"].random == pytest.approx(100.0 * (3 / 3) / 3)
    # character, paper: both true characters tracked (0, 3); lirec (3): any character tracked (0, 1, 3)
    assert (paper["character"].accuracy, paper["character"].n) == pytest.approx((100.0, 2))
    assert (lirec["character"].accuracy, lirec["character"].n) == pytest.approx((200 / 3, 3))
    # joint, paper: tracked pair and a relationship label (0 only); lirec (2): every tracked sample
    assert (paper["joint"].accuracy, paper["joint"].n) == pytest.approx((100.0, 1))
    assert (lirec["joint"].accuracy, lirec["joint"].n) == pytest.approx((100 / 3, 3))
    # a task without characters: relationship accuracy is pair level in both protocols
    run = RunConfig.defaults(task="int_rel")
    plain = {k: v for k, v in scores.items() if k in ("sample_ids", "interaction", "relationship")}
    assert outcomes_from_scores(plain, shard, run, "lirec")["relationship"].metric() == paper["relationship"]


def test_any_character_tracked_on_a_real_shard(tmp_path):
    from pipeline.formats.shard import SampleShard

    _, val, _ = learnable_shards(tmp_path, train_movies=1, val_movies=2, clips_per_movie=8)
    shard = SampleShard(val)
    expected = [bool(shard.has_track[shard.char_offset[i]:shard.char_offset[i + 1]].any()) for i in range(len(shard))]
    assert shard.any_character_tracked().tolist() == expected
    assert (shard.any_character_tracked() >= shard.pair_visible()).all()


def test_sample_identities_are_the_same_for_every_pooling(tmp_path):
    from model.evaluate import _fingerprint
    from pipeline.formats.shard import SampleShard

    prints = []
    for pooling in ("max", "avg"):
        _, val, _ = learnable_shards(tmp_path / pooling, train_movies=1, val_movies=1, clips_per_movie=6,
                                     pooling=pooling)
        shard = SampleShard(val)
        labelled = np.unique(shard.rel_key[shard.relationship >= 0])
        prints.append((_fingerprint(shard.sample_identities()), _fingerprint(shard.group_identities(labelled))))
    assert prints[0] == prints[1] and prints[0][0]["count"] > 0
    assert _fingerprint([("m", "c", 1)] * 2) != _fingerprint([("m", "c", 1)])


def test_evaluation_file_holds_outcomes_and_repeats(tmp_path, caplog):
    from model.train import main as train_main

    train, val, _ = learnable_shards(tmp_path, train_movies=2, val_movies=1, clips_per_movie=6)
    config = experiment_config("int_rel_char", epochs=2, train={"repeats": 2})
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    models = tmp_path / "model"
    assert train_main(["--config", str(config_file), "--experiment", "exp", "--train", str(train), "--val", str(val),
                       "--out-dir", str(models), "--no-progress"]) == 0
    checkpoints = [models / "best.pt", models / "repeat1" / "best.pt"]
    assert all(path.is_file() for path in checkpoints)
    out = tmp_path / "eval" / "val.json"
    args = ["--config", str(config_file), "--experiment", "exp", "--samples", str(val), "--out", str(out)]
    assert evaluate_main(args + ["--checkpoint", *map(str, checkpoints)]) == 0
    report = json.loads(out.read_text())
    from model.config import repeat_seed

    assert [r["seed"] for r in report["repeats"]] == [0, repeat_seed(0, 1)]
    assert report["protocol"] == "paper" and report["units"]["sample"]["count"] == report["num_samples"]
    for name, entry in report["metrics"].items():
        outcome = report["outcomes"][name]
        per_seed = [r["accuracy"][name] for r in report["repeats"]]
        assert entry["seeds"] == 2 and entry["accuracy"] == pytest.approx(np.mean(per_seed))
        assert entry["seed_sd"] == pytest.approx(np.std(per_seed, ddof=1))
        counted = np.array([c == "1" for c in outcome["counted"]])
        assert entry["n"] == counted.sum() and len(outcome["hits"]) == 2
        for hits, accuracy in zip(outcome["hits"], per_seed):   # the outcomes make the metric
            assert 100 * sum(c == "1" for c in hits) / counted.sum() == pytest.approx(accuracy)
    assert report["outcomes"]["relationship"]["unit"] == "pair"
    assert len(report["outcomes"]["relationship"]["counted"]) == report["units"]["pair"]["count"]
    # the lirec protocol changes the character counts, not the models
    lirec = tmp_path / "lirec.json"
    assert evaluate_main(args[:-1] + [str(lirec), "--settings", json.dumps({"evaluation": {"protocol": "lirec"}}),
                                      "--checkpoint", *map(str, checkpoints)]) == 0
    other = json.loads(lirec.read_text())
    assert other["protocol"] == "lirec" and other["outcomes"]["relationship"]["unit"] == "sample"
    assert other["metrics"]["character"]["n"] >= report["metrics"]["character"]["n"]
    assert other["metrics"]["interaction_top1"] == report["metrics"]["interaction_top1"]
    # one checkpoint per repeat, or one clear line
    with caplog.at_level("ERROR", logger="model.evaluate"):
        assert evaluate_main(args + ["--checkpoint", str(checkpoints[0])]) == 2
    assert "train.repeats is 2" in caplog.text
