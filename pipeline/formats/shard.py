"""``work/samples/<pooling>/<split>.h5``: the sample shard, one sample per interaction instance.

Written by the ``samples`` stage (:class:`ShardWriter`; what a sample holds is in
:mod:`pipeline.samples`), read by training, evaluation and prediction (:class:`SampleShard`).

Shard layout (float16 features, int32 indices unless noted)
-----------------------------------------------------------
Root attrs: ``format`` (``"lirec-samples/1"``), ``pooling``, ``split``, ``visual_dim`` (C),
``dialog_dim`` (D), ``num_interactions`` (A), ``num_relationships`` (R), ``interaction_names``,
``relationship_names`` (JSON lists), ``max_candidates``, ``seed``, ``movies`` (JSON list),
``sources`` (JSON: input files), ``visual_features`` and ``dialog_features`` (JSON: the identity
attributes of the feature files, :meth:`pipeline.formats.features.FeatureReader.identity`; ``null``
without such files), counts (``num_samples``, ``num_characters``, ``num_groups``,
``missing_visual_clips``, ``missing_dialog_clips``), ``complete``.
::

    /movies                    (n_movies,) str
    /persons/movie             (P,)   index into /movies
    /persons/name              (P,)   str, canonical character name
    /samples/movie             (N,)   index into /movies
    /samples/clip              (N,)   str
    /samples/span              (N, 2) float32 start, end (clip-relative seconds)
    /samples/visual            (N, C) float16 pooled clip visual vector
    /samples/dialog            (N, D) float16 pooled dialog vector (zeros: no dialog)
    /samples/interaction       (N,)   merged interaction id, -1 unlabelled (prediction shards)
    /samples/overlap           (N, A) bool    O_I(v): classes of overlapping interactions (never own)
    /samples/relationship      (N,)   merged relationship id, -1 missing
    /samples/rel_key           (N,)   group id of (movie, subject, object, relationship), -1 unlabelled
    /samples/char_offset       (N+1,) int64   the sample's characters are rows char_offset[i]:[i+1]
    /samples/subject_row       (N,)   row of /characters of the true subject, -1 unlabelled
    /samples/object_row        (N,)   row of /characters of the true object, -1 unlabelled
    /samples/candidates        (N, Kc, 2) rows of /characters (subject, object); -1 = no character
    /samples/candidate_count   (N,)   valid slots (the rest is padding)
    /samples/candidate_group   (N, Kc) group of the candidate pair; -1 single-character / padding
    /samples/true_candidate    (N, 2) slot of the true pair, slot of its reverse if bidirectional (-1: none)
    /characters/person         (M,)   index into /persons
    /characters/track          (M, C) float16 pooled track vector (zeros: no track in the span)
    /characters/has_track      (M,)   bool
    /groups/movie              (G,)
    /groups/subject            (G,)   index into /persons
    /groups/object             (G,)   index into /persons
    /groups/relationship       (G,)   -1 = "None"
    /groups/offset             (G+1,) int64   members of group g: offset[g]:offset[g+1]
    /groups/member_sample      (T,)   sample id (clip order)
    /groups/member_subject_row (T,)   character row of the group's subject in that sample
    /groups/member_object_row  (T,)   character row of the group's object in that sample

Features are written movie by movie into preallocated contiguous datasets (fast row gathers by
index), so memory is bounded by one movie, not the split.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.h5io import atomic_h5

SHARD_FORMAT = "lirec-samples/1"
NO_CHARACTER = -1      # candidate slot without a character (LIReC's single-character candidates)
UNLABELLED = -1        # interaction of an unlabelled sample (prediction shards, pipeline.samples.unlabelled_row)


class ShardError(PipelineError):
    """A sample shard is missing, incomplete or not in the expected format."""


def _str_dtype():
    import h5py

    return h5py.string_dtype("utf-8")


class ShardWriter:
    """Writes a shard atomically: feature rows movie by movie into preallocated datasets, index arrays
    (``self.samples``, filled by the caller) and the tables at :meth:`finish`. A context manager."""

    def __init__(self, out: str | Path, *, pooling: str, split: str, num_samples: int, num_characters: int,
                 visual_dim: int, dialog_dim: int, num_interactions: int, max_candidates: int):
        self.out = Path(out)
        self.pooling, self.split = pooling, split
        self.shape = (num_samples, num_characters, visual_dim, dialog_dim)
        N, Kc = num_samples, max_candidates
        self.samples = {
            "movie": np.zeros(N, np.int32), "span": np.zeros((N, 2), np.float32),
            "interaction": np.zeros(N, np.int32), "overlap": np.zeros((N, num_interactions), bool),
            "relationship": np.zeros(N, np.int32), "rel_key": np.zeros(N, np.int32),
            "char_offset": np.zeros(N + 1, np.int64),
            "subject_row": np.zeros(N, np.int32), "object_row": np.zeros(N, np.int32),
            "candidates": np.full((N, Kc, 2), NO_CHARACTER, np.int32),
            "candidate_count": np.zeros(N, np.int32),
            "candidate_group": np.full((N, Kc), -1, np.int32),
            "true_candidate": np.full((N, 2), -1, np.int32),
        }
        self.character_person = np.zeros(num_characters, np.int32)
        self.character_has_track = np.zeros(num_characters, bool)
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "ShardWriter":
        num_samples, num_characters, visual_dim, dialog_dim = self.shape
        self.handle = self._stack.enter_context(
            atomic_h5(self.out, format=SHARD_FORMAT, pooling=self.pooling, split=self.split))
        self.visual = self.handle.create_dataset("samples/visual", (num_samples, visual_dim), np.float16)
        self.dialog = self.handle.create_dataset("samples/dialog", (num_samples, dialog_dim), np.float16)
        self.tracks = self.handle.create_dataset("characters/track", (num_characters, visual_dim), np.float16)
        return self

    def __exit__(self, *exc_info) -> bool:
        return self._stack.__exit__(*exc_info)

    def write_rows(self, first_sample: int, visual: np.ndarray, dialog: np.ndarray, first_character: int,
                   tracks: np.ndarray) -> None:
        """Feature rows of consecutive samples and characters (one movie at a time)."""
        self.visual[first_sample:first_sample + len(visual)] = visual.astype(np.float16)
        self.dialog[first_sample:first_sample + len(dialog)] = dialog.astype(np.float16)
        self.tracks[first_character:first_character + len(tracks)] = tracks.astype(np.float16)

    def finish(self, *, clips: list[str], movies: list[str], persons: list[tuple[int, str]],
               groups: list[tuple[tuple[int, int, int, int], list[tuple[int, int, int]]]],
               attrs: dict[str, Any]) -> None:
        """The index arrays, names and groups ``[(key (movie, subject, object, relationship), members)]``."""
        shard = self.handle
        for name, values in self.samples.items():
            shard.create_dataset(f"samples/{name}", data=values)
        shard.create_dataset("samples/clip", data=np.array(clips, dtype=object), dtype=_str_dtype())
        shard.create_dataset("characters/person", data=self.character_person)
        shard.create_dataset("characters/has_track", data=self.character_has_track)
        shard.create_dataset("movies", data=np.array(movies, dtype=object), dtype=_str_dtype())
        shard.create_dataset("persons/movie", data=np.array([m for m, _ in persons], np.int32))
        shard.create_dataset("persons/name", data=np.array([n for _, n in persons], dtype=object),
                             dtype=_str_dtype())
        for position, name in enumerate(("movie", "subject", "object", "relationship")):
            shard.create_dataset(f"groups/{name}", data=np.array([key[position] for key, _ in groups], np.int32))
        sizes = np.array([len(members) for _, members in groups], np.int64)
        shard.create_dataset("groups/offset", data=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))
        flat = np.array([member for _, members in groups for member in members], np.int32).reshape(-1, 3)
        shard.create_dataset("groups/member_sample", data=flat[:, 0])
        shard.create_dataset("groups/member_subject_row", data=flat[:, 1])
        shard.create_dataset("groups/member_object_row", data=flat[:, 2])
        for key, value in attrs.items():
            shard.attrs[key] = value


_INDEX_DATASETS = ("samples/movie", "samples/interaction", "samples/overlap", "samples/relationship",
                   "samples/rel_key", "samples/char_offset", "samples/subject_row", "samples/object_row",
                   "samples/candidates", "samples/candidate_count", "samples/candidate_group",
                   "samples/true_candidate", "characters/person", "characters/has_track", "groups/offset",
                   "groups/member_sample", "groups/member_subject_row", "groups/member_object_row",
                   "groups/relationship")


class SampleShard:
    """A sample shard: index arrays in memory, feature rows read on demand."""

    def __init__(self, path: str | Path):
        import h5py

        self.path = Path(path)
        if not self.path.is_file():
            raise ShardError(f"{self.path}: sample shard not found")
        try:
            with h5py.File(self.path, "r") as handle:
                attrs = dict(handle.attrs)
                if attrs.get("format") != SHARD_FORMAT:
                    raise ShardError(f"{self.path}: not a sample shard of format {SHARD_FORMAT} "
                                     f"(format attr: {attrs.get('format')!r})")
                if not bool(attrs.get("complete", False)):
                    raise ShardError(f"{self.path}: incomplete shard (attrs['complete'] is not true)")
                missing = [name for name in _INDEX_DATASETS if name not in handle]
                if missing:
                    raise ShardError(f"{self.path}: missing datasets {missing}")
                index = {name: handle[name][()] for name in _INDEX_DATASETS}
        except OSError as exc:
            raise ShardError(f"{self.path}: not a readable HDF5 file ({exc})") from None
        self.pooling = str(attrs["pooling"])
        self.visual_dim = int(attrs["visual_dim"])
        self.dialog_dim = int(attrs["dialog_dim"])
        self.num_interactions = int(attrs["num_interactions"])
        self.num_relationships = int(attrs["num_relationships"])
        self.interaction_names: list[str] = json.loads(attrs["interaction_names"])
        self.relationship_names: list[str] = json.loads(attrs["relationship_names"])
        self.max_candidates = int(attrs["max_candidates"])
        # which features the shard was assembled from (None: a shard written before this was recorded)
        self.features = {kind: json.loads(attrs.get(f"{kind}_features", "null")) for kind in ("visual", "dialog")}
        self.movie = index["samples/movie"]
        self.interaction = index["samples/interaction"].astype(np.int64)
        self.overlap = index["samples/overlap"].astype(bool)
        self.relationship = index["samples/relationship"].astype(np.int64)
        self.rel_key = index["samples/rel_key"].astype(np.int64)
        self.char_offset = index["samples/char_offset"]
        self.subject_row = index["samples/subject_row"].astype(np.int64)
        self.object_row = index["samples/object_row"].astype(np.int64)
        self.candidates = index["samples/candidates"].astype(np.int64)
        self.candidate_count = index["samples/candidate_count"].astype(np.int64)
        self.candidate_group = index["samples/candidate_group"].astype(np.int64)
        self.true_candidate = index["samples/true_candidate"].astype(np.int64)
        self.character_person = index["characters/person"]
        self.has_track = index["characters/has_track"].astype(bool)
        self.group_offset = index["groups/offset"]
        self.member_sample = index["groups/member_sample"].astype(np.int64)
        self.member_subject_row = index["groups/member_subject_row"].astype(np.int64)
        self.member_object_row = index["groups/member_object_row"].astype(np.int64)
        self.group_relationship = index["groups/relationship"].astype(np.int64)
        self._handle = None
        self._pid = None

    def __len__(self) -> int:
        return int(self.interaction.shape[0])

    # Lazy feature access (reopened after a fork) --------------------------------------------
    def _file(self):
        import os

        import h5py

        if self._handle is None or self._pid != os.getpid():
            self._handle = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._handle

    def read_rows(self, dataset: str, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (sorted, unique) of a 2-D float16 dataset, as float32."""
        if rows.size == 0:
            return np.zeros((0, self._file()[dataset].shape[1]), np.float32)
        return self._file()[dataset][rows].astype(np.float32)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handle"] = None
        state["_pid"] = None
        return state

    # Names (for predictions) ---------------------------------------------------------------
    def names(self, dataset: str, index: int) -> str:
        return _text(self._file()[dataset][index])

    def character_name(self, row: int) -> str | None:
        if row < 0:
            return None
        return self.names("persons/name", int(self.character_person[row]))

    def person_names(self) -> list[str]:
        """Every person's name (index: person id), read at once."""
        return [value.decode() if isinstance(value, bytes) else str(value)
                for value in self._file()["persons/name"][()]]

    # Context --------------------------------------------------------------------------------
    def group_members(self, group: int) -> np.ndarray:
        """Member positions (into ``member_*`` arrays) of ``group``, in clip order."""
        return np.arange(self.group_offset[group], self.group_offset[group + 1])

    def pair_visible(self) -> np.ndarray:
        """Samples whose true subject and object both have a track (paper: "a pair of characters appear")."""
        return self.has_track[self.subject_row] & self.has_track[self.object_row]

    def any_character_tracked(self) -> np.ndarray:
        """Samples with a track for at least one of their characters (the authors' code scores a sample
        unless the track features of all its candidates are zeros, ``just_zeros``)."""
        tracked = np.concatenate([[0], np.cumsum(self.has_track, dtype=np.int64)])
        return tracked[self.char_offset[1:]] - tracked[self.char_offset[:-1]] > 0

    # Identities (what a sample or a relationship pair is, whatever the pooling of the shard) -----
    def sample_identities(self) -> list[tuple]:
        """Per sample ``(movie, clip, start, end, subject, object, interaction)``: the same list for the
        shards of every pooling of one split, so two models' outcomes pair sample by sample."""
        handle = self._file()
        movies = [_text(value) for value in handle["movies"][()]]
        clips = [_text(value) for value in handle["samples/clip"][()]]
        names = [_text(value) for value in handle["persons/name"][()]]
        span = handle["samples/span"][()]
        person = self.character_person
        return [(movies[int(self.movie[i])], clips[i], f"{span[i, 0]:.3f}", f"{span[i, 1]:.3f}",
                 names[int(person[self.subject_row[i]])], names[int(person[self.object_row[i]])],
                 int(self.interaction[i])) for i in range(len(self))]

    def group_identities(self, groups: np.ndarray) -> list[tuple]:
        """Per relationship-context group (a ``rel_key``) ``(movie, subject, object, relationship)``."""
        handle = self._file()
        movies = [_text(value) for value in handle["movies"][()]]
        names = [_text(value) for value in handle["persons/name"][()]]
        movie, subject, object_ = (handle[f"groups/{key}"][()] for key in ("movie", "subject", "object"))
        return [(movies[int(movie[g])], names[int(subject[g])], names[int(object_[g])],
                 int(self.group_relationship[g])) for g in np.asarray(groups, np.int64)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
