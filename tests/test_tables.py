"""Tables, figure 5 and the report gathered from evaluation files (synthetic evaluations here)."""
from __future__ import annotations

import csv
import json
import random

import pytest

from model import report, tables
from model.tables import TABLES, required_evaluations
from pipeline.errors import PipelineError
from pipeline.stats import binomial_ci95

# What each table column reports, written out independently of model.tables (the paper's columns).
COLUMN_METRIC = {"int_top1": "interaction_top1", "int_soft_top1": "interaction_soft_top1",
                 "int_top5": "interaction_top5", "int_acc": "interaction_top1", "rel_acc": "relationship",
                 "char_acc": "character", "joint_acc": "joint"}


def _metric(accuracy: float, n: int, chance: float) -> dict:
    return {"accuracy": accuracy, "n": n, "random": chance}


def _write_evaluations(eval_dir, rng: random.Random) -> None:
    needed = {pair for number in TABLES for pair in required_evaluations(number)}
    needed |= set(required_evaluations("figure5"))
    for experiment, split in needed:
        metrics = {
            "interaction_top1": _metric(rng.uniform(20, 60), 400, 4.0),
            "interaction_soft_top1": _metric(rng.uniform(60, 70), 400, 8.0),
            "interaction_top5": _metric(rng.uniform(70, 90), 400, 20.0),
            "relationship": _metric(rng.uniform(20, 60), 90, 6.67),
            "character": _metric(rng.uniform(20, 90), 300, 15.0),
            "joint": _metric(rng.uniform(1, 20), 250, 0.5),
        }
        payload = {"experiment": experiment, "metrics": metrics,
                   "relationship_vs_clips": {str(k): _metric(20 + k, 90, 6.67) for k in (1, 2, 4, 18)}}
        path = eval_dir / experiment / f"{split}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload))


def test_every_table_has_the_paper_rows_and_columns(tmp_path):
    _write_evaluations(tmp_path / "eval", random.Random(0))
    for number, spec in TABLES.items():
        out = tmp_path / "results" / f"table{number}.csv"
        rows = tables.write_table(number, tmp_path / "eval", out)
        with open(out) as handle:
            records = list(csv.DictReader(handle))
        assert [r["row"] for r in records] == [row.label for row in spec.rows]
        for column in spec.columns:
            assert column in records[0] and f"{column}_n" in records[0]
        for record in rows:
            for column in spec.columns:
                value = record[column]
                assert value is None or 0.0 <= value <= 100.0
        assert out.with_suffix(".md").read_text().startswith(f"**Table {number}.**")


def test_random_rows_take_the_baseline_and_rows_only_their_metrics(tmp_path):
    _write_evaluations(tmp_path / "eval", random.Random(1))
    rows = tables.build_table(7, tmp_path / "eval")
    random_row = rows[0]
    assert random_row["row"] == "Random" and random_row["char_acc"] == pytest.approx(15.0)
    assert random_row["char_acc_ci95"] is None
    rel_only = next(r for r in rows if r["row"] == "Rel only")
    assert rel_only["int_acc"] is None and rel_only["rel_acc"] is not None and rel_only["rel_acc_n"] == 90


def test_each_cell_is_its_experiments_metric(tmp_path):
    """Every cell holds the evaluation metric of its column, read from its row's experiment (or the
    Random row's baseline), on the table's split; other rows' and other metrics' numbers never leak in."""
    rng = random.Random(3)
    values: dict[tuple[str, str, str], tuple[float, float]] = {}
    needed = {pair for number in TABLES for pair in required_evaluations(number)}
    for experiment, split in needed:
        metrics = {}
        for metric in sorted(set(COLUMN_METRIC.values())):
            accuracy, chance = round(rng.uniform(1, 99), 2), round(rng.uniform(0.1, 20), 2)
            values[(experiment, split, metric)] = (accuracy, chance)
            metrics[metric] = _metric(accuracy, 100 + len(values), chance)
        path = tmp_path / experiment / f"{split}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"experiment": experiment, "metrics": metrics}))
    for number, spec in TABLES.items():
        for row, record in zip(spec.rows, tables.build_table(number, tmp_path)):
            for column in spec.columns:
                if row.metrics is not None and column not in row.metrics:
                    assert record[column] is None, (number, row.label, column)
                    continue
                accuracy, chance = values[(row.experiment or row.random_from, spec.split, COLUMN_METRIC[column])]
                assert record[column] == pytest.approx(chance if row.experiment is None else accuracy), \
                    (number, row.label, column)


def test_missing_evaluation_is_a_clear_error(tmp_path):
    with pytest.raises(PipelineError, match="int_visual"):
        tables.build_table(1, tmp_path / "eval")
    assert tables.main(["--table", "1", "--eval-dir", str(tmp_path / "eval"), "--out", str(tmp_path / "t.csv")]) == 2


def _claim_rows(text: str) -> dict[str, str]:
    """``paper's claim -> verdict`` from the report's claim tables."""
    verdicts = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 3 and any(claim.text == cells[0] for claim in report.CLAIMS):
            verdicts[cells[0]] = cells[1]
    return verdicts


def test_figure5_and_report(tmp_path):
    _write_evaluations(tmp_path / "eval", random.Random(2))
    # Set Table 1 so that one claim clearly holds, one is clearly opposite and one is within noise.
    for experiment, accuracy in (("int_visual", 20.0), ("int_dialog", 60.0), ("int_visual_dialog", 50.0),
                                 ("int_all", 51.0)):
        path = tmp_path / "eval" / experiment / "val.json"
        payload = json.loads(path.read_text())
        payload["metrics"]["interaction_top1"] = _metric(accuracy, 400, 4.0)
        path.write_text(json.dumps(payload))
    points = tables.write_figure5(tmp_path / "eval", tmp_path / "results" / "figure5.png")
    assert [p["clips"] for p in points] == [1, 2, 4, 18]
    assert (tmp_path / "results" / "figure5.png").stat().st_size > 1000
    assert (tmp_path / "results" / "figure5.csv").read_text().startswith("clips,rel_acc")
    text = report.render_report(tmp_path / "eval", tmp_path / "results", None, demo_dataset=True)
    for number in TABLES:
        assert f"## Table {number}" in text
    verdicts = _claim_rows(text)
    assert set(verdicts) == {claim.text for claim in report.CLAIMS}
    assert verdicts["dialog alone beats visual alone"] == "reproduced"
    assert verdicts["visual + dialog beats dialog alone"] == "not reproduced"
    assert verdicts["tracks add to visual + dialog"] == "same direction, within noise"
    assert "relationship accuracy with 18 clips at least 10 points above 1 clip | met" in text
    # The demo's calibration targets are demo knowledge: not in a report on another dataset.
    assert "Calibration targets" in text
    other = report.render_report(tmp_path / "eval", tmp_path / "results", None, demo_dataset=False)
    assert "Calibration targets" not in other and "## Table 7" in other


def test_binomial_interval():
    assert binomial_ci95(0.5, 100) == pytest.approx(0.098, abs=1e-3)
    assert binomial_ci95(1.0, 10) == 0.0
