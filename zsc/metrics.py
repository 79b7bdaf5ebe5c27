"""Stage 6 — metrics: agreement with labels (AMI first, ARI, NMI, Hungarian-matched accuracy, per
taxonomy level), silhouette without labels, and weighted kNN accuracy as the paper (after DINO)
computes it.

Everything that is O(n²) is computed in blocks: silhouette and kNN never hold an n×n matrix.
HDBSCAN's noise label (-1) counts as one more cluster in AMI/ARI/NMI, as in the paper's code;
`*_clustered` variants score only the points that were assigned a cluster.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InvalidParameterError

if TYPE_CHECKING:  # torch is imported by the kNN functions only (0.46 GiB RSS for a CUDA build)
    import torch


class _LazyModule:
    """A module imported on first attribute access: `import zsc.metrics` (and kNN-only callers)
    do not pay for scikit-learn's metrics and scipy (0.14 GiB RSS) until a metric needs them."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        import importlib

        return getattr(importlib.import_module(self._name), attr)


skm = _LazyModule("sklearn.metrics")

KNN_KS = (1, 10, 20, 100, 200)
KNN_TEMPERATURE = 0.07
SILHOUETTE_MAX_SAMPLES = 20_000  # exact (blocked) up to this many points, seeded subsample above
# Image-level uncertainty: each score is also stored for this many bootstrap resamples of the
# images (column `<score>_draws`), so an analysis can carry the images' spread into its interval.
IMAGE_DRAWS = 20
IMAGE_DRAW_SEED = 0
DRAWS = "_draws"


def image_draws(n: int, n_draws: int = IMAGE_DRAWS) -> np.ndarray:
    """Indices of `n_draws` bootstrap resamples of n images, (n_draws, n). A function of n alone:
    every row scored on the same images (an encoder × dataset's clusterers and seeds, its kNN
    probe) resamples them alike, so replicate r of one row pairs with replicate r of another."""
    return np.random.default_rng([IMAGE_DRAW_SEED, int(n)]).integers(0, max(int(n), 1), (n_draws, int(n)))


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


def _coded(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Both labelings as integers 0..k-1 (any dtype, noise -1 included), so counting is bincount;
    and k, the number of predicted labels."""
    t, p = (np.unique(np.asarray(y), return_inverse=True)[1].ravel() for y in (y_true, y_pred))
    return t, p, int(p.max(initial=-1)) + 1


@functools.lru_cache(maxsize=8)
def _log_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    """log Γ(k) (lg[k] = log((k − 1)!)) for k in 0..n+1 and log k for k in 0..n: every term of MI,
    E[MI] and the entropies takes integer counts ≤ n, so they are looked up, not evaluated, and
    an image resample (same n) reuses the tables of its row."""
    from scipy.special import gammaln

    lg = gammaln(np.arange(n + 2, dtype=np.float64))
    with np.errstate(divide="ignore"):
        log = np.log(np.arange(n + 1, dtype=np.float64))
    lg.flags.writeable = log.flags.writeable = False
    return lg, log


def _entropy_of_counts(c: np.ndarray, n: int, log: np.ndarray) -> float:
    c = c[c > 0]
    return float(log[n] - (c * log[c]).sum() / n)


def _parts(t: np.ndarray, p: np.ndarray, k: int) -> tuple[MutualInfo, int, int]:
    """MI parts of two coded labelings (`p` < k) from their sparse contingency table, and how
    many classes and clusters occur: numpy only, as one image resample of a row needs them."""
    n = len(t)
    _, log = _log_tables(n)
    cells, nij = np.unique(t * k + p, return_counts=True)
    a, b = np.bincount(t), np.bincount(p, minlength=k)
    mi = float(nij @ (log[n] + log[nij] - log[a[cells // k]] - log[b[cells % k]])) / n
    parts = MutualInfo(max(mi, 0.0), expected_mutual_information(a, b),
                       _entropy_of_counts(a, n, log), _entropy_of_counts(b, n, log))
    return parts, int(np.count_nonzero(a)), int(np.count_nonzero(b))


def mutual_info_parts(y_true: np.ndarray, y_pred: np.ndarray) -> MutualInfo:
    """MI, its expectation under permutation, and both entropies (nats)."""
    return _parts(*_coded(y_true, y_pred))[0]


def expected_mutual_information(a: np.ndarray, b: np.ndarray, chunk: int = 2**21) -> float:
    """E[MI] (nats) of two labelings with class sizes `a` and `b` under random permutation
    (Vinh et al. 2010, eq. 24A), the term AMI subtracts. Written here with numpy because
    scikit-learn keeps its own (Cython) version private. A cell's term depends on its two sizes
    alone, so it is summed once per distinct pair of sizes and weighted by how many cells have
    them: every count n_ij from max(1, a + b − n) to min(a, b), laid end to end in chunks of at
    most `chunk` counts (memory stays bounded at any n); log Γ and log are looked up."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    n = int(a.sum())
    (ua, ca), (ub, cb) = (np.unique(x[x > 0], return_counts=True) for x in (a, b))
    if ca.sum() <= 1 or cb.sum() <= 1:
        return 0.0
    lg, log = _log_tables(n)
    ai, bj = (g.ravel() for g in np.meshgrid(ua, ub, indexing="ij"))
    start = np.maximum(1, ai + bj - n)
    width = np.maximum(np.minimum(ai, bj) - start + 1, 0)
    fixed = lg[ai + 1] + lg[n - ai + 1] + lg[bj + 1] + lg[n - bj + 1] - lg[n + 1]
    ends = np.cumsum(width)
    term = np.zeros(len(ai))
    lo = 0
    while lo < len(ai):  # pairs [lo, hi) hold at most `chunk` counts (a wider pair alone)
        hi = max(lo + 1, int(np.searchsorted(ends, ends[lo] - width[lo] + chunk, side="right")))
        w = width[lo:hi]
        owner = np.repeat(np.arange(lo, hi), w)
        nij = start[owner] + (np.arange(int(w.sum())) - np.repeat(np.cumsum(w) - w, w))
        A, B = ai[owner], bj[owner]
        log_p = fixed[owner] - lg[nij + 1] - lg[A - nij + 1] - lg[B - nij + 1] - lg[n - A - B + nij + 1]
        t = nij / n * (log[n] + log[nij] - log[A] - log[B]) * np.exp(log_p)
        term[lo:hi] = np.bincount(owner - lo, weights=t, minlength=hi - lo)
        lo = hi
    return float(ca @ term.reshape(len(ua), len(ub)) @ cb)


def _ami(t: np.ndarray, p: np.ndarray, k: int) -> float:
    parts, n_true, n_pred = _parts(t, p, k)
    if n_true == n_pred == 1:
        return 1.0
    if n_true == 1 or n_pred == 1:
        return 0.0
    return parts.ami


def ami(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Adjusted mutual information (arithmetic normaliser); 1 for identical one-cluster labelings."""
    return _ami(*_coded(y_true, y_pred))


def ami_true(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """AMI normalised by H(Y_true) − E[MI] (the paper's taxonomic-level variant)."""
    parts, n_true, n_pred = _parts(*_coded(y_true, y_pred))
    if n_true == 1:
        return float("nan")  # no label entropy to explain
    return 0.0 if n_pred == 1 else parts.ami_true


def ami_draws(y_true: np.ndarray, y_pred: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """`ami` of each bootstrap resample of the images (`draws`: resamples × n indices); the labels
    are coded once and each resample counted with numpy (scikit-learn's per-call validation and
    sparse contingency were most of a row's cost)."""
    t, p, k = _coded(y_true, y_pred)
    return np.array([_ami(t[i], p[i], k) for i in np.asarray(draws)])


def clustering_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Clustering accuracy (ACC), the deep-clustering papers' headline metric: the fraction of
    points whose cluster maps to their class under the best one-to-one matching of clusters to
    classes (Hungarian, `scipy.optimize.linear_sum_assignment` on the contingency table). With
    more clusters than classes (or fewer) the unmatched clusters' points count as wrong; noise
    (-1) is one more cluster, as in AMI. N2D's and KingdraCluster's code computed it with
    scikit-learn's since-removed `linear_assignment`."""
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics.cluster import contingency_matrix

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        return float("nan")
    c = contingency_matrix(y_true, y_pred)  # classes x clusters, any shape
    rows, cols = linear_sum_assignment(c, maximize=True)
    return float(c[rows, cols].sum() / len(y_true))


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
    draws: tuple[float, ...] = ()  # the mean over each image resample (`silhouette(draws=)`)


def silhouette_exact(X: np.ndarray, labels: np.ndarray, *, metric: str = "euclidean",
                     block_bytes: int = 256 * 2**20) -> float:
    """Exact silhouette (= scikit-learn's `silhouette_score`), computed in row blocks:
    O(block_bytes + n·d) memory, never the n×n distance matrix."""
    return float(np.mean(silhouette_samples_blocked(X, labels, metric=metric, block_bytes=block_bytes)))


def silhouette_samples_blocked(X: np.ndarray, labels: np.ndarray, rows: np.ndarray | None = None, *,
                               metric: str = "euclidean", block_bytes: int = 256 * 2**20) -> np.ndarray:
    """Exact silhouette of the points `rows` (default: all) within the whole of `X`.

    Each row's a(i) and b(i) are measured against *all* n points, so the mean over a uniform
    sample of rows is an unbiased estimate of the full silhouette (see `silhouette`).
    Singletons score 0, as in scikit-learn. Euclidean distances of a row block come from one
    BLAS product of augmented matrices, [x_i, ‖x_i‖², 1] · [−2x_j, 1, ‖x_j‖²], into one
    block-sized buffer (sqrt in place); the points are sorted by cluster once, so the
    per-cluster distance sums are one `np.add.reduceat` over each row's contiguous segments.
    """
    return silhouette_samples_nested(X, [labels], rows, metric=metric, block_bytes=block_bytes)[0]


def silhouette_samples_nested(X: np.ndarray, label_sets: Sequence[np.ndarray], rows: np.ndarray | None = None,
                              *, metric: str = "euclidean", block_bytes: int = 256 * 2**20) -> list[np.ndarray]:
    """`silhouette_samples_blocked` of each of several nested partitions (the cuts of one tree:
    every cluster of the finest lies inside one cluster of each other) at the cost of one: a
    row's summed distance to each fine cluster, added up over the fine clusters a coarse one
    holds, is its summed distance to the coarse cluster. A ward sweep over 40 cuts of 10,000
    points took 20 s one cut at a time."""
    x = np.asarray(X, dtype=np.float64)
    sets = [np.unique(np.asarray(lab), return_inverse=True)[1].reshape(-1) for lab in label_sets]
    if not sets:
        return []
    fine = sets[int(np.argmax([lab.max(initial=-1) for lab in sets]))]
    n, dim = x.shape
    n_fine = int(fine.max()) + 1 if n else 0
    first = np.zeros(n_fine, dtype=np.int64)
    first[fine[::-1]] = np.arange(n)[::-1]  # one point of each fine cluster
    groupings = []  # per partition: the fine clusters in order of their cluster there, where each starts, sizes
    for lab in sets:
        m = lab[first]  # fine cluster -> its cluster in this partition
        if not np.array_equal(m[fine], lab):
            raise InvalidParameterError("the partitions are not nested: a cluster of the finest is split "
                                        "by another partition")
        grouped = np.argsort(m, kind="stable")
        groupings.append((grouped, np.searchsorted(m[grouped], np.arange(int(m.max()) + 1)), np.bincount(lab)))
    counts = np.bincount(fine, minlength=n_fine)
    order = np.argsort(fine, kind="stable")  # columns sorted by fine cluster: contiguous segments
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)  # column of point i
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    if metric == "euclidean":
        sq = np.einsum("ij,ij->i", x, x)
        rhs = np.empty((dim + 2, n))
        rhs[:dim] = -2.0 * x[order].T
        rhs[dim] = 1.0
        rhs[dim + 1] = sq[order]
    elif metric != "precomputed":
        xs = x[order]
    step = max(1, block_bytes // (8 * max(n, 1)))
    outs = [np.empty(len(rows)) for _ in sets]
    for s in range(0, len(rows), step):
        r = rows[s : s + step]
        idx = np.arange(len(r))
        if metric == "euclidean":
            lhs = np.empty((len(r), dim + 2))
            lhs[:, :dim] = x[r]
            lhs[:, dim] = sq[r]
            lhs[:, dim + 1] = 1.0
            d = lhs @ rhs  # ‖x_i‖² + ‖x_j‖² − 2 x_i·x_j
            np.maximum(d, 0.0, out=d)
            np.sqrt(d, out=d)
        elif metric == "precomputed":  # X is the n×n distance matrix
            d = x[np.ix_(r, order)]
        else:
            d = skm.pairwise_distances(x[r], xs, metric=metric)
        d[idx, pos[r]] = 0.0  # exact zero self-distance, as scikit-learn sets
        fine_sums = np.add.reduceat(d, starts, axis=1)  # (block, fine k): summed distance to each
        del d
        for lab, (grouped, bounds, sizes), out in zip(sets, groupings, outs, strict=True):
            sums = fine_sums if lab is fine else np.add.reduceat(fine_sums[:, grouped], bounds, axis=1)
            out[s : s + step] = _silhouette_rows(sums, lab[r], sizes)
    return outs


def _silhouette_rows(sums: np.ndarray, own: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Silhouettes of a block of rows from their summed distance to each cluster."""
    idx = np.arange(len(own))
    own_n = counts[own]
    a = sums[idx, own] / np.maximum(own_n - 1, 1)
    mean_other = sums / counts[None, :]
    mean_other[idx, own] = np.inf
    b = mean_other.min(axis=1)
    sb = (b - a) / np.maximum(np.maximum(a, b), 1e-300)
    sb[own_n <= 1] = 0.0  # scikit-learn's convention for singletons
    return sb


def silhouette(X: np.ndarray, labels: np.ndarray, *, metric: str = "euclidean",
               max_samples: int | None = SILHOUETTE_MAX_SAMPLES, seed: int = 0,
               draws: np.ndarray | None = None) -> Silhouette:
    """Silhouette of `labels` in the space `X`: exact up to `max_samples` points, above that an
    unbiased seeded estimate. NaN with a reason when undefined.

    The estimate samples `max_samples` *rows* and measures their a(i), b(i) against all n
    points (O(m·n·d) time, O(block) memory); its standard error is std/√m · √(1 − m/n) (finite
    population). It is not the silhouette *of a subsample* (scikit-learn's `sample_size`), whose
    b(i) — a minimum over clusters of means over few points — is biased low when clusters are
    many (−25 standard errors at 1,000 clusters, benchmarks/README.md).

    `draws` (resamples × n image indices, `image_draws`): also the mean of the points' own
    silhouettes over each resample, when every point was scored (NaN otherwise).
    """
    return silhouette_nested(X, [labels], metric=metric, max_samples=max_samples, seed=seed,
                             draws=draws)[0]


def silhouette_nested(X: np.ndarray, label_sets: Sequence[np.ndarray], *, metric: str = "euclidean",
                      max_samples: int | None = SILHOUETTE_MAX_SAMPLES, seed: int = 0,
                      draws: np.ndarray | None = None) -> list[Silhouette]:
    """`silhouette` of each of several nested partitions (the cuts of one tree), the distances
    computed once (`silhouette_samples_nested`); the same rows are sampled for each."""
    sets = [np.asarray(lab) for lab in label_sets]
    out: list[Silhouette | None] = []
    for labels in sets:
        n, n_labels = len(labels), len(np.unique(labels))
        if n_labels < 2:
            noise = labels.dtype.kind in "iu" and n > 0 and bool((labels < 0).all())
            out.append(Silhouette(float("nan"), 0, reason="all points are noise" if noise else "only one cluster"))
        elif n_labels >= n:
            out.append(Silhouette(float("nan"), 0, reason="every point is its own cluster"))
        else:
            out.append(None)
    todo = [i for i, v in enumerate(out) if v is None]
    if todo:
        n = len(sets[todo[0]])
        sample = max_samples is not None and n > max_samples
        rows = np.sort(np.random.default_rng(seed).choice(n, max_samples, replace=False)) if sample else None
        per_point = silhouette_samples_nested(X, [sets[i] for i in todo], rows, metric=metric)
        for i, v in zip(todo, per_point, strict=True):
            if not sample:
                resampled = tuple(float(x) for x in v[draws].mean(axis=1)) if draws is not None else ()
                out[i] = Silhouette(float(v.mean()), n, draws=resampled)
                continue
            m = len(v)
            fpc = math.sqrt(1.0 - m / n)
            stderr = float(v.std(ddof=1) / math.sqrt(m) * fpc) if m > 1 else float("nan")
            out[i] = Silhouette(float(v.mean()), m, stderr)
    return [v for v in out if v is not None]


# --------------------------------------------------------------------------- kNN probing
def knn_accuracy(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
    ks: Sequence[int] = KNN_KS, **kw: Any,
) -> dict[int, float]:
    """Weighted kNN accuracy (DINO's) at each k: the mean of `knn_correct`."""
    return {k: float(c.mean()) for k, c in knn_correct(train_x, train_y, test_x, test_y, ks, **kw).items()}


def knn_correct(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
    ks: Sequence[int] = KNN_KS, *, temperature: float = KNN_TEMPERATURE,
    block_bytes: int = 128 * 2**20, block_size: int | None = None,
    device: str | torch.device | None = None, dtype: torch.dtype | None = None,
) -> dict[int, np.ndarray]:
    """Whether each test point's weighted kNN vote (DINO's) is right, per k: cosine similarity
    to the training set, top-k neighbours, votes weighted by exp(sim / T); a k above the number
    of training points uses them all.

    Blocked over test points: each (block, n_train) similarity block is about `block_bytes`
    (or `block_size` test rows, if given) and all blocks share one buffer (`torch.mm(out=)`).
    Neither set is copied (a float32 array is shared with torch): test rows are normalised a
    block at a time, and each similarity block is scaled by the training rows' inverse norms
    instead of normalising a copy of the training set. The votes for each k
    are a `scatter_add_` of the next weights into one (block, classes) table, never a one-hot
    (block, k, classes) tensor. `dtype` defaults to float32; `device` to CUDA when available.
    """
    import torch

    dtype = torch.float32 if dtype is None else dtype
    dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tr = torch.as_tensor(np.asarray(train_x), dtype=dtype, device=dev)  # no copy for float32 on CPU
    inv_norm = 1.0 / torch.linalg.vector_norm(tr, dim=1).clamp_min(1e-12)  # as F.normalize
    te = torch.as_tensor(np.asarray(test_x), dtype=dtype, device=dev)  # normalised block by block
    classes, ytr_np = np.unique(np.asarray(train_y), return_inverse=True)
    ytr = torch.as_tensor(ytr_np.ravel(), device=dev)
    kmax = min(max(ks), len(tr))
    steps = sorted({min(k, kmax) for k in ks})
    if block_size is not None:
        rows = max(1, int(block_size))
    else:
        rows = max(1, block_bytes // (tr.element_size() * max(len(tr), 1)))
    test_y = np.asarray(test_y)
    correct_at = {kk: np.zeros(len(te), dtype=bool) for kk in steps}
    buf = torch.empty((min(rows, len(te)), len(tr)), dtype=dtype, device=dev)
    for s in range(0, len(te), rows):
        block = torch.nn.functional.normalize(te[s : s + rows], dim=1)
        sim = torch.mm(block, tr.T, out=buf[: len(block)])
        top_sim, top_idx = sim.mul_(inv_norm).topk(kmax, dim=1)  # sorted, most similar first
        weights = top_sim.div_(temperature).exp_()
        votes_of = ytr[top_idx]
        votes = torch.zeros((len(block), len(classes)), dtype=dtype, device=dev)
        truth = test_y[s : s + rows]
        done = 0
        for kk in steps:  # votes of the first kk neighbours, added on to those of the last kk
            votes.scatter_add_(1, votes_of[:, done:kk], weights[:, done:kk])
            done = kk
            pred = classes[votes.argmax(dim=1).cpu().numpy()]
            correct_at[kk][s : s + rows] = pred == truth
    return {k: correct_at[min(k, kmax)] for k in ks}


# --------------------------------------------------------------------------- one clustering
def score_clustering(
    y_true: np.ndarray | None, y_pred: np.ndarray, *,
    spaces: Mapping[str, np.ndarray] | None = None,
    hierarchy: Mapping[str, np.ndarray] | None = None,
    silhouette_max_samples: int | None = SILHOUETTE_MAX_SAMPLES, seed: int = 0,
    draws: np.ndarray | None = None,
) -> dict[str, Any]:
    """Every metric of one clustering as a flat dict (one results row's metric columns);
    `y_true` None (no labels): the label metrics are NaN.

    `spaces` maps a name to the embedding the silhouette is measured in, e.g.
    {"original": X, "umap": X_umap}; each gives `silhouette_<name>` (+ `_n`, `_stderr`, `_reason`).
    `draws` (`image_draws(n)`): AMI, each level's AMI and each silhouette also over every image
    resample, as a list in the column of that name + `DRAWS` (the images' spread of the score).
    """
    y_pred = np.asarray(y_pred)
    clustered = y_pred >= 0
    if y_true is None:  # unlabelled images (a person's own folder): the label-free scores only
        hierarchy = None
        labelled: dict[str, Any] = dict.fromkeys(("ami", "ari", "nmi", "acc", "n_clusters_true"),
                                                 float("nan"))
    else:
        y_true = np.asarray(y_true)
        labelled = {
            "ami": ami(y_true, y_pred),
            "ari": float(skm.adjusted_rand_score(y_true, y_pred)),
            "nmi": float(skm.normalized_mutual_info_score(y_true, y_pred)),
            "acc": clustering_accuracy(y_true, y_pred),
            "n_clusters_true": int(len(np.unique(y_true))),
        }
    row: dict[str, Any] = labelled | {
        "n_clusters_pred": int(len(np.unique(y_pred[clustered]))),
        "ratio_clustered": float(clustered.mean()),
    }
    if y_true is not None and clustered.any() and not clustered.all():
        row["ami_clustered"] = ami(y_true[clustered], y_pred[clustered])
    else:
        row["ami_clustered"] = row["ami"] if clustered.all() else float("nan")
    nan_draws = [float("nan")] * (0 if draws is None else len(draws))
    resampled: dict[str, list[float]] = {}
    if draws is not None:
        resampled["ami"] = nan_draws if y_true is None else ami_draws(y_true, y_pred, draws).tolist()
    for name, X in (spaces or {}).items():
        sil = silhouette(X, y_pred, max_samples=silhouette_max_samples, seed=seed, draws=draws)
        if draws is not None:
            resampled[f"silhouette_{name}"] = list(sil.draws) or nan_draws
        row[f"silhouette_{name}"] = sil.value
        row[f"silhouette_{name}_n"] = sil.n_used
        row[f"silhouette_{name}_stderr"] = sil.stderr
        row[f"silhouette_{name}_reason"] = sil.reason
    for level, vals in hierarchy_ami(hierarchy or {}, y_pred).items():
        row[f"ami_level_{level}"] = vals["ami"]
        row[f"ami_true_level_{level}"] = vals["ami_true"]
        if draws is not None and hierarchy is not None:
            same = y_true is not None and np.array_equal(hierarchy[level], y_true)
            resampled[f"ami_level_{level}"] = (
                resampled["ami"] if same else ami_draws(hierarchy[level], y_pred, draws).tolist())
    row.update({f"{name}{DRAWS}": v for name, v in resampled.items()})
    return row
