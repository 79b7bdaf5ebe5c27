"""Encoder specs: what an encoder is (backbone family, training method, tier, weights) and how
images are prepared for it. Concrete encoders are declared in the sibling modules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..registry import Registry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

FAMILIES = ("ResNet-50", "ViT-B/16", "EfficientNet", "ResNet-small", "ViT-small", "none")
METHODS = ("supervised", "mocov3", "dino", "vicreg", "mae", "clip", "random", "none")
TIERS = ("baseline", "paper", "package", "zoo")


@dataclass(frozen=True)
class Preprocessing:
    """Resize (shorter side), centre-crop, scale to [0, 1], normalise; grayscale becomes RGB."""

    size: int = 224
    resize: int | None = None  # shorter side before the crop; None means `size` (zoom 1.0)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    interpolation: str = "bilinear"  # "bilinear" | "bicubic" | "nearest"
    channels: int = 3

    def key(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EncoderSpec:
    """A registered encoder. `build(weights_path)` returns an eval-mode module that maps a
    preprocessed batch (B, C, H, W) to pooled features (B, dim)."""

    name: str
    family: str
    method: str
    tier: str
    source: str  # e.g. "timm:resnet50.tv_in1k", "torch.hub:facebookresearch/dino:main/dino_resnet50"
    dim: int
    build: Callable[[str | None], Any]
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    weights_id: str = ""  # identifies the exact weights; part of every embedding cache key
    weights_available: Callable[[], bool] = field(default=lambda: True)
    optional: bool = False  # fine-tuned variants etc., not part of the default grids
    description: str = ""

    def __post_init__(self) -> None:
        assert self.family in FAMILIES, self.family
        assert self.method in METHODS, self.method
        assert self.tier in TIERS, self.tier


ENCODERS: Registry[EncoderSpec] = Registry("encoder")


def register(spec: EncoderSpec) -> EncoderSpec:
    return ENCODERS.register(spec.name, spec)
