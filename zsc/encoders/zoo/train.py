"""Train the offline zoo: small ResNets and ViTs pretrained on the Fashion-MNIST train split.

Each member is one backbone family (``models.py``) trained with one method, mirroring the
paper's ImageNet zoo at laptop scale:

* ``supervised`` — linear classifier head, cross-entropy (label smoothing 0.1).
* ``mocov3`` — MoCo v3: online backbone + 3-layer BN projector + predictor, momentum encoder
  (``lightly.models.utils.update_momentum``, cosine 0.99 -> 1), symmetric InfoNCE
  (``lightly.loss.NTXentLoss``, temperature 0.2) between predictions and momentum keys.
* ``dino`` — student/teacher with ``lightly.models.modules.DINOProjectionHead`` (BN in the head,
  256 prototypes: both speed up the start of training, which is all these budgets allow) and
  ``lightly.loss.DINOLoss`` (centering + sharpening), EMA teacher (cosine schedule to 1), two
  global crops (optional local crops: recipe option ``n_local``). The teacher backbone is
  exported, as in DINO's releases.
* ``vicreg`` — ``BarlowTwinsProjectionHead`` expander + ``lightly.loss.VICRegLoss``.
* ``mae`` — ``lightly.models.modules.MaskedVisionTransformerTIMM`` around the ViT, lightly's
  ``MaskedVisionTransformerDecoderTIMM`` decoder, 75 % random token masking, MSE on the masked
  patches (``lightly.models.utils`` masking/patchify helpers).

Augmentations run on whole batches of tensors with per-sample random parameters (one affine
``grid_sample`` per batch): random resized crop, horizontal flip, small rotation, then per-sample
brightness/contrast jitter. Training is seeded and runs on the CPU with one thread by default,
so a member is reproducible on the same torch build. Only the backbone is saved (safetensors);
heads are discarded.

Run ``python -m zsc.encoders.zoo.train NAME ...`` (or ``zsc zoo train NAME ...``); with no names
it trains every member in turn, writes each member's weights and model card, then the README.
"""

from __future__ import annotations

import argparse
import copy
import math
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import models
from .recipes import KNN_K, RECIPES, Augment, Recipe

__all__ = ["RECIPES", "Augment", "Recipe", "TrainResult", "augment", "main", "run_member", "train"]

N_CLASSES = 10


# --------------------------------------------------------------------------- augmentation
def augment(x: torch.Tensor, aug: Augment, out_size: int | None = None) -> torch.Tensor:
    """Augment a batch (B, C, H, W) of floats in [0, 1]; every sample draws its own parameters
    from torch's global RNG (seeded by the trainer)."""
    b = x.shape[0]
    out_size = out_size or aug.size
    area = torch.empty(b).uniform_(*aug.scale)
    log_r = torch.empty(b).uniform_(math.log(aug.ratio[0]), math.log(aug.ratio[1]))
    w = (area * log_r.exp()).sqrt().clamp(max=1.0)  # half-extent in normalised coordinates
    h = (area / log_r.exp()).sqrt().clamp(max=1.0)
    cx = (torch.rand(b) * 2 - 1) * (1 - w)
    cy = (torch.rand(b) * 2 - 1) * (1 - h)
    angle = (torch.rand(b) * 2 - 1) * math.radians(aug.degrees)
    flip = torch.where(torch.rand(b) < 0.5, -1.0, 1.0) if aug.flip else torch.ones(b)
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([
        torch.stack([w * cos * flip, -w * sin, cx], dim=1),
        torch.stack([h * sin * flip, h * cos, cy], dim=1),
    ], dim=1)  # (B, 2, 3): output grid -> input coordinates
    grid = F.affine_grid(theta, [b, x.shape[1], out_size, out_size], align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if aug.jitter_p > 0:
        on = (torch.rand(b, 1, 1, 1) < aug.jitter_p).float()
        bright = 1 + (torch.rand(b, 1, 1, 1) * 2 - 1) * aug.brightness
        contrast = 1 + (torch.rand(b, 1, 1, 1) * 2 - 1) * aug.contrast
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        jittered = ((out - mean) * contrast + mean) * bright
        out = on * jittered + (1 - on) * out
    return out.clamp_(0.0, 1.0)


def to_unit(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W) -> float (B, 1, H, W) in [0, 1]."""
    x = torch.as_tensor(images)
    if x.ndim == 3:
        x = x[:, None]
    return x.float().div_(255.0)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """The zoo's preprocessing normalisation (Fashion-MNIST train mean / std)."""
    mean = torch.tensor(models.FMNIST_MEAN).view(1, -1, 1, 1)
    std = torch.tensor(models.FMNIST_STD).view(1, -1, 1, 1)
    return (x - mean) / std


# --------------------------------------------------------------------------- methods
class Method(nn.Module):
    """One training objective around a backbone. `loss` sees a uint8-derived [0, 1] batch."""

    def __init__(self, backbone: nn.Module, dim: int, recipe: Recipe) -> None:
        super().__init__()
        self.backbone, self.dim, self.recipe = backbone, dim, recipe

    def view(self, x: torch.Tensor, aug: Augment | None = None) -> torch.Tensor:
        v = normalize(augment(x, aug or self.recipe.augment))
        # conv nets run ~20 % faster channels-last on the CPU (see `train`)
        return v.contiguous(memory_format=torch.channels_last) if self.recipe.kind == "resnet" else v

    def loss(self, x: torch.Tensor, y: torch.Tensor, progress: float, epoch: int) -> torch.Tensor:
        raise NotImplementedError

    def before_step(self, epoch: int) -> None:
        """Called after backward, before the optimiser step."""

    def after_step(self, progress: float) -> None:
        """Called after the optimiser step (momentum updates)."""

    def export(self) -> nn.Module:
        """The backbone to ship (in eval form, without heads)."""
        return self.backbone


class Supervised(Method):
    def __init__(self, backbone: nn.Module, dim: int, recipe: Recipe) -> None:
        super().__init__(backbone, dim, recipe)
        self.head = nn.Linear(dim, N_CLASSES)

    def loss(self, x, y, progress, epoch):
        return F.cross_entropy(self.head(self.backbone(self.view(x))), y, label_smoothing=0.1)


class MoCoV3(Method):
    def __init__(self, backbone: nn.Module, dim: int, recipe: Recipe) -> None:
        from lightly.loss import NTXentLoss
        from lightly.models.modules import BYOLPredictionHead, MoCoProjectionHead
        from lightly.models.utils import deactivate_requires_grad

        super().__init__(backbone, dim, recipe)
        hidden, out = recipe.option("hidden_dim", 512), recipe.option("out_dim", 128)
        self.projection = MoCoProjectionHead(dim, hidden, out, num_layers=3, batch_norm=True)
        self.prediction = BYOLPredictionHead(out, hidden, out)
        self.backbone_m = copy.deepcopy(backbone)
        self.projection_m = copy.deepcopy(self.projection)
        deactivate_requires_grad(self.backbone_m)
        deactivate_requires_grad(self.projection_m)
        self.criterion = NTXentLoss(temperature=recipe.option("temperature", 0.2))

    def loss(self, x, y, progress, epoch):
        v0, v1 = self.view(x), self.view(x)
        q0 = self.prediction(self.projection(self.backbone(v0)))
        q1 = self.prediction(self.projection(self.backbone(v1)))
        with torch.no_grad():
            k0 = self.projection_m(self.backbone_m(v0))
            k1 = self.projection_m(self.backbone_m(v1))
        return 0.5 * (self.criterion(q0, k1) + self.criterion(q1, k0))

    def after_step(self, progress):
        from lightly.models.utils import update_momentum
        from lightly.utils.scheduler import cosine_schedule

        m = cosine_schedule(round(progress * 1000), 1000, self.recipe.option("momentum", 0.99), 1.0)
        update_momentum(self.backbone, self.backbone_m, m)
        update_momentum(self.projection, self.projection_m, m)


class DINO(Method):
    def __init__(self, backbone: nn.Module, dim: int, recipe: Recipe) -> None:
        from lightly.loss import DINOLoss
        from lightly.models.modules import DINOProjectionHead
        from lightly.models.utils import deactivate_requires_grad

        super().__init__(backbone, dim, recipe)
        out_dim = recipe.option("out_dim", 1024)

        def head() -> nn.Module:
            return DINOProjectionHead(dim, recipe.option("hidden_dim", 512),
                                      recipe.option("bottleneck_dim", 64), out_dim,
                                      batch_norm=recipe.option("head_bn", False),
                                      freeze_last_layer=recipe.option("freeze_last_layer", 0))

        self.head = head()
        self.teacher_backbone = copy.deepcopy(backbone)
        # the head's weight-normalised last layer cannot be deep-copied: build and load a twin
        self.teacher_head = head()
        self.teacher_head.load_state_dict(self.head.state_dict())
        deactivate_requires_grad(self.teacher_backbone)
        deactivate_requires_grad(self.teacher_head)
        self.criterion = DINOLoss(output_dim=out_dim, teacher_temp=recipe.option("teacher_temp", 0.04),
                                  warmup_teacher_temp_epochs=1)

    def loss(self, x, y, progress, epoch):
        views = [self.view(x), self.view(x)]  # global crops: teacher and student
        n_local = self.recipe.option("n_local", 0)
        if n_local:  # multi-crop: small local crops, student only
            local = replace(self.recipe.augment, scale=tuple(self.recipe.option("local_scale", (0.1, 0.4))),
                            size=self.recipe.option("local_size", 12))
            locals_ = [self.view(x, local) for _ in range(n_local)]
        else:
            locals_ = []
        with torch.no_grad():
            teacher = [self.teacher_head(self.teacher_backbone(v)) for v in views]
        student = [self.head(self.backbone(v)) for v in views + locals_]
        return self.criterion(teacher, student)

    def before_step(self, epoch):
        self.head.cancel_last_layer_gradients(epoch)

    def after_step(self, progress):
        from lightly.models.utils import update_momentum
        from lightly.utils.scheduler import cosine_schedule

        m = cosine_schedule(round(progress * 1000), 1000, self.recipe.option("momentum", 0.99), 1.0)
        update_momentum(self.backbone, self.teacher_backbone, m)
        update_momentum(self.head, self.teacher_head, m)

    def export(self) -> nn.Module:
        return self.teacher_backbone


class VICReg(Method):
    def __init__(self, backbone: nn.Module, dim: int, recipe: Recipe) -> None:
        from lightly.loss import VICRegLoss
        from lightly.models.modules import BarlowTwinsProjectionHead

        super().__init__(backbone, dim, recipe)
        width = recipe.option("expander_dim", 1024)
        self.projection = BarlowTwinsProjectionHead(dim, width, width)
        self.criterion = VICRegLoss()

    def loss(self, x, y, progress, epoch):
        z0 = self.projection(self.backbone(self.view(x)))
        z1 = self.projection(self.backbone(self.view(x)))
        return self.criterion(z0, z1)


class MAE(Method):
    def __init__(self, backbone: nn.Module, dim: int, recipe: Recipe) -> None:
        from lightly.models.modules import (
            MaskedVisionTransformerDecoderTIMM,
            MaskedVisionTransformerTIMM,
        )

        super().__init__(backbone, dim, recipe)
        # MAE's initialisation (xavier, fixed 2-d sin-cos position embedding) of the timm ViT
        self.encoder = MaskedVisionTransformerTIMM(vit=backbone)
        dec_dim = recipe.option("decoder_dim", 64)
        self.decoder_embed = nn.Linear(dim, dec_dim)
        self.decoder = MaskedVisionTransformerDecoderTIMM(
            num_patches=backbone.patch_embed.num_patches, embed_dim=dec_dim,
            depth=recipe.option("decoder_depth", 2), num_heads=recipe.option("decoder_heads", 2),
            mlp_ratio=2.0,
        )
        self.prediction = nn.Linear(dec_dim, models.VIT_PATCH ** 2 * models.IN_CHANS)
        self.mask_ratio = recipe.option("mask_ratio", 0.75)

    def loss(self, x, y, progress, epoch):
        from lightly.models import utils

        images = self.view(x)
        b = images.shape[0]
        seq_len = self.encoder.sequence_length
        idx_keep, idx_mask = utils.random_token_mask((b, seq_len), self.mask_ratio)
        encoded = self.decoder_embed(self.encoder.encode(images, idx_keep=idx_keep))
        tokens = utils.repeat_token(self.decoder.mask_token, (b, seq_len))
        tokens = utils.set_at_index(tokens, idx_keep, encoded)
        decoded = self.decoder(tokens)  # adds the fixed position embedding, runs the blocks
        pred = self.prediction(utils.get_at_index(decoded, idx_mask))
        target = utils.get_at_index(utils.patchify(images, models.VIT_PATCH), idx_mask - 1)
        return F.mse_loss(pred, target)


METHOD_CLASSES: dict[str, type[Method]] = {
    "supervised": Supervised, "mocov3": MoCoV3, "dino": DINO, "vicreg": VICReg, "mae": MAE,
}


# --------------------------------------------------------------------------- training loop
@dataclass
class TrainResult:
    recipe: Recipe
    backbone: nn.Module  # exported backbone, eval mode
    initial_state: dict[str, torch.Tensor]  # of the exported backbone, before the first step
    seconds: float
    steps: int
    images_seen: int
    losses: list[float]


def _lr_at(step: int, total: int, recipe: Recipe) -> float:
    warm = max(1, round(recipe.warmup_fraction * total))
    if step < warm:
        return recipe.lr * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return recipe.lr * 0.5 * (1 + math.cos(math.pi * t))


def _param_groups(module: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """No weight decay on biases, norms, tokens and position embeddings (1-d or token params)."""
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim <= 1 or name.endswith(("cls_token", "pos_embed", "mask_token")):
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def train(recipe: Recipe, images: np.ndarray, labels: np.ndarray | None = None, *,
          steps: int | None = None, progress: bool = True, threads: int | None = 1) -> TrainResult:
    """Train `recipe` on uint8 images (N, 28, 28); seeded, leaves the global RNG untouched.

    `steps` overrides the recipe's length (smoke runs, tests); `threads` sets torch's intra-op
    threads for the run (None: leave them)."""
    from tqdm.auto import tqdm

    if not recipe.trainable:
        raise ValueError(f"{recipe.name} is a random-init member; there is nothing to train")
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(recipe.seed)
            backbone = models.build_backbone(recipe.kind)
            method = METHOD_CLASSES[recipe.method](backbone, models.BACKBONE_DIMS[recipe.kind], recipe)
            initial = {k: v.detach().clone() for k, v in method.export().state_dict().items()}
            if recipe.kind == "resnet":
                method.to(memory_format=torch.channels_last)
            n = len(images)
            per_epoch = n // recipe.batch_size if n >= recipe.batch_size else 1
            total = steps if steps is not None else max(1, round(recipe.epochs * per_epoch))
            opt = torch.optim.AdamW(_param_groups(method, recipe.weight_decay), lr=recipe.lr,
                                    betas=recipe.betas)
            y_all = torch.from_numpy(np.array(labels if labels is not None else np.zeros(n), dtype=np.int64))
            x_all = torch.from_numpy(np.array(images, dtype=np.uint8))
            method.train()
            losses: list[float] = []
            step, seen = 0, 0
            t0 = time.perf_counter()
            bar = tqdm(total=total, desc=recipe.name, unit="step", disable=not progress,
                       dynamic_ncols=True)
            epoch = 0
            while step < total:
                order = torch.randperm(n)
                for s in range(per_epoch):
                    if step >= total:
                        break
                    idx = order[s * recipe.batch_size:(s + 1) * recipe.batch_size]
                    for g in opt.param_groups:
                        g["lr"] = _lr_at(step, total, recipe)
                    loss = method.loss(to_unit(x_all[idx]), y_all[idx], step / max(1, total), epoch)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"{recipe.name}: loss became {loss.item()} at step {step}")
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    if recipe.option("clip_grad", None):
                        nn.utils.clip_grad_norm_(method.parameters(), recipe.option("clip_grad", None))
                    method.before_step(epoch)
                    opt.step()
                    method.after_step((step + 1) / total)
                    losses.append(float(loss.detach()))
                    step += 1
                    seen += len(idx)
                    bar.update(1)
                    if step % 10 == 0 or step == total:
                        bar.set_postfix(loss=f"{np.mean(losses[-10:]):.4f}", epoch=epoch)
                epoch += 1
            bar.close()
            seconds = time.perf_counter() - t0
            exported = method.export().to(memory_format=torch.contiguous_format).eval()
    finally:
        torch.set_num_threads(old_threads)
    return TrainResult(recipe, exported, initial, seconds, step, seen, losses)


# --------------------------------------------------------------------------- saving & cards
def save_backbone(backbone: nn.Module, path: str | Path) -> Path:
    """Write the backbone's state dict as safetensors (atomically)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in backbone.state_dict().items()}
    tmp = path.with_suffix(path.suffix + ".part")
    save_file(state, str(tmp), metadata={"format": "pt"})
    tmp.chmod(0o644)  # package data: readable by all
    tmp.replace(path)
    return path


def evaluate_knn(name: str, weights: str | Path | None = None, *, ks: Sequence[int] = (1, KNN_K, 200),
                 progress: bool = True, n_train: int | None = None,
                 n_test: int | None = None) -> dict[int, float]:
    """Weighted kNN accuracy of member `name`: Fashion-MNIST train embeddings vote for the test
    split's, through zsc's own embedding pipeline (no cache)."""
    from ...embed import embed
    from ...metrics import knn_accuracy

    kw = dict(weights=str(weights) if weights else None, cache=False, device="cpu", progress=progress,
              batch_size=512)
    tr = embed(name, "fashion_mnist", "train", n_samples=n_train, **kw)
    te = embed(name, "fashion_mnist", "test", n_samples=n_test, **kw)
    return knn_accuracy(tr.features, tr.labels, te.features, te.labels, ks=ks, device="cpu")


def run_member(name: str, out_dir: str | Path | None = None, *, evaluate: bool = True,
               progress: bool = True, threads: int = 1, command: str | None = None,
               steps: int | None = None) -> dict[str, Any]:
    """Train (or, for a random member, only evaluate) one member; write weights and its card."""
    from ...data import load_dataset, subsample_indices
    from . import WEIGHTS_DIR, get_member
    from .cards import make_card, write_card

    recipe = RECIPES[name]
    out = Path(out_dir) if out_dir else WEIGHTS_DIR
    weights_path = None
    result = None
    if recipe.trainable:
        data = load_dataset("fashion_mnist", "train")
        idx = subsample_indices(data.labels, recipe.n_images, recipe.seed)
        result = train(recipe, data.images[idx], data.labels[idx], progress=progress, threads=threads,
                       steps=steps)
        weights_path = save_backbone(result.backbone, out / f"{name}.safetensors")
        print(f"{name}: trained {result.steps} steps in {result.seconds:.0f} s -> {weights_path}",
              file=sys.stderr)
    knn: dict[int, float] | None = None
    eval_seconds = None
    if evaluate:
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        try:
            knn = evaluate_knn(name, weights_path, progress=progress)
        finally:
            torch.set_num_threads(old)
        eval_seconds = time.perf_counter() - t0
        print(f"{name}: kNN@{KNN_K} = {knn[KNN_K]:.4f}", file=sys.stderr)
    card = make_card(get_member(name), recipe, result, weights_path, knn, eval_seconds,
                     command or f"python -m zsc.encoders.zoo.train {name}", threads)
    write_card(card, out)
    return card


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m zsc.encoders.zoo.train") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    add_train_arguments(parser)
    return run_from_args(parser.parse_args(argv), prog=prog)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"members to train (default: all): {', '.join(RECIPES)}")
    parser.add_argument("--out", default=None,
                        help="folder for weights and cards (default: the package's zsc/weights/zoo)")
    parser.add_argument("--no-eval", action="store_true",
                        help="skip the kNN evaluation (the card then has no accuracy)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--steps", type=int, default=None,
                        help="train for exactly this many steps instead of the recipe's epochs "
                             "(smoke runs only)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def command_line(prog: str, args: argparse.Namespace, name: str) -> str:
    """The exact command that (re)makes member `name` with these options."""
    parts = [prog]
    if args.out:
        parts += ["--out", shlex.quote(str(args.out))]
    if args.no_eval:
        parts.append("--no-eval")
    if args.threads != 1:
        parts += ["--threads", str(args.threads)]
    if args.steps is not None:
        parts += ["--steps", str(args.steps)]
    return " ".join([*parts, name])


def run_from_args(args: argparse.Namespace, *, prog: str) -> int:
    """Train the named members (all when none are named), then regenerate the README."""
    from . import WEIGHTS_DIR
    from .cards import write_readme

    unknown = [n for n in args.names if n not in RECIPES]
    if unknown:
        raise SystemExit(f"unknown zoo member(s) {', '.join(unknown)}; known: {', '.join(RECIPES)}")
    for name in args.names or list(RECIPES):
        run_member(name, args.out, evaluate=not args.no_eval, progress=not args.quiet,
                   threads=args.threads, command=command_line(prog, args, name),
                   steps=args.steps)
    readme = write_readme(Path(args.out) if args.out else WEIGHTS_DIR)
    print(f"wrote {readme}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
