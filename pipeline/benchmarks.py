"""``results/benchmarks.csv``: what each stage's jobs cost, from Snakemake's benchmark files.

``python -m pipeline.benchmarks --out results/benchmarks.csv benchmarks/visual/dm0001.tsv ...``

Every heavy rule declares ``benchmark: benchmarks/<stage>/<job>.tsv`` (wall seconds, peak RSS,
CPU seconds, ... of its job). This gathers them, one row per job (stage, job, seconds, cpu seconds,
peak RSS in MB, mean load), and a total per stage, for the workflow report (``snakemake --report``).
"""
from __future__ import annotations

import csv
import io
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from pipeline.errors import PipelineError
from pipeline.h5io import write_text_atomic

LOG = logging.getLogger("pipeline.benchmarks")
COLUMNS = ("stage", "job", "seconds", "cpu_seconds", "max_rss_mb", "mean_load")


@dataclass(frozen=True)
class BenchmarkSettings:
    """The summary is shaped by the benchmark files alone (no config section)."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "BenchmarkSettings":
        return cls()


def read_benchmark(path: Path) -> dict[str, float]:
    """The last row of one Snakemake benchmark file (``s``, ``max_rss``, ``cpu_time``, ...)."""
    try:
        with open(path, encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
    except FileNotFoundError:
        raise PipelineError(f"{path}: benchmark file not found") from None
    if not rows or "s" not in rows[-1]:
        raise PipelineError(f"{path}: not a Snakemake benchmark file (no 's' column)")

    def number(key: str) -> float:
        value = rows[-1].get(key, "")
        try:
            return float(value)
        except ValueError:     # Snakemake writes "NA" where it could not measure
            return float("nan")

    return {"seconds": number("s"), "cpu_seconds": number("cpu_time"), "max_rss_mb": number("max_rss"),
            "mean_load": number("mean_load")}


def summarize(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """One row per benchmark file (``benchmarks/<stage>/<job>.tsv``), then one total row per stage."""
    rows, totals = [], {}
    for path in sorted(Path(p) for p in paths):
        row = {"stage": path.parent.name, "job": path.stem, **read_benchmark(path)}
        rows.append(row)
        total = totals.setdefault(row["stage"], {"stage": row["stage"], "job": "(total)", "seconds": 0.0,
                                                 "cpu_seconds": 0.0, "max_rss_mb": 0.0, "mean_load": float("nan")})
        total["seconds"] += row["seconds"]
        total["cpu_seconds"] += row["cpu_seconds"]
        total["max_rss_mb"] = max(total["max_rss_mb"], row["max_rss_mb"])
    return rows + list(totals.values())


def write_summary(paths: Sequence[Path], out: Path) -> list[dict[str, Any]]:
    rows = summarize(paths)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: (f"{value:.2f}" if isinstance(value, float) else value) for key, value in row.items()})
    write_text_atomic(out, buffer.getvalue())
    LOG.info("%d jobs of %d stages -> %s", len(paths), len({r["stage"] for r in rows}), out)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.cli import stage_main

    def arguments(parser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="results/benchmarks.csv")
        parser.add_argument("benchmarks", nargs="+", type=Path, help="benchmarks/<stage>/<job>.tsv files")

    return stage_main("benchmarks", lambda settings, args: write_summary(args.benchmarks, args.out),
                      description=__doc__.split("\n")[0], arguments=arguments, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
