"""A movie's social graph from its predictions (the paper's Fig. 1): characters, relationships, interactions.

:func:`social_graph` turns the predictions of :mod:`model.predict` into ``graph.json`` (schema in
docs/architecture.md, "Prediction outputs"): one node per character that has face tracks (screen
time from the tracks), one directed edge per ordered pair that shares a clip (the pair's predicted
relationship with its confidence) and, per edge, the pair's interactions over time: the clips
whose joint answer (argmax of the pair x interaction (x relationship) tensor) is that pair.
:func:`draw_graph` draws it with matplotlib (``graph.png``): characters on a circle, sized by
screen time; an arrow for every pair that interacts, coloured by its relationship.
"""
from __future__ import annotations

import io
import math
from typing import Any

GRAPH_SCHEMA = "lirec-social-graph/1"


def _hex(rgb: tuple[float, ...]) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in rgb[:3])


def _palette(name: str) -> list[str]:
    import matplotlib

    return [_hex(colour) for colour in matplotlib.colormaps[name].colors]


def relationship_colors(relationships: list[str]) -> dict[str, str]:
    """One colour per relationship class, by class index (the same in every movie)."""
    palette = _palette("tab20")
    return {name: palette[k % len(palette)] for k, name in enumerate(relationships)}


def character_colors(characters: list[str]) -> dict[str, str]:
    """One colour per character, in the given order (most screen time first); not the relationships'."""
    palette = _palette("Dark2")
    return {name: palette[k % len(palette)] for k, name in enumerate(characters)}


def social_graph(predictions: dict[str, Any], screen_time: dict[str, float]) -> dict[str, Any]:
    """``graph.json`` of a movie from its ``predictions.json`` content and per-character screen time (s)."""
    clips = predictions["clips"]
    appearances: dict[str, int] = {}
    for clip in clips:
        for name in clip["characters"]:
            appearances[name] = appearances.get(name, 0) + 1
    order = sorted(set(appearances) | set(screen_time), key=lambda name: (-screen_time.get(name, 0.0), name))
    colors = character_colors(order)
    nodes = [{"id": name, "screen_time": round(screen_time.get(name, 0.0), 3), "clips": appearances.get(name, 0),
              "color": colors[name]} for name in order]
    interactions: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for clip in clips:
        joint = clip["joint"]
        if joint.get("subject") and joint.get("object") and joint.get("interaction") is not None:
            interactions.setdefault((joint["subject"], joint["object"]), []).append(
                {"clip": clip["clip"], "start": clip["start"], "end": clip["end"],
                 "interaction": joint["interaction"], "score": joint["score"]})
    edges = []
    for pair in predictions["pairs"]:
        key = (pair["subject"], pair["object"])
        edges.append({"source": key[0], "target": key[1], "relationship": pair["relationship"],
                      "confidence": pair["confidence"], "clips": len(pair["clips"]),
                      "interactions": interactions.get(key, [])})
    classes = predictions["model"]["relationships"]
    return {"schema": GRAPH_SCHEMA, "movie": predictions["movie"], "experiment": predictions["model"]["experiment"],
            "nodes": nodes, "edges": edges,
            "relationship_colors": relationship_colors(classes) if classes else {}}


def drawn_edges(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """The edges the pictures show: pairs with at least one interaction."""
    return [edge for edge in graph["edges"] if edge["interactions"]]


def draw_graph(graph: dict[str, Any], title: str) -> bytes:
    """The graph as a PNG (bytes): nodes on a circle, arrows coloured by relationship."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    nodes = graph["nodes"]
    fig, ax = plt.subplots(figsize=(7.5, 6.5), dpi=100)
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.45, 1.45)
    ax.set_title(title, fontsize=11)
    total = sum(node["screen_time"] for node in nodes) or 1.0
    position, radius = {}, {}
    for k, node in enumerate(nodes):  # most screen time at the top, clockwise
        angle = math.pi / 2 - 2 * math.pi * k / max(len(nodes), 1)
        position[node["id"]] = (math.cos(angle), math.sin(angle)) if len(nodes) > 1 else (0.0, 0.0)
        radius[node["id"]] = 0.08 + 0.17 * math.sqrt(node["screen_time"] / total)
    ax.apply_aspect()
    points_per_unit = (ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0]) * 72 / fig.dpi
    colors = graph["relationship_colors"]
    used = []
    for edge in drawn_edges(graph):
        source, target = position[edge["source"]], position[edge["target"]]
        color = colors.get(edge["relationship"], "#444444")
        ax.add_patch(FancyArrowPatch(source, target, connectionstyle="arc3,rad=0.18", arrowstyle="-|>",
                                     mutation_scale=16, linewidth=1.2 + 3.0 * (edge["confidence"] or 0.0),
                                     color=color, shrinkA=points_per_unit * radius[edge["source"]],
                                     shrinkB=points_per_unit * radius[edge["target"]], zorder=1))
        # label near the middle of the arc, on the side the arc bends to
        mx, my = (source[0] + target[0]) / 2, (source[1] + target[1]) / 2
        dx, dy = target[0] - source[0], target[1] - source[1]
        ax.text(mx + 0.09 * dy, my - 0.09 * dx, f"{edge['relationship']} {edge['confidence']:.2f}", fontsize=7,
                color=color, ha="center", va="center", zorder=3,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
        if edge["relationship"] not in used:
            used.append(edge["relationship"])
    for node in nodes:  # labels outside the circle of nodes, away from the arrows
        x, y = position[node["id"]]
        ax.add_patch(plt.Circle((x, y), radius[node["id"]], color=node["color"], zorder=2))
        norm = math.hypot(x, y) or 1.0
        ux, uy = (x / norm, y / norm) if len(nodes) > 1 else (0.0, -1.0)
        offset = radius[node["id"]] + 0.05
        ax.text(x + ux * offset, y + uy * offset, f"{node['id'].title()}\n{node['screen_time']:.0f} s on screen",
                ha="center" if abs(ux) < 0.35 else ("left" if ux > 0 else "right"),
                va="center" if abs(uy) < 0.35 else ("bottom" if uy > 0 else "top"), fontsize=8, zorder=3)
    if used:
        handles = [plt.Line2D([], [], color=colors.get(name, "#444444"), linewidth=3, label=name) for name in used]
        ax.legend(handles=handles, loc="lower right", fontsize=7, title="relationship", title_fontsize=7,
                  frameon=False)
    if not nodes:
        ax.text(0, 0, "no characters with face tracks", ha="center", va="center")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
