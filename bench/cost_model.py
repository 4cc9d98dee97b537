"""Cost model of feature extraction for MovieGraphs from measured per-window and per-sentence costs.

``python -m bench.cost_model --cpu-windows-per-s R --sentences-per-s S --kb-per-window K
[--cpu-cores 2] [--gpu-windows-per-s G] [--gpus N] [--clips 7637] [--clip-seconds 44.3] [--fps 24]
[--sentences-per-clip 12] [--kb-per-sentence 0.75]``

Prints one table: windows and sentences of the dataset, extraction time on the measured CPU machine,
on a CPU machine with more cores (linear scaling in cores assumed, as one movie per process), on one
GPU and on N cluster GPUs (movies spread over them; 51 movies bound the parallelism), and storage.
The dataset figures are assumptions stated on the command line (defaults: MovieGraphs' 7,637 clips
of 51 movies, 44.3 s average clip length, 24 fps, 12 subtitle sentences per clip); the rates are
what ``bench_visual`` / ``bench_dialog`` measured. A GPU rate is an input too: measure it with
``bench_visual --device cuda`` (README "Performance" says where it is an estimate).
"""
from __future__ import annotations

import argparse
import math


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:8.1f} h" if seconds >= 3600 else f"{seconds / 60:8.1f} min"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-windows-per-s", type=float, required=True, help="measured on --cpu-cores cores")
    parser.add_argument("--cpu-cores", type=int, default=2)
    parser.add_argument("--big-cpu-cores", type=int, default=32, help="cores of the 'CPU server' row")
    parser.add_argument("--sentences-per-s", type=float, required=True)
    parser.add_argument("--kb-per-window", type=float, required=True, help="feature file KB per window")
    parser.add_argument("--gpu-windows-per-s", type=float, default=None)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--movies", type=int, default=51)
    parser.add_argument("--clips", type=int, default=7637)
    parser.add_argument("--clip-seconds", type=float, default=44.3)
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--sentences-per-clip", type=float, default=12.0)
    parser.add_argument("--kb-per-sentence", type=float, default=0.75, help="MiniLM 384-d float16")
    args = parser.parse_args(argv)
    frames_per_clip = args.clip_seconds * args.fps
    windows = args.clips * math.ceil(frames_per_clip / args.window)
    sentences = args.clips * args.sentences_per_clip
    dialog_s = sentences / args.sentences_per_s
    rows = [(f"this CPU machine ({args.cpu_cores} cores)", windows / args.cpu_windows_per_s)]
    per_core = args.cpu_windows_per_s / args.cpu_cores
    rows.append((f"a {args.big_cpu_cores}-core CPU server (linear in cores)",
                 windows / (per_core * args.big_cpu_cores)))
    if args.gpu_windows_per_s:
        rows.append(("one GPU", windows / args.gpu_windows_per_s))
        gpus = min(args.gpus, args.movies)
        # Movies are the unit of work: with N GPUs the slowest GPU gets ceil(movies / N) movies.
        rows.append((f"{args.gpus} cluster GPUs (a movie per job)",
                     windows / args.gpu_windows_per_s * math.ceil(args.movies / gpus) / args.movies))
    print(f"MovieGraphs: {args.movies} movies, {args.clips} clips x {args.clip_seconds} s at {args.fps:g} fps "
          f"= {args.clips * args.clip_seconds / 3600:.0f} h of video, {windows:,} windows of {args.window} frames, "
          f"~{sentences:,.0f} sentences")
    print(f"| {'where':42s} | {'visual':>11s} | {'dialog, 1 thread':>16s} |")
    print(f"|{'-' * 44}|{'-' * 13}|{'-' * 18}|")
    for name, seconds in rows:
        print(f"| {name:42s} | {_hours(seconds):>11s} | {_hours(dialog_s):>16s} |")
    storage_gb = (windows * args.kb_per_window + sentences * args.kb_per_sentence) / 2**20
    print(f"storage: visual {windows * args.kb_per_window / 2**20:.1f} GB ({args.kb_per_window:g} KB/window), "
          f"dialog {sentences * args.kb_per_sentence / 2**20:.2f} GB; total {storage_gb:.1f} GB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
