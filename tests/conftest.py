"""Shared pytest set-up: offline model hubs, repository root on sys.path, fast CPU torch."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Real MovieGraphs release files of one movie, kept in the repository (tests/fixtures/README.md).
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "moviegraphs"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
