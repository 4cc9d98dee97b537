"""``work/annotations/<movie>.parquet``: one row per directed person-to-person interaction instance.

Columns (in this order): ``movie, clip`` (clip file name without extension), ``start, end``
(clip-relative seconds; ``0, inf``: the whole clip), ``subject, object`` (canonical names),
``interaction_fine`` (the annotated name), ``interaction`` (merged id), ``relationship`` (merged id
or null), ``overlapping`` (merged ids of the clip's other interaction instances with temporal IoU
above ``dataset.overlap_iou``, never the row's own class: O_I(v)), ``characters`` (the clip's cast).
Written by the ``annotations`` stage, read by the ``samples`` stage.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from pipeline.errors import PipelineError
from pipeline.h5io import atomic_path

ANNOTATION_COLUMNS = ("movie", "clip", "start", "end", "subject", "object", "interaction_fine",
                      "interaction", "relationship", "overlapping", "characters")
NO_RELATIONSHIP = -1   # a row without a relationship label, once read


class AnnotationFileError(PipelineError):
    """An annotation table is missing or malformed (the message names the file and row)."""


def annotation_schema():
    """The parquet schema (column order = :data:`ANNOTATION_COLUMNS`)."""
    import pyarrow as pa

    return pa.schema([
        ("movie", pa.string()), ("clip", pa.string()), ("start", pa.float64()), ("end", pa.float64()),
        ("subject", pa.string()), ("object", pa.string()), ("interaction_fine", pa.string()),
        ("interaction", pa.int32()), ("relationship", pa.int32()),
        ("overlapping", pa.list_(pa.int32())), ("characters", pa.list_(pa.string())),
    ])


@dataclass
class AnnotationRow:
    """One row as the samples stage uses it (``relationship`` is :data:`NO_RELATIONSHIP` when null;
    ``subject`` and ``object`` are None in the unlabelled samples of prediction, never in a file)."""

    clip: str
    start: float
    end: float
    subject: str | None
    object: str | None
    interaction: int
    relationship: int
    overlapping: list[int]
    characters: list[str]


def write_annotation_rows(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Write one movie's rows (dicts with the columns) atomically; no rows: an empty table with the columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(list(rows), schema=annotation_schema())
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, float) and value != value:
        return []
    return list(value)


def read_annotation_rows(path: str | Path, num_interactions: int, num_relationships: int,
                         skipped: list[dict] | None = None) -> list[AnnotationRow]:
    """Read and check one movie's table: ids within the label maps, spans ordered, two characters.

    A malformed row raises :class:`AnnotationFileError`; with a ``skipped`` list (the skip policy)
    it is left out and recorded there as ``{"row", "reason"}``.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise AnnotationFileError(f"{path}: annotation file not found")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        raise AnnotationFileError(f"{path}: not a readable parquet file ({exc})") from None
    missing = [c for c in ANNOTATION_COLUMNS if c not in frame.columns]
    if missing:
        raise AnnotationFileError(f"{path}: missing columns {missing}")
    rows = []
    for number, record in enumerate(frame.itertuples(index=False)):
        where = f"{path}: row {number}"
        try:
            rows.append(_checked_row(record, where, num_interactions, num_relationships))
        except AnnotationFileError as exc:
            if skipped is None:
                raise
            skipped.append({"row": str(number), "reason": str(exc)})
    return rows


def _checked_row(record: Any, where: str, num_interactions: int, num_relationships: int) -> AnnotationRow:
    """One record of the table as an :class:`AnnotationRow`, checked."""
    import pandas as pd

    relationship = record.relationship
    relationship = NO_RELATIONSHIP if relationship is None or pd.isna(relationship) else int(relationship)
    row = AnnotationRow(
        clip=str(record.clip), start=float(record.start), end=float(record.end),
        subject=str(record.subject), object=str(record.object), interaction=int(record.interaction),
        relationship=relationship, overlapping=[int(x) for x in _as_list(record.overlapping)],
        characters=[str(x) for x in _as_list(record.characters)])
    if not row.end >= row.start:
        raise AnnotationFileError(f"{where}: end {row.end} is before start {row.start}")
    if not 0 <= row.interaction < num_interactions:
        raise AnnotationFileError(f"{where}: interaction {row.interaction} outside 0..{num_interactions - 1}")
    if row.relationship != NO_RELATIONSHIP and not 0 <= row.relationship < num_relationships:
        raise AnnotationFileError(f"{where}: relationship {row.relationship} outside 0..{num_relationships - 1}")
    if any(not 0 <= x < num_interactions for x in row.overlapping):
        raise AnnotationFileError(f"{where}: overlapping ids {row.overlapping} outside the interaction classes")
    if row.subject == row.object:
        raise AnnotationFileError(f"{where}: subject and object are the same character {row.subject!r}")
    return row
