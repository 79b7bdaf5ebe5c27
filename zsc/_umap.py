"""UMAP as zsc runs it: imported here once, made cheaper without changing a number it returns.

- **Compiled kernels kept on disk.** Most of umap-learn's numba functions are compiled afresh in
  every process (no `cache=True`): ~12 s before a new process's first fit — each batch worker,
  each chapter and each `zsc cluster` run. Their cache is switched on at import, as `cache=True`
  would (numba's own `Dispatcher.enable_caching`; numba checks the source file's stamp).
- **Small-data neighbours found once.** Below 4,096 points UMAP builds its graph from the full
  distance matrix, which scikit-learn fills by calling UMAP's numba `euclidean` once per pair from
  Python: ~0.8 s of a ~2.6 s fit on 1,000 points, redone for every seed. `small_data_knn` fills
  the same float32 matrix with the same function in one compiled loop and takes the neighbours
  as UMAP does (stable argsort); given as `precomputed_knn` they make the identical embedding
  (`tests/test_reduce.py` compares them bit for bit).
"""

from __future__ import annotations

import sys
import warnings
from collections import OrderedDict

import numba
import numpy as np
from numba.core.caching import NullCache
from numba.core.registry import CPUDispatcher

with warnings.catch_warnings():  # umap imports tqdm.auto, which warns inside a notebook kernel
    warnings.filterwarnings("ignore", "IProgress not found")
    import umap
from umap.distances import euclidean
from umap.utils import fast_knn_indices

from .io import array_hash

SMALL_DATA_MAX = 4095  # UMAP's own rule: the exact path for fewer than 4,096 points
_MEMO: OrderedDict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = OrderedDict()
_MEMO_SIZE = 2


def cache_kernels(packages: tuple[str, ...] = ("umap", "pynndescent")) -> int:
    """Switch on numba's on-disk cache for every jitted function of these (imported) packages
    that has none; returns how many."""
    n = 0
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in packages:
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, CPUDispatcher) and isinstance(obj._cache, NullCache):
                obj.enable_caching()
                n += 1
    return n


cache_kernels()


@numba.njit(cache=True)
def _distances(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    n = x.shape[0]
    out = np.zeros((n, n), dtype=x.dtype)  # scikit-learn's output dtype for float32 input
    for i in range(n):
        for j in range(i + 1, n):
            d = euclidean(x[i], x[j])
            out[i, j] = d
            out[j, i] = d
    return out


def small_data_knn(x: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """The `n_neighbors` neighbours (indices int32, distances float32) UMAP's exact path finds for
    the float32 C-contiguous `x`; the last two inputs' are remembered (one per seed's fit)."""
    key = (array_hash(x), n_neighbors)
    if key not in _MEMO:
        d = _distances(x)
        idx = fast_knn_indices(d, n_neighbors)
        _MEMO[key] = idx, d[np.arange(len(x))[:, None], idx]
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    _MEMO.move_to_end(key)
    idx, dist = _MEMO[key]
    return idx.copy(), dist.copy()  # UMAP marks disconnected entries in place


__all__ = ["SMALL_DATA_MAX", "cache_kernels", "small_data_knn", "umap"]
