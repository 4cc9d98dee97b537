"""Property-based tests (hypothesis): the subtitle parser, the face-track reader, temporal overlap."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.dataset import DatasetError
from pipeline.samples import overlapping_intervals, span_windows
from pipeline.spans import temporal_iou
from pipeline.subtitles import parse_subtitles
from pipeline.tracks import load_clip_tracks, write_clip_tracks

WORDS = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu")), min_size=1, max_size=8)
LINE = st.lists(WORDS, min_size=1, max_size=5).map(" ".join)


def _vtt_time(millis: int) -> str:
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


CUE = st.tuples(st.integers(0, 7_200_000), st.integers(0, 60_000), st.lists(LINE, min_size=1, max_size=3))


@settings(max_examples=150, deadline=None)
@given(st.lists(CUE, max_size=12), st.booleans())
def test_written_cues_are_read_back_in_time_order(cues, srt):
    """Any document of well-formed cues parses to exactly those cues, sorted by time."""
    blocks = []
    for k, (start, length, lines) in enumerate(cues):
        timing = f"{_vtt_time(start)} --> {_vtt_time(start + length)}"
        if srt:
            timing = timing.replace(".", ",")
        blocks.append(([str(k + 1)] if srt else []) + [timing] + lines)
    text = ("" if srt else "WEBVTT\n\n") + "\n\n".join("\n".join(block) for block in blocks) + "\n"
    parsed = parse_subtitles(text, "generated")
    expected = sorted(((start / 1000, (start + length) / 1000, tuple(lines)) for start, length, lines in cues),
                      key=lambda cue: (cue[0], cue[1]))
    assert [t for c in parsed for t in (c.start, c.end)] == pytest.approx([t for s, e, _ in expected for t in (s, e)])
    assert sorted(c.lines for c in parsed) == sorted(lines for _, _, lines in expected)


@settings(max_examples=150, deadline=None)
@given(st.lists(CUE, min_size=1, max_size=6), st.data())
def test_a_damaged_timing_line_is_an_error_or_a_recorded_skip_never_merged_text(cues, data):
    """Breaking the arrow of one cue never merges its words into another cue."""
    broken = data.draw(st.integers(0, len(cues) - 1))
    arrow = data.draw(st.sampled_from(["->", "=>", "- ->", "—>", "-- >"]))
    blocks = []
    for k, (start, length, lines) in enumerate(cues):
        timing = f"{_vtt_time(start)} {'-->' if k != broken else arrow} {_vtt_time(start + length)}"
        blocks.append([timing] + [f"cue{k} {line}" for line in lines])
    text = "WEBVTT\n\n" + "\n\n".join("\n".join(block) for block in blocks) + "\n"
    with pytest.raises(DatasetError, match="malformed timing line"):
        parse_subtitles(text, "generated")
    skipped: list[dict] = []
    parsed = parse_subtitles(text, "generated", skipped)
    assert len(skipped) == 1 and len(parsed) == len(cues) - 1
    assert not any(line.startswith(f"cue{broken} ") for cue in parsed for line in cue.lines)


DETECTION = st.tuples(st.integers(0, 500), st.floats(-50, 1000, allow_nan=False), st.floats(-50, 700, allow_nan=False),
                      st.floats(0.5, 300), st.floats(0.5, 300))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(DETECTION, max_size=8), max_size=5), st.floats(0.25, 2.0), st.integers(8, 30))
def test_face_tracks_round_trip_through_the_release_format(tmp_path, tracks, scale, fps):
    path = write_clip_tracks(tmp_path / "clip.json", tracks, fps)
    names = [f"person {k}" for k in range(len(tracks))]
    read = load_clip_tracks(path, names, scale)
    assert [t.track_id for t in read] == [k for k, track in enumerate(tracks) if track]   # empty tracks drop out
    for track in read:
        original = sorted(tracks[track.track_id], key=lambda d: d[0])
        assert [d.frame for d in track.detections] == [d[0] for d in original]
        assert [d.x for d in track.detections] == pytest.approx([round(d[1], 4) * scale for d in original], abs=1e-6)
        assert [d.w for d in track.detections] == pytest.approx([round(d[3], 4) * scale for d in original], abs=1e-6)
        assert [d.time for d in track.detections] == pytest.approx([round(d[0] / fps, 5) for d in original])
        assert track.character == f"person {track.track_id}"


SPAN = st.tuples(st.floats(0, 100, allow_nan=False), st.floats(0, 50, allow_nan=False)).map(lambda s: (s[0], s[0] + s[1]))


@settings(max_examples=300, deadline=None)
@given(SPAN, SPAN)
def test_temporal_iou_is_a_symmetric_fraction(a, b):
    iou = temporal_iou(a, b)
    assert 0.0 <= iou <= 1.0 and iou == pytest.approx(temporal_iou(b, a))
    assert temporal_iou(a, a) == 1.0
    if min(a[1], b[1]) <= max(a[0], b[0]) and a != b:
        assert iou == 0.0                                          # disjoint or touching spans
    assert temporal_iou((a[0], math.inf), (a[0], math.inf)) == 1.0
    assert temporal_iou((a[0], math.inf), a) == 0.0


@settings(max_examples=300, deadline=None)
@given(st.lists(SPAN, max_size=10), SPAN)
def test_overlapping_intervals_are_exactly_the_intersecting_ones(intervals, span):
    array = np.array(intervals, dtype=np.float64).reshape(-1, 2)
    start, end = span
    hits = set(overlapping_intervals(array, start, end).tolist())
    for k, (a, b) in enumerate(intervals):
        overlaps = (a < end and b > start) if end > start else (a <= start <= b)
        assert (k in hits) == overlaps
    windows = span_windows(array, start, end)
    assert (len(windows) > 0) == (len(intervals) > 0)           # some window always stands for the span
