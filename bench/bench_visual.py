"""Benchmark of the visual stage: windows per second, decode vs model time, peak memory.

``python -m bench.bench_visual [--input-size 112] [--batch-size 8] [--seconds 20] [--clips 4]
[--device cpu] [--dtype auto] [--weights FILE]``

Renders demo-like clips (160x120 at 8 fps, a moving square, two face tracks per clip), then runs
:func:`extractors.visual.extract_movie` in a fresh subprocess per configuration (so each peak RSS is
its own) and prints, in one run so that the ratios do not depend on the machine's load:

- ``base``: the configured batch size and clip length: windows/s, decode and model+pool seconds;
- ``long``: the same clips 4x longer: peak memory must stay about the same (streaming decode);
- ``batch1``: batch size 1: the speed-up of batching and its memory cost;
- on a GPU (``--device cuda``) also ``fp32``: the base run without autocast, for the speed-up of the
  reduced-precision autocast (``--dtype``, bf16 by default) over float32.

Peak memory is the process's peak RSS, and on a GPU also torch's peak allocated CUDA memory.

Weights: ``--weights``, else the converted I3D file when present (work/weights/i3d_kinetics400.pt),
else random weights of the same architecture (the speed is the same).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

FPS = 8
SIZE = (160, 120)


def _render(root: Path, movie: str, clips: int, seconds: int) -> None:
    from pipeline.demo.writers import write_test_pattern_video
    from pipeline.tracks import write_clip_tracks, write_track_names

    names = {}
    for k in range(clips):
        clip = f"clip{k:02d}"
        n_frames = seconds * FPS
        write_test_pattern_video(root / "videos" / movie / f"{clip}.mp4", n_frames=n_frames, size=SIZE, fps=FPS,
                                 seed=k)
        write_clip_tracks(root / "ftracks" / movie / f"{clip}.json",
                          [[(f, 30.0, 20.0, 16.0, 16.0) for f in range(0, n_frames, 2)],
                           [(f, 100.0, 30.0, 14.0, 14.0) for f in range(n_frames // 2, n_frames)]], FPS)
        names[clip] = ["Alice", "Bob"]
    write_track_names(root / "ftrack_ids" / f"{movie}.json", names)


def _child(args: argparse.Namespace) -> None:
    """Run one extraction and print its counts, timings and peak RSS as JSON."""
    import logging

    from extractors.settings import VisualSettings
    from extractors.visual import extract_movie
    from pipeline.config import validate_config
    from pipeline.paths import WorkPaths

    logging.basicConfig(level=logging.WARNING)
    weights = Path(args.weights) if args.weights else WorkPaths(validate_config({})).i3d_weights()
    config = validate_config({
        "dataset": {"format": "moviegraphs", "root": args.root},
        "visual": {"input_size": args.input_size, "batch_size": args.batch_size, "device": args.device,
                   "dtype": args.dtype, "weights": str(weights), "allow_random_weights": not weights.is_file()},
    })
    result = extract_movie(VisualSettings.from_config(config), args.movie, Path(args.root) / "out" / f"{args.movie}-{args.tag}.h5")
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import torch

    result["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0
    result["random_weights"] = not weights.is_file()
    print("RESULT " + json.dumps(result))


def _run(root: Path, movie: str, tag: str, args: argparse.Namespace, batch_size: int, dtype: str) -> dict:
    command = [sys.executable, "-m", "bench.bench_visual", "--child", "--root", str(root), "--movie", movie,
               "--tag", tag, "--input-size", str(args.input_size), "--batch-size", str(batch_size),
               "--device", args.device, "--dtype", dtype] + (["--weights", args.weights] if args.weights else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-size", type=int, default=112)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20, help="clip length of the base configuration")
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (as visual.device)")
    parser.add_argument("--dtype", default="auto", help="autocast dtype (as visual.dtype; auto: bf16 on GPU)")
    parser.add_argument("--weights", default=None,
                        help="converted I3D weights (default: work/weights/i3d_kinetics400.pt if present, else random)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="run", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--movie", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return

    with tempfile.TemporaryDirectory(prefix="bench_visual_") as tmp:
        root = Path(tmp)
        _render(root, "base", args.clips, args.seconds)
        _render(root, "long", args.clips, 4 * args.seconds)
        on_gpu = args.device != "cpu"
        if on_gpu:  # a first, unreported run pays CUDA's start-up (context, cuDNN autotuning)
            _run(root, "base", "warmup", args, args.batch_size, args.dtype)
        runs = {
            "base": _run(root, "base", "base", args, args.batch_size, args.dtype),
            "long": _run(root, "long", "long", args, args.batch_size, args.dtype),
            "batch1": _run(root, "base", "batch1", args, 1, args.dtype),
        }
        if on_gpu:
            runs["fp32"] = _run(root, "base", "fp32", args, args.batch_size, "float32")
    base = runs["base"]
    print(f"visual stage on {args.device}, input {args.input_size} px "
          f"(videos {SIZE[0]}x{SIZE[1]} @ {FPS} fps, {args.clips} clips), dtype {args.dtype}, "
          f"weights: {'random' if base['random_weights'] else 'I3D Kinetics-400'}")
    memory = "peak_cuda_mb" if on_gpu else "peak_rss_mb"
    print(f"{'run':8s} {'batch':>5s} {'windows':>8s} {'win/s':>7s} {'decode s':>9s} {'model s':>8s} "
          f"{'decode %':>8s} {'peak MB':>8s}  ({'CUDA allocated' if on_gpu else 'RSS'})")
    for name, run in runs.items():
        busy = run["decode_s"] + run["model_s"]
        batch = 1 if name == "batch1" else args.batch_size
        print(f"{name:8s} {batch:5d} {run['windows']:8d} {run['windows'] / busy:7.2f} {run['decode_s']:9.2f} "
              f"{run['model_s']:8.2f} {100 * run['decode_s'] / busy:7.1f}% {run[memory]:8.0f}")
    long, single = runs["long"], runs["batch1"]
    speed = lambda run: run["windows"] / (run["decode_s"] + run["model_s"])  # noqa: E731
    print(f"peak memory, 4x longer clips / base: {long[memory] / base[memory]:.2f} (streaming: ~1)")
    print(f"speed, batch {args.batch_size} / batch 1: {speed(base) / speed(single):.2f}")
    if on_gpu:
        print(f"speed, autocast {args.dtype} / float32: {speed(base) / speed(runs['fp32']):.2f}")


if __name__ == "__main__":
    main()
