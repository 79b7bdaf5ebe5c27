"""How each clusterer's entry in the paper's final ("v5") settings translates into zsc's
hyper-parameters. Each clusterer's declaration (`ClustererSpec.from_paper`) names its function
here; `zsc.settings` reads the entries and applies it."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidParameterError


def kmeans(entry: dict[str, Any]) -> dict[str, Any]:
    return {"max_iter": 1000}  # the paper's --max-iter default; k-means++, n_init 1, seed


def spectral(entry: dict[str, Any]) -> dict[str, Any]:
    p = {"affinity": entry["spectral_affinity"], "n_neighbors": int(entry["spectral_n_neighbors"]),
         "assign_labels": entry["spectral_assigner"]}
    if entry.get("spectral_n_components") is not None:
        p["n_components"] = int(entry["spectral_n_components"])
    return p


def ac_with_c(entry: dict[str, Any]) -> dict[str, Any]:
    if entry.get("aggclust_dist_thresh") is not None or entry.get("zscore2"):
        raise InvalidParameterError(f"AC w/ C entry with a threshold or zscore2: {entry}")
    return {"linkage": entry["aggclust_linkage"], "metric": entry["distance_metric"]}


def ac_without_c(entry: dict[str, Any]) -> dict[str, Any]:
    if entry.get("zscore2") != "average" or not entry.get("ndim_correction"):
        raise InvalidParameterError("AC w/o C without the average z-score and dimension "
                                    f"correction is not supported: {entry}")
    return {"linkage": entry["aggclust_linkage"], "metric": entry["distance_metric"],
            "distance_threshold": float(entry["aggclust_dist_thresh"]), "normalize": True}


def affinity_propagation(entry: dict[str, Any]) -> dict[str, Any]:
    return {"damping": float(entry["affinity_damping"]),
            "convergence_iter": int(entry["affinity_conv_iter"]), "max_iter": 1000}


def hdbscan(entry: dict[str, Any]) -> dict[str, Any]:
    # the paper passes its --min-samples as scikit-learn's min_cluster_size (min_samples left at
    # None = min_cluster_size) and --max-samples < 1 as a fraction of N
    return {"min_cluster_size": int(entry["min_samples"]),
            "max_cluster_frac": float(entry["max_samples"]),
            "metric": entry["distance_metric"], "cluster_selection_method": entry["hdbscan_method"]}
