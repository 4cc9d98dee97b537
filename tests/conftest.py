"""Shared pytest set-up: offline model hubs, repository root on sys.path, fast CPU torch; the tiny
workflow run that several test modules read (``table1_run``)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Real MovieGraphs release files of one movie, kept in the repository (tests/fixtures/README.md).
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "moviegraphs"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def table1_run(tmp_path_factory) -> Path:
    """One real run of ``results/table1.csv`` on the tiny demo config (shared by the workflow tests)."""
    from tests._workflow_helpers import run_snakemake

    workdir = tmp_path_factory.mktemp("table1")
    run_snakemake(workdir, "--cores", "2", "results/table1.csv")
    return workdir
