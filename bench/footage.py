"""Real footage for the benchmarks: Blender's "Big Buck Bunny" trailer, 1280x720 H.264, 24 fps, 55 s
(1,323 frames), as shipped in the source distribution of ``moviepy==2.2.1`` (its documentation media).

``python -m bench.footage`` fetches it once into ``bench/data/`` (git-ignored) with
``pip download --no-deps --no-binary :all: moviepy==2.2.1`` and checks its sha256; the other benchmark
scripts call :func:`trailer` (which fetches when needed) and :func:`looped` (the trailer repeated with
``ffmpeg -stream_loop``, no re-encode, for the memory benchmark). ``ffmpeg`` must be on the PATH for
the JPEG reference path and the looped video (``make bench`` installs it with apt-get when missing).
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
PACKAGE = "moviepy==2.2.1"
MEMBER = "moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4"
TRAILER_SHA256 = "ce0d2ba68822a89ae65ee41b53be9de621771130c2aa1d0ff02d935df75b59ae"


class FootageError(RuntimeError):
    """The benchmark video cannot be fetched or made; the message says what to do."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def trailer(data: Path = DATA) -> Path:
    """The trailer's path, fetched from the moviepy sdist on first use (checked by sha256)."""
    path = data / "trailer_bbb.mp4"
    if path.is_file() and _sha256(path) == TRAILER_SHA256:
        return path
    data.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="footage_") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--quiet",
                   "--dest", tmp, PACKAGE]
        result = subprocess.run(command, capture_output=True, text=True)
        archives = list(Path(tmp).glob("moviepy-*.tar.gz"))
        if result.returncode != 0 or not archives:
            raise FootageError(f"cannot fetch {PACKAGE}'s sdist for {path.name} (`{' '.join(command)}`): "
                               f"{result.stderr.strip().splitlines()[-1:] or 'no archive'}")
        with tarfile.open(archives[0]) as archive:
            source = archive.extractfile(MEMBER)
            if source is None:
                raise FootageError(f"{archives[0].name}: has no {MEMBER}")
            partial = path.with_suffix(".mp4.tmp")
            with open(partial, "wb") as handle:
                shutil.copyfileobj(source, handle)
    if _sha256(partial) != TRAILER_SHA256:
        partial.unlink()
        raise FootageError(f"{MEMBER} of {PACKAGE}: sha256 differs from {TRAILER_SHA256}")
    partial.replace(path)
    return path


def ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        raise FootageError("ffmpeg is not on the PATH (Debian/Ubuntu: apt-get install -y ffmpeg; "
                           "`make bench` does it)")
    return found


def looped(times: int, data: Path = DATA) -> Path:
    """The trailer played ``times`` times in a row (stream copy, so decoding is the same work per frame)."""
    path = data / f"trailer_bbb_x{times}.mp4"
    if path.is_file():
        return path
    source = trailer(data)
    partial = path.with_name(path.stem + ".tmp.mp4")
    subprocess.run([ffmpeg(), "-v", "error", "-y", "-stream_loop", str(times - 1), "-i", str(source), "-an",
                    "-c:v", "copy", str(partial)], check=True)
    partial.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", type=int, default=0, help="also make the trailer looped this many times")
    args = parser.parse_args(argv)
    print(trailer())
    if args.loop:
        print(looped(args.loop))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
