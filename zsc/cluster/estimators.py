"""zsc's clusterers as scikit-learn estimators: agglomerative (fastcluster), Affinity
Propagation, HDBSCAN. Each validates its input with scikit-learn's public `validate_data`
(2-d, finite, real, dense, at least 2 samples; sets `n_features_in_`) and passes
`sklearn.utils.estimator_checks.check_estimator` (tests/test_cluster.py).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import InvalidParameterError
from .memory import (
    FULL_MATRIX_LINKAGES,
    MemoryBudgetError,
    ap_need,
    budget,
    format_bytes,
    largest_fitting,
    linkage_need,
    round_up,
)

VECTOR_LINKAGES = ("ward", "centroid", "median", "single")


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


def _consecutive(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 in order of their values; negative labels (noise) are kept."""
    out = np.asarray(labels, dtype=np.int64).copy()
    pos = out >= 0
    if pos.any():
        _, out[pos] = np.unique(out[pos], return_inverse=True)
    return out


class Agglomerative(ClusterMixin, BaseEstimator):
    """Agglomerative clustering by number of clusters *or* distance threshold, on fastcluster.

    Gives the same partition as scikit-learn's AgglomerativeClustering (tested), with O(n·d)
    memory for ward/centroid/median/single instead of scikit-learn's O(n²). Average, complete
    and weighted linkage need the condensed distance matrix (O(n²), twice at the peak); they run
    on all points, as the paper did, when that fits in `max_memory` (bytes or a size such as
    "64GiB"; None: this machine's memory) and are refused (`MemoryBudgetError`) when it does
    not. `normalize=True` applies the paper's AC w/o C normalisation (`average_zscore`) before
    clustering.
    """

    def __init__(self, n_clusters: int | None = 2, distance_threshold: float | None = None,
                 linkage: str = "ward", metric: str = "euclidean", normalize: bool = False,
                 max_memory: Any = None) -> None:
        self.n_clusters = n_clusters
        self.distance_threshold = distance_threshold
        self.linkage = linkage
        self.metric = metric
        self.normalize = normalize
        self.max_memory = max_memory

    def fit(self, X: Any, y: Any = None) -> Agglomerative:
        import fastcluster

        if (self.n_clusters is None) == (self.distance_threshold is None):
            raise InvalidParameterError("give exactly one of n_clusters and distance_threshold")
        x = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        limit = budget(self.max_memory)
        if self.linkage in FULL_MATRIX_LINKAGES:
            need = linkage_need(*x.shape, self.linkage)
            if limit is not None and need > limit:
                raise MemoryBudgetError(
                    f"{self.linkage} linkage on {len(x):,} points needs {format_bytes(need)} (its "
                    f"condensed distance matrix, twice), over the memory budget of "
                    f"{format_bytes(limit)}; zsc does not subsample it. Raise the budget if the "
                    f"machine has the memory (zsc run --max-memory {round_up(need)}, or "
                    "max_memory in a grid job or profile), or cluster fewer points (--n-samples)")
        self.deviation_ = ""
        if self.n_clusters is not None and not 1 <= self.n_clusters <= len(x):
            raise InvalidParameterError(f"n_clusters must be between 1 and n_samples = {len(x)}, "
                                        f"got {self.n_clusters}")
        if self.normalize:
            x = average_zscore(x, self.metric)
        metric = "cityblock" if self.metric in ("l1", "manhattan") else self.metric
        if self.linkage in VECTOR_LINKAGES:
            if self.linkage != "single" and metric != "euclidean":
                raise InvalidParameterError(f"{self.linkage} linkage needs the euclidean metric")
            Z = fastcluster.linkage_vector(x, method=self.linkage, metric=metric)
        else:
            Z = fastcluster.linkage(x, method=self.linkage, metric=metric)
        self.linkage_matrix_ = Z
        self.n_leaves_ = len(x)
        self.labels_ = self.cut(self.n_clusters, self.distance_threshold)
        self.n_clusters_ = int(self.labels_.max() + 1)
        return self

    def cut(self, n_clusters: int | None = None, distance_threshold: float | None = None) -> np.ndarray:
        """Labels (0..k-1) for another cut of the fitted tree — cheap, for threshold sweeps."""
        from scipy.cluster.hierarchy import fcluster

        check_is_fitted(self, "linkage_matrix_")
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
    """scikit-learn's Affinity Propagation on all points (as the paper ran it), with zsc's
    default damping (0.9), int64 labels and `predict` (nearest exemplar). Non-convergence gives
    all labels -1, as scikit-learn's does; its ConvergenceWarning is silenced (`converged_` says
    whether it converged).

    Its n×n matrices (`memory.ap_need`) must fit in `max_memory` (bytes or a size such as
    "64GiB"; None: this machine's memory). When they do not, it is fitted on the largest seeded
    subsample that fits (`subsample_`, drawn with `random_state`) and the other points get the
    nearest exemplar's label (as `predict`); `deviation_` says so ("" when all points were fitted).
    """

    def __init__(self, damping: float = 0.9, convergence_iter: int = 15, max_iter: int = 1000,
                 preference: Any = None, affinity: str = "euclidean", random_state: Any = 0,
                 max_memory: Any = None) -> None:
        self.damping = damping
        self.convergence_iter = convergence_iter
        self.max_iter = max_iter
        self.preference = preference
        self.affinity = affinity
        self.random_state = random_state
        self.max_memory = max_memory

    def fit(self, X: Any, y: Any = None) -> AffinityPropagation:
        if not 0.5 <= self.damping < 1:
            raise InvalidParameterError(f"damping must be in [0.5, 1), got {self.damping}")
        # float32 stays float32 (as scikit-learn's own AP, which the paper ran on float32
        # UMAP/PCA output): a non-converging AP's result depends on the precision
        x = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n, d = x.shape
        limit = budget(self.max_memory)
        need = ap_need(n, d, x.dtype.itemsize)
        self.subsample_ = None
        self.deviation_ = ""
        if limit is None or need <= limit:
            self._fit_all(x)
            return self
        m = largest_fitting(lambda k: ap_need(k, d, x.dtype.itemsize), n, limit)
        if self.affinity == "precomputed" or m < 2:
            why = ("a precomputed affinity cannot be subsampled" if self.affinity == "precomputed"
                   else "not even 2 points fit")
            raise MemoryBudgetError(
                f"Affinity Propagation on {n:,} points needs {format_bytes(need)}, over the memory "
                f"budget of {format_bytes(limit)}, and {why}; raise the budget (zsc run "
                f"--max-memory {round_up(need)}, or max_memory in a grid job or profile)")
        idx = np.sort(check_random_state(self.random_state).choice(n, m, replace=False))
        self._fit_all(x[idx])
        labels = self.predict(x)
        labels[idx] = self.labels_
        self.subsample_ = idx
        self.cluster_centers_indices_ = idx[self.cluster_centers_indices_]
        self.labels_ = labels
        self.deviation_ = (
            f"Affinity Propagation fitted on a {m:,}-point seeded subsample of {n:,} (needs "
            f"{format_bytes(need)}, budget {format_bytes(limit)}); the rest assigned to the "
            "nearest exemplar")
        return self

    def _fit_all(self, x: np.ndarray) -> None:
        from sklearn.cluster import AffinityPropagation as _AP
        from sklearn.exceptions import ConvergenceWarning

        model = _AP(damping=self.damping, convergence_iter=self.convergence_iter,
                    max_iter=self.max_iter, preference=self.preference, affinity=self.affinity,
                    random_state=self.random_state)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(x)
        for w in caught:  # pass on anything but the convergence warning
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.cluster_centers_indices_ = np.asarray(model.cluster_centers_indices_, dtype=np.int64)
        self.labels_ = np.asarray(model.labels_, dtype=np.int64)
        self.n_iter_ = int(model.n_iter_)
        self.converged_ = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        if self.affinity != "precomputed":
            self.cluster_centers_ = x[self.cluster_centers_indices_].copy()

    def predict(self, X: Any) -> np.ndarray:
        """The nearest exemplar's label for each row (-1 everywhere when the fit did not converge)."""
        check_is_fitted(self, "labels_")
        if self.affinity == "precomputed":
            raise InvalidParameterError("predict is not available with affinity='precomputed'")
        x = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if len(self.cluster_centers_indices_) == 0:
            return np.full(len(x), -1, dtype=np.int64)
        return _nearest(x, self.cluster_centers_)


def _nearest(x: np.ndarray, centres: np.ndarray, block: int = 8192) -> np.ndarray:
    out = np.empty(len(x), dtype=np.int64)
    c2 = (centres**2).sum(1)
    for s in range(0, len(x), block):
        xb = x[s : s + block]
        out[s : s + block] = np.argmin(c2[None, :] - 2 * xb @ centres.T, axis=1)
    return out


class HDBSCAN(ClusterMixin, BaseEstimator):
    """HDBSCAN with the maximum cluster size given as a fraction of the data (the paper's
    `max_cluster_size = round(0.2·N)`), on scikit-learn's implementation.

    `min_samples` follows scikit-learn's convention (the point itself counts); None means
    `min_cluster_size`, which is what the paper ran (it set min_cluster_size only). The class
    default `max_cluster_frac=None` is scikit-learn's (no cap); the paper's 0.2 is the
    registry's default (`zsc.cluster.CLUSTERERS["hdbscan"]`).
    """

    def __init__(self, min_cluster_size: int = 5, min_samples: int | None = None,
                 max_cluster_frac: float | None = None, metric: str = "euclidean",
                 cluster_selection_method: str = "eom") -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.max_cluster_frac = max_cluster_frac
        self.metric = metric
        self.cluster_selection_method = cluster_selection_method

    def fit(self, X: Any, y: Any = None) -> HDBSCAN:
        from sklearn.cluster import HDBSCAN as _H

        x = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        n = len(x)
        self.max_cluster_size_ = round(self.max_cluster_frac * n) if self.max_cluster_frac else None
        metric = "manhattan" if self.metric == "l1" else self.metric
        self.model_ = _H(min_cluster_size=self.min_cluster_size, min_samples=self.min_samples,
                         max_cluster_size=self.max_cluster_size_, metric=metric,
                         cluster_selection_method=self.cluster_selection_method,
                         copy=True)  # never modify the caller's array (and no FutureWarning)
        self.labels_ = _consecutive(self.model_.fit_predict(x))
        self.probabilities_ = np.asarray(self.model_.probabilities_)
        return self
