"""Encoders that need no weights: raw pixels (the paper's floor) and seeded random init."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InvalidParameterError
from .base import EncoderSpec, Preprocessing, register

RANDOM_SEED = 0


class Pixels(nn.Module):
    """The paper's 'none' encoder: the image itself, resized to 32 px, flattened."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def _no_weights(name: str, weights: str | None) -> None:
    if weights is not None:  # never let a weights file be silently ignored
        raise InvalidParameterError(
            f"{name} has no weights to load, so --weights {weights} would be ignored; drop --weights "
            "or choose an encoder that takes a checkpoint"
        )


def _pixels(weights: str | None = None) -> nn.Module:
    _no_weights("pixels", weights)
    return Pixels().eval()


def _random_timm(arch: str, **kwargs: object):
    def build(weights: str | None = None) -> nn.Module:
        import timm

        _no_weights(f"the random-init {arch}", weights)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            model = timm.create_model(arch, pretrained=False, num_classes=0, **kwargs)
        return model.eval()

    return build


register(EncoderSpec(
    "pixels", "none", "none", "baseline", "raw pixels", 3 * 32 * 32, _pixels,
    Preprocessing(size=32, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)),
    weights_id="none", description="Images resized to 32x32 RGB and flattened (the paper's floor).",
))
register(EncoderSpec(
    "random_resnet50", "ResNet-50", "random", "baseline", "timm:resnet50 (random init)", 2048,
    _random_timm("resnet50"), weights_id=f"random-seed{RANDOM_SEED}",
    description="ResNet-50 with timm's default random initialisation, torch seed 0.",
))
register(EncoderSpec(
    "random_vitb16", "ViT-B/16", "random", "baseline", "timm:vit_base_patch16_224 (random init)", 768,
    _random_timm("vit_base_patch16_224", global_pool="token"), weights_id=f"random-seed{RANDOM_SEED}",
    description="ViT-B/16 with timm's default random initialisation, torch seed 0; CLS token.",
))
