"""Verdicts come from the results: flipping synthetic results flips the verdict."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest

from zsc import analysis, claims
from zsc.resources import path

ENCODERS = {  # encoder: (family, method)
    "zoo_supervised_resnet": ("ResNet-small", "supervised"), "dino": ("ResNet-small", "dino"),
    "moco": ("ResNet-small", "mocov3"), "vicreg": ("ResNet-small", "vicreg"),
    "dino2": ("ResNet-small", "dino"), "moco2": ("ResNet-small", "mocov3"),
}
DATASETS = {"fashion_mnist": "In-domain", "fashion_mnist_sketch": "Domain-shift",
            "digits": "Far-OOD", "d4": "Far-OOD", "d5": "Far-OOD"}
CLUSTERERS = {"kmeans": "K-Means", "ac_with_c": "AC w/ C", "spectral": "Spectral"}


def frame(ami=lambda e, d, c, s: 0.5, **extra) -> pd.DataFrame:
    """One row per encoder × dataset × clusterer × seed; `ami` (and each of `extra`) a function
    of them."""
    rows = []
    for e, (fam, meth) in ENCODERS.items():
        for d, g in DATASETS.items():
            for c, t in CLUSTERERS.items():
                for s in range(2):
                    row = {"encoder": e, "encoder_family": fam, "encoder_method": meth, "dataset": d,
                           "dataset_offline_group": g, "dataset_group": g, "clusterer": c,
                           "clusterer_title": t, "seed": s, "n_samples": 100, "ami": ami(e, d, c, s)}
                    rows.append(row | {k: f(e, d, c, s) for k, f in extra.items()})
    return pd.DataFrame(rows)


def noise(e, d, c, s, scale=0.01):
    """Seeded by the row (crc32, not `hash`: str hashes change with each process)."""
    return scale * np.random.default_rng(zlib.crc32(repr((e, d, c, s)).encode())).standard_normal()


def check(claim_id, ev, expected):
    v = claims.verdict(claim_id, ev, n_boot=200)
    assert v.verdict == expected, (v.verdict, v.value, v.ci_low, v.ci_high, v.reason)
    return v


def test_registry_is_shipped_and_complete():
    assert path("claims.yaml").is_file()
    ids = [c.id for c in claims.claims()]
    assert len(ids) == len(set(ids)) >= 9
    for c in claims.claims():
        assert c.analysis in claims.ANALYSES and c.where and c.statistic
        assert set(c.rule) <= set(claims.RULES) and c.chapter.startswith("0")


def test_decision_rules():
    assert claims.decide({"greater_than": 0}, 0.1, 0.3) == "reproduced"
    assert claims.decide({"greater_than": 0}, -0.3, -0.1) == "contradicted"
    assert claims.decide({"greater_than": 0}, -0.1, 0.1) == "inconclusive"
    assert claims.decide({"less_than": 0.05}, 0.0, 0.04) == "reproduced"
    assert claims.decide({"between": [0.2, 0.7]}, 0.3, 0.6) == "reproduced"
    assert claims.decide({"between": [0.2, 0.7]}, 0.8, 0.95) == "contradicted"
    assert claims.decide({"between": [0.2, 0.7]}, 0.6, 0.8) == "inconclusive"
    assert claims.decide({"greater_than": 0}, float("nan"), 1) == "inconclusive"


@pytest.mark.parametrize("effect, expected", [
    ({"dino": -0.1, "moco": -0.12, "vicreg": -0.08, "dino2": -0.1, "moco2": -0.09}, "reproduced"),
    ({"dino": 0.1, "moco": 0.12, "vicreg": 0.08, "dino2": 0.1, "moco2": 0.09}, "contradicted"),
    ({"dino": 0.1, "moco": -0.1, "vicreg": 0.0, "dino2": 0.1, "moco2": -0.1}, "inconclusive"),  # they disagree
])
def test_supervised_in_domain_follows_the_data(effect, expected):
    def ami(e, d, c, s):
        return 0.5 + noise(e, d, c, s) + (effect.get(e, 0) if DATASETS[d] == "In-domain" else 0)
    check("supervised_in_domain", claims.Evidence(frame(ami)), expected)


@pytest.mark.parametrize("sign, expected", [(1, "reproduced"), (-1, "contradicted")])
def test_ssl_far_ood_follows_the_data(sign, expected):
    def ami(e, d, c, s):
        return 0.5 + noise(e, d, c, s) + (sign * 0.1 if e != "zoo_supervised_resnet" and DATASETS[d] == "Far-OOD" else 0)
    check("ssl_far_ood", claims.Evidence(frame(ami)), expected)


def test_without_the_rows_a_claim_is_not_testable():
    ev = claims.Evidence(frame())
    v = check("finetuned_opposite", ev, "not testable")
    assert "fine-tuned" in v.reason and "`paper`" in v.reason
    for cid in ("umap_helps", "ami_knn_moderate", "silhouette_cut", "finer_levels"):
        check(cid, ev, "not testable")
    only_in = frame()[lambda f: f["dataset_offline_group"] != "Far-OOD"]
    assert "Far-OOD" in check("ssl_far_ood", claims.Evidence(only_in), "not testable").reason


@pytest.mark.parametrize("margin, expected", [(0.1, "reproduced"), (-0.1, "contradicted")])
def test_ac_ward_margin(margin, expected):
    def ami(e, d, c, s):
        return 0.5 + noise(e, d, c, s) + (margin if c == "ac_with_c" else 0)
    v = check("ac_ward_best", claims.Evidence(frame(ami)), expected)
    assert v.n == len(ENCODERS) * len(DATASETS) and v.ci_low <= v.value <= v.ci_high


def _knn(acc) -> pd.DataFrame:
    return pd.DataFrame([{"encoder": e, "dataset": d, "knn_acc_k20": acc(e, d)}
                         for e in ENCODERS for d in DATASETS])


def _quality(e, d):
    return list(ENCODERS).index(e) * 0.1 + list(DATASETS).index(d) * 0.13


@pytest.mark.parametrize("mix, expected", [(0.0, "contradicted"), (1.0, "inconclusive")])
def test_ami_knn_correlation(mix, expected):
    """kNN accuracy equal to the AMI's ordering: ρ near 1, "only moderately" is contradicted; kNN
    accuracy unrelated to AMI: the interval reaches below 0.2, the data do not decide."""
    def ami(e, d, c, s):
        return _quality(e, d) + noise(e, d, c, s, 0.001)
    rng = np.random.default_rng(3)
    shuffled = {(e, d): rng.random() for e in ENCODERS for d in DATASETS}
    knn = _knn(lambda e, d: (1 - mix) * _quality(e, d) + mix * shuffled[e, d])
    v = check("ami_knn_moderate", claims.Evidence(frame(ami), knn), expected)
    if mix == 0:
        assert v.value > 0.9


@pytest.mark.parametrize("tracks, expected", [(True, "reproduced"), (False, "contradicted")])
def test_silhouette_tracks_ami(tracks, expected):
    def ami(e, d, c, s):
        return _quality(e, d)
    def sil(e, d, c, s):
        return _quality(e, d) * (1 if tracks else -1) + noise(e, d, c, s, 0.01)
    check("silhouette_umap", claims.Evidence(frame(ami, silhouette_umap=sil)), expected)


@pytest.mark.parametrize("gain, expected", [(0.1, "reproduced"), (-0.1, "contradicted")])
def test_umap_helps(gain, expected):
    parts = []
    for red, g in (("none", 0.0), ("umap", gain)):
        parts.append(frame(lambda e, d, c, s, g=g: 0.5 + noise(e, d, c, s) + (g if c != "spectral" else -0.2))
                     .assign(sweep_reducer=red))
    check("umap_helps", claims.Evidence(frame(), sweep=pd.concat(parts)), expected)


@pytest.mark.parametrize("gap, expected", [(0.0, "reproduced"), (0.1, "contradicted")])
def test_silhouette_cut(gap, expected):
    cuts = pd.DataFrame([{"encoder": e, "dataset": d, "ami_gap": gap + abs(noise(e, d, 0, 0))}
                         for e in ENCODERS for d in DATASETS])
    check("silhouette_cut", claims.Evidence(frame(), cuts=cuts), expected)


@pytest.mark.parametrize("finer, expected", [(0.1, "reproduced"), (-0.1, "contradicted")])
def test_finer_levels(finer, expected):
    res = frame(ami_level_coarse=lambda e, d, c, s: 0.5 + noise(e, d, c, s),
                ami_level_fine=lambda e, d, c, s: 0.5 + finer + noise(e, d, c, s))
    res = res[res["dataset"].str.startswith("fashion")]
    check("finer_levels", claims.Evidence(res), expected)


def test_interval_is_seeded_and_markdown_says_whose_claim():
    def ami(e, d, c, s):
        return 0.5 + noise(e, d, c, s) + (0.1 if c == "ac_with_c" else 0)
    ev = claims.Evidence(frame(ami))
    a, b = claims.verdict("ac_ward_best", ev, n_boot=100), claims.verdict("ac_ward_best", ev, n_boot=100)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    md = a.markdown()
    assert "The paper's claim" in md and "reproduced" in md and "[" in md
    table = claims.verdict_table(claims.verdicts(ev, n_boot=50), link=lambda ch: f"[{ch}]({ch}.ipynb)")
    assert len(table) == 2 + len(claims.claims()) and "not testable" in "\n".join(table)


def test_introduction_table_links_each_chapter_and_flips_with_the_results():
    """The landing page's table is computed: better AC w/ C rows make its verdict reproduced,
    worse ones contradicted; the cut claim is left to chapter 7, which sweeps the cuts."""
    from zsc.report.prose import verdict_summary

    def table(margin):
        res = frame(lambda e, d, c, s: 0.5 + noise(e, d, c, s) + (margin if c == "ac_with_c" else 0))
        lines = verdict_summary(res, pd.DataFrame(), pd.DataFrame())
        return {ln.split(" | ")[0]: ln for ln in lines if ln.startswith("| ") and "---" not in ln}

    up, down = table(0.1), table(-0.1)
    ward = next(k for k in up if "Agglomerative" in k)
    assert "**reproduced**" in up[ward] and "**contradicted**" in down[ward]
    assert "</_build/notebooks/03_encoder_comparison>" in up[ward] and "[" in up[ward]
    cut = next(k for k in up if "silhouette peaks" in k)
    assert claims.DEFERRED in up[cut] and "chapter 7" in up[cut]


def test_contradicted_verdict_names_the_likely_cause_from_the_profile():
    def ami(e, d, c, s):
        return _quality(e, d) + noise(e, d, c, s, 0.001)
    v = check("ami_knn_moderate", claims.Evidence(frame(ami), _knn(_quality)), "contradicted")
    md = v.markdown({"knn_n_train": 1000})
    assert "Likely cause" in md and "1000 train images" in md
    assert "Likely cause" not in check("ac_ward_best", claims.Evidence(frame()), "inconclusive").markdown()


@pytest.mark.parametrize("claim_id", ["ami_knn_moderate", "silhouette_umap", "ac_ward_best", "umap_helps"])
def test_fast_bootstrap_equals_the_loop(claim_id):
    """The vectorised resampling gives the loop's interval exactly."""
    rng = np.random.default_rng(1)
    res = frame(lambda e, d, c, s: rng.random(), silhouette_umap=lambda e, d, c, s: rng.random())
    res.loc[res.index[:3], "ami"] = np.nan  # a pair missing for one clusterer
    sweep = pd.concat([res.assign(sweep_reducer=r, ami=res["ami"] + g) for r, g in (("none", 0), ("umap", 0.1))])
    ev = claims.Evidence(res, _knn(lambda e, d: round(rng.random(), 1)), sweep)  # ties
    c = claims.get_claim(claim_id)
    a = claims.ANALYSES[c.analysis]
    rows = a.prepare(ev, c.params)
    loop = claims.bootstrap(rows, lambda r: a.statistic(r, c.params), n_boot=60, seed=4)
    fast = claims.bootstrap(rows, lambda r: a.statistic(r, c.params), n_boot=60, seed=4,
                            fast=lambda r, picks: a.fast(r, c.params, picks))
    assert np.allclose(loop, fast)


def test_too_few_pairs_give_no_interval():
    """One or two pairs resample to a spuriously narrow interval: inconclusive, and said why."""
    def ami(e, d, c, s):
        return 0.5 + (0.2 if c == "ac_with_c" else 0)
    res = frame(ami)
    res = res[res["encoder"].isin(["dino", "moco"]) & (res["dataset"] == "digits")]
    v = check("ac_ward_best", claims.Evidence(res), "inconclusive")
    assert v.value == pytest.approx(0.2) and "too few" in v.reason and "too few" in v.markdown()


def test_fine_tuned_encoders_have_their_own_claim():
    """A fine-tuned member never counts as self-supervised in the in-/out-of-domain claims; with
    one, the fine-tuning claim becomes testable and follows its rows."""
    ENCODERS["mae_ft_x"] = ("ResNet-small", "mae")
    try:
        def ami(e, d, c, s, sign=1):
            if e != "mae_ft_x":
                return 0.5 + noise(e, d, c, s)
            return 0.5 + noise(e, d, c, s) + sign * (0.2 if DATASETS[d] == "In-domain" else -0.2)
        res = frame(ami)
        check("finetuned_opposite", claims.Evidence(res), "inconclusive")  # 1 in-domain pair
        rows = claims.ANALYSES["delta_group"].prepare(claims.Evidence(res), {"group": "Far-OOD"})
        assert "mae_ft_x" not in set(rows["encoder"])
        v = claims.verdict("finetuned_opposite", claims.Evidence(res))
        assert v.value == pytest.approx(0.4, abs=0.02)
    finally:
        del ENCODERS["mae_ft_x"]


def _with_image_draws(res: pd.DataFrame, shift, n_draws: int = 20) -> pd.DataFrame:
    """`res` with stored image resamples: replicate r of a row is its AMI plus `shift(row, z_r)`,
    z_r one draw per replicate shared by every row (the same images resampled alike)."""
    z = np.random.default_rng(5).standard_normal(n_draws)
    return res.assign(ami_draws=[list(a + shift(r, z)) for a, (_, r) in zip(res["ami"], res.iterrows(),
                                                                            strict=True)])


def test_the_images_spread_widens_the_interval():
    """Encoders and datasets agree (pairs alone: reproduced), but a resample of the images moves
    the self-supervised encoders' in-domain AMI by ±0.3 together: over pairs and images the
    data no longer decide. Rows made before draws were stored give the pairs' interval, said so."""
    def ami(e, d, c, s):
        return 0.5 + noise(e, d, c, s) + (-0.1 if DATASETS[d] == "In-domain" and ENCODERS[e][1] != "supervised" else 0)
    res = frame(ami)
    pairs_only = check("supervised_in_domain", claims.Evidence(res), "reproduced")
    assert pairs_only.over == claims.OVER_PAIRS
    assert "pairs only" in claims.verdict_table([pairs_only])[-1]

    def shift(row, z):
        moved = DATASETS[row["dataset"]] == "In-domain" and row["encoder_method"] != "supervised"
        return 0.3 * z if moved else 0 * z
    wide = check("supervised_in_domain", claims.Evidence(_with_image_draws(res, shift)), "inconclusive")
    assert wide.over == claims.OVER_IMAGES and "pairs and images" in wide.markdown()
    assert wide.value == pytest.approx(pairs_only.value)  # the value is the images' own
    assert wide.ci_high - wide.ci_low > 3 * (pairs_only.ci_high - pairs_only.ci_low)
    still = check("supervised_in_domain", claims.Evidence(_with_image_draws(res, lambda r, z: 0.01 * z)),
                  "reproduced")  # a small spread, shared by every row, cancels in ΔAMI
    assert still.over == claims.OVER_IMAGES and "pairs only" not in claims.verdict_table([still])[-1]
    mixed = _with_image_draws(res, shift)
    mixed.loc[mixed.index[0], "ami_draws"] = None  # one row made before draws were stored
    assert analysis.image_replicates(mixed) is None
    assert check("supervised_in_domain", claims.Evidence(mixed), "reproduced").over == claims.OVER_PAIRS


def test_image_replicates_read_each_resample():
    res = _with_image_draws(frame(), lambda r, z: z, n_draws=4)
    reps = analysis.image_replicates(res)
    assert len(reps) == 4
    assert np.allclose(reps[2]["ami"], [d[2] for d in res["ami_draws"]])
    assert analysis.image_replicates(frame()) is None


def test_mean_rank_interval_spans_the_image_resamples():
    """Two encoders a hair apart swap places in half the image resamples: each one's mean rank
    over images then spans 1-2; without draws there is no interval."""
    def ami(e, d, c, s):
        return {"dino": 0.51, "moco": 0.50}.get(e, 0.2)
    res = frame(ami)
    assert analysis.mean_rank_interval(res) is None
    res = _with_image_draws(res, lambda r, z: 0.05 * z if r["encoder"] == "moco" else 0 * z)
    iv = analysis.mean_rank_interval(res)
    assert iv.loc["dino", "low"] == 1 and iv.loc["dino", "high"] == 2
    assert iv.loc["moco", "low"] == 1 and iv.loc["moco", "high"] == 2
    assert iv.loc["vicreg", "low"] > 2  # the rest stay behind both


def test_ami_knn_checks_find_a_correlation_made_by_dataset_difficulty():
    """AMI and kNN accuracy that agree only on which dataset is harder: pooled ρ is high, within
    each dataset it is not; the untrained encoders (here `moco2`, made random) are left out."""
    names = [*ENCODERS, *(f"{e}_b" for e in ENCODERS)]  # 12 encoders: enough pairs per dataset
    shuffled = {e: (5 * i) % len(names) for i, e in enumerate(names)}  # an order unrelated to AMI's

    def ami(e, d, c, s):
        return list(DATASETS).index(d) * 0.2 + names.index(e) * 0.01
    one = frame()
    res = pd.concat([one, one.assign(encoder=one["encoder"] + "_b")], ignore_index=True)
    res["ami"] = [ami(r.encoder, r.dataset, r.clusterer, r.seed) for r in res.itertuples()]
    res.loc[res["encoder"] == "moco2", "encoder_method"] = "random"
    knn = pd.DataFrame([{"encoder": e, "dataset": d, "knn_acc_k20": list(DATASETS).index(d) * 0.2 + shuffled[e] * 0.01}
                        for e in names for d in DATASETS])
    checks = analysis.ami_knn_checks(res, knn)
    assert checks.loc["every pair (the verdict's)", "median ρ"] > 0.8
    assert abs(checks.loc["within each dataset", "median ρ"]) < 0.3
    assert checks.loc["within each dataset", "pairs each"] == len(names)
    assert checks.loc["without random-init encoders and raw pixels", "pairs each"] == (len(names) - 1) * len(DATASETS)


def test_a_score_a_row_lacks_needs_no_draws():
    """A taxonomy level a dataset does not have: no value and no draws in its rows, NaN in every
    resample; the other rows' draws are still used. A value without draws is still refused."""
    res = _with_image_draws(frame(), lambda r, z: z, n_draws=3)
    level = np.where(res["dataset"] == "digits", np.nan, 0.4)
    res = res.assign(ami_level_coarse=level,
                     ami_level_coarse_draws=[None if np.isnan(v) else [v] * 3 for v in level])
    reps = analysis.image_replicates(res)
    assert len(reps) == 3 and reps[1]["ami_level_coarse"].isna().sum() == (res["dataset"] == "digits").sum()
    res.loc[res.index[0], "ami_level_coarse"] = 0.5  # a value whose draws are missing
    res.loc[res.index[0], "ami_level_coarse_draws"] = None
    assert analysis.image_replicates(res) is None


def _with_training_seeds(res: pd.DataFrame, spread, seeds=(1, 2)) -> pd.DataFrame:
    """`res` plus a training-seed replicate `<e>_seed<t>` of every encoder, its AMI the row's plus
    `spread(row, t)`, folded as a chapter folds them."""
    def shifted(t):
        moved = res.assign(encoder=res["encoder"] + f"_seed{t}")
        by = np.array([spread(r, t) for _, r in res.iterrows()])
        moved["ami"] = res["ami"] + by
        if "ami_draws" in res:  # a replicate's images are scored on its own embedding
            moved["ami_draws"] = [list(np.asarray(v) + b) for v, b in zip(res["ami_draws"], by, strict=True)]
        return moved
    reps = [shifted(t) for t in seeds]
    replicates = {f"{e}_seed{t}": (e, t) for e in res["encoder"].unique() for t in seeds}
    return analysis.fold_replicates(pd.concat([res, *reps], ignore_index=True), replicates)


def test_fold_replicates_names_the_training_seed():
    res = frame()
    assert analysis.fold_replicates(res, {"x_seed1": ("x", 1)}) is res  # no replicate: unchanged
    folded = _with_training_seeds(res, lambda r, t: 0.0)
    assert set(folded["encoder"]) == set(ENCODERS)
    assert sorted(folded[analysis.TRAINING_SEED].unique()) == [0, 1, 2]
    assert len(folded) == 3 * len(res)
    assert analysis.n_training_seeds(folded) == 3 and analysis.n_training_seeds(res) == 1


def test_delta_ami_pairs_training_seeds_and_stands_in_single_encoders():
    """ΔAMI replicate by replicate: seed t of an encoder against seed t of its reference; an
    encoder trained once (here `vicreg`) stands in every replicate, so its ΔAMI is its AMI minus
    the reference's mean over seeds."""
    def ami(e, d, c, s):
        return {"zoo_supervised_resnet": 0.6, "dino": 0.5, "vicreg": 0.4}.get(e, 0.3)
    folded = _with_training_seeds(frame(ami), lambda r, t: 0.1 * t)  # seed t: +0.1 t for everyone
    folded = folded[~((folded["encoder"] == "vicreg") & (folded[analysis.TRAINING_SEED] > 0))]
    d = analysis.delta_ami(folded)
    dino = d[d["encoder"] == "dino"]
    assert np.allclose(dino["delta_ami"], -0.1)  # the shift cancels seed by seed
    assert sorted(dino[analysis.TRAINING_SEED].unique()) == [0, 1, 2]
    vic = d[d["encoder"] == "vicreg"].groupby(analysis.TRAINING_SEED)["delta_ami"].mean()
    assert np.allclose(vic, [-0.2, -0.3, -0.4]) and vic.mean() == pytest.approx(0.4 - 0.7)


def test_the_training_seeds_spread_widens_the_interval():
    """Pairs and images agree (reproduced), but the self-supervised encoders' in-domain AMI
    depends on their training seed (±0.3): with the seeds resampled the data no longer decide.
    The value is the mean over training seeds."""
    def ami(e, d, c, s):
        return 0.5 + noise(e, d, c, s) + (-0.1 if DATASETS[d] == "In-domain" and ENCODERS[e][1] != "supervised" else 0)
    res = _with_image_draws(frame(ami), lambda r, z: 0.01 * z)
    calm = _with_training_seeds(res, lambda r, t: 0.0)
    narrow = check("supervised_in_domain", claims.Evidence(calm), "reproduced")
    assert narrow.over == claims.OVER_TRAINING and "training seeds" in narrow.markdown()

    def spread(r, t):
        moved = DATASETS[r["dataset"]] == "In-domain" and r["encoder_method"] != "supervised"
        return {1: 0.3, 2: -0.3}[t] if moved else 0.0
    wide = check("supervised_in_domain", claims.Evidence(_with_training_seeds(res, spread)), "inconclusive")
    assert wide.value == pytest.approx(narrow.value)  # +0.3 and -0.3 cancel in the mean
    assert wide.ci_high - wide.ci_low > 3 * (narrow.ci_high - narrow.ci_low)


def test_training_seed_resamples_keep_single_encoders_whole():
    res = frame()
    folded = _with_training_seeds(res, lambda r, t: 0.1 * t)
    folded = folded[~((folded["encoder"] == "vicreg") & (folded[analysis.TRAINING_SEED] > 0))]
    assert analysis.training_seed_resamples(res, 5) is None
    picks = analysis.training_seed_resamples(folded, 5, seed=1)
    assert len(picks) == 5 and all(set(p) <= {0, 1, 2} and len(p) == 3 for p in picks)
    r = analysis.resample_training_seeds(folded, np.array([2, 2, 0]))
    dino = r[(r["encoder"] == "dino") & (r["dataset"] == "digits")]
    assert dino.groupby(analysis.TRAINING_SEED)["ami"].mean().tolist() == pytest.approx([0.7, 0.7, 0.5])
    assert len(r[r["encoder"] == "vicreg"]) == len(res[res["encoder"] == "vicreg"])


def test_knn_long_averages_training_seeds():
    knn = pd.DataFrame({"encoder": ["a", "a_seed1", "b"], "dataset": "d", "knn_acc_k20": [0.5, 0.7, 0.4]})
    long = analysis.knn_long(analysis.fold_replicates(knn, {"a_seed1": ("a", 1)}))
    assert long.set_index("encoder")["knn_acc"].to_dict() == pytest.approx({"a": 0.6, "b": 0.4})


def test_mean_rank_interval_resamples_training_seeds():
    """Two encoders a hair apart whose order flips with the training seed (the images agree):
    each one's mean rank spans 1-2 over the training-seed resamples."""
    def ami(e, d, c, s):
        return {"dino": 0.51, "moco": 0.50}.get(e, 0.2)
    res = _with_image_draws(frame(ami), lambda r, z: 0 * z)
    assert analysis.mean_rank_interval(res).loc["dino"].tolist() == [1, 1]
    flip = _with_training_seeds(res, lambda r, t: {"dino": -0.05 * t}.get(r["encoder"], 0.0))
    iv = analysis.mean_rank_interval(flip)
    assert iv.loc["dino", "low"] == 1 and iv.loc["dino", "high"] == 2
    assert iv.loc["moco", "low"] == 1 and iv.loc["moco", "high"] == 2
