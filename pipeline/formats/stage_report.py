"""``<output>.report.json``: what a stage did with its inputs, written beside its outputs.

One per job of the visual, dialog and samples stages (the annotations stage reports in its
``summary.json``)::

    {"stage": "visual", "target": "dm0001", "on_error": "fail" | "skip",
     "counts": {name: number, ...},                       # what was read, made, dropped
     "skipped": [{"item": "clip scene-003...", "file": path, "reason": text}, ...],
     "warnings": [{"file": path, "message": text}, ...]}  # kept, but not as the file says

``skipped`` lists what the skip policy left out (a bad clip or movie: nothing of it goes downstream);
``warnings`` what was used with a caveat (boxes dropped, a video shorter than its annotations, a clip
without features). The samples stage reads its inputs' reports and leaves out the samples of every
clip an upstream stage skipped, so the tables count only what was kept.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.h5io import write_json_atomic

log = logging.getLogger("pipeline.formats.stage_report")


def report_path(output: str | Path) -> Path:
    """The report of an output file: ``<output>.report.json`` beside it."""
    output = Path(output)
    return output.with_name(output.name + ".report.json")


@dataclass
class StageReport:
    stage: str
    target: str
    on_error: str
    counts: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)

    def skip(self, item: str, file: str | Path, reason: str) -> None:
        """Leave ``item`` out (skip policy): logged as a WARNING and listed."""
        self.skipped.append({"item": item, "file": str(file), "reason": reason})
        log.warning("%s %s: skipped %s (%s): %s", self.stage, self.target, item, file, reason)

    def warn(self, file: str | Path, message: str) -> None:
        """Something kept with a caveat: logged as a WARNING naming the file, and listed."""
        self.warnings.append({"file": str(file), "message": message})
        log.warning("%s: %s", file, message)

    def skipped_items(self) -> set[str]:
        return {entry["item"] for entry in self.skipped}

    def write(self, output: str | Path) -> Path:
        path = report_path(output)
        write_json_atomic(path, asdict(self))
        return path


def read_stage_report(path: str | Path) -> StageReport:
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
        return StageReport(**payload)
    except FileNotFoundError:
        raise PipelineError(f"{path}: stage report not found") from None
    except (json.JSONDecodeError, TypeError) as exc:
        raise PipelineError(f"{path}: not a stage report ({exc})") from None
