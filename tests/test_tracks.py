"""Face tracks and track names, tested on the real MovieGraphs release files of tt0073486."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.dataset import DatasetError
from pipeline.tracks import (FaceDetection, PersonBoxRatios, canonical_name, clip_boxes,
                             face_to_person_box, load_clip_tracks, load_track_names, movie_characters,
                             track_matches_character)
from tests.conftest import FIXTURES

MOVIE = "tt0073486"


def test_canonical_name():
    assert canonical_name("Nurse\xa0Pilbow") == "nurse pilbow"
    assert canonical_name("  R.P.   McMurphy \t") == "r.p. mcmurphy"
    assert canonical_name("other patients\xa0") == "other patients"
    assert canonical_name(None) is None
    assert canonical_name("") is None
    assert canonical_name(" \xa0 ") is None


def test_track_matches_character_lirec_rule():
    assert track_matches_character("Harding", "Dale Harding")          # one of the words
    assert track_matches_character("Nurse\xa0Pilbow", "nurse pilbow")  # canonical equality
    assert track_matches_character("R.P. McMurphy", "R.P.  McMurphy")
    assert not track_matches_character("Hard", "Dale Harding")         # words, not substrings
    assert not track_matches_character("Dale Harding", "Harding")      # not the other way round
    assert not track_matches_character(None, "harding")
    assert not track_matches_character("other", "other patients")      # non-character label
    assert not track_matches_character("no_face", "no_face")


def test_movie_characters_from_track_labels_alone():
    characters = movie_characters(["Harding", "Dale\xa0Harding", "Rita", "Rita Hayes", "Rita Moreno", "other",
                                   None, "McMurphy", "Harding"])
    assert characters == {"harding": "dale harding", "dale harding": "dale harding", "rita": "rita",
                          "rita hayes": "rita hayes", "rita moreno": "rita moreno", "mcmurphy": "mcmurphy"}
    real = movie_characters([name for names in load_track_names(FIXTURES / "ftrack_ids" / f"{MOVIE}.json").values()
                             for name in names])
    assert all(track_matches_character(label, character) for label, character in real.items())


def test_load_track_names_real_file():
    names = load_track_names(FIXTURES / "ftrack_ids" / f"{MOVIE}.json")
    assert len(names) == 196
    assert names["scene-004.ss-0005.es-0005"] == ["Nurse\xa0Pilbow"] * 3
    clip12 = names["scene-012.ss-0042.es-0053"]
    assert len(clip12) == 23 and clip12[:3] == ["Billy Bibbit", "Harding", "other"]
    assert "scene-007.ss-0015.es-0015" not in names   # a clip without tracks has no entry


def test_load_clip_tracks_real_file():
    names = load_track_names(FIXTURES / "ftrack_ids" / f"{MOVIE}.json")
    clip = "scene-012.ss-0042.es-0053"
    path = FIXTURES / "ftracks" / MOVIE / f"{clip}.json"
    tracks = load_clip_tracks(path, names[clip])
    raw = json.loads(path.read_text())["ftracks"]
    assert [t.track_id for t in tracks] == list(range(23))
    assert [len(t.detections) for t in tracks] == [len(r) for r in raw]
    first = tracks[0]
    assert first.name == "Billy Bibbit" and first.character == "billy bibbit"
    assert first.detections[0] == FaceDetection(frame=0, time=0.0, x=502.353, y=205.86, w=229.185, h=223.868)
    assert first.detections[0].time == 0.0 and first.detections[-1].time == pytest.approx(raw[0][-1]["timestamp"])
    other = tracks[2]
    assert other.name == "other" and other.character is None
    for track in tracks:
        frames = [d.frame for d in track.detections]
        assert frames == sorted(frames)
    # scale halves coordinates (LIReC's fx = x / 2), not times
    half = load_clip_tracks(path, names[clip], scale=0.5)
    assert half[0].detections[0].x == pytest.approx(502.353 / 2)
    assert half[0].detections[0].w == pytest.approx(229.185 / 2)
    assert half[0].detections[0].time == 0.0
    assert track_matches_character(tracks[1].name, "Dale Harding")


def test_clip_without_tracks_and_without_names():
    tracks = load_clip_tracks(FIXTURES / "ftracks" / MOVIE / "scene-007.ss-0015.es-0015.json", [])
    assert tracks == []
    unnamed = load_clip_tracks(FIXTURES / "ftracks" / MOVIE / "scene-004.ss-0005.es-0005.json")
    assert [t.name for t in unnamed] == [None, None, None]
    assert all(t.character is None for t in unnamed)


def test_unsorted_detections_are_sorted_by_frame(tmp_path):
    path = tmp_path / "clip.json"
    det = lambda frame: {"timestamp": frame / 25, "frame": frame, "ftrack_id": 5,  # noqa: E731
                         "x": 1, "y": 2, "w": 3, "h": 4}
    path.write_text(json.dumps({"ftracks": [[det(3), det(1), det(2)]], "frame2ftracks": []}))
    (track,) = load_clip_tracks(path, ["Nurse\xa0Ratched"])
    assert [d.frame for d in track.detections] == [1, 2, 3]
    assert track.character == "nurse ratched" and track.detections[0].time == pytest.approx(0.04)


@pytest.mark.parametrize("content, message", [
    (None, "not found"),
    ("{not json", "not valid JSON"),
    ('{"tracks": []}', "'ftracks'"),
    ('{"ftracks": [[{"frame": 1}]]}', "without key"),
    ('{"ftracks": [[{"timestamp": 0, "frame": 0, "x": "a", "y": 0, "w": 1, "h": 1}]]}', "non-numeric"),
])
def test_bad_track_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DatasetError, match=message) as info:
        load_clip_tracks(path)
    assert str(path) in str(info.value)


def test_track_count_must_match_names(tmp_path):
    path = tmp_path / "clip.json"
    path.write_text(json.dumps({"ftracks": [[{"timestamp": 0, "frame": 0, "x": 0, "y": 0, "w": 1, "h": 1}]]}))
    with pytest.raises(DatasetError, match="1 tracks but 2 track names"):
        load_clip_tracks(path, ["a", "b"])


@pytest.mark.parametrize("content, message", [
    (None, "not found"),
    ("[1, 2]", "expected an object"),
    ('{"scene-001": "Harding"}', "scene-001"),
])
def test_bad_track_name_files(tmp_path, content, message):
    path = tmp_path / "names.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DatasetError, match=message) as info:
        load_track_names(path)
    assert str(path) in str(info.value)


def test_face_to_person_box_lirec_expansion():
    # face 30x15 at (100, 50): person 100 wide (30 / 0.3), 100 high (15 / 0.15)
    x0, y0, x1, y1 = face_to_person_box(100.0, 50.0, 30.0, 15.0, PersonBoxRatios.defaults())
    assert (x0, y0) == pytest.approx((100 - 0.35 * 100, 50 - 0.10 * 100))
    assert (x1 - x0, y1 - y0) == pytest.approx((100.0, 100.0))
    # the face sits at the stated fractions of the person box
    assert (100 - x0) / (x1 - x0) == pytest.approx(0.35)
    assert (130 - x0) / (x1 - x0) == pytest.approx(0.65)
    assert (65 - y0) / (y1 - y0) == pytest.approx(0.25)
    wide = face_to_person_box(100.0, 50.0, 30.0, 15.0, PersonBoxRatios(0.0, 1.0, 0.0, 1.0))
    assert wide == pytest.approx((100.0, 50.0, 130.0, 65.0))
    with pytest.raises(ValueError, match="face_x0 < face_x1"):
        PersonBoxRatios(0.6, 0.4, 0.1, 0.2)


def test_clip_boxes():
    boxes = np.array([[-10, -5, 50, 40], [150, 100, 200, 300], [10, 10, 20, 20]], dtype=np.float32)
    clipped = clip_boxes(boxes, width=160, height=120)
    np.testing.assert_array_equal(clipped, [[0, 0, 50, 40], [150, 100, 160, 120], [10, 10, 20, 20]])
    assert clipped.dtype == np.float32
    assert boxes[0, 0] == -10  # input untouched
    assert clip_boxes([], 10, 10).shape == (0, 4)
