import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from zsc import cluster as C
from zsc import settings as S
from zsc.errors import InvalidEmbeddingError, InvalidParameterError, UnknownNameError


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    return rng.normal(size=(400, 6)) + np.repeat(rng.normal(scale=4, size=(8, 6)), 50, axis=0)


@pytest.mark.parametrize("linkage,metric", [("ward", "euclidean"), ("average", "euclidean"),
                                            ("average", "cosine"), ("average", "chebyshev"),
                                            ("complete", "l1"), ("single", "euclidean")])
def test_agglomerative_matches_sklearn_by_n_clusters(points, linkage, metric):
    ours = C.Agglomerative(n_clusters=8, linkage=linkage, metric=metric).fit(points).labels_
    sk_metric = "manhattan" if metric == "l1" else metric
    ref = AgglomerativeClustering(n_clusters=8, linkage=linkage, metric=sk_metric).fit(points).labels_
    assert adjusted_rand_score(ref, ours) == pytest.approx(1.0)


@pytest.mark.parametrize("linkage,metric,threshold", [("ward", "euclidean", 10.0),
                                                      ("average", "cosine", 0.3),
                                                      ("average", "euclidean", 4.0)])
def test_agglomerative_matches_sklearn_by_threshold(points, linkage, metric, threshold):
    ours = C.Agglomerative(n_clusters=None, distance_threshold=threshold, linkage=linkage,
                           metric=metric).fit(points)
    ref = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, linkage=linkage,
                                  metric=metric).fit(points)
    assert ours.n_clusters_ == ref.n_clusters_ > 1
    assert adjusted_rand_score(ref.labels_, ours.labels_) == pytest.approx(1.0)


def test_average_zscore_makes_thresholds_scale_free(points):
    a = C.Agglomerative(None, 0.5, normalize=True).fit(points).labels_
    b = C.Agglomerative(None, 0.5, normalize=True).fit(points * 1000 + 7).labels_
    assert a.max() > 0
    assert adjusted_rand_score(a, b) == 1.0


def test_cut_sweeps_the_same_tree(points):
    model = C.Agglomerative(n_clusters=8).fit(points)
    for k in (2, 5, 8, 20):
        assert model.cut(n_clusters=k).max() + 1 == k


def test_each_clusterer_recovers_blobs(blobs):
    X, y = blobs
    for name in C.CLUSTERERS:
        # the paper caps HDBSCAN clusters at 20 % of the data; these blobs are 33 % each
        params = {"ac_without_c": {"distance_threshold": 2.0},
                  "hdbscan": {"max_cluster_frac": 0.5}}.get(name, {})
        res = C.cluster(X, name, 3, **params)
        assert adjusted_rand_score(y, res.labels) > 0.9, name


@pytest.mark.parametrize("damping", [0.5, 0.9])
def test_affinity_propagation_matches_sklearn_on_all_points(blobs, damping):
    from sklearn.cluster import AffinityPropagation

    X, _ = blobs
    ours = C.cluster(X, "affinity_propagation", damping=damping, seed=0)
    ref = AffinityPropagation(damping=damping, convergence_iter=15, max_iter=1000, random_state=0).fit(X)
    np.testing.assert_array_equal(ours.labels, ref.labels_)
    np.testing.assert_array_equal(ours.estimator.predict(X[:20]), ref.predict(X[:20]))
    assert ours.estimator.converged_ == (ref.n_iter_ < 1000)
    with pytest.raises(InvalidParameterError, match="unknown parameter.s. max_samples"):  # no subsampling
        C.cluster(X, "affinity_propagation", max_samples=100)


def test_hdbscan_max_cluster_size_is_a_fraction(blobs):
    X, _ = blobs
    res = C.cluster(X, "hdbscan")
    assert res.estimator.model_.max_cluster_size == 60 == res.estimator.max_cluster_size_


@pytest.mark.parametrize("metric", ["euclidean", "l1", "chebyshev"])
def test_hdbscan_matches_sklearn(blobs, metric):
    from sklearn.cluster import HDBSCAN

    X, _ = blobs
    ours = C.HDBSCAN(min_cluster_size=5, max_cluster_frac=0.2, metric=metric).fit(X)
    ref = HDBSCAN(min_cluster_size=5, max_cluster_size=60,
                  metric="manhattan" if metric == "l1" else metric).fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)


@pytest.mark.parametrize("n", [1, 0, 301])
def test_bad_number_of_clusters(blobs, n):
    with pytest.raises(InvalidParameterError, match="between 2 and the number of samples"):
        C.cluster(blobs[0], "kmeans", n)


@pytest.mark.parametrize("d", [0.4, 1.0, 1.5])
def test_bad_damping(blobs, d):
    with pytest.raises(InvalidParameterError, match=r"damping must be in \[0.5, 1\)"):
        C.cluster(blobs[0], "affinity_propagation", damping=d)


def test_nan_and_inf_refused(blobs):
    X = blobs[0].copy()
    X[3, 1] = np.inf
    with pytest.raises(InvalidEmbeddingError, match="1 rows contain NaN or infinity"):
        C.cluster(X, "kmeans", 3)


def test_unknown_clusterer():
    with pytest.raises(UnknownNameError, match="Known clusterers: kmeans, spectral"):
        C.cluster(np.zeros((4, 2)), "kmean", 2)


def test_full_matrix_linkages_run_on_all_points_within_the_budget(points):
    # no warning any more: the budget (tests/test_memory.py) decides
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = C.Agglomerative(8, linkage="average", max_memory="10MiB").fit(points)
        assert len(model.labels_) == len(points) and model.deviation_ == ""
        ap = C.AffinityPropagation(max_memory="10MiB").fit(points)
    assert ap.subsample_ is None and ap.deviation_ == "" and len(ap.labels_) == len(points)


def test_paper_settings():
    red, hp = S.paper_settings("kmeans", "pixels")
    assert red.method == "pca" and red.n_components == 0.9 and red.zscore_before
    red, hp = S.paper_settings("ac_without_c", "dino_vitb16")
    assert hp["distance_threshold"] == 0.2 and hp["linkage"] == "average"
    red, hp = S.paper_settings("hdbscan", "supervised_vitb16")
    assert hp["metric"] == "chebyshev" and red.method == "umap" and red.n_components == 50
    assert S.paper_settings("spectral", "supervised_resnet50")[0].method == "none"
    assert S.paper_settings("spectral", "supervised_resnet50")[1]["n_neighbors"] == 20
    assert S.paper_settings("hdbscan", "pixels", dataset="celeba")[1]["min_cluster_size"] == 2
    # encoders outside the paper borrow the paper encoder of the same method and backbone kind
    red, hp = S.paper_settings("affinity_propagation", "zoo_mae_vit", "ViT-small", "mae")
    assert hp["damping"] == 0.6


def _spectral_data(kind):
    from sklearn.datasets import make_blobs

    if kind == "overlapping":
        return make_blobs(600, centers=5, n_features=8, cluster_std=1.5, random_state=0)
    if kind == "disconnected":  # far apart blobs: the kNN graph has several components
        return make_blobs(600, centers=6, n_features=8, cluster_std=0.3, random_state=1)
    rng = np.random.default_rng(0)  # 200-d, 12 classes whose means differ less than their spread
    y = rng.integers(0, 12, 1200)
    return rng.normal(scale=0.5, size=(12, 200))[y] + rng.normal(size=(1200, 200)) * 0.3, y


@pytest.mark.parametrize("kind", ["overlapping", "disconnected", "high_dim"])
@pytest.mark.parametrize("assign", ["cluster_qr", "kmeans", "discretize"])
def test_spectral_gives_sklearns_partition(kind, assign):
    import warnings

    from scipy.sparse.csgraph import connected_components
    from sklearn.cluster import SpectralClustering

    X, y = _spectral_data(kind)
    k = len(np.unique(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns on a disconnected graph
        ref = SpectralClustering(k, affinity="nearest_neighbors", n_neighbors=10,
                                 assign_labels=assign, random_state=0).fit(X)
    ours = C.Spectral(k, assign_labels=assign, random_state=0).fit(X)
    assert adjusted_rand_score(ref.labels_, ours.labels_) == pytest.approx(1.0, abs=1e-12)
    assert (ours.affinity_matrix_ != ref.affinity_matrix_).nnz == 0
    if kind == "disconnected":
        assert connected_components(ours.affinity_matrix_)[0] > 1


def test_spectral_registry_uses_lanczos_and_falls_back_to_sklearn(blobs):
    from sklearn.cluster import SpectralClustering

    X, y = blobs
    res = C.cluster(X, "spectral", 3, seed=0)
    assert isinstance(res.estimator, C.Spectral) and adjusted_rand_score(y, res.labels) == 1.0
    assert res.params["n_neighbors"] == 10 and res.params["assign_labels"] == "cluster_qr"
    # paper settings pass straight through; other affinities / an explicit eigen_solver: sklearn's
    _, params = S.paper_settings("spectral", "dino_vitb16")
    assert isinstance(C.make_clusterer("spectral", 3, **params), C.Spectral)
    assert isinstance(C.make_clusterer("spectral", 3, affinity="rbf"), SpectralClustering)
    assert isinstance(C.make_clusterer("spectral", 3, eigen_solver="arpack"), SpectralClustering)
    with pytest.raises(InvalidParameterError):
        C.make_clusterer("spectral", 3, no_such_parameter=1)


def test_no_private_sklearn_imports():
    import re
    from pathlib import Path

    import zsc

    root = Path(zsc.__file__).parent
    for path in [*root.glob("cluster/*.py"), root / "reduce.py", root / "settings.py"]:
        text = path.read_text()
        assert not re.search(r"sklearn\.[A-Za-z0-9_.]*\._", text), path
        assert not re.search(r"from sklearn[A-Za-z0-9_.]* import _", text), path


# scikit-learn's own estimator checks, over every zsc clusterer class, each in the
# configurations zsc uses. The data are check_estimator's own (tiny). K-Means is scikit-learn's
# own class, unchanged, and checked by scikit-learn's test suite. The only skip is
# check_array_api_input (it runs only with SCIPY_ARRAY_API=1 set before scipy is imported).
CHECKED = [
    C.Agglomerative(),
    C.Agglomerative(n_clusters=3, linkage="average", metric="cosine", normalize=True),
    C.Agglomerative(n_clusters=3, linkage="complete", metric="l1"),
    C.AffinityPropagation(),
    C.HDBSCAN(),
    C.HDBSCAN(metric="l1", max_cluster_frac=0.5),
    C.Spectral(),
    C.Spectral(assign_labels="kmeans"),
    C.Spectral(assign_labels="discretize"),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
