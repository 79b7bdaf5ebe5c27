"""The paper's recommended recipe as one call: UMAP (30 neighbours, min_dist 0, 50-d) then
agglomerative clustering with ward linkage; without a number of clusters, the distance
threshold is the one whose clustering has the best silhouette in the UMAP space."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from . import config
from ._version import __version__
from .cluster import Agglomerative, validate_embeddings
from .io import array_hash, config_hash, load_arrays, save_arrays
from .metrics import ami, silhouette_nested
from .reduce import UMAP_PAPER, reduce


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
    input_key: str | None = None,
    labels_true: np.ndarray | None = None,
) -> RecommendedResult:
    """Cluster `embeddings` the way the paper recommends.

    With `n_clusters`, AC ward cuts the tree into that many clusters; without, each candidate
    distance threshold is scored by the silhouette in the UMAP space and the best one is used.
    `input_key` (an embedding's cache key) lets the UMAP come from / go to the cache.
    `labels_true`, if given, only adds each candidate's AMI to the sweep, to show how close the
    label-free choice comes to the best one; it never influences the choice.
    With `input_key`, the sweep's scores are cached too (content-addressed, like the UMAP).
    """
    x = validate_embeddings(embeddings)
    cfg = replace(UMAP_PAPER, n_components=n_components, seed=seed)
    reduced = reduce(x, cfg, input_key=input_key, cache=input_key is not None)
    if n_clusters is not None:
        model = Agglomerative(n_clusters=n_clusters, linkage="ward").fit(reduced)
        return RecommendedResult(model.labels_, reduced, model.n_clusters_, None, None)
    model = Agglomerative(n_clusters=2, linkage="ward").fit(reduced)
    sweep = threshold_candidates(model.linkage_matrix_[:, 2], n_candidates, max_clusters)
    key = {"input": input_key, "umap": cfg.key(), "thresholds": array_hash(
        sweep["distance_threshold"].to_numpy()), "silhouette_max_samples": silhouette_max_samples,
        "labels_true": None if labels_true is None else array_hash(np.asarray(labels_true)),
        "zsc_version": __version__}
    path = config.cache_dir() / "recommended" / f"{config_hash(key)}.npz"
    hit = load_arrays(path) if input_key is not None else None
    if hit is not None:
        sweep = sweep.assign(**{c: hit[1][c] for c in ("silhouette", "ami") if c in hit[1]})
    else:
        cuts = [model.cut(distance_threshold=t) for t in sweep["distance_threshold"]]
        # the cuts of one tree are nested: every silhouette from one pass over the distances
        sweep["silhouette"] = [s.value for s in silhouette_nested(
            reduced, cuts, max_samples=silhouette_max_samples, seed=seed)]
        if labels_true is not None:
            sweep["ami"] = [ami(labels_true, c) for c in cuts]
        if input_key is not None:
            save_arrays(path, key, **{c: sweep[c].to_numpy() for c in ("silhouette", "ami")
                                      if c in sweep})
    best = sweep.loc[sweep["silhouette"].idxmax()]
    labels = model.cut(distance_threshold=float(best["distance_threshold"]))
    return RecommendedResult(labels, reduced, int(labels.max() + 1),
                             float(best["distance_threshold"]), float(best["silhouette"]), sweep)


def choice_vs_best(sweep: pd.DataFrame) -> dict[str, Any]:
    """The silhouette-chosen cut of a sweep (with an `ami` column) against the AMI-best cut."""
    chosen = sweep.loc[sweep["silhouette"].idxmax()]
    best = sweep.loc[sweep["ami"].idxmax()]
    return {"k_silhouette": int(chosen["n_clusters"]), "ami_silhouette": float(chosen["ami"]),
            "k_best": int(best["n_clusters"]), "ami_best": float(best["ami"]),
            "ami_gap": float(best["ami"] - chosen["ami"])}
