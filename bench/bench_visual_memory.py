"""Memory benchmark of the visual stage: peak RSS on the real trailer and on the same trailer looped
``--loops`` times (10 by default: 9 min 11 s, 13,230 frames), each in its own subprocess.

``python -m bench.bench_visual_memory [--loops 10] [--dtype auto] [--prefetch 2] [--batch-size 8]``

The stage keeps ``batch_size * window`` frames per batch (plus ``prefetch`` batches queued) and
writes every batch's vectors to the clip's part file; decord's own read-ahead of the rest of the
video is what still grows with its length (README "Performance", Memory; target: longer / real <= 1.5).
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from bench.bench_visual import _run, make_dataset
    from bench.footage import looped, trailer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=10)
    parser.add_argument("--backbone", default="i3d", choices=["i3d", "resnext101"])
    parser.add_argument("--input-size", type=int, default=112)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--prefetch", type=int, default=2)
    parser.add_argument("--decode-workers", default="auto")
    parser.add_argument("--weights", default=None)
    args = parser.parse_args(argv)
    args.clips = 1
    if args.weights is None and args.backbone == "i3d":
        default = Path("work/weights/i3d_kinetics400.pt")
        args.weights = str(default.resolve()) if default.is_file() else None
    videos = {"trailer": trailer(), f"trailer x{args.loops}": looped(args.loops)}
    rows = {}
    for name, video in videos.items():
        with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
            args.root, args.video = tmp, str(video)
            make_dataset(Path(tmp), video)
            rows[name] = _run(args, "stream", args.dtype, args.prefetch, name.replace(" ", "_"))
    load = os.getloadavg()
    print(f"visual stage peak memory ({args.device}, {args.backbone} at {args.input_size} px, batch {args.batch_size}, "
          f"prefetch {args.prefetch}, dtype {args.dtype}; load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    print(f"| {'video':14s} | {'windows':>7s} | {'windows/s':>9s} | {'peak RSS MB':>11s} | {'peak CUDA MB':>12s} |")
    print(f"|{'-' * 16}|{'-' * 9}|{'-' * 11}|{'-' * 13}|{'-' * 14}|")
    for name, row in rows.items():
        print(f"| {name:14s} | {row['windows']:7d} | {row['windows'] / row['loop_s']:9.2f} | {row['peak_rss_mb']:11.0f} "
              f"| {row['peak_cuda_mb']:12.0f} |")
    short, long = rows.values()
    print(f"peak RSS, x{args.loops} / trailer: {long['peak_rss_mb'] / short['peak_rss_mb']:.2f}  (target <= 1.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
