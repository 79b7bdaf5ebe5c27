"""`zsc.pipeline.run` scores each row where the paper's code scored it."""

from __future__ import annotations

import numpy as np
import pytest

from zsc import pipeline
from zsc.metrics import silhouette_exact
from zsc.reduce import ReducerConfig
from zsc.settings import SILHOUETTE_UMAP_SEED


def test_umap_silhouette_is_in_the_runs_own_umap_space_else_the_seed_42_one(monkeypatch):
    """As the paper's cluster.py and extract_silhouette.py: a run that clustered on UMAP is scored
    in the space it clustered (its own seed), another run in the separate seed-42 UMAP-50."""
    spaces: dict[str, np.ndarray] = {}
    real = pipeline.score_clustering

    def keep(y, pred, *, spaces: dict, **kw):  # noqa: ANN001, ANN003
        keep.spaces.append(spaces["umap"])
        return real(y, pred, spaces=spaces, **kw)

    keep.spaces = []
    monkeypatch.setattr(pipeline, "score_clustering", keep)
    own = pipeline.run("pixels", "digits", ["kmeans"], n_samples=200, seed=3, progress=False,
                       reducer=ReducerConfig("umap", 5), silhouette_max_samples=None)
    other = pipeline.run("pixels", "digits", ["kmeans"], n_samples=200, seed=3, progress=False,
                         reducer=ReducerConfig("pca", 5), silhouette_max_samples=None)
    spaces["own"], spaces["other"] = keep.spaces
    assert spaces["own"].shape[1] == 5 and spaces["other"].shape[1] == 50
    assert own["silhouette_umap_seed"].item() == 3
    assert other["silhouette_umap_seed"].item() == SILHOUETTE_UMAP_SEED
    # the number in the row is the silhouette of the row's labels in that space
    labels = pipeline.cluster(spaces["own"], "kmeans", 10, seed=3).labels
    assert own["silhouette_umap"].item() == pytest.approx(silhouette_exact(spaces["own"], labels))
