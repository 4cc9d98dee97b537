"""Where every work product lives: one place for all paths, used by the Snakefile and the stages."""
from __future__ import annotations

from pathlib import Path
from typing import Any


class WorkPaths:
    """Paths of the work products below ``work_dir`` and ``results_dir``."""

    def __init__(self, config: dict[str, Any] | None = None, work_dir: str | None = None,
                 results_dir: str | None = None):
        config = config or {}
        self.work = Path(work_dir or config.get("work_dir", "work"))
        self.results = Path(results_dir or config.get("results_dir", "results"))

    # stage outputs -------------------------------------------------------------------------
    def i3d_weights(self) -> Path:
        return self.work / "weights" / "i3d_kinetics400.pt"

    def annotations(self, movie: str) -> Path:
        return self.work / "annotations" / f"{movie}.parquet"

    def annotations_summary(self) -> Path:
        return self.work / "annotations" / "summary.json"

    def annotations_split(self) -> Path:
        return self.work / "annotations" / "split.json"

    def visual_features(self, movie: str) -> Path:
        return self.work / "features" / "visual" / f"{movie}.h5"

    def dialog_features(self, movie: str) -> Path:
        return self.work / "features" / "dialog" / f"{movie}.h5"

    def samples(self, pooling: str, split: str) -> Path:
        return self.work / "samples" / pooling / f"{split}.h5"

    def model_dir(self, experiment: str) -> Path:
        return self.work / "models" / experiment

    def checkpoint(self, experiment: str) -> Path:
        return self.model_dir(experiment) / "best.pt"

    def evaluation(self, experiment: str, split: str) -> Path:
        return self.work / "eval" / experiment / f"{split}.json"

    def table(self, number: int | str, suffix: str = "csv") -> Path:
        return self.results / f"table{number}.{suffix}"
