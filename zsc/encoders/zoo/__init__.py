"""Tier 2 — the offline zoo: small ResNets and ViTs pretrained on Fashion-MNIST's train split.

A laptop-scale analog of the paper's encoder zoo: two backbone families (``ResNet-small``,
``ViT-small``, see ``models.py``) times the paper's training methods (supervised, MoCo v3, DINO,
VICReg, MAE) plus seeded random-init twins. Weights ship in ``zsc/weights/zoo`` as safetensors
(backbone only) with one model card per member; ``train.py`` reproduces them
(``python -m zsc.encoders.zoo.train NAME``).

Every member takes 28x28 single-channel input normalised with Fashion-MNIST's train mean/std
(``Preprocessing(channels=1)``, so zsc.embed converts RGB datasets to grayscale) and returns
pooled pre-head features: 128-d for the ResNet, the 96-d CLS token for the ViT.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from torch import nn

from ...errors import WeightsUnavailableError
from ..base import EncoderSpec, Preprocessing, register
from ..hub import load_state_dict, load_strict
from . import models
from .recipes import RECIPES, Recipe

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights" / "zoo"
RANDOM_SEED = 0
PREPROCESSING = Preprocessing(
    size=models.IMAGE_SIZE, mean=models.FMNIST_MEAN, std=models.FMNIST_STD,
    interpolation="bilinear", channels=models.IN_CHANS,
)
MEMBERS: tuple[str, ...] = tuple(RECIPES)
_METHOD_TITLES = {
    "supervised": "supervised (cross-entropy)", "mocov3": "MoCo v3", "dino": "DINO",
    "vicreg": "VICReg", "mae": "MAE", "random": "random init",
}


def weights_path(name: str) -> Path:
    """Where the shipped weights of member `name` live."""
    return WEIGHTS_DIR / f"{name}.safetensors"


def _sha16(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def load_backbone(kind: str, path: str | Path, *, who: str) -> nn.Module:
    """A backbone of family `kind` with the weights in `path`; any file that is missing,
    unreadable, truncated or does not fit the architecture raises WeightsUnavailableError."""
    model = models.build_backbone(kind, seed=RANDOM_SEED)
    state = load_state_dict(path, who=who)
    load_strict(model, state, who=who, path=path)
    return model.eval()


def _builder(recipe: Recipe):
    def build(weights: str | None = None) -> nn.Module:
        if weights is None and not recipe.trainable:
            return models.build_backbone(recipe.kind, seed=RANDOM_SEED).eval()
        path = Path(weights) if weights is not None else weights_path(recipe.name)
        if not path.exists():
            raise WeightsUnavailableError(
                f"{recipe.name}: weights file {path} does not exist. The zoo's weights ship with "
                f"zsc; recreate them with `zsc zoo train {recipe.name}` (or `python -m "
                f"zsc.encoders.zoo.train {recipe.name}`), or pass --weights PATH."
            )
        return load_backbone(recipe.kind, path, who=recipe.name)

    return build


def _register(recipe: Recipe) -> EncoderSpec:
    family = models.BACKBONE_FAMILIES[recipe.kind]
    if recipe.trainable:
        path = weights_path(recipe.name)
        weights_id = f"zoo:{recipe.name}:{_sha16(path) if path.exists() else 'missing'}"
        available = path.exists
        source = f"zsc:weights/zoo/{recipe.name}.safetensors"
        desc = (f"{family} trained with {_METHOD_TITLES[recipe.method]} on the Fashion-MNIST train "
                f"split (offline zoo; see weights/zoo/{recipe.name}.json).")
    else:
        weights_id = f"zoo:{recipe.name}:random-seed{RANDOM_SEED}"

        def available() -> bool:
            return True

        source = f"zsc:{recipe.kind}_small (random init)"
        desc = f"{family} with its default random initialisation, torch seed {RANDOM_SEED}."
    return register(EncoderSpec(
        recipe.name, family, recipe.method, "zoo", source, models.BACKBONE_DIMS[recipe.kind],
        _builder(recipe), PREPROCESSING, weights_id=weights_id, weights_available=available,
        description=desc,
    ))


SPECS: dict[str, EncoderSpec] = {r.name: _register(r) for r in RECIPES.values()}


def get_member(name: str) -> EncoderSpec:
    from ..base import ENCODERS

    return ENCODERS.get(name)


__all__ = ["MEMBERS", "PREPROCESSING", "SPECS", "WEIGHTS_DIR", "get_member", "load_backbone",
           "weights_path"]
