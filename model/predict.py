"""Predict on a movie without annotations: who interacts with whom, doing what, in which relationship.

``python -m model.predict [--config FILE] [--settings JSON] --movie M [--root DIR] [--checkpoint FILE]
[--out-dir DIR] [--clip NAME] [--pair SUBJECT OBJECT] [--interaction NAME] [--relationship NAME]``

The movie is a folder in the MovieGraphs layout (the dataset section's paths under ``--root``,
default ``predict.root``, else ``dataset.root``): clip videos (required), face tracks and track names,
clip subtitles (either may be missing: that modality is then zeros, as in training). Steps:

1. features: the visual and dialog stages' own entry functions (:func:`extractors.visual.extract_movie`,
   :func:`extractors.dialog.extract_movies`) with the config's settings, cached in
   ``work/predict/<movie>/{visual,dialog}.h5`` and reused while the movie's files, the weights and
   the settings are the same (a fingerprint beside each file); the workflow passes the visual and
   dialog stages' files instead (``--visual/--dialog``) for the dataset's own movies;
2. the features must be those the checkpoint was trained on (backbone, weights, input size, ROI,
   dialog model, dimensions: :func:`model.checkpoint.check_features`), else an error naming both;
3. samples: one unlabelled whole-clip sample per clip (:func:`pipeline.samples.unlabelled_row`): the
   candidates are every ordered pair of the characters that have tracks in the clip (then the
   single-character candidates), the relationship context of a pair is up to K of its clips,
   evenly spaced as at test time (:func:`model.data.choose_context`); shard
   ``work/predict/<movie>/clips.<pooling>.h5``;
4. scores: s_IC(v, a, p) (pairs x interactions, Eq. 7) and s_RC(V, r, p) (pairs x relationships,
   Eq. 3/11) per clip; their sum is the pair x interaction x relationship tensor of Sec. 3.2; the
   answers of the paper's Fig. 6 are argmaxes of it over what is not given (:func:`answer`);
5. when the movie has annotations (``--annotations``, by default ``work/annotations/<movie>.parquet``
   of the dataset's movies): the annotated samples, assembled as the samples stage does, scored by
   the evaluation code (:func:`model.evaluate.evaluate_model`): the accuracy of ``model.evaluate``;
6. outputs in ``--out-dir`` (default ``results/predict/<movie>/``): ``predictions.json``,
   ``graph.json`` (:mod:`model.social_graph`), ``graph.png`` and ``index.html``
   (:mod:`model.predict_page`), each written atomically; the JSON layouts are in
   docs/architecture.md ("Prediction outputs").

Given some of ``--pair``, ``--interaction``, ``--relationship`` (and ``--clip`` to restrict to one
clip), the answers for the rest are printed as JSON: pair + interaction -> relationship, pair +
relationship -> interaction, interaction + relationship -> pair (Fig. 6 a-c); none -> all three
jointly (d). ``--index OUT --predictions FILE ...`` writes the page that lists several movies.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from extractors.settings import DialogSettings, VisualSettings
from model.checkpoint import check_features, load_checkpoint
from model.config import RunConfig
from model.data import choose_context, make_batch
from model.evaluate import EVAL_BATCH_SIZE, evaluate_model
from model.heads import InteractionRelationshipModel
from model.predict_page import clip_thumbnail, index_page, movie_page
from model.social_graph import draw_graph, social_graph
from pipeline.dataset import DatasetLayout, prediction_layout
from pipeline.devices import dtype_name, resolve_device
from pipeline.errors import PipelineError
from pipeline.formats.annotations import NO_RELATIONSHIP, read_annotation_rows
from pipeline.formats.dialog import DialogFeatureReader
from pipeline.formats.shard import SampleShard
from pipeline.formats.visual import VisualFeatureReader
from pipeline.h5io import atomic_path, is_complete_h5, write_json_atomic, write_text_atomic
from pipeline.labels import LabelMaps
from pipeline.paths import WorkPaths
from pipeline.provenance import sha256_file
from pipeline.samples import (MovieInputs, SamplesError, assemble_samples, candidate_pairs, tracked_cast,
                              unlabelled_row, write_samples)
from pipeline.stages import stage_versions
from pipeline.tracks import FaceTrack, canonical_name, load_clip_tracks, load_track_names, movie_characters

LOG = logging.getLogger("model.predict")

PREDICTIONS_SCHEMA = "lirec-predictions/1"

Pair = tuple[str | None, str | None]


class PredictError(PipelineError):
    """Bad input of prediction: a movie folder, a checkpoint, a query (the message names it)."""


@dataclass(frozen=True)
class PredictSettings:
    """The ``predict`` section, the extractors' settings for the movie's folder, what the annotated
    samples need (the dataset's label maps, ``samples.max_candidates``, the seed) and the device."""

    device: str
    checkpoint: Path
    movie_layout: DatasetLayout        # the movie's folder (predict.root, else dataset.root)
    dataset_layout: DatasetLayout      # the dataset's (label maps; its movies' annotations)
    visual: VisualSettings
    dialog: DialogSettings
    paths: WorkPaths
    top_k: int
    max_candidates: int
    seed: int

    @classmethod
    def from_config(cls, config: dict[str, Any], root: str | None = None) -> "PredictSettings":
        paths = WorkPaths(config)
        layout = prediction_layout(config, root)
        return cls(device=config["train"]["device"], checkpoint=paths.predict_checkpoint(config["predict"]),
                   movie_layout=layout, dataset_layout=DatasetLayout.from_config(config),
                   visual=replace(VisualSettings.from_config(config), layout=layout),
                   dialog=replace(DialogSettings.from_config(config), layout=layout),
                   paths=paths, top_k=int(config["predict"]["top_k"]),
                   max_candidates=int(config["samples"]["max_candidates"]), seed=int(config["seed"]))

    @property
    def in_dataset(self) -> bool:
        """The movie folder is the dataset's (its movies may have annotations)."""
        return self.movie_layout.root == self.dataset_layout.root


# --------------------------------------------------------------------------------------------
# Features: the extractors' entry functions, cached per movie
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MovieFeatures:
    visual: Path
    dialog: Path | None        # None: the movie has no subtitles (dialog vectors are zeros)


def movie_videos(layout: DatasetLayout, movie: str) -> dict[str, Path]:
    """The movie's clip videos; :class:`PredictError` naming the folder when there are none."""
    videos = layout.clip_files("videos", movie)
    if not videos:
        folder = layout.video(movie, "x").parent
        raise PredictError(f"{folder}: no clip videos of movie {movie} (expected files like "
                           f"{Path(layout.videos).name.format(movie=movie, clip='<clip>')} there)")
    return videos


def _fingerprint(settings: dict[str, Any], files: Sequence[Path]) -> dict[str, Any]:
    """What a cached feature file was made from: settings and the sha256 of every input file."""
    return json.loads(json.dumps({"settings": settings, "files": {str(path): sha256_file(path) for path in files}},
                                 sort_keys=True, default=str))


def _cached(out: Path, fingerprint: dict[str, Any], extract: Callable[[], Any], what: str) -> Path:
    """``out``, made by ``extract`` unless it is complete and its fingerprint file matches."""
    record = out.with_name(f"{out.stem}.inputs.json")
    if is_complete_h5(out) and record.is_file() and json.loads(record.read_text()) == fingerprint:
        LOG.info("%s: %s features reused (same input files and settings)", out, what)
        return out
    record.unlink(missing_ok=True)  # never left beside a file it does not describe
    extract()
    write_json_atomic(record, fingerprint)
    return out


def extract_features(settings: PredictSettings, movie: str) -> MovieFeatures:
    """The movie's visual and dialog features, extracted by the stages' code or reused from the cache."""
    from extractors.dialog import extract_movies
    from extractors.visual import extract_movie

    layout = settings.movie_layout
    folder = settings.paths.predict_work(movie)
    names_file = layout.ftrack_ids_file(movie)
    track_files = []
    if names_file.is_file():
        track_files = [names_file] + [layout.ftracks_file(movie, clip) for clip in load_track_names(names_file)]
        track_files = [path for path in track_files if path.is_file()]
    else:
        LOG.warning("%s: no track names: the movie has no face tracks (the tracks modality is zeros)", names_file)
    visual = settings.visual
    weights = [visual.weights] if visual.weights.is_file() else []
    # The compute dtype that visual.dtype resolves to here (auto: bf16 or float32 by machine) shapes the numbers.
    visual_settings = {**visual.shaping_attrs(), "weights": str(visual.weights),
                       "dtype": dtype_name(visual.dtype, resolve_device(visual.device).type),
                       "random_weights": visual.allow_random_weights and not weights,
                       "seed": visual.seed if visual.allow_random_weights else None,
                       "versions": stage_versions("visual")}
    visual_out = _cached(folder / "visual.h5",
                         _fingerprint(visual_settings, list(movie_videos(layout, movie).values()) + track_files
                                      + weights),
                         lambda: extract_movie(visual, movie, folder / "visual.h5", tracks_required=False), "visual")
    subtitles = layout.clip_files("subtitles", movie)
    if not subtitles:
        LOG.warning("%s: no subtitles of movie %s: the dialog modality is zeros",
                    layout.subtitles_file(movie, "x").parent, movie)
        return MovieFeatures(visual_out, None)
    dialog = settings.dialog
    dialog_settings = {**settings_identity(settings)["dialog"], "model": dialog.model,
                       "versions": stage_versions("dialog")}
    dialog_out = _cached(folder / "dialog.h5", _fingerprint(dialog_settings, list(subtitles.values())),
                         lambda: extract_movies(dialog, [movie], [folder / "dialog.h5"]), "dialog")
    return MovieFeatures(visual_out, dialog_out)


def given_features(movie: str, visual: Path, dialog: Path | None) -> MovieFeatures:
    """Feature files made elsewhere (the workflow's visual and dialog stages): they must be the movie's."""
    for path, reader in ((visual, VisualFeatureReader), (dialog, DialogFeatureReader)):
        if path is None:
            continue
        with reader(path) as handle:
            stored = handle.attrs().get("movie")
        stored = stored.decode() if isinstance(stored, bytes) else stored
        if stored is not None and stored != movie:
            raise PredictError(f"{path}: features of movie {stored}, not of {movie}")
    return MovieFeatures(visual, dialog)


def settings_identity(settings: PredictSettings) -> dict[str, dict[str, Any]]:
    """The part of the features' identity the settings fix before extraction (a mismatch stops early)."""
    from extractors.text_encoder import resolve_model_dir, weights_sha256

    visual = {key: value for key, value in settings.visual.shaping_attrs().items()
              if key in VisualFeatureReader.identity_keys}
    if settings.visual.weights.is_file():
        visual["weights_sha256"] = sha256_file(settings.visual.weights)
    dialog = {"layer": settings.dialog.layer, "token_pooling": settings.dialog.token_pooling,
              "max_length": settings.dialog.max_length,
              "model_sha256": weights_sha256(resolve_model_dir(settings.dialog.model))}
    return {"visual": visual, "dialog": dialog}


def file_identity(features: MovieFeatures) -> tuple[dict[str, int | None], dict[str, dict[str, Any] | None]]:
    """Dimensions and identity attributes of the movie's feature files."""
    with VisualFeatureReader(features.visual) as handle:
        dims: dict[str, int | None] = {"visual_dim": handle.feature_dim()}
        identity: dict[str, dict[str, Any] | None] = {"visual": handle.identity()}
    dims["dialog_dim"], identity["dialog"] = None, None
    if features.dialog is not None:
        with DialogFeatureReader(features.dialog) as handle:
            dims["dialog_dim"], identity["dialog"] = handle.feature_dim(), handle.identity()
    return dims, identity


# --------------------------------------------------------------------------------------------
# Scores and the Figure 6 answers
# --------------------------------------------------------------------------------------------
@dataclass
class ClipScores:
    """The scores of one sample (a clip): one row per candidate pair."""

    sample: int
    clip: str
    candidates: list[Pair]              # (subject, object); None: no character (zero track)
    interaction: np.ndarray | None      # (P, A) s_IC, sigmoid scores; None: the model has no interactions
    relationship: np.ndarray | None     # (P, R) s_RC; None: the model has no relationships
    context: list[list[int]]            # per candidate: the samples of its relationship context (<= K)

    def tensor(self) -> np.ndarray:
        """The pair x interaction (x relationship) tensor s_IC + s_RC (Sec. 3.2, "During inference")."""
        if self.interaction is not None and self.relationship is not None:
            return self.interaction[:, :, None] + self.relationship[:, None, :]   # (P, A, R)
        return self.interaction if self.interaction is not None else self.relationship


@torch.no_grad()
def score_samples(model: InteractionRelationshipModel, run: RunConfig, shard: SampleShard, device: torch.device,
                  all_candidates: bool = True, batch_size: int = EVAL_BATCH_SIZE) -> list[ClipScores]:
    """Scores of every sample of ``shard``: every candidate pair (``all_candidates``, also with a
    model trained on the true pair only), context clips evenly spaced (test time)."""
    model.eval()
    e = run.experiment
    candidates = e.predicts_characters or all_candidates
    k_context = e.rel_clips if e.predicts_relationships else 0
    names = shard.person_names()
    result = []
    for start in range(0, len(shard), batch_size):
        ids = np.arange(start, min(start + batch_size, len(shard)))
        logits = model(make_batch(shard, ids, e, all_candidates=all_candidates).to(device))
        interaction = torch.sigmoid(logits.interaction).cpu().numpy() if logits.interaction is not None else None
        relationship = torch.sigmoid(logits.relationship).cpu().numpy() if logits.relationship is not None else None
        for b, sample in enumerate(ids):
            if candidates:
                count = int(shard.candidate_count[sample])
                rows, groups = shard.candidates[sample, :count], shard.candidate_group[sample, :count]
            else:
                count = 1
                rows = np.array([[shard.subject_row[sample], shard.object_row[sample]]])
                groups = shard.rel_key[sample:sample + 1]
            context = []
            for group in groups:
                if group < 0 or not k_context:
                    context.append([])
                    continue
                first, last = shard.group_offset[group], shard.group_offset[group + 1]
                chosen = choose_context(int(last - first), k_context, None)
                context.append([int(x) for x in shard.member_sample[first + chosen]])
            result.append(ClipScores(
                sample=int(sample), clip=shard.names("samples/clip", int(sample)),
                candidates=[(names[int(shard.character_person[a])] if a >= 0 else None,
                             names[int(shard.character_person[o])] if o >= 0 else None) for a, o in rows],
                interaction=interaction[b, :count] if interaction is not None else None,
                relationship=relationship[b, :count] if relationship is not None else None,
                context=context))
    return result


@dataclass(frozen=True)
class Classes:
    interactions: list[str]
    relationships: list[str]


def _ranked(scores: np.ndarray, names: list[str], k: int) -> list[dict[str, Any]]:
    order = np.argsort(-scores, kind="stable")[:k]
    return [{"name": names[int(i)], "score": round(float(scores[i]), 6)} for i in order]


def answer(scores: ClipScores, classes: Classes, *, pair: Pair | None = None, interaction: int | None = None,
           relationship: int | None = None, top_k: int = 5) -> dict[str, Any] | None:
    """Figure 6: the argmax of the clip's score tensor over what is not given.

    Given the pair and the interaction: the relationship (a); the pair and the relationship: the
    interaction (b); the interaction and the relationship: the pair (c); nothing: all three jointly
    (d). None when the given pair is not a candidate of the clip. ``top`` lists the ``top_k`` best
    answers with their tensor scores.
    """
    tensor = scores.tensor()
    axes: list[tuple[str, int | None, int]] = [("pair", None, len(scores.candidates))]
    if scores.interaction is not None:
        axes.append(("interaction", interaction, scores.interaction.shape[1]))
    if scores.relationship is not None:
        axes.append(("relationship", relationship, scores.relationship.shape[1]))
    if pair is not None:
        if pair not in scores.candidates:
            return None
        axes[0] = ("pair", scores.candidates.index(pair), axes[0][2])
    index = [np.array([given]) if given is not None else np.arange(size) for _, given, size in axes]
    restricted = tensor[np.ix_(*index)]
    order = np.argsort(-restricted, axis=None, kind="stable")[:top_k]
    top = []
    for flat in order:
        position = np.unravel_index(int(flat), restricted.shape)
        chosen = {name: int(index[k][position[k]]) for k, (name, _, _) in enumerate(axes)}
        subject, object_ = scores.candidates[chosen["pair"]]
        item: dict[str, Any] = {"subject": subject, "object": object_}
        if "interaction" in chosen:
            item["interaction"] = classes.interactions[chosen["interaction"]]
        if "relationship" in chosen:
            item["relationship"] = classes.relationships[chosen["relationship"]]
        item["score"] = round(float(restricted[position]), 6)
        top.append(item)
    return {**top[0], "top": top}


def most_likely_pair(scores: ClipScores) -> dict[str, Any]:
    """Who is interacting: argmax_p max_a s_IC(v, a, p) (max_r s_RC without interactions)."""
    per_pair = (scores.interaction if scores.interaction is not None else scores.relationship).max(axis=1)
    best = int(np.argmax(per_pair))
    subject, object_ = scores.candidates[best]
    return {"subject": subject, "object": object_, "score": round(float(per_pair[best]), 6)}


def clip_pairs(scores: ClipScores, classes: Classes, top_k: int) -> list[dict[str, Any]]:
    """Every candidate pair with its top-k interactions (and relationships), best pair first."""
    tensor = scores.tensor()
    pair_score = tensor.reshape(len(scores.candidates), -1).max(axis=1)
    pairs = []
    for slot in np.argsort(-pair_score, kind="stable"):
        subject, object_ = scores.candidates[slot]
        two = subject is not None and object_ is not None
        pairs.append({"subject": subject, "object": object_, "score": round(float(pair_score[slot]), 6),
                      "interactions": (_ranked(scores.interaction[slot], classes.interactions, top_k)
                                       if scores.interaction is not None else None),
                      "relationships": (_ranked(scores.relationship[slot], classes.relationships, top_k)
                                        if scores.relationship is not None and two else None)})
    return pairs


def pair_relationships(scores: Sequence[ClipScores], classes: Classes, clip_of: dict[int, str]) -> list[dict[str, Any]]:
    """Per ordered pair of the movie: the relationship from up to K of its clips (Eq. 3/11).

    The scores are the mean of s_RC(V, r, p) over the pair's clips (the same in every clip unless the
    relationship head also sees the clip's interaction representation, Table 3 "Rel. <- Int."), as
    the evaluation sums them per pair.
    """
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for clip in scores:
        for slot, (subject, object_) in enumerate(clip.candidates):
            if subject is None or object_ is None:
                continue
            entry = found.setdefault((subject, object_), {"clips": [], "context": clip.context[slot], "sum": None})
            entry["clips"].append(clip.clip)
            if clip.relationship is not None:
                row = clip.relationship[slot].astype(np.float64)
                entry["sum"] = row if entry["sum"] is None else entry["sum"] + row
    pairs = []
    for (subject, object_), entry in found.items():
        item: dict[str, Any] = {"subject": subject, "object": object_, "clips": entry["clips"],
                                "context_clips": [clip_of[sample] for sample in entry["context"]],
                                "relationship": None, "confidence": None, "relationships": None}
        if entry["sum"] is not None:
            mean = entry["sum"] / len(entry["clips"])
            ranked = _ranked(mean, classes.relationships, len(classes.relationships))
            item.update(relationship=ranked[0]["name"], confidence=ranked[0]["score"], relationships=ranked)
        pairs.append(item)
    return pairs


# --------------------------------------------------------------------------------------------
# The movie
# --------------------------------------------------------------------------------------------
@dataclass
class MovieClip:
    """What the outputs say about a clip besides scores: timing, tracks, dialog."""

    name: str
    fps: float
    n_frames: int
    tracks: list[FaceTrack]
    dialog: list[dict[str, Any]]


def clip_details(settings: PredictSettings, movie: str, features: MovieFeatures) -> list[MovieClip]:
    """The clips of the visual feature file (the movie's order), their tracks and dialog lines."""
    layout = settings.movie_layout
    names_file = layout.ftrack_ids_file(movie)
    track_names = load_track_names(names_file) if names_file.is_file() else {}
    dialog_file = DialogFeatureReader(features.dialog) if features.dialog is not None else None
    clips = []
    with VisualFeatureReader(features.visual) as visual_file:
        for name in visual_file.clip_names():
            attrs = visual_file.clip(name).attrs
            tracks = (load_clip_tracks(layout.ftracks_file(movie, name), track_names[name], layout.track_scale)
                      if name in track_names else [])
            lines = []
            if dialog_file is not None:
                dialog = dialog_file.clip(name, with_text=True)
                if dialog is not None:
                    lines = [{"start": round(float(start), 3), "end": round(float(end), 3), "text": text}
                             for (start, end), text in zip(dialog.times, dialog.text)]
            clips.append(MovieClip(name, float(attrs["fps"]), int(attrs["n_frames"]), tracks, lines))
    if dialog_file is not None:
        dialog_file.close()
    return clips


def screen_time(clips: Sequence[MovieClip], characters: dict[str, str]) -> dict[str, float]:
    """Seconds on screen per character: frames with one of its face detections, over the clips."""
    seconds: dict[str, float] = {}
    for clip in clips:
        frames: dict[str, set[int]] = {}
        for track in clip.tracks:
            if track.character:
                name = characters.get(track.character, track.character)
                frames.setdefault(name, set()).update(d.frame for d in track.detections)
        for name, seen in frames.items():
            seconds[name] = seconds.get(name, 0.0) + len(seen) / clip.fps
    return seconds


def clip_shard(settings: PredictSettings, movie: str, features: MovieFeatures, characters: dict[str, str],
               signature: dict[str, Any], out: Path) -> SampleShard:
    """One unlabelled whole-clip sample per clip (:mod:`pipeline.samples`), written to ``out``."""
    with VisualFeatureReader(features.visual) as visual_file:
        clips = {name: [unlabelled_row(name, tracked_cast(visual_file.clip(name), characters))]
                 for name in visual_file.clip_names()}
    width = max(len(candidate_pairs(None, None, rows[0].characters, sys.maxsize)) for rows in clips.values())
    labels = LabelMaps.from_classes(signature["interaction_names"], signature["relationship_names"], {})
    write_samples([MovieInputs(movie, None, features.visual, features.dialog)], [clips], out,
                  pooling=signature["pooling"], split="predict", labels=labels, max_candidates=width, seed=settings.seed,
                  dims=(signature["visual_dim"], signature["dialog_dim"]))
    return SampleShard(out)


def annotated_accuracy(settings: PredictSettings, movie: str, annotations: Path, features: MovieFeatures,
                       model: InteractionRelationshipModel, run: RunConfig, signature: dict[str, Any],
                       device: torch.device) -> tuple[dict[str, Any] | None, dict[str, list[dict[str, Any]]]]:
    """The evaluation code's metrics on the movie's annotated samples (assembled as the samples stage
    does), and the annotations per clip for the page."""
    labels = LabelMaps.from_layout(settings.dataset_layout)
    if (labels.interactions, labels.relationships) != (signature["interaction_names"],
                                                       signature["relationship_names"]):
        raise PredictError(f"{settings.dataset_layout.interactions_map}: the dataset's label maps are not the "
                           f"classes the model was trained on; cannot score {annotations}")
    rows = read_annotation_rows(annotations, labels.num_interactions, labels.num_relationships)
    truth: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        truth.setdefault(row.clip, []).append({
            "subject": row.subject, "object": row.object, "interaction": labels.interactions[row.interaction],
            "relationship": labels.relationships[row.relationship] if row.relationship != NO_RELATIONSHIP else None,
            "start": row.start, "end": row.end if np.isfinite(row.end) else None})
    out = settings.paths.predict_work(movie) / f"annotated.{signature['pooling']}.h5"
    try:
        assemble_samples([MovieInputs(movie, annotations, features.visual, features.dialog)], out,
                         pooling=signature["pooling"], split="predict", labels=labels,
                         max_candidates=settings.max_candidates, seed=settings.seed,
                         dims=(signature["visual_dim"], signature["dialog_dim"]))
    except SamplesError as exc:
        LOG.warning("no accuracy: %s", exc)
        return None, truth
    shard = SampleShard(out)
    metrics = evaluate_model(model, shard, run, device)
    for name, metric in metrics.items():
        LOG.info("%s on the annotations of %s: %s %.2f%% (n=%d, random %.2f%%)", run.experiment.name, movie, name,
                 metric.accuracy, metric.n, metric.random)
    return {"annotations": str(annotations), "samples": len(shard),
            "metrics": {name: metric.to_dict() for name, metric in metrics.items()}}, truth


@dataclass
class MovieResult:
    predictions: dict[str, Any]
    scores: list[ClipScores]
    classes: Classes
    clips: list[MovieClip]
    characters: dict[str, str]


def predict_movie(settings: PredictSettings, movie: str, checkpoint: Path, *, features: MovieFeatures | None = None,
                  annotations: Path | None = None) -> MovieResult:
    """Scores and answers for every clip and pair of ``movie`` (and the accuracy on ``annotations``)."""
    started = time.perf_counter()
    movie_videos(settings.movie_layout, movie)
    device = resolve_device(settings.device)
    model, run, info = load_checkpoint(checkpoint, device)
    signature = info["shard"]
    if not signature.get("features"):
        LOG.warning("%s: the checkpoint does not record which features it was trained on (trained before this "
                    "was recorded); only the feature dimensions are checked", checkpoint)
    if features is None:
        check_features(checkpoint, signature, "the config's visual and dialog settings", {},
                       settings_identity(settings))
        features = extract_features(settings, movie)
    dims, identity = file_identity(features)
    check_features(checkpoint, signature, f"{features.visual}" + (f" and {features.dialog}" if features.dialog else ""),
                   dims, identity)
    extracted = time.perf_counter()

    with VisualFeatureReader(features.visual) as visual_file:
        labels_seen = [track.character for name in visual_file.clip_names() for track in visual_file.clip(name).tracks]
    characters = movie_characters(labels_seen)
    work = settings.paths.predict_work(movie)
    shard = clip_shard(settings, movie, features, characters, signature, work / f"clips.{signature['pooling']}.h5")
    classes = Classes(signature["interaction_names"], signature["relationship_names"])
    scores = score_samples(model, run, shard, device)
    clips = clip_details(settings, movie, features)
    accuracy, truth = None, None
    if annotations is not None:
        accuracy, truth = annotated_accuracy(settings, movie, annotations, features, model, run, signature, device)

    clip_entries, offset = [], 0.0
    by_name = {clip.name: clip for clip in clips}
    for clip_scores in scores:
        clip = by_name[clip_scores.clip]
        duration = clip.n_frames / clip.fps
        cast = shard_cast(clip_scores)
        entry = {"clip": clip.name, "start": round(offset, 3), "end": round(offset + duration, 3),
                 "duration": round(duration, 3), "characters": cast, "dialog": clip.dialog,
                 "pairs": clip_pairs(clip_scores, classes, settings.top_k),
                 "most_likely_pair": most_likely_pair(clip_scores),
                 "joint": {key: value for key, value in answer(clip_scores, classes, top_k=1).items() if key != "top"}}
        if truth is not None:
            entry["annotations"] = truth.get(clip.name, [])
        clip_entries.append(entry)
        offset += duration
    e = run.experiment
    predictions = {
        "schema": PREDICTIONS_SCHEMA, "movie": movie, "root": str(settings.movie_layout.root),
        "model": {"checkpoint": str(checkpoint), "experiment": e.name, "task": e.task, "epoch": info.get("epoch"),
                  "modalities": list(e.modalities), "pooling": signature["pooling"],
                  "predicts_characters": e.predicts_characters,
                  "rel_clips": e.rel_clips if e.predicts_relationships else 0,
                  "interactions": classes.interactions if e.predicts_interactions else [],
                  "relationships": classes.relationships if e.predicts_relationships else []},
        "features": {"files": {"visual": str(features.visual),
                               "dialog": str(features.dialog) if features.dialog else None}, **identity},
        "clips": clip_entries,
        "pairs": pair_relationships(scores, classes, {s.sample: s.clip for s in scores}),
        "accuracy": accuracy,
    }
    if not e.predicts_characters:
        LOG.warning("%s (task %s) was trained on the true pair only: its scores do not tell candidate pairs apart "
                    "the way a character model's do (tasks int_char, int_rel_char)", e.name, e.task)
    LOG.info("%s: %d clips, %d characters, %d ordered pairs; features %.1fs, scores %.1fs", movie, len(clips),
             len(set(characters.values())), len(predictions["pairs"]), extracted - started,
             time.perf_counter() - extracted)
    return MovieResult(predictions, scores, classes, clips, characters)


def shard_cast(scores: ClipScores) -> list[str]:
    """The clip's characters, from its candidates (in order of first appearance)."""
    return list(dict.fromkeys(name for pair in scores.candidates for name in pair if name is not None))


def write_outputs(settings: PredictSettings, movie: str, result: MovieResult, out_dir: Path) -> dict[str, Path]:
    """``predictions.json``, ``graph.json``, ``graph.png`` and ``index.html`` in ``out_dir`` (atomically)."""
    predictions = result.predictions
    graph = social_graph(predictions, screen_time(result.clips, result.characters))
    png = draw_graph(graph, f"{movie}: predicted relationships ({predictions['model']['experiment']})")
    colors = {node["id"]: node["color"] for node in graph["nodes"]}
    videos = movie_videos(settings.movie_layout, movie)
    thumbnails = {clip.name: clip_thumbnail(videos[clip.name], clip.tracks, result.characters, colors)
                  for clip in result.clips if clip.name in videos}
    paths = {name: out_dir / name for name in ("predictions.json", "graph.json", "graph.png", "index.html")}
    write_json_atomic(paths["predictions.json"], predictions)
    write_json_atomic(paths["graph.json"], graph)
    with atomic_path(paths["graph.png"]) as tmp:
        tmp.write_bytes(png)
    write_text_atomic(paths["index.html"], movie_page(predictions, graph, png, thumbnails))
    LOG.info("%s: wrote %s", movie, ", ".join(str(path) for path in paths.values()))
    return paths


# --------------------------------------------------------------------------------------------
# Queries (Figure 6 a-d)
# --------------------------------------------------------------------------------------------
def _class_index(name: str, names: list[str], what: str) -> int:
    wanted = " ".join(name.lower().split())
    for k, candidate in enumerate(names):
        if candidate.lower() == wanted:
            return k
    raise PredictError(f"--{what} {name!r}: not a class of the model; choose one of {names}")


def query(result: MovieResult, *, clip: str | None = None, pair: Sequence[str] | None = None,
          interaction: str | None = None, relationship: str | None = None, top_k: int = 5) -> dict[str, Any]:
    """The answers for what is not given, per clip (the clips where the given pair is a candidate)."""
    model = result.predictions["model"]
    given: dict[str, Any] = {}
    interaction_id = relationship_id = None
    if interaction is not None:
        if not model["interactions"]:
            raise PredictError(f"--interaction: the model (task {model['task']}) predicts no interactions")
        interaction_id = _class_index(interaction, result.classes.interactions, "interaction")
        given["interaction"] = result.classes.interactions[interaction_id]
    if relationship is not None:
        if not model["relationships"]:
            raise PredictError(f"--relationship: the model (task {model['task']}) predicts no relationships")
        relationship_id = _class_index(relationship, result.classes.relationships, "relationship")
        given["relationship"] = result.classes.relationships[relationship_id]
    wanted_pair = None
    if pair is not None:
        known = set(result.characters.values())
        resolved = []
        for name in pair:
            canonical = canonical_name(name)
            canonical = result.characters.get(canonical, canonical)
            if canonical not in known:
                raise PredictError(f"--pair: {name!r} has no face tracks in {result.predictions['movie']}; "
                                   f"characters: {sorted(known)}")
            resolved.append(canonical)
        wanted_pair = (resolved[0], resolved[1])
        given["pair"] = list(wanted_pair)
    scores = result.scores
    if clip is not None:
        scores = [s for s in scores if s.clip == clip]
        if not scores:
            raise PredictError(f"--clip {clip!r}: not a clip of {result.predictions['movie']}")
        given["clip"] = clip
    answers = []
    for clip_scores in scores:
        found = answer(clip_scores, result.classes, pair=wanted_pair, interaction=interaction_id,
                       relationship=relationship_id, top_k=top_k)
        if found is not None:
            answers.append({"clip": clip_scores.clip, **found})
    asked = [name for name in ("pair", "interaction", "relationship")
             if name not in given and (name == "pair" or model[f"{name}s"])]
    return {"movie": result.predictions["movie"], "given": given, "asked": asked, "answers": answers}


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
def write_index(predictions_files: Sequence[Path], out: Path) -> None:
    """The page listing the movies of ``predictions_files`` (each with its ``graph.png`` beside it)."""
    entries = []
    for path in predictions_files:
        path = Path(path)
        try:
            predictions = json.loads(path.read_text())
            png = (path.parent / "graph.png").read_bytes()
        except (OSError, json.JSONDecodeError) as exc:
            raise PredictError(f"{path}: cannot read the movie's predictions ({exc})") from None
        entries.append((predictions, png))
    write_text_atomic(out, index_page(entries))
    LOG.info("%s: %d movies", out, len(entries))


def run_prediction(settings: PredictSettings, args) -> None:
    if args.index is not None:
        write_index(args.predictions or [], args.index)
        return
    if args.movie is None:
        raise PredictError("--movie is required (or --index with --predictions)")
    checkpoint = args.checkpoint or settings.checkpoint
    features = None
    if args.visual is not None:
        features = given_features(args.movie, args.visual, args.dialog)
    annotations = None
    if args.annotations == "auto":
        candidate = settings.paths.annotations(args.movie)
        if settings.in_dataset and candidate.is_file():
            annotations = candidate
            LOG.info("%s: the movie's annotations: the accuracy is reported", candidate)
    elif args.annotations != "none":
        annotations = Path(args.annotations)
    result = predict_movie(settings, args.movie, checkpoint, features=features, annotations=annotations)
    write_outputs(settings, args.movie, result, args.out_dir or settings.paths.predict_results(args.movie))
    if args.clip or args.pair or args.interaction or args.relationship or args.ask:
        print(json.dumps(query(result, clip=args.clip, pair=args.pair, interaction=args.interaction,
                               relationship=args.relationship, top_k=settings.top_k), indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.cli import stage_main

    def arguments(parser) -> None:
        parser.add_argument("--movie", help="imdb key of the movie (its folder's name in the layout)")
        parser.add_argument("--root", help="folder of the movie in the MovieGraphs layout "
                                           "(default: predict.root, else dataset.root)")
        parser.add_argument("--checkpoint", type=Path,
                            help="trained model (default: predict.checkpoint, else work/models/<predict.experiment>/"
                                 "best.pt)")
        parser.add_argument("--out-dir", type=Path, help="default: results/predict/<movie>")
        parser.add_argument("--visual", type=Path, help="the movie's visual feature file (instead of extracting)")
        parser.add_argument("--dialog", type=Path, help="with --visual: its dialog feature file (none: no subtitles)")
        parser.add_argument("--annotations", default="auto",
                            help="annotation rows of the movie for its accuracy; 'auto' (default): "
                                 "work/annotations/<movie>.parquet of a dataset movie if present; 'none'")
        parser.add_argument("--clip", help="ask only about this clip")
        parser.add_argument("--pair", nargs=2, metavar=("SUBJECT", "OBJECT"), help="given pair (Fig. 6 a, b)")
        parser.add_argument("--interaction", help="given interaction (Fig. 6 a, c)")
        parser.add_argument("--relationship", help="given relationship (Fig. 6 b, c)")
        parser.add_argument("--ask", action="store_true", help="print the joint answers (Fig. 6 d) as JSON")
        parser.add_argument("--index", type=Path, help="write the page listing the movies of --predictions")
        parser.add_argument("--predictions", type=Path, nargs="*", help="predictions.json files for --index")

    return stage_main("predict", run_prediction, description=__doc__.split("\n")[0], arguments=arguments,
                      wildcards=lambda args: {"root": args.root}, threads=True, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
