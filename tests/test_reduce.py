import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from zsc.errors import InvalidParameterError, UnknownNameError
from zsc.reduce import Reducer, ReducerConfig, reduce


def test_pca_variance_fraction(blobs):
    X, _ = blobs
    out = Reducer("pca", 0.9).fit_transform(X)
    from sklearn.decomposition import PCA

    ref = PCA(0.9).fit(X)
    assert out.shape[1] == ref.n_components_
    assert ref.explained_variance_ratio_.sum() >= 0.9


def test_zscore_before_pca(blobs):
    X, _ = blobs
    X = X * np.arange(1, 9)  # unequal scales
    a = Reducer("pca", 2, zscore_before=True).fit_transform(X)
    b = Reducer("pca", 2).fit_transform((X - X.mean(0)) / X.std(0))
    np.testing.assert_allclose(np.abs(a), np.abs(b), rtol=1e-3, atol=1e-4)


def test_umap_is_seeded_and_cached(blobs):
    X, _ = blobs
    cfg = ReducerConfig("umap", 5, n_neighbors=15, seed=1)
    a = reduce(X, cfg)
    b = reduce(X, cfg)
    np.testing.assert_array_equal(a, b)
    c = Reducer.from_config(cfg).fit_transform(X)
    assert Reducer.from_config(cfg).config == cfg
    np.testing.assert_allclose(a, c, atol=1e-5)
    assert a.shape == (300, 5)


def test_pacmap_runs_as_the_paper_code(blobs):
    """No PCA before the neighbour search, a PCA start, numba's threads restored afterwards."""
    import numba

    from zsc.reduce import PACMAP_OPTIONS

    X, _ = blobs
    r = Reducer("pacmap", 2, n_neighbors=10)
    threads = numba.get_num_threads()
    r.fit_transform(X)
    assert r.model_.apply_pca is False and PACMAP_OPTIONS == {"apply_pca": False, "init": "pca"}
    assert numba.get_num_threads() == threads


def test_pacmap_runs(blobs):
    X, _ = blobs
    assert Reducer("pacmap", 2, n_neighbors=10).fit_transform(X).shape == (300, 2)


@pytest.mark.parametrize("kwargs,match", [
    (dict(method="pca", n_components=0), "positive"),
    (dict(method="pca", n_components=-3), "positive"),
    (dict(method="umap", n_components=0.5), "only allowed for PCA"),
])
def test_bad_components(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        ReducerConfig(**kwargs)


def test_too_many_components(blobs):
    X, _ = blobs
    with pytest.raises(InvalidParameterError, match="exceeds"):
        Reducer("pca", 50).fit_transform(X)


def test_unknown_reducer():
    with pytest.raises(UnknownNameError, match="Known reducers: none, pca, umap, pacmap"):
        ReducerConfig("tsne", 2)


def test_labels():
    assert ReducerConfig("umap", 50).label == "umap50"
    assert ReducerConfig("pca", 0.9, zscore_before=True).label == "z-pca0.9"
    assert ReducerConfig("none", None).label == "none"


def test_transform_only_where_exact(blobs):
    X, _ = blobs
    r = Reducer("pca", 3, zscore_before=True, zscore_after=True).fit(X)
    np.testing.assert_allclose(r.transform(X), r.fit_transform(X), atol=1e-5)
    assert not hasattr(Reducer("umap", 2), "transform")  # approximate out-of-sample maps: none
    assert not hasattr(Reducer("pacmap", 2), "transform")


@parametrize_with_checks([
    Reducer("none"), Reducer("none", zscore_before=True), Reducer("pca", 2, zscore_before=True),
    Reducer("pca", 0.9, zscore_after=True), Reducer("umap", 2, n_neighbors=5),
    Reducer("pacmap", 2, n_neighbors=5),
])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_neighbour_graph_is_the_exact_knn(blobs, tmp_path, monkeypatch):
    """Blocked search = brute force, the point itself first even beside an exact duplicate."""
    from sklearn.neighbors import NearestNeighbors

    from zsc.reduce import _exact_neighbours, neighbour_graph

    monkeypatch.setenv("ZSC_CACHE_DIR", str(tmp_path))
    X, _ = blobs
    X = X.copy()
    X[7] = X[5]
    idx, dist = _exact_neighbours(X, 10, block_bytes=4 * 300 * 7)  # blocks of 7 rows
    ref_d, _ = NearestNeighbors(n_neighbors=10).fit(X).kneighbors(X)
    np.testing.assert_array_equal(idx[:, 0], np.arange(len(X)))
    np.testing.assert_allclose(dist, ref_d, atol=1e-4)
    assert set(idx[5, :2]) == {5, 7} and dist[5, 1] < 1e-3
    g = neighbour_graph(X, 10)
    assert g.key["method"] == "exact"
    np.testing.assert_array_equal(neighbour_graph(X, 10).indices, g.indices)  # from the cache
    assert len(list(tmp_path.glob("neighbours/*.npz"))) == 1


def test_neighbour_graph_uses_nndescent_above_the_exact_limit(blobs, tmp_path, monkeypatch):
    from zsc.reduce import neighbour_graph

    monkeypatch.setenv("ZSC_CACHE_DIR", str(tmp_path))
    X, _ = blobs
    approx = neighbour_graph(X, 10, exact_max=100, seed=3)
    exact = neighbour_graph(X, 10)
    assert approx.key["method"] == "nndescent" and approx.key["seed"] == 3
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(approx.indices, exact.indices, strict=True)])
    assert recall > 0.9


def test_umap_on_a_shared_graph(blobs, tmp_path, monkeypatch):
    """Below 4,096 points UMAP searches exactly itself: the same layout from zsc's graph; the
    graph is part of the cache key and only serves the input it was found for."""
    from zsc.reduce import neighbour_graph

    monkeypatch.setenv("ZSC_CACHE_DIR", str(tmp_path))
    X, _ = blobs
    cfg = ReducerConfig("umap", 5, n_neighbors=15, seed=1)
    g = neighbour_graph(X, 15)
    ours, own = Reducer.from_config(cfg), Reducer.from_config(cfg)
    ours.fit_transform(X, neighbours=g)
    own.fit_transform(X)
    assert abs(ours.model_.graph_ - own.model_.graph_).max() < 1e-5  # the same fuzzy graph
    shared = reduce(X, cfg, neighbours=g)
    assert shared.shape == (300, 5)
    assert len(list(tmp_path.glob("reduced/*.npz"))) == 1  # the run without a graph was not cached
    reduce(X, cfg)
    assert len(list(tmp_path.glob("reduced/*.npz"))) == 2  # a key of its own
    with pytest.raises(InvalidParameterError, match="not found for this input"):
        reduce(X[:-1], cfg, neighbours=g)
    with pytest.raises(InvalidParameterError, match="Euclidean UMAP"):
        reduce(X, ReducerConfig("pacmap", 5, n_neighbors=15), neighbours=g)


@pytest.mark.parametrize("ties", [False, True])
def test_umap_small_data_neighbours_are_umaps_own(ties):
    """Below 4,096 points zsc hands UMAP the exact neighbours it would find itself (found once for
    every seed): the embedding is bit for bit the one UMAP makes alone, for each seed."""
    import umap

    from zsc import _umap

    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 24)).astype(np.float32)
    if ties:  # equal distances: the neighbours' order must break them as UMAP does
        X = np.round(X, 0)
        X[1] = X[0]
    _umap._MEMO.clear()
    for seed in (0, 1):
        ours = Reducer("umap", 5, n_neighbors=15, random_state=seed).fit_transform(X)
        alone = umap.UMAP(n_neighbors=15, n_components=5, min_dist=0.0, random_state=seed,
                          n_jobs=1).fit_transform(X)
        np.testing.assert_array_equal(ours, alone)
    assert len(_umap._MEMO) == 1  # one distance matrix for both seeds
    rows, _ = _umap.small_data_knn(X, 15)
    assert rows.dtype == np.int32 and rows.shape == (400, 15) and (rows[:, 0] == np.arange(400)).mean() > 0.99


def test_umap_kernels_are_kept_on_disk(tmp_path):
    """umap-learn's uncached numba kernels get numba's disk cache: a fit in a new process writes
    them to NUMBA_CACHE_DIR (the next process loads them instead of compiling ~12 s again)."""
    import os
    import subprocess
    import sys

    code = ("import numpy as np; from zsc.reduce import Reducer; "
            "Reducer('umap', 2, n_neighbors=5).fit_transform(np.random.default_rng(0).random((60, 4)))")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=600)
    cached = {p.name.split(".")[0] for p in tmp_path.rglob("*.nbi")}
    assert "layouts" in cached and "umap_" in cached  # modules whose kernels have no cache=True
    from numba.core.caching import NullCache

    from zsc import _umap

    assert not isinstance(_umap.umap.layouts._nb_optimize_layout_euclidean_single_epoch._cache, NullCache)
    assert _umap.cache_kernels() == 0  # all done at import
