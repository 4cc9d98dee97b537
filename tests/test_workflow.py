"""The workflow on the tiny demo, with the Snakemake CLI.

Default suite: one real run of ``results/table1.csv`` (tiny demo dataset, the real I3D weights, visual
and dialog features, annotations, samples, four models trained for a few epochs and evaluated, the
table), then: the table's rows and ranges, that changing one extractor's setting reruns exactly that
stage and what depends on it, lint and dry runs. Slow suite (``make test-slow``): the whole ``all``
target (every table, figure 5, the report) and a learning check on its shards.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from _workflow_helpers import TINY_CONFIG
from _workflow_helpers import snakemake as _snakemake
from model.tables import TABLES
from tests.conftest import REPO_ROOT

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("workflow")
    _snakemake(workdir, "--cores", "2", "all")
    return workdir


def _check_table(results: Path, number: int) -> None:
    spec = TABLES[number]
    with open(results / f"table{number}.csv") as handle:
        records = list(csv.DictReader(handle))
    assert [r["row"] for r in records] == [row.label for row in spec.rows], number
    for record, row in zip(records, spec.rows):
        for column in (row.metrics or spec.columns):
            value, n = record[column], record[f"{column}_n"]
            assert value != "", (number, row.label, column)
            assert 0.0 <= float(value) <= 100.0
            assert int(n) > 0
    assert (results / f"table{number}.md").is_file()


def test_table1_run_makes_only_what_it_needs(table1_run):
    _check_table(table1_run / "results", 1)
    trained = sorted(path.name for path in (table1_run / "work" / "models").iterdir())
    assert trained == sorted(row.experiment for row in TABLES[1].rows)
    assert (table1_run / "benchmarks" / "train" / "int_all.tsv").is_file()
    assert not (table1_run / "results" / "table7.csv").exists()


def test_lint_and_dry_run_on_a_fresh_directory(tmp_path):
    result = _snakemake(tmp_path, "-n", "results/table7.csv")
    assert "demo_dataset" in result.stdout and "visual_features" in result.stdout
    lint = _snakemake(tmp_path, "--lint", check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.slow
def test_every_table_has_its_rows_and_columns_in_range(finished_run):
    results = finished_run / "results"
    for number in TABLES:
        _check_table(results, number)
    assert (results / "figure5.png").stat().st_size > 1000
    report = (results / "report.md").read_text()
    assert "## Table 7" in report and "paper" in report


@pytest.mark.slow
def test_trained_models_and_evaluations_exist(finished_run):
    evaluation = json.loads((finished_run / "work" / "eval" / "int_rel_char_full" / "test.json").read_text())
    assert {"interaction_top1", "relationship", "character", "joint"} <= set(evaluation["metrics"])
    assert (finished_run / "work" / "models" / "int_all" / "best.pt").is_file()
    assert (finished_run / "benchmarks" / "train" / "int_all.tsv").is_file()


def test_changing_a_visual_setting_reruns_only_visual_and_downstream(table1_run):
    changed = dict(TINY_CONFIG, visual={"batch_size": 4, "roi": {"op": "roi_pool"}})
    result = _snakemake(table1_run, "-n", "results/table1.csv", config=changed)
    scheduled = result.stdout
    assert "visual_features" in scheduled and "samples" in scheduled and "train" in scheduled
    for untouched in ("dialog_features", "demo_dataset", "annotations", "i3d_weights"):
        assert f"rule {untouched}:" not in scheduled, untouched
    nothing = _snakemake(table1_run, "-n", "results/table1.csv")
    assert "Nothing to be done" in nothing.stdout + nothing.stderr


@pytest.mark.slow
def test_joint_model_learns_on_the_tiny_demo(finished_run, tmp_path):
    """Issue 6's learning check on real tiny-demo shards (the workflow's own features)."""
    import torch

    from model.checkpoint import load_checkpoint
    from model.config import RunConfig
    from model.evaluate import evaluate_model
    from model.train import train_model
    from pipeline.config import load_config
    from pipeline.formats.shard import SampleShard

    torch.set_num_threads(1)
    config = load_config(REPO_ROOT / "workflow_config.yaml",
                         overrides={"train": {"epochs": 30, "burn_in": 10, "batch_size": 16, "lr": 0.001}})
    run = RunConfig.from_config(config, "int_rel_char_full")
    shards = finished_run / "work" / "samples" / "max"
    train_model(run, shards / "train.h5", shards / "val.h5", tmp_path, progress=False)
    model, run, _ = load_checkpoint(tmp_path / "last.pt", torch.device("cpu"))
    metrics = evaluate_model(model, SampleShard(shards / "train.h5"), run, torch.device("cpu"))
    for name in ("interaction_top1", "character", "relationship"):
        assert metrics[name].n > 0
        assert metrics[name].accuracy > metrics[name].random + 10.0, (name, metrics[name])
