#!/usr/bin/env python
"""Do scikit-learn's HDBSCAN (the paper's, zsc's) and the `hdbscan` package give the same
partition on the paper's settings, on real UMAP-50 embeddings?

    python benchmarks/hdbscan_agreement.py                 # digits (all 1,797) + Fashion-MNIST test subsets
    python benchmarks/hdbscan_agreement.py --fashion 2000 10000 --json out.json

Embeddings: zsc's `pixels` encoder, then UMAP-50 with the paper's settings (zsc.reduce,
seed 0, cached under $ZSC_HOME). Settings: min_cluster_size = 5, scikit-learn's min_samples
= 5 (= None), max_cluster_size = round(0.2·N), eom, metric euclidean / l1 / chebyshev.

The `hdbscan` package counts min_samples without the point itself, so scikit-learn's 5 is its
4 (scikit-learn's HDBSCAN docstring, Notes); both spellings are run ("hdbscan ms=4" is the
like-for-like one, "ms=5" the naive one), with its exact minimum spanning tree
(approx_min_span_tree=False) and its default approximate one. "no cap" repeats the
like-for-like comparison without max_cluster_size, to separate the cap's effect.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

METRICS = ("euclidean", "l1", "chebyshev")


def umap50(dataset: str, split: str, n: int | None) -> tuple[np.ndarray, np.ndarray]:
    from zsc.embed import embed
    from zsc.reduce import UMAP_PAPER, reduce

    emb = embed("pixels", dataset, split, n_samples=n, seed=0, progress=False)
    return reduce(emb.features, replace(UMAP_PAPER, seed=0), input_key=emb.key), emb.labels


def compare(X: np.ndarray, y: np.ndarray, metric: str) -> dict:
    import hdbscan
    from sklearn.cluster import HDBSCAN
    from sklearn.metrics import adjusted_mutual_info_score as ami
    from sklearn.metrics import adjusted_rand_score as ari

    X = np.asarray(X, dtype=np.float64)
    cap = round(0.2 * len(X))
    sk_metric = "manhattan" if metric == "l1" else metric
    out: dict = {"metric": metric, "n": len(X)}
    t0 = time.perf_counter()
    ref = HDBSCAN(min_cluster_size=5, max_cluster_size=cap, metric=sk_metric, copy=True).fit_predict(X)
    out["sklearn_s"] = time.perf_counter() - t0
    out["sklearn_clusters"] = int(ref.max() + 1)
    out["sklearn_noise"] = int((ref < 0).sum())
    out["sklearn_ami_vs_classes"] = float(ami(y, ref))
    runs = {"hdbscan ms=4 exact": dict(min_samples=4, approx_min_span_tree=False, max_cluster_size=cap),
            "hdbscan ms=4 approx": dict(min_samples=4, max_cluster_size=cap),
            "hdbscan ms=5 exact": dict(min_samples=5, approx_min_span_tree=False, max_cluster_size=cap)}
    for name, kw in runs.items():
        t0 = time.perf_counter()
        lab = hdbscan.HDBSCAN(min_cluster_size=5, metric=sk_metric, core_dist_n_jobs=1, **kw).fit_predict(X)
        out[f"{name} s"] = time.perf_counter() - t0
        out[f"{name} ARI"] = float(ari(ref, lab))
        out[f"{name} identical"] = bool((ref == lab).all())
        out[f"{name} clusters"] = int(lab.max() + 1)
    a = HDBSCAN(min_cluster_size=5, metric=sk_metric, copy=True).fit_predict(X)
    b = hdbscan.HDBSCAN(min_cluster_size=5, min_samples=4, metric=sk_metric, core_dist_n_jobs=1,
                        approx_min_span_tree=False).fit_predict(X)
    out["no cap ARI"] = float(ari(a, b))
    out["no cap identical"] = bool((a == b).all())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fashion", type=int, nargs="*", default=[2000, 5000, 10000],
                    help="Fashion-MNIST test subset sizes (10000 = the whole test split)")
    ap.add_argument("--no-digits", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    sets = [] if args.no_digits else [("digits", "all", None)]
    sets += [("fashion_mnist", "test", None if n >= 10000 else n) for n in args.fashion]
    rows = []
    for dataset, split, n in sets:
        X, y = umap50(dataset, split, n)
        for metric in METRICS:
            r = {"dataset": dataset, "split": split, **compare(X, y, metric)}
            rows.append(r)
            print(json.dumps(r), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
