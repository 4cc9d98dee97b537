"""The workflow on the tiny demo through the Snakemake CLI, shared by the workflow, cluster and
prediction tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT

# Few epochs: the workflow tests check the plumbing and ranges; learning is tested in test_train.py.
TINY_CONFIG = {
    "demo": {"size": "tiny"},
    "train": {"epochs": 3, "burn_in": 1, "eval_every": 1, "batch_size": 16, "lr": 0.001},
    "visual": {"batch_size": 4},
}


def job_environment(repository: Path = REPO_ROOT) -> dict[str, str]:
    """Offline model hubs; PYTHONPATH makes jobs in another directory import ``repository``'s code."""
    return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(repository),
                PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def run_snakemake(workdir: Path, *args: str, check: bool = True, config: dict = TINY_CONFIG,
                  snakefile: Path = REPO_ROOT / "Snakefile", timeout: int = 1800) -> subprocess.CompletedProcess:
    """``snakemake --directory workdir`` on the repository's config plus ``config`` (as overrides)."""
    overrides = workdir / "tiny_config.yaml"
    overrides.write_text(yaml.safe_dump(config))
    env = job_environment(Path(snakefile).parent)
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(workdir),
               "--configfile", str(Path(snakefile).parent / "workflow_config.yaml"), str(overrides), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, cwd=workdir)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    return result


def scheduled_jobs(output: str) -> dict[str, int]:
    """Rule -> job count from the "Job stats" table of a dry run ({} when nothing is to be done)."""
    if "Nothing to be done" in output:
        return {}
    table = output.split("Job stats:", 1)[1]
    jobs = {}
    for line in table.splitlines()[3:]:
        fields = line.split()
        if not fields or fields[0] == "total":
            break
        jobs[fields[0]] = int(fields[1])
    return jobs
