"""Encoder specs: what an encoder is (backbone family, training method, tier, weights) and how
images are prepared for it. Concrete encoders are declared in the sibling modules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..registry import Registry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

FAMILIES = ("ResNet-50", "ViT-B/16", "EfficientNet", "ResNet-small", "ViT-small", "none")
METHODS = ("supervised", "mocov3", "dino", "vicreg", "mae", "clip", "random", "none")
TIERS = ("baseline", "paper", "package", "zoo")
PRECISIONS = ("fp32", "fp16")


@dataclass(frozen=True)
class Preprocessing:
    """Resize (shorter side), centre-crop, scale to [0, 1], normalise; grayscale becomes RGB."""

    size: int = 224
    resize: int | None = None  # shorter side before the crop; None means `size` (zoom 1.0)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    interpolation: str = "bilinear"  # "bilinear" | "bicubic" | "nearest"
    channels: int = 3
    # The paper's raw-pixel baseline (analysis/utils.py:187-193 `clip_imgsize`): the input size is
    # min(size, the dataset's native image size), so MNIST and Fashion-MNIST stay at 28 px.
    clip_to_native: bool = False

    def for_native_size(self, native: int | None) -> Preprocessing:
        """The preprocessing for a dataset whose images are all `native` px square (None: not
        known or not all the same); differs from self only with `clip_to_native`."""
        if self.clip_to_native and native is not None and native < self.size:
            return replace(self, size=native, resize=None)
        return self

    def key(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.clip_to_native:  # keys (and cache entries) made before the field stay valid
            del out["clip_to_native"]
        return out


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
    # Arithmetic on CUDA: "fp32", or "fp16" (weights and activations in half precision, as the
    # paper's CLIP models, which clip.load() keeps in fp16 on a GPU). Always fp32 on the CPU.
    cuda_precision: str = "fp32"
    # a training-seed replicate of another encoder (same recipe, another seed): analyses fold it
    # into that encoder, its `training_seed` beside the clustering seed
    replicate_of: str | None = None
    training_seed: int = 0

    def __post_init__(self) -> None:
        for what, value, allowed in (("family", self.family, FAMILIES),
                                     ("method", self.method, METHODS),
                                     ("tier", self.tier, TIERS),
                                     ("cuda_precision", self.cuda_precision, PRECISIONS)):
            if value not in allowed:
                raise ValueError(f"encoder {self.name!r}: {what} {value!r} is not one of {allowed}")

    def precision(self, device_type: str) -> str:
        """"fp32" or "fp16": the arithmetic this encoder runs in on a device of that type."""
        return self.cuda_precision if device_type == "cuda" else "fp32"


ENCODERS: Registry[EncoderSpec] = Registry("encoder")


def register(spec: EncoderSpec) -> EncoderSpec:
    return ENCODERS.register(spec.name, spec)
