"""The book's figures: seaborn drawings of `zsc.analysis` tables, one function per figure.

Each function takes DataFrames and returns a matplotlib Figure sized for the page: `WIDTH`
inches at `DPI` (about the width of a chapter's text column, so nothing is scaled down) with
fonts of at least 9 pt. Chapters call them, so a notebook cell is a call, a caption and a
sentence, not fifty lines of plotting. Where the rows hold more than one clustering seed, point
and bar plots show the spread over seeds as error bars (standard deviation); with one seed there
are none, and the caption says so (`seed_note`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .. import analysis, gallery

WIDTH = 8.0  # inches: at DPI, the text column of a chapter page at 1280 px (about 680 px)
DPI = 85
FONT = 9.5  # points: the smallest text in a figure (tick labels, annotations)
GROUP_LABEL = {"dataset_offline_group": "dataset group (relative to Fashion-MNIST)",
               "dataset_group": "dataset group (relative to ImageNet-1k)"}


def theme() -> None:
    """One look for every chapter: seaborn's whitegrid, fonts legible at the page's width."""
    sns.set_theme(context="notebook", style="whitegrid", font_scale=FONT / 11)
    mpl.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "figure.figsize": (WIDTH, 4.0),
                         "axes.titlesize": FONT + 1, "axes.titleweight": "bold",
                         "legend.frameon": False, "figure.constrained_layout.use": False})
    try:  # in a kernel: PNGs at twice the size they are shown at, sharp on a phone or HiDPI screen
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def errorbar(df: pd.DataFrame) -> tuple[str, float] | None:
    """Seaborn's `errorbar`: the standard deviation over clustering (and training) seeds, or none
    for one seed."""
    return ("sd", 1.0) if analysis.n_seeds(df) * analysis.n_training_seeds(df) > 1 else None


def seed_note(df: pd.DataFrame) -> str:
    """What a figure's error bars are, for its caption."""
    n, t = analysis.n_seeds(df), analysis.n_training_seeds(df)
    over = f"{n} clustering seed{'s' if n > 1 else ''}" + (
        f" (× {t} training seeds, for the encoders trained {t} times)"
        if t > 1 else "")
    return (f"Error bars: standard deviation over {over}." if n * t > 1
            else "One clustering seed, so no error bars.")


# Encoders are coloured by training method, the same in every chapter (families differ in line
# style or panel), so "self-supervised versus supervised" reads at a glance.
METHOD_COLORS = {"supervised": "C0", "dino": "C1", "mocov3": "C2", "vicreg": "C3", "mae": "C4",
                 "clip": "C5", "none": "C8", "random": "0.6"}
FAMILY_DASHES = ("-", "--", ":", "-.")


def encoder_colors(df: pd.DataFrame) -> dict[str, Any]:
    """Each encoder's colour: its method's (`METHOD_COLORS`; a fine-tuned encoder, `_ft_`, a
    lighter shade of it, told apart from the member it started from), else a palette colour."""
    from matplotlib.colors import to_rgb

    from ..claims import FINE_TUNED

    methods = df.groupby("encoder")["encoder_method"].first() if "encoder_method" in df else {}
    names = sorted(df["encoder"].unique())
    spare = iter(sns.color_palette("tab20b", len(names)))
    out = {}
    for e in names:
        color = METHOD_COLORS.get(str(methods.get(e, "")), None) or next(spare)
        out[e] = tuple(0.45 + 0.55 * c for c in to_rgb(color)) if FINE_TUNED in e else color
    return out


def _palette(names: Sequence[str]) -> dict[str, Any]:
    colors = sns.color_palette("tab10" if len(names) <= 10 else "tab20", len(names))
    return dict(zip(names, colors, strict=True))


def _grid(n: int, ncol: int, panel_h: float, **kw: Any) -> tuple[Figure, np.ndarray]:
    ncol = max(1, min(ncol, n))
    nrow = max(1, math.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH, panel_h * nrow), squeeze=False,
                             layout="constrained", **kw)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def _legend_below(fig: Figure, handles: list[Any], labels: list[str], ncol: int = 4,
                  title: str | None = None) -> None:
    fig.legend(handles, labels, loc="outside lower center", ncol=min(ncol, max(1, len(labels))),
               title=title, fontsize=FONT, title_fontsize=FONT)


def empty(message: str) -> Figure:
    """A small figure that says why there is nothing to draw (a chapter always shows one)."""
    fig, ax = plt.subplots(figsize=(WIDTH, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return fig


# --------------------------------------------------------------------------- chapter 1
def dataset_samples(loaded: Mapping[str, Any], n_show: int = 8, seed: int = 0) -> Figure:
    """A row of random test images per dataset, each titled with its class."""
    names = list(loaded)
    fig, axes = plt.subplots(len(names), n_show, figsize=(WIDTH, 1.3 * len(names) + 0.2),
                             squeeze=False, layout="constrained")
    for r, name in enumerate(names):
        ds = loaded[name]
        idx = np.random.default_rng(seed).choice(len(ds), min(n_show, len(ds)), replace=False)
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if c >= len(idx):
                ax.set_visible(False)
                continue
            img = np.asarray(ds.images[idx[c]])
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
            label = ds.labels[idx[c]]
            ax.set_title(str(ds.class_names[label])[:11] if ds.class_names else str(label),
                         fontsize=FONT, fontweight="normal")
        axes[r, 0].set_ylabel(name.replace("fashion_mnist_", "fashion_mnist\n"), fontsize=FONT)
    return fig


# --------------------------------------------------------------------------- chapter 2
def embedding_scatter(xy: np.ndarray, labels_true: np.ndarray, labels_pred: np.ndarray,
                      titles: tuple[str, str] = ("true label", "cluster"),
                      class_names: Sequence[str] | None = None) -> Figure:
    """A 2-D embedding twice: coloured by true label (a legend under the figure names the
    classes), then by cluster (each cluster's number at its median, as in the thumbnail map;
    noise, -1, in a grey that is no class's or cluster's colour)."""
    classes = [int(v) for v in np.unique(labels_true) if v >= 0]
    legend = bool(class_names) and len(classes) <= 20  # more would bury the panels
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.9 + 0.25 * math.ceil(len(classes) / 5) + 0.3
                                            if legend else 3.9), layout="constrained")
    panels = [np.asarray(labels_true), np.asarray(labels_pred)]
    palettes = [gallery.label_colors(lab) for lab in panels]
    for i, (ax, lab, colors, title) in enumerate(zip(axes, panels, palettes, titles, strict=True)):
        noise = lab < 0
        ax.scatter(xy[noise, 0], xy[noise, 1], s=5, color=gallery.NOISE_COLOR, linewidths=0,
                   label=f"noise ({noise.sum()})")
        ax.scatter(xy[~noise, 0], xy[~noise, 1], s=9, linewidths=0,
                   c=[colors[int(v)] for v in lab[~noise]])
        groups = np.unique(lab[~noise])
        ax.set_title(f"{title} ({len(groups)} groups)")
        ax.set_xticks([])
        ax.set_yticks([])
        if i == 1 and len(groups) <= 30:  # the clusters, numbered as in the thumbnail map
            gallery.label_medians(ax, xy[~noise], lab[~noise], fontsize=FONT)
        if noise.any():
            ax.legend(loc="lower right", fontsize=FONT, handletextpad=0.1, borderpad=0.2, markerscale=2)
    if legend:
        handles = [mpl.lines.Line2D([], [], ls="", marker="o", ms=6, color=palettes[0][v],
                                    label=str(class_names[v])) for v in classes]
        fig.legend(handles=handles, loc="outside lower center", ncol=min(5, len(handles)),
                   fontsize=FONT, title=f"{titles[0]} (left panel)", title_fontsize=FONT,
                   columnspacing=1.0, handletextpad=0.2)
    return fig


def contingency(ct: pd.DataFrame) -> Figure:
    """True labels against predicted clusters (counts), each cluster placed under the class most
    of its images come from, so a good clustering reads as a diagonal."""
    majority = ct.to_numpy().argmax(axis=0)
    order = sorted(range(ct.shape[1]), key=lambda j: (majority[j], -ct.iloc[:, j].max()))
    ct = ct.iloc[:, order]
    ncols = ct.shape[1]
    fig, ax = plt.subplots(figsize=(WIDTH, min(6.5, 1.2 + 0.32 * ct.shape[0])), layout="constrained")
    sns.heatmap(ct, ax=ax, cmap="viridis", annot=ncols <= 16, fmt="d",
                annot_kws={"size": FONT - 0.5}, cbar_kws={"label": "images", "pad": 0.01},
                xticklabels=ncols <= 40)
    ax.set_xlabel(f"predicted cluster ({ncols}), placed under its majority class")
    ax.set_ylabel("")
    return fig


# --------------------------------------------------------------------------- chapter 3 and 4
def heatmaps(df: pd.DataFrame, value: str = "ami", facet: str = "dataset", col_wrap: int = 2,
             center: float | None = None, label: str = "AMI") -> Figure:
    """One heatmap of `value` per `facet` (dataset or group): encoders × clusterers, annotated,
    mean over seeds (and over the datasets of a group); one shared colour scale."""
    title = analysis.clusterer_column(df)
    m = df.groupby([facet, "encoder", title], observed=True)[value].mean()
    order = (analysis.ordered_groups(df[facet].unique()) if "group" in facet
             else sorted(df[facet].unique()))
    encoders, clusterers = sorted(df["encoder"].unique()), sorted(df[title].unique())
    lo, hi = float(np.nanmin(m.to_numpy())), float(np.nanmax(m.to_numpy()))
    if center is not None:
        span = max(abs(lo - center), abs(hi - center), 1e-3)
        norm = mpl.colors.Normalize(center - span, center + span)
        cmap = "vlag"
    else:
        norm, cmap = mpl.colors.Normalize(min(0.0, lo), max(hi, 0.01)), "viridis"
    panel_h = 0.27 * len(encoders) + 1.1
    fig, axes = _grid(len(order), col_wrap, panel_h, sharey=True)
    for ax, key in zip(axes.flat, order, strict=False):
        t = m.loc[key].unstack(title).reindex(index=encoders, columns=clusterers)
        sns.heatmap(t, ax=ax, cmap=cmap, norm=norm, cbar=False, annot=True, fmt=".2f",
                    annot_kws={"size": FONT - 0.5}, linewidths=0.4, linecolor="white")
        ax.set_title(str(key))
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="x", labelrotation=35)
        for lab in ax.get_xticklabels():
            lab.set_horizontalalignment("right")
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes.ravel().tolist(),
                 label=label, shrink=0.6, pad=0.01)
    return fig


def rank_plot(enc_rank: pd.DataFrame, clu_rank: pd.DataFrame,
              intervals: tuple[pd.DataFrame | None, pd.DataFrame | None] = (None, None)) -> Figure:
    """Each dataset's rank (dots) and the mean rank (bar) of every encoder and clusterer;
    `intervals` (`analysis.mean_rank_interval`, low/high per name) as error bars on the bars."""
    sizes = (len(enc_rank.columns), len(clu_rank.columns))
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 0.3 * max(sizes) + 1.2), layout="constrained",
                             width_ratios=(1.25, 1))
    for ax, ranks, what, iv in zip(axes, (enc_rank, clu_rank), ("encoder", "clusterer"), intervals,
                                   strict=True):
        mean = analysis.mean_rank(ranks)
        order = list(mean.index)
        long = ranks.reset_index().melt(id_vars=ranks.index.name or "index", var_name=what,
                                        value_name="rank")
        sns.barplot(data=long, y=what, x="rank", order=order, errorbar=None, color="0.85", ax=ax)
        if iv is not None:
            lo, hi = iv["low"].reindex(order).to_numpy(), iv["high"].reindex(order).to_numpy()
            # the interval itself, [lo, hi]: it need not contain the bar's end (the mean on all images)
            ax.errorbar((lo + hi) / 2, np.arange(len(order)), xerr=(hi - lo) / 2,
                        fmt="none", ecolor="0.2", elinewidth=1.2, capsize=3, zorder=3)
        sns.stripplot(data=long, y=what, x="rank", order=order, hue=ranks.index.name or "index",
                      size=5, jitter=0.15, ax=ax, legend=what == "clusterer")
        ax.set_xlabel("rank within a dataset (1 = best)")
        ax.set_ylabel("")
        ax.set_title(f"{what}s")
        ax.set_xlim(0, max(sizes[0] if what == "encoder" else sizes[1], 1) + 0.5)
    leg = axes[1].get_legend()
    if leg is not None:
        handles, labels = axes[1].get_legend_handles_labels()
        leg.remove()
        _legend_below(fig, handles, labels, title=None)
    return fig


def delta_plot(delta: pd.DataFrame, group: str, value: str = "delta_ami") -> Figure:
    """Mean delta AMI of each encoder against its family's supervised encoder, per dataset group
    (datasets weigh the same within a group), one panel per family; error bars over seeds."""
    d = delta[delta["encoder"] != delta["reference"]]
    if d.empty:
        return empty("Every encoder here is its own supervised reference: no delta to draw.")
    per = analysis.seed_means(d, ["encoder_family", "encoder", group], value)
    families = sorted(per["encoder_family"].unique())
    groups = analysis.ordered_groups(per[group].unique())
    refs = d.groupby("encoder_family")["reference"].first()
    colors = encoder_colors(d)
    fig, axes = _grid(len(families), 2, 3.4, sharey=True)
    for ax, fam in zip(axes.flat, families, strict=False):
        sub = per[per["encoder_family"] == fam]
        encs = sorted(sub["encoder"].unique())
        sns.barplot(data=sub, x=group, y=value, hue="encoder", order=groups, hue_order=encs,
                    errorbar=errorbar(sub), palette=colors, ax=ax, capsize=0.1)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_title(f"{fam} (reference: {refs[fam]})", fontsize=FONT)
        ax.set_xlabel("")
        ax.set_ylabel("delta AMI vs supervised")
        # under its panel: inside, it covered bars (eight encoders in a family)
        ax.legend(fontsize=FONT - 0.5, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2,
                  title=None)
    return fig


def group_bars(df: pd.DataFrame, group: str, value: str = "ami") -> Figure:
    """Mean `value` per encoder and dataset group (when no delta can be computed)."""
    per = analysis.seed_means(df, ["encoder", group], value)
    encs = sorted(per["encoder"].unique())
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4), layout="constrained")
    sns.barplot(data=per, x=group, y=value, hue="encoder", hue_order=encs, palette=encoder_colors(df),
                order=analysis.ordered_groups(per[group].unique()), errorbar=errorbar(per), ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel(f"mean {value.upper()}")
    return fig


# --------------------------------------------------------------------------- chapter 5
def encoder_dashes(df: pd.DataFrame) -> dict[str, str]:
    """Each encoder's line style: one per backbone family (`FAMILY_DASHES`)."""
    fam = (df.groupby("encoder")["encoder_family"].first() if "encoder_family" in df
           else pd.Series("", index=sorted(df["encoder"].unique())))
    order = {f: FAMILY_DASHES[i % len(FAMILY_DASHES)] for i, f in enumerate(sorted(fam.unique()))}
    return {e: order[f] for e, f in fam.items()}


def level_k_plot(rows: pd.DataFrame, levels: Mapping[str, Sequence[str]], ncol: int = 3) -> Figure:
    """AMI at each taxonomy level (x, coarse to fine) of clusterings made with the number of
    clusters of each level (one line per k's level), one panel per dataset; points: each
    encoder's mean over clusterers, lines: the mean over encoders. `rows` is
    `pipeline.cluster_at_levels` output; `levels` each dataset's levels, coarse to fine."""
    datasets = sorted(rows["dataset"].unique())
    ncol = max(1, min(ncol, len(datasets)))
    nrow = math.ceil(len(datasets) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH, 2.8 * nrow + 0.9), squeeze=False,
                             layout="constrained", sharey=True)
    palette = sns.color_palette("deep")
    for i, ds in enumerate(datasets):
        ax = axes[i // ncol, i % ncol]
        names = list(levels[ds])
        sub = rows[rows["dataset"] == ds]
        per_enc = sub.groupby(["k_level", "k", "level", "encoder"], as_index=False)["ami"].mean()
        for j, kl in enumerate(names):
            part = per_enc[per_enc["k_level"] == kl]
            if part.empty:
                continue
            x = part["level"].map(names.index).to_numpy() + (j - (len(names) - 1) / 2) * 0.08
            ax.scatter(x, part["ami"], s=10, color=palette[j], alpha=0.5, linewidths=0)
            mean = part.groupby("level")["ami"].mean().reindex(names)
            ax.plot(range(len(names)), mean.to_numpy(), color=palette[j], lw=2.2, marker="s", ms=5,
                    label=f"k = {int(part['k'].iloc[0])} ({kl})")
        ax.set_xticks(range(len(names)), names)
        ax.set_xlim(-0.4, len(names) - 0.6)
        ax.set_xlabel("scored against level")
        ax.set_ylabel("AMI" if i % ncol == 0 else "")
        ax.set_title(ds, fontsize=FONT)
    for k in range(len(datasets), nrow * ncol):
        axes[k // ncol, k % ncol].set_visible(False)
    handles, labels = axes[0, 0].get_legend_handles_labels()  # the first dataset's levels
    _legend_below(fig, handles, [f"clustered with {lab}" for lab in labels], ncol=len(labels))
    return fig


def taxonomy_plot(levels: pd.DataFrame, ncol: int = 3) -> Figure:
    """AMI (top) and AMI normalised by H(Y_true) (bottom) from the coarsest to the finest level,
    one column per dataset; one line per encoder (colour: method, style: family) and the mean
    over encoders in black. `levels` is `analysis.level_table` output (with `seed` in its index
    for error bars over seeds)."""
    datasets = sorted(levels["dataset"].unique())
    ncol = max(1, min(ncol, len(datasets)))
    blocks = math.ceil(len(datasets) / ncol)
    fig, axes = plt.subplots(2 * blocks, ncol, figsize=(WIDTH, 2.6 * 2 * blocks + 1.2),
                             squeeze=False, layout="constrained", sharey="row")
    encs = sorted(levels["encoder"].unique())
    colors, dashes = encoder_colors(levels), encoder_dashes(levels)
    metrics = (("ami", "AMI"), ("ami_true", "AMI / H(Y_true)"))
    for i, ds in enumerate(datasets):
        sub = levels[levels["dataset"] == ds]
        names = list(sub.sort_values("depth")["level"].unique())
        for j, (col, label) in enumerate(metrics):
            ax = axes[2 * (i // ncol) + j, i % ncol]
            for e in encs:
                sns.lineplot(data=sub[sub["encoder"] == e], x="depth", y=col, color=colors[e],
                             linestyle=dashes[e], marker="o", markersize=4, lw=1.2,
                             errorbar=errorbar(sub), err_style="bars", err_kws={"capsize": 2},
                             ax=ax)
            mean = sub.groupby("depth")[col].mean()
            ax.plot(mean.index, mean.to_numpy(), color="k", lw=2.8, marker="s", ms=6)
            ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 3 else 0)
            ax.set_xlim(-0.25, len(names) - 0.75)
            ax.set_xlabel("coarse → fine" if j == 1 else "")
            ax.set_ylabel(label if i % ncol == 0 else "")
            if j == 0:
                ax.set_title(ds, fontsize=FONT)
    for k in range(len(datasets), blocks * ncol):
        axes[2 * (k // ncol), k % ncol].set_visible(False)
        axes[2 * (k // ncol) + 1, k % ncol].set_visible(False)
    handles = [mpl.lines.Line2D([], [], color=colors[e], ls=dashes[e], marker="o", lw=1.2)
               for e in encs]
    handles.append(mpl.lines.Line2D([], [], color="k", marker="s", lw=2.8))
    _legend_below(fig, handles, [*encs, "mean over encoders"], ncol=3)
    return fig


# --------------------------------------------------------------------------- chapters 6 and 7
def correlation_scatter(df: pd.DataFrame, x: str, y: str, facet: str,
                        labels: Mapping[str, str], hue: str | None = None, col_wrap: int = 3,
                        xlabel: str | None = None, ylabel: str | None = None) -> Figure:
    """One regression scatter per `facet` value, titled with its correlation label
    (`analysis.corr_label`); points coloured by `hue`. The line is a least-squares fit with its
    bootstrapped 95 % band (fixed seed), a guide to the eye for the rank correlation."""
    keys = sorted(df[facet].unique())
    hue_names = sorted(df[hue].dropna().unique()) if hue else []
    pal = _palette(hue_names) if hue else None
    fig, axes = _grid(len(keys), col_wrap, 2.9, sharex=True, sharey=True)
    for ax, key in zip(axes.flat, keys, strict=False):
        sub = df[df[facet] == key]
        if len(sub) >= 3 and sub[x].nunique() > 1:
            sns.regplot(data=sub, x=x, y=y, scatter=False, ax=ax, seed=0, n_boot=500,
                        color="0.3", line_kws={"lw": 1.2})
        sns.scatterplot(data=sub, x=x, y=y, hue=hue, hue_order=hue_names or None, palette=pal,
                        s=22, ax=ax, legend=False)
        ax.set_title(f"{key}\n{labels.get(key, '')}", fontsize=FONT)
        ax.set_xlabel(xlabel or x)
        ax.set_ylabel(ylabel or y)
    if hue:
        handles = [mpl.lines.Line2D([], [], color=pal[h], marker="o", ls="") for h in hue_names]
        _legend_below(fig, handles, hue_names, ncol=4)
    return fig


def correlation_forest(corr: pd.DataFrame, y: str, hue: str, value: str = "spearman",
                       low: str = "ci_low", high: str = "ci_high",
                       xlabel: str = "Spearman ρ (95 % interval)",
                       band: tuple[float, float, str] | None = None) -> Figure:
    """Each correlation as a point with its 95 % interval, one row per `y`, dodged by `hue`;
    a correlation of fewer than `analysis.MIN_PAIRS` pairs is named in the title, not drawn.
    `band` (low, high, label) shades a reference range, e.g. the paper's."""
    ys = sorted(corr[y].unique())
    enough = corr[(corr["n"] >= analysis.MIN_PAIRS) & np.isfinite(corr[value].astype(float))]
    hues = sorted(enough[hue].unique())
    pal = _palette(sorted(corr[hue].unique()))
    fig, ax = plt.subplots(figsize=(WIDTH, 0.28 * len(ys) * max(1, len(hues)) + 1.5),
                           layout="constrained")
    if band is not None:
        ax.axvspan(band[0], band[1], color="0.85", zorder=0, label=band[2])
    step = 0.8 / max(1, len(hues))
    for i, yv in enumerate(ys):
        for j, hv in enumerate(hues):
            r = enough[(enough[y] == yv) & (enough[hue] == hv)]
            if r.empty:
                continue
            r = r.iloc[0]
            pos = i - 0.4 + step * (j + 0.5)
            ax.errorbar(r[value], pos, xerr=[[r[value] - r[low]], [r[high] - r[value]]],
                        fmt="o", color=pal[hv], capsize=3, ms=6)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(ys)), ys)
    ax.set_ylim(len(ys) - 0.5, -0.5)
    lows = [*enough[low].dropna(), *([band[0]] if band else [])]
    ax.set_xlim(max(-1.05, min([0.0, *lows]) - 0.1), 1.05)  # 0 always in view
    ax.set_xlabel(xlabel)
    handles = [mpl.lines.Line2D([], [], color=pal[h], marker="o", ls="") for h in hues]
    labels = [str(h) for h in hues]
    if band is not None:
        handles.append(mpl.patches.Patch(color="0.85"))
        labels.append(band[2])
    _legend_below(fig, handles, labels, ncol=5)
    few = corr[~corr.index.isin(enough.index)].groupby(hue)["n"].max()
    if len(few):
        ax.set_title("not drawn, too few pairs: " + ", ".join(f"{h} (n={n})" for h, n in few.items()),
                     fontsize=FONT, fontweight="normal", loc="left")
    return fig


def cut_choice(picks: pd.DataFrame, sweep: pd.DataFrame, show: tuple[str, str]) -> Figure:
    """Left: AMI of the silhouette-chosen cut against the best cut's, per encoder × dataset.
    Right: silhouette and AMI of every candidate cut of one tree."""
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.8), layout="constrained")
    ax = axes[0]
    names = sorted(picks["dataset"].unique())
    sns.scatterplot(data=picks, x="ami_best", y="ami_silhouette", hue="dataset", hue_order=names,
                    palette=_palette(names), s=28, ax=ax)
    top = max(1e-3, float(picks[["ami_best", "ami_silhouette"]].max().max()) * 1.05)
    ax.plot([0, top], [0, top], color="grey", lw=1, ls="--")
    ax.set_xlabel("AMI of the AMI-best cut")
    ax.set_ylabel("AMI of the silhouette's cut")
    ax.legend(fontsize=FONT - 0.5, title=None)
    ax = axes[1]
    ax.plot(sweep["n_clusters"], sweep["silhouette"], marker="o", ms=3,
            label="silhouette (UMAP space)")
    ax.plot(sweep["n_clusters"], sweep["ami"], marker="s", ms=3, label="AMI (not used to choose)")
    ax.axvline(sweep.loc[sweep["silhouette"].idxmax(), "n_clusters"], color="C0", ls=":", lw=1.2)
    ax.set_xscale("log")
    ax.set_xlabel("number of clusters of the cut")
    ax.set_title(f"{show[0]} on {show[1]}", fontsize=FONT)
    ax.legend(fontsize=FONT - 0.5)
    return fig


def reducer_heatmaps(table: pd.DataFrame, paper_share: pd.DataFrame, n_paper_encoders: int
                     ) -> Figure:
    """Chapter 8: this build's mean AMI per clusterer × reduction beside the paper's choice of
    reduction (the share of its encoders whose final setting uses each)."""
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.4), sharey=True)
    kw = {"annot": True, "vmin": 0, "vmax": 1, "cbar": False, "linewidths": 0.5,
          "annot_kws": {"size": FONT + 0.5}}
    sns.heatmap(table, fmt=".2f", cmap="viridis", ax=axes[0], **kw)
    axes[0].set(title="This build: mean AMI", xlabel="reduction", ylabel="")
    sns.heatmap(paper_share, fmt=".0%", cmap="Greys", ax=axes[1], **kw)
    axes[1].set(title=f"The paper's final settings:\nshare of its {n_paper_encoders} encoders",
                xlabel="reduction", ylabel="")
    fig.tight_layout()
    return fig


def reducer_lines(per_enc: pd.DataFrame, order: Sequence[str], col_wrap: int = 3) -> Figure:
    """Chapter 8: AMI per reduction, one panel per encoder, one line per clusterer."""
    g = sns.catplot(data=per_enc, x="sweep_reducer", y="ami", hue="clusterer_title", col="encoder",
                    kind="point", order=list(order), height=2.9, aspect=0.75, markersize=5,
                    linewidth=1.2, col_wrap=col_wrap)
    g.set_axis_labels("reduction", "AMI (mean over datasets)")
    g.tick_params(axis="x", labelrotation=30)
    g.set_titles("{col_name}")
    g.legend.set_title("clusterer")
    g.figure.set_size_inches(WIDTH, 3.2 * math.ceil(per_enc["encoder"].nunique() / col_wrap))
    return g.figure


def baseline_bars(long: pd.DataFrame, metrics: Sequence[str]) -> Figure:
    """Chapter 9: AMI, NMI and ACC of every method on each dataset, coloured by kind (zero-shot,
    trained on the target, published numbers: theirs)."""
    n_methods, n_datasets = long["method"].nunique(), long["dataset"].nunique()
    g = sns.catplot(data=long, y="method", x="value", hue="kind", col="metric", row="dataset",
                    kind="bar", dodge=False, sharey=False, height=2.4 + 0.16 * n_methods,
                    aspect=0.9, palette="Set2", col_order=list(metrics))
    g.set_titles("{row_name} · {col_name}")
    g.set(xlim=(0, 1), ylabel="")
    sns.move_legend(g, "lower center", bbox_to_anchor=(0.45, 0), ncol=2, title=None, frameon=False)
    g.figure.set_size_inches(WIDTH, 0.5 + (1.2 + 0.2 * n_methods) * n_datasets)
    g.figure.tight_layout(rect=(0, 0.08, 1, 1))
    return g.figure


def zoo_curves(cards: Sequence[Mapping[str, Any]]) -> Figure:
    """The zoo's learning curves: held-out kNN@20 against images seen, one panel per backbone
    family, one line per trained member (colour: method), the shipped point ringed and each
    member's test-split kNN@20 as a dash at the right. A fine-tuned member (`fine_tuned_from`)
    is dashed and continues its member's curve from the shipped point it started from; a
    training-seed replicate (a seed other than 0) is a thin line without markers."""
    trained = [c for c in cards if c.get("curve")]
    by_name = {c["name"]: c for c in trained}
    families = sorted({c["family"] for c in trained})
    fig, axes = plt.subplots(1, len(families), figsize=(WIDTH, 3.4), sharey=True, squeeze=False,
                             layout="constrained")
    methods = sorted({c["method"] for c in trained})
    colors = dict(zip(methods, sns.color_palette("deep", len(methods)), strict=True))
    for ax, fam in zip(axes[0], families, strict=True):
        for c in (c for c in trained if c["family"] == fam):
            pts = pd.DataFrame(c["curve"])
            col = colors[c["method"]]
            base = by_name.get(str(c.get("fine_tuned_from")))
            start = ((base or {}).get("exported_point") or {}).get("images_seen", 0)
            pts["images_seen"] += start
            replicate = bool(c.get("seed"))
            ax.plot(pts["images_seen"] / 1e3, pts["knn_k20"], marker=None if replicate else "o", ms=3,
                    lw=0.8 if replicate else 1.5, alpha=0.7 if replicate else 1.0, color=col,
                    ls="--" if c.get("fine_tuned_from") else "-", label=c["method"])
            best = (c.get("exported_point") or {}).get("images_seen")
            if best is not None and not replicate:
                best += start
                at = pts.loc[(pts["images_seen"] - best).abs().idxmin()]
                ax.scatter(at["images_seen"] / 1e3, at["knn_k20"], s=70, facecolors="none",
                           edgecolors=col, linewidths=1.5)
            if c.get("knn_accuracy_k20") is not None:
                ax.scatter(pts["images_seen"].max() / 1e3, c["knn_accuracy_k20"], marker="_", s=200,
                           color=col, linewidths=2)
        ax.set_title(fam, fontsize=FONT)
        ax.set_xlabel("images seen (thousands)")
    axes[0, 0].set_ylabel("held-out kNN@20")
    handles = [mpl.lines.Line2D([], [], color=colors[m], marker="o", ms=3) for m in methods]
    labels = list(methods)
    if any(c.get("fine_tuned_from") for c in trained):
        handles.append(mpl.lines.Line2D([], [], color="0.3", ls="--"))
        labels.append("fine-tuned with labels")
    if any(c.get("seed") for c in trained):
        handles.append(mpl.lines.Line2D([], [], color="0.3", lw=0.8, alpha=0.7))
        labels.append("other training seeds")
    _legend_below(fig, handles, labels, ncol=min(len(labels), 4))  # 2 rows: fits the page
    return fig


def learning_curve(card: Mapping[str, Any], metrics: Sequence[str] = ("acc", "nmi")) -> Figure:
    """Chapter 9: N2D's scores against its pretraining epochs (log scale), from its card, with the
    final encoder's other seeds (crosses) and the published numbers (dashed: theirs)."""
    curve = pd.DataFrame(card["curve"]).melt(id_vars=["epoch"], value_vars=list(metrics),
                                             var_name="metric", value_name="value")
    fig, ax = plt.subplots(figsize=(WIDTH, 3.2))
    sns.lineplot(data=curve, x="epoch", y="value", hue="metric", marker="o", ax=ax)
    others = card.get("final_other_seeds") or []
    for m, c in zip(metrics, sns.color_palette()[:len(metrics)], strict=True):
        ax.axhline(card["published"][m], color=c, ls="--", lw=1)
        ax.scatter([card["epochs"]] * len(others), [p[m] for p in others], color=c, marker="x")
    ax.set_xscale("log")
    ax.set_ylabel(f"score on all {card['training']['n_train']:,} images")
    return fig
