"""Pictures of images: montages and 2-D thumbnail maps, as matplotlib Figures.

These sit at the bottom of the stack (Pillow, matplotlib, numpy only) so that every later stage
can show what its clusters contain: `zsc cluster`'s report draws with them, and the book's
chapters can too. Images come as a uint8 array (N, H, W) or (N, H, W, C), a sequence of PIL
images or arrays, or paths (opened with Pillow, EXIF orientation applied).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .images import ImageLike, as_image, open_image, thumbnail, to_rgb  # noqa: F401  (one place)

WIDTH = 8.0  # inches, as the book's figures (zsc.report.figures.WIDTH)
DPI = 85


NOISE_COLOR = "0.82"  # light grey: the noise points (-1) of HDBSCAN / Affinity Propagation


def label_colors(labels: Any) -> dict[int, Any]:
    """One colour per label value, the same wherever a clustering is drawn: tab10 without its grey
    (grey is the noise colour, -1, and nothing else), then tab20b; colours go by the label's rank
    among the labels present, so a 2-D scatter and a thumbnail map of one clustering agree."""
    cmap = plt.get_cmap("tab10").colors
    palette = [c for i, c in enumerate(cmap) if i != 7] + list(plt.get_cmap("tab20b").colors)
    values = [int(v) for v in np.unique(np.asarray(labels)) if v >= 0]
    colors: dict[int, Any] = {v: palette[i % len(palette)] for i, v in enumerate(values)}
    colors[-1] = NOISE_COLOR
    return colors


def label_medians(ax: Any, xy: np.ndarray, labels: Any, fontsize: float = 11) -> None:
    """Each label's number at the median of its points, framed in its colour (`label_colors`)."""
    lab = np.asarray(labels)
    colors = label_colors(lab)
    for c in np.unique(lab):
        ax.annotate(str(c), np.median(xy[lab == c], axis=0), fontsize=fontsize, fontweight="bold",
                    ha="center", va="center", bbox={"boxstyle": "round,pad=0.2", "fc": "white",
                                                    "ec": colors[max(int(c), -1)], "alpha": 0.85})


def _items(images: Any) -> Sequence[ImageLike]:
    return list(images) if not isinstance(images, np.ndarray) else [images[i] for i in range(len(images))]


def montage(images: Any, titles: Sequence[str] | None = None, *, ncol: int = 8,
            width: float = WIDTH, title: str | None = None) -> Figure:
    """A grid of images (row by row), each with an optional title underneath."""
    items = _items(images)
    n = max(len(items), 1)
    ncol = max(1, min(ncol, n))
    nrow = math.ceil(n / ncol)
    cell = width / ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(width, cell * nrow * (1.15 if titles else 1.0)
                                                  + (0.3 if title else 0)), squeeze=False, dpi=DPI)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < len(items):
            ax.imshow(np.asarray(thumbnail(items[i], 128)))
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8, y=-0.16)
    if title:
        fig.suptitle(title, fontsize=10, fontweight="bold")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.99 if not title else 0.9,
                        wspace=0.05, hspace=0.25 if titles else 0.05)
    return fig


def cluster_montage(images: Any, labels: Sequence[int] | np.ndarray, *, per_cluster: int = 10,
                    order: np.ndarray | None = None, width: float = WIDTH) -> Figure:
    """One row per cluster: up to `per_cluster` of its members, in `order` (e.g. most typical
    first) or as they come, with the cluster's id and size at the left."""
    items = _items(images)
    labels = np.asarray(labels)
    order = np.arange(len(labels)) if order is None else np.asarray(order)
    clusters = [c for c in np.unique(labels)]
    cell = width / (per_cluster + 1)
    fig, axes = plt.subplots(len(clusters), per_cluster + 1, figsize=(width, cell * len(clusters)),
                             squeeze=False, dpi=DPI)
    for r, c in enumerate(clusters):
        members = [i for i in order if labels[i] == c][:per_cluster]
        axes[r, 0].text(0.5, 0.5, f"{c}\n({int((labels == c).sum())})", ha="center", va="center",
                        fontsize=9, fontweight="bold")
        for j, ax in enumerate(axes[r]):
            ax.set_axis_off()
            if 0 < j <= len(members):
                ax.imshow(np.asarray(thumbnail(items[members[j - 1]], 128)))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.99, wspace=0.05, hspace=0.05)
    return fig


def spread(xy: np.ndarray, grid: int, n_max: int | None = None, seed: int = 0) -> np.ndarray:
    """One point per occupied cell of a `grid` x `grid` partition of the map (the point nearest
    the cell's centre), at most `n_max` of them (a seeded sample of cells): thumbnails then show
    every region side by side instead of piling up where the points are dense."""
    if not len(xy):
        return np.array([], int)
    lo, span = xy.min(axis=0), np.ptp(xy, axis=0) + 1e-12
    pos = (xy - lo) / span * grid
    cell = np.minimum(pos.astype(int), grid - 1)
    dist = np.linalg.norm(pos - (cell + 0.5), axis=1)
    key = cell[:, 0] * grid + cell[:, 1]
    order = np.lexsort((dist, key))
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
    if n_max is not None and len(first) > n_max:
        first = np.sort(np.random.default_rng(seed).choice(first, n_max, replace=False))
    return first


def thumbnail_map(images: Any, coords: np.ndarray, labels: Sequence[int] | np.ndarray | None = None,
                  *, n_thumbs: int = 200, zoom: float = 0.35, width: float = WIDTH,
                  seed: int = 0, title: str | None = None) -> Figure:
    """A 2-D map (e.g. UMAP) of all points, coloured by label, with thumbnails of up to
    `n_thumbs` of them spread over the map (`spread`, one per thumbnail-sized cell) drawn at
    their place: what each region of the map holds."""
    return thumbnail_maps([(images, coords, labels, title)], ncol=1, n_thumbs=n_thumbs, zoom=zoom,
                          width=width, seed=seed)


def thumbnail_maps(panels: Sequence[tuple[Any, np.ndarray, Any, str | None]], *, ncol: int = 2,
                   n_thumbs: int = 200, zoom: float = 0.35, width: float = WIDTH,
                   seed: int = 0) -> Figure:
    """Several thumbnail maps side by side, one per (images, coords, labels, title) panel, row
    by row: two encoders' views of the same images, or one encoder's of two datasets."""
    ncol = max(1, min(ncol, len(panels)))
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(width, width * 0.8 * nrow / ncol), dpi=DPI,
                             squeeze=False)
    for ax, (images, coords, labels, title) in zip(axes.flat, panels, strict=False):
        _draw_map(ax, _items(images), np.asarray(coords, dtype=float), labels, n_thumbs=n_thumbs,
                  zoom=zoom, width=width / ncol, seed=seed)
        if title:
            ax.set_title(title, fontsize=10 if ncol == 1 else 9, fontweight="bold")
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def _draw_map(ax: Any, items: Sequence[ImageLike], xy: np.ndarray, labels: Any, *, n_thumbs: int,
              zoom: float, width: float, seed: int) -> None:
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    palette = None if labels is None else label_colors(labels)
    colors = None if palette is None else [palette[max(int(v), -1)] for v in np.asarray(labels)]
    ax.scatter(xy[:, 0], xy[:, 1], s=4, c=colors if colors is not None else "0.5", alpha=0.6,
               linewidths=0)
    thumb_px = 48 * zoom * 2  # the size a thumbnail is drawn at, in figure pixels at DPI
    pick = spread(xy, max(2, int(width * DPI * 0.9 / thumb_px)), n_thumbs, seed)
    for i in pick:
        thumb = np.asarray(thumbnail(items[i], 48))
        edge = colors[i] if colors is not None else "0.5"
        box = AnnotationBbox(OffsetImage(thumb, zoom=zoom * 2), xy[i], frameon=True,
                             pad=0.05, bboxprops={"edgecolor": edge, "linewidth": 1.2})
        ax.add_artist(box)
    if labels is not None:
        label_medians(ax, xy, labels)
    ax.set_xticks([])
    ax.set_yticks([])


def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    """A figure as PNG bytes, closed afterwards (reports embed them; no open figures pile up)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
