"""Smoke test of benchmarks/run.py: every benchmark code path at n ≈ 500, in a few seconds.

The measured tasks run in-process here (no memory numbers); one task also runs through the
subprocess harness, so the path the real benchmark takes is exercised too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import cases as C  # noqa: E402
from benchmarks import run as R  # noqa: E402
from benchmarks.data import data_path, load, make_embeddings  # noqa: E402


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    limits = R.Limits(naive_budget=R.GiB, kill_above=4 * R.GiB, timeout=60, inprocess=True)
    return R.run_benchmarks(["ac", "knn", "knn1000", "sil", "sil1000", "spectral"], R.TINY, limits,
                            tmp_path_factory.mktemp("data"), log=lambda s: None)


def test_data_is_seeded_and_shaped():
    X, y = make_embeddings(300, 12, 7, seed=3)
    X2, y2 = make_embeddings(300, 12, 7, seed=3)
    assert X.shape == (300, 12) and X.dtype.name == "float32" and y.dtype.name == "int64"
    assert (X == X2).all() and (y == y2).all() and len(set(y.tolist())) == 7


def test_zsc_and_naive_paths_agree(bench):
    results = {t.text: t for t in bench.targets}
    for text, t in results.items():
        if "same" in text or "partition" in text:  # ARI == 1, equal accuracy, equal silhouette
            assert t.met, f"{text}: {t.measured}"
    assert any("same partition" in k for k in results)
    assert any("same accuracy" in k for k in results)
    assert any("same value" in k for k in results)
    for row in bench.rows:
        assert row.zsc.ok and row.other.ok, row
        if "accuracy" in row.other.result:
            assert row.other.result["accuracy"] == pytest.approx(row.zsc.result["accuracy"], abs=0)
        if row.label == "sklearn silhouette_score":
            assert row.other.result["value"] == pytest.approx(row.zsc.result["value"], abs=1e-6)
    assert R.markdown(bench).count("\n") > len(bench.rows)


def test_subprocess_harness_measures_peak_and_skips_what_does_not_fit(tmp_path):
    path = data_path({"n": 400, "d": 8, "classes": 5, "seed": 0}, tmp_path)
    limits = R.Limits(naive_budget=R.GiB, kill_above=4 * R.GiB, timeout=60)
    m = R.run_task("ac_zsc", {"data": str(path), "k": 5}, limits)
    assert m.ok, m.status
    assert m.seconds > 0 and m.baseline and m.peak >= m.baseline
    assert len(m.result["labels"]) == 400 and m.result["labels"].max() == 4
    skipped = R.run_task("ac_sklearn", {"data": str(path), "k": 5}, limits,
                         estimate=C.ac_sklearn_bytes(100_000, 50))
    assert skipped.status == "not attempted" and "does not fit" in R._peak(skipped)
    X, _ = load(path)
    assert X.shape == (400, 8)


def test_sweep_steps_and_sklearn_spectral_agree(tmp_path):
    from sklearn.metrics import adjusted_rand_score

    path = data_path({"n": 500, "d": 16, "classes": 10, "seed": 0, "separation": 1.0}, tmp_path)
    out = {name: C.sweep_step({"umap": str(path), "clusterer": name})
           for name in ("spectral", "spectral_sklearn", "ac_with_c")}
    for name, r in out.items():
        assert r["seconds"] > 0 and len(r["labels"]) == 500, name
        assert r["n_clusters"] == 10 and 0 < r["ami"] <= 1, name
    ari = adjusted_rand_score(out["spectral"]["labels"], out["spectral_sklearn"]["labels"])
    assert ari == 1.0
