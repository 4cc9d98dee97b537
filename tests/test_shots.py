"""Shot, scene and frame-time readers, tested on the real release files of tt0073486."""
from __future__ import annotations


import pytest

from tests.conftest import SHARED_FIXTURES
from pipeline.shots import (Scene, ShotCut, ShotsError, load_matidx, load_scenes_gt, load_videvents,
                            scene_frame_range, shot_start_frames)

SHOTS = SHARED_FIXTURES / "shots"
needs_fixtures = pytest.mark.skipif(not SHOTS.is_dir(), reason="real MovieGraphs shot files not present")


@needs_fixtures
def test_real_files_agree_with_each_other():
    cuts = load_videvents(SHOTS / "tt0073486.videvents")
    scenes = load_scenes_gt(SHOTS / "tt0073486.scenes.gt")
    assert len(cuts) == 1555 and cuts[0] == ShotCut(2060, 85.919) and cuts[-1] == ShotCut(192290, 8020.095)
    assert len(scenes) == 229
    assert scenes[2] == Scene(3, 3, 4, True) and scenes[2].clip_name == "scene-003.ss-0003.es-0004"
    assert scenes[0].use is False
    # the face-track fixtures' clip names are scenes of this file
    assert scenes[13].clip_name == "scene-014.ss-0065.es-0068"
    assert scenes[11].clip_name == "scene-012.ss-0042.es-0053"
    assert scenes[-1].end_shot == len(cuts) + 1            # n cuts delimit n + 1 shots
    assert scene_frame_range(scenes[0], cuts) == (0, 2060)
    assert scene_frame_range(scenes[2], cuts)[0] == cuts[1].frame
    assert scene_frame_range(scenes[-1], cuts)[1] is None
    frames, times = load_matidx(SHOTS / "tt0073486.head3000.matidx")
    assert len(frames) == 3000 and frames[0] == 0 and frames[-1] == 2999
    assert times[1] == pytest.approx(0.042) and times[-1] == pytest.approx(125.083)
    # the first cut (frame 2060) lies within these 3000 frames and its time matches their clock
    assert times[cuts[0].frame] == pytest.approx(cuts[0].time, abs=0.05)


def test_shot_start_frames():
    assert shot_start_frames([ShotCut(10, 0.4), ShotCut(25, 1.0)]) == [0, 10, 25]
    with pytest.raises(ShotsError, match="only 3 shots"):
        scene_frame_range(Scene(1, 2, 4, True), [ShotCut(10, 0.4), ShotCut(25, 1.0)])


@pytest.mark.parametrize("loader, text, message", [
    (load_videvents, "WRONG\n10 0.4 CUT\n", "first line must be"),
    (load_videvents, "CVHCI_VIDEOEVENTS_V1\n10 0.4 FADE\n", ":2: expected 'frame time CUT'"),
    (load_videvents, "CVHCI_VIDEOEVENTS_V1\n10 0.4 CUT\n5 0.2 CUT\n", ":3: frame 5 does not follow"),
    (load_videvents, "CVHCI_VIDEOEVENTS_V1\nten 0.4 CUT\n", ":2: expected numbers"),
    (load_scenes_gt, "1 2 1\n4 5 1\n", ":2: scene starts at shot 4"),
    (load_scenes_gt, "1 2 3\n", ":1: invalid scene"),
    (load_scenes_gt, "1 2\n", ":1: expected 'start_shot end_shot use_flag'"),
    (load_matidx, "0 0.0\n0 0.04\n", ":2: frame 0 does not follow"),
    (load_matidx, "0 0.0 x\n", ":1: expected 'frame time'"),
])
def test_malformed_files_name_file_and_line(tmp_path, loader, text, message):
    path = tmp_path / "movie.txt"
    path.write_text(text)
    with pytest.raises(ShotsError, match=message) as info:
        loader(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ShotsError, match="file not found"):
        load_videvents(tmp_path / "nope.videvents")
