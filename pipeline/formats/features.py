"""What the visual and dialog feature files share: the error type and the checked, read-only opening."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError


class FeatureFileError(PipelineError):
    """A feature file is missing, incomplete or not in the documented layout (names the file)."""


def decode_text(value: Any) -> str:
    """An HDF5 string attribute or element as ``str``."""
    return value.decode() if isinstance(value, bytes) else str(value)


def plain_value(value: Any) -> Any:
    """An HDF5 attribute value as plain JSON data (numpy scalars and arrays, bytes)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


class FeatureReader:
    """A complete feature file opened for reading, clip by clip (a context manager)."""

    kind = ""
    vector_dataset = ""
    # Root attributes that say which features these are: a model trained on them needs the same again.
    identity_keys: tuple[str, ...] = ()

    def __init__(self, path: str | Path):
        import h5py

        self.path = Path(path)
        if not self.path.is_file():
            raise FeatureFileError(f"{self.path}: {self.kind} feature file not found")
        try:
            self.handle = h5py.File(self.path, "r")
        except OSError as exc:
            raise FeatureFileError(f"{self.path}: not a readable HDF5 file ({exc})") from None
        if not bool(self.handle.attrs.get("complete", False)):
            self.handle.close()
            raise FeatureFileError(f"{self.path}: {self.kind} feature file is incomplete "
                                   "(attrs['complete'] is not true)")
        self.clips = self.handle.get("clips")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.handle.close()

    def attrs(self) -> dict[str, Any]:
        return dict(self.handle.attrs)

    def identity(self) -> dict[str, Any]:
        """The file's :attr:`identity_keys` attributes (those it has), as plain data."""
        return {key: plain_value(self.handle.attrs[key]) for key in self.identity_keys if key in self.handle.attrs}

    def clip_names(self) -> list[str]:
        return [] if self.clips is None else list(self.clips)

    def _group(self, clip: str):
        if self.clips is None or clip not in self.clips:
            return None
        return self.clips[clip]

    def _dataset(self, group, name: str, ndim: int) -> np.ndarray:
        if name not in group:
            raise FeatureFileError(f"{self.path}: clip {group.name} has no dataset '{name}'")
        data = group[name][()]
        if data.ndim != ndim:
            raise FeatureFileError(f"{self.path}: {group.name}/{name} has shape {data.shape}, expected {ndim} dims")
        return data

    def feature_dim(self) -> int | None:
        """C (visual ``global``) or D (dialog ``vectors``) of the first clip; None without clips."""
        for clip in self.clip_names():
            if self.vector_dataset in self.clips[clip]:
                return int(self.clips[clip][self.vector_dataset].shape[1])
        return None
