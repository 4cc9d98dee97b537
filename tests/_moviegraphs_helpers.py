"""Builders of tiny MovieGraphs clip graphs and label files for the annotation tests."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.moviegraphs import ClipGraph, GraphNode, MovieGraph


@dataclass
class ClipSpec:
    """A clip described by names: entities, interactions and relationships between them.

    ``interactions``: ``(subjects, fine name, objects, (start, end) or None)``; subjects/objects are
    entity names or lists of names (one-to-many). ``node_type`` of an interaction may be given as a
    fifth element (default ``"interaction"``; ``"summary"``, ``"action"``).
    ``relationships``: ``(subject, fine relationship name, object)``.
    """

    sid: int
    entities: list[str]
    interactions: list[tuple] = field(default_factory=list)
    relationships: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def clip_name(self) -> str:
        return f"scene-{self.sid + 1:03d}.ss-{self.sid + 1:04d}.es-{self.sid + 1:04d}"


def _as_list(names: str | list[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def build_clip(movie: str, spec: ClipSpec, castlist: list[dict] | None = None) -> ClipGraph:
    nodes: dict[int, GraphNode] = {}
    edges: list[tuple[int, int]] = []

    def add(node_type: str, name: str, **attrs) -> int:
        node_id = len(nodes)
        nodes[node_id] = GraphNode(node_id, node_type, name, {"origtext": name, "pos": (float(node_id), 0.0), **attrs})
        return node_id

    cast_names = [c["name"] for c in castlist or []]
    entity_ids = {}
    for name in spec.entities:
        index = cast_names.index(name) if name in cast_names else len(cast_names)
        entity_ids[name] = add("entity", name, node_id=index,
                               chid=castlist[index]["chid"] if index < len(cast_names) else "---")
    for item in spec.interactions:
        subjects, fine, objects, span = item[:4]
        node_type = item[4] if len(item) > 4 else "interaction"
        inter = add(node_type, fine)
        edges += [(entity_ids[s], inter) for s in _as_list(subjects)]
        edges += [(inter, entity_ids[o]) for o in _as_list(objects)]
        if span is not None:
            start, end = span
            time = add("time", f"{start}-{end}", start=start, end=end)
            edges.append((inter, time))
    for subject, fine, obj in spec.relationships:
        rel = add("relationship", fine)
        edges += [(entity_ids[subject], rel), (rel, entity_ids[obj])]
    nodes[-1] = GraphNode(-1, "situation", "test situation", {"origtext": "test situation", "pos": (0, 0)})
    order = {node_id: k for k, node_id in enumerate(nodes)}
    edges.sort(key=lambda edge: order[edge[0]])   # networkx adjacency order: grouped by source node
    return ClipGraph(movie=movie, fnames=[spec.clip_name + ".mp4"], scenes=[spec.sid + 1], ss=spec.sid + 1,
                     es=spec.sid + 1, situation="test situation", scene_label="office",
                     description="a test clip", nodes=nodes, edges=edges)


def build_movie(movie: str, specs: list[ClipSpec]) -> MovieGraph:
    names = sorted({name for spec in specs for name in spec.entities})
    castlist = [{"chid": f"ch{k:07d}", "name": name, "importance": k} for k, name in enumerate(names)]
    return MovieGraph(imdb_key=movie, castlist=castlist,
                      clip_graphs={spec.sid: build_clip(movie, spec, castlist) for spec in specs})


# Label files in LIReC's formats, small enough to read in a test.
INTERACTIONS = {          # merged class -> fine names (merged id = position)
    "talk": ["talks to", "speaks with", "explains to"],
    "greet": ["greets", "waves at"],
    "hug": ["hugs"],
    "watch": ["watches", "looks at"],
}
RELATIONSHIPS = {         # fine relationship -> class
    "friend": "friend", "best friend": "friend", "boss": "boss", "manager": "boss",
    "worker": "worker", "employee": "worker", "stranger": "stranger",
}
OPPOSITES = [("friend", "friend"), ("boss", "worker"), ("worker", "boss"), ("stranger", "stranger")]


def write_label_texts(folder: Path) -> tuple[Path, Path, Path]:
    """Write the three label files into ``folder`` (LIReC formats); return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    interactions = folder / "merged_interactions.txt"
    interactions.write_text("".join("\t".join([m, *fines]) + "\n" for m, fines in INTERACTIONS.items()))
    relationships = folder / "relships_many2_15.txt"
    relationships.write_text("".join(f"{fine} {cls}\n" for fine, cls in RELATIONSHIPS.items()))
    opposite = folder / "relships_15_opp.txt"
    opposite.write_text("".join(f"{a} {b}\n" for a, b in OPPOSITES))
    return interactions, relationships, opposite
