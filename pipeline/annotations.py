"""The ``annotations`` stage: MovieGraphs clip graphs -> one row per directed person-to-person interaction.

``python -m pipeline.annotations --config FILE [--settings JSON] [--out-dir work/annotations]``

Reads the annotation pickle (:mod:`pipeline.moviegraphs`), the split file (``dataset.split``,
restricted to ``dataset.movies``), the label maps (:mod:`pipeline.labels`) and the track names
(:mod:`pipeline.tracks`), and writes (:mod:`pipeline.formats.annotations`)

- ``<out-dir>/<movie>.parquet`` per movie of the split (empty, with the columns, for a movie the
  pickle lacks), one row per directed person-to-person interaction instance (docs/architecture.md):

  ``movie, clip`` (clip file name without extension), ``start, end`` (clip-relative seconds of the
  interaction's ``time`` node; ``0, inf`` when it has none: the whole clip), ``subject, object``
  (canonical names), ``interaction_fine`` (the node's name), ``interaction`` (merged id),
  ``relationship`` (merged id or null), ``overlapping`` (merged ids of the clip's OTHER interaction
  instances with temporal IoU > ``dataset.overlap_iou``, without the row's own class: O_I(v) of the
  paper, Sec. 3.2 / 4), ``characters`` (the clip's cast: canonical names of its entity nodes);
- ``<out-dir>/split.json``: the movies per split that are in the pickle;
- ``<out-dir>/summary.json``: counts per split (see :class:`SplitCounts`).

Which nodes (LIReC ``load_annotated_inter``): nodes of type exactly ``interaction`` or ``summary``
(not LIReC's substring match, which also takes ``action`` nodes) whose name is a fine interaction of
the label map; others are counted as skipped. Subject = entity with an edge entity -> node, object =
entity with an edge node -> entity; a one-to-many interaction gives one row per (subject, object)
pair (LIReC's triplets); a node without such a pair is counted as skipped (no person-to-person row).

Relationship of a row (LIReC ``add_relationships`` / ``Relationship.append_scene``), per movie in
clip order: the class of the clip's relationship node ``subject -> r -> object``; else the opposite
of the clip's ``object -> r -> subject`` relationship; else the pair's label from the latest earlier
clip that stated one (LIReC propagates every known pair to later clips); else null.
"""
from __future__ import annotations

import logging
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from tqdm import tqdm

from pipeline.dataset import SPLITS, DatasetError, DatasetLayout, read_split_file, restrict_movies
from pipeline.formats.annotations import write_annotation_rows
from pipeline.h5io import write_json_atomic
from pipeline.labels import LabelMaps
from pipeline.moviegraphs import ClipGraph, MovieGraph, load_moviegraphs
from pipeline.paths import WorkPaths
from pipeline.relationships import PairRelationships
from pipeline.spans import temporal_iou
from pipeline.tracks import canonical_name, load_track_names, track_matches_character

log = logging.getLogger("pipeline.annotations")

INTERACTION_NODE_TYPES = ("interaction", "summary")
WHOLE_CLIP = (0.0, math.inf)   # span of an interaction without a time node

# LIReC's one hand fix of a time node (util_functions.AnnotatedInter._add_time):
# (movie, clip, start as annotated) -> (start, end).
TIME_FIXES = {("tt0119822", "scene-006.ss-0045.es-0048", 9.0): (8.0, 9.0)}


@dataclass(frozen=True)
class AnnotationSettings:
    """The ``dataset`` section: where the release files are, which movies, the overlap IoU."""

    layout: DatasetLayout
    paths: WorkPaths
    overlap_iou: float
    movies: tuple[str, ...] | None     # dataset.movies: restrict the run to these
    on_error: str                      # "fail" or "skip" a movie whose files are bad

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "AnnotationSettings":
        wanted = config["dataset"]["movies"]
        return cls(layout=DatasetLayout.from_config(config), paths=WorkPaths(config),
                   overlap_iou=float(config["dataset"]["overlap_iou"]), movies=tuple(wanted) if wanted else None,
                   on_error=config["on_error"]["annotations"])


@dataclass
class SplitCounts:
    """What ``summary.json`` reports per split."""

    movies: int = 0
    clips: int = 0
    merged_clips: int = 0                 # clip graphs spanning several clip files (first file used)
    interaction_nodes: int = 0            # mapped interaction/summary nodes (with or without a pair)
    instances: int = 0                    # person-to-person rows
    interactions: Counter = field(default_factory=Counter)      # rows per merged class name
    relationships: Counter = field(default_factory=Counter)     # rows per relationship class name
    relationship_source: Counter = field(default_factory=Counter)  # clip / reverse_in_clip / earlier_clip
    missing_relationship: int = 0
    subject_without_track: int = 0
    object_without_track: int = 0
    pair_without_track: int = 0           # rows where subject or object has no face track in the clip
    whole_clip_time: int = 0              # mapped nodes without a time node (span = whole clip)
    time_fixes: int = 0
    skipped: Counter = field(default_factory=Counter)           # reasons -> nodes/pairs skipped
    unmapped_relationships: Counter = field(default_factory=Counter)  # fine names not in the map

    def add(self, other: "SplitCounts") -> None:
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(mine, Counter):
                mine.update(value)
            else:
                setattr(self, name, mine + value)

    def as_json(self, labels: LabelMaps) -> dict[str, Any]:
        payload = {name: value for name, value in vars(self).items() if not isinstance(value, Counter)}
        payload["interactions"] = {name: self.interactions.get(name, 0) for name in labels.interactions}
        payload["relationships"] = {name: self.relationships.get(name, 0) for name in labels.relationships}
        payload["relationship_source"] = dict(sorted(self.relationship_source.items()))
        payload["skipped"] = dict(sorted(self.skipped.items()))
        payload["unmapped_relationships"] = dict(self.unmapped_relationships.most_common())
        return payload


@dataclass
class InteractionInstance:
    """A mapped interaction/summary node of a clip."""

    node: int
    fine: str
    merged: int
    span: tuple[float, float]
    subjects: list[int]
    objects: list[int]


def _entities(clip: ClipGraph, node_ids: Iterable[int]) -> list[int]:
    return [n for n in node_ids if clip.nodes[n].type == "entity" and canonical_name(clip.nodes[n].name)]


def _character(clip: ClipGraph, node: int) -> str:
    return canonical_name(clip.nodes[node].name)


def clip_interactions(movie: str, clip: ClipGraph, labels: LabelMaps, counts: SplitCounts) -> list[InteractionInstance]:
    """The clip's interaction/summary nodes that are in the label map, with span and participants."""
    instances = []
    for node_type in INTERACTION_NODE_TYPES:
        for node in clip.nodes_of_type(node_type):
            fine = clip.nodes[node].name.strip()
            merged = labels.interaction_of(fine)
            if merged is None:
                counts.skipped[f"{node_type}_not_in_label_map"] += 1
                continue
            span = clip.time_span(node)
            if span is None:
                span = WHOLE_CLIP
                counts.whole_clip_time += 1
            elif (movie, clip.clip_name, span[0]) in TIME_FIXES:
                span = TIME_FIXES[(movie, clip.clip_name, span[0])]
                counts.time_fixes += 1
            if not span[1] >= span[0]:
                counts.skipped["time_end_before_start"] += 1
                log.warning("%s %s: %s node %d %r has end %s before start %s; skipped", movie,
                            clip.clip_name, node_type, node, fine, span[1], span[0])
                continue
            counts.interaction_nodes += 1
            instances.append(InteractionInstance(node=node, fine=fine, merged=merged, span=span,
                                                 subjects=_entities(clip, clip.predecessors(node)),
                                                 objects=_entities(clip, clip.successors(node))))
    return instances


def clip_direct_relationships(clip: ClipGraph, labels: LabelMaps, counts: SplitCounts) -> dict[tuple[str, str], int]:
    """Relationships the clip's nodes state for ordered pairs of canonical names: relationship node
    ``a -> r -> b`` (first such node in node order wins). Reverse pairs and propagation over later
    clips: :class:`pipeline.relationships.PairRelationships`."""
    direct: dict[tuple[str, str], int] = {}
    for node in clip.nodes_of_type("relationship"):
        fine = clip.nodes[node].name
        relationship = labels.relationship_of(fine)
        if relationship is None:
            counts.unmapped_relationships[" ".join(fine.split())] += 1
            continue
        for a in _entities(clip, clip.predecessors(node)):
            for b in _entities(clip, clip.successors(node)):
                pair = (_character(clip, a), _character(clip, b))
                if pair[0] != pair[1]:
                    direct.setdefault(pair, relationship)
    return direct


def movie_rows(movie: MovieGraph, labels: LabelMaps, track_names: dict[str, list[str | None]],
               overlap_iou: float, counts: SplitCounts) -> list[dict[str, Any]]:
    """All person-to-person rows of one movie, clips in the pickle's order (see module docstring)."""
    rows: list[dict[str, Any]] = []
    relationships = PairRelationships(labels.opposite)
    for clip in movie.clip_graphs.values():
        counts.clips += 1
        counts.merged_clips += len(clip.fnames) > 1
        name = clip.clip_name
        cast = list(dict.fromkeys(_character(clip, n) for n in _entities(clip, clip.nodes_of_type("entity"))))
        tracks = track_names.get(name, [])
        has_track = {c: any(track_matches_character(t, c) for t in tracks) for c in cast}
        instances = clip_interactions(movie.imdb_key, clip, labels, counts)
        direct = clip_direct_relationships(clip, labels, counts)
        stated = relationships.update(direct)
        for instance in instances:
            pairs = [(s, o) for s in instance.subjects for o in instance.objects if s != o]
            if not pairs:
                counts.skipped["interaction_without_pair"] += 1
                continue
            overlapping = sorted({other.merged for other in instances
                                  if other.node != instance.node and other.merged != instance.merged
                                  and temporal_iou(instance.span, other.span) > overlap_iou})
            seen_pairs = set()
            for s, o in pairs:
                subject, object_ = _character(clip, s), _character(clip, o)
                if subject == object_:
                    counts.skipped["pair_of_one_character"] += 1
                    continue
                if (subject, object_) in seen_pairs:     # two entity nodes of the same character
                    counts.skipped["duplicate_pair"] += 1
                    continue
                seen_pairs.add((subject, object_))
                relationship = stated.get((subject, object_))
                if relationship is not None:
                    source = "clip" if (subject, object_) in direct else "reverse_in_clip"
                else:
                    relationship = relationships.at_clip(subject, object_)
                    source = "earlier_clip" if relationship is not None else None
                if source is None:
                    counts.missing_relationship += 1
                else:
                    counts.relationship_source[source] += 1
                    counts.relationships[labels.relationships[relationship]] += 1
                counts.instances += 1
                counts.interactions[labels.interactions[instance.merged]] += 1
                subject_tracked, object_tracked = has_track[subject], has_track[object_]
                counts.subject_without_track += not subject_tracked
                counts.object_without_track += not object_tracked
                counts.pair_without_track += not (subject_tracked and object_tracked)
                rows.append({
                    "movie": movie.imdb_key, "clip": name, "start": float(instance.span[0]),
                    "end": float(instance.span[1]), "subject": subject, "object": object_,
                    "interaction_fine": instance.fine, "interaction": instance.merged,
                    "relationship": relationship, "overlapping": overlapping, "characters": cast,
                })
    return rows


def run(settings: AnnotationSettings, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Run the stage for the configured dataset; return the summary that is written."""
    started = time.time()
    layout, paths = settings.layout, settings.paths
    out_dir = Path(out_dir) if out_dir is not None else paths.annotations_summary().parent
    splits = restrict_movies(read_split_file(layout.split), settings.movies)
    labels = LabelMaps.from_layout(layout)
    log.info("label maps: %d merged interactions, %d fine; %d relationship classes, %d fine",
             labels.num_interactions, len(labels.fine_to_merged), labels.num_relationships,
             len(labels.fine_to_relationship))
    movies = load_moviegraphs(layout.annotations)
    log.info("%s: %d movies, %d clip graphs (%.1fs)", layout.annotations, len(movies),
             sum(len(m.clip_graphs) for m in movies.values()), time.time() - started)
    overlap_iou = settings.overlap_iou

    present = {split: [m for m in splits[split] if m in movies] for split in SPLITS}
    missing = {split: [m for m in splits[split] if m not in movies] for split in SPLITS}
    for split in SPLITS:
        if missing[split]:
            log.warning("%s split: %d movie(s) not in the annotation pickle: %s", split,
                        len(missing[split]), ", ".join(missing[split]))
    todo = [(split, movie) for split in SPLITS for movie in splits[split]]
    repeated = [movie for movie, n in Counter(movie for _, movie in todo).items() if n > 1]
    if repeated:
        raise DatasetError(f"{layout.split}: movie(s) listed in more than one split: {', '.join(repeated)}")
    skipped: list[dict[str, str]] = []

    def skip(movie: str, exc: DatasetError) -> None:
        if settings.on_error != "skip":
            raise exc
        skipped.append({"movie": movie, "reason": str(exc)})
        log.warning("movie %s skipped (on_error.annotations: skip): %s", movie, exc)

    # Every input is read before the first output is written: the track names of every listed movie.
    track_names = {}
    for split in SPLITS:
        for movie in splits[split]:
            try:
                track_names[movie] = load_track_names(layout.ftrack_ids_file(movie))
            except DatasetError as exc:
                skip(movie, exc)
    per_split = {split: SplitCounts() for split in SPLITS}
    for split, movie in tqdm(todo, desc="annotations", unit="movie", disable=None):
        if movie not in movies or movie not in track_names:
            write_annotation_rows([], out_dir / paths.annotations(movie).name)
            continue
        counts = SplitCounts(movies=1)
        try:
            rows = movie_rows(movies[movie], labels, track_names[movie], overlap_iou, counts)
        except (TypeError, ValueError) as exc:   # e.g. a time node with a non-numeric start
            skip(movie, DatasetError(f"{layout.annotations}: movie {movie}: {exc}"))
            write_annotation_rows([], out_dir / paths.annotations(movie).name)
            continue
        write_annotation_rows(rows, out_dir / paths.annotations(movie).name)
        per_split[split].add(counts)
        log.info("%s (%s): %d clips, %d rows, %d without relationship, %d with an untracked character",
                 movie, split, counts.clips, counts.instances, counts.missing_relationship,
                 counts.pair_without_track)

    write_json_atomic(out_dir / paths.annotations_split().name, present)
    summary = {
        "annotations": str(layout.annotations),
        "overlap_iou": overlap_iou,
        "interaction_classes": labels.interactions,
        "relationship_classes": labels.relationships,
        "movies_not_in_annotations": missing,
        "on_error": settings.on_error,
        "skipped": skipped,
        "splits": {split: per_split[split].as_json(labels) for split in SPLITS},
    }
    write_json_atomic(out_dir / paths.annotations_summary().name, summary)
    log.info("annotations: %s rows (train/val/test), %.1fs",
             "/".join(str(per_split[s].instances) for s in SPLITS), time.time() - started)
    return summary


def main(argv: list[str] | None = None) -> int:
    from pipeline.cli import stage_main

    def arguments(parser) -> None:
        parser.add_argument("--out-dir", help="output folder (default: <work_dir>/annotations)")

    return stage_main("annotations", lambda settings, args: run(settings, args.out_dir),
                      description=__doc__.split("\n")[0], arguments=arguments, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
