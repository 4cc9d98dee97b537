"""Memory benchmark of the visual stage: peak RSS on the real trailer and on the same trailer looped
``--loops`` times (10 by default: 9 min 11 s, 13,230 frames), each in its own subprocess, for each
decoder of ``visual.decoder`` (``--decoders``, both by default, in one run).

``python -m bench.bench_visual_memory [--loops 10] [--decoders pyav decord] [--dtype auto] [--prefetch 2]
[--batch-size 8] [--threads N] ...``

(the options of every run are bench_visual's: ``bench.bench_visual.add_stage_options``)

The stage keeps ``batch_size * window`` frames per batch (plus ``prefetch`` batches queued) and
writes every batch's vectors to the clip's part file. With ``pyav`` nothing more is decoded than a
batch asks for; decord 0.6.0 decodes the rest of the video ahead, which grows with its length
(README "Performance", Memory; target: longer / real <= 1.5).
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from bench.bench_visual import _run, add_stage_options, make_dataset, resolve_weights, weights_label
    from bench.footage import looped, trailer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=10)
    parser.add_argument("--decoders", nargs="+", default=["pyav", "decord"], choices=["pyav", "decord"])
    add_stage_options(parser)
    args = parser.parse_args(argv)
    args.clips, args.decoder = 1, None     # the rest of what bench_visual's _run reads: one clip, decoder per row
    resolve_weights(args)
    videos = {"trailer": trailer(), f"trailer x{args.loops}": looped(args.loops)}
    rows = {}
    for decoder in args.decoders:
        for name, video in videos.items():
            with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
                args.root, args.video = tmp, str(video)
                make_dataset(Path(tmp), video)
                rows[decoder, name] = _run(args, "stream", args.dtype, args.prefetch,
                                           f"{decoder}_{name.replace(' ', '_')}", decoder)
    load = os.getloadavg()
    print(f"visual stage peak memory ({args.device}, {args.backbone} at {args.input_size} px, batch {args.batch_size}, "
          f"prefetch {args.prefetch}, dtype {args.dtype}, weights {weights_label(args)}; "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    print(f"| {'decoder':7s} | {'video':14s} | {'windows':>7s} | {'windows/s':>9s} | {'peak RSS MB':>11s} "
          f"| {'peak CUDA MB':>12s} |")
    print(f"|{'-' * 9}|{'-' * 16}|{'-' * 9}|{'-' * 11}|{'-' * 13}|{'-' * 14}|")
    for (decoder, name), row in rows.items():
        print(f"| {decoder:7s} | {name:14s} | {row['windows']:7d} | {row['windows'] / row['loop_s']:9.2f} "
              f"| {row['peak_rss_mb']:11.0f} | {row['peak_cuda_mb']:12.0f} |")
    for decoder in args.decoders:
        short, long = (rows[decoder, name] for name in videos)
        print(f"{decoder}: peak RSS, x{args.loops} / trailer: {long['peak_rss_mb'] / short['peak_rss_mb']:.2f}  "
              f"(target <= 1.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
