import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

import zsc


@pytest.fixture
def embeddings():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=400, centers=5, n_features=32, cluster_std=2.0, random_state=2)
    return X.astype(np.float32), y


def test_recommended_equals_umap_then_sklearn(embeddings):
    import umap
    from sklearn.cluster import AgglomerativeClustering

    X, y = embeddings
    ours = zsc.recommended(X, n_clusters=5, seed=7)
    reduced = umap.UMAP(n_neighbors=30, n_components=50, min_dist=0.0, metric="euclidean",
                        random_state=7).fit_transform(X)
    ref = AgglomerativeClustering(n_clusters=5, metric="euclidean", linkage="ward").fit(reduced)
    np.testing.assert_allclose(ours.reduced, reduced, atol=1e-5)
    assert adjusted_rand_score(ref.labels_, ours.labels) == 1.0
    assert adjusted_rand_score(y, ours.labels) > 0.9


def test_recommended_picks_threshold_by_silhouette(embeddings):
    X, y = embeddings
    res = zsc.recommended(X, seed=0)
    assert res.distance_threshold is not None and res.sweep is not None
    assert res.silhouette == pytest.approx(res.sweep["silhouette"].max())
    assert res.n_clusters == len(np.unique(res.labels))
    # with well separated blobs the silhouette-best cut finds the five of them
    assert res.n_clusters == 5 and adjusted_rand_score(y, res.labels) > 0.9


def test_labels_only_score_the_sweep_never_choose(embeddings):
    X, y = embeddings
    blind = zsc.recommended(X, seed=0)
    told = zsc.recommended(X, seed=0, labels_true=y)
    assert told.distance_threshold == blind.distance_threshold  # labels do not change the pick
    np.testing.assert_array_equal(told.labels, blind.labels)
    assert "ami" in told.sweep and "ami" not in blind.sweep
    from zsc.recipe import choice_vs_best

    summary = choice_vs_best(told.sweep)
    assert summary["k_silhouette"] == told.n_clusters
    assert summary["ami_best"] == pytest.approx(told.sweep["ami"].max())
    assert summary["ami_gap"] >= 0 and summary["ami_silhouette"] > 0.9  # blobs: the pick is near best


def test_umap_is_cached_under_the_embedding_key(embeddings, monkeypatch):
    import zsc.reduce

    X, _ = embeddings
    first = zsc.recommended(X, n_clusters=5, seed=1, input_key="emb-abc")
    monkeypatch.setattr(zsc.reduce.Reducer, "fit_transform", lambda *a, **k: 1 / 0)
    again = zsc.recommended(X, n_clusters=5, seed=1, input_key="emb-abc")  # no refit
    np.testing.assert_array_equal(first.reduced, again.reduced)


def test_threshold_sweep_is_cached_under_the_embedding_key(embeddings, monkeypatch):
    """A chapter re-executed after a prose edit reads the sweep's scores back; other labels (or
    none) are another entry, and a damaged entry is scored again, never trusted."""
    import zsc.recipe
    from zsc import config

    X, y = embeddings
    first = zsc.recommended(X, seed=0, input_key="emb-abc", labels_true=y)
    blind = zsc.recommended(X, seed=0, input_key="emb-abc")
    assert "ami" not in blind.sweep  # its own entry, not the one with labels
    with monkeypatch.context() as mp:
        mp.setattr(zsc.recipe, "silhouette_nested", lambda *a, **k: 1 / 0)
        mp.setattr(zsc.recipe, "ami", lambda *a, **k: 1 / 0)
        again = zsc.recommended(X, seed=0, input_key="emb-abc", labels_true=y)  # not scored again
    pd.testing.assert_frame_equal(first.sweep, again.sweep)
    assert again.distance_threshold == first.distance_threshold
    np.testing.assert_array_equal(again.labels, first.labels)
    (path, _) = sorted((config.cache_dir() / "recommended").glob("*.npz"), key=lambda p: p.stat().st_mtime)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(UserWarning, match="damaged"):
        rescored = zsc.recommended(X, seed=0, input_key="emb-abc", labels_true=y)
    pd.testing.assert_frame_equal(first.sweep, rescored.sweep)
