"""The ``dialog`` stage: each movie's clip subtitles -> sentences -> one BERT vector per sentence.

``python -m extractors.dialog --config FILE [--settings JSON] --movie M [M2 ...]
--out work/features/dialog/M.h5 [.../M2.h5 ...] [--threads N]``

Clips are the subtitle files in the movie's subtitle folder (``dataset.subtitles`` with ``{clip}``
as the file name stem, e.g. ``clip_srt/<movie>/<clip>.webvtt``). Sentences, time spans and speaker
turns come from :mod:`pipeline.subtitles`; vectors from :class:`extractors.text_encoder.SentenceEncoder`
(the module docstrings say exactly what is done). Several movies run in one process (the model
loads once; the ``dialog_features`` rule makes all movies in one job), each written to its own file.

Output: :mod:`pipeline.formats.dialog` (the layout and its writer): per clip the sentences' text,
times, speaker turns and vectors; a clip without dialog has none. Pooling over an interaction's
span (max over its sentences, zeros without dialog, paper Sec. 4.1) happens at sample assembly
(:mod:`pipeline.samples`).
"""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from extractors.settings import DialogSettings
from pipeline.dataset import DatasetError
from pipeline.errors import PipelineError
from pipeline.formats.dialog import DialogClip, write_dialog_features
from pipeline.formats.stage_report import StageReport
from pipeline.stages import stage_versions
from pipeline.subtitles import Sentence, next_person_sentences, read_sentences

log = logging.getLogger("extractors.dialog")

SENTENCE_RULE = (
    "pipeline.subtitles: tags, [..], (..), music signs and speaker labels removed; lines ending with "
    "'...' joined with the next; '- ' lines are speaker turns; sentences end at . ? ! (not after "
    "abbreviations or initials, never at '...'); time span = the cues a sentence comes from"
)


def subtitle_files(settings: DialogSettings, movie: str) -> dict[str, Path]:
    """``{clip: subtitle file}`` of one movie, from its subtitle folder, sorted by clip name."""
    files = settings.layout.clip_files("subtitles", movie)
    if files is None:
        folder = settings.layout.subtitles_file(movie, "x").parent
        raise DatasetError(f"{folder}: subtitle folder of movie {movie} not found (dataset.subtitles)")
    return files


def _movie_sentences(settings: DialogSettings, movie: str,
                     report: StageReport) -> dict[str, tuple[Path, list[Sentence]]]:
    """The sentences of each clip. A malformed file stops the run (``on_error.dialog: fail``) or,
    under ``skip``, loses its malformed cues (an unreadable file: the whole clip), as the report says."""
    sentences = {}
    try:
        files = subtitle_files(settings, movie)
    except DatasetError as exc:
        if settings.on_error != "skip":
            raise
        report.skip(f"movie:{movie}", settings.layout.subtitles_file(movie, "x").parent, str(exc))
        return {}
    for clip, path in files.items():
        if settings.on_error != "skip":
            sentences[clip] = (path, read_sentences(path))
            continue
        skipped: list[dict] = []
        try:
            sentences[clip] = (path, read_sentences(path, skipped))
        except DatasetError as exc:
            report.skip(f"clip:{clip}", path, str(exc))
            continue
        for cue in skipped:
            report.warn(path, f"line {cue['line']}: {cue['reason']}; that cue is left out")
    return sentences


def extract_movies(settings: DialogSettings, movies: list[str], outs: list[str | Path]) -> dict[str, dict[str, int]]:
    """Write the dialog features of each movie to its output file; return counts per movie.

    One process for many movies: importing transformers and loading the model costs more than
    encoding a movie, so the model is loaded once and all sentences are encoded together (sorted by
    length, identical inputs once). Every file is written atomically on its own.
    """
    from extractors.text_encoder import SentenceEncoder

    if len(movies) != len(outs):
        raise PipelineError(f"{len(movies)} movies but {len(outs)} output files: give one --out per --movie")
    started = time.perf_counter()
    reports = {movie: StageReport("dialog", movie, settings.on_error) for movie in movies}
    parsed = {movie: _movie_sentences(settings, movie, reports[movie]) for movie in movies}

    # One list for everything so that batches mix clips and movies; partners index into it.
    texts: list[str] = []
    partners: list[int | None] = []
    for clips in parsed.values():
        for _, sentences in clips.values():
            offset = len(texts)
            texts += [s.text for s in sentences]
            partners += [None if p is None else offset + p for p in next_person_sentences(sentences)]
    parse_time = time.perf_counter() - started

    encoder = SentenceEncoder(**settings.encoder_arguments())
    loaded = time.perf_counter()
    vectors = encoder.encode(texts, partners, progress=True)
    encode_time = time.perf_counter() - loaded

    attrs: dict[str, Any] = encoder.settings()
    attrs["versions"] = json.dumps(stage_versions("dialog"), sort_keys=True)
    attrs["sentence_rule"] = SENTENCE_RULE
    counts: dict[str, dict[str, int]] = {}
    offset = 0
    for movie, out in zip(movies, outs):
        clips: dict[str, DialogClip] = {}
        for clip, (path, sentences) in parsed[movie].items():
            clips[clip] = DialogClip(times=np.array([[s.start, s.end] for s in sentences], dtype=np.float32),
                                     vectors=vectors[offset: offset + len(sentences)],
                                     text=[s.text for s in sentences],
                                     turn=np.array([s.turn for s in sentences], dtype=np.int32),
                                     subtitle_file=path.name)
            offset += len(sentences)
        write_dialog_features(out, clips, encoder.hidden_size, movie=movie, **attrs)
        movie_counts = {"clips": len(clips), "clips_without_dialog": sum(not c.text for c in clips.values()),
                        "sentences": sum(len(c.text) for c in clips.values()),
                        "clips_skipped": len(reports[movie].skipped), "cues_skipped": len(reports[movie].warnings)}
        counts[movie] = movie_counts
        reports[movie].counts = movie_counts
        reports[movie].write(out)
        log.info("%s: %d clips (%d without dialog), %d sentences -> %s", movie, movie_counts["clips"],
                 movie_counts["clips_without_dialog"], movie_counts["sentences"], out)
    log.info("%d movies, %d sentences (%d paired with the next person); parse %.2fs, model load %.2fs, "
             "encode %.2fs (%.0f sentences/s on %s), total %.2fs", len(movies), len(texts),
             sum(p is not None for p in partners), parse_time, loaded - started - parse_time, encode_time,
             len(texts) / max(encode_time, 1e-9), encoder.device, time.perf_counter() - started)
    return counts


def main(argv: list[str] | None = None) -> int:
    from pipeline.cli import stage_main

    def arguments(parser) -> None:
        parser.add_argument("--movie", required=True, nargs="+", help="imdb key(s) of the movie(s)")
        parser.add_argument("--out", required=True, nargs="+",
                            help="output HDF5 file(s), one per movie (work/features/dialog/<movie>.h5)")

    return stage_main("dialog", lambda settings, args: extract_movies(settings, args.movie, args.out),
                      description=__doc__.split("\n")[0], arguments=arguments, threads=True, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
