"""3D ResNeXt-101 of Hara et al. (CVPR 2018), the paper's visual backbone (Sec. 4.1).

Architecture exactly as the released ``resnext-101-kinetics.pth`` (reference notes §3.1): cardinality
32, bottleneck expansion 2, shortcut B (1x1x1 conv + BN on the first block of each layer), layers
3-4-23-3 with planes 128/256/512/1024 -> 256/512/1024/2048 channels. Parameter names equal the
checkpoint's (after stripping the ``module.`` prefix of ``nn.DataParallel``), so it loads strictly.

Input (reference notes §3.3): 16-frame windows, 112 px, RGB in 0..255 minus the ActivityNet mean
[114.7748, 107.7354, 99.4750], no std. Feature map = layer4: 2048 x T/16 x H/32 x W/32 (1x4x4 at 112).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from extractors.weights import WeightsError, load_state_dict_strictly, read_torch_checkpoint

CARDINALITY = 32
EXPANSION = 2
LAYERS_101 = (3, 4, 23, 3)
PLANES = (128, 256, 512, 1024)
FEATURE_CHANNELS = PLANES[-1] * EXPANSION  # 2048
NUM_CLASSES = 400
ACTIVITYNET_MEAN = (114.7748, 107.7354, 99.4750)
CHECKPOINT_ARCH = "resnext-101"


class ResNeXtBottleneck(nn.Module):
    """1x1x1 -> grouped 3x3x3 (stride) -> 1x1x1 (planes*2), BN after each, residual, ReLU."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        mid = CARDINALITY * (planes // 32)
        self.conv1 = nn.Conv3d(inplanes, mid, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = nn.Conv3d(mid, mid, kernel_size=3, stride=stride, padding=1, groups=CARDINALITY, bias=False)
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = nn.Conv3d(mid, planes * EXPANSION, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * EXPANSION)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def fold_batch_norms(self) -> None:
        """Inference only: fold bn1-bn3 (and the shortcut's BN) into the convolutions before them."""
        for conv, bn in (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")):
            if not isinstance(getattr(self, bn), nn.BatchNorm3d):
                continue  # folded already
            setattr(self, conv, fuse_conv_bn_eval(getattr(self, conv).eval(), getattr(self, bn).eval()))
            setattr(self, bn, nn.Identity())
        if self.downsample is not None and len(self.downsample) == 2:
            self.downsample = nn.Sequential(fuse_conv_bn_eval(self.downsample[0].eval(), self.downsample[1].eval()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


class ResNeXt3D(nn.Module):
    """Hara's 3D ResNeXt (shortcut B). ``features(x)`` = layer4 map, ``forward(x)`` = Kinetics logits."""

    backbone_name = "resnext101"
    feature_channels = FEATURE_CHANNELS
    input_mean = ACTIVITYNET_MEAN
    input_std = (1.0, 1.0, 1.0)

    def __init__(self, layers: tuple[int, int, int, int] = LAYERS_101, num_classes: int = NUM_CLASSES,
                 sample_size: int = 112, sample_duration: int = 16):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv3d(3, 64, kernel_size=7, stride=(1, 2, 2), padding=(3, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(PLANES[0], layers[0], stride=1)
        self.layer2 = self._make_layer(PLANES[1], layers[1], stride=2)
        self.layer3 = self._make_layer(PLANES[2], layers[2], stride=2)
        self.layer4 = self._make_layer(PLANES[3], layers[3], stride=2)
        # Hara's head: AvgPool3d((ceil(T/16), ceil(S/32), ceil(S/32))) then fc (no parameters in the pool).
        self.avgpool = nn.AvgPool3d((math.ceil(sample_duration / 16), math.ceil(sample_size / 32),
                                     math.ceil(sample_size / 32)), stride=1)
        self.fc = nn.Linear(FEATURE_CHANNELS, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.BatchNorm3d):
                module.weight.data.fill_(1)
                module.bias.data.zero_()

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * EXPANSION:  # shortcut B: projection
            downsample = nn.Sequential(
                nn.Conv3d(self.inplanes, planes * EXPANSION, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm3d(planes * EXPANSION),
            )
        blocks_list = [ResNeXtBottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * EXPANSION
        blocks_list += [ResNeXtBottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*blocks_list)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """layer4 feature map (B, 2048, T', H', W') of a normalised clip batch (B, 3, T, H, W)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def logits_from_features(self, feature_map: torch.Tensor) -> torch.Tensor:
        """Kinetics logits: global average of the layer4 map (Hara's avgpool at 16x112x112) then fc."""
        return self.fc(F.adaptive_avg_pool3d(feature_map, 1).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits_from_features(self.features(x))

    def fold_batch_norms(self) -> "ResNeXt3D":
        """Inference only: fold every BatchNorm into its convolution (same outputs, fewer passes).

        The state dict changes layout (conv biases, no ``bn``), so load weights before folding.
        """
        self.eval()
        if isinstance(self.bn1, nn.BatchNorm3d):
            self.conv1 = fuse_conv_bn_eval(self.conv1.eval(), self.bn1.eval())
            self.bn1 = nn.Identity()
        for module in self.modules():
            if isinstance(module, ResNeXtBottleneck):
                module.fold_batch_norms()
        return self


def resnext101(num_classes: int = NUM_CLASSES) -> ResNeXt3D:
    """Hara's ``resnext-101`` (cardinality 32, shortcut B, 3-4-23-3)."""
    return ResNeXt3D(LAYERS_101, num_classes=num_classes)


def strip_dataparallel_prefix(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove the ``module.`` prefix that ``nn.DataParallel`` adds to every key."""
    prefix = "module."
    return {(key[len(prefix):] if key.startswith(prefix) else key): value for key, value in state_dict.items()}


def load_resnext101_kinetics(path: str | Path, model: ResNeXt3D | None = None) -> ResNeXt3D:
    """Load Hara's ``resnext-101-kinetics.pth`` (``{'arch', 'state_dict' with 'module.' keys, ...}``).

    Also accepts a bare state dict. Loading is strict: a missing or unexpected key (e.g. a shortcut-A
    or ResNet checkpoint) raises :class:`WeightsError` naming the file and the keys.
    """
    path = Path(path)
    checkpoint = read_torch_checkpoint(path, what="ResNeXt-101 weights")
    if isinstance(checkpoint, dict) and "state_dict" in checkpoint:
        arch = checkpoint.get("arch")
        if arch is not None and arch != CHECKPOINT_ARCH:
            raise WeightsError(f"{path}: checkpoint arch is {arch!r}, expected {CHECKPOINT_ARCH!r}")
        state_dict = checkpoint["state_dict"]
    elif isinstance(checkpoint, dict):
        state_dict = checkpoint
    else:
        raise WeightsError(f"{path}: expected a checkpoint dict, found {type(checkpoint).__name__}")
    model = model if model is not None else resnext101()
    load_state_dict_strictly(model, strip_dataparallel_prefix(state_dict), path,
                             what="a cardinality-32 shortcut-B ResNeXt-101 state dict")
    return model
