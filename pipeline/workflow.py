"""What the Snakefile needs at parse time, without importing torch (parsing stays fast): the movies
of the run, each stage's dataset files as rule inputs, and the jobs' GPU resources.

The workflow sits above every stage, so this is the one core module that may ask the demo package
for the demo's movie ids (the demo data does not exist yet when the workflow is parsed).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipeline.dataset import SPLITS, DatasetError, DatasetLayout, movie_splits, prediction_layout, restrict_movies
from pipeline.devices import dtype_name
from pipeline.paths import WorkPaths

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def planned_movie_splits(config: dict[str, Any]) -> dict[str, list[str]]:
    """Movies per split of the run: the demo's from its size preset, a real dataset's from its split file."""
    if config["dataset"]["format"] == "demo":
        from pipeline.demo.sizes import demo_movie_ids

        return restrict_movies(demo_movie_ids(config["demo"]["size"]), config["dataset"]["movies"])
    return movie_splits(config)


def planned_movies(splits: dict[str, list[str]]) -> list[str]:
    return [movie for split in SPLITS for movie in splits[split]]


def visual_dataset_inputs(config: dict[str, Any], movie: str) -> list[str]:
    """Every file the visual stage reads for a real dataset's movie: its track names, clip videos and
    the face tracks of the clips the track names list (an edit reruns the movie); none for the demo,
    whose files appear together with the dataset itself.

    A file the track names list but the dataset lacks is still an input: Snakemake then stops and
    names it (``on_error.visual: fail``); under ``skip`` only the files present are inputs, and the
    stage reports the clips it left out. An unreadable track-name file is an input alone: the stage
    reports what is wrong with it.
    """
    if config["dataset"]["format"] == "demo":
        return []
    from pipeline.tracks import load_track_names

    layout = DatasetLayout.from_config(config)
    names_file = layout.ftrack_ids_file(movie)
    files = [names_file] + list((layout.clip_files("videos", movie) or {}).values())
    if names_file.is_file():
        try:
            clips = load_track_names(names_file)
        except DatasetError:
            return [str(names_file)]
        files += [path for clip in clips for path in (layout.video(movie, clip), layout.ftracks_file(movie, clip))]
    if config["on_error"]["visual"] == "skip":
        files = [path for path in files if path.is_file()]
    return [str(path) for path in dict.fromkeys(files)]


def dialog_dataset_inputs(config: dict[str, Any], movie: str) -> list[str]:
    """The movie's subtitle files for a real dataset; none for the demo."""
    if config["dataset"]["format"] == "demo":
        return []
    files = DatasetLayout.from_config(config).clip_files("subtitles", movie) or {}
    return [str(path) for path in files.values()]


def predict_movies(config: dict[str, Any], splits: dict[str, list[str]]) -> list[str]:
    """The movies of ``results/predict/index.html``: ``predict.movies``, else the test split's."""
    return list(config["predict"]["movies"] or splits["test"])


def predict_uses_stage_features(config: dict[str, Any], movie: str, movies: list[str]) -> bool:
    """A movie of the run in the dataset's own folder: the visual, dialog and annotations stages'
    files are the prediction's inputs (nothing is extracted twice, and the accuracy is reported)."""
    return movie in movies and prediction_layout(config).root == DatasetLayout.from_config(config).root


def predict_movie_inputs(config: dict[str, Any], movie: str) -> list[str]:
    """The files of a movie that the prediction extracts itself: videos, track names, subtitles
    (an edit reruns it)."""
    layout = prediction_layout(config)
    files = [str(path) for path in (layout.clip_files("videos", movie) or {}).values()]
    if layout.ftrack_ids_file(movie).is_file():
        files.append(str(layout.ftrack_ids_file(movie)))
    return files + [str(path) for path in (layout.clip_files("subtitles", movie) or {}).values()]


def visual_weights_input(config: dict[str, Any]) -> list[str]:
    """The visual rule's weights input: the ``i3d_weights`` output by default, else the configured
    file (nothing when it is absent and random weights are allowed)."""
    visual = config["visual"]
    path = WorkPaths(config).visual_weights(visual)
    made_by_rule = visual["backbone"] == "i3d" and not visual["weights"]
    if made_by_rule or path.exists() or not visual["allow_random_weights"]:
        return [str(path)]
    return []


def gpu_present() -> bool:
    """True when an NVIDIA GPU is visible to this process."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return NVIDIA_GPUS.is_dir() and any(NVIDIA_GPUS.iterdir())


def visual_dtype(visual: dict[str, Any], local_exec: bool) -> str:
    """The compute dtype the visual backbone will use (``params.dtype`` of the rules that extract).

    ``visual.dtype: auto`` means different numbers on different machines (bf16 on a GPU or a CPU with
    fast bf16 convolutions, float32 elsewhere: :func:`pipeline.devices.dtype_name`), so the resolved name is a
    param: moving the run to another kind of machine reruns the extraction. Resolved on this machine
    for local jobs; cluster jobs with device "auto" resolve on the node ("auto on the node": set the
    device and dtype explicitly for exact rerun semantics across a cluster's node types).
    """
    device = (visual["device"] or "auto").strip().lower()
    if device == "auto":
        if not local_exec:
            return f"{visual['dtype']} on the node"
        device = "cuda" if gpu_present() else "cpu"
    return dtype_name(visual["dtype"], "cuda" if device.startswith("cuda") else "cpu")


def gpu_jobs(device_spec: str, local_exec: bool) -> int:
    """The `gpu` resource of a job that runs on `device_spec` ("auto", "cpu", "cuda", "cuda:1", ...).

    Decided by the config, never by the machine that parses the workflow: "cuda..." asks for a GPU
    (on SLURM: ``--gpus=1``), "cpu" for none. "auto" asks for one only when the jobs run on this very
    machine (``local_exec``) and it has a GPU; cluster jobs with "auto" ask for none (a login node
    says nothing about the compute nodes): set the device to "cuda" for GPU nodes, or give the
    rules GPUs in the profile (``set-resources``). CPU jobs declare no GPU, so a local profile's
    ``gpu: 1`` limit serialises real GPU jobs only.
    """
    spec = (device_spec or "auto").strip().lower()
    if spec == "cpu":
        return 0
    if spec == "auto":
        return 1 if local_exec and gpu_present() else 0
    return 1
