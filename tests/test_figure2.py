"""Figure 2 (interaction x relationship correlation map of the training annotations) on a tiny set."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from _model_helpers import annotation_row, tiny_classes, write_annotations, write_label_files
from pipeline.figure2 import cooccurrence_counts, main, normalised_correlation


def test_counts_and_normalised_correlation_by_hand():
    # (interaction, relationship): a0 with r0 twice and r1 once, a1 with r1 once, one row without a label
    counts = cooccurrence_counts([(0, 0), (0, 0), (0, 1), (1, 1), (1, -1)], 3, 2)
    assert counts.tolist() == [[2, 1], [0, 1], [0, 0]]
    # count / sqrt(row total x column total): rows 3, 1, 0; columns 2, 2
    expected = [[2 / math.sqrt(6), 1 / math.sqrt(6)], [0.0, 1 / math.sqrt(2)], [0.0, 0.0]]
    assert normalised_correlation(counts) == pytest.approx(np.array(expected))
    # a class that always comes with one relationship, and only it, scores 1
    assert normalised_correlation(np.array([[4, 0], [0, 3]])).tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_entry_point_reads_the_training_movies_only(tmp_path):
    classes = tiny_classes(num_interactions=3, num_relationships=2)
    root, work = tmp_path / "data", tmp_path / "work"
    write_label_files(root / "others", classes)
    cast = ["ann", "bob"]

    def rows(movie, labels):
        return [annotation_row(movie, f"clip{k}", 0, 2, "ann", "bob", a, r, [], cast, classes)
                for k, (a, r) in enumerate(labels)]

    write_annotations(work / "annotations" / "m1.parquet", rows("m1", [(0, 0), (0, 0), (0, 1)]))
    write_annotations(work / "annotations" / "m2.parquet", rows("m2", [(1, 1), (1, None)]))
    write_annotations(work / "annotations" / "v1.parquet", rows("v1", [(2, 0)] * 5))   # validation: not counted
    (work / "annotations" / "split.json").write_text(json.dumps({"train": ["m1", "m2"], "val": ["v1"], "test": []}))
    settings = json.dumps({"dataset": {"root": str(root)}, "work_dir": str(work)})
    out = tmp_path / "results" / "figure2.png"
    assert main(["--settings", settings, "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    with open(out.with_suffix(".csv")) as handle:
        cells = {(row["interaction"], row["relationship"]): row for row in csv.DictReader(handle)}
    names, rels = classes.interactions, classes.relationships
    assert len(cells) == 3 * 2
    assert [int(cells[(names[a], rels[r])]["count"]) for a in range(3) for r in range(2)] == [2, 1, 0, 1, 0, 0]
    assert float(cells[(names[0], rels[0])]["correlation"]) == pytest.approx(2 / math.sqrt(6), abs=1e-4)
    assert float(cells[(names[1], rels[1])]["correlation"]) == pytest.approx(1 / math.sqrt(2), abs=1e-4)
    # a missing split file is one clear line and exit 2
    (work / "annotations" / "split.json").unlink()
    assert main(["--settings", settings, "--out", str(out)]) == 2
