"""Decode-only benchmark on real footage: frames per second of the decoders a feature extractor can use.

``python -m bench.bench_decode [--video FILE] [--input-size 112] [--clip-frames 128] [--frames N]
[--workers N]``

On the 720p H.264 trailer of :mod:`bench.footage` (or ``--video``), every frame in order, each
decoder in turn in this one process (so the ratios share the machine's load), one decoding thread
each (as the visual stage: ``num_threads=1``):

- ``decord full size``: ``VideoReader`` at the video's size, batches of consecutive frames;
- ``decord resized``: the same reader resizing in the decoder to the network's resize size
  (shorter side ``--input-size``): the visual stage's way;
- ``decord reader per clip``: a new resized reader for every ``--clip-frames`` frames (seeks to the
  clip start): what opening each MovieGraphs clip costs when clips are short;
- ``stage path, pyav`` and ``stage path, decord``: :func:`extractors.video.iter_window_batches` with
  ``visual.decoder`` pyav (the default: PyAV pulls frames through decord's resize graph) or decord
  (windows of 16 gathered into batches of 8), the exact decode work of the stage;
- ``stage path, ..., N clips at once``: the same on ``--workers`` clips (the video N times) at once,
  as the stage decodes with ``visual.decode_workers: N`` (:class:`extractors.prefetch.ParallelPrefetcher`,
  one thread per clip): frames/s of all clips together, the decode limit a GPU can be fed at;
- ``OpenCV``: ``cv2.VideoCapture.read`` then ``cv2.resize`` (INTER_AREA) to the same size;
- ``torchcodec``: ``VideoDecoder`` full size then ``torch.nn.functional.interpolate`` (antialiased
  bilinear); only when the package imports beside our torch (it is not a dependency: torchcodec 0.17.0
  works with torch 2.14.1 and the system FFmpeg, e.g. ``pip install --no-deps --target DIR
  torchcodec==0.17.0`` and ``PYTHONPATH=DIR``).
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np


def _decord_sequential(video: Path, n_frames: int, width: int = -1, height: int = -1, chunk: int = 128) -> int:
    import decord

    reader = decord.VideoReader(str(video), ctx=decord.cpu(0), width=width, height=height, num_threads=1)
    done = 0
    for start in range(0, n_frames, chunk):
        frames = reader.get_batch(list(range(start, min(start + chunk, n_frames)))).asnumpy()
        done += len(frames)
    return done


def _decord_per_clip(video: Path, n_frames: int, width: int, height: int, clip_frames: int) -> int:
    import decord

    done = 0
    for start in range(0, n_frames, clip_frames):
        reader = decord.VideoReader(str(video), ctx=decord.cpu(0), width=width, height=height, num_threads=1)
        frames = reader.get_batch(list(range(start, min(start + clip_frames, n_frames)))).asnumpy()
        done += len(frames)
        del reader
    return done


def _stage_batches(video: Path, n_frames: int, input_size: int, decoder: str):
    """The stage's decoding of the first ``n_frames`` of ``video``: batches of 8 windows of 16 frames."""
    from extractors.video import FrameGeometry, iter_window_batches, plan_windows, probe_video

    info = probe_video(video)
    geometry = FrameGeometry.for_video(info.width, info.height, input_size, "full")
    windows = plan_windows(min(n_frames, info.n_frames), 16, 16)
    return iter_window_batches(info, geometry, windows, 8, decoder=decoder)


def _stage_path(video: Path, n_frames: int, input_size: int, decoder: str) -> int:
    return sum(batch.shape[0] * batch.shape[1] for _, batch in _stage_batches(video, n_frames, input_size, decoder))


def _stage_path_parallel(video: Path, n_frames: int, input_size: int, decoder: str, workers: int) -> int:
    from extractors.prefetch import ParallelPrefetcher
    from pipeline.devices import decode_ahead

    with ParallelPrefetcher(range(workers), lambda _: _stage_batches(video, n_frames, input_size, decoder),
                            workers=workers, depth=2, ahead_depth=decode_ahead(workers, 2)) as batches:
        return sum(batch.shape[0] * batch.shape[1] for _, batch in batches)


def _opencv(video: Path, n_frames: int, width: int, height: int) -> int:
    import cv2

    cv2.setNumThreads(1)
    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_N_THREADS, 1) if hasattr(cv2, "CAP_PROP_N_THREADS") else None
    done = 0
    while done < n_frames:
        ok, frame = capture.read()
        if not ok:
            break
        cv2.cvtColor(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        done += 1
    capture.release()
    return done


def _torchcodec(video: Path, n_frames: int, width: int, height: int, chunk: int = 128) -> int:
    import torch
    from torchcodec.decoders import VideoDecoder

    decoder = VideoDecoder(str(video), num_ffmpeg_threads=1, device="cpu")
    done = 0
    for start in range(0, n_frames, chunk):
        frames = decoder.get_frames_in_range(start, min(start + chunk, n_frames)).data   # (N, 3, H, W) uint8
        torch.nn.functional.interpolate(frames.float(), size=(height, width), mode="bilinear", antialias=True)
        done += len(frames)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=None, help="video file (default: the trailer of bench.footage)")
    parser.add_argument("--input-size", type=int, default=112, help="shorter side after resizing")
    parser.add_argument("--clip-frames", type=int, default=128, help="frames per reader in the per-clip row")
    parser.add_argument("--frames", type=int, default=0, help="decode only the first N frames (0: all)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="clips decoded at once in the parallel row (default: the CPUs)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from bench.footage import trailer
    from extractors.video import FrameGeometry, probe_video

    video = Path(args.video) if args.video else trailer()
    info = probe_video(video)
    n_frames = min(args.frames or info.n_frames, info.n_frames)
    geometry = FrameGeometry.for_video(info.width, info.height, args.input_size, "full")
    w, h = geometry.resize_width, geometry.resize_height
    runs = {
        f"decord full size ({info.width}x{info.height})": lambda: _decord_sequential(video, n_frames),
        f"decord resized ({w}x{h})": lambda: _decord_sequential(video, n_frames, w, h),
        f"decord reader per clip ({args.clip_frames} fr)": lambda: _decord_per_clip(video, n_frames, w, h,
                                                                                      args.clip_frames),
        **{f"stage path, {decoder} (windows)": (lambda decoder=decoder: _stage_path(
            video, n_frames, args.input_size, decoder)) for decoder in ("pyav", "decord")},
        **{f"stage path, {decoder}, {args.workers} clips at once": (lambda decoder=decoder: _stage_path_parallel(
            video, n_frames, args.input_size, decoder, args.workers)) for decoder in ("pyav", "decord")},
        f"OpenCV + cv2.resize ({w}x{h})": lambda: _opencv(video, n_frames, w, h),
    }
    try:
        import torchcodec.decoders  # noqa: F401

        runs[f"torchcodec + interpolate ({w}x{h})"] = lambda: _torchcodec(video, n_frames, w, h)
        torchcodec_note = ""
    except Exception as exc:  # not installed, or built for another torch
        torchcodec_note = f"torchcodec: not measured ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})"
    rates = {}
    for name, run in runs.items():
        started = time.perf_counter()
        frames = run()
        rates[name] = frames / (time.perf_counter() - started)
    load = os.getloadavg()
    print(f"decode only, {video.name} ({info.width}x{info.height} @ {info.fps:g} fps, {n_frames} frames), "
          f"1 decoding thread per reader, {os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    reference = next(iter(rates.values()))
    print(f"| {'decoder':40s} | {'frames/s':>8s} | {'vs decord full':>14s} |")
    print(f"|{'-' * 42}|{'-' * 10}|{'-' * 16}|")
    for name, rate in rates.items():
        print(f"| {name:40s} | {rate:8.1f} | {rate / reference:13.2f}x |")
    if torchcodec_note:
        print(torchcodec_note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
