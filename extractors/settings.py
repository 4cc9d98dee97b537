"""Typed settings of the two extractor stages, built from a validated config (no defaults of their
own: the schema's defaults are the only ones). Light to import: no torch."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.dataset import DatasetLayout
from pipeline.paths import WorkPaths
from pipeline.tracks import PersonBoxRatios

# The feature map each backbone's vectors come from (provenance in the output attributes).
FEATURE_LAYERS = {"i3d": "Mixed_5c", "resnext101": "layer4"}


@dataclass(frozen=True)
class RoiSettings:
    """``visual.roi``: the torchvision.ops ROI op on the last feature map."""

    op: str
    output_size: int
    sampling_ratio: int
    aligned: bool

    @classmethod
    def from_section(cls, roi: dict[str, Any]) -> "RoiSettings":
        return cls(op=roi["op"], output_size=int(roi["output_size"]), sampling_ratio=int(roi["sampling_ratio"]),
                   aligned=bool(roi["aligned"]))


@dataclass(frozen=True)
class VisualSettings:
    """Everything that shapes the visual features (``visual`` section, dataset paths, track scale)."""

    layout: DatasetLayout
    backbone: str
    weights: Path
    allow_random_weights: bool
    input_size: int
    crop: str
    window: int
    stride: int
    batch_size: int
    decoder: str
    prefetch: int
    decode_workers: int | str   # an integer or "auto" (pipeline.devices.decode_workers)
    model_lanes: int | str      # an integer or "auto" (pipeline.devices.model_lanes)
    device: str
    dtype: str
    roi: RoiSettings
    person_box: PersonBoxRatios
    keep_maps: bool
    track_scale: float
    seed: int
    on_error: str

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "VisualSettings":
        visual = config["visual"]
        return cls(
            layout=DatasetLayout.from_config(config), backbone=visual["backbone"],
            weights=WorkPaths(config).visual_weights(visual),
            allow_random_weights=bool(visual["allow_random_weights"]), input_size=int(visual["input_size"]),
            crop=visual["crop"], window=int(visual["window"]), stride=int(visual["stride"]),
            batch_size=int(visual["batch_size"]), decoder=visual["decoder"], prefetch=int(visual["prefetch"]),
            decode_workers=visual["decode_workers"], model_lanes=visual["model_lanes"], device=visual["device"],
            dtype=visual["dtype"],
            roi=RoiSettings.from_section(visual["roi"]), person_box=PersonBoxRatios.from_config(config),
            keep_maps=bool(visual["keep_maps"]), track_scale=float(config["dataset"]["track_scale"]),
            seed=int(config["seed"]), on_error=config["on_error"]["visual"],
        )

    def shaping_attrs(self) -> dict[str, Any]:
        """The settings that shape the numbers, as HDF5 attributes (batch size, prefetch, decode
        workers, model lanes and paths excluded; the resolved dtype is the backbone's attribute)."""
        attrs = {
            "backbone": self.backbone, "feature_layer": FEATURE_LAYERS[self.backbone],
            "input_size": self.input_size, "crop": self.crop, "window": self.window, "stride": self.stride,
            "decoder": self.decoder,
            "roi_op": self.roi.op, "roi_output_size": self.roi.output_size,
            "roi_sampling_ratio": self.roi.sampling_ratio, "roi_aligned": self.roi.aligned,
            "track_scale": self.track_scale, "keep_maps": self.keep_maps,
        }
        attrs.update({f"person_box_{key}": value for key, value in asdict(self.person_box).items()})
        return attrs


@dataclass(frozen=True)
class DialogSettings:
    """The ``dialog`` section and where the subtitles are."""

    layout: DatasetLayout
    model: str
    layer: int
    token_pooling: str
    batch_size: int
    max_length: int
    device: str
    on_error: str

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "DialogSettings":
        dialog = config["dialog"]
        return cls(layout=DatasetLayout.from_config(config), model=dialog["model"], layer=int(dialog["layer"]),
                   token_pooling=dialog["token_pooling"], batch_size=int(dialog["batch_size"]),
                   max_length=int(dialog["max_length"]), device=dialog["device"],
                   on_error=config["on_error"]["dialog"])

    def encoder_arguments(self) -> dict[str, Any]:
        """Keyword arguments of :class:`extractors.text_encoder.SentenceEncoder`."""
        return {"model": self.model, "layer": self.layer, "token_pooling": self.token_pooling,
                "max_length": self.max_length, "batch_size": self.batch_size, "device": self.device}
