"""Device and compute-dtype selection shared by the extractors (visual, dialog) and the model.

Config values: ``device`` is "auto" (cuda when present, else cpu), "cpu", "cuda", "cuda:1", ...;
``dtype`` is "auto", "float32", "bfloat16" or "float16". "auto" resolves to bfloat16 on a GPU, to
bfloat16 on a CPU whose bf16 3D convolutions oneDNN runs faster than float32 (AMX, or AVX-512 BF16 on
AMD: about 2x; :func:`fast_bf16_from_cpuinfo` says what was measured), and to float32 on other CPUs
(an Intel CPU with AVX-512 BF16 but no AMX runs them slower than float32; without native bf16 they
are emulated).
How the dtype is used (bf16 weights on CPU, autocast on GPU) is the visual backbone's business
(:mod:`extractors.backbone`). :func:`decode_workers` says how many clips the visual stage decodes at
once on a device ("auto": 1 on CPU, the job's threads minus one on GPU), :func:`model_lanes` how
many forward passes it runs at once ("auto": 2 for bf16 weights on a CPU, else 1).

Light to import: torch is imported inside the functions that need it, so that the workflow can
resolve a dtype at parse time (:func:`dtype_name`) without loading torch.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import ConfigError

if TYPE_CHECKING:
    import torch

DTYPE_NAMES = ("float32", "bfloat16", "float16")
# /proc/cpuinfo flags of native bf16 arithmetic: x86 AVX-512 BF16 and AMX, Arm's BF16 extension.
_BF16_FLAGS = {"avx512_bf16", "amx_bf16", "bf16"}
_CPUINFO = Path("/proc/cpuinfo")


def resolve_device(spec: str = "auto") -> "torch.device":
    """The torch device named by a config value; "auto" picks cuda when available, else cpu.

    Raises :class:`ConfigError` for an unknown spec or a cuda device that is not present.
    """
    import torch

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


def _cpu_vendor_and_flags(text: str) -> tuple[str, set[str]]:
    """(vendor_id, flags) of the first CPU of a /proc/cpuinfo text ("Features" on Arm)."""
    vendor, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "vendor_id" and not vendor:
            vendor = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return vendor, flags


def _read_cpuinfo() -> str:
    try:
        return _CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


@lru_cache(maxsize=1)
def cpu_native_bf16() -> bool:
    """True when this machine's CPU has native bf16 instructions (read from /proc/cpuinfo's flags)."""
    return bool(_BF16_FLAGS & _cpu_vendor_and_flags(_read_cpuinfo())[1])


def fast_bf16_from_cpuinfo(text: str) -> bool:
    """Whether oneDNN's bf16 3D convolutions beat float32 on the CPU a /proc/cpuinfo text describes.

    Measured with ``bench.bench_backbone`` (I3D at 112 px, bf16 weights against float32
    channels_last_3d): 1.96x on an AMD EPYC with AVX-512 BF16, 0.72x on an Intel Xeon with AVX-512
    BF16 but no AMX, whose bf16 convolutions oneDNN runs on AVX-512 without AMX tiles. So: AMX
    (``amx_bf16``) on any x86 CPU, AVX-512 BF16 on AMD, and Arm's BF16 extension; float32 elsewhere.
    """
    vendor, flags = _cpu_vendor_and_flags(text)
    if "amx_bf16" in flags:
        return True
    if "avx512_bf16" in flags:
        return vendor == "AuthenticAMD"
    return "bf16" in flags and not vendor       # Arm cpuinfo has "Features" and no vendor_id


@lru_cache(maxsize=1)
def cpu_fast_bf16() -> bool:
    """:func:`fast_bf16_from_cpuinfo` of this machine: what ``dtype: auto`` uses on a CPU."""
    return fast_bf16_from_cpuinfo(_read_cpuinfo())


def dtype_name(spec: str, device_type: str, fast_bf16: bool | None = None) -> str:
    """The compute dtype ("float32", "bfloat16", "float16") that ``spec`` means on a device type.

    "auto": bfloat16 on cuda; on cpu bfloat16 where bf16 convolutions are faster than float32
    (``fast_bf16``, default :func:`cpu_fast_bf16`), else float32. float16 on cpu raises :class:`ConfigError` (oneDNN has no
    fast float16 3D convolutions).
    """
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if device_type == "cuda":
            return "bfloat16"
        return "bfloat16" if (cpu_fast_bf16() if fast_bf16 is None else fast_bf16) else "float32"
    if spec not in DTYPE_NAMES:
        raise ConfigError(f"dtype {spec!r}: use one of auto, {', '.join(DTYPE_NAMES)}")
    if device_type == "cpu" and spec == "float16":
        raise ConfigError("dtype 'float16': not supported on cpu (use auto, float32 or bfloat16)")
    return spec


def _auto_or_count(name: str, spec: int | str) -> int | None:
    """A setting that is "auto" (None) or a count >= 1; anything else is a :class:`ConfigError`."""
    if isinstance(spec, str):
        if spec.strip().lower() != "auto":
            raise ConfigError(f"{name} {spec!r}: use auto or an integer >= 1")
        return None
    if spec < 1:
        raise ConfigError(f"{name} {spec}: use auto or an integer >= 1")
    return int(spec)


def decode_workers(spec: int | str, device_type: str, threads: int) -> int:
    """How many clips the visual stage decodes at once (``visual.decode_workers``).

    "auto": 1 on cpu (the backbone keeps every core busy; decoding a clip costs about a sixth of its
    model time there, README "Performance"), ``threads - 1`` (at least 1) on a GPU, where one
    decoding core feeds far fewer windows per second than the GPU computes. An integer is used as is.
    """
    count = _auto_or_count("decode_workers", spec)
    if count is None:
        return 1 if device_type == "cpu" else max(1, threads - 1)
    return count


def model_lanes(spec: int | str, device_type: str, dtype: str, threads: int) -> int:
    """How many forward passes the visual stage runs at once (``visual.model_lanes``), each with
    ``threads // lanes`` torch threads.

    "auto": 2 for bf16 weights on a cpu with 2 or more threads, else 1. On the 2-core Zen 4 machine
    of README "Performance" the stage ran 1.05-1.08x faster with two 1-thread passes than with one
    2-thread pass, with the same bytes (oneDNN's bf16 convolutions there give the same numbers on 1
    and 2 threads): a pass on one thread waits less on its own threads, and the decoding thread
    then stalls one pass, not both threads of one. In float32 two passes ran 0.82x and the last bits
    follow the threads per pass, so float32 keeps 1.
    A GPU runs one pass at a time (1). An integer is used as is, at most ``threads`` on a cpu.
    """
    count = _auto_or_count("model_lanes", spec)
    if count is None:
        return 2 if device_type == "cpu" and dtype == "bfloat16" and threads >= 2 else 1
    return min(count, max(threads, 1)) if device_type == "cpu" else count


def decode_ahead(workers: int, prefetch: int) -> int | None:
    """Batches a clip behind the one being read may decode ahead (:class:`extractors.prefetch.
    ParallelPrefetcher`'s ``ahead_depth``): ``prefetch`` with one worker, so memory stays at a few
    batches whatever the clips' length; no limit with several, since the batches are handed out in
    the clips' order and a clip behind the one read could otherwise decode only ``prefetch`` batches
    before waiting: each of the ``workers`` clips ahead then holds up to its own frames."""
    return prefetch if workers == 1 else None


def compute_dtype(spec: str, device: "torch.device") -> "torch.dtype":
    """:func:`dtype_name` of ``spec`` on ``device`` as a torch dtype."""
    import torch

    return getattr(torch, dtype_name(spec, torch.device(device).type))


def autocast_context(device: "torch.device", dtype: "torch.dtype | None"):
    """``torch.autocast`` for ``dtype`` on ``device``, or a no-op context when ``dtype`` is None."""
    import torch

    return torch.autocast(device_type=torch.device(device).type, dtype=dtype, enabled=dtype is not None)
