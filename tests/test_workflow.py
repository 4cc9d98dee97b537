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
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from model.tables import TABLES
from tests._workflow_helpers import TINY_CONFIG, run_snakemake
from tests.conftest import REPO_ROOT

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("workflow")
    run_snakemake(workdir, "--cores", "2", "all")
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
    result = run_snakemake(tmp_path, "-n", "results/table7.csv")
    assert "demo_dataset" in result.stdout and "visual_features" in result.stdout
    lint = run_snakemake(tmp_path, "--lint", check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.slow
def test_every_table_has_its_rows_and_columns_in_range(finished_run):
    results = finished_run / "results"
    for number in TABLES:
        _check_table(results, number)
    assert (results / "figure5.png").stat().st_size > 1000 and (results / "figure2.png").stat().st_size > 1000
    report = (results / "report.md").read_text()
    assert "## Table 7" in report and "paper" in report and "## Figure 2" in report
    assert "The numbers below use protocol `paper`" in report


@pytest.mark.slow
def test_trained_models_and_evaluations_exist(finished_run):
    evaluation = json.loads((finished_run / "work" / "eval" / "int_rel_char_full" / "test.json").read_text())
    assert {"interaction_top1", "relationship", "character", "joint"} <= set(evaluation["metrics"])
    assert (finished_run / "work" / "models" / "int_all" / "best.pt").is_file()
    assert (finished_run / "benchmarks" / "train" / "int_all.tsv").is_file()


def test_changing_a_visual_setting_reruns_only_visual_and_downstream(table1_run):
    changed = dict(TINY_CONFIG, visual={"batch_size": 4, "roi": {"op": "roi_pool"}})
    result = run_snakemake(table1_run, "-n", "results/table1.csv", config=changed)
    scheduled = result.stdout
    assert "visual_features" in scheduled and "samples" in scheduled and "train" in scheduled
    for untouched in ("dialog_features", "demo_dataset", "annotations", "i3d_weights"):
        assert f"rule {untouched}:" not in scheduled, untouched
    nothing = run_snakemake(table1_run, "-n", "results/table1.csv")
    assert "Nothing to be done" in nothing.stdout + nothing.stderr


def test_changing_the_protocol_reruns_evaluation_and_tables_not_training(table1_run):
    changed = dict(TINY_CONFIG, evaluation={"protocol": "lirec"})
    scheduled = run_snakemake(table1_run, "-n", "results/table1.csv", config=changed).stdout
    assert "rule evaluate:" in scheduled and "rule table:" in scheduled
    assert "rule train:" not in scheduled and "rule samples:" not in scheduled


def test_figure2_from_the_training_annotations(table1_run):
    run_snakemake(table1_run, "--cores", "1", "results/figure2.png")
    results = table1_run / "results"
    assert (results / "figure2.png").stat().st_size > 1000
    with open(results / "figure2.csv") as handle:
        cells = list(csv.DictReader(handle))
    summary = json.loads((table1_run / "work" / "annotations" / "summary.json").read_text())
    train = summary["splits"]["train"]
    labelled = train["instances"] - train["missing_relationship"]
    assert sum(int(cell["count"]) for cell in cells) == labelled > 0


def test_repeats_train_more_seeds_and_the_first_is_the_run_without_repeats(table1_run, tmp_path):
    workdir = tmp_path / "repeats"
    shutil.copytree(table1_run, workdir, symlinks=True)
    before = json.loads((workdir / "work" / "eval" / "int_visual" / "val.json").read_text())
    config = dict(TINY_CONFIG, train={**TINY_CONFIG["train"], "repeats": 2})
    run_snakemake(workdir, "--cores", "2", "work/eval/int_visual/val.json", config=config)
    assert "resuming int_visual from epoch 3" in (workdir / "logs" / "train" / "int_visual.log").read_text()
    assert (workdir / "work" / "models" / "int_visual" / "repeat1" / "best.pt").is_file()
    after = json.loads((workdir / "work" / "eval" / "int_visual" / "val.json").read_text())
    assert len(after["repeats"]) == 2 and after["repeats"][0]["seed"] == before["repeats"][0]["seed"]
    assert after["outcomes"]["interaction_top1"]["hits"][0] == before["outcomes"]["interaction_top1"]["hits"][0]
    assert after["metrics"]["interaction_top1"]["seeds"] == 2


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


def test_rule_files_are_snakefmt_clean():
    import subprocess
    import sys

    files = [str(REPO_ROOT / "Snakefile"), str(REPO_ROOT / "pipeline" / "rules")]
    result = subprocess.run([str(Path(sys.executable).parent / "snakefmt"), "--check", *files],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _repository_copy(destination: Path) -> Path:
    """The workflow's code (Snakefile, packages, config, profiles) copied, times kept."""
    import shutil

    for name in ("Snakefile", "workflow_config.yaml"):
        shutil.copy2(REPO_ROOT / name, destination / name)
    for name in ("pipeline", "extractors", "model", "profiles", "envs"):
        shutil.copytree(REPO_ROOT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def test_editing_a_stage_s_code_reruns_exactly_that_stage_and_what_follows(table1_run, tmp_path):
    import shutil

    from tests._workflow_helpers import scheduled_jobs

    (tmp_path / "repository").mkdir()
    repository = _repository_copy(tmp_path / "repository")
    work = tmp_path / "work"
    shutil.copytree(table1_run, work, symlinks=True)
    snakefile = repository / "Snakefile"

    def planned() -> dict[str, int]:
        result = run_snakemake(work, "-n", "results/table1.csv", snakefile=snakefile)
        return scheduled_jobs(result.stdout + result.stderr)

    assert planned() == {}
    visual = repository / "extractors" / "visual.py"
    original = visual.read_text()
    visual.write_text(original.replace("Output: :mod:", "Written to: :mod:", 1) + "\n# a comment: changes no code\n")
    assert planned() == {}, "an edit of a docstring or a comment reruns nothing"
    assert "global_vectors = maps.mean(dim=(2, 3))" in original
    visual.write_text(original.replace("global_vectors = maps.mean(dim=(2, 3))",
                                       "global_vectors = maps.amax(dim=(2, 3))"))
    jobs = planned()
    # Table 1 is on val: it needs the train and val movies (2 + 1 in the tiny demo)
    assert jobs["visual_features"] == 3 and {"samples", "train", "evaluate", "table"} <= set(jobs)
    assert not {"dialog_features", "demo_dataset", "annotations", "i3d_weights"} & set(jobs), jobs
    visual.write_text(original)
    dialog = repository / "extractors" / "dialog.py"
    text = dialog.read_text()
    assert "offset += len(sentences)" in text
    dialog.write_text(text.replace("offset += len(sentences)", "offset = offset + len(sentences)"))
    jobs = planned()
    assert jobs.get("dialog_features") == 1 and "train" in jobs
    assert not {"visual_features", "demo_dataset", "annotations"} & set(jobs), jobs


def test_conda_envs_pin_the_tested_versions():
    """envs/*.yaml pin exactly the versions of requirements/local.txt (what the tests ran with)."""
    pins = {}
    for requirements in ("local.txt", "no-deps.txt"):
        for line in (REPO_ROOT / "requirements" / requirements).read_text().splitlines():
            if "==" in line and not line.lstrip().startswith("#"):
                name, version = line.strip().split("==")
                pins[name.lower()] = version
    for env in sorted((REPO_ROOT / "envs").glob("*.yaml")):
        packages = [entry for item in yaml_load(env)["dependencies"] if isinstance(item, dict)
                    for entry in item["pip"]]
        assert packages, env.name
        for entry in packages:
            assert "==" in entry, f"{env.name}: {entry} is not pinned"
            name, version = entry.split("==")
            assert version == pins.get(name.lower()), f"{env.name}: {entry}"


def yaml_load(path: Path):
    import yaml

    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_workflow_report_holds_the_results_with_captions(table1_run, tmp_path):
    """``snakemake --report`` (no --cores needed) gathers the marked outputs with their captions."""
    out = tmp_path / "report.html"
    run_snakemake(table1_run, "--report", str(out), "results/table1.csv")
    html = out.read_text(encoding="utf-8")
    for expected in ("table1.csv", "Table 1 of the paper", "contact_sheet.png", "Demo data"):
        assert expected in html, expected


def test_gpu_requests_follow_the_config_never_the_submitting_host(monkeypatch):
    from pipeline import workflow

    monkeypatch.setattr(workflow, "gpu_present", lambda: True)     # this host has a GPU ...
    assert workflow.gpu_jobs("cpu", local_exec=True) == 0
    assert workflow.gpu_jobs("cuda", local_exec=False) == workflow.gpu_jobs("cuda:1", local_exec=True) == 1
    assert workflow.gpu_jobs("auto", local_exec=True) == 1          # ... and runs the job itself
    assert workflow.gpu_jobs("auto", local_exec=False) == 0         # a login node decides nothing
    monkeypatch.setattr(workflow, "gpu_present", lambda: False)
    assert workflow.gpu_jobs("auto", local_exec=True) == 0
