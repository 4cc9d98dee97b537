"""The paper's result tables (1-7), figure 5 and the report, gathered from evaluation files.

Each table row names the experiment (a trained model in ``workflow_config.yaml``) and the metric that
fills each column; the numbers come from ``work/eval/<experiment>/<split>.json`` written by
``model.evaluate``. "Random" rows come from the random baselines that the evaluation computes from
the data (the expected accuracy of a uniform guess). The paper's own numbers sit beside ours in the
report only, labelled as the paper's. A cell shows the accuracy with the half-width of its binomial
95% interval over the evaluated samples; for an experiment trained with ``train.repeats`` it is the
mean over seeds, with the number of seeds and their standard deviation beside it. Comparisons of two
rows (paired, per sample) are the report's (:mod:`model.report`).

    python -m model.tables --table 7 --eval-dir work/eval --out results/table7.csv
    python -m model.tables --figure5 --eval-dir work/eval --out results/figure5.png
"""
from __future__ import annotations

import csv
import io
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.h5io import atomic_path, write_text_atomic
from pipeline.stats import binomial_ci95

LOG = logging.getLogger("model.tables")

# Metric keys of the evaluation files (model.evaluate) and their column titles.
METRIC_TITLES = {
    "int_top1": "Int. top-1",
    "int_soft_top1": "Int. soft top-1",
    "int_top5": "Int. top-5",
    "int_acc": "Int.",
    "rel_acc": "Rel.",
    "char_acc": "Char.",
    "joint_acc": "Joint",
}


@dataclass(frozen=True)
class Row:
    label: str                       # the row's title, as in the paper
    experiment: str | None           # None for a "Random" row
    paper: dict[str, float | None]   # the paper's numbers per metric (percent), None where "-"
    random_from: str | None = None   # Random rows: the experiment whose evaluation gives the baselines
    metrics: tuple[str, ...] | None = None  # metrics this row fills (default: all table columns)


@dataclass(frozen=True)
class Table:
    number: int
    title: str
    split: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    reading: str = field(default="")  # what the paper's table shows, for the report

    def experiments(self) -> list[str]:
        names = []
        for row in self.rows:
            for name in (row.experiment, row.random_from):
                if name and name not in names:
                    names.append(name)
        return names


TABLES: dict[int, Table] = {
    1: Table(1, "Interaction prediction accuracy for different modalities", "val",
             ("int_top1", "int_soft_top1", "int_top5"),
             (Row("Visual", "int_visual", {"int_top1": 18.7, "int_soft_top1": 24.6, "int_top5": 45.8}),
              Row("Dialog", "int_dialog", {"int_top1": 22.4, "int_soft_top1": 30.1, "int_top5": 50.6}),
              Row("Visual + Dialog", "int_visual_dialog", {"int_top1": 25.0, "int_soft_top1": 31.9, "int_top5": 54.8}),
              Row("Visual + Dialog + Tracks", "int_all", {"int_top1": 26.1, "int_soft_top1": 32.6, "int_top5": 57.3})),
             "dialog beats visual; the two are complementary; tracks add a little."),
    2: Table(2, "Top-1 accuracy for the joint prediction of interactions and relationships", "val",
             ("int_top1", "rel_acc"),
             (Row("Random", None, {"int_top1": 0.99, "rel_acc": 6.67}, random_from="int_rel"),
              Row("Int. only", "int_all", {"int_top1": 26.1, "rel_acc": None}, metrics=("int_top1",)),
              Row("Rel. only", "rel", {"int_top1": None, "rel_acc": 26.8}, metrics=("rel_acc",)),
              Row("Joint", "int_rel", {"int_top1": 26.3, "rel_acc": 28.1})),
             "joint learning helps relationships (+1.3) more than interactions (+0.2)."),
    3: Table(3, "Architectures for joint modeling of interactions and relationships", "val",
             ("int_top1", "rel_acc"),
             (Row("Rel. <-> Int.", "int_rel_both", {"int_top1": 25.3, "rel_acc": 26.8}),
              Row("Rel. <- Int.", "int_rel_int_to_rel", {"int_top1": 26.3, "rel_acc": 25.9}),
              Row("Rel. -> Int.", "int_rel", {"int_top1": 26.3, "rel_acc": 28.1})),
             "feeding the relationship representation to the interaction head (Rel. -> Int.) is best."),
    4: Table(4, "Temporal aggregation of features over the interaction span", "val",
             ("int_top1",),
             (Row("avg", "int_all_avg", {"int_top1": 24.2}),
              Row("sum", "int_all_sum", {"int_top1": 25.4}),
              Row("max", "int_all", {"int_top1": 26.1})),
             "max pooling beats sum and average."),
    5: Table(5, "Joint prediction of interactions and character pairs", "val",
             ("int_acc", "char_acc", "joint_acc"),
             (Row("Random", None, {"int_acc": 0.99, "char_acc": 15.42, "joint_acc": 0.15}, random_from="int_char_full"),
              Row("Full, sum", "int_char_full", {"int_acc": 25.5, "char_acc": 55.0, "joint_acc": 14.2}),
              Row("Weak, sum", "int_char_weak_argmax", {"int_acc": 18.9, "char_acc": 20.0, "joint_acc": 4.6}),
              Row("Weak, sum, sampling", "int_char_weak_sampling", {"int_acc": 25.1, "char_acc": 25.0, "joint_acc": 7.8}),
              Row("Weak, sum-max, sampling", "int_char_weak_sum_max", {"int_acc": 23.0, "char_acc": 32.3, "joint_acc": 8.2})),
             "full supervision is best; with weak labels, sampling and then hard negatives close part of the gap."),
    6: Table(6, "Joint interaction, relationship and character pair prediction", "val",
             ("int_acc", "rel_acc", "char_acc", "joint_acc"),
             (Row("Random", None, {"int_acc": 0.99, "rel_acc": 6.67, "char_acc": 15.42, "joint_acc": 0.01},
                  random_from="int_rel_char_full"),
              Row("Full, sum", "int_rel_char_full", {"int_acc": 25.8, "rel_acc": 16.6, "char_acc": 88.3, "joint_acc": 2.71}),
              Row("Weak, sum, sampling", "int_rel_char_weak_sampling", {"int_acc": 25.8, "rel_acc": 12.0, "char_acc": 42.0, "joint_acc": 0.86}),
              Row("Weak, sum-max, sampling", "int_rel_char_weak_sum_max", {"int_acc": 20.8, "rel_acc": 21.8, "char_acc": 33.9, "joint_acc": 2.14})),
             "relationships boost character-pair accuracy under full supervision; weak labels still localise."),
    7: Table(7, "All methods on the test set", "test",
             ("int_acc", "rel_acc", "char_acc", "joint_acc"),
             (Row("Random", None, {"int_acc": 0.99, "rel_acc": 6.67, "char_acc": 15.42, "joint_acc": 0.01},
                  random_from="int_rel_char_full"),
              Row("Int only", "int_all", {"int_acc": 20.7, "rel_acc": None, "char_acc": None, "joint_acc": None}, metrics=("int_acc",)),
              Row("Rel only", "rel", {"int_acc": None, "rel_acc": 22.4, "char_acc": None, "joint_acc": None}, metrics=("rel_acc",)),
              Row("Int + Rel", "int_rel", {"int_acc": 20.7, "rel_acc": 20.5, "char_acc": None, "joint_acc": None}, metrics=("int_acc", "rel_acc")),
              Row("Int + Char, full", "int_char_full", {"int_acc": 19.7, "rel_acc": None, "char_acc": 52.8, "joint_acc": 11.1}, metrics=("int_acc", "char_acc", "joint_acc")),
              Row("Int + Char, weak", "int_char_weak_sum_max", {"int_acc": 17.9, "rel_acc": None, "char_acc": 29.7, "joint_acc": 6.34}, metrics=("int_acc", "char_acc", "joint_acc")),
              Row("Int + Rel + Char, full", "int_rel_char_full", {"int_acc": 20.0, "rel_acc": 18.6, "char_acc": 88.8, "joint_acc": 2.29}),
              Row("Int + Rel + Char, weak", "int_rel_char_weak_sum_max", {"int_acc": 15.6, "rel_acc": 29.6, "char_acc": 21.6, "joint_acc": 1.50})),
             "the validation trends hold on test, with lower relationship accuracy."),
}

FIGURE5_EXPERIMENT = "rel"
FIGURE5_SPLIT = "val"
# The paper prints one point of figure 5 as a number: 18 clips, 26.8% (Table 2, "Rel. only").
FIGURE5_PAPER = {18: 26.8}


def evaluation_path(eval_dir: Path, experiment: str, split: str) -> Path:
    return Path(eval_dir) / experiment / f"{split}.json"


def required_evaluations(table: int | str) -> list[tuple[str, str]]:
    """(experiment, split) pairs a table needs; used by the Snakefile to request only those."""
    if table == "figure5":
        return [(FIGURE5_EXPERIMENT, FIGURE5_SPLIT)]
    spec = TABLES[int(table)]
    return [(name, spec.split) for name in spec.experiments()]


# Column keys of our tables -> metric names of the evaluation files (model.evaluate). For every task
# the interaction metrics are computed for the ground-truth pair, so "interaction accuracy given the
# true pair" (the Int. column of Tables 5-7) is the interaction top-1 accuracy.
EVAL_METRIC = {
    "int_top1": "interaction_top1",
    "int_soft_top1": "interaction_soft_top1",
    "int_top5": "interaction_top5",
    "int_acc": "interaction_top1",
    "rel_acc": "relationship",
    "char_acc": "character",
    "joint_acc": "joint",
}


def _metric_entry(evaluation: dict, column: str) -> dict | None:
    """The evaluation's entry {"accuracy": percent, "n": count, "random": percent} for a column."""
    entry = evaluation.get("metrics", {}).get(EVAL_METRIC[column])
    if entry is None or int(entry.get("n", 0)) == 0:
        return None
    return entry


def load_evaluation(eval_dir: Path, experiment: str, split: str) -> dict:
    path = evaluation_path(eval_dir, experiment, split)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise PipelineError(f"{path}: evaluation of experiment {experiment!r} on {split} is missing; "
                                f"run `snakemake --cores 8 {path}`") from None


def build_table(number: int, eval_dir: Path) -> list[dict]:
    """Rows of one table: label, then per column the value (percent), the 95% CI and n; for an
    experiment trained with repeats, the value is the mean over seeds, with their number and spread
    (``<column>_seeds``, ``<column>_seed_sd``: standard deviation over seeds)."""
    spec = TABLES[number]
    rows = []
    for row in spec.rows:
        record: dict[str, object] = {"row": row.label, "experiment": row.experiment or "random"}
        source = row.experiment or row.random_from
        evaluation = load_evaluation(eval_dir, source, spec.split)
        metrics = row.metrics or spec.columns
        for column in spec.columns:
            value = ci = n = None
            entry = _metric_entry(evaluation, column) if column in metrics else None
            if entry is not None:
                n = int(entry["n"])
                if row.experiment is None:
                    value = float(entry["random"])
                else:
                    value = float(entry["accuracy"])
                    ci = 100.0 * binomial_ci95(value / 100.0, n)
                    if "seeds" in entry:
                        record[f"{column}_seeds"] = int(entry["seeds"])
                        record[f"{column}_seed_sd"] = round(float(entry["seed_sd"]), 2)
            record[column] = None if value is None else round(value, 2)
            record[f"{column}_ci95"] = None if ci is None else round(ci, 2)
            record[f"{column}_n"] = n
        rows.append(record)
    return rows


def _fmt(value) -> str:
    return "-" if value is None else (f"{value:.2f}" if isinstance(value, float) else str(value))


def _with_repeats(rows: list[dict]) -> bool:
    return any(key.endswith("_seeds") for record in rows for key in record)


def table_csv(number: int, rows: list[dict]) -> str:
    """The table as CSV; the seed columns (``_seeds``, ``_seed_sd``) only when models have repeats."""
    spec = TABLES[number]
    header = ["row", "experiment"]
    for column in spec.columns:
        header += [column, f"{column}_ci95", f"{column}_n"]
        if _with_repeats(rows):
            header += [f"{column}_seeds", f"{column}_seed_sd"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for record in rows:
        writer.writerow(["" if record.get(key) is None else record[key] for key in header])
    return buffer.getvalue()


def table_markdown(number: int, rows: list[dict], with_paper: bool = False) -> str:
    spec = TABLES[number]
    titles = [METRIC_TITLES[c] for c in spec.columns]
    header = ["Method"] + [f"{t} (ours)" for t in titles]
    if with_paper:
        header += [f"{t} (paper)" for t in titles]
    seeds = "; with repeats: mean over seeds, their number and standard deviation" if _with_repeats(rows) else ""
    lines = [f"**Table {number}.** {spec.title} ({spec.split} split; accuracy in %, ± 95% interval, n samples{seeds}).",
             "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row_spec, record in zip(spec.rows, rows):
        cells = [row_spec.label]
        for column in spec.columns:
            value = record.get(column)
            if value is None:
                cells.append("-")
            elif record.get(f"{column}_ci95") is not None:
                spread = (f"; {record[f'{column}_seeds']} seeds, sd {record[f'{column}_seed_sd']:.1f}"
                          if f"{column}_seeds" in record else "")
                cells.append(f"{value:.1f} ± {record[f'{column}_ci95']:.1f} (n={record[f'{column}_n']}{spread})")
            else:
                cells.append(f"{value:.2f}")
        if with_paper:
            cells += [_fmt(row_spec.paper.get(c)) for c in spec.columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table(number: int, eval_dir: Path, out_csv: Path) -> list[dict]:
    rows = build_table(number, eval_dir)
    write_text_atomic(out_csv, table_csv(number, rows))
    write_text_atomic(Path(out_csv).with_suffix(".md"), table_markdown(number, rows))
    LOG.info("table %d: %d rows -> %s", number, len(rows), out_csv)
    return rows


def figure5_points(eval_dir: Path) -> list[dict]:
    evaluation = load_evaluation(eval_dir, FIGURE5_EXPERIMENT, FIGURE5_SPLIT)
    by_clips = evaluation.get("relationship_vs_clips")
    if not by_clips:
        raise PipelineError(f"{evaluation_path(eval_dir, FIGURE5_EXPERIMENT, FIGURE5_SPLIT)}: "
                         "no 'relationship_vs_clips' (evaluate a rel or int_rel model)")
    points = []
    for clips, entry in sorted(by_clips.items(), key=lambda item: int(item[0])):
        value, n = float(entry["accuracy"]), int(entry["n"])
        point = {"clips": int(clips), "rel_acc": round(value, 2),
                 "ci95": round(100 * binomial_ci95(value / 100.0, n), 2), "n": n,
                 "random": round(float(entry.get("random", float("nan"))), 2),
                 "paper": FIGURE5_PAPER.get(int(clips))}
        if "seeds" in entry:
            point.update(seeds=int(entry["seeds"]), seed_sd=round(float(entry["seed_sd"]), 2))
        points.append(point)
    return points


def write_figure5(eval_dir: Path, out_png: Path) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = figure5_points(eval_dir)
    buffer = io.StringIO()
    fields = ["clips", "rel_acc", "ci95", "n", "random", "paper"] + (["seeds", "seed_sd"] if "seeds" in points[0] else [])
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(points)
    write_text_atomic(Path(out_png).with_suffix(".csv"), buffer.getvalue())

    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=120)
    xs = [p["clips"] for p in points]
    ax.errorbar(xs, [p["rel_acc"] for p in points], yerr=[p["ci95"] for p in points], marker="o",
                capsize=3, label="ours (demo / configured dataset)")
    paper = [(p["clips"], p["paper"]) for p in points if p["paper"] is not None]
    if paper:
        ax.plot([x for x, _ in paper], [y for _, y in paper], "s--", color="grey", label="paper (MovieGraphs)")
    ax.set_xlabel("number of clips |V|")
    ax.set_ylabel("relationship accuracy (%)")
    ax.set_title("Figure 5: relationship accuracy vs. clips")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    LOG.info("figure 5: %d points -> %s", len(points), out_png)
    return points


@dataclass(frozen=True)
class TableSettings:
    """Tables are shaped by the evaluation files alone (no config section)."""

    @classmethod
    def from_config(cls, config: dict) -> "TableSettings":
        return cls()


def main(argv: list[str] | None = None) -> int:
    from pipeline.cli import stage_main

    def arguments(parser) -> None:
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--table", type=int, choices=sorted(TABLES))
        what.add_argument("--figure5", action="store_true")
        parser.add_argument("--eval-dir", default="work/eval", type=Path)
        parser.add_argument("--out", required=True, type=Path)

    def run(settings: TableSettings, args) -> None:
        if args.figure5:
            write_figure5(args.eval_dir, args.out)
        else:
            write_table(args.table, args.eval_dir, args.out)

    return stage_main("tables", run, description=__doc__.split("\n")[0], arguments=arguments, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
