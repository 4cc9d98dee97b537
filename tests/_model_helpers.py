"""Synthetic inputs of the sample assembly and the model, written exactly as the contracts say.

- annotation parquets (docs/architecture.md columns), visual and dialog feature HDF5 files, label
  map files in LIReC's formats;
- :func:`make_learnable_split`: movies whose features carry the labels (interaction prototype in the
  clip and in the interacting characters' tracks, relationship prototype in the dialog and the
  subject's track), so that a model can learn them quickly.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np

from pipeline.formats.annotations import write_annotation_rows
from pipeline.formats.dialog import DialogClip as DialogFeatures
from pipeline.formats.dialog import write_dialog_features
from pipeline.formats.visual import VisualClip as VisualFeatures
from pipeline.formats.visual import VisualTrack, write_visual_features
from pipeline.labels import LabelMaps
from pipeline.samples import MovieInputs, assemble_samples


TINY_INTERACTIONS = ["talks to", "hugs", "hits", "leaves", "asks"]
TINY_RELATIONSHIPS = ["stranger", "friend", "parent", "child"]
TINY_OPPOSITE = {0: 0, 1: 1, 2: 3, 3: 2}


def tiny_classes(num_interactions: int = 5, num_relationships: int = 4) -> LabelMaps:
    interactions = (TINY_INTERACTIONS + [f"interaction {k}" for k in range(100)])[:num_interactions]
    relationships = (TINY_RELATIONSHIPS + [f"rel{k}" for k in range(100)])[:num_relationships]
    opposite = {k: TINY_OPPOSITE.get(k, k) for k in range(num_relationships)}
    return LabelMaps.from_classes(interactions, relationships, opposite)


def write_label_files(folder: Path, classes: LabelMaps) -> dict[str, Path]:
    """The three label map files (LIReC's plain-text formats, docs/architecture.md)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"interactions": folder / "merged_interactions.txt",
             "relationships": folder / "relships_many2_15.txt",
             "relationships_opposite": folder / "relships_15_opp.txt"}
    paths["interactions"].write_text("".join(f"{name}\t{name}\n" for name in classes.interactions))
    paths["relationships"].write_text("".join(f"my {name} {name}\n" for name in classes.relationships))
    paths["relationships_opposite"].write_text(
        "".join(f"{name} {classes.relationships[classes.opposite[k]]}\n" for k, name in enumerate(classes.relationships)))
    return paths


def annotation_row(movie: str, clip: str, start: float, end: float, subject: str, object_: str, interaction: int,
                   relationship: int | None, overlapping: Sequence[int], characters: Sequence[str],
                   classes: LabelMaps | None = None) -> dict[str, Any]:
    names = (classes or tiny_classes(max(interaction + 1, 5))).interactions
    return {"movie": movie, "clip": clip, "start": float(start), "end": float(end), "subject": subject,
            "object": object_, "interaction_fine": names[interaction], "interaction": int(interaction),
            "relationship": relationship, "overlapping": list(overlapping), "characters": list(characters)}


def write_annotations(path: Path, rows: list[dict[str, Any]]) -> Path:
    write_annotation_rows(rows, path)
    return path


@dataclass
class VisualClip:
    window_times: np.ndarray                         # (T, 2)
    global_features: np.ndarray                      # (T, C)
    tracks: list[tuple[str, np.ndarray, np.ndarray]]  # (character, windows (n,), roi (n, C))


@dataclass
class DialogClip:
    times: np.ndarray    # (S, 2)
    vectors: np.ndarray  # (S, D)


def write_visual(path: Path, clips: dict[str, VisualClip], complete: bool = True) -> Path:
    """A movie's visual feature file through the format's writer (``complete=False``: flag it unfinished)."""
    features = {
        name: VisualFeatures(clip.window_times, clip.global_features,
                             [VisualTrack(str(character), np.asarray(windows), np.asarray(roi), str(character).title())
                              for character, windows, roi in clip.tracks],
                             {"fps": 16.0, "n_frames": 16 * len(clip.window_times), "width": 160, "height": 120})
        for name, clip in clips.items()}
    write_visual_features(path, features, backbone="synthetic")
    if not complete:
        with h5py.File(path, "a") as handle:
            handle.attrs["complete"] = False
    return path


def write_dialog(path: Path, clips: dict[str, DialogClip], dim: int) -> Path:
    features = {name: DialogFeatures(clip.times, clip.vectors, [f"sentence {k}" for k in range(clip.times.shape[0])],
                                     np.arange(clip.times.shape[0], dtype=np.int32))
                for name, clip in clips.items()}
    write_dialog_features(path, features, dim, model="synthetic")
    return path


def _iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def make_learnable_split(folder: Path, split: str, *, movies: int, clips_per_movie: int, seed: int,
                         classes: LabelMaps, visual_dim: int = 24, dialog_dim: int = 12,
                         noise: float = 0.3) -> list[MovieInputs]:
    """Write annotation + feature files of ``movies`` synthetic movies whose features carry the labels."""
    rng = np.random.default_rng(seed)
    prototypes = np.random.default_rng(1234)  # the same class prototypes in every split
    A, R = classes.num_interactions, classes.num_relationships
    clip_proto = prototypes.normal(size=(A, visual_dim))
    subject_proto = prototypes.normal(size=(A, visual_dim))
    object_proto = prototypes.normal(size=(A, visual_dim))
    rel_dialog = prototypes.normal(size=(R, dialog_dim))
    rel_track = prototypes.normal(size=(R, visual_dim))
    inputs = []
    for m in range(movies):
        movie = f"{split}{m:03d}"
        cast = [f"person {k}" for k in range(5)]
        pair_rel = {}
        for i, a in enumerate(cast):
            for b in cast[i + 1:]:
                r = int(rng.integers(R))
                pair_rel[(a, b)] = r
                pair_rel[(b, a)] = classes.opposite[r]
        rows, visual_clips, dialog_clips = [], {}, {}
        for c in range(clips_per_movie):
            clip = f"scene-{c + 1:03d}.ss-{c + 1:04d}.es-{c + 1:04d}"
            T = 8
            on_screen = [str(x) for x in rng.choice(cast, size=int(rng.integers(2, 4)), replace=False)]
            window_times = np.stack([np.arange(T), np.arange(T) + 1.0], axis=1)
            global_features = rng.normal(scale=noise, size=(T, visual_dim))
            track_rows = {name: rng.normal(scale=noise, size=(T, visual_dim)) for name in on_screen}
            sentence_times, sentence_vectors = [], []
            clip_rows = []
            for _ in range(int(rng.integers(1, 3))):
                s, o = rng.choice(on_screen, size=2, replace=False)
                a = int(rng.integers(A))
                start = float(rng.integers(0, 5))
                end = start + float(rng.integers(2, 4))
                span = slice(int(start), int(end))
                r = pair_rel[(s, o)]
                global_features[span] += clip_proto[a]
                track_rows[s][span] += subject_proto[a] + 0.5 * rel_track[r]
                track_rows[o][span] += object_proto[a]
                sentence_times.append((start, end))
                sentence_vectors.append(rel_dialog[r] + rng.normal(scale=noise, size=dialog_dim))
                clip_rows.append(dict(s=str(s), o=str(o), a=a, r=r if rng.random() > 0.15 else None,
                                      span=(start, end)))
            for row in clip_rows:
                overlapping = sorted({other["a"] for other in clip_rows if other is not row
                                      and other["a"] != row["a"] and _iou(row["span"], other["span"]) > 0.2})
                rows.append(annotation_row(movie, clip, *row["span"], row["s"], row["o"], row["a"], row["r"],
                                           overlapping, on_screen, classes))
            tracked = [name for name in on_screen if rng.random() > 0.1]
            visual_clips[clip] = VisualClip(window_times, global_features,
                                            [(name, np.arange(T), track_rows[name]) for name in tracked])
            dialog_clips[clip] = DialogClip(np.array(sentence_times, np.float32).reshape(-1, 2),
                                            np.array(sentence_vectors).reshape(-1, dialog_dim))
        paths = MovieInputs(movie, folder / "annotations" / f"{movie}.parquet",
                            folder / "features" / "visual" / f"{movie}.h5",
                            folder / "features" / "dialog" / f"{movie}.h5")
        write_annotations(paths.annotations, rows)
        write_visual(paths.visual, visual_clips)
        write_dialog(paths.dialog, dialog_clips, dialog_dim)
        inputs.append(paths)
    return inputs


def learnable_shards(folder: Path, *, train_movies: int = 4, val_movies: int = 2, clips_per_movie: int = 12,
                     classes: LabelMaps | None = None, pooling: str = "max") -> tuple[Path, Path, LabelMaps]:
    """Train and val shards of :func:`make_learnable_split` movies."""
    classes = classes or tiny_classes()
    shards = []
    for split, count, seed in (("train", train_movies, 1), ("val", val_movies, 2)):
        movies = make_learnable_split(folder / "inputs", split, movies=count, clips_per_movie=clips_per_movie,
                                      seed=seed, classes=classes)
        out = folder / "samples" / pooling / f"{split}.h5"
        assemble_samples(movies, out, pooling=pooling, split=split, labels=classes, max_candidates=20, seed=0)
        shards.append(out)
    return shards[0], shards[1], classes


def experiment_config(task: str, **experiment: Any) -> dict[str, Any]:
    """A validated config with one experiment ``exp`` (small widths for fast tests)."""
    from pipeline.config import validate_config

    train = {"epochs": experiment.pop("epochs", 4), "batch_size": 16, "hidden": 32, "track_hidden": 16,
             "eval_every": 2, "lr": experiment.pop("lr", 3e-3), "device": "cpu", "burn_in": 2}
    train.update(experiment.pop("train", {}))
    return validate_config({"seed": 0, "train": train, "experiments": {"exp": {"task": task, **experiment}}})
