"""Generate the whole demo dataset into a folder, atomically (temp folder renamed into place).

One movie is planned, rendered and written per task (:func:`generate_movie`); movies are
independent (seeded by ``(seed, movie number)``) and run in parallel worker processes. The
annotation pickle, split, label files, summary, README and contact sheet are written at the end.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pipeline.config import schema_defaults, validate_config
from pipeline.dataset import SPLITS, DatasetLayout
from pipeline.demo.knobs import DemoKnobs
from pipeline.demo.render import (
    choreograph, clip_figures, face_tracks, movie_background, render_frames, write_video,
)
from pipeline.demo.sizes import WINDOW, DemoSize, demo_movie_ids, demo_size
from pipeline.demo.story import MoviePlan, draw_movie
from pipeline.demo.writers import (
    movie_graph, split_text, webvtt_text, write_demo_label_files,
)
from pipeline.h5io import write_json_atomic, write_text_atomic
from pipeline.moviegraphs import MovieGraph, write_moviegraphs_pickle
from pipeline.spans import temporal_iou
from pipeline.tracks import write_clip_tracks, write_track_names

log = logging.getLogger(__name__)

# The overlap IoU of O_I(v): the schema's default, which the demo's summary counts with.
OVERLAP_IOU = schema_defaults("dataset.overlap_iou")


@dataclass(frozen=True)
class DemoSettings:
    """The demo section (size preset, seed, difficulty knobs) and the dataset paths it writes."""

    size: str
    seed: int
    knobs: DemoKnobs
    dataset: dict[str, Any]     # the dataset paths the generator writes (its registry sections)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "DemoSettings":
        from pipeline.stages import STAGES, select_sections

        demo = config["demo"]
        return cls(size=demo["size"], seed=int(demo["seed"]), knobs=DemoKnobs.for_size(demo_size(demo["size"]), demo["knobs"]),
                   dataset=select_sections(config, STAGES["demo"].sections)["dataset"])


@dataclass(frozen=True)
class MovieTask:
    movie: str
    number: int                 # 1-based movie number (from the id), part of the seed
    seed: int
    size: DemoSize
    knobs: DemoKnobs
    layout: DatasetLayout


def movie_rngs(seed: int, number: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for the story and for rendering/tracks of one movie."""
    story, render = np.random.SeedSequence([seed, number]).spawn(2)
    return np.random.default_rng(story), np.random.default_rng(render)


def generate_movie(task: MovieTask) -> tuple[MovieGraph, dict[str, Any]]:
    """Plan, render and write one movie's clip files; return its graph and its counts."""
    import cv2

    cv2.setNumThreads(1)
    story_rng, render_rng = movie_rngs(task.seed, task.number)
    plan = draw_movie(story_rng, task.movie, task.size, task.knobs)
    background = movie_background(render_rng, task.size)
    track_names: dict[str, list[str]] = {}
    tracked: dict[str, set[int]] = {}
    frames_total = windows = 0
    for clip in plan.clips:
        figures = clip_figures(plan, clip, render_rng, task.size, task.knobs)
        chor = choreograph(clip, figures, task.size, task.knobs, render_rng)
        n_frames = clip.duration * task.size.fps
        written = write_video(task.layout.video(plan.movie, clip.name),
                              render_frames(figures, chor, background, task.size, task.knobs, render_rng),
                              task.size)
        if written != n_frames:
            raise RuntimeError(f"{plan.movie}/{clip.name}: wrote {written} frames, expected {n_frames}")
        tracks, _ = face_tracks(plan, clip, figures, chor, task.size, task.knobs, render_rng)
        write_clip_tracks(task.layout.ftracks_file(plan.movie, clip.name), [t.detections for t in tracks],
                          task.size.fps, n_frames=n_frames, track_ids=[t.track_id for t in tracks])
        if tracks:
            track_names[clip.name] = [t.label for t in tracks]
        tracked[clip.name] = {figures[t.figure].character for t in tracks
                              if t.figure is not None and figures[t.figure].character is not None}
        subtitles = task.layout.subtitles_file(plan.movie, clip.name)
        subtitles.parent.mkdir(parents=True, exist_ok=True)
        subtitles.write_text(webvtt_text(clip.cues), encoding="utf-8")
        frames_total += n_frames
        windows += n_frames // WINDOW
    write_track_names(task.layout.ftrack_ids_file(plan.movie), track_names)
    stats = movie_stats(plan, tracked)
    stats.update(frames=frames_total, windows_16=windows)
    return movie_graph(plan), stats


def movie_stats(plan: MoviePlan, tracked: dict[str, set[int]]) -> dict[str, Any]:
    """Counts of one movie for summary.json (JSON-friendly)."""
    interactions: Counter = Counter()
    p2p: Counter = Counter()
    modality: Counter = Counter()
    with_rel = without_rel = with_track = without_track = one_to_many = overlapping = 0
    rel_pairs: set[tuple[int, int, str]] = set()
    rel_pair_clips: Counter = Counter()
    seconds = 0
    for clip in plan.clips:
        seconds += clip.duration
        seen_pairs: set[tuple[int, int]] = set()
        for k, inter in enumerate(clip.interactions):
            interactions[inter.merged] += 1
            modality[inter.cls.modality] += 1
            one_to_many += len(inter.objects) > 1
            overlapping += any(temporal_iou((inter.start, inter.end), (other.start, other.end)) > OVERLAP_IOU
                               for j, other in enumerate(clip.interactions) if j != k)
            for character in inter.participants:
                if character in tracked.get(clip.name, set()):
                    with_track += 1
                else:
                    without_track += 1
            for obj in inter.objects:
                p2p[inter.merged] += 1
                relationship = plan.relationship(inter.subject, obj)
                if relationship is None:
                    without_rel += 1
                else:
                    with_rel += 1
                    rel_pairs.add((inter.subject, obj, relationship))
                    seen_pairs.add((inter.subject, obj))
        for pair in seen_pairs:
            rel_pair_clips[pair] += 1
    n_pairs = len(plan.characters) * (len(plan.characters) - 1) // 2
    labelled_pairs = len(plan.relationships) // 2
    return {
        "clips": len(plan.clips), "seconds": seconds, "characters": len(plan.characters),
        "interactions": dict(interactions), "p2p": dict(p2p), "modality": dict(modality),
        "p2p_with_relationship": with_rel, "p2p_without_relationship": without_rel,
        "participants_with_track": with_track, "participants_without_track": without_track,
        "one_to_many": one_to_many, "overlapping": overlapping,
        "relationship_pairs": len(rel_pairs),
        "relationship_pair_classes": dict(Counter(r for _, _, r in rel_pairs)),
        "clips_per_relationship_pair": sorted(rel_pair_clips.values(), reverse=True),
        "unordered_pairs": n_pairs, "unordered_pairs_without_relationship": n_pairs - labelled_pairs,
    }


@contextlib.contextmanager
def _staging_folder(root: Path):
    """A temp folder next to ``root`` that replaces ``root`` when the block succeeds."""
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    for stale in root.parent.glob(f".{root.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = root.parent / f".{root.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        old = root.parent / f".{root.name}.old-{os.getpid()}"
        if root.exists():
            os.replace(root, old)
        os.replace(staging, root)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def generate_dataset(root: str | Path, dataset: dict[str, Any], size_name: str, seed: int,
                     knobs: DemoKnobs | None = None, workers: int = 1) -> dict[str, Any]:
    """Write the demo dataset under ``root`` (paths from the ``dataset`` config section) and
    return the summary. ``root`` appears complete or not at all (previous contents replaced)."""
    from pipeline.demo.report import build_summary, render_contact_sheet, write_readme

    size = demo_size(size_name)
    knobs = knobs or DemoKnobs.for_size(size)
    splits = demo_movie_ids(size_name)
    started = time.monotonic()
    root = Path(root)
    with _staging_folder(root) as staging:
        layout = DatasetLayout.from_config(validate_config({"dataset": {**dataset, "root": str(staging)}}))
        tasks = [MovieTask(movie, int(movie[2:]), seed, size, knobs, layout)
                 for split in SPLITS for movie in splits[split]]
        results: list[tuple[MovieGraph, dict]] = []
        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = list(tqdm(pool.map(generate_movie, tasks), total=len(tasks), desc="demo movies"))
        else:
            results = [generate_movie(task) for task in tqdm(tasks, desc="demo movies")]
        graphs = {task.movie: graph for task, (graph, _) in zip(tasks, results)}
        stats = {task.movie: movie_stats_ for task, (_, movie_stats_) in zip(tasks, results)}
        write_moviegraphs_pickle(graphs, layout.annotations)
        write_demo_label_files(layout.interactions_map, layout.relationships_map,
                               layout.relationships_opposite)
        summary = build_summary(size, seed, knobs, splits, stats)
        write_json_atomic(staging / "summary.json", summary)
        write_readme(staging / "README.md", summary, knobs)
        render_contact_sheet(staging / "contact_sheet.png", layout, graphs, splits["train"][0])
        # split.json last: it is the rule's "dataset ready" marker
        write_text_atomic(layout.split, split_text(splits))
    log.info("demo dataset %s: %d movies, %d clips, %d windows of %d frames in %.1fs -> %s", size_name,
             len(tasks), summary["totals"]["clips"], summary["totals"]["windows_16"], WINDOW,
             time.monotonic() - started, root)
    return summary
