"""Device and autocast-dtype selection shared by the extractors (visual, dialog) and the model.

Config values: ``device`` is "auto" (cuda when present, else cpu), "cpu", "cuda", "cuda:1", ...;
``dtype`` is "auto" (bfloat16 autocast on GPU, float32 on CPU), "float32", "bfloat16" or "float16".
"""
from __future__ import annotations

import torch

from pipeline.config import ConfigError

_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


def resolve_device(spec: str = "auto") -> torch.device:
    """The torch device named by a config value; "auto" picks cuda when available, else cpu.

    Raises :class:`ConfigError` for an unknown spec or a cuda device that is not present.
    """
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError):
        raise ConfigError(f"device {spec!r}: not a torch device (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {spec!r}: CUDA is not available on this machine (use auto or cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {spec!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif device.type != "cpu":
        raise ConfigError(f"device {spec!r}: only cpu and cuda devices are supported")
    return device


def autocast_dtype(spec: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``device``, or None for plain float32 (no autocast).

    "auto": bfloat16 on cuda, None on cpu. A reduced precision asked for on cpu is honoured only for
    bfloat16 (CPU autocast does not support float16 well); float16 on cpu raises :class:`ConfigError`.
    """
    spec = (spec or "auto").strip().lower()
    device = torch.device(device)
    if spec == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    if spec not in _DTYPES:
        raise ConfigError(f"dtype {spec!r}: use one of auto, {', '.join(_DTYPES)}")
    dtype = _DTYPES[spec]
    if dtype == torch.float32:
        return None
    if device.type == "cpu" and dtype == torch.float16:
        raise ConfigError("dtype 'float16': not supported on cpu (use auto, float32 or bfloat16)")
    return dtype


def autocast_context(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` for ``dtype`` on ``device``, or a no-op context when ``dtype`` is None."""
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype, enabled=dtype is not None)
