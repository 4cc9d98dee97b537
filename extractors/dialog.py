"""The ``dialog`` stage: each movie's clip subtitles -> sentences -> one BERT vector per sentence.

``python -m extractors.dialog --config FILE [--settings JSON] --movie M [M2 ...]
--out work/features/dialog/M.h5 [.../M2.h5 ...] [--threads N]``

Clips are the subtitle files in the movie's subtitle folder (``dataset.subtitles`` with ``{clip}``
as the file name stem, e.g. ``clip_srt/<movie>/<clip>.webvtt``). Sentences, time spans and speaker
turns come from :mod:`pipeline.subtitles`; vectors from :class:`extractors.text_encoder.SentenceEncoder`
(the module docstrings say exactly what is done). Several movies run in one process (the model
loads once; the ``dialog_features`` rule makes all movies in one job), each written to its own file.

Output (``docs/architecture.md``), root attrs ``model``, ``layer``, ``token_pooling``, ``max_length``,
``versions`` (JSON of library versions) and the rest of the encoder's settings (``model_dir``,
``model_name``, ``model_sha256``, ``hidden_size``, ``num_layers``, ``pairing``, ``sentence_rule``)::

    /clips/<clip>/text     (S,) utf-8 str   one sentence each
    /clips/<clip>/times    (S, 2) float32   clip-relative seconds (start, end)
    /clips/<clip>/turn     (S,) int32       speaker-turn index within the clip
    /clips/<clip>/vectors  (S, D) float16

A clip whose subtitle file is empty (or only the ``WEBVTT`` header) has S = 0 (empty datasets with
the right second dimension). A clip with no subtitle file at all is not in the file; readers treat
a missing clip as S = 0 too. Pooling over an interaction's span (max over its sentences, zeros
without dialog, paper Sec. 4.1) happens at sample assembly (:mod:`pipeline.samples`).
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.provenance import library_versions as installed_versions
from pipeline.dataset import DatasetError, DatasetLayout
from pipeline.subtitles import Sentence, next_person_sentences, read_sentences

log = logging.getLogger("extractors.dialog")

# Libraries whose versions shape the vectors: the rule's params and the file's ``versions`` attr.
DIALOG_LIBRARIES = ("torch", "transformers", "tokenizers")

SENTENCE_RULE = (
    "pipeline.subtitles: tags, [..], (..), music signs and speaker labels removed; lines ending with "
    "'...' joined with the next; '- ' lines are speaker turns; sentences end at . ? ! (not after "
    "abbreviations or initials, never at '...'); time span = the cues a sentence comes from"
)


def library_versions(packages: tuple[str, ...] = DIALOG_LIBRARIES) -> dict[str, str]:
    """Installed versions of the libraries that shape this stage's numbers."""
    return installed_versions(packages)


def subtitle_files(layout: DatasetLayout, movie: str) -> dict[str, Path]:
    """``{clip: subtitle file}`` of one movie, from its subtitle folder, sorted by clip name."""
    marker = "\x00clip\x00"
    template = layout.subtitles_file(movie, marker)
    if marker in str(template.parent):
        raise DatasetError(f"dataset.subtitles {layout.subtitles!r}: {{clip}} must be in the file name, "
                           f"not in a folder name")
    prefix, _, suffix = template.name.partition(marker)
    folder = template.parent
    if not folder.is_dir():
        raise DatasetError(f"{folder}: subtitle folder of movie {movie} not found (dataset.subtitles)")
    pattern = re.compile(re.escape(prefix) + r"(.+)" + re.escape(suffix) + r"$")
    files = {}
    for path in sorted(folder.iterdir()):
        match = pattern.match(path.name)
        if match and path.is_file():
            files[match.group(1)] = path
    return files


def rule_settings(config: dict[str, Any]) -> str:
    """The ``--settings`` JSON (and params) of the ``dialog_features`` rule: the dialog section and
    where the subtitles are; nothing else, so other stages' settings do not rerun it."""
    dataset = {key: config["dataset"][key] for key in ("format", "root", "subtitles")}
    return json.dumps({"dataset": dataset, "dialog": config["dialog"]}, sort_keys=True)


def rule_subtitle_inputs(config: dict[str, Any], movie: str) -> list[str]:
    """The movie's subtitle files as rule inputs for a real dataset (an edit reruns the movie); none
    for the demo, whose files appear together with its ``dataset_ready()`` marker."""
    if config["dataset"]["format"] == "demo":
        return []
    return [str(path) for path in subtitle_files(DatasetLayout.from_config(config), movie).values()]


def _clip_datasets(group, sentences: list[Sentence], vectors: np.ndarray) -> None:
    import h5py

    group.create_dataset("text", data=np.array([s.text for s in sentences], dtype=object),
                         dtype=h5py.string_dtype("utf-8"), shape=(len(sentences),))
    group.create_dataset("times", data=np.array([[s.start, s.end] for s in sentences], dtype=np.float32)
                         .reshape(len(sentences), 2))
    group.create_dataset("turn", data=np.array([s.turn for s in sentences], dtype=np.int32))
    group.create_dataset("vectors", data=vectors.astype(np.float16))


def _movie_sentences(layout: DatasetLayout, movie: str) -> dict[str, tuple[Path, list[Sentence]]]:
    return {clip: (path, read_sentences(path)) for clip, path in subtitle_files(layout, movie).items()}


def extract_movies(config: dict[str, Any], movies: list[str], outs: list[str | Path]) -> dict[str, dict[str, int]]:
    """Write the dialog features of each movie to its output file; return counts per movie.

    One process for many movies: importing transformers and loading the model costs more than
    encoding a movie, so the model is loaded once and all sentences are encoded together (sorted by
    length, identical inputs once). Every file is written atomically on its own.
    """
    from extractors.text_encoder import SentenceEncoder
    from pipeline.h5io import atomic_h5, remove_stale_temps

    if len(movies) != len(outs):
        raise ValueError(f"{len(movies)} movies but {len(outs)} output files: give one --out per --movie")
    settings = config["dialog"]
    layout = DatasetLayout.from_config(config)
    started = time.perf_counter()
    parsed = {movie: _movie_sentences(layout, movie) for movie in movies}

    # One list for everything so that batches mix clips and movies; partners index into it.
    texts: list[str] = []
    partners: list[int | None] = []
    for clips in parsed.values():
        for _, sentences in clips.values():
            offset = len(texts)
            texts += [s.text for s in sentences]
            partners += [None if p is None else offset + p for p in next_person_sentences(sentences)]
    parse_time = time.perf_counter() - started

    encoder = SentenceEncoder(model=settings["model"], layer=settings["layer"],
                              token_pooling=settings["token_pooling"], max_length=settings["max_length"],
                              batch_size=settings["batch_size"], device=settings["device"])
    loaded = time.perf_counter()
    vectors = encoder.encode(texts, partners, progress=True)
    encode_time = time.perf_counter() - loaded

    attrs = encoder.settings()
    attrs["versions"] = json.dumps(library_versions(), sort_keys=True)
    attrs["sentence_rule"] = SENTENCE_RULE
    counts: dict[str, dict[str, int]] = {}
    offset = 0
    for movie, out in zip(movies, outs):
        movie_counts = {"clips": 0, "clips_without_dialog": 0, "sentences": 0}
        remove_stale_temps(out)
        with atomic_h5(out, movie=movie, **attrs) as handle:
            clips = handle.create_group("clips")
            for clip, (path, sentences) in parsed[movie].items():
                group = clips.create_group(clip)
                group.attrs["subtitle_file"] = path.name
                _clip_datasets(group, sentences, vectors[offset: offset + len(sentences)])
                offset += len(sentences)
                movie_counts["clips"] += 1
                movie_counts["clips_without_dialog"] += not sentences
                movie_counts["sentences"] += len(sentences)
        counts[movie] = movie_counts
        log.info("%s: %d clips (%d without dialog), %d sentences -> %s", movie, movie_counts["clips"],
                 movie_counts["clips_without_dialog"], movie_counts["sentences"], out)
    log.info("%d movies, %d sentences (%d paired with the next person); parse %.2fs, model load %.2fs, "
             "encode %.2fs (%.0f sentences/s on %s), total %.2fs", len(movies), len(texts),
             sum(p is not None for p in partners), parse_time, loaded - started - parse_time, encode_time,
             len(texts) / max(encode_time, 1e-9), encoder.device, time.perf_counter() - started)
    return counts


def main(argv: list[str] | None = None) -> int:
    from pipeline.config import settings_from_cli
    from pipeline.h5io import exit_cleanly_on_sigterm

    exit_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m extractors.dialog", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="workflow_config.yaml (default: the repository's)")
    parser.add_argument("--settings", help="JSON of config sections overriding the file (Snakemake params)")
    parser.add_argument("--movie", required=True, nargs="+", help="imdb key(s) of the movie(s)")
    parser.add_argument("--out", required=True, nargs="+",
                        help="output HDF5 file(s), one per movie (work/features/dialog/<movie>.h5)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        config = settings_from_cli(args.config, args.settings)
        extract_movies(config, args.movie, args.out)
    except ValueError as exc:  # DatasetError, ConfigError, TextModelError: one line, no traceback
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
