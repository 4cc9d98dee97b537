"""The workflow on the tiny demo through the Snakemake CLI, shared by the workflow and prediction tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# Few epochs: this checks the plumbing and ranges; learning itself is tested in test_train.py.
TINY_CONFIG = {
    "demo": {"size": "tiny"},
    "train": {"epochs": 3, "burn_in": 1, "eval_every": 1, "batch_size": 16, "lr": 0.001},
    "visual": {"batch_size": 4},
}


def job_environment() -> dict[str, str]:
    """Offline model hubs; PYTHONPATH makes jobs in another directory import this checkout's code."""
    return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(REPO_ROOT),
                PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def snakemake(workdir: Path, *args: str, check: bool = True,
              config: dict = TINY_CONFIG) -> subprocess.CompletedProcess:
    overrides = workdir / "tiny_config.yaml"
    overrides.write_text(yaml.safe_dump(config))
    command = SNAKEMAKE + ["--snakefile", str(REPO_ROOT / "Snakefile"), "--directory", str(workdir),
                           "--configfile", str(REPO_ROOT / "workflow_config.yaml"), str(overrides), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=job_environment(), timeout=1500)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    return result
