"""Where to cut a ward tree without labels: a sweep of candidate cuts and the rules that pick one.

The paper keeps the cut whose silhouette (in the UMAP space) is highest. On zsc's labelled
offline data that rule picks k = 2 far too often (two clusters on Fashion-MNIST, which has ten),
because a coarse split of a UMAP space is nearly always well separated. The rules below read only
the sweep's label-free scores; `benchmarks/cut_rules.py` measures each one's AMI against the
hidden labels, and `DEFAULT_RULE` is the one that won there (README, "Clustering your own images").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .metrics import silhouette_nested
from .registry import Registry


def candidate_ks(n: int, max_clusters: int | None = None, dense_to: int = 30,
                 n_sparse: int = 12) -> np.ndarray:
    """Every k from 2 to `dense_to` (where the answer usually lies), then a geometric grid up to
    `max_clusters` (default n // 10, at least n // 3 up to 30 for a small folder): a person wants
    tens of groups, not hundreds."""
    top = max(2, min(max_clusters or max(n // 10, min(dense_to, n // 3)), n - 1))
    dense = np.arange(2, min(dense_to, top) + 1)
    sparse = np.geomspace(dense[-1], top, n_sparse).astype(int) if top > dense[-1] else dense
    return np.unique(np.concatenate([dense, sparse]))


def cut_sweep(model: object, reduced: np.ndarray, ks: np.ndarray, *, max_samples: int | None = 10_000,
              seed: int = 0) -> tuple[pd.DataFrame, dict[int, np.ndarray]]:
    """For each k, the cut of a fitted `Agglomerative` tree and its label-free scores: mean
    silhouette, Calinski-Harabasz and Davies-Bouldin (all in the space the tree was built in)."""
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

    cuts = {int(k): model.cut(n_clusters=int(k)) for k in ks}  # type: ignore[attr-defined]
    sil = silhouette_nested(reduced, list(cuts.values()), max_samples=max_samples, seed=seed)
    rows = [{"n_clusters": k, "silhouette": s.value,
             "calinski_harabasz": float(calinski_harabasz_score(reduced, labels)),
             "davies_bouldin": float(davies_bouldin_score(reduced, labels))}
            for (k, labels), s in zip(cuts.items(), sil, strict=True)]
    return pd.DataFrame(rows), cuts


@dataclass(frozen=True)
class CutRule:
    """A label-free rule: the row of a sweep it picks, and one line saying how, for the report."""

    name: str
    pick: Callable[[pd.DataFrame], int]  # the sweep's row position
    description: str


CUT_RULES: Registry[CutRule] = Registry("cut rule")


def _rule(name: str, description: str) -> Callable[[Callable[[pd.DataFrame], int]], Callable[[pd.DataFrame], int]]:
    def deco(fn: Callable[[pd.DataFrame], int]) -> Callable[[pd.DataFrame], int]:
        CUT_RULES.register(name, CutRule(name, fn, description))
        return fn
    return deco


def _argmax(s: pd.Series) -> int:
    return int(np.nanargmax(s.to_numpy()))


@_rule("silhouette", "the highest silhouette (the paper's rule)")
def _silhouette(sweep: pd.DataFrame) -> int:
    return _argmax(sweep["silhouette"])


def _min_k(k_min: int) -> Callable[[pd.DataFrame], int]:
    def pick(sweep: pd.DataFrame) -> int:
        s = sweep["silhouette"].where(sweep["n_clusters"] >= k_min)
        return _argmax(s) if s.notna().any() else _silhouette(sweep)
    return pick


for _k in (4, 5, 6, 8):
    CUT_RULES.register(f"silhouette_min{_k}", CutRule(
        f"silhouette_min{_k}", _min_k(_k), f"the highest silhouette among cuts of at least {_k} clusters"))


def _within(frac: float) -> Callable[[pd.DataFrame], int]:
    def pick(sweep: pd.DataFrame) -> int:
        s = sweep["silhouette"].to_numpy()
        best = np.nanmax(s)
        ok = np.flatnonzero(s >= best - frac * abs(best))
        return int(ok[np.argmax(sweep["n_clusters"].to_numpy()[ok])])
    return pick


for _f in (0.05, 0.1, 0.2):
    CUT_RULES.register(f"silhouette_within{int(_f * 100)}", CutRule(
        f"silhouette_within{int(_f * 100)}", _within(_f),
        f"the finest cut whose silhouette is within {int(_f * 100)}% of the highest"))


@_rule("silhouette_local", "the highest local maximum of the silhouette curve above k = 2")
def _local(sweep: pd.DataFrame) -> int:
    s = sweep["silhouette"].to_numpy()
    peaks = [i for i in range(1, len(s)) if s[i] >= s[i - 1] and (i + 1 == len(s) or s[i] >= s[i + 1])]
    return max(peaks, key=lambda i: s[i]) if peaks else _silhouette(sweep)


@_rule("calinski_harabasz", "the highest Calinski-Harabasz index")
def _ch(sweep: pd.DataFrame) -> int:
    return _argmax(sweep["calinski_harabasz"])


@_rule("davies_bouldin", "the lowest Davies-Bouldin index")
def _db(sweep: pd.DataFrame) -> int:
    return _argmax(-sweep["davies_bouldin"])


# Measured (benchmarks/cut_rules.py, README; EfficientNet-Lite0, UMAP seeds 0-2): mean AMI on
# digits / Fashion-MNIST 2k / its 4 coarse groups, 0.657 / 0.667 / 0.802, against the paper's
# silhouette 0.238 / 0.468 / 0.742. Of the rules whose worst target is best (min5, min6, min8:
# 0.657), min5 has the highest mean; min4 is better on the coarse groups, worse on the ten classes.
DEFAULT_RULE = "silhouette_min5"


def choose_cut(sweep: pd.DataFrame, rule: str = DEFAULT_RULE) -> int:
    """The number of clusters `rule` picks from a sweep."""
    return int(sweep["n_clusters"].iloc[CUT_RULES.get(rule).pick(sweep)])


def alternatives(sweep: pd.DataFrame, k: int) -> tuple[int | None, int | None]:
    """A coarser and a finer cut to offer beside `k`: the best silhouette among cuts at most
    2/3 of k, and among cuts at least 1.5 k (so each is a different view, not k ± 1)."""
    s, ks = sweep["silhouette"], sweep["n_clusters"]
    lo, hi = s.where(ks <= k / 1.5), s.where(ks >= k * 1.5)
    coarse = int(ks.iloc[_argmax(lo)]) if lo.notna().any() else None
    fine = int(ks.iloc[_argmax(hi)]) if hi.notna().any() else None
    return coarse, fine
