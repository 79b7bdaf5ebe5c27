"""zsc.report.figures on small made-up results: each figure draws what it should, at the page's
width with legible fonts, and shows error bars over seeds exactly when there is more than one."""

from __future__ import annotations

import itertools

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure

from zsc import analysis
from zsc.report import figures

ENCODERS = {"zoo_supervised_resnet": ("ResNet-small", "supervised"),
            "zoo_dino_resnet": ("ResNet-small", "dino"), "zoo_mocov3_resnet": ("ResNet-small", "mocov3"),
            "pixels": ("none", "none")}
DATASETS = {"a": "In-domain", "b": "Far-OOD", "c": "Far-OOD"}
CLUSTERERS = {"kmeans": "K-Means", "hdbscan": "HDBSCAN"}


def results(seeds=(0,)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for (enc, (fam, meth)), ds, (clu, title), seed in itertools.product(
            ENCODERS.items(), DATASETS, CLUSTERERS.items(), seeds):
        ami = float(rng.uniform(0.1, 0.9))
        rows.append({"encoder": enc, "dataset": ds, "clusterer": clu, "clusterer_title": title,
                     "seed": seed, "ami": ami, "encoder_family": fam, "encoder_method": meth,
                     "dataset_offline_group": DATASETS[ds], "n_samples": 100,
                     "silhouette_umap": ami + float(rng.normal(0, 0.1)),
                     "ami_level_coarse": ami * 0.8 if ds != "c" else np.nan,
                     "ami_level_fine": ami if ds != "c" else np.nan,
                     "ami_true_level_coarse": min(1.0, ami * 1.3) if ds != "c" else np.nan,
                     "ami_true_level_fine": ami if ds != "c" else np.nan})
    return pd.DataFrame(rows)


@pytest.fixture(autouse=True)
def _theme():
    figures.theme()
    yield
    plt.close("all")


def legible(fig: Figure) -> None:
    """At most the page's width, and no text smaller than 9 pt."""
    w, _ = fig.get_size_inches()
    assert w <= 9.0
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip()]
    assert sizes and min(sizes) >= 9, min(sizes)


def test_heatmaps_one_panel_per_dataset_every_cell_annotated():
    fig = figures.heatmaps(results(), facet="dataset")
    legible(fig)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title() in DATASETS]
    assert sorted(ax.get_title() for ax in panels) == sorted(DATASETS)
    for ax in panels:
        numbers = [t for t in ax.texts if t.get_text().replace(".", "").replace("-", "").isdigit()]
        assert len(numbers) == len(ENCODERS) * len(CLUSTERERS)


def test_heatmaps_by_group_average_the_groups_datasets():
    res = results()
    fig = figures.heatmaps(res, facet="dataset_offline_group")
    far = next(ax for ax in fig.axes if ax.get_title() == "Far-OOD")
    want = res[(res.dataset_offline_group == "Far-OOD") & (res.encoder == "zoo_dino_resnet")
               & (res.clusterer_title == "HDBSCAN")]["ami"].mean()
    assert f"{want:.2f}" in [t.get_text() for t in far.texts]


def _errorbar_lines(ax) -> int:
    """Error bars of a seaborn barplot are lines spanning a range of y (the zero line does not)."""
    return sum(1 for ln in ax.lines if np.nanmax(ln.get_ydata()) > np.nanmin(ln.get_ydata()))


@pytest.mark.parametrize("seeds, bars", [((0,), False), ((0, 1, 2), True)])
def test_delta_plot_error_bars_only_with_several_seeds(seeds, bars):
    res = results(seeds)
    delta = analysis.delta_ami(res)
    fig = figures.delta_plot(delta, "dataset_offline_group")
    legible(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "ResNet-small (reference: zoo_supervised_resnet)"
    assert len(ax.patches) >= 2 * 2  # two non-reference encoders x two groups
    assert (_errorbar_lines(ax) > 0) is bars
    assert ("standard deviation over 3" in figures.seed_note(res)) is bars


@pytest.mark.parametrize("seeds, bars", [((0,), False), ((0, 1), True)])
def test_taxonomy_plot_per_dataset_coarse_to_fine(seeds, bars):
    lv = analysis.level_table(results(seeds),
                              index=["dataset", "encoder", "encoder_family", "encoder_method", "seed"])
    fig = figures.taxonomy_plot(lv)
    legible(fig)
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.get_xticklabels()]
    assert sorted({ax.get_title() for ax in shown} - {""}) == ["a", "b"]  # c has no levels
    assert [t.get_text() for t in shown[0].get_xticklabels()] == ["coarse", "fine"]
    has_bars = any(isinstance(c, LineCollection) for ax in shown for c in ax.collections)
    assert has_bars is bars


def test_correlation_forest_writes_out_too_few_pairs():
    corr = pd.DataFrame({"clusterer_title": ["K-Means", "K-Means", "HDBSCAN", "HDBSCAN"],
                         "family": ["F", "G", "F", "G"], "spearman": [0.5, 0.9, 0.2, 1.0],
                         "n": [20, 4, 20, 4], "ci_low": [0.1, np.nan, -0.2, np.nan],
                         "ci_high": [0.8, np.nan, 0.6, np.nan]})
    fig = figures.correlation_forest(corr, "clusterer_title", "family", band=(0.3, 0.5, "paper"))
    legible(fig)
    ax = fig.axes[0]
    drawn = [ln for ln in ax.lines if ln.get_marker() == "o"]
    assert sorted(float(ln.get_xdata()[0]) for ln in drawn) == [0.2, 0.5]  # G (n=4) not drawn
    assert "G (n=4)" in ax.get_title(loc="left")


def test_correlation_scatter_titles_carry_the_label():
    res = results()
    labels = {"K-Means": analysis.corr_label(0.5, 12, 0.1, 0.8), "HDBSCAN": "too few pairs (n=4)"}
    fig = figures.correlation_scatter(res, "silhouette_umap", "ami", "clusterer_title", labels,
                                      hue="dataset")
    legible(fig)
    titles = {ax.get_title() for ax in fig.axes if ax.get_visible()}
    assert "K-Means\nρ = 0.50 [0.10, 0.80], n = 12" in titles
    assert "HDBSCAN\ntoo few pairs (n=4)" in titles


def test_rank_plot_and_empty():
    res = results()
    fig = figures.rank_plot(analysis.rank_per_dataset(res, by="encoder"),
                            analysis.rank_per_dataset(res, by="clusterer"))
    legible(fig)
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == list(
        analysis.mean_rank(analysis.rank_per_dataset(res, by="clusterer")).index)
    assert isinstance(figures.empty("nothing"), Figure)


def test_rank_whiskers_are_the_interval_itself():
    """A whisker spans the image resamples' interval [low, high], also where it does not contain
    the mean rank on all images (the bar's end)."""
    res = results()
    enc, clu = analysis.rank_per_dataset(res, by="encoder"), analysis.rank_per_dataset(res, by="clusterer")
    mean = analysis.mean_rank(clu)
    iv = pd.DataFrame({"low": mean + 0.5, "high": mean + 1.0})  # wholly above the mean
    fig = figures.rank_plot(enc, clu, (None, iv))
    (bars,) = [c for c in fig.axes[1].collections if isinstance(c, LineCollection)]
    spans = sorted((min(x for x, _ in seg), max(x for x, _ in seg)) for seg in bars.get_segments())
    assert np.allclose(spans, sorted(zip(iv["low"], iv["high"], strict=True)))
    assert not [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]  # no interval: none


def test_reducer_figures_annotate_every_cell_and_panel():
    """Chapter 8's figures: both heatmaps annotate every cell; one panel per encoder."""
    table = pd.DataFrame([[0.7, 0.6], [0.5, 0.8]], index=["K-Means", "HDBSCAN"], columns=["none", "umap"])
    share = pd.DataFrame([[0.0, 1.0], [0.25, 0.75]], index=table.index, columns=table.columns)
    fig = figures.reducer_heatmaps(table, share, 14)
    left, right = fig.axes[:2]
    assert [t.get_text() for t in left.texts] == ["0.70", "0.60", "0.50", "0.80"]
    assert [t.get_text() for t in right.texts] == ["0%", "100%", "25%", "75%"]
    assert "14 encoders" in right.get_title()
    per_enc = pd.DataFrame([{"encoder": e, "clusterer_title": c, "sweep_reducer": r, "ami": 0.5}
                            for e in ("a", "b", "c", "d") for c in ("K-Means", "HDBSCAN")
                            for r in ("none", "umap")])
    fig = figures.reducer_lines(per_enc, ["none", "umap"])
    assert sorted(ax.get_title() for ax in fig.axes if ax.get_title()) == ["a", "b", "c", "d"]
    assert fig.get_size_inches()[1] == pytest.approx(6.4)  # two rows of panels


def test_learning_curve_marks_theirs_and_the_other_seeds():
    card = {"curve": [{"epoch": e, "acc": 0.5 + e / 1000, "nmi": 0.6} for e in (1, 10, 100)],
            "final_other_seeds": [{"acc": 0.55, "nmi": 0.61}, {"acc": 0.56, "nmi": 0.62}],
            "published": {"acc": 0.672, "nmi": 0.684}, "epochs": 100,
            "training": {"n_train": 70000}}
    ax = figures.learning_curve(card).axes[0]
    dashed = [ln.get_ydata()[0] for ln in ax.lines if ln.get_linestyle() == "--"]
    assert sorted(dashed) == [0.672, 0.684]
    crosses = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in crosses) == 4  # 2 seeds x 2 metrics
    assert ax.get_xscale() == "log" and "70,000" in ax.get_ylabel()


def test_embedding_scatter_names_the_classes_and_noise_has_a_colour_of_its_own():
    """Fig 2.1: a legend names every class; no class or cluster is drawn in the noise grey, and a
    cluster has the colour the thumbnail map gives it."""
    from matplotlib.colors import to_rgba

    from zsc import gallery

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 20)
    pred = y.copy()
    pred[::7] = -1
    names = [f"class {i}" for i in range(10)]
    fig = figures.embedding_scatter(rng.normal(size=(200, 2)), y, pred, ("true", "cluster"), names)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == names
    noise = to_rgba(gallery.NOISE_COLOR)
    colours = gallery.label_colors(np.arange(40))
    assert noise not in {to_rgba(c) for v, c in colours.items() if v >= 0}
    assert len({to_rgba(c) for v, c in colours.items() if v >= 0}) == 29  # tab10 less grey, tab20b
    left, right = fig.axes
    assert right.get_legend().get_texts()[0].get_text() == f"noise ({(pred < 0).sum()})"
    drawn = right.collections[1].get_facecolors()  # the clustered points, in label order
    expected = gallery.label_colors(pred)
    assert np.allclose(drawn, [to_rgba(expected[v]) for v in pred[pred >= 0]])
    # 40 classes: no legend (it would bury the panels)
    y40 = np.arange(200) % 40
    fig = figures.embedding_scatter(rng.normal(size=(200, 2)), y40, y40, class_names=[str(i) for i in range(40)])
    assert not fig.legends
    plt.close("all")
