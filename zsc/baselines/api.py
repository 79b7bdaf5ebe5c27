"""The baselines' registry and `run_baseline` (loaded on first use of `zsc.baselines`' names:
importing the package, as every `zsc` command does for its parser, imports nothing heavy)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..data import get_dataset, load_dataset, subsample_indices
from ..metrics import score_clustering
from ..registry import Registry
from ..results import ResultsStore
from . import kingdra, n2d
from .common import BaselineSpec, Fit, Problem, Published, pixels

__all__ = ["BASELINES", "BaselineSpec", "Fit", "Problem", "Published", "get_baseline",
           "run_baseline"]

BASELINES: Registry[BaselineSpec] = Registry("baseline")
for _spec in (n2d.SPEC, kingdra.SPEC):
    BASELINES.register(_spec.name, _spec)


def get_baseline(name: str) -> BaselineSpec:
    return BASELINES.get(name)


def run_baseline(name: str, dataset: str, *, split: str | None = None,
                 n_samples: int | None = None, seed: int = 0, train: bool = False,
                 options: Mapping[str, Any] | None = None,
                 store: ResultsStore | str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Cluster (a seeded subsample of) one split with a baseline, score it, store its row.

    The subsample is the one the encoders embed (`zsc.data.subsample_indices`, same seed), so
    rows compare on the same images. `train`: N2D may pretrain a missing autoencoder now."""
    spec = get_baseline(name)
    options = dict(options or {})
    spec.check_options(options)
    ds = get_dataset(dataset)
    split = split or ds.default_split
    data = load_dataset(dataset, split)
    idx = subsample_indices(data.labels, n_samples, seed)
    part = data.subset(idx) if n_samples is not None else data
    n_clusters = int(len(np.unique(part.labels)))
    t0 = time.perf_counter()
    fit = spec.fit(Problem(dataset, split, pixels(part.images, dataset), part.labels, n_clusters,
                           seed, train, options))
    row: dict[str, Any] = {
        "encoder": name, "dataset": dataset, "split": split,
        "n_samples": len(part) if n_samples is None else int(n_samples), "seed": seed,
        "reducer": fit.reducer, "reducer_params": fit.reducer_params,
        "clusterer": spec.clusterer, "clusterer_params": fit.clusterer_params,
        "clusterer_title": spec.title, "encoder_family": "baseline", "encoder_method": name,
        "encoder_tier": "baseline", "dataset_group": ds.group,
        "dataset_offline_group": ds.offline_group, "embedding_key": fit.weights_key,
        "embedding_dim": fit.embedding_dim, "reduced_dim": fit.reduced_dim,
        "trained_on": fit.trained_on, "weights_source": fit.weights_source,
        **fit.cost, "time_train": fit.time_train, "time_cluster": fit.time_cluster,
        "time_total": time.perf_counter() - t0,
    }
    row.update(score_clustering(part.labels, fit.labels, hierarchy=part.hierarchy))
    if fit.history:
        last = fit.history[-1]
        row["pseudo_labelled"] = last.get("pseudo_labelled")
        row["pseudo_label_precision"] = last.get("pseudo_label_precision")
    if not isinstance(store, ResultsStore):
        store = ResultsStore(store)
    row["run_key"] = store.append(row)
    return row
