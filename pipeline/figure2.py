"""Figure 2 of the paper: the normalised correlation map between interactions and relationships of
the training annotations, for any dataset (what the data couples, before any model is trained).

``python -m pipeline.figure2 --config FILE [--settings JSON] --out results/figure2.png`` (also writes
``results/figure2.csv``) reads the train movies of ``work/annotations/split.json``, their annotation
rows (``work/annotations/<movie>.parquet``) and the label maps.

The paper's caption ("Normalized correlation map between (selected) interactions and
relationships. Darker regions indicate higher scores") does not define the normalisation; ours:

- ``count[a, r]``: training interaction instances (annotation rows) of merged class ``a`` whose pair
  has relationship ``r`` (rows without a relationship label are left out);
- ``correlation[a, r] = count[a, r] / sqrt(count[a, :].sum() * count[:, r].sum())``: the cosine
  between the indicator vectors "the row is of class a" and "the row's relationship is r" over the
  labelled rows; 1 when a and r always come together, 0 when never. Unlike P(r | a) it does not
  rank every interaction under the most frequent relationships (strangers, friends).

CSV: one row per (interaction, relationship), every class of the label maps (zero counts included),
columns ``interaction, relationship, count, correlation``. PNG: all relationships (columns) and the
interactions (rows) with the most labelled rows, at most :data:`FIGURE_ROWS` of them (the paper shows
a selection too), darker = higher.
"""
from __future__ import annotations

import csv
import io
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pipeline.dataset import DatasetLayout, read_split_file
from pipeline.formats.annotations import read_annotation_rows
from pipeline.h5io import atomic_path, write_text_atomic
from pipeline.labels import LabelMaps
from pipeline.paths import WorkPaths

LOG = logging.getLogger("pipeline.figure2")

FIGURE_ROWS = 40   # interactions drawn (the most frequent among the relationship-labelled rows)


@dataclass(frozen=True)
class Figure2Settings:
    """Where the annotation rows and the label maps are."""

    layout: DatasetLayout
    paths: WorkPaths

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Figure2Settings":
        return cls(layout=DatasetLayout.from_config(config), paths=WorkPaths(config))


def cooccurrence_counts(pairs: Sequence[tuple[int, int]], num_interactions: int, num_relationships: int) -> np.ndarray:
    """(A, R) counts of ``(interaction, relationship)`` pairs; a relationship < 0 (no label) is left out."""
    counts = np.zeros((num_interactions, num_relationships), np.int64)
    for interaction, relationship in pairs:
        if relationship >= 0:
            counts[interaction, relationship] += 1
    return counts


def normalised_correlation(counts: np.ndarray) -> np.ndarray:
    """count[a, r] / sqrt(row total of a * column total of r); 0 where a class has no labelled row."""
    rows = counts.sum(axis=1, keepdims=True).astype(float)
    columns = counts.sum(axis=0, keepdims=True).astype(float)
    scale = np.sqrt(rows * columns)
    return np.divide(counts, scale, out=np.zeros(counts.shape), where=scale > 0)


def training_counts(settings: Figure2Settings) -> tuple[np.ndarray, LabelMaps, int]:
    """Counts over the train movies' annotation rows, the label maps and the number of movies read."""
    labels = LabelMaps.from_layout(settings.layout)
    movies = read_split_file(settings.paths.annotations_split())["train"]
    pairs = []
    for movie in movies:
        rows = read_annotation_rows(settings.paths.annotations(movie), labels.num_interactions,
                                    labels.num_relationships)
        pairs += [(row.interaction, row.relationship) for row in rows]
    counts = cooccurrence_counts(pairs, labels.num_interactions, labels.num_relationships)
    LOG.info("figure 2: %d training rows of %d movies, %d with a relationship label", len(pairs), len(movies),
             int(counts.sum()))
    return counts, labels, len(movies)


def figure2_csv(counts: np.ndarray, correlation: np.ndarray, labels: LabelMaps) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["interaction", "relationship", "count", "correlation"])
    for a, interaction in enumerate(labels.interactions):
        for r, relationship in enumerate(labels.relationships):
            writer.writerow([interaction, relationship, int(counts[a, r]), f"{correlation[a, r]:.4f}"])
    return buffer.getvalue()


def write_figure2(settings: Figure2Settings, out_png: Path) -> np.ndarray:
    """``figure2.csv`` beside ``out_png`` and the map itself; returns the correlation matrix (A, R)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts, labels, movies = training_counts(settings)
    correlation = normalised_correlation(counts)
    write_text_atomic(Path(out_png).with_suffix(".csv"), figure2_csv(counts, correlation, labels))

    totals = counts.sum(axis=1)
    shown = [a for a in np.argsort(-totals, kind="stable") if totals[a] > 0][:FIGURE_ROWS]
    height = 1.6 + 0.22 * max(len(shown), 1)
    fig, ax = plt.subplots(figsize=(2.2 + 0.38 * len(labels.relationships), height), dpi=120)
    image = ax.imshow(correlation[shown] if shown else np.zeros((1, len(labels.relationships))), cmap="Greys",
                      vmin=0.0, vmax=max(float(correlation.max()), 1e-9), aspect="auto")
    ax.set_xticks(range(len(labels.relationships)), labels.relationships, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(shown)), [labels.interactions[a] for a in shown], fontsize=7)
    selection = (f"{len(shown)} most frequent of {int((totals > 0).sum())} interactions"
                 if (totals > 0).sum() > len(shown) else f"{len(shown)} interactions")
    ax.set_title(f"Figure 2: interactions x relationships, training annotations\n"
                 f"({int(counts.sum())} labelled rows of {movies} movies; {selection})", fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.04).set_label("count / sqrt(row total x column total)", fontsize=7)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    LOG.info("figure 2: %d x %d map -> %s", len(shown), len(labels.relationships), out_png)
    return correlation


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.cli import stage_main

    def arguments(parser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="results/figure2.png (and .csv beside it)")

    return stage_main("figure2", lambda settings, args: write_figure2(settings, args.out),
                      description=__doc__.split("\n")[0], arguments=arguments, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
