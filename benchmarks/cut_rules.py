#!/usr/bin/env python
"""Which label-free rule should choose `zsc cluster`'s cut? AMI of each rule's pick, per dataset.

    python benchmarks/cut_rules.py                       # EfficientNet-Lite0; FMNIST test 2k, digits
    python benchmarks/cut_rules.py --seeds 0 1 2 --csv cut_rules.csv

Each dataset is embedded (cached), reduced with the paper's UMAP (50-d, 30 neighbours, min_dist 0)
per seed, cut by ward at every candidate k (`zsc.cuts.candidate_ks`), and each rule in
`zsc.cuts.CUT_RULES` picks a k from the label-free scores alone; the labels only score the pick
afterwards. The table is the mean over UMAP seeds (README, "Clustering your own images").
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import pandas as pd

from zsc.cluster import Agglomerative
from zsc.cuts import CUT_RULES, candidate_ks, cut_sweep
from zsc.embed import embed
from zsc.metrics import ami
from zsc.reduce import UMAP_PAPER, reduce

DATASETS = {"fashion_mnist": ("test", 2000), "digits": ("all", None)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoder", default="efficientnet_lite0")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--csv", default=None)
    args = p.parse_args()
    rows = []
    for name, (split, n) in DATASETS.items():
        e = embed(args.encoder, name, split, n_samples=n, seed=0)
        for seed in args.seeds:
            reduced = reduce(e.features, replace(UMAP_PAPER, seed=seed), input_key=e.key, cache=True)
            model = Agglomerative(n_clusters=2, linkage="ward").fit(reduced)
            sweep, cuts = cut_sweep(model, reduced, candidate_ks(len(reduced)))
            # Fashion-MNIST's coarse level (4 groups) asks whether a rule only works for ~10 classes.
            targets = {name: e.labels, **{f"{name}:{lvl}": y for lvl, y in e.hierarchy.items()
                                          if len(np.unique(y)) != len(np.unique(e.labels))}}
            picks = {rule: int(sweep["n_clusters"].iloc[spec.pick(sweep)]) for rule, spec in CUT_RULES.items()}
            for target, y in targets.items():
                amis = {k: ami(y, lab) for k, lab in cuts.items()}
                best = max(amis, key=amis.__getitem__)
                true_k = len(np.unique(y))
                for rule, k in picks.items():
                    rows.append({"dataset": target, "seed": seed, "rule": rule, "k": k, "ami": amis[k]})
                rows.append({"dataset": target, "seed": seed, "rule": "(best k, uses labels)", "k": best,
                             "ami": amis[best]})
                rows.append({"dataset": target, "seed": seed, "rule": "(true k, uses labels)",
                             "k": true_k, "ami": amis[true_k] if true_k in amis else float("nan")})
            print(f"{name} seed {seed}: done", flush=True)
    df = pd.DataFrame(rows)
    if args.csv:
        df.to_csv(args.csv, index=False)
    table = df.groupby(["rule", "dataset"]).agg(ami=("ami", "mean"), k=("k", lambda s: "/".join(map(str, s))))
    wide = table.unstack("dataset")
    wide[("ami", "mean")] = wide["ami"][list(DATASETS)].mean(axis=1)  # the 10-class sets
    print(wide.sort_values(("ami", "mean"), ascending=False).round(3).to_markdown())


if __name__ == "__main__":
    main()
