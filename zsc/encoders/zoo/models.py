"""The zoo's two backbone families, laptop-scale analogs of the paper's ResNet-50 and ViT-B/16.

* ``ResNet-small`` — a CIFAR-style ResNet for 28 px grayscale input: a 3x3 stem at full
  resolution and four stages of one basic block each (widths 16-32-64-128, each stride 2:
  28 -> 14 -> 7 -> 4 -> 2), global average pool, 128-d features.
* ``ViT-small`` — timm's ``VisionTransformer`` with patch size 4 on 28 px input (7x7 = 49 patches
  plus a CLS token), width 96, depth 4, 3 heads, MLP ratio 2; the CLS token after the final norm
  is the feature (as for the paper's ViT-B), 96-d.

Both are kept narrow so that several epochs of self-supervised training fit in a few minutes on
one CPU thread (the 32-64-128-256 ResNet was 3.5x slower per image). Built from timm so that lightly's MAE utilities
  (``MaskedVisionTransformerTIMM``) can wrap it unchanged.

Both map a preprocessed batch (B, 1, 28, 28) to pooled pre-head features (B, dim). Only the
backbone is saved; projection/prediction heads live in ``zsc.pretrain.methods``.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGE_SIZE = 28
IN_CHANS = 1
# Fashion-MNIST train split, pixel values scaled to [0, 1] (computed over all 60,000 images).
FMNIST_MEAN = (0.2860,)
FMNIST_STD = (0.3530,)

RESNET_WIDTHS = (16, 32, 64, 128)
RESNET_STRIDES = (2, 2, 2, 2)
RESNET_DIM = RESNET_WIDTHS[-1]

VIT_PATCH = 4
VIT_DIM = 96
VIT_DEPTH = 4
VIT_HEADS = 3
VIT_MLP_RATIO = 2.0


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class SmallResNet(nn.Module):
    """(B, 1, H, W) -> (B, 128) globally average-pooled features."""

    def __init__(self, widths: tuple[int, ...] = RESNET_WIDTHS,
                 strides: tuple[int, ...] = RESNET_STRIDES, in_chans: int = IN_CHANS) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()
        )
        blocks, c = [], widths[0]
        for w, s in zip(widths, strides, strict=True):
            blocks.append(BasicBlock(c, w, s))
            c = w
        self.layers = nn.Sequential(*blocks)
        self.num_features = c
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.stem(x)).mean(dim=(2, 3))


def small_resnet() -> SmallResNet:
    return SmallResNet()


def small_vit() -> nn.Module:
    """timm ViT, patch 4 on 28 px, 96 wide, 4 deep; CLS-token features, no head."""
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        img_size=IMAGE_SIZE, patch_size=VIT_PATCH, in_chans=IN_CHANS, num_classes=0,
        embed_dim=VIT_DIM, depth=VIT_DEPTH, num_heads=VIT_HEADS, mlp_ratio=VIT_MLP_RATIO,
        global_pool="token", class_token=True,
        # accept other sizes too (lower-resolution training crops); at 28 px this is a no-op and
        # it does not change the state dict
        dynamic_img_size=True,
    )


BACKBONES = {"resnet": small_resnet, "vit": small_vit}
BACKBONE_DIMS = {"resnet": RESNET_DIM, "vit": VIT_DIM}
BACKBONE_FAMILIES = {"resnet": "ResNet-small", "vit": "ViT-small"}
BACKBONE_DESCRIPTIONS = {
    "resnet": "ResNet-small: 3x3 stem + 4 basic blocks (16-32-64-128, strides 2-2-2-2), GAP, 128-d",
    "vit": f"ViT-small: timm VisionTransformer patch {VIT_PATCH} on {IMAGE_SIZE}px, width {VIT_DIM}, "
           f"depth {VIT_DEPTH}, {VIT_HEADS} heads, mlp ratio {VIT_MLP_RATIO:g}, CLS token, {VIT_DIM}-d",
}


def build_backbone(kind: str, seed: int | None = None) -> nn.Module:
    """A freshly initialised backbone; with `seed`, the init is reproducible and leaves the global
    RNG state untouched."""
    if seed is None:
        return BACKBONES[kind]()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return BACKBONES[kind]()


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
