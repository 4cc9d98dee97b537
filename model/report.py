"""``results/report.md``: our tables beside the paper's, with a reading of each effect.

For every table the paper makes claims ("dialog beats visual", "max pooling is best", ...). Each claim
is written here once as a comparison of two rows of our table and judged by paired statistics: the
two rows' models were evaluated on the same units (samples, or relationship pairs), so their
difference is measured unit by unit (:func:`pipeline.stats.paired_difference`: seeded paired
bootstrap, McNemar's exact test for two 0/1 outcomes). Verdicts: "reproduced" (the 95% interval of
the difference lies above 0, the paper's direction), "opposite" (below 0), "not resolved" (it
includes 0), "n/a" (a number or the per-unit outcomes are missing). A claim against a "Random" row
compares the model's per-unit hits with the per-unit chance of a uniform guess. On the demo
dataset, its calibration targets (:mod:`pipeline.demo.targets`) are checked with the same
statistics. The report also says which evaluation protocol the numbers use and shows what the
training annotations couple (figure 2).

    python -m model.report --eval-dir work/eval --results-dir results --summary work/annotations/summary.json \
        --out results/report.md
"""
from __future__ import annotations

import csv
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.tables import (EVAL_METRIC, FIGURE5_EXPERIMENT, FIGURE5_SPLIT, METRIC_TITLES, TABLES, build_table,
                          figure5_points, load_evaluation, required_evaluations, table_markdown)
from pipeline.demo.targets import (INTERACTION_RANGE, MISSED_READING, MODALITY_MARGIN, MODALITY_SPLITS, RELATIONSHIP_GAIN,
                                   WEAK_ABOVE_RANDOM)
from pipeline.errors import PipelineError
from pipeline.formats.stage_report import read_stage_report
from pipeline.h5io import write_text_atomic
from pipeline.stats import PairedDifference, paired_difference

LOG = logging.getLogger("model.report")


@dataclass(frozen=True)
class Claim:
    """The paper's claim that row ``better`` beats row ``worse`` on ``metric`` in table ``table``."""

    table: int
    metric: str
    better: str
    worse: str
    text: str


CLAIMS: tuple[Claim, ...] = (
    Claim(1, "int_top1", "Dialog", "Visual", "dialog alone beats visual alone"),
    Claim(1, "int_top1", "Visual + Dialog", "Dialog", "visual + dialog beats dialog alone"),
    Claim(1, "int_top1", "Visual + Dialog", "Visual", "visual + dialog beats visual alone"),
    Claim(1, "int_top1", "Visual + Dialog + Tracks", "Visual + Dialog", "tracks add to visual + dialog"),
    Claim(2, "rel_acc", "Joint", "Rel. only", "joint training improves relationships"),
    Claim(2, "int_top1", "Joint", "Int. only", "joint training does not hurt interactions"),
    Claim(3, "rel_acc", "Rel. -> Int.", "Rel. <- Int.", "Rel. -> Int. beats Rel. <- Int. on relationships"),
    Claim(3, "int_top1", "Rel. -> Int.", "Rel. <-> Int.", "Rel. -> Int. beats Rel. <-> Int. on interactions"),
    Claim(4, "int_top1", "max", "avg", "max pooling beats average pooling"),
    Claim(4, "int_top1", "max", "sum", "max pooling beats sum pooling"),
    Claim(5, "char_acc", "Full, sum", "Weak, sum-max, sampling", "full supervision localises pairs better than weak"),
    Claim(5, "joint_acc", "Weak, sum, sampling", "Weak, sum", "multinomial sampling beats argmax (joint)"),
    Claim(5, "char_acc", "Weak, sum-max, sampling", "Weak, sum, sampling", "hard negatives (sum-max) improve pairs"),
    Claim(5, "char_acc", "Weak, sum-max, sampling", "Random", "weak labels localise pairs above random"),
    Claim(6, "char_acc", "Full, sum", "Weak, sum-max, sampling", "full supervision localises pairs better than weak"),
    Claim(6, "char_acc", "Weak, sum-max, sampling", "Random", "weak labels localise pairs above random"),
    Claim(7, "char_acc", "Int + Char, full", "Int + Char, weak", "on test, full beats weak on character pairs"),
    Claim(7, "char_acc", "Int + Char, weak", "Random", "on test, weak localisation beats random"),
)


def _row(rows: list[dict], label: str) -> dict:
    for record in rows:
        if record["row"] == label:
            return record
    raise KeyError(label)


def _describe(record: dict, metric: str) -> str:
    value = record.get(metric)
    if value is None:
        return "n/a"
    ci = record.get(f"{metric}_ci95")
    return f"{value:.1f}" + (f" ± {ci:.1f}" if ci is not None else "")


@dataclass(frozen=True)
class ReportSettings:
    """Which dataset the report is about (the demo's calibration section is shown for the demo only)
    and the paired bootstrap of its comparisons (``evaluation.bootstrap``)."""

    demo_dataset: bool
    resamples: int
    seed: int

    @classmethod
    def from_config(cls, config: dict) -> "ReportSettings":
        bootstrap = config["evaluation"]["bootstrap"]
        return cls(demo_dataset=config["dataset"]["format"] == "demo", resamples=int(bootstrap["resamples"]),
                   seed=int(bootstrap["seed"]))


@dataclass(frozen=True)
class Series:
    """One row's accuracy on one metric, unit by unit: ``sum(numerator) / sum(denominator)``."""

    numerator: np.ndarray     # hit (mean over seeds) or a uniform guess's chance; 0 where not scored
    denominator: np.ndarray   # 1 where the unit is counted
    units: tuple[str, str]    # (unit kind, sha256 of the unit identities): what pairs with what


def _bits(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), np.uint8) == ord("1")


def outcome_series(evaluation: dict, outcome: dict | None, random: bool = False) -> Series | None:
    """The series of an evaluation file's outcome entry (``random``: the chance instead of the hits)."""
    if outcome is None or outcome["unit"] not in evaluation.get("units", {}):
        return None
    scored = _bits(outcome["scored"])
    if random:
        values = np.asarray(outcome["chance"], float)
    else:
        values = np.mean([_bits(hits) for hits in outcome["hits"]], axis=0)
    return Series(np.where(scored, values, 0.0), _bits(outcome["counted"]).astype(float),
                  (outcome["unit"], evaluation["units"][outcome["unit"]]["sha256"]))


class Evaluations:
    """The evaluation files of ``eval_dir``, each read once."""

    def __init__(self, eval_dir: Path):
        self.eval_dir = Path(eval_dir)
        self._loaded: dict[tuple[str, str], dict] = {}

    def get(self, experiment: str, split: str) -> dict:
        if (experiment, split) not in self._loaded:
            self._loaded[(experiment, split)] = load_evaluation(self.eval_dir, experiment, split)
        return self._loaded[(experiment, split)]

    def row_series(self, table: int, label: str, column: str, split: str | None = None) -> Series | None:
        """The series behind one cell of a table (None for a cell the row does not fill); ``split``: the
        same row's model evaluated on another split than the table's."""
        spec = TABLES[table]
        row = next(row for row in spec.rows if row.label == label)
        if row.metrics is not None and column not in row.metrics:
            return None
        evaluation = self.get(row.experiment or row.random_from, split or spec.split)
        return outcome_series(evaluation, evaluation.get("outcomes", {}).get(EVAL_METRIC[column]),
                              random=row.experiment is None)


def _series_text(series: Series | None) -> str:
    """A series' accuracy in % and its number of units (for rows outside the tables)."""
    if series is None or series.denominator.sum() == 0:
        return "n/a"
    return f"{100 * series.numerator.sum() / series.denominator.sum():.1f} (n={int(series.denominator.sum())})"


def compare(better: Series | None, worse: Series | None, settings: ReportSettings) -> PairedDifference | str:
    """The paired difference better - worse, or why there is none."""
    if better is None or worse is None:
        return "no per-unit outcomes"
    if better.units != worse.units:
        return "not evaluated on the same units"
    if better.denominator.sum() == 0 or worse.denominator.sum() == 0:
        return "nothing counted"
    return paired_difference(better.numerator, better.denominator, worse.numerator, worse.denominator,
                             resamples=settings.resamples, seed=settings.seed)


def judge_claim(claim: Claim, rows: list[dict], evaluations: Evaluations, settings: ReportSettings) -> tuple[str, str]:
    """Verdict ('reproduced', 'opposite', 'not resolved' or 'n/a') and a sentence with the numbers."""
    better, worse = _row(rows, claim.better), _row(rows, claim.worse)
    numbers = (f"{claim.better} {_describe(better, claim.metric)} vs {claim.worse} "
               f"{_describe(worse, claim.metric)} ({METRIC_TITLES[claim.metric]})")
    if better.get(claim.metric) is None or worse.get(claim.metric) is None:
        return "n/a", numbers
    result = compare(evaluations.row_series(claim.table, claim.better, claim.metric),
                     evaluations.row_series(claim.table, claim.worse, claim.metric), settings)
    if isinstance(result, str):
        return "n/a", f"{numbers}; {result}"
    return result.verdict, f"{numbers}; {result.describe()}"


MODALITY_ROWS = ("Visual", "Dialog", "Visual + Dialog")   # Table 1 rows of the modality targets


def target_evaluations() -> list[tuple[str, str]]:
    """(experiment, split) evaluations the demo's calibration targets read beyond the tables': Table 1's
    modality rows on every split of :data:`MODALITY_SPLITS` (the Snakefile requests them for the demo)."""
    experiments = [row.experiment for row in TABLES[1].rows if row.label in MODALITY_ROWS]
    return [(name, split) for name in experiments for split in MODALITY_SPLITS if split != TABLES[1].split]


def calibration_targets(tables: dict[int, list[dict]], figure5: list[dict], evaluations: Evaluations,
                        settings: ReportSettings) -> list[tuple[str, str, str, str]]:
    """(target, verdict, numbers, what limits it when missed) for each calibration target of the demo.

    A target that compares two rows is met when their paired difference reaches the target's margin
    and its 95% interval excludes 0.
    """
    results = []

    def target(key: str, text: str, ok: bool, numbers: str) -> None:
        results.append((text, "met" if ok else "missed", numbers, "" if ok else MISSED_READING[key]))

    def lead(better: Series | None, worse: Series | None, margin: float) -> tuple[bool, str]:
        result = compare(better, worse, settings)
        if isinstance(result, str):
            return False, result
        return result.difference >= margin and result.low > 0, result.describe()

    t7, t1, t5 = tables.get(7), tables.get(1), tables.get(5)
    if t7:
        full = _row(t7, "Int only")
        value = full.get("int_acc")
        target("interaction", f"visual+dialog+tracks interaction top-1 on test in [{INTERACTION_RANGE[0]:.0f}%, "
               f"{INTERACTION_RANGE[1]:.0f}%]", value is not None and INTERACTION_RANGE[0] <= value <= INTERACTION_RANGE[1],
               f"{_describe(full, 'int_acc')} (n={full.get('int_acc_n')})")
    if t1:
        for label in ("Visual", "Dialog"):
            for split in MODALITY_SPLITS:
                try:
                    better = evaluations.row_series(1, "Visual + Dialog", "int_top1", split)
                    worse = evaluations.row_series(1, label, "int_top1", split)
                except PipelineError as error:   # the demo workflow evaluates them; a partial run may not
                    target(label.lower(), f"{label.lower()}-only at least {MODALITY_MARGIN:.0f} points below "
                           f"visual+dialog ({split}, paired interval excluding 0)", False, str(error))
                    continue
                ok, paired = lead(better, worse, MODALITY_MARGIN)
                numbers = (f"{label} {_describe(_row(t1, label), 'int_top1')} vs visual+dialog "
                           f"{_describe(_row(t1, 'Visual + Dialog'), 'int_top1')}; " if split == TABLES[1].split else
                           f"{label} {_series_text(worse)} vs visual+dialog {_series_text(better)}; ")
                target(label.lower(), f"{label.lower()}-only at least {MODALITY_MARGIN:.0f} points below visual+dialog "
                       f"({split}, paired interval excluding 0)", ok, numbers + paired)
    if figure5:
        first, last = figure5[0], figure5[-1]
        evaluation = evaluations.get(FIGURE5_EXPERIMENT, FIGURE5_SPLIT)
        curve = evaluation.get("relationship_vs_clips_outcomes", {})
        ok, paired = lead(outcome_series(evaluation, curve.get(str(last["clips"]))),
                          outcome_series(evaluation, curve.get(str(first["clips"]))), RELATIONSHIP_GAIN)
        target("relationship",
               f"relationship accuracy with {last['clips']} clips at least {RELATIONSHIP_GAIN:.0f} points above "
               f"{first['clips']} clip (paired interval excluding 0)", ok,
               f"{last['rel_acc']:.1f} ± {last['ci95']:.1f} vs {first['rel_acc']:.1f} ± {first['ci95']:.1f}; {paired}")
    if t5:
        weak, full, random = (_row(t5, "Weak, sum-max, sampling"), _row(t5, "Full, sum"), _row(t5, "Random"))
        weak_series = evaluations.row_series(5, "Weak, sum-max, sampling", "char_acc")
        above, above_text = lead(weak_series, evaluations.row_series(5, "Random", "char_acc"), WEAK_ABOVE_RANDOM)
        below, below_text = lead(evaluations.row_series(5, "Full, sum", "char_acc"), weak_series, 0.0)
        target("weak", f"weak character-pair accuracy well above Random (>= {WEAK_ABOVE_RANDOM:.0f} points) and below "
               "full (val, both paired intervals excluding 0)", above and below,
               f"weak {_describe(weak, 'char_acc')}, full {_describe(full, 'char_acc')}, "
               f"random {_describe(random, 'char_acc')}; weak - random: {above_text}; full - weak: {below_text}")
    return results


PROTOCOL_READING = {
    "paper": "`paper`: the metrics as the paper's text defines them. Character and joint accuracy count the "
             "samples whose true subject and object both have a track; the joint int+rel+char accuracy also "
             "needs a relationship label; relationship accuracy is per (movie, pair, relationship).",
    "lirec": "`lirec`: the metrics as the authors' released code counts them (LIReC `utils/evaluation.py`), "
             "for comparison with the published numbers. A sample is scored when at least one of its "
             "characters has a track (not both true characters); the int+rel+char relationship accuracy is "
             "per sample, its hits over the labelled samples divided by the number of scored samples; the "
             "joint int+rel+char denominator also counts samples without a relationship label.",
}


def protocol_section(evaluations: Evaluations) -> list[str]:
    """Which evaluation protocol the numbers use (``evaluation.protocol``, recorded in every evaluation file)."""
    files = [evaluations.get(name, split) for name, split in sorted(
        {pair for number in TABLES for pair in required_evaluations(number)})]
    protocols = sorted({str(e.get("protocol", "unrecorded")) for e in files})
    weak = sorted({str(e["weak_pair_candidates"]) for e in files if "weak_pair_candidates" in e})
    lines = ["## Evaluation protocol", ""]
    if len(protocols) == 1 and protocols[0] in PROTOCOL_READING:
        lines.append(f"The numbers below use protocol {PROTOCOL_READING[protocols[0]]}")
    else:
        lines.append(f"The evaluation files do not share one protocol ({', '.join(protocols)}): rerun the "
                     "evaluations (`snakemake --cores 8 all`) before reading the tables.")
    if weak:
        lines.append(f"Weakly supervised models chose their positive pair among `{'`, `'.join(weak)}` candidates "
                     "(`train.weak_pair_candidates`; the authors' code: `all`, single-character candidates "
                     "included).")
    return lines + [""]


def figure2_section(results_dir: Path) -> list[str]:
    """The training annotations' strongest interaction-relationship couplings (``results/figure2.csv``)."""
    path = Path(results_dir) / "figure2.csv"
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as handle:
        cells = [row for row in csv.DictReader(handle) if int(row["count"]) > 0]
    cells.sort(key=lambda row: (-float(row["correlation"]), -int(row["count"])))
    lines = ["## Figure 2", "", "![figure 2](figure2.png)", "",
             "What the training annotations couple (normalised correlation: count / sqrt(row total x column "
             "total), `results/figure2.csv`); the strongest pairs:", "",
             "| interaction | relationship | rows | correlation |", "|---|---|---|---|"]
    lines += [f"| {row['interaction']} | {row['relationship']} | {row['count']} | {float(row['correlation']):.2f} |"
              for row in cells[:10]]
    return lines + [""]


def data_section(summary: dict) -> list[str]:
    """The annotation counts per split (``work/annotations/summary.json``) as a Markdown table."""
    splits = {name: counts for name, counts in summary.get("splits", {}).items() if isinstance(counts, dict)}
    lines = ["## Data", "", f"From `work/annotations/summary.json` (annotations: `{summary.get('annotations')}`, "
             f"overlap IoU > {summary.get('overlap_iou')}):", ""]
    if not splits:
        return lines + ["(no split counts in the summary)", ""]
    keys = [key for key, value in next(iter(splits.values())).items() if isinstance(value, (int, float))]
    lines += ["| count | " + " | ".join(splits) + " |", "|---" * (len(splits) + 1) + "|"]
    lines += [f"| {key.replace('_', ' ')} | " + " | ".join(str(counts.get(key, "")) for counts in splits.values())
              + " |" for key in keys]
    return lines + [""]


def left_out_section(summary: dict, shard_reports: list[Path]) -> list[str]:
    """What the stages left out (skip policy) or used with a caveat, from the annotation summary and
    the sample shards' reports (which carry the upstream stages' reasons)."""
    lines = []
    for movie in summary.get("skipped", []):
        lines.append(f"- annotations: movie {movie['movie']} left out: {movie['reason']}")
    for path in shard_reports:
        report = read_stage_report(path)
        for entry in report.skipped:
            lines.append(f"- samples {report.target}: {entry['item']} left out: {entry['reason']}")
        if report.warnings:
            lines.append(f"- samples {report.target}: {len(report.warnings)} warning(s), e.g. "
                         f"{report.warnings[0]['file']}: {report.warnings[0]['message']}")
    if not lines:
        return []
    return ["## Left out and warnings", "", "What the stages left out under the skip policy (the tables count only "
            "what was kept) and what they used with a caveat:", "", *lines, ""]


def render_report(eval_dir: Path, results_dir: Path, summary_path: Path | None, settings: ReportSettings,
                  shard_reports: list[Path] = ()) -> str:
    """The report's Markdown; the demo's calibration section only for the demo dataset."""
    tables = {number: build_table(number, eval_dir) for number in sorted(TABLES)}
    evaluations = Evaluations(eval_dir)
    try:
        figure5 = figure5_points(eval_dir)
    except PipelineError:   # no figure 5 evaluation: the report goes without it
        figure5 = []
    verdicts = {number: [(claim, *judge_claim(claim, rows, evaluations, settings))
                         for claim in CLAIMS if claim.table == number] for number, rows in tables.items()}
    lines = ["# LIReC-pipeline report", "",
             "Our tables beside the paper's (Kukleva et al., CVPR 2020), row by row. The paper's numbers are on",
             "MovieGraphs; ours are on the dataset configured for this run (by default the synthetic demo),",
             "so absolute values differ by design: what can be compared is which effects reproduce.",
             "Accuracies in %, ± the half-width of the binomial 95% interval, with the number of evaluated samples.",
             "A claim compares two rows evaluated on the same samples by their paired difference and its 95%",
             f"paired-bootstrap interval ({settings.resamples} resamples, seed {settings.seed}; McNemar's exact p",
             "where both rows are 0/1 outcomes): **reproduced** when the interval lies above 0, **opposite** when",
             "it lies below 0, **not resolved** when it includes 0.", ""]
    lines += protocol_section(evaluations)
    if summary_path and Path(summary_path).is_file():
        with open(summary_path, encoding="utf-8") as handle:
            summary = json.load(handle)
        lines += data_section(summary)
        lines += left_out_section(summary, list(shard_reports))
    lines += figure2_section(results_dir)
    targets = calibration_targets(tables, figure5, evaluations, settings) if settings.demo_dataset else []
    if targets:
        lines += ["## Calibration targets of the demo", "", "| target | verdict | numbers |", "|---|---|---|"]
        lines += [f"| {text} | {verdict} | {numbers} |" for text, verdict, numbers, _ in targets]
        lines.append("")
        missed = [(text, reading) for text, verdict, _, reading in targets if verdict == "missed"]
        if missed:
            lines += ["Missed targets are reported as they are (the evaluation is not tuned to meet them). "
                      "What limits each:", ""]
            lines += [f"- {text}: {reading}" for text, reading in missed]
            lines.append("")
    for number, rows in tables.items():
        spec = TABLES[number]
        lines += [f"## Table {number}", "", table_markdown(number, rows, with_paper=True),
                  f"Paper's reading: {spec.reading}", ""]
        if verdicts[number]:
            lines += ["| paper's claim | ours | numbers |", "|---|---|---|"]
            lines += [f"| {claim.text} | {verdict} | {numbers} |" for claim, verdict, numbers in verdicts[number]]
            lines.append("")
    if figure5:
        lines += ["## Figure 5", "", "![figure 5](figure5.png)", "",
                  "| clips | relationship accuracy (ours) | n | paper |", "|---|---|---|---|"]
        for point in figure5:
            paper = "-" if point["paper"] is None else f"{point['paper']:.1f}"
            lines.append(f"| {point['clips']} | {point['rel_acc']:.1f} ± {point['ci95']:.1f} | {point['n']} | {paper} |")
        first, last = figure5[0], figure5[-1]
        trend = "rises" if last["rel_acc"] > first["rel_acc"] else "does not rise"
        lines += ["", f"Reading: relationship accuracy {trend} from {first['clips']} to {last['clips']} clips "
                      f"({first['rel_acc']:.1f} -> {last['rel_acc']:.1f}); the paper reports a steady rise.", ""]
    return "\n".join(lines) + "\n"


def write_report(settings: ReportSettings, eval_dir: Path, results_dir: Path, summary: Path | None, out: Path,
                 shard_reports: list[Path] = ()) -> None:
    text = render_report(eval_dir, results_dir, summary, settings, shard_reports=shard_reports)
    write_text_atomic(out, text)
    LOG.info("report -> %s", out)


def main(argv: list[str] | None = None) -> int:
    from pipeline.cli import stage_main

    def arguments(parser) -> None:
        parser.add_argument("--eval-dir", default="work/eval", type=Path)
        parser.add_argument("--results-dir", default="results", type=Path)
        parser.add_argument("--summary", default=None, type=Path, help="work/annotations/summary.json")
        parser.add_argument("--shard-reports", nargs="*", default=[], type=Path,
                            help="work/samples/<pooling>/<split>.h5.report.json files")
        parser.add_argument("--out", required=True, type=Path)

    return stage_main("report", lambda settings, args: write_report(settings, args.eval_dir, args.results_dir,
                                                                    args.summary, args.out, args.shard_reports),
                      description=__doc__.split("\n")[0], arguments=arguments, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
