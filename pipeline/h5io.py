"""Atomic output files: write to a temp file in the same folder, fsync, then rename.

A crash or kill never leaves a half-written file under the final name: the rename is the commit
point. HDF5 files additionally carry ``attrs["complete"] = True`` as their last write, since a
partially written HDF5 file may still open without error.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

TEMP_SUFFIX = ".tmp"


@functools.lru_cache(maxsize=1)
def _current_umask() -> int:
    """The process umask, read once at the first write (by setting and restoring it: no getter)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temps(path: str | Path) -> int:
    """Delete temp files left next to ``path`` by an earlier killed run; return how many."""
    path = Path(path)
    removed = 0
    if path.parent.is_dir():
        for stale in path.parent.glob(f".{path.name}.*{TEMP_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
                removed += 1
    return removed


class AtomicFile:
    """A temp file next to ``path`` that becomes ``path`` only on :meth:`commit` (fsync, rename);
    :meth:`discard` removes it and leaves ``path`` untouched. For writers whose lifetime is not one
    ``with`` block (a clip's part file lives from its first window to its last). Temp files of the
    same target left by a killed earlier writer (SIGKILL gives no chance to clean up) are removed
    when a new one starts."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.path)   # a killed earlier writer of this file left its temp file
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=TEMP_SUFFIX, dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp_name)
        os.chmod(self.tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; give the usual permissions

    def commit(self) -> None:
        try:
            with open(self.tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(self.tmp, self.path)
            _fsync_dir(self.path.parent)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on success it is fsynced and renamed onto ``path``.

    On any exception (KeyboardInterrupt and SystemExit included) the temp file is removed and
    ``path`` is left untouched.
    """
    target = AtomicFile(path)
    try:
        yield target.tmp
    except BaseException:
        target.discard()
        raise
    target.commit()


class AtomicH5:
    """A new HDF5 file that appears under ``path`` only when complete: ``attrs["complete"]`` is its
    last write, then the temp file is renamed. :meth:`commit` / :meth:`discard`, or use ``with``."""

    def __init__(self, path: str | Path, **attrs: Any):
        import h5py

        self._target = AtomicFile(path)
        try:
            self.handle = h5py.File(self._target.tmp, "w")
            for key, value in attrs.items():
                self.handle.attrs[key] = value
            self.handle.attrs["complete"] = False
        except BaseException:
            self._target.discard()
            raise

    def commit(self) -> None:
        try:
            self.handle.attrs["complete"] = True
            self.handle.close()
        except BaseException:
            self.discard()
            raise
        self._target.commit()

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.handle.close()
        self._target.discard()

    def __enter__(self) -> "h5py.File":  # noqa: F821
        return self.handle

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def atomic_h5(path: str | Path, **attrs: Any) -> AtomicH5:
    """``with atomic_h5(path, **attrs) as handle:`` a new HDF5 file that appears only when complete."""
    return AtomicH5(path, **attrs)


def is_complete_h5(path: str | Path) -> bool:
    """True when ``path`` is an HDF5 file whose writer finished (``attrs['complete']``)."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            return bool(handle.attrs.get("complete", False))
    except (OSError, FileNotFoundError):
        return False


def write_json_atomic(path: str | Path, payload: Any) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, sort_keys=False, default=_json_default)
            handle.write("\n")


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)


def torch_save_atomic(path: str | Path, payload: Any) -> None:
    """``torch.save`` to ``path`` atomically and byte-for-byte reproducibly: saved to memory first
    (``torch.save`` to a file names the archive after the file, a random temp name here)."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM (SLURM's scancel / time limit) into SystemExit so temp files are cleaned up."""

    def _handler(signum, _frame):
        sys.exit(128 + signum)

    with contextlib.suppress(ValueError):  # not in the main thread
        signal.signal(signal.SIGTERM, _handler)
