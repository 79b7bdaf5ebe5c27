"""Analysis of the results store: pure functions of the tidy results DataFrame.

Every function takes DataFrames (as `ResultsStore.read()` returns them, or kNN rows as
the kNN jobs store them) and returns a new DataFrame; nothing here reads files or global state.
The paper's own numbers are kept as data, always labelled as the paper's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .metrics import DRAWS

PAPER_SOURCE = "paper (Lowe et al., arXiv 2406.02465; talk slides)"

# The supervised encoder each family is compared against (delta AMI). A family missing here
# whose encoder is itself supervised (e.g. EfficientNet-Lite0) is its own reference.
SUPERVISED_REFERENCE = {
    "ResNet-50": "supervised_resnet50",
    "ViT-B/16": "supervised_vitb16",
    "ResNet-small": "zoo_supervised_resnet",
    "ViT-small": "zoo_supervised_vit",
}



@dataclass(frozen=True)
class Selection:
    """The rows one of the paper's correlations uses, as its analysis code selects them."""

    methods_out: tuple[str, ...]  # encoder methods left out
    datasets_out: tuple[str, ...]  # datasets left out
    source: str  # where the paper's code does it (scottclowe/zs-ssl-clustering @ 5cb58bd)
    says: str  # the rule in words, for the page

    def __call__(self, df: pd.DataFrame) -> pd.DataFrame:
        keep = pd.Series(True, index=df.index)
        if "dataset" in df.columns:
            keep &= ~df["dataset"].isin(self.datasets_out)
        if "encoder_method" in df.columns:
            keep &= ~df["encoder_method"].isin(self.methods_out)
        return df[keep]


# One rule per correlation, the paper's: every page that shows the correlation selects through it.
PAPER_SELECTIONS = {
    "ami_knn": Selection(("clip",), ("imagenet_v2", "imagenet_r", "imagenet_sketch", "imagenet_o"),
                         "analysis/knn_ami_collate.py:41-42",
                         "as the paper's code, without the CLIP encoders and ImageNet-v2, -R, "
                         "-Sketch and -O"),
    "silhouette_ami": Selection(("random", "clip"), (),
                                "analysis/plot_ami_silhouette_scatter_ranked.py:28-32",
                                "as the paper's code, without the random-init and CLIP encoders "
                                "(repeated runs count once)"),
}


def paper_selection(df: pd.DataFrame, correlation: str) -> pd.DataFrame:
    """The rows the paper's `correlation` ("ami_knn" or "silhouette_ami") is computed on."""
    if correlation not in PAPER_SELECTIONS:
        raise KeyError(f"unknown correlation {correlation!r}; known: {', '.join(PAPER_SELECTIONS)}")
    return PAPER_SELECTIONS[correlation](df)


PAPER_KS = (1, 10, 20, 100, 200)


def paper_spearman_table() -> pd.DataFrame:
    """The paper's AMI-vs-kNN Spearman table (x100): index (arch, clusterer), columns k=..."""
    from .resources import path

    df = pd.read_csv(path("paper_spearman.csv"), comment="#").set_index(["arch", "clusterer_title"])
    df.attrs["source"] = PAPER_SOURCE
    return df


# --------------------------------------------------------------------------- helpers
def clusterer_column(df: pd.DataFrame) -> str:
    """The column naming the clusterer: the paper's title where the rows carry it."""
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
    columns = columns or clusterer_column(df)
    return df.pivot_table(index=index, columns=columns, values=values, aggfunc=agg)


def rank_per_dataset(df: pd.DataFrame, by: str = "encoder", metric: str = "ami") -> pd.DataFrame:
    """Rank of each `by` (encoder or clusterer) within each dataset; 1 is the best.

    `metric` is first averaged over the other factor (clusterers when ranking encoders and
    vice versa); ties share the average rank. Returns datasets × `by`.
    """
    if by == "clusterer":
        by = clusterer_column(df)
    mean = df.groupby(["dataset", by])[metric].mean().unstack(by)
    return mean.rank(axis=1, ascending=False, method="average")


def mean_rank(ranks: pd.DataFrame) -> pd.Series:
    """Average rank over datasets, best first."""
    return ranks.mean(axis=0).sort_values()


def image_replicates(frame: pd.DataFrame) -> list[pd.DataFrame] | None:
    """The frame once per stored image resample: every score with draws (column `<score>_draws`)
    takes its value in that resample (NaN where the row has no such score, e.g. a taxonomy level
    its dataset lacks). None when the frame has no draws, or a row with the score lacks them
    (rows made before zsc stored them), or the rows have different numbers of them."""
    cols = [c for c in frame.columns if c.endswith(DRAWS) and c.removesuffix(DRAWS) in frame.columns]
    if frame.empty or not cols:
        return None
    values = {}
    for c in cols:
        base = c.removesuffix(DRAWS)
        cells = frame[c].tolist()
        have = [v is not None and np.ndim(v) == 1 for v in cells]
        if any(not h and np.isfinite(x) for h, x in zip(have, frame[base].astype(float), strict=True)):
            return None
        sizes = {len(v) for v, h in zip(cells, have, strict=True) if h}
        if len(sizes) != 1:
            return None
        blank = np.full(sizes.pop(), np.nan)
        values[base] = np.array([np.asarray(v, dtype=float) if h else blank
                                 for v, h in zip(cells, have, strict=True)])
    n_draws = {len(m[0]) for m in values.values()}
    if len(n_draws) != 1:
        return None
    return [frame.assign(**{c: m[:, r] for c, m in values.items()}) for r in range(n_draws.pop())]


# --------------------------------------------------------------------------- training seeds
TRAINING_SEED = "training_seed"


def fold_replicates(df: pd.DataFrame, replicates: Mapping[str, tuple[str, int]]) -> pd.DataFrame:
    """Rows of training-seed replicates (`replicates`: encoder name -> the encoder it replicates,
    its training seed; `EncoderSpec.replicate_of`) as rows of that encoder, the seed in column
    `training_seed` (0 in every other row). Tables then average an encoder over its training
    seeds as they do over clustering seeds. Unchanged when no row is a replicate."""
    if df.empty or "encoder" not in df.columns or TRAINING_SEED in df.columns \
            or not df["encoder"].isin(list(replicates)).any():
        return df
    of = [replicates.get(e, (e, 0)) for e in df["encoder"]]
    return df.assign(encoder=[b for b, _ in of], **{TRAINING_SEED: [int(s) for _, s in of]})


def _replicated(df: pd.DataFrame) -> pd.Series:
    """Which rows belong to an encoder with several training seeds."""
    seeds = df.groupby("encoder")[TRAINING_SEED].transform("nunique")
    return seeds > 1


def replicated_encoders(df: pd.DataFrame) -> list[str]:
    """The encoders the rows hold with several training seeds."""
    return sorted(df.loc[_replicated(df), "encoder"].unique()) if TRAINING_SEED in df.columns else []


def training_seed_resamples(df: pd.DataFrame, n: int, seed: int = 0) -> list[np.ndarray] | None:
    """`n` resamples (with replacement) of the training seeds: each gives, slot by slot, the seed
    every replicated encoder takes its rows from (`resample_training_seeds`). The same resample
    serves every encoder, as an image resample does. None when no encoder has several seeds."""
    rep = _replicated(df) if TRAINING_SEED in df.columns else None
    if rep is None or not rep.any():
        return None
    seeds = np.array(sorted(df.loc[rep, TRAINING_SEED].unique()))
    rng = np.random.default_rng(seed)
    return [rng.choice(seeds, len(seeds)) for _ in range(n)]


def resample_training_seeds(df: pd.DataFrame, pick: np.ndarray) -> pd.DataFrame:
    """The rows as if the training seeds had been `pick` (slot j holds the rows of seed
    `pick[j]`, relabelled j): a replicated encoder's mean becomes the resample's; encoders
    with one training seed keep their rows."""
    rep = _replicated(df)
    slots = [df[rep & (df[TRAINING_SEED] == s)].assign(**{TRAINING_SEED: j}) for j, s in enumerate(pick)]
    return pd.concat([df[~rep], *slots], ignore_index=True)


def _complete_training_seeds(df: pd.DataFrame) -> pd.DataFrame:
    """Every encoder at every training seed: one trained once stands in each seed's replicate."""
    rep = _replicated(df) if TRAINING_SEED in df.columns else None
    if rep is None or not rep.any():
        return df
    seeds = sorted(df[TRAINING_SEED].unique())
    return pd.concat([df[rep], *(df[~rep].assign(**{TRAINING_SEED: s}) for s in seeds)], ignore_index=True)


def mean_rank_interval(df: pd.DataFrame, by: str = "encoder", level: float = 0.95) -> pd.DataFrame | None:
    """`mean_rank` of each `by` in every stored image resample (`image_replicates`), with the
    training seeds resampled too where encoders have several: the low and high ends of the
    middle `level` of them, the spread of the rank over images (and training). None when the
    rows carry no draws."""
    reps = image_replicates(df)
    if reps is None:
        return None
    picks = training_seed_resamples(df, len(reps))
    if picks is not None:
        reps = [resample_training_seeds(r, p) for r, p in zip(reps, picks, strict=True)]
    draws = pd.DataFrame([mean_rank(rank_per_dataset(r, by)) for r in reps])
    tail = (1 - level) / 2
    return pd.DataFrame({"low": draws.quantile(tail), "high": draws.quantile(1 - tail)})


def reference_encoder(encoder: str, family: str, method: str) -> str | None:
    """The supervised encoder `encoder` is compared against for delta AMI (None if none)."""
    if family in SUPERVISED_REFERENCE:
        return SUPERVISED_REFERENCE[family]
    return encoder if method == "supervised" else None


def delta_ami(df: pd.DataFrame, metric: str = "ami") -> pd.DataFrame:
    """`metric` of each row minus that of its family's supervised encoder, on the same dataset,
    clusterer, sample size and seed (clustering, and training where encoders have several: an
    encoder trained once stands in every training seed's replicate). Rows whose reference is
    absent from `df` are dropped."""
    df = _complete_training_seeds(df)
    keys = [k for k in ("dataset", "clusterer", "n_samples", "seed", TRAINING_SEED) if k in df.columns]
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


def group_column(df: pd.DataFrame) -> str:
    """The dataset-group column to summarise by: the offline zoo's groups (relative to
    Fashion-MNIST) when every row has one, else the paper's (relative to ImageNet-1k)."""
    off = "dataset_offline_group"
    if off in df.columns and len(df) and df[off].notna().all():
        return off
    return "dataset_group"


def ordered_groups(values: Iterable[str]) -> list[str]:
    """Dataset groups in the paper's order (in-domain first, far-OOD last), unknown ones after."""
    from .data import GROUPS

    seen = list(dict.fromkeys(str(v) for v in values if isinstance(v, str)))
    return [g for g in GROUPS if g in seen] + sorted(g for g in seen if g not in GROUPS)


def n_seeds(df: pd.DataFrame) -> int:
    """How many clustering seeds the rows hold (error bars are drawn only when more than one)."""
    return int(df["seed"].nunique()) if "seed" in df.columns and len(df) else 1


def n_training_seeds(df: pd.DataFrame) -> int:
    """How many training seeds the replicated encoders of the rows have (1: none replicated)."""
    return int(df.loc[_replicated(df), TRAINING_SEED].nunique() or 1) if TRAINING_SEED in df.columns else 1


def seed_means(df: pd.DataFrame, keys: Sequence[str], value: str = "ami") -> pd.DataFrame:
    """`value` averaged over all but `keys`, once per clustering seed (and training seed, where
    rows have them): the values the spread over seeds (error bars) is computed from. Each
    dataset weighs the same within a key."""
    keys = list(keys)
    seed = [c for c in ("seed", TRAINING_SEED) if c in df.columns]
    inner = [*keys, *seed] + (["dataset"] if "dataset" in df.columns and "dataset" not in keys else [])
    per = df.groupby(inner, as_index=False, sort=True, observed=True)[value].mean()
    return per.groupby([*keys, *seed], as_index=False, sort=True, observed=True)[value].mean()


def best_per(df: pd.DataFrame, by: str = "encoder", within: str = "dataset",
             metric: str = "ami") -> pd.DataFrame:
    """For each `within` (dataset), the `by` (encoder or clusterer) with the highest `metric`
    averaged over everything else, its value and the runner-up's: columns best, value, second,
    second_value."""
    if by == "clusterer":
        by = clusterer_column(df)
    mean = df.groupby([within, by])[metric].mean().unstack(by)
    rows = []
    for key, r in mean.iterrows():
        r = r.dropna().sort_values(ascending=False)
        rows.append({within: key, "best": r.index[0] if len(r) else None,
                     "value": r.iloc[0] if len(r) else np.nan,
                     "second": r.index[1] if len(r) > 1 else None,
                     "second_value": r.iloc[1] if len(r) > 1 else np.nan})
    return pd.DataFrame(rows, columns=[within, "best", "value", "second", "second_value"])


# --------------------------------------------------------------------------- correlations
# Below this many pairs a correlation is not reported as a number: with 4 pairs a Spearman rho of
# 1.0 happens by chance one time in 24, and its 95 % interval spans almost [-1, 1].
MIN_PAIRS = 8


def correlation(x: Iterable[float], y: Iterable[float], kind: str = "spearman") -> float:
    """Spearman (or Kendall) correlation of the finite pairs; NaN with fewer than 3 or no spread."""
    x, y = np.asarray(list(x), float), np.asarray(list(y), float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    fn = stats.spearmanr if kind == "spearman" else stats.kendalltau
    return float(fn(x, y)[0])


def fisher_interval(r: float, n: int, kind: str = "spearman", level: float = 0.95
                    ) -> tuple[float, float]:
    """Confidence interval of a correlation by Fisher's z transform (NaN below `MIN_PAIRS`).

    z = atanh(r) is near-normal with standard error 1/sqrt(n-3) for Pearson's r,
    sqrt((1 + r^2/2)/(n-3)) for Spearman's rho (Bonett & Wright 2000) and sqrt(0.437/(n-4)) for
    Kendall's tau (Fieller, Hartley & Pearson 1957); the interval is tanh(z -/+ q se)."""
    if not np.isfinite(r) or n < MIN_PAIRS:
        return float("nan"), float("nan")
    se = {"pearson": 1 / np.sqrt(n - 3), "spearman": np.sqrt((1 + r * r / 2) / (n - 3)),
          "kendall": np.sqrt(0.437 / (n - 4))}[kind]
    z, q = np.arctanh(np.clip(r, -0.999999, 0.999999)), stats.norm.ppf(0.5 + level / 2)
    return float(np.tanh(z - q * se)), float(np.tanh(z + q * se))


def corr_label(r: float, n: int, low: float = float("nan"), high: float = float("nan"),
               symbol: str = "ρ") -> str:
    """A correlation as the book prints it: the value with its 95 % interval and n, or why not."""
    if n < MIN_PAIRS:
        return f"too few pairs (n={n})"
    if not np.isfinite(r):
        return f"undefined (a constant variable, n={n})"
    ci = f" [{low:.2f}, {high:.2f}]" if np.isfinite(low) and np.isfinite(high) else ""
    return f"{symbol} = {r:.2f}{ci}, n = {n}"


def corr_labels(corr: pd.DataFrame, kind: str = "spearman") -> pd.Series:
    """`corr_label` of every row of a correlation frame (`spearman_ami_knn`,
    `silhouette_correlation`), with the interval columns of `kind`; same index."""
    prefix = "" if kind == "spearman" else f"{kind}_"
    symbol = {"spearman": "ρ", "kendall": "τ"}.get(kind, "r")
    return pd.Series([corr_label(r[kind], int(r["n"]), r[f"{prefix}ci_low"], r[f"{prefix}ci_high"], symbol)
                      for _, r in corr.iterrows()], index=corr.index, dtype=object)


def _with_interval(row: dict[str, object], kind: str = "spearman") -> dict[str, object]:
    lo, hi = fisher_interval(float(row[kind]), int(row["n"]), kind)  # type: ignore[arg-type]
    prefix = "" if kind == "spearman" else f"{kind}_"
    return {**row, f"{prefix}ci_low": lo, f"{prefix}ci_high": hi}


def knn_long(knn: pd.DataFrame) -> pd.DataFrame:
    """kNN rows with columns `knn_acc_k<k>` as long form: encoder, dataset, k, knn_acc."""
    cols = [c for c in knn.columns if c.startswith("knn_acc_k") and not c.endswith(DRAWS)]
    keep = [c for c in ("encoder", "dataset", "encoder_family", "encoder_method") if c in knn.columns]
    long = knn.melt(id_vars=keep, value_vars=cols, var_name="k", value_name="knn_acc")
    long["k"] = long["k"].str.removeprefix("knn_acc_k").astype(int)
    long = long.dropna(subset=["knn_acc"])
    # an encoder's training seeds (`fold_replicates`): one point, their mean
    return long.groupby([*keep, "k"], as_index=False, sort=False, dropna=False)["knn_acc"].mean()


def spearman_ami_knn(results: pd.DataFrame, knn: pd.DataFrame, by: str | None = "encoder_family"
                     ) -> pd.DataFrame:
    """Spearman correlation between AMI and kNN accuracy across (encoder, dataset) pairs,
    per `by` (backbone family; None pools all encoders as "all"), clusterer and k, as in the
    paper. Long form with `n` pairs and the 95 % interval (`ci_low`, `ci_high`; NaN below
    `MIN_PAIRS`). AMI is averaged over clustering seeds first: a pair counts once."""
    title = clusterer_column(results)
    if by is None:
        results = results.assign(encoder_family="all")
        by = "encoder_family"
    m = ami_knn_pairs(results, knn, by)
    rows = []
    for (fam, clu, k), g in m.groupby([by, title, "k"], sort=True):
        rows.append(_with_interval({by: fam, title: clu, "k": int(k),
                                    "spearman": correlation(g["ami"], g["knn_acc"]), "n": len(g)}))
    return pd.DataFrame(rows, columns=[by, title, "k", "spearman", "n", "ci_low", "ci_high"])


def ami_knn_checks(results: pd.DataFrame, knn: pd.DataFrame, k: int = 20) -> pd.DataFrame:
    """The AMI–kNN@k correlation under the checks a surprisingly high ρ calls for: all pairs (as
    the verdict), without the random-init encoders and raw pixels (do the untrained ones
    stretch the range?), and within each dataset (do differences in dataset difficulty drive
    it?). One row per check: median, lowest and highest ρ over clusterers (and datasets) and
    the pairs behind each ρ."""
    title = clusterer_column(results)
    pairs = ami_knn_pairs(results, knn)
    pairs = pairs[pairs["k"] == k]
    method = results.groupby("encoder")["encoder_method"].first()
    trained = ~pairs["encoder"].map(method).isin(["random", "none"])

    def summary(check: str, groups: Iterable[tuple[Any, pd.DataFrame]]) -> dict[str, Any]:
        rho = [(correlation(g["ami"], g["knn_acc"]), len(g)) for _, g in groups if len(g) >= MIN_PAIRS]
        r = np.array([x for x, _ in rho if np.isfinite(x)])
        return {"check": check, "median ρ": float(np.median(r)) if len(r) else np.nan,
                "lowest": float(r.min()) if len(r) else np.nan, "highest": float(r.max()) if len(r) else np.nan,
                "correlations": len(r), "pairs each": int(max((n for _, n in rho), default=0))}

    return pd.DataFrame([
        summary("every pair (the verdict's)", pairs.groupby(title)),
        summary("without random-init encoders and raw pixels", pairs[trained].groupby(title)),
        summary("within each dataset", pairs.groupby(["dataset", title])),
    ]).set_index("check")


def ami_knn_pairs(results: pd.DataFrame, knn: pd.DataFrame, by: str = "encoder_family"
                  ) -> pd.DataFrame:
    """The points `spearman_ami_knn` correlates: per encoder, dataset, `by` and clusterer, AMI
    averaged over clustering seeds (a pair counts once) beside its kNN accuracy at each k."""
    title = clusterer_column(results)
    keys = ["encoder", "dataset", by, title]
    res = results[[*keys, "ami"]].groupby(keys, as_index=False)["ami"].mean()
    return res.merge(knn_long(knn)[["encoder", "dataset", "k", "knn_acc"]], on=["encoder", "dataset"],
                     how="inner")


def pair_means(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """`cols` per clusterer, encoder and dataset, averaged over clustering seeds: the points a
    correlation across encoder × dataset pairs is computed on (each pair counts once)."""
    keys = [clusterer_column(df), *(k for k in ("encoder", "dataset") if k in df.columns)]
    return df.groupby(keys, as_index=False)[list(cols)].mean()


def spearman_table(corr: pd.DataFrame, by: str = "encoder_family") -> pd.DataFrame:
    """The long output of `spearman_ami_knn` as the paper lays it out: x100, columns k=...;
    NaN where fewer than `MIN_PAIRS` pairs stand behind a value."""
    title = "clusterer_title" if "clusterer_title" in corr.columns else "clusterer"
    corr = corr.assign(spearman=corr["spearman"].where(corr["n"] >= MIN_PAIRS))
    t = corr.pivot_table(index=[by, title], columns="k", values="spearman", aggfunc="first",
                         dropna=False) * 100
    t.columns = [f"k={k}" for k in t.columns]
    return t.round(0)


def silhouette_correlation(df: pd.DataFrame, spaces: Sequence[str] = ("original", "umap"),
                           metric: str = "ami") -> pd.DataFrame:
    """Spearman and Kendall correlation between silhouette (per space) and `metric`, per
    clusterer, across (encoder, dataset) pairs (averaged over clustering seeds first, so each
    pair counts once), with `n` and 95 % intervals (`ci_low`/`ci_high` for Spearman,
    `kendall_ci_low`/`kendall_ci_high`; NaN below `MIN_PAIRS`)."""
    title = clusterer_column(df)
    cols = [f"silhouette_{s}" for s in spaces if f"silhouette_{s}" in df.columns]
    pair = [k for k in ("encoder", "dataset") if k in df.columns]
    if pair and "seed" in df.columns:
        df = pair_means(df, [*cols, metric])
    rows = []
    for clu, g in df.groupby(title, sort=True):
        for space in spaces:
            col = f"silhouette_{space}"
            if col not in g.columns:
                continue
            n = int((np.isfinite(g[col].astype(float)) & np.isfinite(g[metric].astype(float))).sum())
            row = {title: clu, "space": space, "spearman": correlation(g[col], g[metric], "spearman"),
                   "kendall": correlation(g[col], g[metric], "kendall"), "n": n}
            rows.append(_with_interval(_with_interval(row), "kendall"))
    return pd.DataFrame(rows, columns=[title, "space", "spearman", "kendall", "n", "ci_low",
                                       "ci_high", "kendall_ci_low", "kendall_ci_high"])


def dataset_levels(datasets: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each dataset's taxonomy levels, coarse to fine, as the data module declares them
    (empty for a dataset without a taxonomy or one this version of zsc does not know)."""
    from .data import DATASETS

    return {d: (DATASETS.get(d).levels if d in DATASETS else ()) for d in datasets}


def level_members(dataset: str, coarse: str, fine: str) -> pd.Series:
    """Which `fine` classes (by name where the dataset has names) form each `coarse` class of a
    dataset's taxonomy, from its test split's labels: what the coarse level's labels mean."""
    from .data import load_dataset

    d = load_dataset(dataset, "test")
    pairs = pd.DataFrame({coarse: d.hierarchy[coarse], fine: d.hierarchy[fine]}).drop_duplicates()
    named = bool(d.class_names) and np.array_equal(d.hierarchy[fine], d.labels)  # the classes
    name = (lambda i: d.class_names[i]) if named else str
    return (pairs.sort_values([coarse, fine]).groupby(coarse)[fine]
            .agg(lambda v: ", ".join(name(int(i)) for i in v)).rename(f"{fine} classes"))


def level_table(df: pd.DataFrame, index: Sequence[str] = ("dataset", "encoder"),
                levels: dict[str, tuple[str, ...]] | None = None) -> pd.DataFrame:
    """AMI per taxonomy level, per dataset: never averaged across datasets, whose levels differ.

    Long form, one row per `index` (which must include `dataset`) × level: `ami` (mean of
    `ami_level_<level>` over the other factors, e.g. clusterers) and `ami_true` (the variant
    normalised by H(Y_true), `ami_true_level_<level>`), with `depth` 0 for the coarsest level.
    Levels are ordered as `levels` (default: the data module) declares them; a level with a
    column but no declaration comes last. Datasets without level values have no rows."""
    index = list(index)
    if "dataset" not in index:
        raise ValueError("level_table groups by dataset: index must include 'dataset'")
    out_cols = [*index, "level", "depth", "ami", "ami_true"]
    names = [c.removeprefix("ami_level_") for c in df.columns
             if c.startswith("ami_level_") and not c.endswith(DRAWS)]
    if df.empty or not names:
        return pd.DataFrame(columns=out_cols)
    declared = levels if levels is not None else dataset_levels(df["dataset"].unique())
    parts = []
    for ds, g in df.groupby("dataset", sort=True):
        present = [n for n in names if g[f"ami_level_{n}"].notna().any()]
        order = [lv for lv in declared.get(str(ds), ()) if lv in present]
        order += [lv for lv in present if lv not in order]
        for depth, lv in enumerate(order):
            true_col = f"ami_true_level_{lv}"
            sub = g.assign(ami=g[f"ami_level_{lv}"],
                           ami_true=g[true_col] if true_col in g.columns else np.nan)
            m = sub.groupby(index, as_index=False, sort=True)[["ami", "ami_true"]].mean()
            parts.append(m.assign(level=lv, depth=depth))
    if not parts:
        return pd.DataFrame(columns=out_cols)
    return pd.concat(parts, ignore_index=True)[out_cols]


def level_wide(levels: pd.DataFrame, value: str = "ami") -> pd.DataFrame:
    """One dataset's rows of `level_table` as encoder × level (coarse to fine columns)."""
    if levels["dataset"].nunique() > 1:
        raise ValueError("level_wide takes one dataset: levels differ between datasets")
    order = levels.sort_values("depth")["level"].unique()
    return levels.pivot_table(index="encoder", columns="level", values=value)[list(order)]
