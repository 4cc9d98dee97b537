"""Benchmark of the visual stage on real footage: ours against the compute limit, the JPEG reference
path of the existing extractors, and today's main.

``python -m bench.bench_visual [--video FILE] [--backbone i3d] [--input-size 112] [--batch-size 8]
[--device cpu] [--dtype auto] [--weights FILE] [--checkout DIR] [--quick] [--clips N]
[--decode-workers auto] [--model-lanes auto] [--decoder pyav] [--threads N]``

One run, each configuration in a fresh subprocess (so each peak RSS is its own and the ratios share
the machine's load), at equal settings: same backbone and weights, input size (shorter side, whole
frame: ``crop: full``), 16-frame windows every 16 frames, batch size; on the real 720p H.264 trailer
of :mod:`bench.footage` (or ``--video``), as one clip, or as a movie of ``--clips N`` clips (the same
video N times: every row then does N times the work), which ``visual.decode_workers`` (``--decode-workers``)
can decode at once: the shape of a MovieGraphs movie, and what feeds a GPU. Rows:

- ``model-only``: the windows decoded into memory beforehand, then only normalisation + backbone: the
  compute limit;
- ``decode-only``: our decoding path alone (``visual.decoder``: frames resized in the decode graph,
  windows gathered, the resolved number of decode workers on the clips): the decode limit;
- ``ours``: :func:`extractors.visual.extract_movie` end to end (decode in a background thread, resize,
  normalise, model, ROI pooling of one face track present in every frame, HDF5 parts and merge);
- ``ours float32`` / ``ours no prefetch`` / ``ours one pass``: the same with one of the optimisations
  off (breakdown; ``one pass``: ``visual.model_lanes: 1``);
- ``main's way``: float32, no prefetch thread and decord, i.e. today's main (with ``--checkout DIR`` the
  code of that checkout itself runs, through ``PYTHONPATH=DIR``);
- ``JPEG reference``: the way Hara et al.'s 3D-ResNets-PyTorch and v-iashin/video_features extractors
  work: ``ffmpeg`` writes every frame as a JPEG file (Hara's ``video_jpg_kinetics.py``: shorter side
  240 px), each is loaded with PIL and resized to the input size, then the same backbone runs on the
  same 16-frame windows (bench code only: the baseline, not a product path).

Printed: windows/s, seconds (loop = decode wait + model + pooling + writes; total = the whole stage
including probing, hashing, model load and merge), decode share (the time the loop waited for
frames), peak RSS (and on a GPU peak CUDA memory); then the ratios the targets of README
"Performance" are stated in. ``--device cuda`` also runs float32 (GPU default is bf16 autocast). ``--threads N`` caps torch's CPU
threads in every row (as the stage's ``--threads``; main's checkout through ``torch.set_num_threads``):
with fewer threads than cores, a core is left to the decode thread, as on a machine with more cores
than the model uses.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIP = "trailer"
MAIN = "main's way"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _config(args: argparse.Namespace, dtype: str, prefetch: int | None, decoder: str | None = None) -> dict:
    visual = {"backbone": args.backbone, "input_size": args.input_size, "crop": "full", "window": 16,
              "stride": 16, "batch_size": args.batch_size, "device": args.device, "dtype": dtype}
    if args.weights:
        visual["weights"] = args.weights
    else:
        visual["allow_random_weights"] = True
    if prefetch is not None:   # a checkout older than the prefetch setting does not know the key
        visual["prefetch"] = prefetch
        visual["decode_workers"] = _count_setting(args.decode_workers)
        visual["model_lanes"] = _count_setting(args.model_lanes)
    if decoder:   # else the schema's default
        visual["decoder"] = decoder
    return {"dataset": {"format": "moviegraphs", "root": args.root}, "visual": visual}


def _count_setting(value: str) -> int | str:
    return int(value) if str(value).isdigit() else value


def clip_names(clips: int) -> list[str]:
    """The clips of the bench movie: the video once, or ``clips`` times."""
    return [CLIP] if clips == 1 else [f"{CLIP}_{k + 1:02d}" for k in range(clips)]


def _cuda_peak_mb() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0


def _decoded_windows(settings, video: Path):
    from extractors.video import FrameGeometry, iter_window_batches, plan_windows, probe_video

    info = probe_video(video)
    geometry = FrameGeometry.for_video(info.width, info.height, settings.input_size, settings.crop)
    windows = plan_windows(info.n_frames, settings.window, settings.stride)
    return info, geometry, windows, iter_window_batches(info, geometry, windows, settings.batch_size,
                                                        decoder=settings.decoder)


def _child_model(args: argparse.Namespace, settings) -> dict:
    """Model-only: every window in memory first, then normalise + backbone per batch, as many passes
    at once as the stage runs (``visual.model_lanes``)."""
    import numpy as np
    import torch

    from extractors.backbone import ForwardLanes, load_backbone
    from pipeline.devices import model_lanes

    _, _, windows, batches = _decoded_windows(settings, Path(args.video))
    # The clips are the same video: decoded once; their windows batched one after the other, as the stage does.
    frames = [window for _, batch in batches for window in batch] * args.clips
    backbone = load_backbone(settings)
    threads = torch.get_num_threads()
    lanes = model_lanes(settings.model_lanes, backbone.device.type, backbone.dtype_name, threads)
    batch_frames = [(start, np.stack(frames[start:start + settings.batch_size]))
                    for start in range(0, len(frames), settings.batch_size)]
    started = time.perf_counter()
    with ForwardLanes(backbone, lanes) as forward:   # as many passes at once as the stage runs
        for _, maps in forward.map(batch_frames):
            np.asarray(maps.mean(dim=(2, 3)).cpu())
    elapsed = time.perf_counter() - started
    return {"windows": len(frames), "loop_s": elapsed, "decode_s": 0.0, "total_s": elapsed,
            "dtype": backbone.dtype_name, "lanes": lanes}


def _child_decode(args: argparse.Namespace, settings) -> dict:
    """Decode-only: our decoding path (``visual.decoder``, resized in the decode graph, windows gathered)
    on every clip, as many clips at once as the stage would decode (``decode_workers`` resolved here),
    no model."""
    from extractors.prefetch import ParallelPrefetcher
    from pipeline.devices import decode_ahead, decode_workers

    # Without importing torch (this row's peak RSS is decoding's own): the stage's threads are the CPUs.
    device_type = "cuda" if settings.device.startswith("cuda") else "cpu"
    workers = decode_workers(settings.decode_workers, device_type, os.cpu_count() or 1)
    started = time.perf_counter()
    windows = 0
    with ParallelPrefetcher(range(args.clips), lambda _: _decoded_windows(settings, Path(args.video))[3],
                            workers=workers, depth=max(settings.prefetch, 1),
                            ahead_depth=decode_ahead(workers, max(settings.prefetch, 1))) as batches:
        for batch_windows, _ in batches:
            windows += len(batch_windows)
    elapsed = time.perf_counter() - started
    return {"windows": windows, "loop_s": elapsed, "decode_s": elapsed, "total_s": elapsed, "dtype": "-",
            "decode_workers": workers}


def _child_jpeg(args: argparse.Namespace, settings) -> dict:
    """The JPEG reference path: ffmpeg -> JPEG files -> PIL -> the same backbone on the same windows."""
    from extractors.backbone import load_backbone

    backbone = load_backbone(settings)
    started = time.perf_counter()
    extract_s = load_s = 0.0
    windows: list = []
    for _ in range(args.clips):   # every clip on its own, as the reference extractors do
        extract, load, clip_windows = _jpeg_clip(args, settings, backbone)
        extract_s, load_s, windows = extract_s + extract, load_s + load, windows + clip_windows
    elapsed = time.perf_counter() - started
    return {"windows": len(windows), "loop_s": elapsed, "decode_s": extract_s + load_s, "total_s": elapsed,
            "dtype": backbone.dtype_name, "ffmpeg_s": extract_s}


def _jpeg_clip(args: argparse.Namespace, settings, backbone) -> tuple[float, float, list]:
    """One clip of the JPEG reference path: (ffmpeg seconds, JPEG loading seconds, windows)."""
    import numpy as np
    from PIL import Image

    from bench.footage import ffmpeg
    from extractors.video import FrameGeometry, plan_windows

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="jpeg_ref_") as tmp:
        # Hara's video_jpg_kinetics.py: landscape -> scale=-1:240 (portrait: 240:-1), JPEG per frame.
        subprocess.run([ffmpeg(), "-v", "error", "-threads", "1", "-i", args.video, "-vf", "scale=-1:240",
                        f"{tmp}/image_%05d.jpg"], check=True)
        extracted = time.perf_counter()
        files = sorted(Path(tmp).glob("image_*.jpg"))
        width, height = Image.open(files[0]).size
        geometry = FrameGeometry.for_video(width, height, settings.input_size, settings.crop)
        windows = plan_windows(len(files), settings.window, settings.stride)
        load_s = 0.0
        for start in range(0, len(windows), settings.batch_size):
            tick = time.perf_counter()
            batch = []
            for window in windows[start:start + settings.batch_size]:
                frames = []
                for frame in window.frames:   # as the reference loaders: every frame of a window opened
                    with Image.open(files[frame]) as image:
                        image = image.convert("RGB").resize((geometry.resize_width, geometry.resize_height),
                                                            Image.BILINEAR)
                        frames.append(np.asarray(image))
                batch.append(geometry.crop(np.stack(frames)))
            load_s += time.perf_counter() - tick
            maps = backbone.feature_maps(np.stack(batch))
            np.asarray(maps.mean(dim=(2, 3)).cpu())
    return extracted - started, load_s, windows


def _child_stream(args: argparse.Namespace, settings) -> dict:
    from extractors.visual import extract_movie

    out = Path(args.root) / "out" / f"{args.tag}.h5"
    result = extract_movie(settings, CLIP, out)
    return {"windows": result["windows"], "loop_s": result["decode_s"] + result["model_s"],
            "decode_s": result["decode_s"], "total_s": result["total_s"], "dtype": args.dtype,
            "out_bytes": out.stat().st_size}


# The same stage run by the code of another checkout (PYTHONPATH=DIR): today's main, unmodified.
_CHECKOUT_CHILD = """
import json, resource, sys
from pathlib import Path
from extractors.settings import VisualSettings
from extractors.visual import extract_movie
from pipeline.config import validate_config
import torch
config, out, threads = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if threads:
    torch.set_num_threads(threads)
result = extract_movie(VisualSettings.from_config(validate_config(config)), "trailer", Path(out))
print("RESULT " + json.dumps({"windows": result["windows"], "loop_s": result["decode_s"] + result["model_s"],
      "decode_s": result["decode_s"], "total_s": result["total_s"], "dtype": config["visual"]["dtype"],
      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
      "peak_cuda_mb": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0}))
"""


def _child(args: argparse.Namespace) -> None:
    import logging

    from extractors.settings import VisualSettings
    from pipeline.config import validate_config

    logging.basicConfig(level=logging.WARNING)
    if args.threads and args.child != "decode":   # the decode row does not import torch
        from pipeline.cli import set_torch_threads

        set_torch_threads(args.threads)
    settings = VisualSettings.from_config(validate_config(_config(args, args.dtype, args.prefetch, args.decoder)))
    run = {"model": _child_model, "decode": _child_decode, "jpeg": _child_jpeg, "stream": _child_stream}[args.child]
    result = run(args, settings)
    result.update(peak_rss_mb=_peak_rss_mb(), peak_cuda_mb=_cuda_peak_mb())
    print("RESULT " + json.dumps(result))


def make_dataset(root: Path, video: Path, clips: int = 1) -> None:
    """A movie of ``clips`` clips, each ``video``, with one face track in every frame (so ROI pooling runs)."""
    from extractors.video import probe_video
    from pipeline.tracks import write_clip_tracks, write_track_names

    info = probe_video(video)
    (root / "videos" / CLIP).mkdir(parents=True, exist_ok=True)
    face = (info.width * 0.45, info.height * 0.2, info.width * 0.1, info.height * 0.15)
    for clip in clip_names(clips):
        link = root / "videos" / CLIP / f"{clip}.mp4"
        if not link.exists():
            link.symlink_to(video.resolve())
        write_clip_tracks(root / "ftracks" / CLIP / f"{clip}.json", [[(f, *face) for f in range(info.n_frames)]],
                          info.fps)
    write_track_names(root / "ftrack_ids" / f"{CLIP}.json", {clip: ["Bunny"] for clip in clip_names(clips)})


def _run(args: argparse.Namespace, kind: str, dtype: str, prefetch: int, tag: str, decoder: str | None = None,
         lanes: int | None = None) -> dict:
    decoder = decoder or args.decoder
    command = [sys.executable, "-m", "bench.bench_visual", "--child", kind, "--root", args.root, "--video", args.video,
               "--tag", tag, "--backbone", args.backbone, "--input-size", str(args.input_size),
               "--batch-size", str(args.batch_size), "--device", args.device, "--dtype", dtype,
               "--prefetch", str(prefetch), "--clips", str(args.clips), "--decode-workers", str(args.decode_workers),
               "--model-lanes", str(lanes or args.model_lanes)]
    for option, value in (("--weights", args.weights), ("--decoder", decoder), ("--threads", args.threads)):
        if value:
            command += [option, str(value)]
    return _result(subprocess.run(command, capture_output=True, text=True), tag)


def _run_checkout(args: argparse.Namespace, tag: str) -> dict:
    config = _config(args, "float32", None)
    env = {**os.environ, "PYTHONPATH": str(Path(args.checkout).resolve())}
    command = [sys.executable, "-c", _CHECKOUT_CHILD, json.dumps(config), str(Path(args.root) / "out" / f"{tag}.h5"),
               str(args.threads or 0)]
    return _result(subprocess.run(command, capture_output=True, text=True, env=env, cwd=args.checkout), tag)


def _result(completed: subprocess.CompletedProcess, tag: str) -> dict:
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        raise SystemExit(f"bench run {tag} failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def add_stage_options(parser: argparse.ArgumentParser) -> None:
    """The options that shape every row's run (``_run`` reads them), shared with bench_visual_memory."""
    parser.add_argument("--backbone", default="i3d", choices=["i3d", "resnext101"])
    parser.add_argument("--input-size", type=int, default=112)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (as visual.device)")
    parser.add_argument("--dtype", default="auto", help="as visual.dtype (auto: bf16 on GPU and native-bf16 CPUs)")
    parser.add_argument("--prefetch", type=int, default=2, help="as visual.prefetch")
    parser.add_argument("--decode-workers", default="auto", help="as visual.decode_workers")
    parser.add_argument("--model-lanes", default="auto", help="as visual.model_lanes")
    parser.add_argument("--weights", default=None,
                        help="backbone weights (default: work/weights/i3d_kinetics400.pt for I3D if present, "
                             "else random weights of the same architecture: the speed is the same)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads in every row (default: torch's own, one per core)")


def resolve_weights(args: argparse.Namespace) -> None:
    """``--weights`` by default: the I3D file the ``i3d_weights`` rule converts (in the default work_dir)
    when present, else None (random weights). A ``--weights`` given but missing ends the run with an
    error naming it: a typo never times random weights in its place."""
    from pipeline.config import validate_config
    from pipeline.paths import WorkPaths

    if args.weights is not None:
        weights = Path(args.weights)
        if not weights.is_file():
            raise SystemExit(f"--weights {weights}: no such file")
        args.weights = str(weights.resolve())
    elif args.backbone == "i3d":
        default = WorkPaths(validate_config({})).i3d_weights()
        args.weights = str(default.resolve()) if default.is_file() else None


def weights_label(args: argparse.Namespace) -> str:
    """What a table's header says of the weights: the file's name, or that they are random."""
    return Path(args.weights).name if args.weights else "random (same architecture, same speed)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=None, help="video file (default: the trailer of bench.footage)")
    add_stage_options(parser)
    parser.add_argument("--clips", type=int, default=1, help="the video as a movie of this many clips")
    parser.add_argument("--decoder", default=None, choices=["pyav", "decord"],
                        help="as visual.decoder (default: the config schema's; main's way always uses decord)")
    parser.add_argument("--checkout", default=None,
                        help="a checkout of today's main: its own code runs the 'main' row (default: our code "
                             "with main's settings, float32 and no prefetch)")
    parser.add_argument("--quick", action="store_true", help="leave out the two breakdown rows")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run every row this many times (interleaved) and keep each row's fastest run")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="run", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return

    from bench.footage import trailer

    args.video = str(Path(args.video).resolve()) if args.video else str(trailer())
    resolve_weights(args)
    on_gpu = args.device != "cpu"
    with tempfile.TemporaryDirectory(prefix="bench_visual_") as tmp:
        args.root = tmp
        make_dataset(Path(tmp), Path(args.video), args.clips)
        if on_gpu:  # a first, unreported run pays CUDA's start-up (context, cuDNN autotuning)
            _run(args, "model", args.dtype, args.prefetch, "warmup")
        plan = {"model-only": ("model", args.dtype, 0), "decode-only": ("decode", args.dtype, 0),
                "ours": ("stream", args.dtype, args.prefetch)}
        if not args.quick:
            plan["ours float32"] = ("stream", "float32", args.prefetch)
            plan["ours no prefetch"] = ("stream", args.dtype, 0)
            plan["ours one pass"] = ("stream", args.dtype, args.prefetch, None, 1)
        if on_gpu:
            plan["model-only float32"] = ("model", "float32", 0)
        plan[MAIN] = ("checkout",) if args.checkout else ("stream", "float32", 0, "decord", 1)
        plan["JPEG reference"] = ("jpeg", args.dtype, 0)
        rows: dict[str, dict] = {}
        for repeat in range(args.repeats):   # rows interleaved; per row the fastest repeat (least disturbed)
            for name, (kind, *rest) in plan.items():
                tag = f"{kind}_{'_'.join(map(str, rest))}_{repeat}"
                if kind == "checkout":
                    row = _run_checkout(args, tag)
                else:
                    row = _run(args, kind, *rest[:2], tag, *rest[2:])
                if name not in rows or row["loop_s"] < rows[name]["loop_s"]:
                    rows[name] = row
    load = os.getloadavg()
    threads = f", {args.threads} torch thread(s)" if args.threads else ""
    print(f"visual stage on {args.device} ({os.cpu_count()} CPUs{threads}, best of {args.repeats}, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}), "
          f"{args.backbone} at {args.input_size} px, batch {args.batch_size}, "
          f"weights: {weights_label(args)}; video {Path(args.video).name} "
          f"({rows['ours']['windows']} windows of 16 frames in {args.clips} clip(s); decode-only with "
          f"{rows['decode-only']['decode_workers']} decode worker(s); model-only and ours with "
          f"{rows['model-only']['lanes']} forward pass(es) at once)")
    memory = "peak_cuda_mb" if on_gpu else "peak_rss_mb"
    print(f"| {'run':18s} | {'dtype':8s} | {'windows/s':>9s} | {'loop s':>7s} | {'total s':>7s} | {'decode %':>8s} "
          f"| {'peak RSS MB':>11s} |" + (" peak CUDA MB |" if on_gpu else ""))
    print("|" + "|".join("-" * (n + 2) for n in (18, 8, 9, 7, 7, 8, 11)) + "|" + ("--------------|" if on_gpu else ""))
    for name, row in rows.items():
        print(f"| {name:18s} | {row['dtype']:8s} | {row['windows'] / row['loop_s']:9.2f} | {row['loop_s']:7.1f} "
              f"| {row['total_s']:7.1f} | {100 * row['decode_s'] / row['loop_s']:7.1f}% | {row['peak_rss_mb']:11.0f} |"
              + (f" {row['peak_cuda_mb']:12.0f} |" if on_gpu else ""))
    speed = {name: row["windows"] / row["loop_s"] for name, row in rows.items()}
    ours = rows["ours"]
    print(f"ours loop / model-only:           {ours['loop_s'] / rows['model-only']['loop_s']:.2f}  (target <= 1.10)")
    print(f"ours total / model-only:          {ours['total_s'] / rows['model-only']['loop_s']:.2f}")
    print(f"speed ours / JPEG reference:      {speed['ours'] / speed['JPEG reference']:.2f}  "
          f"(target >= {3 if on_gpu else 1.3})")
    print(f"speed ours / main's way:          {speed['ours'] / speed[MAIN]:.2f}  "
          f"(target >= 1.6 on CPU)")
    print(f"speed ours / decode limit:        {speed['ours'] / speed['decode-only']:.2f}  (GPU target >= 0.80)")
    if not args.quick:
        print(f"speed ours / ours float32:        {speed['ours'] / speed['ours float32']:.2f}  (dtype {args.dtype})")
        print(f"speed ours / ours no prefetch:    {speed['ours'] / speed['ours no prefetch']:.2f}")
        print(f"speed ours / ours one pass:       {speed['ours'] / speed['ours one pass']:.2f}  "
              f"(visual.model_lanes {args.model_lanes})")
    print(f"feature file: {ours['out_bytes'] / ours['windows'] / 1024:.1f} KB per window (global + 1 track)")
    print(f"peak memory {memory}, ours / main's way: "
          f"{ours[memory] / rows[MAIN][memory]:.2f}")


if __name__ == "__main__":
    main()
