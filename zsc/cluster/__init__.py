"""Stage 5 — cluster: the paper's six clusterers, scikit-learn style, with its chosen settings.

`CLUSTERERS` declares each clusterer once; `make_clusterer(name, n_clusters)` builds a
configured estimator and `cluster(X, name, n_clusters)` validates `X` and runs one.
`paper_settings(clusterer, encoder, dataset=...)` gives the reduction and hyper-parameters the
paper chose for an encoder; it lives in `zsc.settings` (the paper's final "v5" settings dict,
shipped as `zsc/resources/paper_settings_v5.json`), the stage after this one: it reads this
registry's defaults.

Modules: `estimators` (Agglomerative on fastcluster, AffinityPropagation, HDBSCAN),
`spectral` (Spectral: scikit-learn's partition with a Lanczos eigensolver). Every estimator
passes scikit-learn's `check_estimator` (tests/test_cluster.py).

Scale: agglomerative clustering runs on fastcluster (O(n·d) memory for ward/centroid/median/
single on vectors; average/complete/weighted need the O(n²) condensed distance matrix).
Affinity Propagation needs O(n²) memory. Both run on all points, as the paper did, while
`memory_need` fits in the memory budget (`max_memory`: bytes or a size such as "64GiB" read by
`parse_bytes`; default this machine's physical memory). Over it, and only then, zsc deviates:
Affinity Propagation is fitted on the largest seeded subsample that fits (the rest assigned to
the nearest exemplar) and those linkages are refused (`MemoryBudgetError`, naming the need, the
budget and `--max-memory`). A deviation is recorded in `ClusterResult.deviation` (module
`memory`).

HDBSCAN runs on scikit-learn's implementation, which the paper used. The `hdbscan` package
(scikit-learn-contrib) was measured against it on the paper's settings (min_cluster_size =
min_samples = 5, max cluster size round(0.2·N), eom; benchmarks/README.md, "HDBSCAN: which
implementation"). It counts min_samples without the point itself (scikit-learn's 5 is its 4);
spelled like that, on UMAP-50 embeddings of Fashion-MNIST (5,000 and 10,000 test images) the
two agree without the size cap (ARI ≥ 0.9998) but not with the paper's cap (ARI 0.92–0.98; on
digits 0.999), so they do not give the paper's partition interchangeably. It is 1.2–5× faster on
those embeddings, and in CPU time 0.9–1.9× at 20,000 × 50 and 5.2× at 100,000 × 50 (synthetic);
that does not outweigh fidelity, and it is not used.
"""

from __future__ import annotations

import functools
import json
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidEmbeddingError, InvalidParameterError, ZscError
from ..reduce import NONE, UMAP_PAPER, ReducerConfig
from ..registry import Registry
from . import paper
from .estimators import HDBSCAN, AffinityPropagation, Agglomerative
from .memory import MemoryBudgetError, ap_need, linkage_need, parse_bytes
from .memory import budget as memory_budget
from .spectral import Spectral

__all__ = [  # the stage's public surface; helpers stay in their modules (memory, spectral, ...)
    "CLUSTERERS", "ClustererSpec", "ClusterResult", "make_clusterer", "check_params",
    "check_param_table", "cluster", "validate_embeddings", "memory_need", "memory_budget",
    "parse_bytes", "MemoryBudgetError", "Agglomerative", "AffinityPropagation", "HDBSCAN", "Spectral",
]


# --------------------------------------------------------------------------- factories
def _kmeans(n_clusters: int, seed: int, **p: Any) -> Any:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=n_clusters, init="k-means++", n_init=1, random_state=seed,
                  max_iter=p.pop("max_iter", 1000), **p)


_SPECTRAL_OWN = {"affinity", "n_neighbors", "assign_labels", "n_components", "n_init", "eigen_tol", "n_jobs"}


def _spectral(n_clusters: int, seed: int, **p: Any) -> Any:
    """zsc's `Spectral` (Lanczos; scikit-learn's partition, scales) for the kNN affinities;
    scikit-learn's `SpectralClustering` for other affinities or an explicit `eigen_solver`."""
    if (p.get("affinity", "nearest_neighbors") in ("nearest_neighbors", "precomputed_nearest_neighbors")
            and set(p) <= _SPECTRAL_OWN and p.get("assign_labels", "cluster_qr") in
            ("cluster_qr", "kmeans", "discretize")):
        return Spectral(n_clusters=n_clusters, random_state=seed, **p)
    from sklearn.cluster import SpectralClustering

    return SpectralClustering(n_clusters=n_clusters, random_state=seed, **p)


def _ac_c(n_clusters: int, seed: int, **p: Any) -> Any:
    return Agglomerative(n_clusters=n_clusters, **p)


def _ac_t(n_clusters: int | None, seed: int, **p: Any) -> Any:
    return Agglomerative(n_clusters=None, **p)


def _ap(n_clusters: int | None, seed: int, **p: Any) -> Any:
    return AffinityPropagation(random_state=seed, **p)


def _hdbscan(n_clusters: int | None, seed: int, **p: Any) -> Any:
    return HDBSCAN(**p)


# --------------------------------------------------------------------------- registry
def _vectors_need(n_samples: int, n_features: int, params: Mapping[str, Any], itemsize: int) -> int:
    """An O(n·d) clusterer: its float64 input."""
    return int(n_samples) * int(n_features) * 8


def _linkage_need(n_samples: int, n_features: int, params: Mapping[str, Any], itemsize: int) -> int:
    """Average/complete/weighted linkage's two condensed distance matrices (`memory.linkage_need`)."""
    return linkage_need(n_samples, n_features, str(params.get("linkage", "ward")))


def _ap_need(n_samples: int, n_features: int, params: Mapping[str, Any], itemsize: int) -> int:
    """Affinity Propagation's n×n matrices as scikit-learn allocates them (`memory.ap_need`)."""
    return ap_need(n_samples, n_features, itemsize)


def _check_damping(spec: ClustererSpec, params: Mapping[str, Any]) -> None:
    d = params.get("damping")
    if isinstance(d, int | float) and not 0.5 <= d < 1:
        raise InvalidParameterError(
            f"{spec.title}: damping must be in [0.5, 1), got {d} (the paper uses 0.5-0.95)")


@dataclass(frozen=True, kw_only=True)
class ClustererSpec:
    """One clusterer, declared once: everything zsc needs to run it, check it, budget its memory
    and read the paper's setting for it."""

    name: str
    title: str  # as the paper's tables write it
    uses_n_clusters: bool
    factory: Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    reducer: ReducerConfig = UMAP_PAPER  # the reduction for an encoder the paper has no entry for
    fixed: dict[str, str] = field(default_factory=dict)  # set by zsc itself: parameter -> how
    # the paper's key in its settings file and how an entry translates; None: the paper did not
    # run it, and every encoder gets `reducer` and `defaults`
    paper_name: str | None = None
    from_paper: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # bytes it needs on n × d input (of itemsize bytes) with these parameters (--max-memory)
    memory: Callable[[int, int, Mapping[str, Any], int], int] = _vectors_need
    # checks of the merged parameters beyond the estimator's own (one line each)
    checks: tuple[Callable[[ClustererSpec, Mapping[str, Any]], None], ...] = ()

    def __post_init__(self) -> None:
        if (self.paper_name is None) != (self.from_paper is None):
            raise ValueError(f"{self.name}: give paper_name and from_paper together")


_SEEDED = {"random_state": "the run's --seed"}
_K = {"n_clusters": "the number of classes of the dataset"}
_BUDGET = {"max_memory": "the run's memory budget (--max-memory)"}

CLUSTERERS: Registry[ClustererSpec] = Registry("clusterer")
for _spec in [
    ClustererSpec(name="kmeans", title="K-Means", uses_n_clusters=True, factory=_kmeans,
                  defaults={"max_iter": 1000}, paper_name="KMeans", from_paper=paper.kmeans,
                  fixed={**_K, **_SEEDED, "init": "k-means++, as the paper",
                         "n_init": "1, as the paper (one k-means++ start per seed)"}),
    ClustererSpec(name="spectral", title="Spectral", uses_n_clusters=True, factory=_spectral,
                  defaults={"affinity": "nearest_neighbors", "n_neighbors": 10,
                            "assign_labels": "cluster_qr"},
                  reducer=NONE, fixed={**_K, **_SEEDED}, paper_name="SpectralClustering",
                  from_paper=paper.spectral),
    ClustererSpec(name="ac_with_c", title="AC w/ C", uses_n_clusters=True, factory=_ac_c,
                  defaults={"linkage": "ward", "metric": "euclidean"}, fixed={**_K, **_BUDGET},
                  paper_name="AC w/ C", from_paper=paper.ac_with_c, memory=_linkage_need),
    ClustererSpec(name="ac_without_c", title="AC w/o C", uses_n_clusters=False, factory=_ac_t,
                  defaults={"linkage": "ward", "metric": "euclidean", "distance_threshold": 1.0,
                            "normalize": True},
                  fixed={"n_clusters": "none: the distance threshold decides", **_BUDGET},
                  paper_name="AC w/o C", from_paper=paper.ac_without_c, memory=_linkage_need),
    ClustererSpec(name="affinity_propagation", title="Affinity Prop.", uses_n_clusters=False,
                  factory=_ap, defaults={"damping": 0.9, "convergence_iter": 15, "max_iter": 1000},
                  fixed={**_SEEDED, **_BUDGET}, paper_name="AffinityPropagation",
                  from_paper=paper.affinity_propagation, memory=_ap_need,
                  checks=(_check_damping,)),
    ClustererSpec(name="hdbscan", title="HDBSCAN", uses_n_clusters=False, factory=_hdbscan,
                  defaults={"min_cluster_size": 5, "max_cluster_frac": 0.2, "metric": "euclidean",
                            "cluster_selection_method": "eom"},
                  paper_name="HDBSCAN", from_paper=paper.hdbscan),
]:
    CLUSTERERS.register(_spec.name, _spec)


# --------------------------------------------------------------------------- running
@dataclass(kw_only=True)
class ClusterResult:
    labels: np.ndarray
    clusterer: str
    params: dict[str, Any]
    seconds: float
    estimator: Any = None
    deviation: str = ""  # how the fit deviated from the paper's computation ("" when it did not)

    @property
    def n_clusters(self) -> int:
        return int(len(np.unique(self.labels[self.labels >= 0])))


def validate_embeddings(X: np.ndarray, what: str = "embeddings") -> np.ndarray:
    x = np.asarray(X)
    if x.ndim != 2 or len(x) < 2:
        raise InvalidEmbeddingError(f"{what}: expected a 2-d array with at least 2 rows, got shape {x.shape}")
    if not np.isfinite(x).all():
        rows = int((~np.isfinite(x)).any(axis=1).sum())
        raise InvalidEmbeddingError(
            f"{what}: {rows} rows contain NaN or infinity; refusing to cluster. Check the encoder "
            "and its weights (or the reduction) that produced them"
        )
    return x


def make_clusterer(name: str, n_clusters: int | None = None, *, seed: int = 0,
                   n_samples: int | None = None, **params: Any) -> Any:
    """A configured estimator: the clusterer's defaults, updated by `params`; `seed` becomes
    the estimator's `random_state` where it has one."""
    spec = CLUSTERERS.get(name)
    if spec.uses_n_clusters:
        if n_clusters is None:
            raise InvalidParameterError(f"{spec.title} needs n_clusters (the number of classes)")
        if n_clusters < 2 or (n_samples is not None and n_clusters > n_samples):
            upper = f"the number of samples ({n_samples})" if n_samples is not None else "the number of samples"
            raise InvalidParameterError(
                f"{spec.title}: n_clusters must be between 2 and {upper}, got {n_clusters}; "
                "ask for fewer clusters or cluster more samples"
            )
    _check_fixed(spec, params)
    merged = {**spec.defaults, **params}
    for check in spec.checks:
        check(spec, merged)
    try:
        return spec.factory(n_clusters, seed, **merged)
    except TypeError as err:
        unknown = sorted(set(params) - set(spec.defaults))
        raise InvalidParameterError(
            f"{spec.title}: unknown parameter(s) {', '.join(unknown) or sorted(params)} ({err}); "
            f"zsc's defaults for it: {', '.join(spec.defaults) or 'none'}") from err


def _check_fixed(spec: ClustererSpec, params: Mapping[str, Any]) -> None:
    own = sorted(set(params) & set(spec.fixed))
    if own:
        raise InvalidParameterError(
            f"{spec.title}: {', '.join(own)} cannot be overridden: zsc sets "
            + "; ".join(f"{k} to {spec.fixed[k]}" for k in own))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# The type a parameter must have, from the type of zsc's default for it (None is left to the
# estimator's own check: some accept it).
_TYPE_RULES: dict[type, tuple[Callable[[Any], bool], str]] = {
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (_is_int, "a whole number"),
    float: (lambda v: _is_int(v) or isinstance(v, float), "a number"),
    str: (lambda v: isinstance(v, str), "a name (text)"),
}


def _check_types(spec: ClustererSpec, params: Mapping[str, Any]) -> None:
    for key, value in params.items():
        rule = _TYPE_RULES.get(type(spec.defaults.get(key)))
        if rule and value is not None and not rule[0](value):
            raise InvalidParameterError(f"{spec.title}: {key} must be {rule[1]}, got {value!r}")


_PROBE = np.random.default_rng(0).normal(size=(48, 3)) + np.repeat([[0.0], [6.0]], 24, axis=0)


def check_params(name: str, params: Any) -> None:
    """Fail early (before any embedding work) on a bad clusterer name or hyper-parameter: the
    parameters must be a mapping; those zsc sets cannot be given; a value must have its
    default's type; and the estimator's own checks (scikit-learn's) run on a tiny fit now,
    not after the embedding."""
    spec = CLUSTERERS.get(name)
    if not isinstance(params, Mapping):
        raise InvalidParameterError(f"{spec.title}: the parameters must be a mapping of names to "
                                    f"values, e.g. {{\"{next(iter(spec.defaults), 'x')}\": ...}}, "
                                    f"got {params!r}")
    params = dict(params)
    _check_fixed(spec, params)
    _check_types(spec, params)
    try:
        key = json.dumps(params, sort_keys=True)
    except (TypeError, ValueError):  # not JSON-able: check it uncached
        key = None
    if key is None:
        _probe_fit(name, params)
    else:
        _probe_fit_once(name, key)


@functools.lru_cache(maxsize=256)
def _probe_fit_once(name: str, params_json: str) -> None:
    """A grid checks a thousand jobs with a handful of distinct parameter sets: fit each once."""
    _probe_fit(name, json.loads(params_json))


def _probe_fit(name: str, params: dict[str, Any]) -> None:
    spec = CLUSTERERS.get(name)
    est = make_clusterer(name, 2 if spec.uses_n_clusters else None, **params)
    if "max_memory" in est.get_params():
        est.set_params(max_memory=1 << 30)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(_PROBE)
    except ZscError:
        raise
    except TypeError as err:  # also scikit-learn's InvalidParameterError
        raise InvalidParameterError(f"{spec.title}: {err}") from None
    except KeyError as err:  # a name looked up in a table: linkage="banana"
        raise InvalidParameterError(f"{spec.title}: parameters {params!r} refused: unknown "
                                    f"value {err}") from None
    except ValueError:  # may depend on the data (n_neighbors > 48): the real fit decides
        pass


def check_param_table(params: Any) -> dict[str, dict[str, Any]]:
    """`--params` / `params=`: a mapping of clusterer names to mappings of hyper-parameters,
    each checked by `check_params`; returns it as plain dicts."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidParameterError(
            "the clusterer parameters must map clusterer names to their parameters, e.g. "
            f'{{"hdbscan": {{"min_cluster_size": 10}}}}, got {params!r}')
    for name, p in params.items():
        check_params(str(name), p)
    return {str(k): dict(v) for k, v in params.items()}


def memory_need(name: str, n_samples: int, n_features: int,
                params: Mapping[str, Any] | None = None, *, itemsize: int = 8) -> int:
    """Bytes clusterer `name` needs on n_samples × n_features input (of `itemsize` bytes per
    value) with `params` over its defaults, as its declaration (`ClustererSpec.memory`) says."""
    spec = CLUSTERERS.get(name)
    return spec.memory(n_samples, n_features, {**spec.defaults, **dict(params or {})}, itemsize)


def cluster(X: np.ndarray, name: str, n_clusters: int | None = None, *, seed: int = 0,
            max_memory: Any = None, **params: Any) -> ClusterResult:
    """Validate `X`, fit clusterer `name` and return its labels (noise = -1 for HDBSCAN).

    `max_memory` (bytes or a size such as "64GiB"; None: this machine's memory) is the budget of
    the O(n²) clusterers: over it Affinity Propagation is fitted on a seeded subsample and
    average/complete/weighted linkage raises `MemoryBudgetError`; `ClusterResult.deviation`
    records a deviation."""
    x = validate_embeddings(X)
    est = make_clusterer(name, n_clusters, seed=seed, n_samples=len(x), **params)
    if "max_memory" in est.get_params():
        est.set_params(max_memory=memory_budget(max_memory))
    t0 = time.perf_counter()
    est.fit(x)
    seconds = time.perf_counter() - t0
    merged = {**CLUSTERERS.get(name).defaults, **params}
    return ClusterResult(labels=np.asarray(est.labels_, dtype=np.int64), clusterer=name,
                         params=merged, seconds=seconds, estimator=est,
                         deviation=str(getattr(est, "deviation_", "") or ""))

