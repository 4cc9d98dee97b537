"""Tables, figure 5 and the report gathered from evaluation files (synthetic evaluations here)."""
from __future__ import annotations

import csv
import json
import random

import pytest

from model import report, tables
from model.tables import TABLES, required_evaluations
from pipeline.errors import PipelineError

# What each table column reports, written out independently of model.tables (the paper's columns).
COLUMN_METRIC = {"int_top1": "interaction_top1", "int_soft_top1": "interaction_soft_top1",
                 "int_top5": "interaction_top5", "int_acc": "interaction_top1", "rel_acc": "relationship",
                 "char_acc": "character", "joint_acc": "joint"}


def _metric(accuracy: float, n: int, chance: float) -> dict:
    return {"accuracy": accuracy, "n": n, "random": chance}


UNITS = {"sample": {"count": 400, "sha256": "val samples"}, "pair": {"count": 90, "sha256": "val pairs"}}
UNIT_OF = {"relationship": "pair"}
SIZE = {"relationship": 90, "character": 300, "joint": 250}


def _outcome(hits, chance: float, unit: str = "sample", counted=None) -> dict:
    """An outcome entry as model.evaluate writes it; ``hits`` one 0/1 list per repeat (or one list)."""
    per_repeat = hits if isinstance(hits[0], (list, tuple)) else [hits]
    n = len(per_repeat[0])
    counted = "1" * n if counted is None else counted
    return {"unit": unit, "counted": counted, "scored": counted, "chance": [chance] * n,
            "hits": ["".join("1" if h else "0" for h in row) for row in per_repeat]}


def _first(k: int, n: int) -> list[int]:
    return [1] * k + [0] * (n - k)


def _set_metric(payload: dict, name: str, hits: list[int], chance: float) -> None:
    """Metric and outcomes of one evaluation file from the same per-unit hits."""
    n = len(hits)
    payload["metrics"][name] = _metric(100.0 * sum(hits) / n, n, 100.0 * chance)
    payload["outcomes"][name] = _outcome(hits, chance, UNIT_OF.get(name, "sample"))


def _write_evaluations(eval_dir, rng: random.Random) -> None:
    needed = {pair for number in TABLES for pair in required_evaluations(number)}
    needed |= set(required_evaluations("figure5"))
    chances = {"interaction_top1": 0.04, "interaction_soft_top1": 0.08, "interaction_top5": 0.2,
               "relationship": 0.0667, "character": 0.15, "joint": 0.005}
    ranges = {"interaction_top1": (20, 60), "interaction_soft_top1": (60, 70), "interaction_top5": (70, 90),
              "relationship": (20, 60), "character": (20, 90), "joint": (1, 20)}
    for experiment, split in needed:
        payload = {"experiment": experiment, "protocol": "paper", "units": UNITS, "metrics": {}, "outcomes": {}}
        for name, (low, high) in ranges.items():
            n = SIZE.get(name, 400)
            _set_metric(payload, name, _first(round(rng.uniform(low, high) * n / 100), n), chances[name])
        payload["relationship_vs_clips"] = {str(k): _metric(100 * (18 + k) / 90, 90, 6.67) for k in (1, 2, 4, 18)}
        payload["relationship_vs_clips_outcomes"] = {str(k): _outcome(_first(18 + k, 90), 0.0667, "pair")
                                                     for k in (1, 2, 4, 18)}
        path = eval_dir / experiment / f"{split}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload))


def _update(eval_dir, experiment: str, split: str, change) -> None:
    path = eval_dir / experiment / f"{split}.json"
    payload = json.loads(path.read_text())
    change(payload)
    path.write_text(json.dumps(payload))


SETTINGS = report.ReportSettings(demo_dataset=True, resamples=2000, seed=0)


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
    eval_dir = tmp_path / "eval"
    _write_evaluations(eval_dir, random.Random(2))
    # Table 1 (n = 400, hits on the first units): dialog 60% > visual 20% (nested: reproduced);
    # visual + dialog 50% < dialog (opposite); tracks 51%: 10 of visual + dialog's hits lost, 14 gained
    # (McNemar p = 0.54, the paired interval includes 0: not resolved).
    hits = {"int_visual": _first(80, 400), "int_dialog": _first(240, 400), "int_visual_dialog": _first(200, 400),
            "int_all": _first(190, 400)}
    hits["int_all"][200:214] = [1] * 14
    for experiment, values in hits.items():
        _update(eval_dir, experiment, "val", lambda p, v=values: _set_metric(p, "interaction_top1", v, 0.04))
    # Table 5: weak pairs 40% against a chance of 15% per sample: reproduced against Random
    _update(eval_dir, "int_char_weak_sum_max", "val", lambda p: _set_metric(p, "character", _first(120, 300), 0.15))
    # Table 4: the avg model was evaluated on other samples: nothing to pair
    _update(eval_dir, "int_all_avg", "val", lambda p: p.update(units={**UNITS, "sample": {"count": 400,
                                                                                         "sha256": "other"}}))
    points = tables.write_figure5(eval_dir, tmp_path / "results" / "figure5.png")
    assert [p["clips"] for p in points] == [1, 2, 4, 18]
    assert (tmp_path / "results" / "figure5.png").stat().st_size > 1000
    assert (tmp_path / "results" / "figure5.csv").read_text().startswith("clips,rel_acc")
    text = report.render_report(eval_dir, tmp_path / "results", None, SETTINGS)
    for number in TABLES:
        assert f"## Table {number}" in text
    verdicts = _claim_rows(text)
    assert set(verdicts) == {claim.text for claim in report.CLAIMS}
    assert set(verdicts.values()) <= {"reproduced", "opposite", "not resolved", "n/a"}
    assert verdicts["dialog alone beats visual alone"] == "reproduced"
    assert verdicts["visual + dialog beats dialog alone"] == "opposite"
    assert verdicts["tracks add to visual + dialog"] == "not resolved"
    assert verdicts["weak labels localise pairs above random"] == "reproduced"
    assert verdicts["max pooling beats average pooling"] == "n/a"
    tracks = next(line for line in text.splitlines() if line.startswith("| tracks add to visual + dialog"))
    assert "difference +1.0 points, paired 95% interval [" in tracks and "McNemar p = 0.541" in tracks
    assert "not evaluated on the same units" in text
    # figure 5: 36/90 with 18 clips vs 19/90 with 1 (nested): +18.9 points, interval above 0
    assert "relationship accuracy with 18 clips at least 10 points above 1 clip (paired interval excluding 0) | met" \
        in text
    assert "visual-only at least 5 points below visual+dialog (val, paired interval excluding 0) | met" in text
    assert "dialog-only at least 5 points below visual+dialog (val, paired interval excluding 0) | missed" in text
    assert "The numbers below use protocol `paper`" in text
    # The demo's calibration targets are demo knowledge: not in a report on another dataset.
    assert "Calibration targets" in text
    other = report.render_report(eval_dir, tmp_path / "results", None,
                                 report.ReportSettings(demo_dataset=False, resamples=2000, seed=0))
    assert "Calibration targets" not in other and "## Table 7" in other


def test_report_names_the_protocol_and_figure2(tmp_path):
    eval_dir = tmp_path / "eval"
    _write_evaluations(eval_dir, random.Random(4))
    for experiment, split in {pair for number in TABLES for pair in required_evaluations(number)}:
        _update(eval_dir, experiment, split, lambda p: p.update(protocol="lirec"))
    _update(eval_dir, "int_char_weak_sum_max", "val", lambda p: p.update(weak_pair_candidates="all"))
    results = tmp_path / "results"
    results.mkdir()
    (results / "figure2.csv").write_text("interaction,relationship,count,correlation\n"
                                         "hugs,friend,3,0.8000\nhits,enemy,2,0.9000\nhugs,enemy,0,0.0000\n")
    text = report.render_report(eval_dir, results, None, SETTINGS)
    assert "The numbers below use protocol `lirec`" in text and "among `all` candidates" in text
    section = text[text.index("## Figure 2"):]
    assert section.index("| hits | enemy | 2 | 0.90 |") < section.index("| hugs | friend | 3 | 0.80 |")
    assert "| hugs | enemy |" not in section
    _update(eval_dir, "int_visual", "val", lambda p: p.update(protocol="paper"))
    assert "do not share one protocol (lirec, paper)" in report.render_report(eval_dir, results, None, SETTINGS)


def test_repeats_show_the_mean_and_spread_over_seeds(tmp_path):
    eval_dir = tmp_path / "eval"
    _write_evaluations(eval_dir, random.Random(5))

    def two_seeds(payload):
        payload["metrics"]["interaction_top1"] = {**_metric(45.0, 400, 4.0), "seeds": 2, "seed_sd": 7.07}
        payload["outcomes"]["interaction_top1"] = _outcome([_first(160, 400), _first(200, 400)], 0.04)

    _update(eval_dir, "int_dialog", "val", two_seeds)
    rows = tables.build_table(1, eval_dir)
    dialog = next(r for r in rows if r["row"] == "Dialog")
    assert (dialog["int_top1"], dialog["int_top1_seeds"], dialog["int_top1_seed_sd"]) == (45.0, 2, 7.07)
    csv_text = tables.table_csv(1, rows)
    assert "int_top1_seeds,int_top1_seed_sd" in csv_text.splitlines()[0]
    assert "45.0 ± 4.9 (n=400; 2 seeds, sd 7.1)" in tables.table_markdown(1, rows)
    # the claim pairs the seed-averaged hits (1, 0.5, 0 per unit) with the other row's
    series = report.Evaluations(eval_dir).row_series(1, "Dialog", "int_top1")
    assert series.numerator[:160].tolist() == [1.0] * 160 and series.numerator[160:200].tolist() == [0.5] * 40
    # tables of models without repeats keep their columns
    assert "seeds" not in tables.table_csv(2, tables.build_table(2, eval_dir))
