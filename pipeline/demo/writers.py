"""Serialise a planned and rendered demo movie in the exact file formats of the MovieGraphs release.

Formats copied from the release files of tt0073486 (``tests/fixtures/moviegraphs``):

- face tracks and track names: written by :mod:`pipeline.tracks` (their reader's module);
- ``clip_srt/<movie>/<clip>.webvtt``: ``WEBVTT`` header, blank-line separated cues
  ``hh:mm:ss.ttt --> hh:mm:ss.ttt`` with one or more lines (``- `` for speaker turns);
- ``split.json``: tab-indented ``{"train": [...], "val": [...], "test": [...]}``;
- the annotation graphs as :class:`pipeline.moviegraphs.ClipGraph` (written to the pickle by
  :func:`pipeline.moviegraphs.write_moviegraphs_pickle`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.demo.story import ClipPlan, MoviePlan, SubtitleCue
from pipeline.demo.vocabulary import (
    FINE_RELATIONSHIPS, INTERACTION_CLASSES, OPPOSITE_RELATIONSHIP, RELATIONSHIP_CLASSES,
)
from pipeline.labels import write_label_files
from pipeline.moviegraphs import ClipGraph, GraphNode, MovieGraph


# --- face tracks ----------------------------------------------------------------------------------

# --- subtitles --------------------------------------------------------------------------------------

def vtt_time(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def webvtt_text(cues: list[SubtitleCue]) -> str:
    """WebVTT as in the release: header, then ``start --> end`` and the cue lines per block."""
    blocks = ["WEBVTT\n"]
    for cue in cues:
        blocks.append(f"{vtt_time(cue.start)} --> {vtt_time(cue.end)}\n" + "\n".join(cue.lines) + "\n")
    return "\n".join(blocks) + "\n"


# --- annotation graphs ----------------------------------------------------------------------------

def _time_name(start: float, end: float) -> str:
    def fmt(t: float) -> str:
        minutes, seconds = divmod(t, 60)
        text = f"{int(minutes)}:{int(seconds):02d}"
        return text if float(seconds).is_integer() else f"{text}{str(round(seconds % 1, 3))[1:]}"
    return f"{fmt(start)}-{fmt(end)}"


def clip_graph(plan: MoviePlan, clip: ClipPlan) -> ClipGraph:
    """The MovieGraphs graph of a clip: entities, attributes, relationships, interactions, time,
    topics, a summary, and the situation (-1) / scene (-2) nodes."""
    nodes: dict[int, GraphNode] = {}
    edges: list[tuple[int, int]] = []

    def add(node_type: str, name: str, **attrs) -> int:
        node_id = len([n for n in nodes if n >= 0])
        attrs.setdefault("origtext", name)
        attrs.setdefault("pos", (40 + 90 * (node_id % 6), 40 + 60 * (node_id // 6)))
        nodes[node_id] = GraphNode(node_id=node_id, type=node_type, name=name, attrs=attrs)
        return node_id

    entity_of: dict[int, int] = {}
    for character in clip.on_screen:
        info = plan.characters[character]
        entity_of[character] = add("entity", info.name, node_id=info.index, chid=info.chid)
    for character, subtype, value in clip.attributes:
        node = add("attribute", value, subtype=subtype, origtext=f"{subtype}:{value}")
        edges.append((entity_of[character], node))
    for a in clip.on_screen:
        for b in clip.on_screen:
            if a != b and (a, b) in plan.relationships:
                node = add("relationship", plan.relationships[(a, b)][1])
                edges += [(entity_of[a], node), (node, entity_of[b])]
    for inter in clip.interactions:
        node = add("interaction", inter.fine)
        edges.append((entity_of[inter.subject], node))
        edges += [(node, entity_of[obj]) for obj in inter.objects]
        time = add("time", _time_name(inter.start, inter.end), start=inter.start, end=inter.end)
        edges.append((node, time))
        if inter.topic:
            edges.append((node, add("topic", inter.topic)))
    if clip.summary is not None:
        a, b, text = clip.summary
        node = add("summary", text)
        edges += [(entity_of[a], node), (node, entity_of[b])]
    nodes[-1] = GraphNode(-1, "situation", clip.situation, {"origtext": clip.situation, "pos": (0, 0)})
    nodes[-2] = GraphNode(-2, "scene", clip.scene_label, {"origtext": clip.scene_label, "pos": (0, 0)})
    return ClipGraph(movie=plan.movie, fnames=[f"{clip.name}.mp4"], scenes=[clip.scene], ss=clip.ss,
                     es=clip.es, situation=clip.situation, scene_label=clip.scene_label,
                     description=clip.description, nodes=nodes, edges=edges)


def movie_graph(plan: MoviePlan) -> MovieGraph:
    castlist = [{"chid": c.chid, "name": c.name, "importance": round(c.importance, 3)}
                for c in plan.characters]
    return MovieGraph(imdb_key=plan.movie, castlist=castlist,
                      clip_graphs={clip.sid: clip_graph(plan, clip) for clip in plan.clips})


# --- split and label files ---------------------------------------------------------------------------

def split_text(splits: dict[str, list[str]]) -> str:
    """``split.json`` formatted as the release (tab indentation, trailing newline)."""
    return json.dumps({k: list(v) for k, v in splits.items()}, indent="\t") + "\n"


def write_demo_label_files(interactions_path: Path, relationships_path: Path, opposite_path: Path) -> None:
    """The three LIReC label files of the demo vocabulary (via :func:`pipeline.labels.write_label_files`)."""
    interactions = [(cls.name, list(cls.fine)) for cls in INTERACTION_CLASSES]
    relationships = {fine: name for name in RELATIONSHIP_CLASSES for fine in FINE_RELATIONSHIPS[name]}
    opposite = {name: OPPOSITE_RELATIONSHIP[name] for name in RELATIONSHIP_CLASSES}
    write_label_files(interactions_path, relationships_path, opposite_path, interactions, relationships,
                      opposite)


def write_test_pattern_video(path: str | Path, n_frames: int = 48, size: tuple[int, int] = (64, 48), fps: int = 16,
                             seed: int = 0) -> Path:
    """An mp4v video of a bright square moving over a noisy background (frames differ): a clip for
    tests and benchmarks of the visual stage."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 120, size=(height, width, 3), dtype=np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for k in range(n_frames):
        frame = background.copy()
        x = (3 * k) % max(width - 12, 1)
        frame[height // 4: height // 4 + 12, x: x + 12] = (40 + 4 * k) % 256
        writer.write(frame)
    writer.release()
    return path
