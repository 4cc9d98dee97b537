"""Job resources decided at workflow parse time, without importing torch (parsing stays fast)."""
from __future__ import annotations

import os
from pathlib import Path

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def gpu_present() -> bool:
    """True when an NVIDIA GPU is visible to this process."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return NVIDIA_GPUS.is_dir() and any(NVIDIA_GPUS.iterdir())


def gpu_jobs(device_spec: str) -> int:
    """The `gpu` resource of a job running on `device_spec` ("auto", "cpu", "cuda:0", ...).

    CPU jobs declare no GPU, so they are not serialised by the profile's `gpu: 1` limit.
    """
    if device_spec == "cpu":
        return 0
    if device_spec == "auto":
        return 1 if gpu_present() else 0
    return 1
