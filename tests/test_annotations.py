"""The annotations stage on tiny hand-made movies: exact expected rows and counts."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.annotations import main
from pipeline.formats.annotations import ANNOTATION_COLUMNS
from pipeline.spans import temporal_iou
from pipeline.moviegraphs import write_moviegraphs_pickle
from tests._moviegraphs_helpers import ClipSpec, build_movie, write_label_texts

TALK, GREET, HUG, WATCH = range(4)                 # merged ids of the helper's label files
FRIEND, BOSS, WORKER, STRANGER = range(4)

MOVIE_1 = [
    ClipSpec(0, ["Jack", "Jill Smith", "Bob"], interactions=[
        ("Jack", "talks to", ["Jill Smith", "Bob"], (0, 10)),      # one-to-many
        ("Jill Smith", "looks at", "Jack", (2, 10)),                # overlaps talks to (IoU 0.8)
        ("Bob", "hugs", "Jill Smith", (20, 22)),                    # no relationship anywhere
        ("Jack", "greets", "Jill Smith", None, "summary"),          # no time node: whole clip
        ("Jack", "hugs", "Bob", (0, 10), "action"),                 # an action node: never a row
        ("Jack", "dances with", "Bob", (0, 1)),                     # not in the label map
        ("Jack", "waves at", [], (0, 1)),                           # no object: not person-to-person
    ], relationships=[("Jack", "best friend", "Jill Smith"), ("Bob", "manager", "Jack"),
                      ("Jack", "nemesis", "Bob")]),
    ClipSpec(2, ["Jack", "Jill Smith", "Bob"], interactions=[
        ("Jill Smith", "speaks with", "Jack", (1, 3)),              # relationship from clip 0 (reverse)
        ("Bob", "explains to", "Jill Smith", (1, 3)),               # same class overlap: not listed
        ("Jack", "hugs", "Bob", (1.5, 3.5)),                        # IoU 0.6 with the talks
    ]),
    ClipSpec(5, ["Jack", "Jill Smith"], interactions=[("Jack", "watches", "Jill Smith", (0.5, 1.0))],
             relationships=[("Jill Smith", "stranger", "Jack")]),   # in-clip reverse beats clip 0
]
MOVIE_2 = [ClipSpec(0, ["Ann", "ann ", "Ben"], interactions=[
    ("Ann", "hugs", "ann ", (0, 1)),                                  # one character twice: skipped
    ("Ann", "greets", "Ben", (3, 4)),
])]
CAST_0 = ["jack", "jill smith", "bob"]
CAST_5 = ["jack", "jill smith"]


def _row(clip, start, end, subject, obj, fine, interaction, relationship, overlapping, cast):
    return {"movie": "tt0000001", "clip": clip, "start": start, "end": end, "subject": subject,
            "object": obj, "interaction_fine": fine, "interaction": interaction,
            "relationship": relationship, "overlapping": overlapping, "characters": cast}


C0, C2, C5 = "scene-001.ss-0001.es-0001", "scene-003.ss-0003.es-0003", "scene-006.ss-0006.es-0006"
EXPECTED_MOVIE_1 = [
    _row(C0, 0.0, 10.0, "jack", "jill smith", "talks to", TALK, FRIEND, [WATCH], CAST_0),
    _row(C0, 0.0, 10.0, "jack", "bob", "talks to", TALK, WORKER, [WATCH], CAST_0),       # opposite of boss
    _row(C0, 2.0, 10.0, "jill smith", "jack", "looks at", WATCH, FRIEND, [TALK], CAST_0),
    _row(C0, 20.0, 22.0, "bob", "jill smith", "hugs", HUG, None, [], CAST_0),
    _row(C0, 0.0, math.inf, "jack", "jill smith", "greets", GREET, FRIEND, [], CAST_0),
    _row(C2, 1.0, 3.0, "jill smith", "jack", "speaks with", TALK, FRIEND, [HUG], CAST_0),
    _row(C2, 1.0, 3.0, "bob", "jill smith", "explains to", TALK, None, [HUG], CAST_0),
    _row(C2, 1.5, 3.5, "jack", "bob", "hugs", HUG, WORKER, [TALK], CAST_0),
    _row(C5, 0.5, 1.0, "jack", "jill smith", "watches", WATCH, STRANGER, [], CAST_5),
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("moviegraphs")
    movies = {"tt0000001": build_movie("tt0000001", MOVIE_1), "tt0000002": build_movie("tt0000002", MOVIE_2)}
    movies["tt0000002"].clip_graphs[0].fnames.append("scene-002.ss-0002.es-0002.mp4")   # a merged clip
    write_moviegraphs_pickle(movies, root / "py3loader" / "all_movies.pkl")
    (root / "split.json").write_text(json.dumps({"train": ["tt0000001"], "val": ["tt0000009"],
                                                 "test": ["tt0000002"]}))
    write_label_texts(root / "others")
    (root / "ftrack_ids").mkdir()
    (root / "ftrack_ids" / "tt0000001.json").write_text(json.dumps({
        C0: ["Jack", "Jill", "other", None],     # "jill" is one of the words of "jill smith"; no Bob
        C5: ["JACK", "no_face"],
    }))
    (root / "ftrack_ids" / "tt0000002.json").write_text(json.dumps({"scene-001.ss-0001.es-0001": ["Ann", "Ben"]}))
    (root / "ftrack_ids" / "tt0000009.json").write_text(json.dumps({}))   # listed, tracked, not annotated
    return root


def _config(tmp_path: Path, root: Path) -> Path:
    config = {"work_dir": str(tmp_path / "work"),
              "dataset": {"format": "moviegraphs", "root": str(root), "overlap_iou": 0.2}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def stage_output(tmp_path_factory, dataset) -> Path:
    tmp_path = tmp_path_factory.mktemp("run")
    assert main(["--config", str(_config(tmp_path, dataset))]) == 0
    return tmp_path / "work" / "annotations"


def _records(path: Path) -> list[dict]:
    frame = pd.read_parquet(path)
    assert tuple(frame.columns) == ANNOTATION_COLUMNS
    records = []
    for record in frame.to_dict("records"):
        relationship = record["relationship"]
        record["relationship"] = None if pd.isna(relationship) else int(relationship)
        record["overlapping"] = [int(x) for x in record["overlapping"]]
        record["characters"] = list(record["characters"])
        records.append(record)
    return records


def test_rows_of_movie_1(stage_output):
    assert _records(stage_output / "tt0000001.parquet") == EXPECTED_MOVIE_1


def test_rows_of_movie_2_and_the_missing_movie(stage_output):
    (row,) = _records(stage_output / "tt0000002.parquet")
    assert (row["subject"], row["object"], row["interaction"], row["relationship"]) == ("ann", "ben", GREET, None)
    assert row["characters"] == ["ann", "ben"] and row["clip"] == "scene-001.ss-0001.es-0001"
    assert _records(stage_output / "tt0000009.parquet") == []      # in the split, not in the pickle


def test_parquet_types(stage_output):
    import pyarrow.parquet as pq

    schema = pq.read_schema(stage_output / "tt0000001.parquet")
    assert str(schema.field("interaction").type) == "int32"
    assert str(schema.field("relationship").type) == "int32"
    assert str(schema.field("overlapping").type) == "list<element: int32>"
    assert str(schema.field("characters").type) == "list<element: string>"


def test_split_and_summary(stage_output):
    assert json.loads((stage_output / "split.json").read_text()) == {
        "train": ["tt0000001"], "val": [], "test": ["tt0000002"]}
    summary = json.loads((stage_output / "summary.json").read_text())
    assert summary["movies_not_in_annotations"] == {"train": [], "val": ["tt0000009"], "test": []}
    assert summary["interaction_classes"] == ["talk", "greet", "hug", "watch"]
    train = summary["splits"]["train"]
    assert train["movies"] == 1 and train["clips"] == 3 and train["instances"] == 9
    assert train["interaction_nodes"] == 9       # 5 + 3 + 1 mapped nodes ("waves at" has no pair)
    assert train["interactions"] == {"talk": 4, "greet": 1, "hug": 2, "watch": 2}
    assert train["relationships"] == {"friend": 4, "boss": 0, "worker": 2, "stranger": 1}
    assert train["relationship_source"] == {"clip": 2, "earlier_clip": 2, "reverse_in_clip": 3}
    assert train["missing_relationship"] == 2
    assert (train["subject_without_track"], train["object_without_track"], train["pair_without_track"]) == (4, 5, 6)
    assert train["whole_clip_time"] == 1
    assert train["skipped"] == {"interaction_not_in_label_map": 1, "interaction_without_pair": 1}
    assert train["unmapped_relationships"] == {"nemesis": 1}
    test = summary["splits"]["test"]
    assert test["instances"] == 1 and test["merged_clips"] == 1
    assert test["skipped"] == {"pair_of_one_character": 1}
    assert summary["splits"]["val"]["instances"] == 0


def test_temporal_iou():
    assert temporal_iou((0, 10), (2, 10)) == pytest.approx(0.8)
    assert temporal_iou((1, 3), (1.5, 3.5)) == pytest.approx(0.6)
    assert temporal_iou((0, 1), (2, 3)) == 0.0
    assert temporal_iou((0, math.inf), (0, math.inf)) == 1.0
    assert temporal_iou((0, math.inf), (0, 5)) == 0.0
    assert temporal_iou((2, 2), (2, 2)) == 1.0


def test_bad_input_exits_2_without_outputs(tmp_path, dataset, caplog):
    broken = tmp_path / "broken"
    broken.mkdir()
    for item in ("split.json", "others", "ftrack_ids"):
        (broken / item).symlink_to(dataset / item)
    (broken / "py3loader").mkdir()
    (broken / "py3loader" / "all_movies.pkl").write_bytes(b"garbage")
    assert main(["--config", str(_config(tmp_path, broken))]) == 2
    assert "all_movies.pkl: not a readable annotation pickle" in caplog.text
    assert not (tmp_path / "work").exists()


def test_missing_track_names_file_is_an_error_before_any_output(tmp_path, dataset, caplog):
    broken = tmp_path / "broken"
    broken.mkdir()
    for item in ("split.json", "others", "py3loader"):
        (broken / item).symlink_to(dataset / item)
    (broken / "ftrack_ids").mkdir()
    (broken / "ftrack_ids" / "tt0000001.json").symlink_to(dataset / "ftrack_ids" / "tt0000001.json")
    (broken / "ftrack_ids" / "tt0000009.json").symlink_to(dataset / "ftrack_ids" / "tt0000009.json")
    assert main(["--config", str(_config(tmp_path, broken))]) == 2
    assert "tt0000002.json: track names file not found" in caplog.text
    assert not (tmp_path / "work").exists()
