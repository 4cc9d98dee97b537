"""What makes the 3D convolutions fast on this CPU: model-only windows/s of one backbone under each
setting, in one process on the same in-memory windows of real footage.

``python -m bench.bench_backbone [--backbone i3d] [--batches 3] [--batch-size 8] [--compile] [--rows KEY,...]``

``--rows`` keeps only some rows (keys in brackets below; today's main is always measured, as the
reference): on a CPU without native bf16 the emulated bf16 rows and "oneDNN off" take most of the
time.

Rows (one untimed warm-up batch each, then ``--batches`` rounds in which every setting runs once on
the same batch; per row the median, and the median per-round ratio to today's main):

- ``float32 contiguous`` [contiguous]: plain NCDHW layout, BatchNorm folded;
- ``float32 channels_last_3d`` [main]: today's main (oneDNN's blocked NDHWC kernels);
- ``float32, oneDNN off`` [no-onednn]: ``torch.backends.mkldnn`` disabled (ATen's own convolutions);
- ``bf16 autocast`` [autocast]: float32 weights, ``torch.autocast(cpu, bfloat16)`` (weights cast at every call);
- ``bf16 weights`` [bf16]: the visual stage's CPU default where bf16 is fast (AMX, or AVX-512 BF16 on AMD; weights and input bf16);
- ``bf16 weights, 1 thread`` [bf16-1-thread]: the same on one core (scaling with threads);
- ``bf16 weights + torch.compile`` (``--compile``: inductor, minutes of compilation).

The frames are the first windows of the real trailer (:mod:`bench.footage`), at 112 px (full frame).
"""
from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import numpy as np


# Row key (for --rows) -> the row's name in the table.
ROWS = {"contiguous": "float32 contiguous", "main": "float32 channels_last_3d", "no-onednn": "float32, oneDNN off",
        "autocast": "bf16 autocast", "bf16": "bf16 weights", "bf16-1-thread": "bf16 weights, 1 thread"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="i3d", choices=["i3d", "resnext101"])
    parser.add_argument("--input-size", type=int, default=112)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--rows", default=",".join(ROWS),
                        help=f"comma-separated row keys, of {', '.join(ROWS)} (default: all; main is always run)")
    args = parser.parse_args(argv)
    keys = [key.strip() for key in args.rows.split(",") if key.strip()]
    unknown = [key for key in keys if key not in ROWS]
    if unknown:
        parser.error(f"--rows: unknown row {', '.join(unknown)}; known: {', '.join(ROWS)}")
    import torch

    from bench.bench_visual import resolve_weights, weights_label
    from bench.footage import trailer
    from extractors.backbone import Backbone, load_backbone
    from extractors.settings import VisualSettings
    from extractors.video import FrameGeometry, iter_window_batches, plan_windows, probe_video
    from pipeline.config import validate_config
    from pipeline.devices import autocast_context, cpu_fast_bf16, cpu_native_bf16

    resolve_weights(args)
    visual = {"backbone": args.backbone, "device": "cpu", "dtype": "float32", "input_size": args.input_size}
    if args.weights:
        visual["weights"] = args.weights
    else:
        visual["allow_random_weights"] = True
    visual_settings = VisualSettings.from_config(validate_config({"visual": visual}))
    base = load_backbone(visual_settings)
    video = trailer()
    info = probe_video(video)
    geometry = FrameGeometry.for_video(info.width, info.height, args.input_size, "full")
    windows = plan_windows(info.n_frames, 16, 16)[: args.batch_size * (args.batches + 1)]
    batches = [frames for _, frames in iter_window_batches(info, geometry, windows, args.batch_size,
                                                        decoder=visual_settings.decoder)]

    def variant(dtype, layout=torch.channels_last_3d) -> Backbone:
        model = copy.deepcopy(base.model).to(memory_format=layout)
        backbone = Backbone(model=model, name=base.name, weights_file="", weights_sha256="", random_weights=False,
                            device=base.device, dtype=dtype)
        if backbone.precision == "weights":
            backbone.model = model.to(dtype)
        return backbone

    contiguous = variant(torch.float32, torch.contiguous_format)
    fp32 = variant(torch.float32)
    bf16 = variant(torch.bfloat16)
    threads = torch.get_num_threads()

    def run_contiguous(frames):
        with torch.inference_mode():
            return contiguous.model.features(contiguous.normalise(frames).contiguous())

    def run_no_onednn(frames):
        with torch.backends.mkldnn.flags(enabled=False):
            return fp32.feature_maps(frames)

    def run_autocast(frames):
        with torch.inference_mode(), autocast_context(fp32.device, torch.bfloat16):
            return fp32.model.features(fp32.normalise(frames))

    def run_one_thread(frames):
        torch.set_num_threads(1)
        try:
            return bf16.feature_maps(frames)
        finally:
            torch.set_num_threads(threads)

    runs = {"contiguous": run_contiguous, "main": fp32.feature_maps, "no-onednn": run_no_onednn,
            "autocast": run_autocast, "bf16": bf16.feature_maps, "bf16-1-thread": run_one_thread}
    settings = {ROWS[key]: run for key, run in runs.items() if key == "main" or key in keys}
    if args.compile:
        compiled = variant(torch.bfloat16)
        compiled.model.features = torch.compile(compiled.model.features)
        started = time.perf_counter()
        compiled.feature_maps(batches[0])
        print(f"torch.compile: first call (compilation) {time.perf_counter() - started:.0f} s")
        settings["bf16 weights + torch.compile"] = compiled.feature_maps
    for run in settings.values():          # warm-up: oneDNN primitive creation
        run(batches[0])
    # Rounds: every setting once per round on the same batch, so a burst of load from elsewhere hits
    # all settings of that round alike; per setting the median, and the median of its per-round
    # ratio to float32 channels_last_3d (today's main).
    seconds: dict[str, list[float]] = {name: [] for name in settings}
    for frames in batches[1:]:
        for name, run in settings.items():
            started = time.perf_counter()
            run(frames)
            seconds[name].append(time.perf_counter() - started)
    reference = seconds["float32 channels_last_3d"]
    rows = {name: (args.batch_size / float(np.median(times)),
                   float(np.median([ref / t for ref, t in zip(reference, times)])))
            for name, times in seconds.items()}
    load = os.getloadavg()
    print(f"{args.backbone} model only at {args.input_size} px ({geometry.input_width}x{geometry.input_height}), "
          f"batch {args.batch_size}, median of {args.batches} rounds; {os.cpu_count()} CPUs, {threads} torch threads, "
          f"native bf16: {cpu_native_bf16()}, auto picks bf16: {cpu_fast_bf16()}, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"weights: {weights_label(args)}")
    print(f"| {'setting':30s} | {'windows/s':>9s} | {'vs main (fp32 CL)':>17s} |")
    print(f"|{'-' * 32}|{'-' * 11}|{'-' * 19}|")
    for name, (rate, ratio) in rows.items():
        print(f"| {name:30s} | {rate:9.2f} | {ratio:16.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
