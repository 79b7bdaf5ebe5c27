"""The kinds of batch job — embed, cluster, kNN, notebook, baseline — and the parameters each
accepts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..registry import Registry


@dataclasses.dataclass(frozen=True)
class JobKind:
    """A kind of job: what it runs and which parameters it accepts."""

    name: str
    run: Callable[[dict[str, Any], Path, Path], dict[str, Any]]  # (params, results, output)
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    device: str = "cpu"  # "gpu": benefits from an accelerator (Dask resource "GPU")
    check: Callable[[Mapping[str, Any]], None] | None = None  # kind-specific names, before running
    # what else a job's result depends on, beside its parameters (part of its key)
    ident: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None


def _run_embed(p: dict[str, Any], results: Path, output: Path) -> dict[str, Any]:
    """Embed one split (cached) and, for the evaluation split, its UMAP-50s: the run seed's, or
    those of `umap_seeds` (the clustering seeds: most clusterers' input), and the silhouette's
    (seed 42, as the paper), once here, not in each job."""
    from ..data import get_dataset
    from ..embed import embed
    from ..reduce import UMAP_PAPER, reduce
    from ..settings import SILHOUETTE_UMAP_SEED

    default_split = get_dataset(p["dataset"]).default_split
    split = p.get("split") or default_split
    emb = embed(p["encoder"], p["dataset"], split, n_samples=p.get("n_samples"),
                seed=int(p.get("seed", 0)), device=p.get("device"), precision=p.get("precision"),
                progress=False)
    if p.get("umap", split == default_split):
        for seed in {*map(int, p.get("umap_seeds") or [p.get("seed", 0)]), SILHOUETTE_UMAP_SEED}:
            reduce(emb.features, dataclasses.replace(UMAP_PAPER, seed=seed), input_key=emb.key)
    return {"embedding_key": emb.key, "n": len(emb), "from_cache": emb.from_cache}


def _run_cluster(p: dict[str, Any], results: Path, output: Path) -> dict[str, Any]:
    from ..pipeline import run
    from ..reduce import ReducerConfig

    red = p.get("reducer")
    reducer = ReducerConfig(**red) if isinstance(red, Mapping) else (ReducerConfig(red) if red else None)
    params = {p["clusterer"]: p["params"]} if p.get("params") else None
    df = run(p["encoder"], p["dataset"], [p["clusterer"]], split=p.get("split"),
             n_samples=p.get("n_samples"), seed=int(p.get("seed", 0)),
             sample_seed=p.get("sample_seed"), reducer=reducer,
             params=params, store=results / "clustering", device=p.get("device"), progress=False,
             max_memory=p.get("max_memory"))
    row = df.iloc[0]
    return {"artifacts": [str(results / "clustering" / f"{row['run_key']}.parquet")],
            "ami": float(row["ami"]), "n_clusters_pred": int(row["n_clusters_pred"]),
            "deviation": str(row["deviation"])}


def _run_knn(p: dict[str, Any], results: Path, output: Path) -> dict[str, Any]:
    from ..metrics import DRAWS, KNN_KS
    from ..pipeline import knn

    row = knn(p["encoder"], p["dataset"], n_samples=p.get("n_samples"), n_train=p.get("n_train"),
              seed=int(p.get("seed", 0)), ks=p.get("ks", KNN_KS), store=results / "knn",
              device=p.get("device"), progress=False)
    return {"artifacts": [str(results / "knn" / f"{row['run_key']}.parquet")],
            **{k: v for k, v in row.items() if k.startswith("knn_acc_") and not k.endswith(DRAWS)}}


def _check_cluster(p: Mapping[str, Any]) -> None:
    from ..cluster import CLUSTERERS, check_params

    CLUSTERERS.get(str(p["clusterer"]))
    check_params(str(p["clusterer"]), dict(p.get("params") or {}))


def _run_baseline(p: dict[str, Any], results: Path, output: Path) -> dict[str, Any]:
    """A deep-clustering baseline on one dataset: one row in `<results>/baselines`."""
    from ..baselines import run_baseline

    row = run_baseline(p["baseline"], p["dataset"], split=p.get("split"),
                       n_samples=p.get("n_samples"), seed=int(p.get("seed", 0)),
                       train=bool(p.get("train", False)), options=p.get("options"),
                       store=results / "baselines")
    return {"artifacts": [str(results / "baselines" / f"{row['run_key']}.parquet")],
            "ami": float(row["ami"]), "acc": float(row["acc"]), "nmi": float(row["nmi"])}


def _ident_baseline(p: Mapping[str, Any]) -> dict[str, Any]:
    """New shipped weights (a new release of N2D's) make it a new job."""
    from ..baselines.weights import shipped_card

    card = shipped_card(str(p.get("baseline")), str(p.get("dataset"))) or {}
    return {"shipped_weights": card.get("weights_sha256")}


def _check_baseline(p: Mapping[str, Any]) -> None:
    from ..baselines import get_baseline

    get_baseline(str(p["baseline"])).check_options(dict(p.get("options") or {}))


def notebook_out(p: Mapping[str, Any], output: Path) -> Path:
    """Where a notebook job's executed copy goes: `<output>/notebooks/<chapter>/<slug>.ipynb`."""
    return output / "notebooks" / Path(p["notebook"]).stem / f"{p['slug']}.ipynb"


def _ident_notebook(p: Mapping[str, Any]) -> dict[str, Any]:
    from .. import notebooks
    from ..io import sha256_file

    return {"notebook_sha": sha256_file(notebooks.resolve(p["notebook"]))[:16]}


def _run_notebook(p: dict[str, Any], results: Path, output: Path) -> dict[str, Any]:
    from .. import notebooks

    out = notebook_out(p, output)
    notebooks.execute(notebooks.resolve(p["notebook"]), out, p["parameters"])
    return {"artifacts": [str(out)]}


JOB_KINDS: Registry[JobKind] = Registry("job kind")
for _kind in [
    JobKind("embed", _run_embed, ("encoder", "dataset"),
            ("split", "n_samples", "seed", "umap", "umap_seeds", "device", "precision"), device="gpu"),
    JobKind("cluster", _run_cluster, ("encoder", "dataset", "clusterer"),
            ("split", "n_samples", "seed", "sample_seed", "reducer", "params", "device", "max_memory"),
            check=_check_cluster),
    JobKind("knn", _run_knn, ("encoder", "dataset"),
            ("n_samples", "n_train", "seed", "ks", "device"), device="gpu"),
    JobKind("notebook", _run_notebook, (), ident=_ident_notebook),
    JobKind("baseline", _run_baseline, ("baseline", "dataset"),
            ("split", "n_samples", "seed", "train", "options"), check=_check_baseline,
            ident=_ident_baseline),
]:
    JOB_KINDS.register(_kind.name, _kind)
