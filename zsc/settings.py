"""The paper's final clustering settings, as zsc's own data.

`zsc/resources/paper_settings_v5.json` is the paper's final ("v5") settings dict, copied
unchanged from scottclowe/zs-ssl-clustering @ 5cb58bd (notebooks/results.ipynb cells 3–50 ≡
analysis/param_setup.py) with a `_source` field saying so. Its keys are the paper's clusterer
names, then the paper's encoder names; its values are the paper's run arguments
(zs_ssl_clustering/cluster.py). `paper_setting(clusterer, encoder, dataset=...)` translates one
entry into zsc's terms: a `ReducerConfig` and the hyper-parameters of `zsc.cluster`'s
estimator, with the entry it came from (`source`).

Encoders outside the paper borrow the entry of the paper encoder with the same training method
and backbone kind (`paper_encoder_for`); an encoder with no such entry gets the clusterer's
zsc defaults (UMAP-50, its registry defaults). One setting depends on the dataset: HDBSCAN's
min_cluster_size (= min_samples) is 2 on CelebA, UTKFace and BIOSCAN-1M
(analysis/utils.py `fixup_filter`), 5 elsewhere.

This module imports only `zsc.reduce` at import time (the cluster registry's defaults are read
lazily), so `zsc.cluster` can re-export it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd

from .errors import InvalidParameterError
from .reduce import UMAP_PAPER, ReducerConfig, fit_to_shape

PAPER_SEED = 1  # the paper's test runs: `sbatch --array=1` (analysis/utils.py; nb cell 58)
SILHOUETTE_UMAP_SEED = 42  # the paper's separate UMAP for the silhouette (analysis/extract_silhouette.py)
PAPER_VALIDATION_SEED = 100  # its hyper-parameter search runs (val partition)
SETTINGS_FILE = "paper_settings_v5.json"

# zsc encoder name -> the paper's encoder key (fidelity audit 2026-11, name map)
PAPER_ENCODER = {
    "pixels": "none", "random_resnet50": "random_resnet50", "supervised_resnet50": "resnet50",
    "mocov3_resnet50": "mocov3_resnet50", "dino_resnet50": "dino_resnet50",
    "vicreg_resnet50": "vicreg_resnet50", "clip_resnet50": "clip_RN50",
    "random_vitb16": "random_vitb16", "supervised_vitb16": "vitb16",
    "mocov3_vitb16": "mocov3_vit_base", "dino_vitb16": "dino_vitb16",
    "mae_vitb16": "timm_vit_base_patch16_224.mae", "mae_global_vitb16": "mae_pretrain_vit_base_global",
    "clip_vitb16": "clip_vitb16", "mae_ft_vitb16": "mae_finetuned_vit_base_global",
}
# datasets on which the paper's HDBSCAN used min_samples (= min_cluster_size) 2
SMALL_CLUSTER_DATASETS = ("celeba", "utkface", "bioscan1m")
SMALL_MIN_SAMPLES = 2

_FAMILY_TO_PAPER = {"ResNet-50": "resnet50", "ResNet-small": "resnet50", "EfficientNet": "resnet50",
                    "ViT-B/16": "vitb16", "ViT-small": "vitb16"}


@dataclass(frozen=True, kw_only=True)
class PaperSetting:
    """One clusterer × encoder (× dataset) setting, in zsc's terms, with where it came from."""

    clusterer: str
    encoder: str  # the zsc encoder asked for
    paper_encoder: str | None  # the paper's key used (None: no paper entry, zsc defaults)
    reducer: ReducerConfig
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""


@lru_cache(maxsize=1)
def load_paper_settings() -> dict[str, Any]:
    """The raw v5 dict (with its `_source` metadata), as shipped in zsc/resources."""
    return json.loads(resources.files("zsc.resources").joinpath(SETTINGS_FILE).read_text())


def paper_encoder_for(family: str, method: str) -> str:
    """The paper encoder (zsc name) whose settings an encoder of this backbone kind and method
    borrows."""
    if method == "none":
        return "pixels"
    arch = _FAMILY_TO_PAPER.get(family, "resnet50")
    return f"{method}_{arch}"


def _none(v: Any) -> bool:
    return v is None or v == "None"


def reducer_from_v5(entry: dict[str, Any]) -> ReducerConfig:
    """The reduction of one v5 entry: z-score (default: on with PCA, as the paper's
    cluster.py), then PCA (variance fraction or component count) or UMAP (min_dist 0,
    `dim_reducer_man_nn` neighbours, default 30), or nothing."""
    pca = not _none(entry.get("dim_reducer"))
    man = not _none(entry.get("dim_reducer_man"))
    z = entry.get("zscore")
    z = bool(pca) if z is None else bool(z)
    if pca and man:
        raise InvalidParameterError(f"a v5 entry with both PCA and a manifold reduction: {entry}")
    if pca:
        if entry["dim_reducer"] != "PCA":
            raise InvalidParameterError(f"unsupported paper reduction {entry['dim_reducer']!r}")
        n = entry.get("pca_variance")
        n = float(n) if n is not None else int(entry["ndim_reduced"])
        return ReducerConfig(method="pca", n_components=n, zscore_before=z)
    if man:
        if entry["dim_reducer_man"] != "UMAP":
            raise InvalidParameterError(f"unsupported paper reduction {entry['dim_reducer_man']!r}")
        nn = entry.get("dim_reducer_man_nn")
        return ReducerConfig(method="umap", n_components=int(entry["ndim_reduced_man"]),
                             n_neighbors=30 if nn is None else int(nn), min_dist=0.0, zscore_before=z)
    return ReducerConfig(method="none", n_components=None, zscore_before=z)


def paper_setting(clusterer: str, encoder: str, family: str | None = None,
                  method: str | None = None, *, dataset: str | None = None) -> PaperSetting:
    """The setting the paper chose for `clusterer` on `encoder` (and `dataset`, for the one
    dataset-dependent value). Give `family` and `method` (an encoder spec's) so that an encoder
    outside the paper borrows its paper counterpart's entry; paper encoders use their own."""
    from .cluster import CLUSTERERS

    spec = CLUSTERERS.get(clusterer)  # unknown names fail here, listing the known ones
    if spec.paper_name is None or spec.from_paper is None:
        return PaperSetting(clusterer=clusterer, encoder=encoder, paper_encoder=None,
                            reducer=spec.reducer, params=dict(spec.defaults),
                            source=f"zsc defaults: the paper did not run {clusterer!r}")
    key = encoder
    if encoder not in PAPER_ENCODER and family is not None and method is not None:
        key = paper_encoder_for(family, method)
    table = load_paper_settings()[spec.paper_name]
    paper_key = PAPER_ENCODER.get(key)
    if paper_key is None or paper_key not in table:
        return PaperSetting(clusterer=clusterer, encoder=encoder, paper_encoder=None,
                            reducer=spec.reducer, params=dict(spec.defaults),
                            source=f"zsc defaults: no paper entry for {encoder!r}")
    entry = table[paper_key]
    params = {**spec.defaults, **spec.from_paper(entry)}
    source = f"{SETTINGS_FILE}: {spec.paper_name} / {paper_key}"
    if key != encoder:
        source += f" (borrowed: {encoder} has the method and backbone kind of {key})"
    if clusterer == "hdbscan" and dataset is not None and dataset.lower() in SMALL_CLUSTER_DATASETS:
        params["min_cluster_size"] = SMALL_MIN_SAMPLES
        source += f"; min_cluster_size {SMALL_MIN_SAMPLES} on {dataset} (analysis/utils.py fixup_filter)"
    return PaperSetting(clusterer=clusterer, encoder=encoder, paper_encoder=paper_key,
                        reducer=reducer_from_v5(entry), params=params, source=source)


def paper_settings(clusterer: str, encoder: str, family: str | None = None,
                   method: str | None = None, *, dataset: str | None = None
                   ) -> tuple[ReducerConfig, dict[str, Any]]:
    """(reduction, hyper-parameters) the paper chose for `clusterer` on `encoder` — the pair
    `zsc.pipeline.run` applies; see `paper_setting` for the full record with its source."""
    s = paper_setting(clusterer, encoder, family, method, dataset=dataset)
    return s.reducer, dict(s.params)


def paper_clusterers() -> dict[str, str]:
    """zsc clusterer name -> the paper's key in its settings file, for the clusterers it ran."""
    from .cluster import CLUSTERERS

    return {n: s.paper_name for n, s in CLUSTERERS.items() if s.paper_name}


def settings_table(dataset: str | None = None) -> dict[str, dict[str, PaperSetting]]:
    """Every clusterer the paper ran × paper encoder (zsc names): its setting."""
    return {c: {e: paper_setting(c, e, dataset=dataset) for e in PAPER_ENCODER}
            for c in paper_clusterers()}


def paper_reducer_share(encoders: Sequence[str], reducers: Sequence[str]) -> pd.DataFrame:
    """Per clusterer (title), the share of `encoders` whose final paper setting reduces with each
    of `reducers` (rows sum to 1 over the reducers the paper used)."""
    from .cluster import CLUSTERERS

    chosen = pd.DataFrame([{"clusterer_title": CLUSTERERS.get(c).title, "reducer": s.reducer.method}
                           for c, by_enc in settings_table().items()
                           for e, s in by_enc.items() if e in encoders])
    return (pd.crosstab(chosen["clusterer_title"], chosen["reducer"], normalize="index")
            .reindex(columns=list(reducers), fill_value=0.0))


# One setting per reducer, as the paper's cluster.py ran each when reducers were compared (its
# search: reduction first, then each clusterer's own parameters). Used by a profile's
# `reducer_sweep` (chapter 8).
PAPER_REDUCERS: dict[str, ReducerConfig] = {
    # the embedding as it is: cluster.py z-scores only with PCA by default
    "none": ReducerConfig("none", None),
    # z-score, then PCA keeping 90% of the variance: cluster.py z-scores before PCA by default,
    # and 0.9 is the fraction its final settings chose most often (9 of 33 PCA entries)
    "pca": ReducerConfig("pca", 0.9, zscore_before=True),
    # its recommendation: 50 dimensions, 30 neighbours, min_dist 0
    "umap": UMAP_PAPER,
    # 50 dimensions as its UMAP; PaCMAP's own neighbour count (cluster.py passes None: 10 below
    # 10^4 samples, 10 + 15 (log10 n - 4) above), no PCA before the neighbour search
    "pacmap": ReducerConfig("pacmap", 50, n_neighbors=10),
}


def paper_reducer(clusterer: str, encoder: str, family: str | None = None,
                  method: str | None = None, *, dataset: str | None = None,
                  shape: tuple[int, int] | None = None, seed: int = 0) -> ReducerConfig:
    """The reduction `zsc.pipeline.run` applies with the paper's settings to an embedding of
    `shape` (n, d) at `seed`: what a stored row's `reducer_params` says when it was not
    overridden (how the book tells the paper-setting rows from a reducer sweep's)."""
    red = paper_setting(clusterer, encoder, family, method, dataset=dataset).reducer
    if shape is not None:
        red = fit_to_shape(red, *shape)
    return replace(red, seed=seed)
