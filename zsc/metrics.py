"""Stage 6 — metrics: agreement with labels (AMI first, ARI, NMI, per taxonomy level), silhouette
without labels, and weighted kNN accuracy as the paper (after DINO) computes it.

Everything that is O(n²) is computed in blocks: silhouette and kNN never hold an n×n matrix.
HDBSCAN's noise label (-1) counts as one more cluster in AMI/ARI/NMI, as in the paper's code;
`*_clustered` variants score only the points that were assigned a cluster.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn import metrics as skm

KNN_KS = (1, 10, 20, 100, 200)
KNN_TEMPERATURE = 0.07
SILHOUETTE_MAX_SAMPLES = 20_000  # exact (blocked) up to this many points, seeded subsample above


# --------------------------------------------------------------------------- label agreement
@dataclass(frozen=True)
class MutualInfo:
    mi: float
    emi: float
    h_true: float
    h_pred: float

    @property
    def ami(self) -> float:
        """AMI with the arithmetic-mean normaliser (scikit-learn's default, the paper's AMI)."""
        return _ratio(self.mi - self.emi, (self.h_true + self.h_pred) / 2 - self.emi)

    @property
    def ami_true(self) -> float:
        """AMI normalised by H(Y_true): the fraction of the label's entropy the clustering explains."""
        return _ratio(self.mi - self.emi, self.h_true - self.emi)


def _ratio(num: float, den: float) -> float:
    eps = np.finfo(np.float64).eps
    num = min(num, -eps) if num < 0 else max(num, eps)
    den = min(den, -eps) if den < 0 else max(den, eps)
    return float(num / den)


def mutual_info_parts(y_true: np.ndarray, y_pred: np.ndarray) -> MutualInfo:
    """MI, its expectation under permutation, and both entropies (nats)."""
    from sklearn.metrics.cluster import contingency_matrix, mutual_info_score
    from sklearn.metrics.cluster._expected_mutual_info_fast import expected_mutual_information

    c = contingency_matrix(y_true, y_pred, sparse=True)
    mi = mutual_info_score(None, None, contingency=c)
    emi = expected_mutual_information(c, len(y_true))
    return MutualInfo(float(mi), float(emi), _entropy(y_true), _entropy(y_pred))


def _entropy(y: np.ndarray) -> float:
    _, counts = np.unique(y, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def ami(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Adjusted mutual information (arithmetic normaliser); 1 for identical one-cluster labelings."""
    n_true, n_pred = len(np.unique(y_true)), len(np.unique(y_pred))
    if n_true == n_pred == 1:
        return 1.0
    if n_true == 1 or n_pred == 1:
        return 0.0
    return mutual_info_parts(y_true, y_pred).ami


def ami_true(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """AMI normalised by H(Y_true) − E[MI] (the paper's taxonomic-level variant)."""
    if len(np.unique(y_true)) == 1:
        return float("nan")  # no label entropy to explain
    if len(np.unique(y_pred)) == 1:
        return 0.0
    return mutual_info_parts(y_true, y_pred).ami_true


def hierarchy_ami(hierarchy: Mapping[str, np.ndarray], y_pred: np.ndarray) -> dict[str, dict[str, float]]:
    """AMI (both normalisations) of one clustering against every level of a label taxonomy."""
    out = {}
    for level, labels in hierarchy.items():
        parts = None if len(np.unique(labels)) == 1 else mutual_info_parts(labels, y_pred)
        out[level] = {
            "ami": ami(labels, y_pred) if parts is None else parts.ami,
            "ami_true": ami_true(labels, y_pred) if parts is None else parts.ami_true,
        }
    return out


# --------------------------------------------------------------------------- silhouette
@dataclass(frozen=True)
class Silhouette:
    """A silhouette score, the points it used, and (for subsamples) its standard error."""

    value: float
    n_used: int
    stderr: float = 0.0
    reason: str = ""  # why value is NaN, if it is


def silhouette_exact(X: np.ndarray, labels: np.ndarray, *, block_bytes: int = 256 * 2**20) -> float:
    """Exact euclidean silhouette (= scikit-learn's), computed in row blocks: O(n·block) memory."""
    return float(np.mean(silhouette_samples_blocked(X, labels, block_bytes=block_bytes)))


def silhouette_samples_blocked(X: np.ndarray, labels: np.ndarray, *,
                               block_bytes: int = 256 * 2**20) -> np.ndarray:
    import scipy.sparse as sp

    x = torch.as_tensor(np.asarray(X, dtype=np.float64))
    _, lab = np.unique(labels, return_inverse=True)
    n, k = len(lab), int(lab.max()) + 1
    counts = np.bincount(lab, minlength=k).astype(np.float64)
    onehot = sp.csr_matrix((np.ones(n), (np.arange(n), lab)), shape=(n, k))
    sq = (x * x).sum(1)
    rows = max(1, block_bytes // (8 * max(n, 1)))
    s = np.empty(n)
    for start in range(0, n, rows):
        xb = x[start : start + rows]
        d2 = sq[start : start + rows, None] + sq[None, :] - 2.0 * (xb @ x.T)
        d = torch.sqrt(torch.clamp_(d2, min=0.0)).numpy()
        sums = np.asarray(onehot.T @ d.T).T  # (block, k): summed distance to each cluster
        own = lab[start : start + rows]
        idx = np.arange(len(own))
        own_n = counts[own]
        a = sums[idx, own] / np.maximum(own_n - 1, 1)
        mean_other = sums / counts[None, :]
        mean_other[idx, own] = np.inf
        b = mean_other.min(axis=1)
        sb = (b - a) / np.maximum(np.maximum(a, b), 1e-300)
        sb[own_n <= 1] = 0.0  # scikit-learn's convention for singletons
        s[start : start + rows] = sb
    return s


def silhouette(X: np.ndarray, labels: np.ndarray, *, metric: str = "euclidean",
               max_samples: int | None = SILHOUETTE_MAX_SAMPLES, seed: int = 0) -> Silhouette:
    """Silhouette of `labels` in the space `X`: exact up to `max_samples`, else a seeded subsample
    (its standard error is the per-point std / sqrt(m)). NaN with a reason when undefined."""
    labels = np.asarray(labels)
    n = len(labels)
    n_labels = len(np.unique(labels))
    if n_labels < 2:
        return Silhouette(float("nan"), 0, reason="only one cluster")
    if n_labels >= n:
        return Silhouette(float("nan"), 0, reason="every point is its own cluster")
    idx = np.arange(n)
    if max_samples is not None and n > max_samples:
        idx = np.sort(np.random.default_rng(seed).choice(n, max_samples, replace=False))
        if len(np.unique(labels[idx])) < 2:
            return Silhouette(float("nan"), 0, reason="subsample holds one cluster")
    x, lab = np.asarray(X)[idx], labels[idx]
    if metric == "euclidean":
        per_point = silhouette_samples_blocked(x, lab)
    else:
        per_point = skm.silhouette_samples(x, lab, metric=metric)
    stderr = float(per_point.std(ddof=1) / math.sqrt(len(idx))) if len(idx) < n else 0.0
    return Silhouette(float(per_point.mean()), len(idx), stderr)


# --------------------------------------------------------------------------- kNN probing
def knn_accuracy(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
    ks: Sequence[int] = KNN_KS, *, temperature: float = KNN_TEMPERATURE,
    block_size: int = 1024, device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[int, float]:
    """Weighted kNN accuracy (DINO's): cosine similarity to the training set, top-k neighbours,
    votes weighted by exp(sim / T). Blocked over test points: never an n_test × n_train matrix."""
    dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tr = torch.nn.functional.normalize(torch.as_tensor(np.asarray(train_x), dtype=dtype, device=dev), dim=1)
    te = torch.nn.functional.normalize(torch.as_tensor(np.asarray(test_x), dtype=dtype, device=dev), dim=1)
    _, ytr_np = np.unique(np.asarray(train_y), return_inverse=True)
    classes = np.unique(np.asarray(train_y))
    ytr = torch.as_tensor(ytr_np, device=dev)
    n_cls = len(classes)
    kmax = min(max(ks), len(tr))
    correct = {k: 0 for k in ks}
    test_y = np.asarray(test_y)
    for s in range(0, len(te), block_size):
        sim = te[s : s + block_size] @ tr.T
        top_sim, top_idx = sim.topk(kmax, dim=1)
        weights = (top_sim / temperature).exp()
        votes_of = ytr[top_idx]
        onehot = torch.nn.functional.one_hot(votes_of, n_cls).to(weights.dtype)  # (b, kmax, C)
        cum = torch.cumsum(onehot * weights[..., None], dim=1)  # votes with the first j neighbours
        truth = test_y[s : s + block_size]
        for k in ks:
            pred = classes[cum[:, min(k, kmax) - 1].argmax(dim=1).cpu().numpy()]
            correct[k] += int((pred == truth).sum())
    return {k: correct[k] / len(te) for k in ks}


# --------------------------------------------------------------------------- one clustering
def score_clustering(
    y_true: np.ndarray, y_pred: np.ndarray, *,
    spaces: Mapping[str, np.ndarray] | None = None,
    hierarchy: Mapping[str, np.ndarray] | None = None,
    silhouette_max_samples: int | None = SILHOUETTE_MAX_SAMPLES, seed: int = 0,
) -> dict[str, Any]:
    """Every metric of one clustering as a flat dict (one results row's metric columns).

    `spaces` maps a name to the embedding the silhouette is measured in, e.g.
    {"original": X, "umap": X_umap}; each gives `silhouette_<name>` (+ `_n`, `_stderr`, `_reason`).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    clustered = y_pred >= 0
    row: dict[str, Any] = {
        "ami": ami(y_true, y_pred),
        "ari": float(skm.adjusted_rand_score(y_true, y_pred)),
        "nmi": float(skm.normalized_mutual_info_score(y_true, y_pred)),
        "n_clusters_true": int(len(np.unique(y_true))),
        "n_clusters_pred": int(len(np.unique(y_pred[clustered]))),
        "ratio_clustered": float(clustered.mean()),
    }
    if clustered.any() and not clustered.all():
        row["ami_clustered"] = ami(y_true[clustered], y_pred[clustered])
    else:
        row["ami_clustered"] = row["ami"] if clustered.all() else float("nan")
    for name, X in (spaces or {}).items():
        sil = silhouette(X, y_pred, max_samples=silhouette_max_samples, seed=seed)
        row[f"silhouette_{name}"] = sil.value
        row[f"silhouette_{name}_n"] = sil.n_used
        row[f"silhouette_{name}_stderr"] = sil.stderr
        row[f"silhouette_{name}_reason"] = sil.reason
    for level, vals in hierarchy_ami(hierarchy or {}, y_pred).items():
        row[f"ami_level_{level}"] = vals["ami"]
        row[f"ami_true_level_{level}"] = vals["ami_true"]
    return row
