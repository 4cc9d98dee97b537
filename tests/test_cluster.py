"""The README's cluster command on a real SLURM cluster: one node started on this machine.

``tests/cluster/slurm_up.sh`` installs Debian's slurm-wlm and munge when missing, starts munged,
slurmctld and slurmd (one node with this machine's CPUs and one fake GPU) and
``tests/cluster/slurm_down.sh`` stops exactly those daemons. Where that cannot be done (not root, no
apt) the tests are skipped with the reason.

1. The tiny workflow's Table 1 through ``snakemake --profile profiles/slurm`` (the site settings a user
   sets: ``--max-threads`` for this node's CPUs, a short first status check): every job went through
   sbatch (the controller's records), and the table equals a local run's.
2. A GPU rule asks SLURM for a GPU when the config says ``cuda``, on this machine without one: the
   job is submitted with a GPU (its TRES) and fails on the node (no CUDA here), as it must.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests._workflow_helpers import TINY_CONFIG, run_snakemake, scheduled_jobs
from tests.conftest import REPO_ROOT

CLUSTER = REPO_ROOT / "tests" / "cluster"
STATE = Path(os.environ.get("LIREC_SLURM_STATE", "/tmp/lirec-slurm-test"))
pytestmark = pytest.mark.skipif(shutil.which("apt-get") is None and shutil.which("slurmctld") is None,
                                reason="neither SLURM nor apt-get to install it is available on this machine")


@pytest.fixture(scope="module")
def cluster():
    env = dict(os.environ, STATE=str(STATE))
    started = subprocess.run(["bash", str(CLUSTER / "slurm_up.sh")], capture_output=True, text=True, env=env,
                             timeout=900)
    if started.returncode == 3:
        pytest.skip(started.stderr.strip().replace("SLURM-SKIP ", ""))
    assert started.returncode == 0 and "SLURM-UP" in started.stdout, started.stdout + started.stderr
    try:
        yield STATE
    finally:
        subprocess.run(["bash", str(CLUSTER / "slurm_down.sh")], env=env, timeout=60)


def _slurm_jobs() -> dict[str, str]:
    """job id -> the controller's record (``scontrol show job``) of every job it still knows."""
    output = subprocess.run(["scontrol", "-o", "show", "job"], capture_output=True, text=True).stdout
    return {re.search(r"JobId=(\d+)", line).group(1): line for line in output.splitlines() if "JobId=" in line}


SLURM_PROFILE = str(REPO_ROOT / "profiles" / "slurm")
# The site settings of this one-node cluster: its CPUs, and a first status check after 2 s.
SITE = ("--max-threads", str(os.cpu_count()), "--slurm-init-seconds-before-status-checks", "2")


def test_readme_cluster_command_runs_the_workflow_through_sbatch(cluster, table1_run, tmp_path):
    before = set(_slurm_jobs())
    planned = scheduled_jobs(run_snakemake(tmp_path, "-n", "--profile", SLURM_PROFILE, *SITE,
                                           "results/table1.csv").stdout)
    result = run_snakemake(tmp_path, "--profile", SLURM_PROFILE, *SITE, "--latency-wait", "5", "results/table1.csv",
                           check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-8000:]
    jobs = [record for job, record in _slurm_jobs().items() if job not in before]
    assert all("BatchFlag=1" in record and "JobState=COMPLETED" in record for record in jobs), jobs
    ran = {}
    for record in jobs:      # the plugin names each job's rule in the SLURM comment: rule_<name>_wildcards_...
        rule = re.search(r"Comment=rule_(\w+?)(_wildcards\S*)?(\s|$)", record).group(1)
        ran[rule] = ran.get(rule, 0) + 1
    assert ran == planned, f"jobs through sbatch {ran} vs planned {planned}"
    assert (tmp_path / "results" / "table1.csv").read_bytes() == (table1_run / "results" / "table1.csv").read_bytes()


def test_a_cuda_config_asks_slurm_for_a_gpu(cluster, table1_run, tmp_path):
    # The demo data and weights of the local run; then one visual job with visual.device: cuda via SLURM.
    shutil.copytree(table1_run / "data", tmp_path / "data")
    shutil.copytree(table1_run / "work" / "weights", tmp_path / "work" / "weights")
    config = dict(TINY_CONFIG, visual={"device": "cuda", "batch_size": 4})
    before = set(_slurm_jobs())
    result = run_snakemake(tmp_path, "--profile", SLURM_PROFILE, *SITE, "--retries", "0",
                           "work/features/visual/dm0001.h5", config=config, check=False)
    assert result.returncode != 0                       # no CUDA on this machine: the job must fail there
    jobs = [record for job, record in _slurm_jobs().items() if job not in before]
    assert len(jobs) == 1 and "Comment=rule_visual_features" in jobs[0], result.stdout + result.stderr
    assert re.search(r"TresPerJob=gres(/|:)gpu:1", jobs[0]), jobs[0]
    assert "CUDA is not available" in (tmp_path / "logs" / "visual" / "dm0001.log").read_text()
    # With the default device ("auto") the same job asks for no GPU: a login node decides nothing.
    dry = run_snakemake(tmp_path, "-n", "--profile", SLURM_PROFILE, *SITE, "work/features/visual/dm0001.h5")
    assert "gpu=0" in dry.stdout
