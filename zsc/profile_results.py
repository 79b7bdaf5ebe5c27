"""A profile's results, read back: the rows of its stores that its chapters show.

A profile (`zsc.profiles`) says what to compute; this view reads what was computed. A store may
be shared by profiles, and a reducer sweep's rows share the clustering store with the main
grid's, so each reader keeps only the rows that belong to the profile. It reads, never computes.

    view = ProfileResults(profile)
    res, knn = view.results()          # the main grid: the paper's reduction only
    view.sweep(), view.baselines()     # the reducer sweep's rows, the baselines' rows
    res, knn, sweep, base = view.all() # all four, the clustering store read once
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import config
from .errors import ZscError
from .profiles import baseline_datasets, reducer_sweep


@dataclasses.dataclass
class ProfileResults:
    """The results of one profile. Its clustering store is read once, on first use, and shared
    by `results` and `sweep` (the sweep's rows live in the same store)."""

    profile: Mapping[str, Any]

    @property
    def paths(self) -> tuple[Path, Path]:
        """(clustering store, kNN store): relative folders are the book project's."""
        base = Path(self.profile["results_dir"]).expanduser()
        base = base if base.is_absolute() else config.base_dir() / base
        return base / "clustering", base / "knn"

    @property
    def baselines_path(self) -> Path:
        """The store of the baseline rows (beside the clustering and kNN stores)."""
        return self.paths[0].parent / "baselines"

    @functools.cached_property
    def rows(self) -> pd.DataFrame:
        """The clustering store as read, every profile's rows."""
        from .results import ResultsStore

        return ResultsStore(self.paths[0]).read()

    def results(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(clustering rows, kNN rows), restricted to the profile's encoders, datasets,
        clusterers and seeds (a store shared by profiles stays correct) and to rows clustered
        with the paper's reduction (a reducer sweep's are `sweep`'s)."""
        from .results import ResultsStore

        profile, res = self.profile, self.rows
        knn = ResultsStore(self.paths[1]).read()

        def keep(df: pd.DataFrame, clusterers: bool) -> pd.DataFrame:
            if df.empty:
                return df
            m = df["encoder"].isin(profile["encoders"]) & df["dataset"].isin(profile["datasets"])
            if clusterers:
                sample = df["sample_seed"].fillna(df["seed"]) if "sample_seed" in df else df["seed"]
                m &= df["seed"].isin(profile["cluster_seeds"]) & (sample == int(profile["seed"]))
                m &= df["clusterer"].isin(profile["clusterers"])
                # the paper's reduction only: a reducer sweep's rows (`sweep`) share the store
                m &= pd.Series([_is_paper_row(r) for r in df.itertuples()], index=df.index,
                               dtype=bool)
            else:
                m &= df["seed"] == int(profile["seed"])
            return df[m].reset_index(drop=True)

        return keep(res, True), keep(knn, False)

    def sweep(self) -> pd.DataFrame:
        """The reducer sweep's rows (empty without a sweep), with a `sweep_reducer` column naming
        the sweep's reducer of each row (none, pca, umap, pacmap). Rows of the paper's own
        reducer are shared with `results`."""
        from dataclasses import replace

        sweep = reducer_sweep(self.profile)
        res = self.rows
        if sweep is None or res.empty:
            return res.iloc[:0].assign(sweep_reducer=pd.Series(dtype=str))
        seed = int(self.profile["seed"])
        m = (res["encoder"].isin(sweep["encoders"]) & res["dataset"].isin(sweep["datasets"])
             & res["clusterer"].isin(sweep["clusterers"]) & (res["seed"] == seed))
        res = res[m].reset_index(drop=True)
        keys = {name: replace(cfg, seed=seed).key() for name, cfg in sweep["reducers"].items()}
        names = [next((n for n, k in keys.items() if k == _reducer_of(p)), None)
                 for p in res["reducer_params"]]
        res = res.assign(sweep_reducer=names)
        return res[res["sweep_reducer"].notna()].reset_index(drop=True)

    def baselines(self) -> pd.DataFrame:
        """The baseline rows: the profile's baselines, baseline datasets and seed."""
        from .results import ResultsStore

        df = ResultsStore(self.baselines_path).read()
        if df.empty:
            return df
        m = df["encoder"].isin(list(self.profile.get("baselines") or []))
        m &= (df["dataset"].isin(baseline_datasets(self.profile))
              & (df["seed"] == int(self.profile["seed"])))
        return df[m].reset_index(drop=True)

    def all(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(clustering rows, kNN rows, reducer-sweep rows, baseline rows): what a book build
        hashes into its chapters' execution keys."""
        res, knn = self.results()
        return res, knn, self.sweep(), self.baselines()


def _reducer_of(row_params: Any) -> dict[str, Any] | None:
    import json

    try:
        return json.loads(row_params) if isinstance(row_params, str) else dict(row_params)
    except (TypeError, ValueError):
        return None


def _is_paper_row(row: Any) -> bool:
    """Was this row clustered with the paper's reduction for its clusterer, encoder, dataset?
    (The encoder's family and method are the row's own: no encoder registry, no torch import.)"""
    from .settings import paper_reducer

    try:
        own = paper_reducer(row.clusterer, row.encoder, row.encoder_family, row.encoder_method,
                            dataset=row.dataset, seed=int(row.seed),
                            shape=(int(row.n_samples), int(row.embedding_dim)))
    except (ZscError, TypeError, ValueError, AttributeError):
        return False
    return _reducer_of(row.reducer_params) == own.key()

