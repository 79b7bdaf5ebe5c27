"""Tier 2 — the offline zoo: small ResNets and ViTs pretrained on Fashion-MNIST's train split.

A laptop-scale analog of the paper's encoder zoo: two backbone families (``ResNet-small``,
``ViT-small``, see ``models.py``) times the paper's training methods (supervised, MoCo v3, DINO,
VICReg, MAE) plus seeded random-init twins. Weights ship in ``zsc/weights/zoo`` as safetensors
(backbone only) with one model card (JSON) per member.

This module only registers and loads the members; training lives in the later ``zsc.pretrain``
stage (``zsc zoo train NAME`` / ``python -m zsc.pretrain train NAME``), which this stage never
imports.

Every member takes 28x28 single-channel input normalised with Fashion-MNIST's train mean/std
(``Preprocessing(channels=1)``, so zsc.embed converts RGB datasets to grayscale) and returns
pooled pre-head features: 128-d for the ResNet, the 96-d CLS token for the ViT.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from ...errors import WeightsUnavailableError
from ..base import EncoderSpec, Preprocessing, register
from ..hub import load_state_dict, load_strict
from . import models

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights" / "zoo"
RANDOM_SEED = 0
PREPROCESSING = Preprocessing(
    size=models.IMAGE_SIZE, mean=models.FMNIST_MEAN, std=models.FMNIST_STD,
    interpolation="bilinear", channels=models.IN_CHANS,
)
# name -> (backbone kind, training method), in the zoo's order; zsc.pretrain.recipes has one
# recipe for each trainable member.
MEMBER_TABLE: dict[str, tuple[str, str]] = {
    "zoo_supervised_resnet": ("resnet", "supervised"),
    "zoo_mocov3_resnet": ("resnet", "mocov3"),
    "zoo_dino_resnet": ("resnet", "dino"),
    "zoo_vicreg_resnet": ("resnet", "vicreg"),
    "zoo_mocov3_ft_resnet": ("resnet", "mocov3"),
    "zoo_dino_ft_resnet": ("resnet", "dino"),
    "zoo_vicreg_ft_resnet": ("resnet", "vicreg"),
    "zoo_random_resnet": ("resnet", "random"),
    "zoo_supervised_vit": ("vit", "supervised"),
    "zoo_mocov3_vit": ("vit", "mocov3"),
    "zoo_dino_vit": ("vit", "dino"),
    "zoo_mae_vit": ("vit", "mae"),
    "zoo_random_vit": ("vit", "random"),
}
# training-seed replicates: `<member>_seed<s>` is the member's recipe run again with seed s (the
# shipped member is seed 0), so that a difference between encoders can carry the spread of their
# training; zsc.analysis folds a replicate into its member (`EncoderSpec.replicate_of`)
TRAINING_SEEDS: tuple[int, ...] = (1, 2)
# every self-supervised or supervised ResNet trained from scratch; to replicate another member,
# list it here, then `zsc zoo train <member>_seed1 <member>_seed2`
REPLICATED = ("zoo_supervised_resnet", "zoo_mocov3_resnet", "zoo_dino_resnet", "zoo_vicreg_resnet")
REPLICATE_OF: dict[str, tuple[str, int]] = {
    f"{m}_seed{s}": (m, s) for s in TRAINING_SEEDS for m in REPLICATED}
MEMBER_TABLE.update({n: MEMBER_TABLE[m] for n, (m, _) in REPLICATE_OF.items()})
MEMBERS: tuple[str, ...] = tuple(MEMBER_TABLE)
# fine-tuned member -> the self-supervised member it starts from: that member's backbone trained
# on with labels (cross-entropy) on the same split, as the paper's fine-tuned encoders (its
# "_ft_" marks them for zsc.claims); its method stays the self-supervised one it began with
FINE_TUNED_FROM: dict[str, str] = {
    "zoo_mocov3_ft_resnet": "zoo_mocov3_resnet",
    "zoo_dino_ft_resnet": "zoo_dino_resnet",
    "zoo_vicreg_ft_resnet": "zoo_vicreg_resnet",
}
_METHOD_TITLES = {
    "supervised": "supervised (cross-entropy)", "mocov3": "MoCo v3", "dino": "DINO",
    "vicreg": "VICReg", "mae": "MAE", "random": "random init",
}


def is_trainable(name: str) -> bool:
    return MEMBER_TABLE[name][1] != "random"


def weights_path(name: str) -> Path:
    """Where the shipped weights of member `name` live."""
    return WEIGHTS_DIR / f"{name}.safetensors"


def card_path(name: str, folder: str | Path | None = None) -> Path:
    return Path(folder or WEIGHTS_DIR) / f"{name}.json"


def read_card(name: str, folder: str | Path | None = None) -> dict[str, Any] | None:
    """Member `name`'s model card, or None when it is missing or unreadable."""
    try:
        card = json.loads(card_path(name, folder).read_text())
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None


def load_backbone(kind: str, path: str | Path, *, who: str) -> nn.Module:
    """A backbone of family `kind` with the weights in `path`; any file that is missing,
    unreadable, truncated or does not fit the architecture raises WeightsUnavailableError."""
    model = models.build_backbone(kind, seed=RANDOM_SEED)
    state = load_state_dict(path, who=who)
    load_strict(model, state, who=who, path=path)
    return model.eval()


def _builder(name: str, kind: str):
    def build(weights: str | None = None) -> nn.Module:
        if weights is None and not is_trainable(name):
            return models.build_backbone(kind, seed=RANDOM_SEED).eval()
        path = Path(weights) if weights is not None else weights_path(name)
        if not path.exists():
            raise WeightsUnavailableError(
                f"{name}: weights file {path} does not exist. The zoo's weights ship with "
                f"zsc; recreate them with `zsc zoo train {name}` (or `python -m zsc.pretrain "
                f"train {name}`), or pass --weights PATH."
            )
        return load_backbone(kind, path, who=name)

    return build


def shipped_weights_id(name: str) -> str:
    """The id of the shipped weights, from the sha256 their model card records (the files are
    not hashed at import; tests check that the card's hash matches the file)."""
    card = read_card(name) or {}
    sha = card.get("weights_sha256")
    return f"zoo:{name}:{sha[:16] if isinstance(sha, str) and weights_path(name).exists() else 'missing'}"


def _register(name: str) -> EncoderSpec:
    kind, method = MEMBER_TABLE[name]
    of, seed_no = REPLICATE_OF.get(name, (None, 0))
    family = models.BACKBONE_FAMILIES[kind]
    if is_trainable(name):
        path = weights_path(name)
        weights_id = shipped_weights_id(name)
        available = path.exists
        source = f"zsc:weights/zoo/{name}.safetensors"
        tuned = (f", then fine-tuned with labels (cross-entropy) from `{FINE_TUNED_FROM[name]}`"
                 if name in FINE_TUNED_FROM else "")
        seed = f", training seed {seed_no} (a replicate of `{of}`)" if of else ""
        desc = (f"{family} trained with {_METHOD_TITLES[method]}{tuned} on the Fashion-MNIST train "
                f"split{seed} (offline zoo; see weights/zoo/{name}.json).")
    else:
        weights_id = f"zoo:{name}:random-seed{RANDOM_SEED}"

        def available() -> bool:
            return True

        source = f"zsc:{kind}_small (random init)"
        desc = f"{family} with its default random initialisation, torch seed {RANDOM_SEED}."
    return register(EncoderSpec(
        name, family, method, "zoo", source, models.BACKBONE_DIMS[kind],
        _builder(name, kind), PREPROCESSING, weights_id=weights_id, weights_available=available,
        description=desc, replicate_of=of, training_seed=seed_no,
    ))


SPECS: dict[str, EncoderSpec] = {name: _register(name) for name in MEMBER_TABLE}


def get_member(name: str) -> EncoderSpec:
    from ..base import ENCODERS

    return ENCODERS.get(name)


__all__ = ["FINE_TUNED_FROM", "MEMBERS", "MEMBER_TABLE", "PREPROCESSING", "SPECS", "WEIGHTS_DIR", "card_path",
           "get_member", "is_trainable", "load_backbone", "read_card", "weights_path"]
