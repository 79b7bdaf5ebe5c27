"""zsc's clustering settings against the paper's final ("v5") settings dict.

The raw v5 entries are translated here, independently of zsc.settings (own name map, own
reading of the paper's run arguments, written from zs_ssl_clustering/cluster.py and the
fidelity audit), and compared with what zsc builds the way `zsc.pipeline.run` does: the
reduction `paper_settings(...)` returns and the estimator `make_clusterer(...)` builds from its
hyper-parameters (its `get_params()`), for every registered encoder × clusterer, and for
HDBSCAN on the datasets where the paper lowered min_cluster_size.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from zsc import settings as S
from zsc.cluster import CLUSTERERS, make_clusterer
from zsc.encoders import ENCODERS, get_encoder
from zsc.settings import PAPER_SEED, SILHOUETTE_UMAP_SEED, paper_setting, paper_settings

RAW = json.loads(resources.files("zsc.resources").joinpath("paper_settings_v5.json").read_text())

# paper encoder key -> zsc name (fidelity-audit-2026-11.md, "Encoder name map"; mae_ft: the
# paper's "MAE (avg) [FT]", mae_finetuned_vit_base_global)
ZSC_NAME = {
    "none": "pixels", "resnet50": "supervised_resnet50", "clip_RN50": "clip_resnet50",
    "vitb16": "supervised_vitb16", "mocov3_vit_base": "mocov3_vitb16",
    "timm_vit_base_patch16_224.mae": "mae_vitb16", "mae_pretrain_vit_base_global": "mae_global_vitb16",
    "mae_finetuned_vit_base_global": "mae_ft_vitb16",
    **{k: k for k in ("random_resnet50", "mocov3_resnet50", "dino_resnet50", "vicreg_resnet50",
                      "random_vitb16", "dino_vitb16", "clip_vitb16")},
}
PAPER_KEY = {v: k for k, v in ZSC_NAME.items()}
TABLE = {"kmeans": "KMeans", "spectral": "SpectralClustering", "ac_with_c": "AC w/ C",
         "ac_without_c": "AC w/o C", "affinity_propagation": "AffinityPropagation", "hdbscan": "HDBSCAN"}
SMALL = {"celeba", "utkface", "bioscan1m"}  # analysis/utils.py fixup_filter: min_samples = 2
DATASETS = [None, "cifar10", "celeba", "utkface", "bioscan1m"]


def borrowed(encoder: str) -> str | None:
    """The zsc paper encoder whose entry an encoder uses: its own, else the one with its
    training method and backbone kind (ResNet-like → RN50, ViT-like → ViT-B/16)."""
    if encoder in PAPER_KEY:
        return encoder
    spec = get_encoder(encoder)
    if spec.method == "none":
        return "pixels"
    arch = "vitb16" if spec.family.startswith("ViT") else "resnet50"
    name = f"{spec.method}_{arch}"
    return name if name in PAPER_KEY else None


def expected_reduction(e: dict) -> dict:
    """ReducerConfig fields of a raw entry (cluster.py: z-score defaults to on with PCA)."""
    pca = e.get("dim_reducer") not in (None, "None")
    umap = e.get("dim_reducer_man") not in (None, "None")
    z = e.get("zscore", None)
    z = pca if z is None else z
    out = {"zscore_before": z, "zscore_after": False}
    if pca:
        assert e["dim_reducer"] == "PCA" and not umap
        n = e["pca_variance"] if e.get("pca_variance") is not None else int(e["ndim_reduced"])
        out.update(method="pca", n_components=n)
    elif umap:
        assert e["dim_reducer_man"] == "UMAP"
        out.update(method="umap", n_components=e["ndim_reduced_man"],
                   n_neighbors=e.get("dim_reducer_man_nn") or 30, min_dist=0.0, metric="euclidean")
    else:
        out.update(method="none")
    return out


def expected_estimator(clusterer: str, e: dict, dataset: str | None, n_classes: int) -> tuple[str, dict]:
    """(estimator class name, the get_params() entries it must have) of a raw entry."""
    if clusterer == "kmeans":
        return "KMeans", {"n_clusters": n_classes, "init": "k-means++", "n_init": 1, "max_iter": 1000,
                          "random_state": PAPER_SEED}
    if clusterer == "spectral":
        return "Spectral", {"n_clusters": n_classes, "affinity": e["spectral_affinity"],
                            "n_neighbors": e["spectral_n_neighbors"], "assign_labels": e["spectral_assigner"],
                            "n_components": e["spectral_n_components"], "random_state": PAPER_SEED}
    if clusterer in ("ac_with_c", "ac_without_c"):
        thr = e["aggclust_dist_thresh"]
        norm = e.get("zscore2") == "average" and bool(e.get("ndim_correction"))
        return "Agglomerative", {"n_clusters": None if thr is not None else n_classes,
                                 "distance_threshold": thr, "linkage": e["aggclust_linkage"],
                                 "metric": e["distance_metric"], "normalize": norm}
    if clusterer == "affinity_propagation":
        return "AffinityPropagation", {"damping": e["affinity_damping"], "convergence_iter": e["affinity_conv_iter"],
                                       "max_iter": 1000, "preference": None, "random_state": PAPER_SEED}
    size = 2 if dataset in SMALL else e["min_samples"]
    return "HDBSCAN", {"min_cluster_size": size, "min_samples": None, "max_cluster_frac": e["max_samples"],
                       "metric": e["distance_metric"], "cluster_selection_method": e["hdbscan_method"]}


def cells():
    for clusterer in TABLE:
        for encoder in ENCODERS.names():
            for dataset in (DATASETS if clusterer == "hdbscan" else [None]):
                yield clusterer, encoder, dataset


def test_the_shipped_dict_says_where_it_comes_from():
    src = RAW["_source"]
    assert src["repository"] == "scottclowe/zs-ssl-clustering"
    assert src["commit"].startswith("5cb58bd")
    assert "results.ipynb" in src["cells"] and "param_setup.py" in src["cells"]
    assert RAW["_version"] == "v5.0"
    assert PAPER_SEED == 1 and SILHOUETTE_UMAP_SEED == 42


def test_every_setting_zsc_applies_is_the_papers():
    compared, mismatches = 0, []
    for clusterer, encoder, dataset in cells():
        spec = get_encoder(encoder)
        # as zsc.pipeline.run asks for it
        red, hp = paper_settings(clusterer, encoder, spec.family, spec.method, dataset=dataset)
        source = borrowed(encoder)
        if source is None:  # outside the paper, no counterpart: zsc's defaults
            assert paper_setting(clusterer, encoder, spec.family, spec.method).paper_encoder is None
            continue
        raw = RAW[TABLE[clusterer]][PAPER_KEY[source]]
        want_red = expected_reduction(raw)
        got_red = {k: getattr(red, k) for k in want_red}
        if got_red != want_red:
            mismatches.append((clusterer, encoder, dataset, "reduction", got_red, want_red))
        n_classes = 10
        est = make_clusterer(clusterer, n_classes if CLUSTERERS.get(clusterer).uses_n_clusters else None,
                             seed=PAPER_SEED, **hp)
        cls, want = expected_estimator(clusterer, raw, dataset, n_classes)
        got = {k: est.get_params().get(k, "<missing>") for k in want}
        if type(est).__name__ != cls or got != want:
            mismatches.append((clusterer, encoder, dataset, type(est).__name__, got, want))
        compared += 1
    assert not mismatches, "\n".join(map(str, mismatches))
    # 6 clusterers x the encoders with a paper counterpart, HDBSCAN x 5 datasets
    n_enc = sum(borrowed(e) is not None for e in ENCODERS.names())
    assert compared == n_enc * (5 + len(DATASETS)) and n_enc >= 15
    print(f"compared {compared} cells")


def test_paper_encoders_use_their_own_entry_and_say_so():
    for zsc_name, key in PAPER_KEY.items():
        for clusterer, table in TABLE.items():
            s = paper_setting(clusterer, zsc_name, dataset="celeba")
            assert s.paper_encoder == key
            assert f"{table} / {key}" in s.source
            if clusterer == "hdbscan":
                assert "celeba" in s.source


def test_the_test_can_fail(monkeypatch):
    """A wrong value in the shipped dict is caught (the comparison is not with itself)."""
    import zsc.settings as S

    bad = json.loads(json.dumps(RAW))
    bad["SpectralClustering"]["mocov3_vit_base"]["spectral_n_neighbors"] = 11
    monkeypatch.setattr(S, "load_paper_settings", lambda: bad)
    with pytest.raises(AssertionError, match="mocov3_vitb16"):
        test_every_setting_zsc_applies_is_the_papers()


def test_pipeline_passes_the_dataset(monkeypatch):
    """zsc.pipeline.run asks for the settings with the dataset's name (HDBSCAN's size 2)."""
    import numpy as np

    import zsc.pipeline as P
    from zsc.embed import Embeddings

    asked = []
    real = P.paper_settings

    def spy(*a, **k):
        asked.append(k.get("dataset"))
        return real(*a, **k)

    X = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32)
    emb = Embeddings(features=X, labels=np.arange(60) % 3, encoder="pixels", dataset="celeba",
                     split="test", indices=np.arange(60), key="k")
    monkeypatch.setattr(P, "paper_settings", spy)
    monkeypatch.setattr(P, "embed", lambda *a, **k: emb)
    monkeypatch.setattr(P, "reduce", lambda x, cfg, **k: x[:, :4])
    monkeypatch.setattr(P, "score_clustering", lambda *a, **k: {})
    monkeypatch.setattr(P, "cluster", lambda X, name, n, seed, **hp: type("R", (), {
        "params": hp, "seconds": 0.0, "labels": np.zeros(len(X), int), "deviation": ""})())
    P.run("pixels", "celeba", ["hdbscan"], store=None, progress=False)
    assert asked == ["celeba"]


def test_paper_reducer_share_counts_the_papers_final_settings():
    """Chapter 8's right panel: per clusterer, the share of encoders whose final setting reduces
    with each method, read from the settings file through `paper_settings`."""
    encoders = ["pixels", "dino_vitb16", "supervised_resnet50"]
    share = S.paper_reducer_share(encoders, ["none", "pca", "umap", "pacmap"])
    assert list(share.columns) == ["none", "pca", "umap", "pacmap"]
    assert np.allclose(share.sum(axis=1), 1.0) and (share["pacmap"] == 0).all()
    expected = sum(S.paper_settings("kmeans", e)[0].method == "umap" for e in encoders) / 3
    assert share.loc["K-Means", "umap"] == pytest.approx(expected)
