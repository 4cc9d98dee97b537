"""Where every work product lives: one place for all paths, used by the Snakefile and the stages."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Hara et al.'s Kinetics checkpoint, looked for in work/weights/ when visual.weights is null.
RESNEXT_WEIGHTS_FILE = "resnext-101-kinetics.pth"


@dataclass(frozen=True, init=False)
class WorkPaths:
    """Paths of the work products below ``work_dir`` and ``results_dir``."""

    work: Path
    results: Path

    def __init__(self, config: dict[str, Any]):
        """From a validated config (``work_dir``, ``results_dir``)."""
        object.__setattr__(self, "work", Path(config["work_dir"]))
        object.__setattr__(self, "results", Path(config["results_dir"]))

    # stage outputs -------------------------------------------------------------------------
    def i3d_weights(self) -> Path:
        return self.work / "weights" / "i3d_kinetics400.pt"

    def visual_weights(self, visual: dict[str, Any]) -> Path:
        """The backbone's weights file: ``visual.weights``, else the default location in ``work_dir``
        (the ``i3d_weights`` rule's output for I3D; where the user puts Hara's checkpoint for ResNeXt)."""
        if visual["weights"]:
            return Path(visual["weights"])
        if visual["backbone"] == "i3d":
            return self.i3d_weights()
        return self.work / "weights" / RESNEXT_WEIGHTS_FILE

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

    def repeat_checkpoints(self, experiment: str, repeats: int) -> list[Path]:
        """``best.pt`` of the repeats after the first (``train.repeats``; repeat 0 is ``model_dir``'s)."""
        return [repeat_dir(self.model_dir(experiment), repeat) / "best.pt" for repeat in range(1, repeats)]

    def evaluation(self, experiment: str, split: str) -> Path:
        return self.work / "eval" / experiment / f"{split}.json"

    # prediction ------------------------------------------------------------------------------
    def predict_checkpoint(self, predict: dict[str, Any]) -> Path:
        """``predict.checkpoint``, else the ``best.pt`` of ``predict.experiment`` (the train rule's)."""
        return Path(predict["checkpoint"]) if predict["checkpoint"] else self.model_dir(predict["experiment"]) / "best.pt"

    def predict_work(self, movie: str) -> Path:
        """Prediction's own products of a movie: cached features, its sample shards."""
        return self.work / "predict" / movie

    def predict_results(self, movie: str) -> Path:
        """``predictions.json``, ``graph.json``, ``graph.png``, ``index.html`` of a movie."""
        return self.results / "predict" / movie

    def predict_index(self) -> Path:
        return self.results / "predict" / "index.html"


def repeat_dir(model_dir: str | Path, repeat: int) -> Path:
    """The folder of repeat ``repeat`` of an experiment: the model folder itself for repeat 0,
    ``repeat<k>/`` inside it for the others."""
    return Path(model_dir) if repeat == 0 else Path(model_dir) / f"repeat{repeat}"
