"""What a person reads next to the demo data: summary.json, README.md and contact_sheet.png."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.dataset import SPLITS, DatasetLayout
from pipeline.demo.knobs import DemoKnobs
from pipeline.demo.render import FACE
from pipeline.demo.sizes import WINDOW, DemoSize
from pipeline.demo.vocabulary import INTERACTION_CLASSES, RELATIONSHIP_CLASSES
from pipeline.h5io import atomic_path, write_text_atomic
from pipeline.moviegraphs import MovieGraph
from pipeline.stats import binomial_ci95
from pipeline.tracks import face_to_person_box, load_clip_tracks, load_track_names

_SUMMED = ("clips", "seconds", "frames", "windows_16", "p2p_with_relationship", "p2p_without_relationship",
           "participants_with_track", "participants_without_track", "one_to_many", "overlapping",
           "relationship_pairs", "unordered_pairs", "unordered_pairs_without_relationship")


def ci95_half_width(n: int, accuracy: float = 0.5) -> float | None:
    """Half-width of the binomial 95% interval of an accuracy on ``n`` samples (None for none)."""
    return round(binomial_ci95(accuracy, n), 4) if n > 0 else None


def _merge(stats: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {key: sum(s[key] for s in stats) for key in _SUMMED}
    for key in ("interactions", "p2p", "modality", "relationship_pair_classes"):
        total: Counter = Counter()
        for s in stats:
            total.update(s[key])
        merged[key] = dict(sorted(total.items()))
    merged["movies"] = len(stats)
    merged["p2p_instances"] = sum(merged["p2p"].values())
    merged["interaction_count"] = sum(merged["interactions"].values())
    clips_per_pair = sorted((c for s in stats for c in s["clips_per_relationship_pair"]), reverse=True)
    merged["clips_per_relationship_pair"] = {
        "pairs": len(clips_per_pair),
        "median": float(np.median(clips_per_pair)) if clips_per_pair else 0.0,
        "max": clips_per_pair[0] if clips_per_pair else 0,
        "at_least_5": sum(c >= 5 for c in clips_per_pair),
    }
    return merged


def build_summary(size: DemoSize, seed: int, knobs: DemoKnobs, splits: dict[str, list[str]],
                  stats: dict[str, dict[str, Any]]) -> dict[str, Any]:
    per_split = {split: _merge([stats[m] for m in splits[split]]) for split in SPLITS}
    totals = _merge(list(stats.values()))
    test = per_split["test"]
    p2p_total = totals["p2p_with_relationship"] + totals["p2p_without_relationship"]
    participants = totals["participants_with_track"] + totals["participants_without_track"]
    return {
        "size": size.name, "seed": seed,
        "video": {"frame_size": list(size.frame_size), "fps": size.fps, "window_frames": WINDOW},
        "classes": {"interactions_merged": len(INTERACTION_CLASSES),
                    "interactions_fine": sum(len(c.fine) for c in INTERACTION_CLASSES),
                    "relationships": len(RELATIONSHIP_CLASSES)},
        "totals": totals,
        "splits": per_split,
        "missing": {
            "p2p_without_relationship": round(totals["p2p_without_relationship"] / max(p2p_total, 1), 4),
            "unordered_pairs_without_relationship": round(
                totals["unordered_pairs_without_relationship"] / max(totals["unordered_pairs"], 1), 4),
            "participants_without_track": round(totals["participants_without_track"] / max(participants, 1), 4),
        },
        "test_set": {
            "p2p_instances": test["p2p_instances"],
            "p2p_ci95_half_width_at_50": ci95_half_width(test["p2p_instances"]),
            "p2p_with_relationship": test["p2p_with_relationship"],
            "relationship_pairs": test["relationship_pairs"],
            "relationship_pairs_ci95_half_width_at_50": ci95_half_width(test["relationship_pairs"]),
        },
        "knobs": knobs.as_dict(),
    }


README_TEMPLATE = """# LIReC-pipeline demo dataset ({size}, seed {seed})

Synthetic movies written in the on-disk layout of the MovieGraphs release, made by
`python -m pipeline.demo` (Snakemake rule `demo_dataset`). Every stage reads them through the same
readers as the real dataset. Nothing here is real footage.

## Layout

```
py3loader/all_movies.pkl          annotation graphs (GraphClasses.MovieGraph / ClipGraph, networkx 1.x DiGraph)
split.json                        {{"train": [...], "val": [...], "test": [...]}}
videos/<movie>/<clip>.mp4         clip videos ({width}x{height}, {fps} fps, mp4v)
ftracks/<movie>/<clip>.json       face tracks {{"ftracks": [...], "frame2ftracks": [...]}}
ftrack_ids/<movie>.json           name of every track (character name, one word of it, "other", "no_face")
clip_srt/<movie>/<clip>.webvtt    clip subtitles (clip-relative times, "- " speaker turns)
others/merged_interactions.txt    {n_fine} fine interactions -> {n_merged} merged classes
others/relships_many2_15.txt      fine relationship words -> 15 classes
others/relships_15_opp.txt        opposite direction of each relationship class
summary.json                      the counts below, per split, and the generator's knobs
contact_sheet.png                 a few frames with face/person boxes and labels
```

## Generative model

- **Cast.** Each movie has {min_chars}-{max_chars} characters with names whose words are unique in the
  movie, a screen-time weight (importance) and a look (body colour, shape, texture, size) drawn anew
  per movie, so appearance never gives a label away. The head sits at the top of the person box such
  that the face box of the tracks is `[0.35, 0.65] x [0.10, 0.25]` of it (LIReC's face->person rule).
- **Relationships.** Every unordered pair gets, with probability {missing_rel:.2f}, no label; otherwise a class
  of the paper's 15 for one direction and its opposite for the other (parent/child, boss/worker,
  manager/customer, symmetric ones), each written as a fine word ("mother", "employee", ...). A pair's
  relationship holds for the whole movie; relationship nodes appear in every clip showing both.
- **Interactions.** {n_merged} merged classes ({n_fine} fine labels). A class is defined by its signature: a visual
  pattern (approach, leave, chase, hit, hug, hand over, walk together, push, wave, dance), a dialog
  pattern (sentences with lexical cues: greeting, question, order, thanks, apology, ...), or both, where
  the visual pattern is shared with a visual-only class and the dialog pattern with a dialog-only class
  (e.g. *consoles* = hug + comforting words vs *hugs* and *reassures*): only the combination of
  modalities separates them. Prior weight by modality (visual, dialog, both) = {modality}.
- **Relationships shape interactions** (the paper's Fig. 2): `P(a | r) ~ prior(a) * exp({strength} * affinity(r, a))`
  with `r = rel(subject, object)`, e.g. enemies attack/threaten/chase, lovers kiss/confess, bosses order.
{clips_text}
- **Dialog.** The subject's sentences carry the class's cue with probability {cue:.2f}, another class's cue
  with {confusion:.2f}, otherwise a neutral line; the object replies in a second speaker turn ("- "); fillers,
  unrelated lines, sentences split over two cues with "..." and wrapped lines add noise.{relationship_dialog_text}
- **Face tracks.** One track per character and shot, with jitter ({jitter} px), missed frames ({miss:.2f}),
  tracker losses that split tracks, dropped short tracks (skipped ids), a whole character of a clip
  untracked with probability {missing_track:.2f}, extras labelled "other", false detections "no_face".
  Track names are the full name, the name with a non-breaking space, or one word of it.
- **Determinism.** Movie k is generated from `SeedSequence([seed, k])`; the same seed gives
  byte-identical annotations, subtitles and tracks. All difficulty knobs are fields of
  `pipeline.demo.knobs.DemoKnobs` (values in summary.json).

## Counts

| split | movies | clips | seconds | 16-frame windows | interactions | p2p instances | p2p w/o relationship | relationship pairs |
|---|---|---|---|---|---|---|---|---|
{split_rows}

Missing labels: {p2p_no_rel:.0%} of p2p instances have no relationship; {pairs_no_rel:.0%} of character pairs
have none; {no_track:.0%} of interacting characters have no face track in their clip.

Test set: {test_p2p} p2p instances (binomial 95% interval of an accuracy near 50%: +/-{test_p2p_ci:.1%}),
{test_pairs} relationship pairs (+/-{test_pairs_ci:.1%}).

Interaction classes (p2p instances, all splits):

{class_rows}
"""


SEQUENTIAL_TEXT = """- **Clips** (layout `sequential`). {on_lo}-{on_hi} characters on screen (chosen by importance, so main pairs
  recur across clips), 1-3 interactions of {min_int}-{max_int} s; an interaction overlaps the previous one with
  probability {overlap:.2f}; dialog-only interactions address two listeners with probability {one_to_many:.2f}.
  Every non-overlapping interaction starts a new shot (cut: new positions, new background crop).
  Characters that do not interact, and anonymous extras, walk around on their own."""

LANES_TEXT = """- **Clips** (layout `lanes`: several interactions at once, as in MovieGraphs). {on_lo}-{on_hi} characters on
  screen (chosen by importance, so main pairs recur across clips); a clip is {shots_lo}-{shots_hi} shots of 2 s
  (4 s with probability {long_shot:.2f}), back to back, so that every interaction covers whole 16-frame feature
  windows. In each shot 1 or 2 disjoint pairs (probabilities {lanes}) interact for the whole shot, each pair
  in its own part of the frame with its own face tracks: the clip-level visual and dialog vectors of the
  shot carry both pairs' cues, and only the pairs' track features tell which pair did what. A character
  left over listens to a dialog-only interaction with probability {one_to_many:.2f} (one-to-many); a
  symmetric interaction (hugs, kisses, walks with, dances with, disagrees with) is annotated in both
  directions with probability {bidirectional:.2f} (one instance, two samples, marked bidirectional). Every shot
  is a cut (new positions, new background crop). Characters not in a pair, and anonymous extras, walk
  around on their own."""


ADDRESS_TEXT = """
  With probability {address:.2f} a line of a labelled pair addresses the other by a vocative of their
  relationship instead of the name (lovers "honey", a child "Mom", a worker "sir", a parent "kiddo", ...;
  `vocabulary.ADDRESS_TERMS`): a little relationship evidence in each clip (mixed with the other pair's
  words in a two-pair shot), clearer over many clips of the pair."""

COUPLING_TEXT = """ With probability {coupling:.2f} a shot is
  all action or all talk, by its first pair's interaction: the other pair then draws from the visual-only
  and both-modality classes, or from the dialog-only and both-modality ones (scenes of one kind)."""


LINES_TEXT = """
  With probability {lines:.2f} the subject of a labelled pair's dialog interaction also says a line that
  reveals the relationship (a parent asks about homework, a boss wants the report, ...;
  `vocabulary.RELATIONSHIP_LINES`), in the cue of its first sentence."""


def relationship_dialog_text(knobs: DemoKnobs) -> str:
    """The README's sentences on relationship vocatives and lines (empty when both rates are 0)."""
    text = ADDRESS_TEXT.format(address=knobs.address_rate) if knobs.address_rate > 0 else ""
    if knobs.relationship_line_rate > 0:
        text += LINES_TEXT.format(lines=knobs.relationship_line_rate)
    return text


def clips_text(knobs: DemoKnobs) -> str:
    """The README's description of the clips of the knobs' layout."""
    if knobs.layout == "lanes":
        return LANES_TEXT.format(on_lo=knobs.min_on_screen, on_hi=knobs.max_on_screen,
                                 shots_lo=knobs.shots_per_clip[0], shots_hi=knobs.shots_per_clip[1],
                                 long_shot=knobs.long_shot_rate, lanes=tuple(knobs.lanes_per_shot),
                                 one_to_many=knobs.one_to_many_rate, bidirectional=knobs.bidirectional_rate) + (
            COUPLING_TEXT.format(coupling=knobs.lane_modality_coupling) if knobs.lane_modality_coupling > 0 else "")
    return SEQUENTIAL_TEXT.format(on_lo=knobs.min_on_screen, on_hi=knobs.max_on_screen,
                                  min_int=knobs.min_interaction_seconds, max_int=knobs.max_interaction_seconds,
                                  overlap=knobs.overlap_rate, one_to_many=knobs.one_to_many_rate)


def write_readme(path: Path, summary: dict[str, Any], knobs: DemoKnobs) -> None:
    rows = []
    for split in SPLITS:
        s = summary["splits"][split]
        rows.append(f"| {split} | {s['movies']} | {s['clips']} | {s['seconds']} | {s['windows_16']} | "
                    f"{s['interaction_count']} | {s['p2p_instances']} | {s['p2p_without_relationship']} | "
                    f"{s['relationship_pairs']} |")
    by_class = summary["totals"]["p2p"]
    class_rows = ", ".join(f"{c.name} ({c.modality}) {by_class.get(c.name, 0)}" for c in INTERACTION_CLASSES)
    test = summary["test_set"]
    text = README_TEMPLATE.format(
        size=summary["size"], seed=summary["seed"], width=summary["video"]["frame_size"][0],
        height=summary["video"]["frame_size"][1], fps=summary["video"]["fps"],
        n_fine=summary["classes"]["interactions_fine"], n_merged=summary["classes"]["interactions_merged"],
        min_chars=knobs.min_characters, max_chars=knobs.max_characters,
        missing_rel=knobs.missing_relationship_rate, modality=tuple(knobs.modality_weights),
        strength=knobs.relationship_strength, clips_text=clips_text(knobs), cue=knobs.dialog_cue_rate,
        confusion=knobs.dialog_confusion_rate, relationship_dialog_text=relationship_dialog_text(knobs), jitter=knobs.face_jitter_px, miss=knobs.detection_miss_rate,
        missing_track=knobs.missing_track_rate, split_rows="\n".join(rows),
        p2p_no_rel=summary["missing"]["p2p_without_relationship"],
        pairs_no_rel=summary["missing"]["unordered_pairs_without_relationship"],
        no_track=summary["missing"]["participants_without_track"],
        test_p2p=test["p2p_instances"], test_p2p_ci=test["p2p_ci95_half_width_at_50"] or 0.0,
        test_pairs=test["relationship_pairs"],
        test_pairs_ci=test["relationship_pairs_ci95_half_width_at_50"] or 0.0,
        class_rows=class_rows)
    write_text_atomic(path, text)


def _read_frame(path: Path, index: int) -> np.ndarray | None:
    capture = cv2.VideoCapture(str(path))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
        return frame if ok else None
    finally:
        capture.release()


def render_contact_sheet(path: Path, layout: DatasetLayout, graphs: dict[str, MovieGraph], movie: str,
                         panels: int = 6, scale: int = 2) -> None:
    """Frames of ``movie`` read back from the written files, with the person boxes derived from the
    face tracks (LIReC's face->person expansion), track names and the clip's interaction labels."""
    names = load_track_names(layout.ftrack_ids_file(movie))
    images = []
    for clip in list(graphs[movie].clip_graphs.values())[:panels]:
        clip_name = clip.clip_name
        interactions = clip.nodes_of_type("interaction")
        start, end = clip.time_span(interactions[0]) or (0.0, 1.0)
        fps = cv2.VideoCapture(str(layout.video(movie, clip_name))).get(cv2.CAP_PROP_FPS) or 8.0
        frame_index = int((start + end) / 2 * fps)
        frame = _read_frame(layout.video(movie, clip_name), frame_index)
        if frame is None:
            continue
        image = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        tracks = load_clip_tracks(layout.ftracks_file(movie, clip_name), names.get(clip_name, []) or None)
        for track in tracks:
            near = [d for d in track.detections if abs(d.frame - frame_index) <= 1]
            if not near:
                continue
            d = near[0]
            x0, y0, x1, y1 = face_to_person_box(d.x, d.y, d.w, d.h, FACE)
            cv2.rectangle(image, (int(x0 * scale), int(y0 * scale)), (int(x1 * scale), int(y1 * scale)),
                          (255, 255, 255), 1)
            cv2.rectangle(image, (int(d.x * scale), int(d.y * scale)),
                          (int((d.x + d.w) * scale), int((d.y + d.h) * scale)), (0, 255, 255), 1)
            cv2.putText(image, str(track.name).replace("\xa0", " "), (int(x0 * scale), max(10, int(y0 * scale) - 3)),
                        cv2.FONT_HERSHEY_PLAIN, 0.8, (255, 255, 255), 1)
        captions = [clip_name]
        for node in interactions:
            subject = [clip.nodes[u].name for u in clip.predecessors(node) if clip.nodes[u].type == "entity"]
            objects = [clip.nodes[v].name for v in clip.successors(node) if clip.nodes[v].type == "entity"]
            span = clip.time_span(node)
            captions.append(f"{', '.join(subject)} {clip.nodes[node].name} {', '.join(objects)} "
                            f"[{span[0]:g}-{span[1]:g}s]" if span else clip.nodes[node].name)
        panel = np.zeros((image.shape[0] + 14 * len(captions) + 4, image.shape[1], 3), np.uint8)
        panel[:image.shape[0]] = image
        for k, line in enumerate(captions):
            cv2.putText(panel, line, (3, image.shape[0] + 12 + 14 * k), cv2.FONT_HERSHEY_PLAIN, 0.8,
                        (255, 255, 255) if k else (160, 200, 255), 1)
        images.append(panel)
    if not images:
        raise RuntimeError(f"contact sheet: no frame could be read for movie {movie}")
    height = max(i.shape[0] for i in images)
    images = [np.pad(i, ((0, height - i.shape[0]), (0, 0), (0, 0))) for i in images]
    while len(images) % 3:
        images.append(np.zeros_like(images[0]))
    rows = [np.hstack(images[k:k + 3]) for k in range(0, len(images), 3)]
    sheet = np.vstack(rows)
    ok, encoded = cv2.imencode(".png", sheet)
    if not ok:
        raise RuntimeError("contact sheet: PNG encoding failed")
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(encoded.tobytes())
