"""Stage 4 — reduce: none / PCA / UMAP / PaCMAP, with optional z-scoring, seeded, cached.

Reductions are the expensive shared step of a sweep (one UMAP feeds six clusterers), so
`reduce()` caches its output keyed by the input's content hash and the reducer's configuration.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import KW_ONLY, asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.metaestimators import available_if

from . import config
from ._version import __version__
from .errors import InvalidParameterError
from .io import array_hash, config_hash, load_arrays, save_arrays
from .registry import Registry

REDUCERS: Registry[str] = Registry("reducer")
for _name, _doc in [
    ("none", "the embedding itself"),
    ("pca", "PCA to n components, or to a fraction of the variance"),
    ("umap", "UMAP (paper default: 30 neighbours, min_dist 0, 50 components)"),
    ("pacmap", "PaCMAP"),
]:
    REDUCERS.register(_name, _doc)


@dataclass(frozen=True)
class ReducerConfig:
    """How to reduce an embedding. `n_components` is an int, or for PCA a variance fraction.
    Only `method` and `n_components` may be given by position."""

    method: str = "umap"
    n_components: int | float | None = 50
    _: KW_ONLY  # the rest by name only
    zscore_before: bool = False
    zscore_after: bool = False
    n_neighbors: int = 30
    min_dist: float = 0.0
    metric: str = "euclidean"
    seed: int = 0

    def __post_init__(self) -> None:
        REDUCERS.get(self.method)  # unknown names fail here, listing the known ones
        n = self.n_components
        if self.method == "none":
            return
        if n is None or n <= 0:
            raise InvalidParameterError(
                f"{self.method}: n_components must be positive, got {n}; give a number of components "
                "(e.g. 50), or for PCA a fraction of variance to keep (e.g. 0.9)"
            )
        if isinstance(n, float) and not n.is_integer():
            if self.method != "pca" or not 0 < n < 1:
                raise InvalidParameterError(
                    f"{self.method}: a fractional n_components ({n}) is only allowed for PCA, "
                    "as a variance fraction between 0 and 1"
                )
        if self.n_neighbors < 2:
            raise InvalidParameterError(f"n_neighbors must be at least 2, got {self.n_neighbors}")

    @property
    def label(self) -> str:
        """Short name for tables: none, pca50, pca0.9, umap50, z-pca0.9 ..."""
        if self.method == "none":
            base = "none"
        else:
            n = self.n_components
            base = f"{self.method}{int(n) if float(n).is_integer() else n}"  # type: ignore[arg-type]
        return ("z-" if self.zscore_before else "") + base

    def key(self) -> dict[str, Any]:
        return asdict(self)


UMAP_PAPER = ReducerConfig("umap", 50, n_neighbors=30, min_dist=0.0)
# PaCMAP as the paper's cluster.py runs it: neighbours found in the data itself (not in a
# 100-d PCA of it, PaCMAP's default) from a PCA initialisation. Part of the cache key.
PACMAP_OPTIONS = {"apply_pca": False, "init": "pca"}
NONE = ReducerConfig("none", None)


EXACT_NEIGHBOURS_MAX = 30_000  # up to here an exact search (BLAS) beats NN-descent, compile included


@dataclass(frozen=True)
class Neighbours:
    """Each point's nearest points (itself first) and their Euclidean distances, found once and
    shared by every UMAP of the same input: UMAP's own NN-descent is recompiled in each process
    (about 30 s) and redone for each seed. `key` names the input and how the graph was found."""

    indices: np.ndarray
    distances: np.ndarray
    key: dict[str, Any]


def neighbour_graph(X: np.ndarray, n_neighbors: int = 30, *, seed: int = 0,
                    exact_max: int = EXACT_NEIGHBOURS_MAX, cache: bool = True) -> Neighbours:
    """The `n_neighbors`-nearest-neighbour graph UMAP builds from `X` (Euclidean): exact up to
    `exact_max` points (blocked matrix products, O(block) memory), above that UMAP's own seeded
    NN-descent. Cached by the input's content."""
    x = np.ascontiguousarray(X, dtype=np.float32)
    n = len(x)
    k = min(n_neighbors, n - 1)
    method = "exact" if n <= exact_max else "nndescent"
    key = {"input": array_hash(x), "n_neighbors": k, "method": method,
           "seed": None if method == "exact" else seed, "zsc_version": __version__}
    path = config.cache_dir() / "neighbours" / f"{method}{k}-{config_hash(key)}.npz"
    hit = load_arrays(path) if cache else None
    if hit is not None:
        return Neighbours(hit[1]["indices"], hit[1]["distances"], key)
    if method == "exact":
        idx, dist = _exact_neighbours(x, k)
    else:
        from ._umap import umap

        idx, dist, _ = umap.umap_.nearest_neighbors(
            x, k, "euclidean", {}, False, np.random.RandomState(seed), low_memory=True, n_jobs=1)
    idx, dist = idx.astype(np.int64), dist.astype(np.float32)
    if cache:
        save_arrays(path, key, indices=idx, distances=dist)
    return Neighbours(idx, dist, key)


def _exact_neighbours(x: np.ndarray, k: int, block_bytes: int = 128 * 2**20) -> tuple[np.ndarray, np.ndarray]:
    n, dim = x.shape
    sq = np.einsum("ij,ij->i", x, x)
    idx = np.empty((n, k), np.int64)
    dist = np.empty((n, k), np.float32)
    c = min(n, k + max(8, k // 2))  # candidates from the float32 search
    step = max(1, block_bytes // (4 * max(n, 2 * c * dim)))
    for s in range(0, n, step):
        d2 = x[s:s + step] @ x.T
        d2 *= -2
        d2 += sq[s:s + step, None]
        d2 += sq[None, :]
        rows = np.arange(len(d2))
        d2[rows, s + rows] = -1.0  # the point itself first, even beside an exact duplicate
        part = np.argpartition(d2, c - 1, axis=1)[:, :c]
        # the candidates' distances again, directly and in float64: the expansion above loses
        # digits (a near tie at the k-th place went the wrong way), and UMAP fits its kernel to them
        d = np.sqrt(np.square(x[part].astype(np.float64) - x[s:s + step, None, :]).sum(axis=2))
        d[part == (s + rows)[:, None]] = -1.0
        order = np.argsort(d, axis=1, kind="stable")[:, :k]
        idx[s:s + step] = np.take_along_axis(part, order, axis=1)
        dist[s:s + step] = np.maximum(np.take_along_axis(d, order, axis=1), 0.0)
    return idx, dist


def zscore(x: np.ndarray) -> np.ndarray:
    """Per-dimension standardisation; constant dimensions are left at zero, not divided by 0."""
    mu, sd = _moments(x)
    return (x - mu) / sd


class Reducer(TransformerMixin, BaseEstimator):
    """scikit-learn style wrapper: `Reducer(method="umap", n_components=50).fit_transform(X)`.

    The parameters are `ReducerConfig`'s, with the seed named `random_state` as scikit-learn
    estimators name it (`Reducer.from_config(cfg)`, `reducer.config`). Input is validated with
    scikit-learn's `validate_data` (2-d, finite, real, dense) and reduced in float32.
    `transform` (new rows into a fitted reduction) exists for "none" and "pca", whose
    out-of-sample map is exact; UMAP's and PaCMAP's are approximate and zsc never uses them, so
    a UMAP/PaCMAP Reducer offers `fit_transform` only (as scikit-learn's TSNE).
    """

    def __init__(self, method: str = "umap", n_components: int | float | None = 50,
                 zscore_before: bool = False, zscore_after: bool = False, n_neighbors: int = 30,
                 min_dist: float = 0.0, metric: str = "euclidean", random_state: int = 0) -> None:
        self.method = method
        self.n_components = n_components
        self.zscore_before = zscore_before
        self.zscore_after = zscore_after
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.random_state = random_state

    @classmethod
    def from_config(cls, cfg: ReducerConfig) -> Reducer:
        p = cfg.key()
        p["random_state"] = p.pop("seed")
        return cls(**p)

    @property
    def config(self) -> ReducerConfig:
        p = self.get_params()
        p["seed"] = p.pop("random_state")
        return ReducerConfig(**p)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # the output is float32 (memory)
        return tags

    def fit(self, X: Any, y: Any = None) -> Reducer:
        self.fit_transform(X)
        return self

    def fit_transform(self, X: Any, y: Any = None, neighbours: Neighbours | None = None) -> np.ndarray:
        """`neighbours` (UMAP only): the graph `neighbour_graph(X)` found, used instead of UMAP's
        own search."""
        from sklearn.utils.validation import validate_data

        cfg = self.config
        x = validate_data(self, X, dtype=np.float32, ensure_min_samples=2)
        n, d = x.shape
        if neighbours is not None:
            _check_neighbours(cfg, neighbours, x)
        self.mean_, self.scale_ = _moments(x) if cfg.zscore_before else (None, None)
        if cfg.zscore_before:
            x = (x - self.mean_) / self.scale_
        if cfg.method == "none":
            out = x
        elif cfg.method == "pca":
            from sklearn.decomposition import PCA

            n_comp = cfg.n_components
            if isinstance(n_comp, float) and n_comp.is_integer():
                n_comp = int(n_comp)
            if isinstance(n_comp, int) and n_comp > min(n, d):
                raise InvalidParameterError(
                    f"pca: n_components={n_comp} exceeds min(n_samples, n_features)={min(n, d)} "
                    f"(n_samples = {n}, n_features = {d})"
                )
            self.model_ = PCA(n_components=n_comp, random_state=cfg.seed)
            out = self.model_.fit_transform(x)
        else:
            n_comp = int(cfg.n_components)  # type: ignore[arg-type]
            if n_comp >= n - 1:
                raise InvalidParameterError(
                    f"{cfg.method}: n_components={n_comp} needs more than {n_comp + 1} samples, got {n}"
                )
            if cfg.method == "umap":
                from ._umap import SMALL_DATA_MAX, small_data_knn, umap

                k = min(cfg.n_neighbors, n - 1)
                if neighbours is not None:
                    knn = (neighbours.indices, neighbours.distances, None)
                elif n <= SMALL_DATA_MAX and cfg.metric == "euclidean":
                    # UMAP's own exact neighbours, found once for all seeds (identical output)
                    x = np.ascontiguousarray(x)
                    knn = (*small_data_knn(x, k), None)
                else:
                    knn = (None, None, None)
                self.model_ = umap.UMAP(
                    n_neighbors=k, n_components=n_comp,
                    min_dist=cfg.min_dist, metric=cfg.metric, random_state=cfg.seed,
                    n_jobs=1,  # seeded UMAP is single-threaded anyway; saying so silences its warning
                    precomputed_knn=knn,
                )
                with warnings.catch_warnings():  # without its search index UMAP has no transform:
                    warnings.filterwarnings("ignore", "precomputed_knn")  # zsc never uses it
                    out = self.model_.fit_transform(x)
            else:
                import numba
                import pacmap

                self.model_ = pacmap.PaCMAP(n_components=n_comp, n_neighbors=min(cfg.n_neighbors, n - 1),
                                            random_state=cfg.seed, apply_pca=PACMAP_OPTIONS["apply_pca"])
                # PaCMAP's numba kernels loop serially inside `parallel=True` functions: more
                # threads only add overhead (8x slower with 2 threads on 2 busy cores)
                threads = numba.get_num_threads()
                numba.set_num_threads(1)
                try:
                    out = self.model_.fit_transform(x, init=PACMAP_OPTIONS["init"])
                finally:
                    numba.set_num_threads(threads)
        out = np.asarray(out, dtype=np.float32)
        self.after_mean_, self.after_scale_ = _moments(out) if cfg.zscore_after else (None, None)
        if cfg.zscore_after:
            out = (out - self.after_mean_) / self.after_scale_
        self.n_components_ = int(out.shape[1])
        return out

    def _exact_transform(self) -> bool:
        return self.method in ("none", "pca")

    @available_if(_exact_transform)
    def transform(self, X: Any) -> np.ndarray:
        """New rows through the fitted z-score and PCA (only "none" and "pca")."""
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self, "n_components_")
        # computed in float64, returned in float32: a float32 matrix product rounds a row
        # differently by where the row falls in BLAS's blocks, and a row's result must not
        # depend on the rows beside it (scikit-learn's sample-order check)
        x = validate_data(self, X, dtype=np.float64, reset=False)
        if self.mean_ is not None:
            x = (x - self.mean_) / self.scale_
        out = x if self.method == "none" else self.model_.transform(x)
        out = np.asarray(out, dtype=np.float64)
        if self.after_mean_ is not None:
            out = (out - self.after_mean_) / self.after_scale_
        return out.astype(np.float32)


# TransformerMixin's set_output machinery wraps `transform` when the class is created, and the
# wrapper hides `available_if` (hasattr would say yes, then the call fails): apply it again
# around the wrapped method so that a UMAP/PaCMAP Reducer has no `transform` at all.
Reducer.transform = available_if(Reducer._exact_transform)(Reducer.__dict__["transform"])


def _check_neighbours(cfg: ReducerConfig, neighbours: Neighbours, x: np.ndarray) -> None:
    """A graph is only used by the UMAP it was found for: same input, Euclidean, enough neighbours."""
    k = min(cfg.n_neighbors, len(x) - 1)
    if cfg.method != "umap" or cfg.zscore_before or cfg.metric != "euclidean":
        raise InvalidParameterError(
            f"a neighbour graph serves a Euclidean UMAP of the data itself, not {cfg.label} "
            f"(metric {cfg.metric})")
    if neighbours.indices.shape != (len(x), k) or neighbours.key["input"] != array_hash(x):
        raise InvalidParameterError(
            f"the neighbour graph ({neighbours.indices.shape[0]} points, {neighbours.indices.shape[1]} "
            f"neighbours) was not found for this input ({len(x)} points, {k} neighbours)")


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std, constant dimensions scaled by 1 (as `zscore`)."""
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd == 0] = 1.0
    return mu, sd


def reduce(
    X: np.ndarray,
    cfg: ReducerConfig = UMAP_PAPER,
    *,
    input_key: str | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    neighbours: Neighbours | None = None,
) -> np.ndarray:
    """Reduce `X` per `cfg`, reusing a cached result for the same input and configuration (and
    neighbour graph, for a UMAP given one: `neighbour_graph`)."""
    if cfg.method == "none" and not (cfg.zscore_before or cfg.zscore_after):
        return np.asarray(X, dtype=np.float32)
    key = {"input": input_key or array_hash(X), "reducer": cfg.key(), "zsc_version": __version__}
    if cfg.method == "pacmap":
        key["pacmap"] = PACMAP_OPTIONS
    if neighbours is not None:
        key["neighbours"] = neighbours.key
    root = Path(cache_dir) if cache_dir else config.cache_dir()
    path = root / "reduced" / f"{cfg.label}-{config_hash(key)}.npz"
    if cache:
        hit = load_arrays(path)
        if hit is not None:
            return hit[1]["reduced"]
    out = Reducer.from_config(cfg).fit_transform(X, neighbours=neighbours)
    if cache:
        save_arrays(path, key, reduced=out)
    return out


def fit_to_shape(cfg: ReducerConfig, n_samples: int, n_features: int) -> ReducerConfig:
    """A paper setting applied to a smaller embedding than the paper's: PCA to a fixed size
    larger than the data allows (the paper's 100 dims on a 96-d zoo ViT) keeps all components."""
    n = cfg.n_components
    if cfg.method == "pca" and n is not None and float(n).is_integer() and n > min(n_samples, n_features):
        return replace(cfg, n_components=min(n_samples, n_features))
    return cfg
