"""Training: the joint model really learns (CPU, well under a minute), checkpoints, and resume."""
from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from _model_helpers import experiment_config, learnable_shards
from model.config import RunConfig
from pipeline.formats.shard import SampleShard
from model.evaluate import evaluate_model
from model.checkpoint import load_checkpoint
from model.train import train_model

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return learnable_shards(tmp_path_factory.mktemp("train"), train_movies=4, val_movies=2, clips_per_movie=10)


@pytest.mark.parametrize("experiment", [
    dict(supervision="full"),
    dict(supervision="weak", sampling=True, negatives="sum_max"),
])
def test_joint_model_learns_above_random_on_the_training_set(shards, tmp_path, experiment):
    train, val, _ = shards
    torch.set_num_threads(1)
    run = RunConfig.from_config(experiment_config("int_rel_char", epochs=20, train={"burn_in": 10}, **experiment),
                                "exp")
    train_model(run, train, val, tmp_path, progress=False)
    model, run, _ = load_checkpoint(tmp_path / "last.pt", torch.device("cpu"))
    metrics = evaluate_model(model, SampleShard(train), run, torch.device("cpu"))
    for name in ("interaction_top1", "character", "joint", "relationship"):
        assert metrics[name].n > 0
        assert metrics[name].accuracy > 2 * metrics[name].random, (name, metrics[name])


def test_checkpoint_and_log_contents(shards, tmp_path):
    train, val, classes = shards
    run = RunConfig.from_config(experiment_config("int_char", epochs=3, train={"eval_every": 2}), "exp")
    summary = train_model(run, train, val, tmp_path, progress=False)
    best = torch.load(tmp_path / "best.pt", weights_only=False)
    assert best["epoch"] in (2, 3) and best["metric"] == "interaction_top1+character" and best["value"] == summary["best"]["value"]
    assert best["run"]["experiment"]["task"] == "int_char"
    assert best["shard"]["interaction_names"] == classes.interactions
    model, loaded_run, _ = load_checkpoint(tmp_path / "best.pt", torch.device("cpu"))
    assert loaded_run == run and not model.training
    with open(tmp_path / "train_log.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert rows[0]["val_joint"] == "" and rows[1]["val_joint"] != "" and rows[2]["val_joint"] != ""
    assert not list(tmp_path.glob(".*.tmp"))


def _final_state(out_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(out_dir / "last.pt", weights_only=False)["model"]


def _assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_resume_between_epochs_gives_the_uninterrupted_result(shards, tmp_path):
    train, val, _ = shards
    run = RunConfig.from_config(experiment_config("int_rel_char", supervision="weak", sampling=True,
                                                  negatives="sum_max", epochs=5, train={"burn_in": 2}), "exp")
    train_model(run, train, val, tmp_path / "whole", progress=False)
    first = train_model(run, train, val, tmp_path / "split", progress=False, stop_after_epochs=3)
    assert first["epochs_done"] == 3 and len(first["log"]) == 3
    second = train_model(run, train, val, tmp_path / "split", progress=False)
    assert second["epochs_done"] == 5 and len(second["log"]) == 5
    _assert_same_weights(_final_state(tmp_path / "whole"), _final_state(tmp_path / "split"))
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in second["log"]]
    whole = torch.load(tmp_path / "whole" / "last.pt", weights_only=False)["log"]
    assert strip == [{k: v for k, v in row.items() if k != "seconds"} for row in whole]


def test_killed_run_resumes_to_the_same_result(shards, tmp_path):
    """SIGTERM the entry point once it has saved an epoch; the rerun ends where an uninterrupted run does."""
    train, val, _ = shards
    config = experiment_config("int_char", epochs=20, train={"eval_every": 5})
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "model.train", "--config", str(config_file), "--experiment", "exp",
               "--train", str(train), "--val", str(val), "--out-dir", str(out), "--threads", "1", "--no-progress"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "last.pt").exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    done = torch.load(out / "last.pt", weights_only=False)["epoch"]
    assert process.returncode != 0 and done < 20, stderr  # it was interrupted
    assert not list(out.glob(".*.tmp"))                   # no temp file left behind
    run = RunConfig.from_config(config, "exp")
    torch.set_num_threads(1)
    resumed = train_model(run, train, val, out, progress=False)
    assert resumed["epochs_done"] == 20 and [row["epoch"] for row in resumed["log"]] == list(range(1, 21))
    train_model(run, train, val, tmp_path / "whole", progress=False)
    _assert_same_weights(_final_state(tmp_path / "whole"), _final_state(out))


def test_movie_batching_covers_every_sample_with_few_movies_per_batch(shards, tmp_path):
    import numpy as np

    from model.data import batch_order

    shard = SampleShard(shards[0])
    batches = batch_order(shard, 16, np.random.default_rng(0), grouping="movie")
    ids = np.concatenate(batches)
    assert sorted(ids.tolist()) == list(range(len(shard)))
    assert max(len(np.unique(shard.movie[batch])) for batch in batches) <= 2
    assert batch_order(shard, 16, None)[0].tolist() == list(range(16))  # evaluation: shard order
    run = RunConfig.from_config(experiment_config("int_rel", epochs=2, train={"batching": "movie"}), "exp")
    assert train_model(run, shards[0], shards[1], tmp_path, progress=False)["best"]["epoch"] == 2


def test_rerun_after_outputs_removed_restores_them_and_new_data_starts_over(shards, tmp_path, caplog):
    """Snakemake removes a job's outputs before rerunning it: best.pt/log come back from last.pt,
    and a changed sample shard never resumes an old run."""
    train, val, _ = shards
    run = RunConfig.from_config(experiment_config("int", epochs=2, train={"eval_every": 1}), "exp")
    train_model(run, train, val, tmp_path, progress=False)
    best_before = torch.load(tmp_path / "best.pt", weights_only=False)["epoch"]
    (tmp_path / "best.pt").unlink()
    (tmp_path / "train_log.csv").unlink()
    train_model(run, train, val, tmp_path, progress=False)
    assert torch.load(tmp_path / "best.pt", weights_only=False)["epoch"] == best_before
    assert (tmp_path / "train_log.csv").is_file()

    changed = tmp_path / "train_changed.h5"
    changed.write_bytes(Path(train).read_bytes() + b"\0")  # same shard content, other bytes
    with caplog.at_level("WARNING", logger="model.train"):
        summary = train_model(run, changed, val, tmp_path, progress=False)
    assert "starting from scratch" in caplog.text
    assert len(summary["log"]) == 2
