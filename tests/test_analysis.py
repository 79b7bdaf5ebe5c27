"""zsc.analysis on small hand-made results tables (every expected value worked out by hand)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from zsc import analysis


def _row(encoder, dataset, clusterer, ami, family="ResNet-small", method="dino", group="In-domain",
         **extra):
    return {"encoder": encoder, "dataset": dataset, "clusterer": clusterer,
            "clusterer_title": {"kmeans": "K-Means", "hdbscan": "HDBSCAN"}[clusterer],
            "ami": ami, "encoder_family": family, "encoder_method": method,
            "dataset_offline_group": group, "n_samples": 100, "seed": 0, **extra}


@pytest.fixture
def results():
    rows = []
    # zoo_supervised_resnet (reference) and zoo_dino_resnet, on two datasets, two clusterers
    ami = {("zoo_supervised_resnet", "a"): (0.8, 0.6), ("zoo_supervised_resnet", "b"): (0.2, 0.4),
           ("zoo_dino_resnet", "a"): (0.7, 0.5), ("zoo_dino_resnet", "b"): (0.5, 0.5),
           ("pixels", "a"): (0.1, 0.3), ("pixels", "b"): (0.1, 0.1)}
    fam = {"zoo_supervised_resnet": ("ResNet-small", "supervised"),
           "zoo_dino_resnet": ("ResNet-small", "dino"), "pixels": ("none", "none")}
    for (enc, ds), (km, hd) in ami.items():
        f, m = fam[enc]
        g = "In-domain" if ds == "a" else "Far-OOD"
        rows.append(_row(enc, ds, "kmeans", km, f, m, g))
        rows.append(_row(enc, ds, "hdbscan", hd, f, m, g))
    return pd.DataFrame(rows)


def test_ami_table_means_over_datasets(results):
    t = analysis.ami_table(results)
    assert t.loc["zoo_dino_resnet", "K-Means"] == pytest.approx(0.6)   # (0.7 + 0.5) / 2
    assert t.loc["zoo_supervised_resnet", "HDBSCAN"] == pytest.approx(0.5)  # (0.6 + 0.4) / 2
    assert set(t.columns) == {"K-Means", "HDBSCAN"}


def test_rank_per_dataset_encoders_and_clusterers(results):
    r = analysis.rank_per_dataset(results, by="encoder")
    # dataset a: sup 0.7, dino 0.6, pixels 0.2; dataset b: dino 0.5, sup 0.3, pixels 0.1
    assert r.loc["a"].to_dict() == {"pixels": 3.0, "zoo_dino_resnet": 2.0, "zoo_supervised_resnet": 1.0}
    assert r.loc["b"].to_dict() == {"pixels": 3.0, "zoo_dino_resnet": 1.0, "zoo_supervised_resnet": 2.0}
    mr = analysis.mean_rank(r)
    assert mr["zoo_dino_resnet"] == 1.5 and mr["zoo_supervised_resnet"] == 1.5 and mr.index[-1] == "pixels"
    c = analysis.rank_per_dataset(results, by="clusterer")
    # a: K-Means mean 0.533, HDBSCAN 0.467 -> 1, 2; b: K-Means 0.267, HDBSCAN 0.333 -> 2, 1
    assert c.loc["a", "K-Means"] == 1 and c.loc["a", "HDBSCAN"] == 2
    assert c.loc["b", "K-Means"] == 2 and c.loc["b", "HDBSCAN"] == 1


def test_rank_ties_share_average_rank():
    df = pd.DataFrame([_row("x", "d", "kmeans", 0.5), _row("y", "d", "kmeans", 0.5),
                       _row("z", "d", "kmeans", 0.1)])
    r = analysis.rank_per_dataset(df, by="encoder")
    assert r.loc["d"].tolist() == [1.5, 1.5, 3.0]


def test_reference_encoder():
    assert analysis.reference_encoder("zoo_dino_vit", "ViT-small", "dino") == "zoo_supervised_vit"
    assert analysis.reference_encoder("zoo_mae_vit", "ViT-small", "mae") == "zoo_supervised_vit"
    assert analysis.reference_encoder("dino_resnet50", "ResNet-50", "dino") == "supervised_resnet50"
    assert analysis.reference_encoder("efficientnet_lite0", "EfficientNet", "supervised") == "efficientnet_lite0"
    assert analysis.reference_encoder("pixels", "none", "none") is None


def test_delta_ami(results):
    d = analysis.delta_ami(results).set_index(["encoder", "dataset", "clusterer"])
    assert d.loc[("zoo_dino_resnet", "a", "kmeans"), "delta_ami"] == pytest.approx(-0.1)
    assert d.loc[("zoo_dino_resnet", "b", "kmeans"), "delta_ami"] == pytest.approx(0.3)
    assert d.loc[("zoo_dino_resnet", "b", "hdbscan"), "delta_ami"] == pytest.approx(0.1)
    assert d.loc[("zoo_supervised_resnet", "a", "hdbscan"), "delta_ami"] == 0
    assert "pixels" not in d.index.get_level_values("encoder")  # no reference: dropped
    assert len(d) == 8


def test_delta_ami_missing_reference_gives_empty():
    df = pd.DataFrame([_row("zoo_dino_resnet", "a", "kmeans", 0.5)])
    assert analysis.delta_ami(df).empty


def test_group_summary_weights_datasets_equally():
    df = pd.DataFrame([
        _row("e", "a", "kmeans", 0.2, group="G"), _row("e", "a", "hdbscan", 0.4, group="G"),
        _row("e", "b", "kmeans", 0.9, group="G"),  # one clusterer only on b
        _row("e", "c", "kmeans", 0.5, group="H"),
    ])
    s = analysis.group_summary(df)
    assert s.loc["e", "G"] == pytest.approx((0.3 + 0.9) / 2)
    assert s.loc["e", "H"] == pytest.approx(0.5)


def _knn(rows):
    return pd.DataFrame([{"encoder": e, "dataset": d, "encoder_family": f, "knn_acc_k1": a1,
                          "knn_acc_k10": a10} for e, d, f, a1, a10 in rows])


def test_spearman_ami_knn_per_family_clusterer_k():
    amis = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    res = pd.DataFrame([_row(f"e{i}", "d", "kmeans", ami, family="F") for i, ami in enumerate(amis)])
    knn = _knn([(f"e{i}", "d", "F", acc, 1 - acc) for i, acc in enumerate(amis)])
    c = analysis.spearman_ami_knn(res, knn).set_index("k")
    assert c.loc[1, "spearman"] == pytest.approx(1.0)    # same order
    assert c.loc[10, "spearman"] == pytest.approx(-1.0)  # reversed order
    assert (c["n"] == 8).all()
    assert c.loc[1, "ci_high"] == pytest.approx(1.0) and c.loc[10, "ci_low"] == pytest.approx(-1.0)
    t = analysis.spearman_table(analysis.spearman_ami_knn(res, knn))
    assert t.loc[("F", "K-Means"), "k=1"] == 100 and t.loc[("F", "K-Means"), "k=10"] == -100


def test_spearman_with_fewer_than_8_pairs_is_not_a_number_in_print():
    """4 pairs give rho = 1 by chance one time in 24: computed, but never printed as a value."""
    res = pd.DataFrame([_row(f"e{i}", "d", "kmeans", a, family="F") for i, a in enumerate([0.1, 0.2, 0.3, 0.4])])
    knn = _knn([(f"e{i}", "d", "F", acc, 1 - acc) for i, acc in enumerate([0.5, 0.6, 0.7, 0.9])])
    c = analysis.spearman_ami_knn(res, knn).set_index("k")
    assert c.loc[1, "spearman"] == pytest.approx(1.0) and c.loc[1, "n"] == 4
    assert math.isnan(c.loc[1, "ci_low"]) and math.isnan(c.loc[1, "ci_high"])
    assert analysis.corr_label(c.loc[1, "spearman"], 4) == "too few pairs (n=4)"
    assert math.isnan(analysis.spearman_table(c.reset_index()).loc[("F", "K-Means"), "k=1"])


def test_fisher_interval_matches_the_formula_by_hand():
    # Pearson r = 0.5, n = 28: z = atanh(0.5) = 0.549306, se = 1/sqrt(25) = 0.2,
    # z -/+ 1.959964 * 0.2 = 0.157313, 0.941299; tanh of those = 0.156028, 0.735818.
    lo, hi = analysis.fisher_interval(0.5, 28, "pearson")
    assert lo == pytest.approx(0.156028, abs=1e-6) and hi == pytest.approx(0.735818, abs=1e-6)
    # Spearman rho = 0 (Bonett-Wright se = sqrt(1/25)): symmetric, tanh(0.391993) = 0.373077.
    lo, hi = analysis.fisher_interval(0.0, 28, "spearman")
    assert hi == pytest.approx(0.373077, abs=1e-6) and lo == pytest.approx(-hi)
    # Spearman rho = 0.5, n = 28: se = sqrt(1.125 / 25) = 0.212132 -> wider than Pearson's.
    lo_s, hi_s = analysis.fisher_interval(0.5, 28, "spearman")
    assert lo_s == pytest.approx(math.tanh(math.atanh(0.5) - 1.959964 * 0.212132), abs=1e-5)
    assert lo_s < 0.156028 and hi_s > 0.735818
    # Kendall tau = 0, n = 28: se = sqrt(0.437 / 24) = 0.134938; tanh(1.959964 * 0.134938) = 0.258476
    assert analysis.fisher_interval(0.0, 28, "kendall")[1] == pytest.approx(
        math.tanh(1.959964 * math.sqrt(0.437 / 24)), abs=1e-6)
    assert all(math.isnan(v) for v in analysis.fisher_interval(0.5, 7))  # below MIN_PAIRS
    assert all(not math.isnan(v) for v in analysis.fisher_interval(0.5, 8))


def test_corr_label():
    assert analysis.corr_label(0.4567, 20, 0.0123, 0.7456) == "ρ = 0.46 [0.01, 0.75], n = 20"
    assert analysis.corr_label(0.9, 7, 0.1, 0.99) == "too few pairs (n=7)"
    assert "undefined" in analysis.corr_label(float("nan"), 12)
    assert analysis.corr_label(0.3, 9, symbol="τ").startswith("τ = 0.30")


def test_build_summary_prints_every_correlation_with_interval_and_n():
    """The introduction's table: a value with its interval and n where 8 pairs stand behind it,
    "too few pairs" where fewer do, never a bare median."""
    from zsc.report.prose import correlation_summary

    amis = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    rows = [{**_row(f"e{i}", "d", "kmeans", a, family="F"), "silhouette_umap": a / 2,
             "silhouette_original": 1 - a} for i, a in enumerate(amis)]
    rows += [{**_row(f"e{i}", "d", "hdbscan", a, family="F"), "silhouette_umap": a,
              "silhouette_original": a} for i, a in enumerate(amis[:4])]
    knn = _knn([(f"e{i}", "d", "F", a, 1 - a) for i, a in enumerate(amis)])
    table = correlation_summary(pd.DataFrame(rows), knn, k=10)
    by_row = {ln.split(" | ")[0].strip("| "): ln for ln in table if ln.startswith("| ")}
    assert "AMI vs kNN@10 accuracy" in by_row["clusterer"]
    km = by_row["K-Means"]
    assert "ρ = 1.00 [" in km and "ρ = -1.00 [" in km and km.count("n = 8") == 3
    assert by_row["HDBSCAN"].count("too few pairs (n=4)") == 3
    assert "median" not in "\n".join(table).lower()


def test_corr_labels_label_every_row_with_its_own_interval_columns():
    c = pd.DataFrame({"spearman": [0.4567, 0.9], "kendall": [0.3, 0.8], "n": [20, 7],
                      "ci_low": [0.0123, 0.1], "ci_high": [0.7456, 0.99],
                      "kendall_ci_low": [0.01, 0.2], "kendall_ci_high": [0.55, 0.9]}, index=["a", "b"])
    assert analysis.corr_labels(c).to_dict() == {"a": "ρ = 0.46 [0.01, 0.75], n = 20",
                                                 "b": "too few pairs (n=7)"}
    assert analysis.corr_labels(c, "kendall")["a"] == "τ = 0.30 [0.01, 0.55], n = 20"


def test_spearman_too_few_pairs_is_nan():
    res = pd.DataFrame([_row("e0", "d", "kmeans", 0.1, family="F"), _row("e1", "d", "kmeans", 0.3, family="F")])
    knn = _knn([("e0", "d", "F", 0.5, 0.5), ("e1", "d", "F", 0.6, 0.6)])
    assert math.isnan(analysis.spearman_ami_knn(res, knn)["spearman"].iloc[0])


def test_knn_long():
    long = analysis.knn_long(_knn([("e", "d", "F", 0.5, 0.6)]))
    assert sorted(long["k"]) == [1, 10]
    assert long.set_index("k").loc[10, "knn_acc"] == 0.6


def test_silhouette_correlation():
    # umap silhouette in AMI order; original reversed except one swap
    ami = [0.1, 0.2, 0.3, 0.4, 0.5]
    umap = [0.0, 0.1, 0.2, 0.3, 0.4]
    orig = [0.5, 0.4, 0.3, 0.1, 0.2]
    df = pd.DataFrame([_row(f"e{i}", "d", "kmeans", a, silhouette_umap=u, silhouette_original=o)
                       for i, (a, u, o) in enumerate(zip(ami, umap, orig, strict=True))])
    c = analysis.silhouette_correlation(df).set_index("space")
    assert (c["n"] == 5).all() and c["ci_low"].isna().all()  # 5 pairs: no interval
    assert c.loc["umap", "spearman"] == pytest.approx(1.0)
    assert c.loc["umap", "kendall"] == pytest.approx(1.0)
    assert c.loc["original", "spearman"] == pytest.approx(-0.9)  # 1 - 6*2/(5*24)
    assert c.loc["original", "kendall"] == pytest.approx(-0.8)   # (1 - 9) / 10
    assert (c["n"] == 5).all()


def test_paper_spearman_table_is_labelled_data():
    t = analysis.paper_spearman_table()
    assert t.shape == (12, 5)
    assert t.loc[("RN50", "Spectral"), "k=1"] == 54
    assert t.loc[("ViT-B", "AC w/ C"), "k=200"] == 36
    assert "paper" in t.attrs["source"]


def test_frame_hash_order_independent_and_sensitive(results):
    h = analysis.frame_hash(results)
    assert h == analysis.frame_hash(results.sample(frac=1, random_state=1))
    changed = results.copy()
    changed.loc[0, "ami"] += 1e-6
    assert h != analysis.frame_hash(changed)


def test_level_table_is_per_dataset_and_coarse_to_fine():
    """Two datasets with different taxonomies: nothing is averaged across them, and each one's
    levels come in its declared order (not alphabetical, not the column order)."""
    df = pd.DataFrame([
        _row("e", "birds", "kmeans", 0.5, ami_level_species=0.4, ami_level_order=0.2,
             ami_true_level_species=0.3, ami_true_level_order=0.9),
        _row("e", "birds", "hdbscan", 0.5, ami_level_species=0.6, ami_level_order=0.4,
             ami_true_level_species=0.5, ami_true_level_order=0.7),
        _row("e", "bugs", "kmeans", 0.5, ami_level_order=0.8, ami_level_family=0.6,
             ami_true_level_order=0.95, ami_true_level_family=0.7),
        _row("e", "flat", "kmeans", 0.5),  # no taxonomy: no rows
    ])
    declared = {"birds": ("order", "species"), "bugs": ("order", "family"), "flat": ()}
    t = analysis.level_table(df, levels=declared)
    birds = t[t["dataset"] == "birds"].set_index("level")
    assert list(birds.index) == ["order", "species"] and list(birds["depth"]) == [0, 1]
    assert birds.loc["order", "ami"] == pytest.approx(0.3)        # (0.2 + 0.4) / 2, birds only
    assert birds.loc["order", "ami_true"] == pytest.approx(0.8)   # (0.9 + 0.7) / 2
    bugs = t[t["dataset"] == "bugs"].set_index("level")
    assert list(bugs.index) == ["order", "family"]                # declared order, not a-z
    assert bugs.loc["order", "ami"] == pytest.approx(0.8)         # not mixed with birds' order
    assert "flat" not in set(t["dataset"])
    wide = analysis.level_wide(t[t["dataset"] == "bugs"], "ami_true")
    assert list(wide.columns) == ["order", "family"] and wide.loc["e", "family"] == pytest.approx(0.7)
    with pytest.raises(ValueError, match="one dataset"):
        analysis.level_wide(t)
    with pytest.raises(ValueError, match="dataset"):
        analysis.level_table(df, index=["encoder"])
    assert analysis.level_table(pd.DataFrame([_row("e", "d", "kmeans", 0.5)])).empty


def test_fashion_mnist_levels_come_from_the_data_module():
    declared = analysis.dataset_levels(["fashion_mnist", "fashion_mnist_sketch", "digits", "nope"])
    assert declared["fashion_mnist"] == ("coarse", "fine")
    assert declared["fashion_mnist_sketch"] == ("coarse", "fine")
    assert declared["digits"] == () and declared["nope"] == ()
    # columns in the fine-first order of a results row still come out coarse first
    df = pd.DataFrame([_row("e", "fashion_mnist", "kmeans", 0.5, ami_level_fine=0.5,
                            ami_level_coarse=0.3, ami_true_level_fine=0.5, ami_true_level_coarse=0.6)])
    assert list(analysis.level_table(df)["level"]) == ["coarse", "fine"]


def test_seed_means_and_n_seeds():
    df = pd.DataFrame([_row("e", "a", "kmeans", 0.2, seed=0), _row("e", "a", "hdbscan", 0.4, seed=0),
                       _row("e", "b", "kmeans", 0.9, seed=0),  # dataset b has one clusterer row
                       _row("e", "a", "kmeans", 0.6, seed=1), _row("e", "b", "kmeans", 0.4, seed=1)])
    assert analysis.n_seeds(df) == 2 and analysis.n_seeds(df[df["seed"] == 0]) == 1
    m = analysis.seed_means(df, ["encoder"]).set_index("seed")["ami"]
    assert m[0] == pytest.approx((0.3 + 0.9) / 2)  # datasets weigh the same
    assert m[1] == pytest.approx(0.5)


def test_best_per_and_groups(results):
    b = analysis.best_per(results).set_index("dataset")
    assert b.loc["a", "best"] == "zoo_supervised_resnet" and b.loc["a", "value"] == pytest.approx(0.7)
    assert b.loc["b", "best"] == "zoo_dino_resnet" and b.loc["b", "second"] == "zoo_supervised_resnet"
    assert analysis.group_column(results) == "dataset_offline_group"
    assert analysis.group_column(results.assign(dataset_offline_group=None)) == "dataset_group"
    assert analysis.ordered_groups(["Far-OOD", "X", "In-domain", None]) == ["In-domain", "Far-OOD", "X"]


def test_paper_selections_drop_what_the_papers_code_drops():
    df = pd.DataFrame({"dataset": ["imagenet", "imagenet_r", "cifar10", "cifar10", "cifar10"],
                       "encoder_method": ["dino", "dino", "clip", "mae", "random"]})
    kept = analysis.paper_selection(df, "ami_knn")
    assert kept.to_dict("records") == [{"dataset": "imagenet", "encoder_method": "dino"},
                                       {"dataset": "cifar10", "encoder_method": "mae"},
                                       {"dataset": "cifar10", "encoder_method": "random"}]
    kept = analysis.paper_selection(df, "silhouette_ami")  # its scatter drops random and CLIP
    assert kept["encoder_method"].tolist() == ["dino", "dino", "mae"]
    with pytest.raises(KeyError, match="ami_knn, silhouette_ami"):
        analysis.paper_selection(df, "nope")


def test_spearman_pooled_over_families():
    res = pd.DataFrame([_row("e0", "d", "kmeans", 0.1, family="F"), _row("e1", "d", "kmeans", 0.3, family="G"),
                        _row("e2", "d", "kmeans", 0.2, family="G")])
    knn = _knn([("e0", "d", "F", 0.5, 0.5), ("e1", "d", "G", 0.9, 0.6), ("e2", "d", "G", 0.7, 0.7)])
    per_family = analysis.spearman_ami_knn(res, knn)
    assert per_family["spearman"].isna().all()  # 1 and 2 pairs per family
    pooled = analysis.spearman_ami_knn(res, knn, by=None).set_index("k")
    assert pooled.loc[1, "spearman"] == pytest.approx(1.0) and pooled.loc[1, "n"] == 3
    assert pooled.loc[10, "spearman"] == pytest.approx(0.5)  # ranks (1,3,2) vs (1,2,3)
