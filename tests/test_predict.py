"""Prediction on a movie: the Figure 6 answers, the workflow target on the tiny demo's test movie (its
accuracy equals the evaluation's), the page in a real browser, the command line with its feature
cache and queries, missing modalities and bad input."""
from __future__ import annotations

import io
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from _browser_helpers import browser_or_skip, load_page
from _model_helpers import experiment_config, learnable_shards
from tests._workflow_helpers import TINY_CONFIG, run_snakemake
from model.checkpoint import (FeatureMismatchError, check_features, load_checkpoint, read_checkpoint,
                              save_checkpoint)
from model.config import RunConfig
from model.evaluate import collect_scores
from model.predict import ClipScores, Classes, answer, score_samples
from model.predict import main as predict_main
from model.train import train_model
from pipeline.formats.shard import SampleShard

MOVIE = "dm0004"          # the tiny demo's test movie
EXPERIMENT = "int_rel_char_full"


# --- the answers --------------------------------------------------------------------------------------
def _random_scores(seed: int, pairs: int = 4, interactions: int = 3, relationships: int = 2) -> ClipScores:
    rng = np.random.default_rng(seed)
    candidates = [("ann", "bob"), ("bob", "ann"), ("ann", None), (None, "bob")][:pairs]
    return ClipScores(sample=0, clip="c", candidates=candidates, interaction=rng.random((pairs, interactions)),
                      relationship=rng.random((pairs, relationships)), context=[[0]] * pairs)


def test_answers_are_argmaxes_of_the_pair_interaction_relationship_tensor():
    classes = Classes(["talks", "hugs", "hits"], ["friend", "enemy"])
    for seed in range(10):
        scores = _random_scores(seed)
        s_int, s_rel = scores.interaction, scores.relationship
        best = max(itertools.product(range(4), range(3), range(2)),
                   key=lambda x: s_int[x[0], x[1]] + s_rel[x[0], x[2]])
        joint = answer(scores, classes)                               # (d) all three jointly
        assert (joint["subject"], joint["object"]) == scores.candidates[best[0]]
        assert (joint["interaction"], joint["relationship"]) == (classes.interactions[best[1]],
                                                                 classes.relationships[best[2]])
        assert joint["score"] == pytest.approx(s_int[best[0], best[1]] + s_rel[best[0], best[2]], abs=1e-5)
        # (a) pair + interaction -> relationship; (b) pair + relationship -> interaction
        a = answer(scores, classes, pair=("bob", "ann"), interaction=2)
        assert a["relationship"] == classes.relationships[int(np.argmax(s_rel[1]))]
        b = answer(scores, classes, pair=("bob", "ann"), relationship=0)
        assert b["interaction"] == classes.interactions[int(np.argmax(s_int[1]))]
        # (c) interaction + relationship -> pair
        c = answer(scores, classes, interaction=1, relationship=1)
        assert (c["subject"], c["object"]) == scores.candidates[int(np.argmax(s_int[:, 1] + s_rel[:, 1]))]
        assert [item["score"] for item in c["top"]] == sorted((item["score"] for item in c["top"]), reverse=True)
        assert answer(scores, classes, pair=("cy", "ann")) is None     # not a candidate of the clip


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict_model")
    train, val, classes = learnable_shards(folder, train_movies=2, val_movies=1, clips_per_movie=6)
    run = RunConfig.from_config(experiment_config("int_rel_char", epochs=2), "exp")
    train_model(run, train, val, folder / "model", progress=False)
    return folder / "model" / "best.pt", val, classes


def test_scores_are_the_evaluation_scores_and_the_checkpoint_records_its_features(small_model):
    checkpoint, val, classes = small_model
    model, run, info = load_checkpoint(checkpoint, torch.device("cpu"))
    # what the model was trained on, as plain data (read_checkpoint loads with weights_only=True)
    assert read_checkpoint(checkpoint)["shard"]["features"] == {"visual": {"backbone": "synthetic"}, "dialog": {}}
    shard = SampleShard(val)
    evaluation = collect_scores(model, shard, run, torch.device("cpu"))
    scores = score_samples(model, run, shard, torch.device("cpu"))
    assert [s.sample for s in scores] == evaluation["sample_ids"].tolist()
    for clip in scores:
        slot = int(shard.true_candidate[clip.sample, 0])
        position = clip.sample
        np.testing.assert_allclose(clip.interaction[slot], evaluation["interaction"][position], rtol=1e-5)
        np.testing.assert_allclose(clip.relationship[slot], evaluation["relationship"][position], rtol=1e-5)
        assert len(clip.candidates) == shard.candidate_count[clip.sample]
    signature = info["shard"]
    check_features(checkpoint, signature, "same", {"visual_dim": signature["visual_dim"]}, signature["features"])
    with pytest.raises(FeatureMismatchError) as error:
        check_features(checkpoint, signature, "movie.h5", {"visual_dim": 7, "dialog_dim": None},
                       {"visual": {"backbone": "resnext101"}, "dialog": None})
    message = str(error.value)
    assert str(checkpoint) in message and "movie.h5" in message
    assert "visual.backbone: 'synthetic' vs 'resnext101'" in message and "visual_dim: 24 vs 7" in message


# --- the workflow target on the tiny demo ------------------------------------------------------------
@pytest.fixture(scope="module")
def predicted(table1_run, tmp_path_factory) -> Path:
    """The tiny run copied (mtimes kept), then the prediction target and the evaluation of its model."""
    workdir = tmp_path_factory.mktemp("predict") / "run"
    shutil.copytree(table1_run, workdir, symlinks=True)
    run_snakemake(workdir, "--cores", "2", "results/predict/index.html", f"work/eval/{EXPERIMENT}/test.json")
    return workdir


def test_predict_target_writes_every_output_and_the_evaluation_accuracy(predicted):
    out = predicted / "results" / "predict" / MOVIE
    predictions = json.loads((out / "predictions.json").read_text())
    assert predictions["schema"] == "lirec-predictions/1" and predictions["movie"] == MOVIE
    assert predictions["model"]["experiment"] == EXPERIMENT
    # the accuracy on the movie's annotations is the evaluation code's on the same clips
    evaluation = json.loads((predicted / "work" / "eval" / EXPERIMENT / "test.json").read_text())
    assert predictions["accuracy"]["metrics"] == evaluation["metrics"]
    assert predictions["accuracy"]["samples"] == evaluation["num_samples"]
    interactions = predictions["model"]["interactions"]
    for clip in predictions["clips"]:
        assert clip["characters"] and clip["end"] > clip["start"]
        assert len(clip["pairs"]) == len(clip["characters"]) * (len(clip["characters"]) + 1)  # ordered + singles
        for pair in clip["pairs"]:
            names = [item["name"] for item in pair["interactions"]]
            assert len(names) == 5 and set(names) <= set(interactions)
        best = clip["pairs"][0]
        assert (clip["joint"]["subject"], clip["joint"]["object"]) == (best["subject"], best["object"])
        assert clip["joint"]["interaction"] == best["interactions"][0]["name"]
        assert "annotations" in clip
    pairs = {(p["subject"], p["object"]): p for p in predictions["pairs"]}
    for (subject, object_), pair in pairs.items():
        assert len(pair["context_clips"]) <= predictions["model"]["rel_clips"]
        assert set(pair["context_clips"]) <= set(pair["clips"])
        assert pair["relationship"] == pair["relationships"][0]["name"]
    graph = json.loads((out / "graph.json").read_text())
    assert graph["schema"] == "lirec-social-graph/1"
    assert {node["id"] for node in graph["nodes"]} == {name for clip in predictions["clips"]
                                                       for name in clip["characters"]}
    assert all(node["screen_time"] > 0 for node in graph["nodes"])
    assert {(edge["source"], edge["target"]) for edge in graph["edges"]} == set(pairs)
    timeline = sorted(item["clip"] for edge in graph["edges"] for item in edge["interactions"])
    assert timeline == sorted(clip["clip"] for clip in predictions["clips"]   # the clips' joint answers
                              if clip["joint"]["subject"] and clip["joint"]["object"])
    assert (out / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "index.html").read_text()
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert (predicted / "results" / "predict" / "index.html").is_file()


def _graph_pixels(visit) -> np.ndarray:
    from PIL import Image

    rect = json.loads(visit.values[GRAPH_RECT])
    image = np.asarray(Image.open(io.BytesIO(visit.screenshot)).convert("RGB")).astype(int)
    return image[int(rect["top"]):int(rect["bottom"]), int(rect["left"]):int(rect["right"])]


GRAPH_RECT = "JSON.stringify(document.getElementById('graph').getBoundingClientRect())"
GRAPH_LOADED = "document.getElementById('graph').complete && document.getElementById('graph').naturalWidth"


def test_page_loads_offline_without_console_errors_and_shows_the_graph(predicted):
    chromium = browser_or_skip()
    out = predicted / "results" / "predict" / MOVIE
    graph = json.loads((out / "graph.json").read_text())
    visit = load_page(chromium, out / "index.html", (GRAPH_RECT, GRAPH_LOADED,
                                                     "document.querySelectorAll('article.clip img').length",
                                                     "document.querySelectorAll('#timeline rect').length"))
    assert visit.errors() == []
    assert all(url.startswith(("file://", "data:")) for url in visit.requests), visit.requests
    assert visit.values[GRAPH_LOADED] > 0
    predictions = json.loads((out / "predictions.json").read_text())
    assert visit.values["document.querySelectorAll('article.clip img').length"] == len(predictions["clips"])
    assert visit.values["document.querySelectorAll('#timeline rect').length"] == sum(
        len(edge["interactions"]) for edge in graph["edges"])
    pixels = _graph_pixels(visit)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300
    assert (np.abs(pixels - 255).sum(axis=2) > 60).mean() > 0.02       # not a blank box
    for node in graph["nodes"]:                                        # every character's disc is drawn
        color = np.array([int(node["color"][k:k + 2], 16) for k in (1, 3, 5)])
        assert (np.abs(pixels - color).sum(axis=2) < 30).sum() > 50, node
    index = load_page(chromium, predicted / "results" / "predict" / "index.html")
    assert index.errors() == []


def test_the_browser_check_sees_errors_and_network_requests(tmp_path):
    chromium = browser_or_skip()
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
                    "<script>console.error('bad'); undefinedFunction();</script></body></html>")
    visit = load_page(chromium, page, settle=0.5)
    errors = " ".join(visit.errors())
    assert "undefinedFunction" in errors and "bad" in errors
    assert "http://127.0.0.1:9/x.png" in visit.requests


# --- the command line ----------------------------------------------------------------------------------
def _config_file(workdir: Path, **sections) -> Path:
    import yaml

    from pipeline.config import deep_update, load_config

    config = load_config(Path(__file__).resolve().parent.parent / "workflow_config.yaml", overrides=TINY_CONFIG)
    deep_update(config, sections)
    path = workdir / "predict_config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_command_line_extracts_with_the_stages_code_caches_and_answers_queries(predicted, monkeypatch, capsys,
                                                                               caplog):
    import h5py

    monkeypatch.chdir(predicted)
    config = _config_file(predicted)
    out = predicted / "cli"
    base = ["--config", str(config), "--movie", MOVIE, "--out-dir", str(out), "--threads", "2"]
    assert predict_main(base) == 0
    cache = predicted / "work" / "predict" / MOVIE
    for kind, vectors in (("visual", "global"), ("dialog", "vectors")):  # the stages' features, recomputed
        with h5py.File(cache / f"{kind}.h5") as mine, \
                h5py.File(predicted / "work" / "features" / kind / f"{MOVIE}.h5") as stage:
            assert list(mine["clips"]) == list(stage["clips"])
            for clip in stage["clips"]:
                np.testing.assert_allclose(mine["clips"][clip][vectors][()], stage["clips"][clip][vectors][()],
                                           atol=2e-3)
    predictions = json.loads((out / "predictions.json").read_text())
    assert predictions["accuracy"] is not None      # the dataset movie's annotations were found
    capsys.readouterr()
    pair = next(p for p in predictions["pairs"] if len(p["clips"]) > 1)
    with caplog.at_level("INFO", logger="model.predict"):
        assert predict_main(base + ["--pair", pair["subject"].upper(), pair["object"], "--interaction",
                                    predictions["model"]["interactions"][3]]) == 0
    assert caplog.text.count("features reused") == 2
    reply = json.loads(capsys.readouterr().out)
    assert reply["asked"] == ["relationship"] and len(reply["answers"]) == len(pair["clips"])
    by_clip = {clip["clip"]: clip for clip in predictions["clips"]}
    for item in reply["answers"]:   # (a): the pair's best relationship in that clip
        scores = next(p for p in by_clip[item["clip"]]["pairs"]
                      if (p["subject"], p["object"]) == (pair["subject"], pair["object"]))
        assert item["relationship"] == scores["relationships"][0]["name"]
    assert predict_main(base + ["--clip", predictions["clips"][0]["clip"], "--ask"]) == 0
    joint = json.loads(capsys.readouterr().out)["answers"][0]
    assert {key: joint[key] for key in predictions["clips"][0]["joint"]} == predictions["clips"][0]["joint"]
    # a changed input file is never served from the cache
    subtitle = sorted((predicted / "data" / "demo" / "clip_srt" / MOVIE).iterdir())[0]
    subtitle.write_text(subtitle.read_text() + "\n")
    caplog.clear()
    with caplog.at_level("INFO", logger="model.predict"):
        assert predict_main(base) == 0
    assert "visual features reused" in caplog.text and "dialog features reused" not in caplog.text


def test_a_movie_without_subtitles_and_tracks_has_zeros_for_them(predicted, monkeypatch):
    monkeypatch.chdir(predicted)
    root = predicted / "own_movies"
    videos = sorted((predicted / "data" / "demo" / "videos" / MOVIE).iterdir())[:2]
    (root / "videos" / "own").mkdir(parents=True)
    for video in videos:
        shutil.copy(video, root / "videos" / "own" / video.name)
    out = predicted / "own_out"
    assert predict_main(["--config", str(_config_file(predicted)), "--movie", "own", "--root", str(root),
                         "--out-dir", str(out)]) == 0
    predictions = json.loads((out / "predictions.json").read_text())
    assert [clip["clip"] for clip in predictions["clips"]] == [video.stem for video in videos]
    assert predictions["accuracy"] is None and predictions["features"]["dialog"] is None
    for clip in predictions["clips"]:
        assert clip["characters"] == [] and clip["dialog"] == []
        assert [(p["subject"], p["object"]) for p in clip["pairs"]] == [(None, None)]
        assert len(clip["pairs"][0]["interactions"]) == 5
    assert json.loads((out / "graph.json").read_text())["nodes"] == []


def test_bad_input_is_one_line_naming_the_folder_or_both_feature_sets(predicted, monkeypatch, caplog, tmp_path):
    monkeypatch.chdir(predicted)
    config = str(_config_file(predicted))
    (tmp_path / "videos" / "empty").mkdir(parents=True)
    with caplog.at_level("ERROR", logger="model.predict"):
        assert predict_main(["--config", config, "--movie", "empty", "--root", str(tmp_path)]) == 2
    assert f"{tmp_path / 'videos' / 'empty'}: no clip videos of movie empty" in caplog.text
    # a checkpoint trained on other features than the movie's
    checkpoint = predicted / "work" / "models" / EXPERIMENT / "best.pt"
    payload = read_checkpoint(checkpoint)
    payload["shard"]["features"]["visual"].update(backbone="resnext101", feature_channels=2048)
    other = tmp_path / "other.pt"
    save_checkpoint(other, payload)
    caplog.clear()
    with caplog.at_level("ERROR", logger="model.predict"):   # before extracting: the settings say i3d
        assert predict_main(["--config", config, "--movie", MOVIE, "--checkpoint", str(other),
                             "--out-dir", str(tmp_path / "out")]) == 2
    assert (f"the config's visual and dialog settings: other features than the model {other} was trained on"
            in caplog.text and "visual.backbone: 'resnext101' vs 'i3d'" in caplog.text)
    caplog.clear()
    visual, dialog = (predicted / "work" / "features" / kind / f"{MOVIE}.h5" for kind in ("visual", "dialog"))
    with caplog.at_level("ERROR", logger="model.predict"):   # feature files made elsewhere
        assert predict_main(["--config", config, "--movie", MOVIE, "--checkpoint", str(other), "--visual",
                             str(visual), "--dialog", str(dialog), "--out-dir", str(tmp_path / "out")]) == 2
    assert f"{visual} and {dialog}: other features than the model {other} was trained on" in caplog.text
    assert "visual.backbone: 'resnext101' vs 'i3d'; visual.feature_channels: 2048 vs 1024" in caplog.text
    # settings that would extract other features stop before any extraction
    caplog.clear()
    narrow = str(_config_file(tmp_path, visual={"input_size": 64, "batch_size": 4}))
    with caplog.at_level("ERROR", logger="model.predict"):
        assert predict_main(["--config", narrow, "--movie", MOVIE, "--out-dir", str(tmp_path / "out")]) == 2
    assert "the config's visual and dialog settings" in caplog.text and "visual.input_size: 112 vs 64" in caplog.text
    assert not (tmp_path / "out").exists()
    caplog.clear()
    with caplog.at_level("ERROR", logger="model.predict"):
        assert predict_main(["--config", config, "--movie", MOVIE, "--out-dir", str(tmp_path / "q"),
                             "--interaction", "juggles"]) == 2
    assert "'juggles': not a class of the model" in caplog.text
