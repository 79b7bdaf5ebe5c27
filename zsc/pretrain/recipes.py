"""The zoo's members and how each is trained: one frozen `Recipe` per trainable member (recorded
verbatim in its model card). Kept free of training code so that reading a recipe imports nothing
heavy."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..encoders.zoo import FINE_TUNED_FROM, MEMBER_TABLE, REPLICATE_OF

DEFAULT_SEED = 0
KNN_K = 20  # the k of the kNN accuracy reported in the model cards and on the learning curve
N_TRAIN_SPLIT = 60_000  # Fashion-MNIST's train split
HELDOUT_N = 5000  # held out of it for the learning curve (zsc.pretrain.release.split_indices)
HELDOUT_SEED = 14  # fixed forever: changing it changes every learning curve


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
    erase_p: float = 0.0  # probability of erasing one random rectangle (random erasing)
    erase_scale: tuple[float, float] = (0.05, 0.25)  # its area fraction


# --------------------------------------------------------------------------- recipes
@dataclass(frozen=True)
class Recipe:
    """Everything that determines a member's training run (recorded in its model card).

    `epochs` is the cap: the learning-rate and momentum schedules span it. Training stops
    earlier when the learning curve (kNN@20 of the held-out part of the train split, evaluated
    every `eval_every` epochs) has not improved by `min_delta` for `patience` evaluations: then
    the learning rate decays linearly to 0 over `cooldown_epochs` (0: stop at once) and training
    stops."""

    name: str
    kind: str  # "resnet" | "vit"
    method: str
    epochs: float = 0  # the most passes over the training part of the train split
    n_images: int | None = None  # seeded subset of the training part; None = all of it
    batch_size: int = 128
    lr: float = 1e-3  # peak AdamW learning rate (linear warmup, cosine decay to 0)
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    augment: Augment = field(default_factory=Augment)
    options: tuple[tuple[str, Any], ...] = ()
    seed: int = DEFAULT_SEED
    eval_every: float = 1.0  # epochs between learning-curve points
    patience: int = 3  # curve points without an improvement of min_delta before stopping
    min_delta: float = 0.002
    cooldown_epochs: float = 2.0  # once flat: learning rate linearly to 0 over these, then stop
    init_from: str | None = None  # a shipped member whose backbone training starts from (fine-tuning)

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
# Fitted to 28 px Fashion-MNIST: the garments are centred, upright and scale-normalised, so the
# ImageNet-style crop scale (0.25-1) and rotations teach invariances the classes do not have
# (a quarter of a shirt is a quarter of a coat). Crops of 50-100 % of the area, no rotation, keep
# the grayscale brightness/contrast jitter (there is no colour). Probes, one epoch of MoCo v3
# ResNet, held-out kNN@20 (batch 128 / 64): crop 0.25-1 + 15 degrees 0.833 / 0.835; crop 0.4-1
# 0.842 / 0.833; crop 0.5-1 - / 0.842. Random erasing (p 0.5) and temperature 0.1 did not help.
SSL_AUGMENT = Augment(scale=(0.5, 1.0), degrees=0.0, jitter_p=0.8)
MAE_AUGMENT = Augment(scale=(0.4, 1.0), degrees=0.0, jitter_p=0.0)

_DINO_HEAD = (("head_bn", True), ("out_dim", 256))
# two extra 12-14 px local crops per image, student only: DINO's multi-crop, cheap at this size
_MULTI_CROP = (("n_local", 2), ("local_scale", (0.15, 0.4)))

# Epoch caps span the learning-rate and momentum schedules; the held-out learning curve (every
# epoch) stops a member earlier when it flattens (after a 2-epoch cool-down). Per epoch on one
# idle CPU thread (training + curve point) the ResNets take about 1-1.5 min (supervised 0.5), the
# MAE ViT ~1.7, the supervised ViT ~2.5, the MoCo v3 / DINO ViTs ~5-6. The ViTs' caps were first
# cut to fit a time budget (the MoCo v3 / DINO ViTs at 8, stopped by time while still rising);
# at 12 each runs its whole schedule, and its card says whether the curve had flattened by the
# cap (`zsc.pretrain.cards.final_gain`). The MAE ViT was still rising at the end of a 16-epoch
# schedule (+0.004 kNN@20 over its last three points; test 0.8252); with a cap of 24 the
# plateau rule stops it at epoch 11 (test 0.8202): at the slower-decaying rate its curve moves
# by ±0.005 from epoch to epoch, more than `min_delta`.
RECIPES: dict[str, Recipe] = {r.name: r for r in [
    Recipe("zoo_supervised_resnet", "resnet", "supervised", epochs=15, batch_size=256, lr=2e-3,
           augment=SUPERVISED_AUGMENT),
    Recipe("zoo_mocov3_resnet", "resnet", "mocov3", epochs=16, lr=2e-3, augment=SSL_AUGMENT),
    Recipe("zoo_dino_resnet", "resnet", "dino", epochs=16, lr=2e-3, augment=SSL_AUGMENT,
           options=(*_DINO_HEAD, *_MULTI_CROP, ("local_size", 14))),
    Recipe("zoo_vicreg_resnet", "resnet", "vicreg", epochs=16, lr=2e-3, augment=SSL_AUGMENT),
    # fine-tuning: each self-supervised ResNet's shipped backbone trained on with labels, a lower
    # peak rate (a quarter of the supervised member's) and a short cap, so that the features
    # move towards the labels without forgetting where they started
    *(Recipe(ft, "resnet", "supervised", epochs=6, batch_size=256, lr=5e-4,
             augment=SUPERVISED_AUGMENT, init_from=base) for ft, base in FINE_TUNED_FROM.items()),
    Recipe("zoo_supervised_vit", "vit", "supervised", epochs=12, batch_size=256, lr=2e-3,
           augment=SUPERVISED_AUGMENT),
    Recipe("zoo_mocov3_vit", "vit", "mocov3", epochs=12, lr=1e-3, augment=SSL_AUGMENT),
    Recipe("zoo_dino_vit", "vit", "dino", epochs=12, lr=5e-4, augment=SSL_AUGMENT,
           options=(*_DINO_HEAD, *_MULTI_CROP, ("local_size", 12), ("momentum", 0.95),
                    ("clip_grad", 3.0))),
    Recipe("zoo_mae_vit", "vit", "mae", epochs=24, batch_size=256, lr=1.5e-3, betas=(0.9, 0.95),
           augment=MAE_AUGMENT),
]}
# training-seed replicates: their member's recipe, another seed
RECIPES.update({n: replace(RECIPES[m], name=n, seed=s) for n, (m, s) in REPLICATE_OF.items()})

# every trainable member of the registry has exactly one recipe, of its kind and method (a
# fine-tuned member: the method of the member it starts from, trained on with labels)
if {n for n, (_, m) in MEMBER_TABLE.items() if m != "random"} != set(RECIPES) or any(
        MEMBER_TABLE[r.name] != (r.kind, MEMBER_TABLE[r.init_from][1] if r.init_from else r.method)
        or r.init_from != FINE_TUNED_FROM.get(r.name) or (r.init_from and r.method != "supervised")
        for r in RECIPES.values()):
    raise RuntimeError("zsc.pretrain.recipes.RECIPES does not match zsc.encoders.zoo.MEMBER_TABLE")


# the order `zsc zoo train --all` trains members in: the self-supervised ResNets (below target,
# cheapest to improve) first, the supervised ResNet, the fine-tuned ResNets (after the members
# they start from), the MAE ViT (cheap: it encodes a quarter of
# the tokens), then the costly ViTs; random twins (evaluation only) at the very end
TRAIN_ORDER: tuple[str, ...] = (
    "zoo_mocov3_resnet", "zoo_dino_resnet", "zoo_vicreg_resnet", "zoo_supervised_resnet",
    "zoo_mocov3_ft_resnet", "zoo_dino_ft_resnet", "zoo_vicreg_ft_resnet", "zoo_mae_vit", "zoo_mocov3_vit", "zoo_dino_vit", "zoo_supervised_vit",
    *REPLICATE_OF, "zoo_random_resnet", "zoo_random_vit",
)
if set(TRAIN_ORDER) != set(MEMBER_TABLE):
    raise RuntimeError("TRAIN_ORDER must list every zoo member once")
