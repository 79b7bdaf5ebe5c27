"""The zoo's members and how each is trained: one frozen `Recipe` per member (recorded verbatim in
its model card). Kept free of training code so that registering the zoo imports nothing heavy."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_SEED = 0
KNN_K = 20  # the k of the kNN accuracy reported in the model cards


@dataclass(frozen=True)
class Augment:
    """Per-sample random augmentation parameters (applied to a whole batch at once)."""

    scale: tuple[float, float] = (0.25, 1.0)  # area fraction of the random resized crop
    ratio: tuple[float, float] = (3 / 4, 4 / 3)  # aspect ratio of the crop
    flip: bool = True
    degrees: float = 10.0  # uniform rotation in [-degrees, degrees]
    jitter_p: float = 0.8  # probability of brightness/contrast jitter
    brightness: float = 0.4
    contrast: float = 0.4
    size: int = 28  # output side of the crop; < 28 trains at lower resolution (cheaper)


# --------------------------------------------------------------------------- recipes
@dataclass(frozen=True)
class Recipe:
    """Everything that determines a member's training run (recorded in its model card)."""

    name: str
    kind: str  # "resnet" | "vit"
    method: str
    epochs: float = 0  # passes over the (subset of the) train split; fractions allowed
    n_images: int | None = None  # seeded subset of the 60,000 train images; None = all
    batch_size: int = 128
    lr: float = 1e-3  # peak AdamW learning rate (linear warmup, cosine decay to 0)
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    augment: Augment = field(default_factory=Augment)
    options: tuple[tuple[str, Any], ...] = ()
    seed: int = DEFAULT_SEED

    def option(self, key: str, default: Any) -> Any:
        return dict(self.options).get(key, default)

    @property
    def trainable(self) -> bool:
        return self.method != "random"

    def card_fields(self) -> dict[str, Any]:
        d = asdict(self)
        d["augment"] = asdict(self.augment)
        d["options"] = dict(self.options)
        return d


SUPERVISED_AUGMENT = Augment(scale=(0.5, 1.0), degrees=10.0, jitter_p=0.5)
SSL_AUGMENT = Augment(scale=(0.25, 1.0), degrees=15.0, jitter_p=0.8)
MAE_AUGMENT = Augment(scale=(0.4, 1.0), degrees=0.0, jitter_p=0.0)

# Budgets: each member trains for about 3-5 minutes on one CPU thread (less on an idle machine);
# SSL needs many epochs to shine, so these members are young, but each beats its random twin.
_DINO_HEAD = (("head_bn", True), ("out_dim", 256))

RECIPES: dict[str, Recipe] = {r.name: r for r in [
    Recipe("zoo_supervised_resnet", "resnet", "supervised", epochs=2, batch_size=256, lr=2e-3,
           augment=SUPERVISED_AUGMENT),
    Recipe("zoo_mocov3_resnet", "resnet", "mocov3", epochs=2, lr=2e-3, augment=SSL_AUGMENT),
    Recipe("zoo_dino_resnet", "resnet", "dino", epochs=2, lr=2e-3, augment=SSL_AUGMENT,
           options=_DINO_HEAD),
    Recipe("zoo_vicreg_resnet", "resnet", "vicreg", epochs=2, lr=2e-3, augment=SSL_AUGMENT),
    Recipe("zoo_random_resnet", "resnet", "random"),
    Recipe("zoo_supervised_vit", "vit", "supervised", epochs=2, batch_size=256, lr=2e-3,
           augment=SUPERVISED_AUGMENT),
    Recipe("zoo_mocov3_vit", "vit", "mocov3", epochs=0.8, lr=1e-3, augment=SSL_AUGMENT),
    Recipe("zoo_dino_vit", "vit", "dino", epochs=0.8, lr=5e-4, augment=SSL_AUGMENT,
           options=(*_DINO_HEAD, ("momentum", 0.95), ("clip_grad", 3.0))),
    Recipe("zoo_mae_vit", "vit", "mae", epochs=3, batch_size=256, lr=1.5e-3, betas=(0.9, 0.95),
           augment=MAE_AUGMENT),
    Recipe("zoo_random_vit", "vit", "random"),
]}
