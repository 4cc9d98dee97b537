"""Atomic output files: write to a temp file in the same folder, fsync, then rename.

A crash or kill never leaves a half-written file under the final name: the rename is the commit
point. HDF5 files additionally carry ``attrs["complete"] = True`` as their last write, since a
partially written HDF5 file may still open without error.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

TEMP_SUFFIX = ".tmp"
_UMASK = os.umask(0)
os.umask(_UMASK)


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


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on success it is fsynced and renamed onto ``path``.

    On any exception (KeyboardInterrupt and SystemExit included) the temp file is removed and
    ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_h5(path: str | Path, **attrs: Any) -> Iterator["h5py.File"]:  # noqa: F821
    """Open a new HDF5 file for writing that appears under ``path`` only when complete."""
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as handle:
            for key, value in attrs.items():
                handle.attrs[key] = value
            handle.attrs["complete"] = False
            yield handle
            handle.attrs["complete"] = True


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
