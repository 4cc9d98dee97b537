"""Sample assembly on tiny hand-made annotation + feature files: pooled vectors, candidates, context."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from _model_helpers import (DialogClip, VisualClip, annotation_row, tiny_classes, write_annotations, write_dialog,
                            write_label_files, write_visual)
from model.data import choose_context
from pipeline.formats.annotations import AnnotationRow
from pipeline.formats.shard import SampleShard
from pipeline.errors import PipelineError
from pipeline.formats.visual import VisualFeatureReader
from pipeline.samples import (MovieInputs, assemble_samples, interaction_characters, span_windows, tracked_cast,
                              unlabelled_row, write_samples)
from pipeline.samples import main as samples_main
from pipeline.tracks import movie_characters

CLASSES = tiny_classes()
C1, C2 = "scene-001.ss-0001.es-0002", "scene-002.ss-0003.es-0003"


def _tiny_movie(folder: Path, reverse_span: tuple[float, float] = (1.0, 2.0)) -> MovieInputs:
    """One movie, two clips.

    c1: windows [0,1] [1,2] [2,3] [3,4]; ann has two tracks (windows 0-2 and 3), bob one (window 1),
    cy none, and an unnamed track that must never be used. Rows: ann->bob "hugs" (parent) over
    [0.5, 2.5] = windows 0-2 and sentences 0-1; bob->ann "hugs" (no label) over [1, 2] = window 1, no
    sentence. c2: one window [0, 2]; row ann->bob "talks to" over [5, 6] (no window overlaps: the
    nearest one), no dialog for the clip, no tracks. ``reverse_span``: the span of bob->ann (the
    span of ann->bob makes the two rows one bidirectional interaction instance).
    """
    rows = [
        annotation_row("m1", C1, 0.5, 2.5, "ann", "bob", 1, 2, [3], ["ann", "bob", "cy"], CLASSES),
        annotation_row("m1", C1, *reverse_span, "bob", "ann", 1, None, [], ["ann", "bob", "cy"], CLASSES),
        annotation_row("m1", C2, 5.0, 6.0, "ann", "bob", 0, None, [], ["ann", "bob"], CLASSES),
    ]
    visual = {
        C1: VisualClip(np.array([[0, 1], [1, 2], [2, 3], [3, 4]], float),
                       np.array([[1, 0], [2, 5], [3, 1], [0, 0]], float),
                       [("ann", np.array([0, 1, 2]), np.array([[1, 1], [4, 0], [2, 2]], float)),
                        ("ann", np.array([3]), np.array([[9, 9]], float)),
                        ("bob", np.array([1]), np.array([[7, 3]], float)),
                        ("", np.array([1]), np.array([[100, 100]], float))]),
        C2: VisualClip(np.array([[0, 2]], float), np.array([[1, 1]], float), []),
    }
    dialog = {C1: DialogClip(np.array([[0, 1], [2, 3], [3.5, 4]], float),
                             np.array([[1, 2, 3], [4, 0, 1], [9, 9, 9]], float))}
    inputs = MovieInputs("m1", folder / "m1.parquet", folder / "visual" / "m1.h5", folder / "dialog" / "m1.h5")
    write_annotations(inputs.annotations, rows)
    write_visual(inputs.visual, visual)
    write_dialog(inputs.dialog, dialog, dim=3)
    return inputs


def _assemble(tmp_path: Path, pooling: str = "max", max_candidates: int = 20,
              reverse_span: tuple[float, float] = (1.0, 2.0)) -> Path:
    inputs = _tiny_movie(tmp_path / "in", reverse_span)
    out = tmp_path / f"{pooling}.h5"
    assemble_samples([inputs], out, pooling=pooling, split="train", labels=CLASSES,
                     max_candidates=max_candidates, seed=0)
    return out


EXPECTED = {  # sample 0 (ann->bob over windows 0-2), sample 1 (bob->ann over window 1), sample 2 (c2)
    "max": {"visual": [[3, 5], [2, 5], [1, 1]], "dialog": [[4, 2, 3], [0, 0, 0], [0, 0, 0]],
            "ann": [[4, 2], [4, 0], [0, 0]], "bob": [[7, 3], [7, 3], [0, 0]]},
    "avg": {"visual": [[2, 2], [2, 5], [1, 1]], "dialog": [[2.5, 1, 2], [0, 0, 0], [0, 0, 0]],
            "ann": [[7 / 3, 1], [4, 0], [0, 0]], "bob": [[7, 3], [7, 3], [0, 0]]},
    "sum": {"visual": [[6, 6], [2, 5], [1, 1]], "dialog": [[5, 2, 4], [0, 0, 0], [0, 0, 0]],
            "ann": [[7, 3], [4, 0], [0, 0]], "bob": [[7, 3], [7, 3], [0, 0]]},
}


@pytest.mark.parametrize("pooling", ["max", "avg", "sum"])
def test_pooled_vectors_and_zeros_for_missing(tmp_path, pooling):
    path = _assemble(tmp_path, pooling)
    expected = EXPECTED[pooling]
    with h5py.File(path, "r") as f:
        assert f.attrs["pooling"] == pooling and f.attrs["complete"]
        assert (f.attrs["visual_dim"], f.attrs["dialog_dim"]) == (2, 3)
        assert (f.attrs["num_interactions"], f.attrs["num_relationships"]) == (5, 4)
        assert f.attrs["missing_dialog_clips"] == 1
        np.testing.assert_allclose(f["samples/visual"][()], expected["visual"], rtol=1e-3)
        np.testing.assert_allclose(f["samples/dialog"][()], expected["dialog"], rtol=1e-3)
        names = [n.decode() for n in f["persons/name"][()]]
        person = f["characters/person"][()]
        tracks = f["characters/track"][()].astype(float)
        offset = f["samples/char_offset"][()]
        has_track = f["characters/has_track"][()]
        for sample in range(3):
            rows = range(offset[sample], offset[sample + 1])
            by_name = {names[person[r]]: r for r in rows}
            assert set(by_name) == ({"ann", "bob", "cy"} if sample < 2 else {"ann", "bob"})
            for name in ("ann", "bob"):
                np.testing.assert_allclose(tracks[by_name[name]], expected[name][sample], rtol=1e-3)
            if sample < 2:  # cy has no track: zeros
                assert not has_track[by_name["cy"]] and not tracks[by_name["cy"]].any()
        assert has_track[offset[0]:offset[1]].tolist() == [True, True, False]
        assert not has_track[offset[2]:offset[3]].any()
        # labels
        assert f["samples/interaction"][()].tolist() == [1, 1, 0]
        assert f["samples/relationship"][()].tolist() == [2, -1, -1]
        overlap = f["samples/overlap"][()]
        assert overlap.dtype == bool and overlap[0].tolist() == [False, False, False, True, False]
        assert not overlap[1:].any()


def test_span_windows_overlap_and_nearest():
    times = np.array([[0, 1], [1, 2], [2, 3]], float)
    assert span_windows(times, 0.5, 1.5).tolist() == [0, 1]
    assert span_windows(times, 1.0, 2.0).tolist() == [1]          # touching ends do not count
    assert span_windows(times, 1.5, 1.5).tolist() == [1]          # an instant: the window holding it
    assert span_windows(times, 7.0, 9.0).tolist() == [2]          # none: the nearest window
    assert span_windows(times, -3.0, -1.0).tolist() == [0]


def _candidate_names(shard: SampleShard, sample: int) -> list[tuple]:
    count = shard.candidate_count[sample]
    return [tuple(shard.character_name(int(r)) for r in shard.candidates[sample, slot]) for slot in range(count)]


def test_bidirectional_means_one_interaction_instance_in_both_directions(tmp_path):
    one_instance = SampleShard(_assemble(tmp_path / "same", reverse_span=(0.5, 2.5)))
    names = _candidate_names(one_instance, 0)
    assert names[one_instance.true_candidate[0, 1]] == ("bob", "ann")   # bob->ann hugs too: bidirectional
    another_time = SampleShard(_assemble(tmp_path / "other"))            # bob->ann hugs at another time
    assert another_time.true_candidate[0, 1] == -1 and another_time.true_candidate[1, 1] == -1


def test_candidates_true_pair_and_bidirectional(tmp_path):
    shard = SampleShard(_assemble(tmp_path, reverse_span=(0.5, 2.5)))
    pairs = [(a, b) for a in ("ann", "bob", "cy") for b in ("ann", "bob", "cy") if a != b]
    singles = [p for name in ("ann", "bob", "cy") for p in ((name, None), (None, name))]
    names = _candidate_names(shard, 0)
    assert sorted(names, key=str) == sorted(pairs + singles, key=str) and len(names) == 12
    assert names[shard.true_candidate[0, 0]] == ("ann", "bob")
    assert names[shard.true_candidate[0, 1]] == ("bob", "ann")       # bob->ann hugs too: bidirectional
    names1 = _candidate_names(shard, 1)
    assert names1[shard.true_candidate[1, 0]] == ("bob", "ann")
    names2 = _candidate_names(shard, 2)
    assert sorted(names2, key=str) == sorted([("ann", "bob"), ("bob", "ann"), ("ann", None), (None, "ann"),
                                              ("bob", None), (None, "bob")], key=str)
    assert names2[shard.true_candidate[2, 0]] == ("ann", "bob") and shard.true_candidate[2, 1] == -1
    # padding and single-character slots have no context group; pairs have one
    for sample in range(3):
        for slot, (a, b) in enumerate(_candidate_names(shard, sample)):
            assert (shard.candidate_group[sample, slot] >= 0) == (a is not None and b is not None)
        assert (shard.candidate_group[sample, shard.candidate_count[sample]:] == -1).all()
        assert (shard.candidates[sample, shard.candidate_count[sample]:] == -1).all()
    # the true pair is not always in the same slot (shuffled, seeded): same result twice
    again = SampleShard(_assemble(tmp_path / "again"))
    np.testing.assert_array_equal(again.candidates, shard.candidates)


def test_candidate_cap_keeps_true_pair(tmp_path):
    shard = SampleShard(_assemble(tmp_path, max_candidates=3))
    assert shard.candidate_count.tolist() == [3, 3, 3]
    names = _candidate_names(shard, 0)
    assert sorted(names) == sorted([("ann", "bob"), ("bob", "ann"), ("ann", "cy")])
    assert names[shard.true_candidate[0, 0]] == ("ann", "bob")


def _group(shard: SampleShard, subject: str, object_: str, relationship: int) -> list[int] | None:
    with h5py.File(shard.path, "r") as f:
        names = [n.decode() for n in f["persons/name"][()]]
        subjects, objects = f["groups/subject"][()], f["groups/object"][()]
    for g in range(len(shard.group_relationship)):
        if (names[subjects[g]], names[objects[g]], shard.group_relationship[g]) == (subject, object_, relationship):
            members = shard.group_members(g)
            for m in members:  # member rows are that pair's characters in that sample
                assert shard.character_name(int(shard.member_subject_row[m])) == subject
                assert shard.character_name(int(shard.member_object_row[m])) == object_
            return shard.member_sample[members].tolist()
    return None


def test_relationship_context_groups(tmp_path):
    shard = SampleShard(_assemble(tmp_path))
    # ann->bob is "parent" from clip 1 on (propagated into clip 2); both clip-1 samples (ann->bob and
    # bob->ann: both characters take part) join it
    assert _group(shard, "ann", "bob", 2) == [0, 1, 2]
    # bob->ann: the opposite ("child") of the clip's ann->bob label, also propagated into clip 2
    assert _group(shard, "bob", "ann", 3) == [0, 1, 2]
    # sample 1's own label is missing: its rel_key is the (bob, ann, None) group
    assert _group(shard, "bob", "ann", -1) == [1]
    # ann and cy share the clip but never interact: the candidate pair's group has no members (the
    # authors' code keeps only interactions both characters take part in)
    assert _group(shard, "ann", "cy", -1) == []
    assert _group(shard, "ann", "bob", -1) == [2]        # sample 2's own (missing) label
    assert shard.group_relationship[shard.rel_key[0]] == 2
    slot = shard.true_candidate[0, 0]
    assert shard.candidate_group[0, slot] == shard.rel_key[0]


def test_context_choice_random_in_training_evenly_spaced_at_test():
    assert choose_context(5, 18, None).tolist() == [0, 1, 2, 3, 4]
    assert choose_context(40, 4, None).tolist() == [0, 10, 20, 30]
    assert choose_context(10, 3, None).tolist() == [0, 3, 6]
    first = choose_context(40, 4, np.random.default_rng(0))
    assert len(set(first.tolist())) == 4 and first.max() < 40
    np.testing.assert_array_equal(first, choose_context(40, 4, np.random.default_rng(0)))


def test_bad_inputs_name_the_file(tmp_path):
    inputs = _tiny_movie(tmp_path / "in")
    write_visual(inputs.visual, {}, complete=False)
    with pytest.raises(PipelineError, match=r"m1\.h5.*incomplete"):
        assemble_samples([inputs], tmp_path / "x.h5", pooling="max", split="train", labels=CLASSES,
                         max_candidates=20, seed=0)
    assert not (tmp_path / "x.h5").exists()
    inputs = _tiny_movie(tmp_path / "in2")
    write_annotations(inputs.annotations, [annotation_row("m1", C1, 0, 1, "ann", "bob", 9, None, [], ["ann"])])
    with pytest.raises(PipelineError, match=r"m1\.parquet: row 0: interaction 9"):
        assemble_samples([inputs], tmp_path / "y.h5", pooling="max", split="train", labels=CLASSES,
                         max_candidates=20, seed=0)
    inputs = _tiny_movie(tmp_path / "in3")
    inputs.dialog.unlink()
    with pytest.raises(PipelineError, match="dialog feature file not found"):
        assemble_samples([inputs], tmp_path / "z.h5", pooling="max", split="train", labels=CLASSES,
                         max_candidates=20, seed=0)


def test_entry_point_reads_split_and_label_files(tmp_path, caplog):
    work = tmp_path / "work"
    inputs = _tiny_movie(tmp_path / "in")
    (work / "annotations").mkdir(parents=True)
    inputs.annotations.rename(work / "annotations" / "m1.parquet")
    (work / "features" / "visual").mkdir(parents=True)
    (work / "features" / "dialog").mkdir(parents=True)
    inputs.visual.rename(work / "features" / "visual" / "m1.h5")
    inputs.dialog.rename(work / "features" / "dialog" / "m1.h5")
    (work / "annotations" / "split.json").write_text(json.dumps({"train": ["m1"], "val": [], "test": []}))
    labels = write_label_files(tmp_path / "data" / "others", CLASSES)
    settings = {"work_dir": str(work), "dataset": {"root": str(tmp_path / "data")}}
    out = work / "samples" / "avg" / "train.h5"
    args = ["--settings", json.dumps(settings), "--pooling", "avg", "--split", "train", "--out", str(out)]
    assert samples_main(args) == 0
    with h5py.File(out, "r") as f:
        assert json.loads(f.attrs["interaction_names"]) == CLASSES.interactions
        assert json.loads(f.attrs["relationship_names"]) == CLASSES.relationships
        assert f.attrs["num_samples"] == 3
    labels["interactions"].write_text("only one\tonly one\n")  # now interaction 1 is out of range
    out.unlink()
    with caplog.at_level("ERROR", logger="pipeline.samples"):
        assert samples_main(args) == 2
    assert "interaction 1 outside" in caplog.text and not out.exists()


def test_unlabelled_whole_clip_samples_for_prediction(tmp_path):
    """One sample per clip without annotations: cast from the tracks, every pair, one group per pair."""
    inputs = _tiny_movie(tmp_path / "in")
    with VisualFeatureReader(inputs.visual) as visual:
        characters = movie_characters([track.character for clip in (C1, C2) for track in visual.clip(clip).tracks])
        casts = {clip: tracked_cast(visual.clip(clip), characters) for clip in (C1, C2)}
    assert casts == {C1: ["ann", "bob"], C2: []}        # the unnamed track is no character; c2 has no tracks
    clips = {clip: [unlabelled_row(clip, cast)] for clip, cast in casts.items()}
    out = tmp_path / "clips.h5"
    write_samples([MovieInputs("m1", None, inputs.visual, None)], [clips], out, pooling="max", split="predict",
                  labels=CLASSES, max_candidates=6, seed=0, dims=(2, 3))
    shard = SampleShard(out)
    assert _candidate_names(shard, 0) == [("ann", "bob"), ("bob", "ann"), ("ann", None), (None, "ann"),
                                          ("bob", None), (None, "bob")]     # in order: no true pair to hide
    assert _candidate_names(shard, 1) == [(None, None)]                   # no character: zero tracks
    assert shard.interaction.tolist() == [-1, -1] and shard.relationship.tolist() == [-1, -1]
    assert shard.rel_key.tolist() == [-1, -1] and (shard.true_candidate == -1).all()
    assert _group(shard, "ann", "bob", -1) == [0] and _group(shard, "bob", "ann", -1) == [0]
    assert shard.candidate_group[1, 0] == -1
    with h5py.File(out, "r") as f:   # the whole clip: every window pooled, dialog zeros (no subtitles)
        np.testing.assert_array_equal(f["samples/visual"][0], [3, 5])
        np.testing.assert_array_equal(f["samples/dialog"][()], np.zeros((2, 3)))
    assert shard.features == {"visual": {"backbone": "synthetic"}, "dialog": None}


def test_feature_files_of_other_features_cannot_share_a_shard(tmp_path):
    first, second = _tiny_movie(tmp_path / "a"), _tiny_movie(tmp_path / "b")
    with h5py.File(second.visual, "a") as f:
        f.attrs["backbone"] = "resnext101"
    second.movie = "m2"
    with pytest.raises(PipelineError, match=r"b/visual/m1\.h5: other visual features than .*a/visual/m1\.h5"):
        assemble_samples([first, second], tmp_path / "x.h5", pooling="max", split="train", labels=CLASSES,
                         max_candidates=20, seed=0)
    shard = SampleShard(_assemble(tmp_path / "c"))
    assert shard.features == {"visual": {"backbone": "synthetic"}, "dialog": {}}


def test_interaction_characters_of_an_interaction_addressed_to_several():
    def row(start: float, subject: str, object_: str, interaction: int) -> AnnotationRow:
        return AnnotationRow(C1, start, start + 2.0, subject, object_, interaction, -1, [], ["ann", "bob", "cy"])

    rows = [row(0.0, "ann", "bob", 1), row(0.0, "ann", "cy", 1),   # ann talks to bob and cy at once
            row(0.0, "bob", "ann", 1), row(4.0, "ann", "cy", 1), row(0.0, "ann", "cy", 0)]
    assert interaction_characters(rows[0], rows) == ["ann", "bob", "cy"]
    assert interaction_characters(rows[2], rows) == ["bob", "ann"]        # the reverse row: its own pair
    assert interaction_characters(rows[3], rows) == ["ann", "cy"]         # another span: another instance
    assert interaction_characters(rows[4], rows) == ["ann", "cy"]         # another class: another instance
