"""Zero-shot encoders against the baselines trained on the target, as tables (pure functions of
the results rows, for chapter 9): one row per dataset x method, with what training on the target
cost; and the numbers the baselines' papers published (theirs)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

METRICS = ("ami", "nmi", "acc")
ZERO_SHOT, TRAINED = "zero-shot encoder", "trained on the target"


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    return pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series(np.nan, df.index)


def encoder_rows(res: pd.DataFrame, datasets: Sequence[str], clusterer: str | None) -> pd.DataFrame:
    """Each encoder's row per dataset: that of `clusterer`, or (None) of its best clusterer by AMI."""
    if res.empty:
        return res
    df = res[res["dataset"].isin(datasets)]
    if clusterer is not None:
        return df[df["clusterer"] == clusterer]
    best = df.assign(_ami=_num(df, "ami")).sort_values("_ami", ascending=False, kind="stable")
    return best.drop_duplicates(["encoder", "dataset"]).drop(columns="_ami")


def table(res: pd.DataFrame, base: pd.DataFrame, datasets: Sequence[str],
          clusterer: str | None = "ac_with_c") -> pd.DataFrame:
    """One row per dataset x method: its kind, clusterer, AMI / NMI / ACC, the images it saw and
    the seconds (wall and CPU) it trained on the target (0 for an encoder), and the seconds
    clustering took."""
    parts = []
    enc = encoder_rows(res, datasets, clusterer)
    if not enc.empty:
        parts.append(pd.DataFrame({
            "dataset": enc["dataset"], "method": enc["encoder"], "kind": ZERO_SHOT,
            "clusterer": enc["clusterer"], **{m: _num(enc, m) for m in METRICS},
            "target_images_seen": 0, "target_train_seconds": 0.0, "target_train_cpu_seconds": 0.0,
            "cluster_seconds": _num(enc, "time_embed") + _num(enc, "time_reduce")
            + _num(enc, "time_cluster"),
            "n_samples": enc["n_samples"]}))
    b = base[base["dataset"].isin(datasets)] if not base.empty else base
    if not b.empty:
        parts.append(pd.DataFrame({
            "dataset": b["dataset"], "method": b["encoder"], "kind": TRAINED,
            "clusterer": b["clusterer"], **{m: _num(b, m) for m in METRICS},
            "target_images_seen": _num(b, "train_images_seen"),
            "target_train_seconds": _num(b, "train_seconds"),
            "target_train_cpu_seconds": _num(b, "train_cpu_seconds"),
            "cluster_seconds": _num(b, "time_cluster"), "n_samples": b["n_samples"],
            "trained_on": b["trained_on"],
            "pseudo_label_precision": _num(b, "pseudo_label_precision")}))
    if not parts:
        return pd.DataFrame(columns=["dataset", "method", "kind", "clusterer", *METRICS])
    out = pd.concat(parts, ignore_index=True)
    order = {d: i for i, d in enumerate(datasets)}
    return (out.assign(_d=out["dataset"].map(order), _k=out["kind"] != TRAINED)
            .sort_values(["_d", "_k", "ami"], ascending=[True, True, False], kind="stable")
            .drop(columns=["_d", "_k"]).reset_index(drop=True))


def published() -> pd.DataFrame:
    """The baselines' published numbers (theirs), one row per paper x dataset x metric."""
    from . import BASELINES

    rows = [{"method": name, "dataset": p.dataset, "zsc_dataset": p.zsc_dataset,
             "images": p.images, "metric": m, "value": v, "source": p.source}
            for name, spec in BASELINES.items() for p in spec.published for m, v in p.metrics.items()]
    return pd.DataFrame(rows)


def gaps(t: pd.DataFrame, metric: str = "ami") -> pd.DataFrame:
    """Per dataset: the best zero-shot encoder, each baseline, and the baseline minus the best
    encoder in `metric` (positive: training on the target helped)."""
    rows = []
    for ds, g in t.groupby("dataset", sort=False):
        z = g[g["kind"] == ZERO_SHOT].sort_values(metric, ascending=False)
        if z.empty:
            continue
        best = z.iloc[0]
        for _, r in g[g["kind"] == TRAINED].iterrows():
            rows.append({"dataset": ds, "baseline": r["method"], metric: r[metric],
                         "best_encoder": best["method"], f"best_encoder_{metric}": best[metric],
                         "difference": r[metric] - best[metric],
                         "encoders_below": int((z[metric] < r[metric]).sum()),
                         "encoders": len(z)})
    return pd.DataFrame(rows)


def scores_long(t: pd.DataFrame, datasets: Sequence[str],
                n2d_cards: dict[str, dict] | None = None) -> pd.DataFrame:
    """`table`'s scores in long form (dataset, method, kind, metric, value), with the published
    numbers (theirs) of the baselines' papers for these datasets and, where a shipped N2D card
    covers one of them, ours with the published protocol (all images)."""
    long = t.melt(id_vars=["dataset", "method", "kind"], value_vars=list(METRICS),
                  var_name="metric", value_name="value").dropna(subset=["value"])
    pub = published()
    theirs = pub[pub["zsc_dataset"].isin(datasets)]
    parts = [long, pd.DataFrame({"dataset": theirs["zsc_dataset"],
                                 "method": theirs["method"] + " (published, theirs)",
                                 "kind": "published: all images (theirs)",
                                 "metric": theirs["metric"], "value": theirs["value"]})]
    for ds, card in (n2d_cards or {}).items():
        if card and card.get("final") and ds in set(theirs["zsc_dataset"]):
            parts.append(pd.DataFrame({"dataset": ds, "method": "n2d (ours, all images)",
                                       "kind": "ours: all images (the card)",
                                       "metric": list(METRICS),
                                       "value": [card["final"][m] for m in METRICS]}))
    return pd.concat(parts, ignore_index=True)


def seed_spread(runs: pd.DataFrame) -> pd.DataFrame:
    """A baseline card's runs summarised per dataset and size: seeds, ACC mean / min / max, NMI
    and AMI means, pseudo-label precision and CPU seconds per run."""
    return (runs.groupby(["dataset", "n_samples"], sort=False)
            .agg(seeds=("seed", "count"), acc_mean=("acc", "mean"), acc_min=("acc", "min"),
                 acc_max=("acc", "max"), nmi_mean=("nmi", "mean"), ami_mean=("ami", "mean"),
                 precision=("pseudo_label_precision", "mean"),
                 cpu_s=("train_cpu_seconds", "mean")).round(3))
