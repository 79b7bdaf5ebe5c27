"""One image file or array as an upright RGB Pillow image, and its thumbnail.

Pillow and numpy only, at the bottom of the stack: the data stage reads a folder of a person's
images with these, and `zsc.gallery` draws them.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from PIL import Image, ImageOps

ImageLike = Any  # PIL image, HxW / HxWxC array or a path


def to_rgb(image: Image.Image) -> Image.Image:
    """An RGB copy of any Pillow mode: palette and transparent images over white (not the black
    that a plain convert gives), 16-bit and float greyscale scaled to 8 bits, CMYK converted."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(image, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
        return Image.fromarray(a.round().astype(np.uint8)).convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """One file as an upright RGB image (first frame, EXIF orientation), fully decoded; raises
    on a bad file."""
    with Image.open(path) as im:
        im.seek(0)
        im.load()
        return to_rgb(ImageOps.exif_transpose(im) or im)


def as_image(x: ImageLike) -> Image.Image:
    """One image as RGB PIL: arrays as they are, paths opened (`open_image`)."""
    if isinstance(x, Image.Image):
        return to_rgb(x)
    if isinstance(x, str | os.PathLike):
        return open_image(x)
    a = np.asarray(x)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    return Image.fromarray(a[..., 0] if a.ndim == 3 and a.shape[2] == 1 else a).convert("RGB")


def thumbnail(x: ImageLike, size: int = 96) -> Image.Image:
    """The image fitted in a `size` square (aspect kept), RGB; small images are scaled up with
    nearest neighbour so 8 px digits stay sharp rather than blurred."""
    im = as_image(x)
    scale = size / max(im.size)
    new = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    return im.resize(new, Image.Resampling.NEAREST if scale > 2 else Image.Resampling.LANCZOS)
