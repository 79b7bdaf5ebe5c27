"""Seeded synthetic data shaped like encoder embeddings.

A Gaussian mixture with many (default 100) classes of unequal size, whose class means differ by
less than the within-class spread, and whose noise has a power-law spectrum in a random basis —
the anisotropic, heavy-headed spectrum of real encoder features (a few directions carry most
of the variance). Class structure is strong enough to be found but not trivially separable:
at 768-d the weighted 20-NN accuracy is roughly 0.8, so accuracy comparisons are meaningful.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np


def make_embeddings(n: int, d: int, n_classes: int = 100, seed: int = 0,
                    separation: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """(X float32 (n, d), y int64 (n,)): a seeded embedding-like Gaussian mixture."""
    rng = np.random.default_rng(seed)
    sizes = rng.dirichlet(np.full(n_classes, 5.0))  # unequal class sizes (about ±45 %)
    y = rng.choice(n_classes, size=n, p=sizes).astype(np.int64)
    spectrum = (1.0 + np.arange(d, dtype=np.float32)) ** -0.5  # power-law per-direction std
    spectrum *= np.sqrt(d / float((spectrum**2).sum()))  # unit average variance per dimension
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    basis = basis.astype(np.float32)
    centres = (rng.standard_normal((n_classes, d), dtype=np.float32) * spectrum) @ basis
    centres *= np.float32(separation)
    X = np.empty((n, d), dtype=np.float32)
    block = 8192
    for s in range(0, n, block):
        e = min(n, s + block)
        noise = rng.standard_normal((e - s, d), dtype=np.float32) * spectrum
        X[s:e] = centres[y[s:e]] + noise @ basis
    return X, y


def data_path(spec: dict, cache_dir: str | Path) -> Path:
    """Generate (once) and store the data set `spec` describes; return its .npz path.

    spec: {"n": rows, "d": dims, "classes": k, "seed": s} — rows are split later by the task
    (e.g. the first n_train rows train a kNN classifier, the rest test it).
    """
    key = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"data-{spec['n']}x{spec['d']}-{key}.npz"
    if not path.exists():
        X, y = make_embeddings(spec["n"], spec["d"], spec.get("classes", 100), spec.get("seed", 0),
                               spec.get("separation", 0.6))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, X=X, y=y)
        tmp.replace(path)
    return path


def load(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as z:
        return z["X"], z["y"]
