"""Analysis of the results store: pure functions of the tidy results DataFrame.

Every function takes DataFrames (as `ResultsStore.read()` returns them, or kNN rows as
the kNN jobs store them) and returns a new DataFrame; nothing here reads files or global state.
The paper's own numbers are kept as data, always labelled as the paper's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

PAPER_SOURCE = "paper (Lowe et al., arXiv 2406.02465; talk slides)"

# The supervised encoder each family is compared against (delta AMI). A family missing here
# whose encoder is itself supervised (e.g. EfficientNet-Lite0) is its own reference.
SUPERVISED_REFERENCE = {
    "ResNet-50": "supervised_resnet50",
    "ViT-B/16": "supervised_vitb16",
    "ResNet-small": "zoo_supervised_resnet",
    "ViT-small": "zoo_supervised_vit",
}

# The paper's AMI-vs-kNN Spearman correlation leaves out the CLIP encoders and four ImageNet
# variants (its code: analysis/knn_ami_collate.py:41-42); `paper_spearman_selection` does the same.
PAPER_SPEARMAN_EXCLUDED_METHODS = ("clip",)
PAPER_SPEARMAN_EXCLUDED_DATASETS = ("imagenet_v2", "imagenet_r", "imagenet_sketch", "imagenet_o")
PAPER_KS = (1, 10, 20, 100, 200)


def paper_spearman_table() -> pd.DataFrame:
    """The paper's AMI-vs-kNN Spearman table (x100): index (arch, clusterer), columns k=..."""
    from .resources import path

    df = pd.read_csv(path("paper_spearman.csv"), comment="#").set_index(["arch", "clusterer_title"])
    df.attrs["source"] = PAPER_SOURCE
    return df


def paper_spearman_selection(df: pd.DataFrame) -> pd.DataFrame:
    """The rows the paper's Spearman(AMI, kNN) uses: no CLIP encoder, no ImageNet-v2/-R/-Sketch/-O."""
    keep = ~df["dataset"].isin(PAPER_SPEARMAN_EXCLUDED_DATASETS)
    if "encoder_method" in df.columns:
        keep &= ~df["encoder_method"].isin(PAPER_SPEARMAN_EXCLUDED_METHODS)
    return df[keep]


# --------------------------------------------------------------------------- helpers
def _title_col(df: pd.DataFrame) -> str:
    return "clusterer_title" if "clusterer_title" in df.columns else "clusterer"


def frame_hash(df: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A content hash of a results frame, independent of row order (for provenance)."""
    if df.empty:
        return hashlib.sha256(b"empty").hexdigest()[:16]
    cols = sorted(columns or df.columns)
    sub = df[cols].copy()
    for c in cols:
        if sub[c].dtype == object:
            sub[c] = sub[c].astype(str)
    sub = sub.sort_values(cols, kind="stable").reset_index(drop=True)
    h = pd.util.hash_pandas_object(sub, index=False).to_numpy()
    return hashlib.sha256(h.tobytes() + ",".join(cols).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- tables
def ami_table(df: pd.DataFrame, index: str = "encoder", columns: str | None = None,
              values: str = "ami", agg: str = "mean") -> pd.DataFrame:
    """Pivot of `values` (default AMI): rows `index`, columns clusterer titles (or `columns`)."""
    columns = columns or _title_col(df)
    return df.pivot_table(index=index, columns=columns, values=values, aggfunc=agg)


def rank_per_dataset(df: pd.DataFrame, by: str = "encoder", metric: str = "ami") -> pd.DataFrame:
    """Rank of each `by` (encoder or clusterer) within each dataset; 1 is the best.

    `metric` is first averaged over the other factor (clusterers when ranking encoders and
    vice versa); ties share the average rank. Returns datasets × `by`.
    """
    if by == "clusterer":
        by = _title_col(df)
    mean = df.groupby(["dataset", by])[metric].mean().unstack(by)
    return mean.rank(axis=1, ascending=False, method="average")


def mean_rank(ranks: pd.DataFrame) -> pd.Series:
    """Average rank over datasets, best first."""
    return ranks.mean(axis=0).sort_values()


def reference_encoder(encoder: str, family: str, method: str) -> str | None:
    """The supervised encoder `encoder` is compared against for delta AMI (None if none)."""
    if family in SUPERVISED_REFERENCE:
        return SUPERVISED_REFERENCE[family]
    return encoder if method == "supervised" else None


def delta_ami(df: pd.DataFrame, metric: str = "ami") -> pd.DataFrame:
    """`metric` of each row minus that of its family's supervised encoder, on the same dataset,
    clusterer, sample size and seed. Rows whose reference is absent from `df` are dropped."""
    keys = [k for k in ("dataset", "clusterer", "n_samples", "seed") if k in df.columns]
    out = df.copy()
    out["reference"] = [
        reference_encoder(e, f, m)
        for e, f, m in zip(out["encoder"], out["encoder_family"], out["encoder_method"], strict=True)
    ]
    ref = df[[*keys, "encoder", metric]].rename(columns={"encoder": "reference", metric: f"{metric}_ref"})
    out = out.merge(ref, on=[*keys, "reference"], how="inner")
    out[f"delta_{metric}"] = out[metric] - out[f"{metric}_ref"]
    return out


def group_summary(df: pd.DataFrame, value: str = "ami", group: str = "dataset_offline_group",
                  index: str = "encoder") -> pd.DataFrame:
    """Mean of `value` per `index` × dataset group: the mean over each group's datasets of the
    per-dataset mean over clusterers (so a group with more clusterer rows gets no extra weight)."""
    per_ds = df.groupby([index, group, "dataset"])[value].mean().reset_index()
    return per_ds.pivot_table(index=index, columns=group, values=value, aggfunc="mean")


# --------------------------------------------------------------------------- correlations
def _corr(x: Iterable[float], y: Iterable[float], kind: str = "spearman") -> float:
    x, y = np.asarray(list(x), float), np.asarray(list(y), float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    fn = stats.spearmanr if kind == "spearman" else stats.kendalltau
    return float(fn(x, y)[0])


def knn_long(knn: pd.DataFrame) -> pd.DataFrame:
    """kNN rows with columns `knn_acc_k<k>` as long form: encoder, dataset, k, knn_acc."""
    cols = [c for c in knn.columns if c.startswith("knn_acc_k")]
    keep = [c for c in ("encoder", "dataset", "encoder_family", "encoder_method") if c in knn.columns]
    long = knn.melt(id_vars=keep, value_vars=cols, var_name="k", value_name="knn_acc")
    long["k"] = long["k"].str.removeprefix("knn_acc_k").astype(int)
    return long.dropna(subset=["knn_acc"]).reset_index(drop=True)


def spearman_ami_knn(results: pd.DataFrame, knn: pd.DataFrame, by: str | None = "encoder_family"
                     ) -> pd.DataFrame:
    """Spearman correlation between AMI and kNN accuracy across (encoder, dataset) pairs,
    per `by` (backbone family; None pools all encoders as "all"), clusterer and k, as in the
    paper. Long form with `n` pairs."""
    long = knn_long(knn)[["encoder", "dataset", "k", "knn_acc"]]
    title = _title_col(results)
    if by is None:
        results = results.assign(encoder_family="all")
        by = "encoder_family"
    res = results[["encoder", "dataset", by, title, "ami"]]
    res = res.groupby(["encoder", "dataset", by, title], as_index=False)["ami"].mean()
    m = res.merge(long, on=["encoder", "dataset"], how="inner")
    rows = []
    for (fam, clu, k), g in m.groupby([by, title, "k"], sort=True):
        rows.append({by: fam, title: clu, "k": int(k), "spearman": _corr(g["ami"], g["knn_acc"]),
                     "n": len(g)})
    return pd.DataFrame(rows, columns=[by, title, "k", "spearman", "n"])


def spearman_table(corr: pd.DataFrame, by: str = "encoder_family") -> pd.DataFrame:
    """The long output of `spearman_ami_knn` as the paper lays it out: x100, columns k=..."""
    title = "clusterer_title" if "clusterer_title" in corr.columns else "clusterer"
    t = corr.pivot_table(index=[by, title], columns="k", values="spearman", aggfunc="first") * 100
    t.columns = [f"k={k}" for k in t.columns]
    return t.round(0)


def silhouette_correlation(df: pd.DataFrame, spaces: Sequence[str] = ("original", "umap"),
                           metric: str = "ami") -> pd.DataFrame:
    """Spearman and Kendall correlation between silhouette (per space) and `metric`, per
    clusterer, across (encoder, dataset) rows."""
    title = _title_col(df)
    rows = []
    for clu, g in df.groupby(title, sort=True):
        for space in spaces:
            col = f"silhouette_{space}"
            if col not in g.columns:
                continue
            n = int((np.isfinite(g[col].astype(float)) & np.isfinite(g[metric].astype(float))).sum())
            rows.append({title: clu, "space": space,
                         "spearman": _corr(g[col], g[metric], "spearman"),
                         "kendall": _corr(g[col], g[metric], "kendall"), "n": n})
    return pd.DataFrame(rows, columns=[title, "space", "spearman", "kendall", "n"])


def level_table(df: pd.DataFrame, prefix: str = "ami_level_", index: str = "encoder") -> pd.DataFrame:
    """Mean AMI per taxonomy level (columns `ami_level_<lvl>`), rows `index` (empty if none)."""
    cols = [c for c in df.columns if c.startswith(prefix) and df[c].notna().any()]
    if not cols:
        return pd.DataFrame()
    t = df.groupby(index)[cols].mean()
    t.columns = [c[len(prefix):] for c in cols]
    return t
