"""The offline HTML page of a movie's predictions (``index.html``) and the index of several movies.

One self-contained file per movie: no script, style sheet, font or image from anywhere else (images
are inlined as data URIs; a Content-Security-Policy forbids every other source), so it opens from a
disk or an e-mail attachment. It shows

- the social graph (``graph.png``, :mod:`model.social_graph`);
- a timeline of the pairs' interactions like the paper's Fig. 1: one row per ordered pair that
  interacts, each interaction a bar over its clip, coloured by the pair's predicted relationship;
- the pairs' relationships (from up to K of their clips);
- per clip, like the paper's Fig. 6: a frame with the characters' face boxes, the dialog lines, the
  joint answer, the most likely pair and, per candidate pair, the top-5 interactions with scores
  (and the annotations, when the movie has them).
"""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any, Sequence

from model.social_graph import drawn_edges
from pipeline.tracks import FaceTrack

PAIRS_SHOWN = 3          # candidate pairs per clip shown with their top-5 lists (all are in a <details>)
THUMBNAIL_WIDTH = 320

# Nothing but inline styles, inline scripts and data: images: the page can load nothing else.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1150px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
.meta { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ddd; padding: 0.2em 0.5em; text-align: left; }
#graph { max-width: 100%; border: 1px solid #eee; }
.legend span { display: inline-block; margin-right: 1em; font-size: 0.85em; }
.legend i { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em; vertical-align: middle; }
article.clip { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; margin: 1em 0; }
article.clip h3 { margin: 0.2em 0 0.5em 0; font-size: 1.05em; }
.row { display: flex; gap: 1.2em; flex-wrap: wrap; }
.thumb { width: 320px; border: 1px solid #ccc; }
.dialog { flex: 1; min-width: 260px; font-size: 0.9em; }
.dialog ol { padding-left: 1.4em; margin: 0.2em 0; }
.pairs { display: flex; gap: 1em; flex-wrap: wrap; margin-top: 0.6em; }
.pair { border: 1px solid #eee; background: #fafafa; padding: 0.3em 0.8em; font-size: 0.85em; min-width: 220px; }
.pair h4 { margin: 0.2em 0; } .pair ol { padding-left: 1.4em; margin: 0.2em 0; }
.answer { background: #eef6ee; padding: 0.3em 0.6em; margin: 0.4em 0; }
.truth { background: #f6f0e6; padding: 0.3em 0.6em; font-size: 0.9em; }
"""

FILTER_SCRIPT = """
document.getElementById('character-filter').addEventListener('change', function (event) {
  var wanted = event.target.value;
  var shown = 0;
  document.querySelectorAll('article.clip').forEach(function (clip) {
    var names = clip.getAttribute('data-characters').split('|');
    clip.hidden = wanted !== '' && names.indexOf(wanted) < 0;
    if (!clip.hidden) { shown += 1; }
  });
  document.getElementById('clips-shown').textContent = shown;
});
"""


def data_uri(payload: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _name(name: str | None) -> str:
    return "(no one)" if name is None else name.title()


def _pair(subject: str | None, object_: str | None) -> str:
    return f"{_name(subject)} &rarr; {_name(object_)}"


def _time(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


# --- thumbnails ------------------------------------------------------------------------------------
def thumbnail_frame(tracks: Sequence[FaceTrack], n_frames: int) -> int:
    """The frame showing the most characters (ties: the one nearest the middle of the clip)."""
    counts: dict[int, set[str]] = {}
    for track in tracks:
        if track.character:
            for detection in track.detections:
                if 0 <= detection.frame < n_frames:
                    counts.setdefault(detection.frame, set()).add(track.character)
    if not counts:
        return n_frames // 2
    return min(counts, key=lambda frame: (-len(counts[frame]), abs(frame - n_frames / 2)))


def clip_thumbnail(video: Path, tracks: Sequence[FaceTrack], characters: dict[str, str], colors: dict[str, str],
                   width: int = THUMBNAIL_WIDTH) -> bytes:
    """A JPEG of one frame of the clip with the face boxes of the characters in it, labelled.

    ``characters`` maps a track's canonical label to its character, ``colors`` a character to its
    colour (the graph's).
    """
    import cv2

    from extractors.video import VideoError, probe_video, read_frame

    info = probe_video(video)
    frame_index = thumbnail_frame(tracks, info.n_frames)
    frame = read_frame(info, frame_index)
    scale = width / frame.shape[1]
    image = cv2.cvtColor(cv2.resize(frame, (width, round(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA),
                         cv2.COLOR_RGB2BGR)
    for track in tracks:
        if not track.character:
            continue
        name = characters.get(track.character, track.character)
        for detection in track.detections:
            if detection.frame == frame_index:
                rgb = colors.get(name, "#ffffff").lstrip("#")
                bgr = tuple(int(rgb[k:k + 2], 16) for k in (4, 2, 0))
                x0, y0 = round(detection.x * scale), round(detection.y * scale)
                x1, y1 = round((detection.x + detection.w) * scale), round((detection.y + detection.h) * scale)
                cv2.rectangle(image, (x0, y0), (x1, y1), bgr, 2)
                cv2.putText(image, name.title(), (x0, max(10, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, bgr, 1,
                            cv2.LINE_AA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise VideoError(f"{video}: could not encode a thumbnail")
    return encoded.tobytes()


# --- the timeline (Fig. 1) -------------------------------------------------------------------------
def timeline_svg(predictions: dict[str, Any], graph: dict[str, Any]) -> str:
    """Rows per interacting pair, a bar per interaction over its clip, coloured by the pair's relationship."""
    edges = sorted(drawn_edges(graph), key=lambda edge: edge["interactions"][0]["start"])
    clips = predictions["clips"]
    total = max((clip["end"] for clip in clips), default=0.0) or 1.0
    label_width, width, row, top = 190, 1100, 24, 28
    plot = width - label_width - 10
    height = top + row * max(len(edges), 1) + 10
    x = lambda seconds: label_width + plot * seconds / total  # noqa: E731
    colors = graph["relationship_colors"]
    parts = [f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">']
    for k, clip in enumerate(clips):  # clip boundaries and numbers
        parts.append(f'<line x1="{x(clip["start"]):.1f}" y1="{top - 6}" x2="{x(clip["start"]):.1f}" '
                     f'y2="{height - 6}" stroke="#ddd"/>')
        parts.append(f'<text x="{(x(clip["start"]) + x(clip["end"])) / 2:.1f}" y="{top - 10}" text-anchor="middle" '
                     f'fill="#888"><title>{_e(clip["clip"])}</title>{k + 1}</text>')
    if not edges:
        parts.append(f'<text x="{label_width}" y="{top + 16}" fill="#888">no pair was the joint answer of a clip'
                     '</text>')
    for k, edge in enumerate(edges):
        y = top + k * row
        color = colors.get(edge["relationship"], "#888888")
        parts.append(f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">'
                     f'{_e(edge["source"].title())} &#8594; {_e(edge["target"].title())}</text>')
        parts.append(f'<line x1="{label_width}" y1="{y + row / 2}" x2="{width - 10}" y2="{y + row / 2}" '
                     'stroke="#eee"/>')
        for item in edge["interactions"]:
            x0, x1 = x(item["start"]), x(item["end"])
            parts.append(f'<rect x="{x0 + 1:.1f}" y="{y + 3}" width="{max(x1 - x0 - 2, 2):.1f}" height="{row - 6}" '
                         f'rx="3" fill="{color}"><title>{_e(item["clip"])}: {_e(item["interaction"])} '
                         f'({item["score"]:.2f}); {_e(edge["relationship"])}</title></rect>')
            if x1 - x0 > 7 * len(item["interaction"]):
                parts.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{y + 16}" text-anchor="middle" fill="#fff">'
                             f'{_e(item["interaction"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _legend(graph: dict[str, Any]) -> str:
    used = list(dict.fromkeys(edge["relationship"] for edge in drawn_edges(graph)))
    return '<p class="legend">' + "".join(
        f'<span><i style="background:{graph["relationship_colors"].get(name, "#888")}"></i>{_e(name)}</span>'
        for name in used) + "</p>"


# --- the page ----------------------------------------------------------------------------------------
def _accuracy_table(accuracy: dict[str, Any] | None) -> str:
    if not accuracy:
        return ""
    rows = "".join(f"<tr><td>{_e(name)}</td><td>{_percent(value['accuracy'])}</td><td>{value['n']}</td>"
                   f"<td>{_percent(value['random'])}</td></tr>" for name, value in accuracy["metrics"].items())
    return (f"<h2>Accuracy on the movie's annotations</h2><p class=\"meta\">{accuracy['samples']} annotated "
            "interactions, the evaluation code's metrics (model.evaluate)</p><table><tr><th>metric</th>"
            f"<th>accuracy</th><th>n</th><th>random</th></tr>{rows}</table>")


def _percent(value: float | None) -> str:
    return "&ndash;" if value is None else f"{value:.1f}%"


def _ranked(items: list[dict[str, Any]] | None) -> str:
    if not items:
        return ""
    return "<ol>" + "".join(f"<li>{_e(item['name'])} <small>{item['score']:.3f}</small></li>" for item in items) + "</ol>"


def _inline(items: list[dict[str, Any]] | None) -> str:
    return ", ".join(f"{_e(item['name'])} {item['score']:.2f}" for item in items or [])


def _clip_card(number: int, clip: dict[str, Any], thumbnail: bytes | None) -> str:
    joint = clip["joint"]
    answer = [f"<b>{_pair(joint['subject'], joint['object'])}</b>"]
    if joint.get("interaction") is not None:
        answer.append(_e(joint["interaction"]))
    if joint.get("relationship") is not None:
        answer.append(_e(joint["relationship"]))
    likely = clip["most_likely_pair"]
    lines = "".join(f"<li><small>{_time(line['start'])}</small> {_e(line['text'])}</li>" for line in clip["dialog"])
    pairs = clip["pairs"]
    shown = "".join(
        f'<div class="pair"><h4>{_pair(pair["subject"], pair["object"])} <small>{pair["score"]:.3f}</small></h4>'
        f'{_ranked(pair["interactions"])}'
        + (f'<div>relationship: {_e(pair["relationships"][0]["name"])} '
           f'<small>{pair["relationships"][0]["score"]:.3f}</small></div>' if pair.get("relationships") else "")
        + "</div>" for pair in pairs[:PAIRS_SHOWN])
    every = "".join(f"<tr><td>{_pair(pair['subject'], pair['object'])}</td><td>{pair['score']:.3f}</td>"
                    f"<td>{_inline(pair['interactions'])}</td></tr>" for pair in pairs)
    truth = ""
    if clip.get("annotations") is not None:
        items = "; ".join(f"{_pair(row['subject'], row['object'])}: {_e(row['interaction'])}"
                          + (f" ({_e(row['relationship'])})" if row["relationship"] else "")
                          for row in clip["annotations"]) or "none"
        truth = f'<div class="truth">Annotated: {items}</div>'
    image = (f'<img class="thumb" alt="frame of {_e(clip["clip"])}" src="{data_uri(thumbnail, "image/jpeg")}">'
             if thumbnail else "")
    return (f'<article class="clip" id="clip-{_e(clip["clip"])}" data-characters="{_e("|".join(clip["characters"]))}">'
            f'<h3>{number}. {_e(clip["clip"])} <small>{_time(clip["start"])}&ndash;{_time(clip["end"])}, '
            f'{len(clip["characters"])} characters: {_e(", ".join(name.title() for name in clip["characters"]))}'
            f'</small></h3><div class="row">{image}<div class="dialog"><b>Dialog</b>'
            + (f"<ol>{lines}</ol>" if lines else "<p><i>no subtitles</i></p>")
            + f'</div></div><div class="answer">Who, doing what, in which relationship (jointly): '
            f'{", ".join(answer)} <small>{joint["score"]:.3f}</small><br>Most likely pair: '
            f'{_pair(likely["subject"], likely["object"])} <small>{likely["score"]:.3f}</small></div>{truth}'
            f'<div class="pairs">{shown}</div><details><summary>all {len(pairs)} candidate pairs</summary>'
            f"<table><tr><th>pair</th><th>score</th><th>top interactions</th></tr>{every}</table></details></article>")


def movie_page(predictions: dict[str, Any], graph: dict[str, Any], graph_png: bytes,
               thumbnails: dict[str, bytes | None]) -> str:
    """The movie's self-contained HTML page."""
    model = predictions["model"]
    movie = predictions["movie"]
    pairs = "".join(
        f"<tr><td>{_pair(pair['subject'], pair['object'])}</td><td>{_e(pair['relationship'])}</td>"
        f"<td>{pair['confidence']:.3f}</td><td>{len(pair['clips'])}</td><td>{len(pair['context_clips'])}</td>"
        f"<td>{_inline(pair['relationships'][1:4])}</td></tr>"
        for pair in predictions["pairs"] if pair["relationship"] is not None)
    characters = sorted({name for clip in predictions["clips"] for name in clip["characters"]})
    options = "".join(f'<option value="{_e(name)}">{_e(name.title())}</option>' for name in characters)
    cards = "".join(_clip_card(k + 1, clip, thumbnails.get(clip["clip"])) for k, clip in enumerate(predictions["clips"]))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>{_e(movie)}: who interacts, doing what, in which relationship</title>
<style>{STYLE}</style></head>
<body>
<h1>{_e(movie)}</h1>
<p class="meta">Model {_e(model['experiment'])} (task {_e(model['task'])}, epoch {_e(model['epoch'])},
{_e(model['checkpoint'])}); {len(predictions['clips'])} clips, {len(characters)} characters with face tracks;
relationships from up to {model['rel_clips']} clips per pair.</p>
<h2>Social graph</h2>
<img id="graph" alt="social graph of {_e(movie)}" src="{data_uri(graph_png, 'image/png')}">
<h2>Interactions over time</h2>
<p class="meta">One row per ordered pair that is the joint answer of a clip; bars span the clip, coloured by the
pair's predicted relationship (hover for the clip and the score).</p>
{timeline_svg(predictions, graph)}
{_legend(graph)}
<h2>Relationships per pair</h2>
<table><tr><th>pair</th><th>relationship</th><th>score</th><th>clips together</th><th>clips used</th>
<th>next best</th></tr>{pairs}</table>
{_accuracy_table(predictions.get('accuracy'))}
<h2>Clips</h2>
<p><label>Show clips with <select id="character-filter"><option value="">every character</option>{options}
</select></label> (<span id="clips-shown">{len(predictions['clips'])}</span> shown)</p>
{cards}
<script>{FILTER_SCRIPT}</script>
</body></html>
"""


def index_page(entries: Sequence[tuple[dict[str, Any], bytes]]) -> str:
    """The page listing several movies' pages: ``entries`` are (predictions, graph PNG)."""
    items = []
    for predictions, graph_png in entries:
        movie = predictions["movie"]
        accuracy = predictions.get("accuracy")
        summary = ""
        if accuracy:
            summary = "; ".join(f"{_e(name)} {_percent(value['accuracy'])}"
                                for name, value in accuracy["metrics"].items())
        items.append(f'<article class="clip"><h3><a href="{_e(movie)}/index.html">{_e(movie)}</a></h3>'
                     f'<p class="meta">{len(predictions["clips"])} clips; {summary}</p>'
                     f'<img class="thumb" alt="social graph of {_e(movie)}" src="{data_uri(graph_png, "image/png")}">'
                     "</article>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>Predictions</title><style>{STYLE}</style></head>
<body><h1>Predictions</h1>{''.join(items)}</body></html>
"""
