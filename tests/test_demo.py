"""The demo generator's invariants on the tiny size (and plan-only statistics of its model)."""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace

import numpy as np
import pytest

from pipeline.demo import generate as demo_generate
from pipeline.demo.__main__ import main as demo_main
from pipeline.demo.knobs import DemoKnobs
from pipeline.demo.sizes import demo_movie_ids, demo_size
from pipeline.demo.vocabulary import ADDRESS_TERMS, INTERACTION_CLASSES, RELATIONSHIP_LINES, OPPOSITE_RELATIONSHIP, RELATIONSHIP_CLASSES
from pipeline.labels import LabelMaps
from pipeline.moviegraphs import load_moviegraphs
from pipeline.subtitles import read_subtitles
from pipeline.tracks import (
    NON_CHARACTER_LABELS, PersonBoxRatios, canonical_name, face_to_person_box, load_clip_tracks, load_track_names,
    track_matches_character,
)
from tests._demo_helpers import (
    demo_config, layout_of, planned_movies, release_bytes, tiny_demo, tracks_of_plans,
)

TINY = demo_size("tiny")


@pytest.fixture(scope="module")
def demo_base(tmp_path_factory):
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="module")
def demo(demo_base):
    """(root, summary, layout, graphs) of the tiny demo with seed 7."""
    root, summary = tiny_demo(demo_base, 7)
    layout = layout_of(root)
    return root, summary, layout, load_moviegraphs(layout.annotations)


def _clips(graphs):
    for movie, graph in graphs.items():
        for sid, clip in graph.clip_graphs.items():
            yield movie, sid, clip


def test_layout_and_split_follow_the_release(demo):
    root, summary, layout, graphs = demo
    for name in ("README.md", "summary.json", "contact_sheet.png"):
        assert (root / name).stat().st_size > 0
    split_text = layout.split.read_text(encoding="utf-8")
    assert split_text.startswith('{\n\t"train": [\n\t\t"dm0001"')      # tab-indented as the release
    assert json.loads(split_text) == demo_movie_ids("tiny")
    assert sorted(graphs) == sorted(m for ms in demo_movie_ids("tiny").values() for m in ms)
    for movie, _, clip in _clips(graphs):
        assert clip.movie == movie and len(clip.fnames) == 1
        assert layout.video(movie, clip.clip_name).is_file()
        assert layout.ftracks_file(movie, clip.clip_name).is_file()
        assert layout.subtitles_file(movie, clip.clip_name).read_text().startswith("WEBVTT\n\n")
        scene, ss, es = clip.clip_name.split(".")
        assert scene == f"scene-{clip.scenes[0]:03d}" and ss == f"ss-{clip.ss:04d}" and es == f"es-{clip.es:04d}"
        assert clip.ss <= clip.es
    assert not list(root.parent.glob(".*.tmp-*")), "staging folder left behind"


def test_same_seed_is_byte_identical_and_another_seed_differs(demo, demo_base, tmp_path):
    root, *_ = demo
    again = tmp_path / "again"
    config = demo_config(again)
    demo_generate.generate_dataset(again, config["dataset"], "tiny", 7, DemoKnobs(), workers=2)
    first, second = release_bytes(root), release_bytes(again)
    assert first.keys() == second.keys() and len(first) > 10
    assert first == second
    other_root, _ = tiny_demo(demo_base, 8)
    other = release_bytes(other_root)
    assert other["py3loader/all_movies.pkl"] != first["py3loader/all_movies.pkl"]
    changed = [k for k in first if k.startswith(("clip_srt", "ftracks")) and other.get(k) != first[k]]
    assert changed


def test_labels_are_consistent_with_the_map_files(demo):
    _, _, layout, graphs = demo
    maps = LabelMaps.from_layout(layout)
    assert maps.relationships == list(RELATIONSHIP_CLASSES)
    assert maps.num_interactions == len(INTERACTION_CLASSES)
    assert 20 <= maps.num_interactions <= 30 and 35 <= len(maps.fine_to_merged) <= 55
    seen_fine = set()
    for _, _, clip in _clips(graphs):
        for node_id, node in clip.nodes.items():
            if node.type == "interaction":
                assert maps.interaction_of(node.name) is not None, node.name
                seen_fine.add(node.name)
                subjects = [u for u in clip.predecessors(node_id) if clip.nodes[u].type == "entity"]
                objects = [v for v in clip.successors(node_id) if clip.nodes[v].type == "entity"]
                assert len(subjects) == 1 and 1 <= len(objects) <= 2
                assert clip.time_span(node_id) is not None
            elif node.type == "relationship":
                assert maps.relationship_of(node.name) is not None, node.name
            elif node.type == "summary":
                assert maps.interaction_of(node.name) is None   # not an interaction label
    assert len(seen_fine) >= 5


def test_relationships_have_consistent_opposites_and_are_stable(demo):
    _, _, layout, graphs = demo
    maps = LabelMaps.from_layout(layout)
    for movie, graph in graphs.items():
        pair_class: dict[tuple[str, str], int] = {}
        for clip in graph.clip_graphs.values():
            for node_id, node in clip.nodes.items():
                if node.type != "relationship":
                    continue
                (a,) = [clip.nodes[u].name for u in clip.predecessors(node_id)]
                (b,) = [clip.nodes[v].name for v in clip.successors(node_id)]
                cls = maps.relationship_of(node.name)
                assert pair_class.setdefault((a, b), cls) == cls, f"{movie}: {a}->{b} changes relationship"
        assert pair_class
        for (a, b), cls in pair_class.items():
            if (b, a) in pair_class:
                assert pair_class[(b, a)] == maps.opposite[cls]
    assert all(OPPOSITE_RELATIONSHIP[OPPOSITE_RELATIONSHIP[r]] == r for r in RELATIONSHIP_CLASSES)


def test_track_names_match_exactly_one_character_of_the_clip(demo):
    _, _, layout, graphs = demo
    named = 0
    for movie, graph in graphs.items():
        names = load_track_names(layout.ftrack_ids_file(movie))
        for clip in graph.clip_graphs.values():
            cast = [n.name for n in clip.nodes.values() if n.type == "entity"]
            for label in names.get(clip.clip_name, []):
                matches = [c for c in cast if track_matches_character(label, c)]
                if canonical_name(label) in NON_CHARACTER_LABELS:
                    assert not matches
                else:
                    assert len(matches) == 1, (label, cast)
                    named += 1
    assert named > 0


def test_tracks_lie_inside_the_frames_and_map_onto_person_boxes(demo):
    _, _, layout, graphs = demo
    width, height = TINY.frame_size
    for movie, _, clip in _clips(graphs):
        path = layout.ftracks_file(movie, clip.clip_name)
        payload = json.loads(path.read_text())
        n_frames = len(payload["frame2ftracks"])
        assert n_frames % TINY.fps == 0
        for position, track in enumerate(payload["ftracks"]):
            assert list(track[0]) == ["timestamp", "frame", "ftrack_id", "w", "h", "y", "x"]
            for det in track:
                assert 0 <= det["frame"] < n_frames and position in payload["frame2ftracks"][det["frame"]]
                assert det["timestamp"] == pytest.approx(det["frame"] / TINY.fps, abs=1e-4)
                assert det["x"] >= 0 and det["y"] >= 0 and det["w"] > 0 and det["h"] > 0
                assert det["x"] + det["w"] <= width + 1e-6 and det["y"] + det["h"] <= height + 1e-6
                x0, y0, x1, y1 = face_to_person_box(det["x"], det["y"], det["w"], det["h"], PersonBoxRatios.defaults())
                assert -4 <= x0 and x1 <= width + 4 and -4 <= y0 and y1 <= height + 6
        assert sum(len(f) for f in payload["frame2ftracks"]) == sum(len(t) for t in payload["ftracks"])
        ids = [t[0]["ftrack_id"] for t in payload["ftracks"]]
        assert ids == sorted(set(ids))
        load_clip_tracks(path)    # the pipeline's reader accepts it


def test_face_boxes_expand_exactly_to_the_drawn_person_boxes():
    knobs = DemoKnobs(face_jitter_px=0.0, missing_track_rate=0.0, detection_miss_rate=0.0)
    checked = 0
    for _, _, figures, chor, tracks in tracks_of_plans(planned_movies(1, knobs, "tiny"), knobs, "tiny"):
        boxes = chor.person_boxes(figures)
        for track in tracks:
            if track.figure is None:
                continue
            for frame, x, y, w, h in track.detections:
                px, py, pw, ph = boxes[track.figure, frame]
                if px < 0 or py < 0:   # the face is clamped into the frame only when the box leaves it
                    continue
                assert face_to_person_box(x, y, w, h, PersonBoxRatios.defaults()) == pytest.approx(
                    (px, py, px + pw, py + ph), abs=1e-6)
                checked += 1
    assert checked > 100


def test_subtitles_and_time_nodes_lie_inside_the_clips(demo):
    _, _, layout, graphs = demo
    turns = 0
    for movie, _, clip in _clips(graphs):
        duration = len(json.loads(layout.ftracks_file(movie, clip.clip_name).read_text())["frame2ftracks"]) / TINY.fps
        for cue in read_subtitles(layout.subtitles_file(movie, clip.clip_name)):
            assert 0 <= cue.start < cue.end <= duration
        turns += layout.subtitles_file(movie, clip.clip_name).read_text().count("\n- ")
        for node in clip.nodes.values():
            if node.type == "time":
                assert 0 <= node.attrs["start"] < node.attrs["end"] <= duration
                assert node.name == f"0:{node.attrs['start']:02d}-0:{node.attrs['end']:02d}"
    assert turns > 0


def test_decord_reads_the_videos_with_the_expected_frames(demo):
    import decord

    _, _, layout, graphs = demo
    for movie, _, clip in list(_clips(graphs))[:6]:
        n_frames = len(json.loads(layout.ftracks_file(movie, clip.clip_name).read_text())["frame2ftracks"])
        reader = decord.VideoReader(str(layout.video(movie, clip.clip_name)))
        assert len(reader) == n_frames
        assert reader.get_avg_fps() == pytest.approx(TINY.fps)
        frame = reader[n_frames // 2].asnumpy()
        assert frame.shape == (TINY.frame_size[1], TINY.frame_size[0], 3)
        assert frame.std() > 10          # not a blank frame


def test_missing_tracks_and_relationships_have_the_release_rates():
    plans = planned_movies(12)
    pairs = sum(len(p.characters) * (len(p.characters) - 1) // 2 for p in plans)
    unlabelled = pairs - sum(len(p.relationships) for p in plans) // 2
    assert 0.23 <= unlabelled / pairs <= 0.43
    with_track = without_track = 0
    for plan, clip, figures, _, tracks in tracks_of_plans(plans[:4]):
        tracked = {figures[t.figure].character for t in tracks if t.figure is not None}
        for inter in clip.interactions:
            for character in inter.participants:
                with_track += character in tracked
                without_track += character not in tracked
    assert 0.17 <= without_track / (with_track + without_track) <= 0.35


def test_sequential_layout_has_the_needed_structure():
    """The sequential layout (tiny's): 1-3 interactions per clip, some overlapping, some one-to-many."""
    plans = planned_movies(12, DemoKnobs())
    modality, overlaps, one_to_many = defaultdict(int), 0, 0
    clips_of_pair = defaultdict(set)
    for plan in plans:
        for clip in plan.clips:
            assert TINY.min_clip_seconds <= clip.duration <= demo_size("default").max_clip_seconds
            assert 2 <= len(clip.on_screen) <= 4 and 1 <= len(clip.interactions) <= 3
            for k, inter in enumerate(clip.interactions):
                modality[inter.cls.modality] += 1
                one_to_many += len(inter.objects) > 1
                overlaps += any(o.start < inter.end and inter.start < o.end
                                for o in clip.interactions[k + 1:])
                assert 0 <= inter.start < inter.end <= clip.duration
                for obj in inter.objects:
                    clips_of_pair[(plan.movie, inter.subject, obj)].add(clip.sid)
    assert all(modality[m] > 0.15 * sum(modality.values()) for m in ("visual", "dialog", "both"))
    assert overlaps > 0 and one_to_many > 0
    assert max(len(c) for c in clips_of_pair.values()) >= 5   # main pairs recur (relationship context)


def test_lanes_layout_has_the_needed_structure():
    """The default preset's lanes: shots of whole 2-s windows, disjoint pairs side by side, both directions."""
    plans = planned_movies(12)
    knobs = DemoKnobs.for_size(demo_size("default"))
    assert knobs.layout == "lanes"
    modality, two_lanes, shots, one_to_many, bidirectional = defaultdict(int), 0, 0, 0, 0
    clips_of_pair = defaultdict(set)
    samples = windows = 0
    for plan in plans:
        for clip in plan.clips:
            assert knobs.min_on_screen <= len(clip.on_screen) <= knobs.max_on_screen
            by_shot = defaultdict(list)
            for inter in clip.interactions:
                assert inter.start % 2 == 0 and inter.end - inter.start in (2, 4) and inter.end <= clip.duration
                by_shot[inter.start].append(inter)
            assert [s for s in sorted(by_shot)] == [int(s) for s in clip.shot_starts]
            for shot in by_shot.values():
                shots += 1
                assert len({i.end for i in shot}) == 1          # a shot's interactions span the whole shot
                mutual = {(i.subject, i.objects[0]) for i in shot} & {(i.objects[0], i.subject) for i in shot}
                bidirectional += len(mutual) // 2
                lanes = [i for i in shot if (i.objects[0], i.subject) not in mutual or i.subject < i.objects[0]]
                two_lanes += len(lanes) == 2
                people = [c for i in lanes for c in i.participants]
                assert len(people) == len(set(people))           # the lanes' pairs are disjoint
            windows += clip.duration // 2
            for inter in clip.interactions:
                modality[inter.cls.modality] += 1
                one_to_many += len(inter.objects) > 1
                samples += len(inter.objects)
                for obj in inter.objects:
                    clips_of_pair[(plan.movie, inter.subject, obj)].add(clip.sid)
    assert all(modality[m] > 0.15 * sum(modality.values()) for m in ("visual", "dialog", "both"))
    assert two_lanes > 0.7 * shots and one_to_many > 0 and bidirectional > 0
    assert samples > 2 * windows                                   # several samples per feature window
    assert max(len(c) for c in clips_of_pair.values()) >= 5


def _lane_kinds(plans):
    """Per two-pair shot of lanes plans: the set of modalities of its pairs' interactions."""
    for plan in plans:
        for clip in plan.clips:
            by_shot = defaultdict(dict)
            for inter in clip.interactions:
                by_shot[inter.start][frozenset((inter.subject, inter.objects[0]))] = inter.cls.modality
            yield from (set(pairs.values()) for pairs in by_shot.values() if len(pairs) == 2)


def test_lane_modality_coupling_makes_action_and_talk_shots():
    """Coupled shots never mix a visual-only with a dialog-only pair; uncoupled ones do."""
    base = DemoKnobs.for_size(demo_size("default"))
    coupled = [kinds for kinds in _lane_kinds(planned_movies(8, replace(base, lane_modality_coupling=1.0)))]
    free = [kinds for kinds in _lane_kinds(planned_movies(8, replace(base, lane_modality_coupling=0.0)))]
    assert len(coupled) > 100 and len(free) > 100
    assert not any({"visual", "dialog"} <= kinds for kinds in coupled)
    assert sum({"visual", "dialog"} <= kinds for kinds in free) > 0.15 * len(free)
    assert sum(kinds == {"visual"} for kinds in coupled) > 1.25 * sum(kinds == {"visual"} for kinds in free)


def _addressed_lines(plans):
    """(rel(speaker, addressee) or None, the subject's first line) of every dialog interaction."""
    for plan in plans:
        for clip in plan.clips:
            for inter in clip.interactions:
                if inter.cls.dialog is None:
                    continue
                window = [c for c in clip.cues if inter.start <= c.start < inter.end]
                text = " ".join(" ".join(cue.lines) for cue in window).lower()
                yield plan.relationship(inter.subject, inter.objects[0]), text


def test_vocatives_tell_the_relationship_of_the_addressed_pair():
    """With address_rate the dialog of a labelled pair uses its relationship's vocatives; at 0 it never
    adds them (the tiny demo's dialog is unchanged)."""
    base = replace(DemoKnobs.for_size(demo_size("default")), relationship_line_rate=0.0)
    terms = {rel: [t.lower() for t in words] for rel, words in ADDRESS_TERMS.items()}

    def says(text, rel):
        return any(f", {term}" in text or f"{term}," in text or f"{term}." in text or f"{term}!" in text
                   for term in terms[rel])

    lines = list(_addressed_lines(planned_movies(30, replace(base, address_rate=0.5))))
    for rel in ("lover", "child", "worker"):
        with_terms = [says(text, rel) for r, text in lines if r == rel]
        others = [says(text, rel) for r, text in lines if r not in (rel, None, "boss", "manager", "customer")]
        assert len(with_terms) > 20 and np.mean(with_terms) > 0.3, rel
        assert np.mean(others) < 0.1, rel
    plain = [says(text, "lover") or says(text, "child")
             for _, text in _addressed_lines(planned_movies(20, replace(base, address_rate=0.0)))]
    assert not any(plain)


def test_relationship_lines_are_said_by_labelled_pairs_only():
    """relationship_line_rate: a dialog interaction of a labelled pair carries a line of its relationship,
    and a shot's lines are all of relationships of pairs talking in it."""
    knobs = replace(DemoKnobs.for_size(demo_size("default")), relationship_line_rate=1.0)
    lines = {line.lower().rstrip(".!?"): rel for rel, said in RELATIONSHIP_LINES.items() for line in said}
    own, shots = [], 0
    for plan in planned_movies(10, knobs):
        for clip in plan.clips:
            for start in {inter.start for inter in clip.interactions}:
                talking = [i for i in clip.interactions if i.start == start and i.cls.dialog is not None]
                text = " ".join(" ".join(c.lines) for c in clip.cues if start <= c.start < talking[0].end).lower() \
                    if talking else ""
                rels = {plan.relationship(i.subject, i.objects[0]) for i in talking} - {None}
                assert {rel for line, rel in lines.items() if line in text} <= rels
                own += [any(line in text for line, r in lines.items() if r == rel) for rel in rels]
                shots += 1
    assert shots > 200 and len(own) > 100 and np.mean(own) > 0.9


def test_presets_set_knob_defaults_that_the_config_overrides():
    default = demo_size("default")
    assert DemoKnobs.for_size(demo_size("tiny")) == DemoKnobs()          # tiny keeps the plain defaults
    knobs = DemoKnobs.for_size(default)
    assert knobs.layout == "lanes" and knobs.as_dict().items() >= dict(default.knobs).items()
    assert DemoKnobs.for_size(default, {"layout": "sequential"}).layout == "sequential"
    assert DemoKnobs.for_size(default, {"lanes_per_shot": [1.0, 0.0]}).lanes_per_shot == (1.0, 0.0)
    with pytest.raises(ValueError, match="layout must be one of"):
        DemoKnobs.for_size(default, {"layout": "grid"})
    config = demo_config("data/demo")
    config["demo"] = {"size": "default", "seed": 7, "knobs": {"bidirectional_rate": 0.0}}
    settings = demo_generate.DemoSettings.from_config(config)
    assert settings.knobs.layout == "lanes" and settings.knobs.bidirectional_rate == 0.0


def test_relationships_shape_interactions():
    """Interactions of enemies and of lovers differ (the paper's Fig. 2 correlation)."""
    plans = planned_movies(30)
    by_rel: dict[str, defaultdict] = {"enemy": defaultdict(int), "lover": defaultdict(int)}
    for plan in plans:
        for clip in plan.clips:
            for inter in clip.interactions:
                rel = plan.relationship(inter.subject, inter.objects[0])
                if rel in by_rel:
                    by_rel[rel][inter.merged] += 1
    enemy, lover = by_rel["enemy"], by_rel["lover"]
    assert sum(enemy.values()) > 20 and sum(lover.values()) > 20
    hostile = ("attacks", "hits", "threatens")
    tender = ("kisses", "hugs", "confesses to")
    assert sum(enemy[a] for a in hostile) / sum(enemy.values()) > 2 * sum(lover[a] for a in hostile) / sum(lover.values())
    assert sum(lover[a] for a in tender) / sum(lover.values()) > 2 * sum(enemy[a] for a in tender) / sum(enemy.values())


def test_annotation_stage_reads_the_demo(demo, tmp_path):
    import pandas as pd

    from pipeline import annotations

    root, summary, layout, _ = demo
    config = demo_config(root)
    annotations.run(annotations.AnnotationSettings.from_config(config), tmp_path)
    rows = pd.concat([pd.read_parquet(p) for p in sorted(tmp_path.glob("*.parquet"))])
    assert len(rows) == summary["totals"]["p2p_instances"]
    assert rows["relationship"].notna().sum() >= summary["totals"]["p2p_with_relationship"]


def test_knobs_are_validated_and_the_cli_exits_2_on_bad_settings(tmp_path, caplog):
    with pytest.raises(ValueError, match="unknown demo knob"):
        DemoKnobs.from_overrides({"no_such_knob": 1})
    with pytest.raises(ValueError, match="probability"):
        DemoKnobs(missing_track_rate=1.5)
    assert DemoKnobs.from_overrides({"cue_sentences": [1, 2]}).cue_sentences == (1, 2)
    settings = json.dumps({"demo": {"size": "tiny", "knobs": {"no_such_knob": 1}},
                           "dataset": {"root": str(tmp_path / "demo")}})
    assert demo_main(["--settings", settings]) == 2
    assert not (tmp_path / "demo").exists()


def test_a_failure_leaves_no_partial_dataset(tmp_path, monkeypatch):
    root = tmp_path / "demo"
    root.mkdir()
    (root / "old.txt").write_text("previous dataset")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("pipeline.demo.report.render_contact_sheet", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        demo_generate.generate_dataset(root, demo_config(root)["dataset"], "tiny", 7, DemoKnobs())
    assert [p.name for p in root.iterdir()] == ["old.txt"]
    assert not list(tmp_path.glob(".demo.tmp-*"))


def test_summary_reports_test_set_sizes_with_intervals(demo):
    _, summary, _, _ = demo
    test = summary["test_set"]
    assert test["p2p_instances"] == summary["splits"]["test"]["p2p_instances"] > 0
    assert test["p2p_ci95_half_width_at_50"] == pytest.approx(1.96 * np.sqrt(0.25 / test["p2p_instances"]), abs=1e-4)
    assert summary["totals"]["windows_16"] < 100                 # tiny stays tiny
    assert set(summary["knobs"]) == set(DemoKnobs().as_dict())
