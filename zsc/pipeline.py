"""Composition of the stages for one encoder × dataset: embed once, reduce once per reducer
setting, run each clusterer with the paper's settings, score, and store one row per clusterer;
and the kNN probe of the same embedding (one row per encoder × dataset in a second store)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .cluster import (
    CLUSTERERS,
    ClusterResult,
    check_param_table,
    check_params,
    cluster,
    memory_budget,
)
from .data import get_dataset, memory_labels
from .embed import Embeddings, check_run_values, embed
from .encoders import get_encoder
from .errors import InvalidParameterError
from .metrics import (
    DRAWS,
    KNN_KS,
    KNN_TEMPERATURE,
    SILHOUETTE_MAX_SAMPLES,
    ami,
    image_draws,
    knn_correct,
    score_clustering,
)
from .reduce import UMAP_PAPER, ReducerConfig, fit_to_shape, reduce
from .results import ResultsStore
from .settings import SILHOUETTE_UMAP_SEED, paper_settings


@dataclass
class Clustering:
    """One clusterer on one embedding, as `run` computes it: the input it clustered and why."""

    embedding: Embeddings
    reducer: ReducerConfig  # the reduction applied (the paper's for this encoder, or an override)
    X: np.ndarray  # the clusterer's input
    result: ClusterResult
    reduce_seconds: float


def clusterer_input(emb: Embeddings, clusterer: str, *, seed: int = 0,
                    reducer: ReducerConfig | None = None, params: Mapping[str, Any] | None = None,
                    cache_dir: str | os.PathLike[str] | None = None
                    ) -> tuple[ReducerConfig, dict[str, Any], np.ndarray, float]:
    """(reduction, hyper-parameters, reduced input, seconds) with which the paper's settings for
    this encoder (and dataset) cluster `emb`; `reducer` and `params` override them."""
    enc = get_encoder(emb.encoder)
    red_cfg, hp = paper_settings(clusterer, emb.encoder, enc.family, enc.method, dataset=emb.dataset)
    red_cfg = reducer if reducer is not None else fit_to_shape(red_cfg, *emb.features.shape)
    red_cfg = replace(red_cfg, seed=seed)
    t0 = time.perf_counter()
    X = reduce(emb.features, red_cfg, input_key=emb.key, cache_dir=cache_dir)
    return red_cfg, {**hp, **dict(params or {})}, X, time.perf_counter() - t0


def cluster_one(encoder: str, dataset: str, clusterer: str, *, split: str | None = None,
                n_samples: int | None = None, seed: int = 0, reducer: ReducerConfig | None = None,
                params: Mapping[str, Any] | None = None, progress: bool = False,
                max_memory: Any = None) -> Clustering:
    """One clusterer on one encoder x dataset exactly as `run` does it (for figures that show a
    clustering; the stored row comes from `run`)."""
    check_params(clusterer, dict(params or {}))
    budget = memory_budget(max_memory)
    emb = embed(encoder, dataset, split, n_samples=n_samples, seed=seed, progress=progress)
    red_cfg, hp, X, seconds = clusterer_input(emb, clusterer, seed=seed, reducer=reducer,
                                              params=params)
    k = len(np.unique(emb.labels)) if CLUSTERERS.get(clusterer).uses_n_clusters else None
    return Clustering(emb, red_cfg, X, cluster(X, clusterer, k, seed=seed, max_memory=budget, **hp),
                      seconds)


def cluster_at_levels(encoder: str, dataset: str, clusterers: Sequence[str], *,
                      n_samples: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Each clusterer that takes k, run once with k = the number of classes at each taxonomy level
    (not only the finest) and scored against every level: does a coarse k recover the coarse
    level better than the fine k does? One row per (clusterer, k's level, scored level)."""
    emb = embed(encoder, dataset, n_samples=n_samples, seed=seed, progress=False)
    rows = []
    for name in clusterers:
        if not CLUSTERERS.get(name).uses_n_clusters:
            continue
        _, hp, X, _ = clusterer_input(emb, name, seed=seed)
        for k_level, truth in emb.hierarchy.items():
            k = int(len(np.unique(truth)))
            pred = cluster(X, name, k, seed=seed, **hp).labels
            rows += [{"encoder": encoder, "dataset": emb.dataset, "clusterer": name, "k_level": k_level,
                      "k": k, "level": level, "ami": ami(labels, pred)}
                     for level, labels in emb.hierarchy.items()]
    return pd.DataFrame(rows, columns=["encoder", "dataset", "clusterer", "k_level", "k", "level", "ami"])


def run(
    encoder: str,
    dataset: str,
    clusterers: Sequence[str] | None = None,
    *,
    split: str | None = None,
    n_samples: int | None = None,
    seed: int = 0,
    sample_seed: int | None = None,
    reducer: ReducerConfig | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    store: ResultsStore | str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    device: str | None = None,
    weights: str | None = None,
    silhouette_max_samples: int | None = SILHOUETTE_MAX_SAMPLES,
    progress: bool = True,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    max_memory: int | str | None = None,
) -> pd.DataFrame:
    """Run `clusterers` (default: all six) on one encoder × dataset and store their rows.

    `reducer` replaces the paper's per-encoder reduction for every clusterer; `params` maps a
    clusterer name to hyper-parameters that override the paper's. `max_memory` (bytes or a size
    such as "64GiB"; None: this machine's memory) is the budget of the O(n²) clusterers (see
    `zsc.cluster`); each row records it and any deviation it forced (column `deviation`).
    `seed` seeds the reduction and the clusterer, and draws the `n_samples` images unless
    `sample_seed` is given: several clustering seeds on one subsample (column `sample_seed`).
    """
    budget = memory_budget(max_memory)  # a bad size fails before any work
    enc = get_encoder(encoder)
    ds = get_dataset(dataset)
    names = list(clusterers) if clusterers else CLUSTERERS.names()
    if not ds.labelled:  # a folder of unlabelled images: nothing tells the number of clusters
        finds_k = [n for n in CLUSTERERS.names() if not CLUSTERERS.get(n).uses_n_clusters]
        needs_k = [n for n in names if n in CLUSTERERS and CLUSTERERS.get(n).uses_n_clusters]
        if needs_k and clusterers:
            raise InvalidParameterError(
                f"{', '.join(needs_k)} need(s) the number of clusters, and {ds.name} has no labels "
                f"to give it: choose from {', '.join(finds_k)}, or name the folder "
                "imagefolder:PATH to take labels from its sub-folders")
        names = names if clusterers else finds_k
    params = check_param_table(params)  # every shape and value, before any expensive work
    for name in names:
        check_params(name, params.get(name, {}))
    check_run_values(seed=seed, sample_seed=sample_seed)
    if not isinstance(store, ResultsStore):
        store = ResultsStore(store)
    store.check_writable()  # a read-only store fails now, not after the embedding
    sample_seed = seed if sample_seed is None else int(sample_seed)
    emb = embed(encoder, dataset, split, n_samples=n_samples, seed=sample_seed, cache_dir=cache_dir,
                device=device, weights=weights, progress=progress)
    n_classes = int(len(set(emb.labels.tolist())))
    draws = image_draws(len(emb.labels)) if ds.labelled else None  # the images' spread of each score
    seed42_umap: list[np.ndarray] = []  # made once, only if a run did not cluster on UMAP
    rows = []
    for name in names:
        red_cfg, hp, X, red_seconds = clusterer_input(
            emb, name, seed=seed, reducer=reducer, params=(params or {}).get(name),
            cache_dir=cache_dir)
        res = cluster(X, name, n_classes if CLUSTERERS.get(name).uses_n_clusters else None,
                      seed=seed, max_memory=budget, **hp)
        row = _row(emb, enc, ds, red_cfg, X.shape[1], res.params, name, seed, n_samples)
        umap_space, umap_seed = silhouette_umap_space(emb, red_cfg, X, seed, seed42_umap, cache_dir)
        # `umap42`: the shared seed-42 space, where zsc scored every row before it followed the
        # paper (chapter 7 says how the correlation moved); a non-UMAP run's `umap` is that space
        spaces = {"original": emb.features, "umap": umap_space}
        if red_cfg.method == "umap":
            spaces["umap42"] = shared_umap(emb, seed42_umap, cache_dir)
        row.update(sample_seed=sample_seed, silhouette_umap_seed=umap_seed)
        row.update(deviation=res.deviation, max_memory=budget)
        row.update(score_clustering(
            emb.labels if ds.labelled else None, res.labels, spaces=spaces,
            hierarchy=emb.hierarchy, silhouette_max_samples=silhouette_max_samples, seed=seed,
            draws=draws,
        ))
        if "umap42" not in spaces:  # the same space: the same numbers
            row.update({k.replace("silhouette_umap", "silhouette_umap42"): v for k, v in list(row.items())
                        if k.startswith("silhouette_umap") and k != "silhouette_umap_seed"})
        row.update(time_embed=emb.seconds, time_reduce=red_seconds, time_cluster=res.seconds)
        row["run_key"] = store.append(row)
        rows.append(row)
        if on_row:
            on_row(row)
    return pd.DataFrame(rows)


def silhouette_umap_space(emb: Embeddings, red: ReducerConfig, X: np.ndarray, seed: int,
                          made: list[np.ndarray], cache_dir: str | os.PathLike[str] | None
                          ) -> tuple[np.ndarray, int]:
    """Where a row's "UMAP" silhouette is measured, as the paper's code does: a run that clustered
    on UMAP is scored in its own UMAP space, at its own seed (cluster.py's reduced-space
    silhouette); any other run in the separate seed-42 UMAP-50 (extract_silhouette.py), made once
    per call of `run` (kept in `made`)."""
    if red.method == "umap":
        return X, seed
    return shared_umap(emb, made, cache_dir), SILHOUETTE_UMAP_SEED


def shared_umap(emb: Embeddings, made: list[np.ndarray],
                cache_dir: str | os.PathLike[str] | None) -> np.ndarray:
    """The seed-42 UMAP-50 of `emb` (extract_silhouette.py's), made once per call of `run`."""
    if not made:
        made.append(reduce(emb.features, replace(UMAP_PAPER, seed=SILHOUETTE_UMAP_SEED),
                           input_key=emb.key, cache_dir=cache_dir))
    return made[0]


def _row(emb: Embeddings, enc: Any, ds: Any, red: ReducerConfig, reduced_dim: int,
         hp: Mapping[str, Any], clusterer: str, seed: int, n_samples: int | None) -> dict[str, Any]:
    return {
        "encoder": emb.encoder,
        "dataset": emb.dataset,
        "split": emb.split,
        "n_samples": len(emb) if n_samples is None else int(n_samples),
        "seed": seed,
        "reducer": red.label,
        "reducer_params": red.key(),
        "clusterer": clusterer,
        "clusterer_params": dict(hp),
        "clusterer_title": CLUSTERERS.get(clusterer).title,
        "encoder_family": enc.family,
        "encoder_method": enc.method,
        "encoder_tier": enc.tier,
        "dataset_group": ds.group,
        "dataset_offline_group": ds.offline_group,
        "embedding_key": emb.key,
        "embedding_dim": int(emb.features.shape[1]),
        "reduced_dim": int(reduced_dim),
    }


def knn_config(encoder: str, dataset: str, n_samples: int | None, n_train: int | None, seed: int,
               ks: Sequence[int] = KNN_KS) -> dict[str, Any]:
    """The configuration columns of a kNN row (its identity in the kNN store)."""
    return {"encoder": encoder, "dataset": dataset, "split": "test", "n_samples": n_samples,
            "seed": seed, "reducer": "none", "reducer_params": "{}", "clusterer": "knn",
            "clusterer_params": json.dumps({"n_train": n_train, "ks": [int(k) for k in ks],
                                            "temperature": KNN_TEMPERATURE})}


def knn(
    encoder: str, dataset: str, *, n_samples: int | None = None, n_train: int | None = None,
    seed: int = 0, ks: Sequence[int] = KNN_KS,
    store: ResultsStore | str | os.PathLike[str] | None = None, device: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Weighted kNN accuracy of the test embedding against the train embedding, stored as one row
    (replacing the row of the same configuration, as `run` does). A dataset without a train split
    of its own is probed against its declared memory's (`DatasetSpec.knn_memory`: the ImageNet
    variants against ImageNet-1k train, as the paper), its labels matched to that memory's."""
    if not isinstance(store, ResultsStore):
        store = ResultsStore(store)
    cfg = knn_config(encoder, dataset, n_samples, n_train, seed, ks)
    memory = get_dataset(dataset).knn_memory or dataset
    t0 = time.perf_counter()
    te = embed(encoder, dataset, "test", n_samples=n_samples, seed=seed, device=device, progress=progress)
    tr = embed(encoder, memory, "train", n_samples=n_train, seed=seed, device=device, progress=progress)
    correct = knn_correct(tr.features, tr.labels, te.features, memory_labels(dataset, te.labels), ks,
                          device=device)
    draws = image_draws(len(te.labels))  # the same resamples as the clustering rows of these images
    spec = get_encoder(encoder)
    row = dict(cfg, encoder_family=spec.family, encoder_method=spec.method, encoder_tier=spec.tier,
               knn_memory=memory, time_knn=time.perf_counter() - t0,
               **{f"knn_acc_k{k}": float(v.mean()) for k, v in correct.items()},
               **{f"knn_acc_k{k}{DRAWS}": v[draws].mean(axis=1).tolist() for k, v in correct.items()})
    row["run_key"] = store.append(row)
    return row
