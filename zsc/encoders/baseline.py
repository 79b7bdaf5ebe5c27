"""Encoders that need no weights: raw pixels (the paper's floor) and seeded random init.

Both follow the paper's code (github.com/scottclowe/zs-ssl-clustering @ 5cb58bd):

* pixels — ``cluster.py:126-136`` flattens the images that ``embed.make_dataloader``
  (``embed.py:135-146``) prepares: ``Resize(image_size)``, ``CenterCrop(image_size)``,
  ``ToTensor``, ImageNet mean/std, greyscale repeated to RGB. ``image_size`` is 32, clipped to
  the dataset's native size (``analysis/utils.py:187-193``), i.e. 28 px for MNIST and
  Fashion-MNIST; `Preprocessing.clip_to_native` and the dataset's ``image_size`` do that here.
* random — ``encoders/api.py:255-256,66-90``: torchvision ``resnet50(weights=None)`` /
  ``vit_b_16(weights=None)``, i.e. torchvision's default initialisation (ResNet:
  ``zero_init_residual=False``, every BatchNorm weight 1), classifier replaced by Identity, built
  after the torch RNG is seeded with 0 (``embed.py:27-28``, ``--seed`` default 0).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..errors import InvalidParameterError
from .base import EncoderSpec, Preprocessing, register

RANDOM_SEED = 0
PIXELS_SIZE = 32


class Pixels(nn.Module):
    """The paper's 'none' encoder: the preprocessed image itself, flattened."""

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


def random_torchvision(arch: str) -> Callable[[str | None], nn.Module]:
    """torchvision `arch` with its default random initialisation, torch seed 0, head removed."""

    def build(weights: str | None = None) -> nn.Module:
        import torchvision.models as tvm

        _no_weights(f"the random-init {arch}", weights)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            model = getattr(tvm, arch)(weights=None)
        if hasattr(model, "fc"):
            model.fc = nn.Identity()  # ResNet: global average pool, 2048-d
        else:
            model.heads = nn.Identity()  # ViT: class token after the final LayerNorm, 768-d
        return model.eval()

    return build


register(EncoderSpec(
    name="pixels", family="none", method="none", tier="baseline", source="raw pixels",
    dim=3 * PIXELS_SIZE * PIXELS_SIZE, build=_pixels,
    preprocessing=Preprocessing(size=PIXELS_SIZE, clip_to_native=True),
    weights_id="none",
    description="Images resized to 32x32 RGB (28x28 for MNIST and Fashion-MNIST: never above the "
                "dataset's native size), ImageNet-normalised and flattened (the paper's floor).",
))
register(EncoderSpec(
    name="random_resnet50", family="ResNet-50", method="random", tier="baseline",
    source="torchvision:resnet50(weights=None)", dim=2048, build=random_torchvision("resnet50"),
    weights_id=f"torchvision-random-seed{RANDOM_SEED}",
    description="ResNet-50 with torchvision's default random initialisation (zero_init_residual="
                "False), torch seed 0; global average pool.",
))
register(EncoderSpec(
    name="random_vitb16", family="ViT-B/16", method="random", tier="baseline",
    source="torchvision:vit_b_16(weights=None)", dim=768, build=random_torchvision("vit_b_16"),
    weights_id=f"torchvision-random-seed{RANDOM_SEED}",
    description="ViT-B/16 with torchvision's default random initialisation, torch seed 0; class "
                "token after the final LayerNorm.",
))
