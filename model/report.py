"""``results/report.md``: our tables beside the paper's, with a reading of each effect.

For every table the paper makes claims ("dialog beats visual", "max pooling is best", ...). Each claim
is written here once as a comparison of two rows of our table; the report says, with the numbers and
their 95% intervals, whether our run reproduces it. The demo's calibration targets (issue 7) are
checked the same way.

    python -m model.report --eval-dir work/eval --results-dir results --summary work/annotations/summary.json \
        --out results/report.md
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from model.tables import (METRIC_TITLES, TABLES, build_table, figure5_points,
                          table_markdown)
from pipeline.h5io import write_text_atomic

LOG = logging.getLogger("model.report")


@dataclass(frozen=True)
class Claim:
    """The paper's claim that row ``better`` beats row ``worse`` on ``metric`` in table ``table``."""

    table: int
    metric: str
    better: str
    worse: str
    text: str
    margin: float = 0.0   # percentage points by which `better` must lead (0: any lead)


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


def judge_claim(claim: Claim, rows: list[dict]) -> tuple[str, str]:
    """Verdict and a sentence with the numbers.

    'reproduced' / 'not reproduced' when the two rows differ by more than the sum of their 95%
    half-widths, else 'same direction, within noise' / 'opposite direction, within noise'; 'n/a'
    when a number is missing.
    """
    better, worse = _row(rows, claim.better), _row(rows, claim.worse)
    a, b = better.get(claim.metric), worse.get(claim.metric)
    numbers = (f"{claim.better} {_describe(better, claim.metric)} vs {claim.worse} "
               f"{_describe(worse, claim.metric)} ({METRIC_TITLES[claim.metric]})")
    if a is None or b is None:
        return "n/a", numbers
    ci = (better.get(f"{claim.metric}_ci95") or 0.0) + (worse.get(f"{claim.metric}_ci95") or 0.0)
    difference = a - b - claim.margin
    if abs(a - b) <= ci:
        verdict = "same direction, within noise" if difference > 0 else "opposite direction, within noise"
        numbers += "; the difference is within the 95% intervals"
    else:
        verdict = "reproduced" if difference > 0 else "not reproduced"
    return verdict, numbers


# Why a calibration target can miss on the demo (printed under the table for each missed target).
MISSED_READING = {
    "interaction": "the demo's difficulty knobs (cue strengths, noise rates) set this level; see "
                   "data/demo/README.md.",
    "visual": "the visual channel carries the interaction cues of the visual-only classes; a miss means the "
              "backbone's features of the synthetic figures separate them no better than the dialog.",
    "dialog": "the visual channel adds little on top of dialog: Kinetics-400 I3D features of the synthetic "
              "figures at 112 px carry their motion signatures only weakly (the Visual row of Table 1), "
              "so most interaction evidence the models use is lexical.",
    "relationship": "more clips help only as far as the per-clip relationship evidence is informative.",
    "weak": "weak labels must find the pair from the per-character track features alone (the clip's visual "
            "and dialog vectors are the same for every candidate), so the weak model inherits the weak "
            "visual signal; with under 100 visible validation pairs, differences of a few points are noise.",
}


def calibration_targets(tables: dict[int, list[dict]], figure5: list[dict]) -> list[tuple[str, str, str, str]]:
    """(target, verdict, numbers, what limits it when missed) for each calibration target of the demo."""
    results = []

    def target(key: str, text: str, ok: bool, numbers: str) -> None:
        results.append((text, "met" if ok else "missed", numbers, "" if ok else MISSED_READING[key]))

    t7, t1, t5 = tables.get(7), tables.get(1), tables.get(5)
    if t7:
        full = _row(t7, "Int only")
        value = full.get("int_acc")
        target("interaction", "visual+dialog+tracks interaction top-1 on test in [35%, 80%]",
               value is not None and 35.0 <= value <= 80.0, f"{_describe(full, 'int_acc')} (n={full.get('int_acc_n')})")
    if t1:
        vd = _row(t1, "Visual + Dialog").get("int_top1")
        for label in ("Visual", "Dialog"):
            single = _row(t1, label).get("int_top1")
            target(label.lower(), f"{label.lower()}-only at least 5 points below visual+dialog (val)",
                   vd is not None and single is not None and vd - single >= 5.0,
                   f"{label} {_describe(_row(t1, label), 'int_top1')} vs visual+dialog "
                   f"{_describe(_row(t1, 'Visual + Dialog'), 'int_top1')}")
    if figure5:
        first, last = figure5[0], figure5[-1]
        target("relationship",
               f"relationship accuracy with {last['clips']} clips at least 10 points above {first['clips']} clip",
               last["rel_acc"] - first["rel_acc"] >= 10.0,
               f"{last['rel_acc']:.1f} ± {last['ci95']:.1f} vs {first['rel_acc']:.1f} ± {first['ci95']:.1f}")
    if t5:
        weak, full, random = (_row(t5, "Weak, sum-max, sampling"), _row(t5, "Full, sum"), _row(t5, "Random"))
        w, f, r = weak.get("char_acc"), full.get("char_acc"), random.get("char_acc")
        target("weak", "weak character-pair accuracy well above Random (>= 10 points) and below full (val)",
               None not in (w, f, r) and w - r >= 10.0 and w < f,
               f"weak {_describe(weak, 'char_acc')}, full {_describe(full, 'char_acc')}, "
               f"random {_describe(random, 'char_acc')}")
    return results


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


def render_report(eval_dir: Path, results_dir: Path, summary_path: Path | None) -> str:
    tables = {number: build_table(number, eval_dir) for number in sorted(TABLES)}
    try:
        figure5 = figure5_points(eval_dir)
    except (FileNotFoundError, ValueError):
        figure5 = []
    lines = ["# LIReC-pipeline report", "",
             "Our tables beside the paper's (Kukleva et al., CVPR 2020), row by row. The paper's numbers are on",
             "MovieGraphs; ours are on the dataset configured for this run (by default the synthetic demo),",
             "so absolute values differ by design: what can be compared is which effects reproduce.",
             "Accuracies in %, ± the half-width of the binomial 95% interval, with the number of evaluated samples.", ""]
    if summary_path and Path(summary_path).is_file():
        with open(summary_path, encoding="utf-8") as handle:
            summary = json.load(handle)
        lines += data_section(summary)
    targets = calibration_targets(tables, figure5)
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
        claims = [c for c in CLAIMS if c.table == number]
        if claims:
            lines += ["| paper's claim | ours | numbers |", "|---|---|---|"]
            for claim in claims:
                verdict, numbers = judge_claim(claim, rows)
                lines.append(f"| {claim.text} | {verdict} | {numbers} |")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-dir", default="work/eval")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--summary", default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        text = render_report(Path(args.eval_dir), Path(args.results_dir), args.summary and Path(args.summary))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        LOG.error("%s", exc)
        return 2
    write_text_atomic(args.out, text)
    LOG.info("report -> %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
