"""Stage 5 — cluster: the paper's six clusterers, scikit-learn style, with its chosen settings.

`CLUSTERERS` declares each clusterer once; `paper_settings(clusterer, encoder)` gives the
reduction and hyper-parameters the paper chose for that encoder (from its final results
notebook, see `shared/design/paper-settings.md`); `cluster()` validates input and runs one.

Scale: agglomerative clustering runs on fastcluster (O(n·d) memory for ward/centroid/median/
single on vectors; average/complete need the O(n²) condensed distance matrix and refuse
politely when it would not fit). Affinity Propagation is O(n²) in memory, so above
`max_samples` it is fitted on a seeded subsample and the remaining points join their nearest
exemplar (AP's own `predict`). Spectral clustering (`Spectral`) gives scikit-learn's partition
but finds the eigenvectors by Lanczos instead of shift-invert ARPACK, whose LU factor of the
Laplacian grows super-linearly on kNN graphs of raw high-dimensional embeddings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from .errors import InvalidEmbeddingError, InvalidParameterError
from .reduce import NONE, UMAP_PAPER, ReducerConfig
from .registry import Registry

VECTOR_LINKAGES = ("ward", "centroid", "median", "single")
MEMORY_BUDGET_BYTES = 12 * 2**30  # condensed distance matrices larger than this are refused


# --------------------------------------------------------------------------- estimators
def average_zscore(x: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Centre, divide by the *average* per-dimension std (a spherical rescale that keeps each
    dimension's weight) and correct for dimensionality, so one distance threshold transfers
    across embeddings of different width — the paper's normalisation for AC w/o C."""
    x = x - x.mean(axis=0)
    x = x / max(float(np.mean(x.std(axis=0))), 1e-12)
    d = x.shape[1]
    if metric in ("euclidean", "l2"):
        x = x / np.sqrt(d)
    elif metric in ("l1", "manhattan", "cityblock"):
        x = x / d
    return x


class Agglomerative(ClusterMixin, BaseEstimator):
    """Agglomerative clustering by number of clusters *or* distance threshold, on fastcluster.

    Gives the same partition as scikit-learn's AgglomerativeClustering (tested), with O(n·d)
    memory for ward/centroid/median/single instead of scikit-learn's O(n²).
    """

    def __init__(self, n_clusters: int | None = 2, distance_threshold: float | None = None,
                 linkage: str = "ward", metric: str = "euclidean", normalize: bool = False) -> None:
        self.n_clusters = n_clusters
        self.distance_threshold = distance_threshold
        self.linkage = linkage
        self.metric = metric
        self.normalize = normalize

    def fit(self, X: np.ndarray, y: Any = None) -> Agglomerative:
        import fastcluster

        if (self.n_clusters is None) == (self.distance_threshold is None):
            raise InvalidParameterError("give exactly one of n_clusters and distance_threshold")
        x = np.asarray(X, dtype=np.float64)
        if self.normalize:
            x = average_zscore(x, self.metric)
        metric = "cityblock" if self.metric in ("l1", "manhattan") else self.metric
        if self.linkage in VECTOR_LINKAGES:
            if self.linkage != "single" and metric != "euclidean":
                raise InvalidParameterError(f"{self.linkage} linkage needs the euclidean metric")
            Z = fastcluster.linkage_vector(x, method=self.linkage, metric=metric)
        else:
            n = len(x)
            need = 2 * (n * (n - 1) // 2) * 8  # pdist and fastcluster each hold a condensed matrix
            if need > MEMORY_BUDGET_BYTES:
                raise InvalidParameterError(
                    f"{self.linkage} linkage on {n} points needs the full distance matrix "
                    f"({need / 2**30:.1f} GiB); subsample, or use ward linkage (O(n·d) memory)"
                )
            Z = fastcluster.linkage(x, method=self.linkage, metric=metric)
        self.linkage_matrix_ = Z
        self.labels_ = self.cut(self.n_clusters, self.distance_threshold)
        self.n_clusters_ = int(self.labels_.max() + 1)
        return self

    def cut(self, n_clusters: int | None = None, distance_threshold: float | None = None) -> np.ndarray:
        """Labels (0..k-1) for another cut of the fitted tree — cheap, for threshold sweeps."""
        from scipy.cluster.hierarchy import fcluster

        Z = self.linkage_matrix_
        if n_clusters is not None:
            raw = fcluster(Z, t=n_clusters, criterion="maxclust")
        else:
            # scikit-learn merges while the merge distance is < threshold; fcluster keeps
            # clusters whose cophenetic distance is <= t. Nudge t down to match exactly.
            raw = fcluster(Z, t=np.nextafter(float(distance_threshold), -np.inf), criterion="distance")
        _, labels = np.unique(raw, return_inverse=True)
        return labels.astype(np.int64)


class AffinityPropagation(ClusterMixin, BaseEstimator):
    """scikit-learn's Affinity Propagation; above `max_samples` points it is fitted on a seeded
    subsample and every other point joins its nearest exemplar."""

    def __init__(self, damping: float = 0.9, convergence_iter: int = 15, max_iter: int = 1000,
                 max_samples: int | None = 10_000, random_state: int = 0) -> None:
        self.damping = damping
        self.convergence_iter = convergence_iter
        self.max_iter = max_iter
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: Any = None) -> AffinityPropagation:
        import warnings

        from sklearn.cluster import AffinityPropagation as _AP
        from sklearn.exceptions import ConvergenceWarning

        if not 0.5 <= self.damping < 1:
            raise InvalidParameterError(f"damping must be in [0.5, 1), got {self.damping}")
        x = np.asarray(X, dtype=np.float64)
        fit_idx = np.arange(len(x))
        if self.max_samples is not None and len(x) > self.max_samples:
            rng = np.random.default_rng(self.random_state)
            fit_idx = np.sort(rng.choice(len(x), self.max_samples, replace=False))
        self.model_ = _AP(damping=self.damping, convergence_iter=self.convergence_iter,
                          max_iter=self.max_iter, random_state=self.random_state)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(x[fit_idx])
        self.n_iter_ = self.model_.n_iter_
        if len(fit_idx) == len(x) or len(self.model_.cluster_centers_indices_) == 0:
            labels = np.asarray(self.model_.labels_)
            if len(fit_idx) != len(x):
                labels = np.full(len(x), -1)
        else:
            labels = _nearest(x, self.model_.cluster_centers_)
        self.labels_ = labels.astype(np.int64)
        self.fitted_on_ = len(fit_idx)
        return self


def _nearest(x: np.ndarray, centres: np.ndarray, block: int = 8192) -> np.ndarray:
    out = np.empty(len(x), dtype=np.int64)
    c2 = (centres**2).sum(1)
    for s in range(0, len(x), block):
        xb = x[s : s + block]
        out[s : s + block] = np.argmin(c2[None, :] - 2 * xb @ centres.T, axis=1)
    return out


class HDBSCAN(ClusterMixin, BaseEstimator):
    """scikit-learn's HDBSCAN with the maximum cluster size given as a fraction of the data."""

    def __init__(self, min_cluster_size: int = 5, max_cluster_frac: float | None = 0.2,
                 metric: str = "euclidean", cluster_selection_method: str = "eom") -> None:
        self.min_cluster_size = min_cluster_size
        self.max_cluster_frac = max_cluster_frac
        self.metric = metric
        self.cluster_selection_method = cluster_selection_method

    def fit(self, X: np.ndarray, y: Any = None) -> HDBSCAN:
        from sklearn.cluster import HDBSCAN as _H

        n = len(X)
        max_size = round(self.max_cluster_frac * n) if self.max_cluster_frac else None
        metric = "manhattan" if self.metric == "l1" else self.metric
        self.model_ = _H(min_cluster_size=self.min_cluster_size, max_cluster_size=max_size,
                         metric=metric, cluster_selection_method=self.cluster_selection_method,
                         copy=True)  # never modify the caller's array (and no FutureWarning)
        self.labels_ = self.model_.fit_predict(np.asarray(X, dtype=np.float64)).astype(np.int64)
        return self


def _normalized_adjacency_embedding(adjacency: Any, n_components: int, v0: np.ndarray,
                                    tol: float = 0.0) -> np.ndarray:
    """scikit-learn's `spectral_embedding(..., drop_first=False)` of a sparse affinity (the
    normalised-Laplacian eigenvectors of the smallest eigenvalues, divided by sqrt(degree),
    deterministic signs), found as the *largest* eigenvectors of D^-1/2 A D^-1/2 by plain
    Lanczos: matrix-vector products only, O(nnz + n·k) memory.

    Each connected component c gives an exact eigenvector D^1/2·1_c of eigenvalue 1 (Laplacian
    0). Lanczos from one start vector finds only one vector of a repeated eigenvalue, so these
    are put in by hand (largest components first) and Lanczos runs on the rest of the space.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import LinearOperator, eigsh
    from sklearn.utils.extmath import _deterministic_vector_sign_flip

    a = sp.csr_matrix(adjacency, dtype=np.float64, copy=True)
    a.setdiag(0)  # scipy's normalised Laplacian (scikit-learn's) ignores self-loops
    a.eliminate_zeros()
    n = a.shape[0]
    deg = np.asarray(a.sum(axis=1)).ravel()
    dd = np.where(deg > 0, np.sqrt(np.abs(deg)), 1.0)  # as scipy: isolated nodes get 1
    m = (sp.diags(1.0 / dd) @ a @ sp.diags(1.0 / dd)).tocsr()
    n_comp, comp = connected_components(a, directed=False)
    order = np.argsort(-np.bincount(comp), kind="stable")[: min(n_comp, n_components)]
    rank = np.full(n_comp, -1)
    rank[order] = np.arange(len(order))
    keep = rank[comp] >= 0
    q = sp.csr_matrix((dd[keep], (np.flatnonzero(keep), rank[comp][keep])), shape=(n, len(order)))
    q = (q @ sp.diags(1.0 / np.sqrt(np.asarray(q.multiply(q).sum(axis=0)).ravel()))).tocsr()
    vecs = q.toarray()
    k_rest = n_components - len(order)
    if k_rest > 0:
        qt = q.T.tocsr()
        op = LinearOperator((n, n), dtype=np.float64, matvec=lambda v: m @ v - q @ (qt @ v))
        start = v0 - q @ (qt @ v0)  # deflated start vector
        _, rest = eigsh(op, k=k_rest, which="LA", tol=tol, v0=start)
        vecs = np.hstack([vecs, rest[:, ::-1]])  # largest eigenvalue first
    return _deterministic_vector_sign_flip((vecs / dd[:, None]).T).T


class Spectral(ClusterMixin, BaseEstimator):
    """Spectral clustering on the kNN connectivity graph that scales to paper size.

    The same affinity, embedding and label assignment as scikit-learn's
    `SpectralClustering(affinity="nearest_neighbors", n_neighbors=10, assign_labels="cluster_qr")`
    — the symmetrised kNN connectivity 0.5·(C + Cᵀ), the normalised-Laplacian embedding
    divided by sqrt(degree), cluster_qr (or k-means / discretize, drawing from the random
    state in scikit-learn's order) — and the same partition (ARI = 1 in tests, at 10,000 and
    20,000 × 768 and on a 50,000-point UMAP output in benchmarks/README.md). Only the
    eigensolver differs: scikit-learn asks ARPACK for the smallest Laplacian eigenvalues in
    shift-invert mode, which LU-factorises the n×n Laplacian; on a kNN graph of
    high-dimensional points that factor fills in, and time and memory grow super-linearly
    (728 s at 20,000 × 768, against 49 s here). Here plain Lanczos on D^-1/2 A D^-1/2 with the
    connected components deflated (`_normalized_adjacency_embedding`).

    It is used at every size, not only above a threshold: the partition is the same as
    scikit-learn's, so a size switch would buy nothing but a second code path, and it is as
    fast or faster already at 10,000 points. `zsc.cluster`'s "spectral" falls back to
    scikit-learn's `SpectralClustering` only for what this class does not do: other
    affinities (e.g. "rbf") or an explicit `eigen_solver` ("arpack" gives scikit-learn's
    exact path).
    """

    def __init__(self, n_clusters: int = 8, *, affinity: str = "nearest_neighbors",
                 n_neighbors: int = 10, assign_labels: str = "cluster_qr",
                 n_components: int | None = None, n_init: int = 10, eigen_tol: float | str = "auto",
                 n_jobs: int | None = None, random_state: Any = 0) -> None:
        self.n_clusters = n_clusters
        self.affinity = affinity
        self.n_neighbors = n_neighbors
        self.assign_labels = assign_labels
        self.n_components = n_components
        self.n_init = n_init
        self.eigen_tol = eigen_tol
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> Spectral:
        from sklearn.cluster import k_means
        from sklearn.cluster._spectral import cluster_qr, discretize
        from sklearn.neighbors import NearestNeighbors, kneighbors_graph
        from sklearn.utils import check_random_state
        from sklearn.utils._arpack import _init_arpack_v0

        if self.assign_labels not in ("cluster_qr", "kmeans", "discretize"):
            raise InvalidParameterError(f"assign_labels must be cluster_qr, kmeans or discretize, "
                                        f"got {self.assign_labels!r}")
        if self.affinity == "nearest_neighbors":
            conn = kneighbors_graph(np.asarray(X, dtype=np.float64), n_neighbors=self.n_neighbors,
                                    include_self=True, n_jobs=self.n_jobs)
        elif self.affinity == "precomputed_nearest_neighbors":
            conn = NearestNeighbors(n_neighbors=self.n_neighbors, n_jobs=self.n_jobs,
                                    metric="precomputed").fit(X).kneighbors_graph(X=X, mode="connectivity")
        else:
            raise InvalidParameterError(f"Spectral: affinity must be nearest_neighbors or "
                                        f"precomputed_nearest_neighbors, got {self.affinity!r}")
        self.affinity_matrix_ = 0.5 * (conn + conn.T)
        rs = check_random_state(self.random_state)
        n_components = self.n_clusters if self.n_components is None else self.n_components
        v0 = _init_arpack_v0(conn.shape[0], rs)  # drawn as scikit-learn draws ARPACK's start
        tol = 0.0 if self.eigen_tol == "auto" else float(self.eigen_tol)
        maps = _normalized_adjacency_embedding(self.affinity_matrix_, n_components, v0, tol)
        if self.assign_labels == "cluster_qr":
            labels = cluster_qr(maps)
        elif self.assign_labels == "kmeans":
            labels = k_means(maps, self.n_clusters, random_state=rs, n_init=self.n_init)[1]
        else:
            labels = discretize(maps, random_state=rs)
        self.labels_ = np.asarray(labels, dtype=np.int64)
        return self


def _kmeans(n_clusters: int, seed: int, **p: Any) -> Any:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=n_clusters, init="k-means++", n_init=1, random_state=seed,
                  max_iter=p.pop("max_iter", 1000), **p)


_SPECTRAL_OWN = {"affinity", "n_neighbors", "assign_labels", "n_components", "n_init", "eigen_tol", "n_jobs"}


def _spectral(n_clusters: int, seed: int, **p: Any) -> Any:
    """zsc's `Spectral` (Lanczos; scikit-learn's partition, scales) for the kNN affinities;
    scikit-learn's `SpectralClustering` for other affinities or an explicit `eigen_solver`."""
    if (p.get("affinity", "nearest_neighbors") in ("nearest_neighbors", "precomputed_nearest_neighbors")
            and set(p) <= _SPECTRAL_OWN and p.get("assign_labels", "cluster_qr") in
            ("cluster_qr", "kmeans", "discretize")):
        return Spectral(n_clusters=n_clusters, random_state=seed, **p)
    from sklearn.cluster import SpectralClustering

    return SpectralClustering(n_clusters=n_clusters, random_state=seed, **p)


def _ac_c(n_clusters: int, seed: int, **p: Any) -> Any:
    return Agglomerative(n_clusters=n_clusters, **p)


def _ac_t(n_clusters: int | None, seed: int, **p: Any) -> Any:
    return Agglomerative(n_clusters=None, **p)


def _ap(n_clusters: int | None, seed: int, **p: Any) -> Any:
    return AffinityPropagation(random_state=seed, **p)


def _hdbscan(n_clusters: int | None, seed: int, **p: Any) -> Any:
    return HDBSCAN(**p)


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class ClustererSpec:
    name: str
    title: str  # as the paper's tables write it
    uses_n_clusters: bool
    factory: Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    reducer: ReducerConfig = UMAP_PAPER  # the paper's default reduction for this clusterer


CLUSTERERS: Registry[ClustererSpec] = Registry("clusterer")
for _spec in [
    ClustererSpec("kmeans", "K-Means", True, _kmeans, {"max_iter": 1000}),
    ClustererSpec("spectral", "Spectral", True, _spectral,
                  {"affinity": "nearest_neighbors", "n_neighbors": 10, "assign_labels": "cluster_qr"},
                  reducer=NONE),
    ClustererSpec("ac_with_c", "AC w/ C", True, _ac_c, {"linkage": "ward", "metric": "euclidean"}),
    ClustererSpec("ac_without_c", "AC w/o C", False, _ac_t,
                  {"linkage": "ward", "metric": "euclidean", "distance_threshold": 1.0, "normalize": True}),
    ClustererSpec("affinity_propagation", "Affinity Prop.", False, _ap,
                  {"damping": 0.9, "convergence_iter": 15, "max_iter": 1000}),
    ClustererSpec("hdbscan", "HDBSCAN", False, _hdbscan,
                  {"min_cluster_size": 5, "max_cluster_frac": 0.2, "metric": "euclidean",
                   "cluster_selection_method": "eom"}),
]:
    CLUSTERERS.register(_spec.name, _spec)


def _pca(n: int | float, z: bool = True) -> ReducerConfig:
    return ReducerConfig("pca", n, zscore_before=z)


# Per-encoder overrides of the paper's final settings (its results notebook, "v5" block).
# Keys are the paper's encoder names; encoders outside the paper borrow the entry of the
# paper encoder with the same training method and backbone kind (see `paper_encoder_for`).
_AVG = {"linkage": "average"}
PAPER_OVERRIDES: dict[str, dict[str, tuple[ReducerConfig | None, dict[str, Any]]]] = {
    "kmeans": {
        "pixels": (_pca(0.90), {}),
        "random_resnet50": (_pca(0.95), {}),
        "random_vitb16": (_pca(100), {}),
        "clip_resnet50": (_pca(0.85), {}),
        "clip_vitb16": (_pca(0.75), {}),
        "mae_vitb16": (_pca(0.95), {}),
    },
    "ac_with_c": {
        **{e: (None, {**_AVG, "metric": "euclidean"}) for e in
           ("dino_resnet50", "dino_vitb16", "vicreg_resnet50", "clip_resnet50", "mocov3_vitb16", "clip_vitb16")},
        **{e: (None, {**_AVG, "metric": "chebyshev"}) for e in ("random_resnet50", "random_vitb16")},
        **{e: (None, {**_AVG, "metric": "cosine"}) for e in ("pixels", "mae_vitb16")},
    },
    "affinity_propagation": {
        "mae_vitb16": (None, {"damping": 0.6}),
        "random_vitb16": (None, {"damping": 0.95}),
        "clip_vitb16": (None, {"damping": 0.95}),
        "mocov3_resnet50": (None, {"damping": 0.75}),
        "vicreg_resnet50": (None, {"damping": 0.8}),
        "dino_vitb16": (None, {"damping": 0.85}),
        "pixels": (None, {"damping": 0.85}),
    },
    "hdbscan": {
        **{e: (None, {"metric": "l1"}) for e in
           ("dino_resnet50", "dino_vitb16", "vicreg_resnet50", "clip_resnet50", "clip_vitb16",
            "random_resnet50", "random_vitb16")},
        "supervised_vitb16": (None, {"metric": "chebyshev"}),
    },
}
_THRESH = {"pixels": 0.71, "supervised_resnet50": 2.0, "supervised_vitb16": 2.0, "vicreg_resnet50": 0.5,
           "dino_resnet50": 0.5, "dino_vitb16": 0.2, "mocov3_vitb16": 1.0, "mocov3_resnet50": 10.0,
           "random_resnet50": 10.0, "mae_vitb16": 0.71}
PAPER_OVERRIDES["ac_without_c"] = {
    e: (None, {**PAPER_OVERRIDES["ac_with_c"].get(e, (None, {}))[1], "distance_threshold": t})
    for e, t in _THRESH.items()
}

_FAMILY_TO_PAPER = {"ResNet-50": "resnet50", "ResNet-small": "resnet50", "EfficientNet": "resnet50",
                    "ViT-B/16": "vitb16", "ViT-small": "vitb16"}


def paper_encoder_for(family: str, method: str) -> str:
    """The paper encoder whose settings an encoder of this backbone kind and method borrows."""
    if method == "none":
        return "pixels"
    arch = _FAMILY_TO_PAPER.get(family, "resnet50")
    return f"{method}_{arch}"


def paper_settings(clusterer: str, encoder: str, family: str | None = None,
                   method: str | None = None) -> tuple[ReducerConfig, dict[str, Any]]:
    """(reduction, hyper-parameters) the paper chose for `clusterer` on `encoder`."""
    spec = CLUSTERERS.get(clusterer)
    key = encoder if family is None or method is None else paper_encoder_for(family, method)
    if encoder in PAPER_OVERRIDES.get(clusterer, {}):
        key = encoder
    reducer, extra = PAPER_OVERRIDES.get(clusterer, {}).get(key, (None, {}))
    return reducer or spec.reducer, {**spec.defaults, **extra}


# --------------------------------------------------------------------------- running
@dataclass
class ClusterResult:
    labels: np.ndarray
    clusterer: str
    params: dict[str, Any]
    seconds: float
    estimator: Any = None

    @property
    def n_clusters(self) -> int:
        return int(len(np.unique(self.labels[self.labels >= 0])))


def validate_embeddings(X: np.ndarray, what: str = "embeddings") -> np.ndarray:
    x = np.asarray(X)
    if x.ndim != 2 or len(x) < 2:
        raise InvalidEmbeddingError(f"{what}: expected a 2-d array with at least 2 rows, got shape {x.shape}")
    if not np.isfinite(x).all():
        rows = int((~np.isfinite(x)).any(axis=1).sum())
        raise InvalidEmbeddingError(
            f"{what}: {rows} rows contain NaN or infinity; refusing to cluster. Check the encoder "
            "and its weights (or the reduction) that produced them"
        )
    return x


def make_clusterer(name: str, n_clusters: int | None = None, *, seed: int = 0,
                   n_samples: int | None = None, **params: Any) -> Any:
    """A configured estimator: the clusterer's paper defaults, updated by `params`."""
    spec = CLUSTERERS.get(name)
    if spec.uses_n_clusters:
        if n_clusters is None:
            raise InvalidParameterError(f"{spec.title} needs n_clusters (the number of classes)")
        if n_clusters < 2 or (n_samples is not None and n_clusters > n_samples):
            upper = f"the number of samples ({n_samples})" if n_samples is not None else "the number of samples"
            raise InvalidParameterError(
                f"{spec.title}: n_clusters must be between 2 and {upper}, got {n_clusters}; "
                "ask for fewer clusters or cluster more samples"
            )
    merged = {**spec.defaults, **params}
    if "damping" in merged and not 0.5 <= merged["damping"] < 1:
        raise InvalidParameterError(
            f"{spec.title}: damping must be in [0.5, 1), got {merged['damping']} (the paper uses 0.5-0.95)"
        )
    try:
        return spec.factory(n_clusters, seed, **merged)
    except TypeError as err:
        raise InvalidParameterError(f"{spec.title}: unsupported parameter(s) {sorted(params)} ({err})") from err


def check_params(name: str, params: dict[str, Any]) -> None:
    """Fail early (before any embedding work) on a bad clusterer name or hyper-parameter."""
    make_clusterer(name, 2 if CLUSTERERS.get(name).uses_n_clusters else None, **params)


def cluster(X: np.ndarray, name: str, n_clusters: int | None = None, *, seed: int = 0,
            **params: Any) -> ClusterResult:
    """Validate `X`, fit clusterer `name` and return its labels (noise = -1 for HDBSCAN)."""
    x = validate_embeddings(X)
    est = make_clusterer(name, n_clusters, seed=seed, n_samples=len(x), **params)
    t0 = time.perf_counter()
    est.fit(x)
    seconds = time.perf_counter() - t0
    merged = {**CLUSTERERS.get(name).defaults, **params}
    return ClusterResult(np.asarray(est.labels_, dtype=np.int64), name, merged, seconds, est)
