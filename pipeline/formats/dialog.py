"""``work/features/dialog/<movie>.h5``: one vector per subtitle sentence of every clip.

Root attrs: the encoder's settings (``model``, ``model_dir``, ``model_name``, ``model_sha256``,
``num_layers``, ``hidden_size``, ``layer``, ``token_pooling``, ``max_length``, ``pairing``),
``sentence_rule``, ``versions`` (JSON), ``movie`` and ``complete``::

    /clips/<clip>          attrs: subtitle_file
    /clips/<clip>/text     (S,) utf-8 str   one sentence each
    /clips/<clip>/times    (S, 2) float32   clip-relative seconds (start, end)
    /clips/<clip>/turn     (S,) int32       speaker-turn index within the clip
    /clips/<clip>/vectors  (S, D) float16

A clip whose subtitle file has no sentence has S = 0 (empty datasets with the right second
dimension); a clip without a subtitle file is not in the file, and readers treat it as S = 0 too.
Written by the dialog stage (:func:`write_dialog_features`), read by the sample assembly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.formats.features import FeatureFileError, FeatureReader, decode_text
from pipeline.h5io import atomic_h5

@dataclass
class DialogClip:
    """The sentences of one clip: times (S, 2), vectors (S, D), and their text and speaker turns."""

    times: np.ndarray
    vectors: np.ndarray
    text: list[str] = field(default_factory=list)
    turn: np.ndarray | None = None
    subtitle_file: str = ""


def write_dialog_features(out: str | Path, clips: dict[str, DialogClip], dim: int, **attrs: Any) -> None:
    """Write one movie's file atomically (``dim`` = D, also for clips without sentences)."""
    import h5py

    with atomic_h5(out, **attrs) as handle:
        group_of_clips = handle.create_group("clips")
        for name, clip in clips.items():
            count = len(clip.text)
            group = group_of_clips.create_group(name)
            group.attrs["subtitle_file"] = clip.subtitle_file
            group.create_dataset("text", data=np.array(clip.text, dtype=object), dtype=h5py.string_dtype("utf-8"),
                                 shape=(count,))
            group.create_dataset("times", data=np.asarray(clip.times, np.float32).reshape(count, 2))
            turn = clip.turn if clip.turn is not None else np.zeros(count, np.int32)
            group.create_dataset("turn", data=np.asarray(turn, np.int32))
            group.create_dataset("vectors", data=np.asarray(clip.vectors).astype(np.float16).reshape(count, dim))


class DialogFeatureReader(FeatureReader):
    kind = "dialog"
    vector_dataset = "vectors"
    # Not: the model's folder or how it was named in the config (the same weights either way).
    identity_keys = ("model_name", "model_sha256", "num_layers", "hidden_size", "layer", "token_pooling",
                     "max_length", "pairing")

    def clip(self, clip: str, with_text: bool = False) -> DialogClip | None:
        """The clip's sentences; None when the file has no such clip."""
        group = self._group(clip)
        if group is None:
            return None
        times = self._dataset(group, "times", 2).astype(np.float32)
        vectors = self._dataset(group, "vectors", 2)
        if times.shape[0] != vectors.shape[0]:
            raise FeatureFileError(f"{self.path}: {group.name}: times {times.shape} and vectors {vectors.shape} "
                                   "differ in S")
        dialog = DialogClip(times, vectors, subtitle_file=decode_text(group.attrs.get("subtitle_file", "")))
        if with_text:
            dialog.text = [decode_text(value) for value in self._dataset(group, "text", 1)]
            dialog.turn = self._dataset(group, "turn", 1)
        return dialog
