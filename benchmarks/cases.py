"""The measured tasks: each loads its data, times one call and returns what it found.

A task is a function `task(params) -> dict` with at least "seconds" (the timed call alone —
imports and loading the data are not timed). run.py runs each task in a fresh subprocess, which
reports its peak RSS (the kernel's VmHWM of that process) at exit; tasks also record their RSS
just before the timed call ("baseline": interpreter, libraries and input data), so the peak
reads as baseline + working memory. Libraries a call imports lazily count as working memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .data import load

KNN_KS = (1, 10, 20, 100, 200)
KNN_T = 0.07
GiB = 2**30


# --------------------------------------------------------------------------- process memory
def _status(field: str) -> int:
    """A /proc/self/status field in bytes (0 where /proc is not available)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss() -> int:
    return _status("VmRSS")


def peak_rss() -> int:
    return _status("VmHWM")


class Clock:
    """Wall time and CPU time (all threads of this process) of a block."""

    def __enter__(self) -> Clock:
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.cpu_seconds = time.process_time() - self.c0


# --------------------------------------------------------------------------- 1. AC ward
def ac_zsc(p: dict) -> dict:
    from zsc.cluster import Agglomerative

    X, _ = load(p["data"])
    base = rss()
    with Clock() as c:
        labels = Agglomerative(n_clusters=p["k"], linkage="ward").fit(X).labels_
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "labels": labels}


def ac_sklearn(p: dict) -> dict:
    from sklearn.cluster import AgglomerativeClustering

    X, _ = load(p["data"])
    base = rss()
    with Clock() as c:
        labels = AgglomerativeClustering(n_clusters=p["k"], linkage="ward").fit(X).labels_
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "labels": np.asarray(labels)}


def ac_sklearn_bytes(n: int, d: int) -> int:
    """scikit-learn ward (scipy.cluster.hierarchy.ward): the condensed distance matrix (pdist)
    and nn_chain's working copy of it, 2 · n(n−1)/2 float64, plus a float64 copy of X and
    ~0.2 GiB of interpreter and libraries (checked against the measured peak where it runs)."""
    return 2 * (n * (n - 1) // 2) * 8 + n * d * 8 + int(0.2 * GiB)


# --------------------------------------------------------------------------- 2. kNN accuracy
def _split(p: dict) -> tuple[np.ndarray, ...]:
    X, y = load(p["data"])
    t = p["n_train"]
    return X[:t], y[:t], X[t:], y[t:]


def knn_zsc(p: dict) -> dict:
    import torch  # noqa: F401 — knn_accuracy imports it lazily; imports are not timed (~2 s)

    from zsc.metrics import knn_accuracy

    tr, ytr, te, yte = _split(p)
    base = rss()
    with Clock() as c:
        acc = knn_accuracy(tr, ytr, te, yte, ks=p["ks"], temperature=KNN_T, device="cpu")
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "accuracy": acc}


def _cosine_weights(dist: np.ndarray) -> np.ndarray:
    # scikit-learn hands the cosine *distance* 1 − cos; DINO weights a vote by exp(cos / T).
    return np.exp((1.0 - dist) / KNN_T)


def knn_sklearn(p: dict) -> dict:
    """What the scikit-learn API asks for: one classifier per k (each call redoes the
    neighbour search — scikit-learn cannot reuse a top-200 search for k = 1..100)."""
    from sklearn.neighbors import KNeighborsClassifier

    tr, ytr, te, yte = _split(p)
    base = rss()
    acc, per_k = {}, {}
    with Clock() as c:
        for k in p["ks"]:
            t0 = time.perf_counter()
            clf = KNeighborsClassifier(n_neighbors=k, algorithm="brute", metric="cosine",
                                       weights=_cosine_weights).fit(tr, ytr)
            acc[k] = float((clf.predict(te) == yte).mean())
            per_k[k] = time.perf_counter() - t0
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "accuracy": acc, "seconds_per_k": per_k}


def knn_matmul(p: dict) -> dict:
    """The physical floor: every test·train cosine similarity in one torch matmul (tensor
    conversion and L2 normalisation included, as zsc must do them too; no top-k, no votes)."""
    import torch

    tr, _, te, _ = _split(p)
    base = rss()
    with Clock() as c:
        a = torch.nn.functional.normalize(torch.as_tensor(te), dim=1)
        b = torch.nn.functional.normalize(torch.as_tensor(tr), dim=1)
        sim = a @ b.T
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "checksum": float(sim[:, 0].sum())}


# --------------------------------------------------------------------------- 3. silhouette
def sil_zsc_exact(p: dict) -> dict:
    from zsc.metrics import silhouette_exact

    X, y = load(p["data"])
    base = rss()
    with Clock() as c:
        value = silhouette_exact(X, y)
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "value": value}


def sil_sklearn(p: dict) -> dict:
    from sklearn.metrics import silhouette_score

    X, y = load(p["data"])
    base = rss()
    with Clock() as c:
        value = float(silhouette_score(X, y))
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "value": value}


def sil_zsc_subsample(p: dict) -> dict:
    from zsc.metrics import silhouette

    X, y = load(p["data"])
    base = rss()
    with Clock() as c:
        s = silhouette(X, y, max_samples=p["max_samples"], seed=p.get("seed", 0))
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "value": s.value, "stderr": s.stderr,
            "n_used": s.n_used}


def sil_sklearn_subsample(p: dict) -> dict:
    """scikit-learn's `silhouette_score(sample_size=m)`: the silhouette *of* a seeded subsample
    (what zsc computed before the unbiased estimator; biased low when clusters are many)."""
    from sklearn.metrics import silhouette_score

    X, y = load(p["data"])
    base = rss()
    with Clock() as c:
        value = float(silhouette_score(X, y, sample_size=p["max_samples"], random_state=p.get("seed", 0)))
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "value": value,
            "n_used": p["max_samples"]}


# --------------------------------------------------------------------------- spectral, raw embedding
def spectral_zsc(p: dict) -> dict:
    """zsc.cluster's spectral with paper defaults (zsc.cluster.Spectral: kNN affinity, Lanczos)
    on the raw embedding — the paper's default reduction for spectral is none."""
    from zsc.cluster import cluster

    X, _ = load(p["data"])
    base = rss()
    with Clock() as c:
        labels = cluster(X, "spectral", p["k"], seed=p.get("seed", 0)).labels
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "labels": labels}


def _sklearn_spectral(k: int, seed: int) -> Any:  # the path zsc took before its own Lanczos
    from sklearn.cluster import SpectralClustering

    return SpectralClustering(n_clusters=k, affinity="nearest_neighbors", n_neighbors=10,
                              assign_labels="cluster_qr", random_state=seed)


def spectral_sklearn(p: dict) -> dict:
    """scikit-learn's SpectralClustering as zsc configures it (shift-invert ARPACK)."""
    X, _ = load(p["data"])
    base = rss()
    with Clock() as c:
        labels = _sklearn_spectral(p["k"], p.get("seed", 0)).fit(X).labels_
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "labels": np.asarray(labels)}


# --------------------------------------------------------------------------- HDBSCAN
def hdbscan_zsc(p: dict) -> dict:
    """zsc.cluster.HDBSCAN (scikit-learn's HDBSCAN) with the paper's settings: min_cluster_size
    = min_samples = 5, max_cluster_size = round(0.2·N), eom."""
    from zsc.cluster import HDBSCAN

    X, _ = load(p["data"])
    base = rss()
    with Clock() as c:
        labels = HDBSCAN(min_cluster_size=5, max_cluster_frac=0.2, metric=p["metric"],
                         cluster_selection_method="eom").fit(X).labels_
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "labels": labels}


def hdbscan_contrib(p: dict) -> dict:
    """The `hdbscan` package (scikit-learn-contrib) on the same settings. Its min_samples
    excludes the point itself, so scikit-learn's 5 is its 4; one core-distance job (1 thread);
    its default (approximate) minimum spanning tree."""
    import hdbscan

    X, _ = load(p["data"])
    X = np.asarray(X, dtype=np.float64)  # as zsc's HDBSCAN gets it (validate_data)
    base = rss()
    with Clock() as c:
        labels = hdbscan.HDBSCAN(min_cluster_size=5, min_samples=4, max_cluster_size=round(0.2 * len(X)),
                                 metric="manhattan" if p["metric"] == "l1" else p["metric"],
                                 cluster_selection_method="eom", core_dist_n_jobs=1).fit_predict(X)
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base,
            "labels": np.asarray(labels, dtype=np.int64)}


# --------------------------------------------------------------------------- 4. full sweep
SWEEP = ("kmeans", "spectral", "ac_with_c", "ac_without_c", "affinity_propagation", "hdbscan")


def sweep_umap(p: dict) -> dict:
    """Step 1 of the sweep: one UMAP-50 with the paper's settings (zsc.reduce.reduce, uncached);
    the reduced embedding is saved for the clusterer steps."""
    from dataclasses import replace

    from zsc.reduce import UMAP_PAPER, reduce

    X, y = load(p["data"])
    base = rss()
    with Clock() as c:
        Xu = reduce(X, replace(UMAP_PAPER, seed=p.get("seed", 0)), cache=False)
    np.savez(p["out"], X=Xu, y=y)
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "shape": list(Xu.shape)}


def sweep_step(p: dict) -> dict:
    """One clusterer of the sweep on the saved UMAP output, via zsc.cluster.cluster with the
    clusterer's paper defaults (n_clusters = the number of classes where it needs one).
    "spectral_sklearn" runs scikit-learn's SpectralClustering (zsc's former spectral) instead."""
    from zsc.cluster import CLUSTERERS, cluster
    from zsc.metrics import ami

    Xu, y = load(p["umap"])
    k = int(len(np.unique(y)))
    base = rss()
    name = p["clusterer"]
    with Clock() as c:
        if name == "spectral_sklearn":
            est = _sklearn_spectral(k, p.get("seed", 0)).fit(Xu)
            labels = np.asarray(est.labels_)
        else:
            res = cluster(Xu, name, k if CLUSTERERS.get(name).uses_n_clusters else None,
                          seed=p.get("seed", 0))
            est, labels = res.estimator, res.labels
    return {"seconds": c.seconds, "cpu_seconds": c.cpu_seconds, "baseline": base, "labels": labels,
            "n_clusters": int(len(np.unique(labels[labels >= 0]))), "ami": ami(y, labels),
            "fitted_on": int(getattr(est, "fitted_on_", len(Xu)))}


def sweep_naive_bytes(n: int, d_reduced: int = 50, ap_iter_conv: int = 15) -> dict[str, int]:
    """What the steps whose zsc path differs from scikit-learn's would need done naively."""
    return {
        # scikit-learn AgglomerativeClustering(ward): pdist + nn_chain copy
        "ac_with_c": ac_sklearn_bytes(n, d_reduced),
        "ac_without_c": ac_sklearn_bytes(n, d_reduced),
        # scikit-learn AffinityPropagation on all n: S, A, R and a temporary, n² float64 each,
        # plus the (n, convergence_iter) convergence record
        "affinity_propagation": 4 * n * n * 8 + n * ap_iter_conv + int(0.2 * GiB),
    }


TASKS: dict[str, Callable[[dict], dict]] = {
    f.__name__: f for f in (ac_zsc, ac_sklearn, knn_zsc, knn_sklearn, knn_matmul, sil_zsc_exact,
                            sil_sklearn, sil_zsc_subsample, sil_sklearn_subsample, spectral_zsc,
                            spectral_sklearn, hdbscan_zsc, hdbscan_contrib, sweep_umap, sweep_step)
}
