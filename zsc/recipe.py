"""The paper's recommended recipe as one call: UMAP (30 neighbours, min_dist 0, 50-d) then
agglomerative clustering with ward linkage; without a number of clusters, the distance
threshold is the one whose clustering has the best silhouette in the UMAP space."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cluster import Agglomerative, validate_embeddings
from .metrics import silhouette
from .reduce import Reducer


@dataclass
class RecommendedResult:
    labels: np.ndarray
    reduced: np.ndarray
    n_clusters: int
    distance_threshold: float | None
    silhouette: float | None
    sweep: pd.DataFrame | None = None  # candidate thresholds and their silhouettes


def threshold_candidates(heights: np.ndarray, n_candidates: int = 40, max_clusters: int | None = None) -> pd.DataFrame:
    """Distance thresholds that cut a ward tree into k clusters, for a geometric grid of k."""
    h = np.sort(np.asarray(heights))
    n = len(h) + 1
    top = min(max_clusters or n // 2, n - 1)
    ks = np.unique(np.geomspace(2, max(top, 2), n_candidates).astype(int))
    # k clusters remain after the first n-k merges: any t in (h[n-k-1], h[n-k]] gives k.
    ts = [(h[n - k - 1] + h[n - k]) / 2 for k in ks]
    return pd.DataFrame({"n_clusters": ks, "distance_threshold": ts})


def recommended(
    embeddings: np.ndarray,
    n_clusters: int | None = None,
    *,
    n_components: int = 50,
    seed: int = 0,
    n_candidates: int = 40,
    max_clusters: int | None = None,
    silhouette_max_samples: int | None = 10_000,
) -> RecommendedResult:
    """Cluster `embeddings` the way the paper recommends.

    With `n_clusters`, AC ward cuts the tree into that many clusters; without, each candidate
    distance threshold is scored by the silhouette in the UMAP space and the best one is used.
    """
    x = validate_embeddings(embeddings)
    reduced = Reducer("umap", n_components, n_neighbors=30, min_dist=0.0, metric="euclidean",
                      seed=seed).fit_transform(x)
    if n_clusters is not None:
        model = Agglomerative(n_clusters=n_clusters, linkage="ward").fit(reduced)
        return RecommendedResult(model.labels_, reduced, model.n_clusters_, None, None)
    model = Agglomerative(n_clusters=2, linkage="ward").fit(reduced)
    sweep = threshold_candidates(model.linkage_matrix_[:, 2], n_candidates, max_clusters)
    scores = []
    for t in sweep["distance_threshold"]:
        labels = model.cut(distance_threshold=t)
        scores.append(silhouette(reduced, labels, max_samples=silhouette_max_samples, seed=seed).value)
    sweep["silhouette"] = scores
    best = sweep.loc[sweep["silhouette"].idxmax()]
    labels = model.cut(distance_threshold=float(best["distance_threshold"]))
    return RecommendedResult(labels, reduced, int(labels.max() + 1),
                             float(best["distance_threshold"]), float(best["silhouette"]), sweep)
