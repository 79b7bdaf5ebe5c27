"""What `cluster_images` returns (its own module, so the report reads it without a cycle)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data.folder import Skipped


@dataclass
class ClusterImagesResult:
    """What `cluster_images` found: one row per image in `table`, the sweep of cuts, the choice."""

    paths: list[str]
    labels: np.ndarray
    table: pd.DataFrame  # path, cluster, silhouette, outlier_score, duplicate_group, x, y
    sweep: pd.DataFrame  # n_clusters and the label-free scores of each candidate cut
    k: int
    how: str  # how k was chosen, in words
    rule: str | None  # the cut rule (None when k was given)
    coarser: int | None
    finer: int | None
    encoder: str
    skipped: list[Skipped]
    thumbnails: list[Any]
    embeddings: np.ndarray
    reduced: np.ndarray
    cuts: dict[int, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    agreement: pd.DataFrame = field(default_factory=pd.DataFrame)  # umap_seed, ari vs `labels`
    # the other encoders asked for: encoder, k, silhouette (own UMAP space), ari_with_first
    compared: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def scores(self) -> pd.DataFrame:
        return self.table
