"""The training objectives: one `Method` module per training method, around a backbone.

* ``supervised`` — linear classifier head, cross-entropy (label smoothing 0.1).
* ``mocov3`` — MoCo v3: online backbone + 3-layer BN projector + predictor, momentum encoder
  (``lightly.models.utils.update_momentum``, cosine schedule to 1), symmetric InfoNCE
  (``lightly.loss.NTXentLoss``) between predictions and momentum keys.
* ``dino`` — student/teacher with ``lightly.models.modules.DINOProjectionHead`` and
  ``lightly.loss.DINOLoss`` (centering + sharpening), EMA teacher (cosine schedule to 1), two
  global crops and optional local crops (recipe option ``n_local``). The teacher backbone is
  exported, as in DINO's releases.
* ``vicreg`` — ``BarlowTwinsProjectionHead`` expander + ``lightly.loss.VICRegLoss``.
* ``mae`` — ``lightly.models.modules.MaskedVisionTransformerTIMM`` around the ViT, lightly's
  ``MaskedVisionTransformerDecoderTIMM`` decoder, random token masking, MSE on the masked
  patches (``lightly.models.utils`` masking/patchify helpers).
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from ..encoders.zoo import models
from .augment import augment, normalize
from .recipes import Augment, Recipe

N_CLASSES = 10

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
