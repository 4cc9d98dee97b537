"""The ``visual`` stage: one movie's clip videos -> per-window global and character-track features.

``python -m extractors.visual --config FILE [--settings JSON] --movie M --out work/features/visual/M.h5``

Paper Sec. 4.1 "Visual features": a Kinetics-pretrained 3D CNN encodes windows of 16 consecutive
frames; the last feature map of each window is averaged over space for the clip representation and
over a person's region (ROI pooling) for each character. Per clip (:mod:`extractors.video` for the
windows and decoding, :mod:`extractors.roi` for the boxes):

1. decode the clip in windows (streaming, resized in the decoder, ``visual.prefetch`` batches ahead
   in a background thread; ``visual.decode_workers`` clips at once, each in its own thread, for a
   GPU that one decoding core cannot feed), a batch of windows per forward pass with no grad; keep
   the feature map of each window, averaged over its time steps (I3D: 2 steps);
2. global vector per window = spatial mean of that map;
3. for every face track present in a window: the person boxes of its detections in that window are
   ROI-pooled on the window's map and averaged (one vector per track and window).

Temporal pooling over an interaction's span (max in the paper; avg/sum for Table 4) happens at
sample assembly, so changing it needs no re-extraction.

Clips of a movie: those named in ``ftrack_ids/<movie>.json`` plus every video in the movie's video
folder (a clip without face tracks still gets global features). A missing or undecodable video is a
:class:`extractors.video.VideoError` naming the file; all videos are probed before any model work.

Output: :mod:`pipeline.formats.visual` (the layout, the part writer, the merge); the backbone:
:mod:`extractors.backbone`. Resume: finished clips of an interrupted run are kept in
``<out dir>/<movie>.parts/<settings hash>/<clip>.h5`` (each written atomically) and skipped; the
final file is merged from them atomically and the parts are removed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from extractors.backbone import Backbone, ForwardLanes, load_backbone
from extractors.prefetch import ParallelPrefetcher
from extractors.roi import has_area, input_to_grid, person_boxes, pool_boxes
from extractors.settings import VisualSettings
from extractors.video import FrameGeometry, VideoInfo, Window, iter_window_batches, plan_windows, probe_video
from pipeline.dataset import DatasetError, DatasetLayout
from pipeline.devices import decode_ahead, decode_workers, model_lanes
from pipeline.formats.stage_report import StageReport
from pipeline.formats.visual import ClipPartWriter, VisualTrack, merge_clip_parts, part_inputs
from pipeline.provenance import sha256_file
from pipeline.stages import stage_versions
from pipeline.tracks import FaceTrack, PersonBoxRatios, load_clip_tracks, load_track_names

log = logging.getLogger("extractors.visual")


# ------------------------------------------------------------------------------------------------
# Clips of a movie


def movie_clips(layout: DatasetLayout, movie: str, tracks_required: bool = True) -> dict[str, list[str | None] | None]:
    """``{clip: track names or None}``: the clips of ``ftrack_ids/<movie>.json`` plus every video file.

    A clip only in the video folder has no tracks (None). Sorted by clip name. Without
    ``tracks_required`` (prediction) a movie without a track-names file has no tracks at all.
    """
    names_file = layout.ftrack_ids_file(movie)
    names = load_track_names(names_file) if tracks_required or names_file.is_file() else {}
    clips: dict[str, list[str | None] | None] = {clip: None for clip in layout.clip_files("videos", movie) or {}}
    clips.update(names)
    if not clips:
        raise DatasetError(f"{layout.ftrack_ids_file(movie)}: movie {movie} has no clips (no tracked clips "
                           f"and no videos in {layout.video(movie, 'x').parent})")
    return dict(sorted(clips.items()))


@dataclass
class _TrackBoxes:
    """The usable detections of one track: frames and person boxes in network-input pixels."""

    track: FaceTrack
    frames: np.ndarray   # (n,) int
    boxes: np.ndarray    # (n, 4) input pixels


@dataclass
class ClipPlan:
    """A probed clip: its video, windows, input geometry, face tracks with their usable boxes, and
    the stamp of its input files (a finished part is reused only while the stamp holds)."""

    clip: str
    info: VideoInfo
    geometry: FrameGeometry
    windows: list[Window]
    tracks: list[_TrackBoxes]
    inputs: dict[str, Any]
    dropped: dict[str, int]     # detections left out, by reason


def _file_stamp(path: Path) -> dict[str, Any]:
    return {"file": path.name, "size": path.stat().st_size, "sha256": sha256_file(path)}


def _track_boxes(tracks: list[FaceTrack], info: VideoInfo, geometry: FrameGeometry,
                 ratios: PersonBoxRatios) -> tuple[list[_TrackBoxes], dict[str, int]]:
    """Each track's usable detections, and how many were left out and why."""
    result, dropped = [], {"after_last_frame": 0, "no_size": 0, "outside_picture": 0}
    for track in tracks:
        frames = np.array([d.frame for d in track.detections], dtype=np.int64)
        sizes = np.array([[d.w, d.h] for d in track.detections], dtype=np.float64).reshape(-1, 2)
        boxes = geometry.video_to_input(person_boxes(track.detections, ratios, info.width, info.height))
        inside = (frames >= 0) & (frames < info.n_frames)
        sized = (sizes > 0).all(axis=1)
        usable = inside & sized & has_area(boxes)
        dropped["after_last_frame"] += int((~inside).sum())
        dropped["no_size"] += int((inside & ~sized).sum())
        dropped["outside_picture"] += int((inside & sized & ~usable).sum())
        result.append(_TrackBoxes(track, frames[usable], boxes[usable]))
    return result, dropped


def plan_clip(settings: VisualSettings, movie: str, clip: str, names: list[str | None] | None) -> ClipPlan:
    layout = settings.layout
    video = layout.video(movie, clip)
    info = probe_video(video)
    geometry = FrameGeometry.for_video(info.width, info.height, settings.input_size, settings.crop)
    windows = plan_windows(info.n_frames, settings.window, settings.stride)
    inputs: dict[str, Any] = {"video": _file_stamp(video), "track_names": names, "tracks": None}
    faces: list[FaceTrack] = []
    if names is not None:
        tracks_file = layout.ftracks_file(movie, clip)
        faces = load_clip_tracks(tracks_file, names, settings.track_scale)
        inputs["tracks"] = _file_stamp(tracks_file)
    tracks, dropped = _track_boxes(faces, info, geometry, settings.person_box)
    return ClipPlan(clip, info, geometry, windows, tracks, inputs, dropped)


def _report_dropped(report: StageReport, settings: VisualSettings, movie: str, plan: ClipPlan) -> None:
    total = sum(len(t.track.detections) for t in plan.tracks)
    if not sum(plan.dropped.values()):
        return
    empty = sum(1 for t in plan.tracks if len(t.frames) == 0)
    report.warn(settings.layout.ftracks_file(movie, plan.clip),
                f"{sum(plan.dropped.values())} of {total} face detections dropped "
                f"({plan.dropped['after_last_frame']} after the video's last frame {plan.info.n_frames - 1}, "
                f"{plan.dropped['no_size']} with zero or negative size, {plan.dropped['outside_picture']} "
                f"outside the picture); {empty} of {len(plan.tracks)} tracks have no usable detection left")


# ------------------------------------------------------------------------------------------------
# Extraction: windows of consecutive clips share batches; each clip's part file is written as it goes


class ClipExtraction:
    """One clip in flight: its part file (:class:`ClipPartWriter`), its tracks' boxes and ROI vectors.

    Memory held per clip: the per-track ROI vectors (small); global vectors and maps go to disk per batch.
    """

    def __init__(self, plan: ClipPlan, settings: VisualSettings, channels: int, part: Path,
                 counts: dict[str, int]):
        self.plan, self.counts = plan, counts
        self.tracks = plan.tracks
        self.track_windows: list[list[int]] = [[] for _ in self.tracks]
        self.track_vectors: list[list[np.ndarray]] = [[] for _ in self.tracks]
        self.remaining = len(plan.windows)
        info, geometry = plan.info, plan.geometry
        self.part = ClipPartWriter(part, plan.clip, {"fps": info.fps, "n_frames": info.n_frames, "width": info.width,
                                                     "height": info.height, "input_width": geometry.input_width,
                                                     "input_height": geometry.input_height},
                                   np.array([w.times(info.fps) for w in plan.windows], dtype=np.float32), channels,
                                   inputs=json.dumps(plan.inputs, sort_keys=True))

    def add_window(self, window: Window, global_vector: np.ndarray, feature_map: np.ndarray | None) -> None:
        self.part.add_window(window.index, global_vector, feature_map)
        self.remaining -= 1

    def add_track_vector(self, track_position: int, window_index: int, vector: np.ndarray) -> None:
        self.track_windows[track_position].append(window_index)
        self.track_vectors[track_position].append(vector)

    def commit(self) -> None:
        """Write the track datasets and move the part file into place."""
        self.part.commit([
            (boxes.track.track_id, VisualTrack(boxes.track.character or "", np.array(windows, dtype=np.int32),
                                               np.array(vectors, dtype=np.float16), boxes.track.name or ""))
            for boxes, windows, vectors in zip(self.tracks, self.track_windows, self.track_vectors)])
        self.counts["tracks"] += len(self.tracks)
        self.counts["track_windows"] += sum(len(windows) for windows in self.track_windows)

    def abort(self) -> None:
        """Drop the unfinished part file (its temp file is removed)."""
        self.part.discard()


def _decoded_batches(plan: ClipPlan, batch_size: int, decoder: str):
    """``(plan, windows, frames (B, T, H, W, 3))`` for the windows of one clip, a batch at a time."""
    for windows, frames in iter_window_batches(plan.info, plan.geometry, plan.windows, batch_size, decoder=decoder):
        yield plan, windows, frames


def _window_stream(batches):
    """``(plan, window, frames (T, H, W, 3))`` for every window of the decoded ``batches``."""
    for plan, windows, frames in batches:
        for window, window_frames in zip(windows, frames):
            yield plan, window, window_frames


def _pool_tracks(settings: VisualSettings, maps: torch.Tensor, batch: list,
                 clips: dict[str, ClipExtraction]) -> None:
    """ROI-pool every track's boxes of the batch in one call; one mean vector per (clip, track, window)."""
    grid_height, grid_width = maps.shape[2:]
    rois, owners = [], []
    for b, (plan, window, _) in enumerate(batch):
        for t, boxes in enumerate(clips[plan.clip].tracks):
            present = (boxes.frames >= window.first_frame) & (boxes.frames < window.first_frame + window.n_real)
            if present.any():
                grid_boxes = input_to_grid(boxes.boxes[present], plan.geometry, grid_height, grid_width)
                rois.append(np.column_stack([np.full(len(grid_boxes), b), grid_boxes]))
                owners += [(plan.clip, t, window.index)] * len(grid_boxes)
    if not rois:
        return
    pooled = pool_boxes(maps, torch.from_numpy(np.concatenate(rois)), settings.roi)   # (K, C)
    position = {owner: k for k, owner in enumerate(dict.fromkeys(owners))}
    group_of = torch.tensor([position[owner] for owner in owners], device=pooled.device)
    sums = pooled.new_zeros((len(position), pooled.shape[1])).index_add_(0, group_of, pooled)
    sizes = torch.bincount(group_of, minlength=len(position)).to(pooled.dtype).unsqueeze(1)
    means = (sums / sizes).cpu().numpy().astype(np.float16)
    for (clip, t, window_index), vector in zip(position, means):
        clips[clip].add_track_vector(t, window_index, vector)


def extract_clips(backbone: Backbone, settings: VisualSettings, plans: list[ClipPlan], parts: Path,
                  counts: dict[str, int], timings: dict[str, float], progress=None, workers: int = 1,
                  lanes: int = 1) -> None:
    """Features of ``plans`` into ``parts/<clip>.h5``: windows of consecutive clips share batches of
    ``batch_size`` (same input size only); a clip's part is committed when its last window is done.

    Decoding runs ``settings.prefetch`` batches ahead in background threads, up to ``workers``
    clips at once (:class:`ParallelPrefetcher`; the windows come out in the same order for any
    number, so the batches and the numbers do not depend on it), overlapping the model; up to
    ``lanes`` forward passes run at once (:class:`ForwardLanes`, the torch threads divided among
    them), and their batches are pooled and written in order. ``timings["decode_s"]`` is the time
    spent waiting for decoded frames, ``timings["model_s"]`` the rest of the loop."""
    clips: dict[str, ClipExtraction] = {}
    decoded = ParallelPrefetcher(plans, lambda plan: _decoded_batches(plan, settings.batch_size, settings.decoder),
                                 workers=workers, depth=settings.prefetch, name="visual-decode",
                                 ahead_depth=decode_ahead(workers, settings.prefetch))
    started, decode_before = time.perf_counter(), timings["decode_s"]
    try:
        with ForwardLanes(backbone, lanes) as forward, \
                closing(forward.map(_window_batches(decoded, settings, backbone, parts, clips, counts,
                                                    timings))) as passes:
            for batch, maps in passes:
                _finish_batch(settings, batch, maps, clips, counts, progress)
    except BaseException:
        for clip in clips.values():
            clip.abort()
        raise
    finally:
        decoded.close()
        timings["model_s"] += time.perf_counter() - started - (timings["decode_s"] - decode_before)


def _window_batches(decoded, settings: VisualSettings, backbone: Backbone, parts: Path,
                    clips: dict[str, ClipExtraction], counts: dict[str, int], timings: dict[str, float]):
    """``(batch, frames (B, T, H, W, 3))`` of the decoded windows, ``batch`` a list of
    ``(plan, window, window frames)``; a clip's :class:`ClipExtraction` is opened when its first
    window arrives."""
    stream = _window_stream(decoded)
    batch: list = []
    while True:
        tick = time.perf_counter()
        item = next(stream, None)
        timings["decode_s"] += time.perf_counter() - tick
        if item is not None and item[0].clip not in clips:
            clips[item[0].clip] = ClipExtraction(item[0], settings, backbone.channels,
                                                 parts / f"{item[0].clip}.h5", counts)
        if batch and (item is None or len(batch) == settings.batch_size or item[2].shape != batch[0][2].shape):
            yield batch, np.stack([frames for _, _, frames in batch])
            batch = []
        if item is None:
            return
        batch.append(item)


def _finish_batch(settings: VisualSettings, batch: list, maps: torch.Tensor, clips: dict[str, ClipExtraction],
                  counts: dict[str, int], progress) -> None:
    """Global vectors, maps and ROI vectors of one batch's feature ``maps`` (B, C, H, W) float32 into
    the clips' parts; a clip whose last window this was is committed."""
    global_vectors = maps.mean(dim=(2, 3)).cpu().numpy().astype(np.float16)
    maps_f16 = maps.cpu().numpy().astype(np.float16) if settings.keep_maps else None
    _pool_tracks(settings, maps, batch, clips)
    for b, (plan, window, _) in enumerate(batch):
        clip = clips[plan.clip]
        clip.part.set_attrs(grid_height=maps.shape[2], grid_width=maps.shape[3])
        clip.add_window(window, global_vectors[b], None if maps_f16 is None else maps_f16[b])
        if clip.remaining == 0:
            clips.pop(plan.clip).commit()
    counts["windows"] += len(batch)
    if progress is not None:
        progress.update(len(batch))


# ------------------------------------------------------------------------------------------------
# A movie, with resume


def settings_hash(settings: VisualSettings, backbone: Backbone) -> str:
    """Short hash of what shapes the numbers: keys the parts folder of an interrupted run."""
    payload = {**settings.shaping_attrs(), **backbone.attrs()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def parts_folder(out: Path, digest: str) -> Path:
    return out.parent / f"{out.stem}.parts" / digest


def extract_movie(settings: VisualSettings, movie: str, out: str | Path,
                  tracks_required: bool = True) -> dict[str, Any]:
    """Write the visual features of ``movie`` to ``out`` and its report beside it; return counts and timings.

    Every clip is probed before any model work: a missing or corrupt video or face-track file stops
    the run with one message (``on_error.visual: fail``), or leaves that clip out, listed with the
    reason in the report (``skip``). ``tracks_required``: see :func:`movie_clips`.
    """
    from tqdm import tqdm

    out = Path(out)
    started = time.perf_counter()
    report = StageReport("visual", movie, settings.on_error)
    plans: list[ClipPlan] = []
    try:
        clips = movie_clips(settings.layout, movie, tracks_required)
    except DatasetError as exc:
        if settings.on_error != "skip":
            raise
        report.skip(f"movie:{movie}", settings.layout.ftrack_ids_file(movie), str(exc))
        clips = {}
    for clip, names in clips.items():
        try:
            plans.append(plan_clip(settings, movie, clip, names))
        except DatasetError as exc:     # VideoError, a bad face-track file
            if settings.on_error != "skip":
                raise
            report.skip(f"clip:{clip}", settings.layout.video(movie, clip), str(exc))
    for plan in plans:
        _report_dropped(report, settings, movie, plan)
    backbone = load_backbone(settings)
    digest = settings_hash(settings, backbone)
    parts = parts_folder(out, digest)
    # A finished part is reused only when it was made from the same video, face tracks and names.
    reused = [plan for plan in plans
              if part_inputs(parts / f"{plan.clip}.h5") == json.dumps(plan.inputs, sort_keys=True)]
    changed = [plan.clip for plan in plans if plan not in reused and (parts / f"{plan.clip}.h5").exists()]
    if changed:
        log.info("%s: %d finished clip(s) of an earlier run have changed inputs and are computed again: %s",
                 movie, len(changed), ", ".join(changed))
    todo = [plan for plan in plans if plan not in reused]
    counts = {key: 0 for key in ("windows", "tracks", "track_windows")}
    counts.update(clips=len(plans), clips_resumed=len(reused), clips_changed=len(changed),
                  clips_skipped=len(report.skipped),
                  detections=sum(len(t.track.detections) for plan in plans for t in plan.tracks),
                  **{f"detections_{reason}": sum(plan.dropped[reason] for plan in plans)
                     for reason in ("after_last_frame", "no_size", "outside_picture")})
    timings = {"decode_s": 0.0, "model_s": 0.0}
    threads = torch.get_num_threads()
    workers = decode_workers(settings.decode_workers, backbone.device.type, threads)
    lanes = model_lanes(settings.model_lanes, backbone.device.type, backbone.dtype_name, threads)
    prepared = time.perf_counter()
    log.info("%s: %d clips (%d already done), %d windows to compute, backbone %s (%s, %s) on %s, "
             "%d forward pass(es) at once on %d torch thread(s), decoding with %s, %d clip(s) at once, parts in %s",
             movie, len(plans), counts["clips_resumed"], sum(len(p.windows) for p in todo), backbone.name,
             backbone.weights_file or "random weights", backbone.dtype_name, backbone.device, lanes,
             threads, settings.decoder, workers if settings.prefetch else 1, parts)
    with tqdm(total=sum(len(p.windows) for p in todo), unit="window", desc=f"visual {movie}",
              disable=None) as progress:
        extract_clips(backbone, settings, todo, parts, counts, timings, progress, workers=workers, lanes=lanes)

    attrs = {**settings.shaping_attrs(), **backbone.attrs(), "movie": movie, "settings_hash": digest,
             "versions": json.dumps(stage_versions("visual"), sort_keys=True)}
    merge_clip_parts(out, [(plan.clip, parts / f"{plan.clip}.h5") for plan in plans], attrs)
    report.counts = dict(counts)
    report.write(out)
    if parts.exists():
        shutil.rmtree(parts)
    if parts.parent.exists() and not any(parts.parent.iterdir()):
        parts.parent.rmdir()

    elapsed = time.perf_counter() - started
    computed = counts["windows"]
    log.info("%s: %d clips (%d resumed, %d skipped), %d windows computed, %d tracks, %d track-windows; "
             "%d detections (%d after the last frame, %d without size, %d outside the picture)", movie,
             counts["clips"], counts["clips_resumed"], counts["clips_skipped"], computed, counts["tracks"],
             counts["track_windows"], counts["detections"], counts["detections_after_last_frame"],
             counts["detections_no_size"], counts["detections_outside_picture"])
    log.info("%s: %.1f s total (probe+load %.1f s, decode %.1f s, model+pool %.1f s, %.2f windows/s) -> %s",
             movie, elapsed, prepared - started, timings["decode_s"], timings["model_s"],
             computed / max(timings["decode_s"] + timings["model_s"], 1e-9), out)
    return {**counts, **timings, "total_s": elapsed}


def main(argv: list[str] | None = None) -> int:
    from pipeline.cli import stage_main

    def arguments(parser) -> None:
        parser.add_argument("--movie", required=True, help="imdb key of the movie")
        parser.add_argument("--out", required=True, help="output HDF5 file (work/features/visual/<movie>.h5)")

    return stage_main("visual", lambda settings, args: extract_movie(settings, args.movie, args.out),
                      description=__doc__.split("\n")[0], arguments=arguments, threads=True, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
