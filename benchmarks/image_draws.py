#!/usr/bin/env python
"""What the image resamples cost a results row: `zsc.metrics.ami_draws` against scikit-learn's
`adjusted_mutual_info_score` once per resample on the same labels, and `score_clustering` with
and without draws.

    python benchmarks/image_draws.py              # n = 1,000 (the offline profile) and 10,000

Every clustering row of a build stores AMI (and each taxonomy level's AMI) on 20 resamples of
its images; this prints the seconds per row of each path, their ratio and the largest
difference between them (they must agree to rounding). zsc's E[MI] sums each distinct pair of
class and cluster sizes once, in bounded chunks, with log Γ looked up
(`zsc.metrics.expected_mutual_information`).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score

from zsc.metrics import IMAGE_DRAWS, ami_draws, image_draws, score_clustering


def best_of(fn, *args, repeat: int = 5, **kw) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args, **kw)
        times.append(time.perf_counter() - t)
    return min(times)


def naive_draws(y: np.ndarray, p: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """The reference path: scikit-learn's AMI of one resample at a time."""
    return np.array([adjusted_mutual_info_score(y[i], p[i]) for i in draws])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[1000, 10_000])
    ap.add_argument("--clusters", type=int, nargs="+", default=[10, 60, 300])
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{IMAGE_DRAWS} image resamples per row; best of 5 runs\n")
    print("| n | clusters | zsc ami_draws (s) | scikit-learn per resample (s) | sklearn ÷ zsc | max |diff| |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in a.n:
        y = rng.integers(0, 10, n)
        draws = image_draws(n)
        ami_draws(y, y, draws)  # imports and first calls outside the timing
        for k in a.clusters:
            p = np.where(rng.random(n) < 0.6, y, rng.integers(0, k, n))
            fast = best_of(ami_draws, y, p, draws)
            naive = best_of(naive_draws, y, p, draws, repeat=2)
            diff = np.abs(ami_draws(y, p, draws) - naive_draws(y, p, draws)).max()
            print(f"| {n:,} | {k} | {fast:.4f} | {naive:.4f} | {naive / fast:.1f} | {diff:.1e} |")
    n = a.n[0]
    y = rng.integers(0, 10, n)
    p = np.where(rng.random(n) < 0.6, y, rng.integers(0, 10, n))
    spaces = {"original": rng.normal(size=(n, 512)), "umap": rng.normal(size=(n, 50))}
    hierarchy = {"coarse": y % 4, "fine": y}
    kw = {"spaces": spaces, "hierarchy": hierarchy}
    plain = best_of(score_clustering, y, p, **kw)
    drawn = best_of(score_clustering, y, p, draws=image_draws(n), **kw)
    print(f"\nscore_clustering of one row, n = {n:,}, two spaces and two levels: {plain:.3f} s without "
          f"draws, {drawn:.3f} s with them (+{drawn - plain:.3f} s a row)")


if __name__ == "__main__":
    main()
