"""Batch augmentations for 28 px grayscale images, with per-sample random parameters.

Random resized crop, horizontal flip and a small rotation are one affine ``grid_sample`` per
batch; then per-sample brightness/contrast jitter and (optionally) random erasing. All draws come
from torch's global RNG, which the trainer seeds, checkpoints and restores.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..encoders.zoo import models
from .recipes import Augment

__all__ = ["augment", "normalize", "to_unit"]

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
    if aug.erase_p > 0:  # one random rectangle per sample set to 0 (the background)
        side = out.shape[-1]
        area = torch.empty(b).uniform_(*aug.erase_scale)
        log_r = torch.empty(b).uniform_(math.log(0.3), math.log(1 / 0.3))
        eh = (area * log_r.exp()).sqrt().clamp(max=1.0)
        ew = (area / log_r.exp()).sqrt().clamp(max=1.0)
        y0, x0 = torch.rand(b) * (1 - eh), torch.rand(b) * (1 - ew)
        on = torch.rand(b) < aug.erase_p
        pos = (torch.arange(side) + 0.5) / side
        in_y = (pos >= y0[:, None]) & (pos < (y0 + eh)[:, None])
        in_x = (pos >= x0[:, None]) & (pos < (x0 + ew)[:, None])
        box = in_y[:, :, None] & in_x[:, None, :] & on[:, None, None]
        out = out.masked_fill(box[:, None], 0.0)
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
