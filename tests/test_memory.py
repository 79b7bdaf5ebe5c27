"""The memory budget of the O(n²) clusterers (issue 16, "Scale"): the estimate, the budget, the
deviations it forces (AP subsample, AC refusal) and that each is recorded, never silent."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import AffinityPropagation as SkAP
from sklearn.datasets import make_blobs

from zsc import cluster as C
from zsc.cluster import memory as M
from zsc.cluster.memory import ap_need, largest_fitting
from zsc.errors import InvalidParameterError


@pytest.mark.parametrize("text,size", [
    ("64GiB", 64 * 2**30), ("500MB", 500 * 10**6), ("12G", 12 * 2**30), ("1MB", 10**6),
    ("1.5 TiB", int(1.5 * 2**40)), ("2k", 2048), ("3KB", 3000), ("1e9", 10**9), ("4096", 4096),
    (4096, 4096), ("7 gb", 7 * 10**9), ("12b", 12),
])
def test_parse_bytes(text, size):
    assert C.parse_bytes(text) == size


@pytest.mark.parametrize("bad", [-3, 0, "0", "-3GiB", "64XB", "", "lots", True, None, [64], "G"])
def test_parse_bytes_refuses(bad):
    with pytest.raises(InvalidParameterError, match="max_memory must be a positive size"):
        C.parse_bytes(bad)
    assert not M.is_size(bad)


def test_default_budget_is_this_machines_memory():
    import os

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert M.machine_memory() == mem == C.memory_budget(None)
    assert C.memory_budget("1MB") == 10**6


def test_memory_need_by_hand():
    n, d = 1000, 10
    assert C.memory_need("affinity_propagation", n, d) == 6 * n * n * 8 + n * (d + 64) * 8
    assert C.memory_need("affinity_propagation", n, d, itemsize=4) == 5 * n * n * 8 + n * (d + 64) * 8
    condensed = n * (n - 1) // 2 * 8
    for name in ("ac_with_c", "ac_without_c"):
        for linkage in ("average", "complete", "weighted"):
            assert C.memory_need(name, n, d, {"linkage": linkage}) == 2 * condensed + n * d * 8
        assert C.memory_need(name, n, d) == n * d * 8  # ward, the default: O(n·d)
        assert C.memory_need(name, n, d, {"linkage": "single"}) == n * d * 8
    for name in ("kmeans", "spectral", "hdbscan"):
        assert C.memory_need(name, n, d) == n * d * 8
    # the brief's scale: 50,000 float32 points in 50-d
    assert M.format_bytes(C.memory_need("affinity_propagation", 50_000, 50, itemsize=4)) == "93.2 GiB"


def _peak(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ap_need_matches_measured_peak(dtype):
    X = np.random.default_rng(0).normal(size=(600, 10)).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peak = _peak(lambda: C.AffinityPropagation(max_iter=30).fit(X))
    need = C.memory_need("affinity_propagation", *X.shape, itemsize=X.dtype.itemsize)
    assert 0.97 * need <= peak <= need


@pytest.mark.parametrize("linkage", ["average", "complete"])
def test_linkage_need_matches_measured_peak(linkage):
    X = np.random.default_rng(0).normal(size=(1500, 10))
    peak = _peak(lambda: C.Agglomerative(5, linkage=linkage).fit(X))
    need = C.memory_need("ac_with_c", *X.shape, {"linkage": linkage})
    assert 0.97 * need <= peak <= 1.01 * need


@pytest.fixture
def blobs600():
    X, _ = make_blobs(n_samples=600, centers=5, n_features=5, cluster_std=1.0, random_state=0)
    return X.astype(np.float32)


def test_ap_over_budget_fits_a_seeded_subsample(blobs600):
    X = blobs600
    res = C.cluster(X, "affinity_propagation", seed=3, max_memory="1MB")
    est = res.estimator
    m = len(est.subsample_)
    # the largest subsample that fits the budget, drawn with the run's seed
    assert ap_need(m, 5, 4) <= 10**6 < ap_need(m + 1, 5, 4)
    assert m == largest_fitting(lambda k: ap_need(k, 5, 4), 600, 10**6) and 2 < m < 600
    assert np.array_equal(est.subsample_,
                          np.sort(np.random.RandomState(3).choice(600, m, replace=False)))
    # the fitted points: exactly scikit-learn's AP on that subsample
    sk = SkAP(damping=0.9, convergence_iter=15, max_iter=1000, random_state=3).fit(X[est.subsample_])
    assert np.array_equal(res.labels[est.subsample_], sk.labels_)
    assert np.array_equal(est.cluster_centers_indices_, est.subsample_[sk.cluster_centers_indices_])
    # the rest: the nearest exemplar
    rest = np.setdiff1d(np.arange(600), est.subsample_)
    d2 = ((X[rest, None, :] - X[est.cluster_centers_indices_][None]) ** 2).sum(-1)
    assert np.array_equal(res.labels[rest], d2.argmin(1))
    assert res.deviation == (
        f"Affinity Propagation fitted on a {m:,}-point seeded subsample of 600 (needs 14.0 MiB, "
        "budget 976.6 KiB); the rest assigned to the nearest exemplar")
    assert res.n_clusters == 5
    other = C.cluster(X, "affinity_propagation", seed=4, max_memory="1MB").estimator.subsample_
    assert not np.array_equal(other, est.subsample_)


def test_ap_under_budget_runs_on_all_points(blobs600):
    X = blobs600
    res = C.cluster(X, "affinity_propagation", seed=1, max_memory="1GiB")
    assert res.deviation == "" and res.estimator.subsample_ is None
    sk = SkAP(damping=0.9, max_iter=1000, random_state=1).fit(X)
    assert np.array_equal(res.labels, sk.labels_)
    assert C.cluster(X, "affinity_propagation").deviation == ""  # the machine's memory


def test_full_matrix_linkage_over_budget_is_refused(blobs600):
    for name, k in (("ac_with_c", 5), ("ac_without_c", None)):
        with pytest.raises(C.MemoryBudgetError) as err:
            C.cluster(blobs600, name, k, linkage="average", max_memory="1MB")
        msg = str(err.value)
        assert "average linkage on 600 points needs 2.8 MiB" in msg
        assert "budget of 976.6 KiB" in msg and "--max-memory 3MiB" in msg
        assert isinstance(err.value, InvalidParameterError)
    # under the budget, or with a vector linkage, all points as before
    assert C.cluster(blobs600, "ac_with_c", 5, linkage="average", max_memory="3MiB").deviation == ""
    res = C.cluster(blobs600, "ac_with_c", 5, linkage="ward", max_memory="1MB")
    assert res.deviation == "" and len(res.labels) == 600


def test_max_memory_is_not_a_clusterer_parameter():
    for name in ("affinity_propagation", "ac_with_c", "ac_without_c"):
        with pytest.raises(InvalidParameterError, match="max_memory cannot be overridden"):
            C.check_params(name, {"max_memory": "1GiB"})


def test_pipeline_row_records_budget_and_deviation(tmp_path):
    from zsc.pipeline import run

    df = run("pixels", "digits", ["affinity_propagation", "kmeans"], n_samples=400,
             max_memory="1MB", store=tmp_path, progress=False)
    rows = df.set_index("clusterer")
    assert rows.loc["affinity_propagation", "deviation"].startswith(
        "Affinity Propagation fitted on a ")
    assert "of 400 (needs" in rows.loc["affinity_propagation", "deviation"]
    assert rows.loc["kmeans", "deviation"] == ""
    assert (df["max_memory"] == 10**6).all()
    from zsc.results import ResultsStore

    stored = ResultsStore(tmp_path).read().set_index("clusterer")
    assert stored.loc["affinity_propagation", "deviation"] == rows.loc["affinity_propagation", "deviation"]
    with pytest.raises(C.MemoryBudgetError, match="average linkage on 400 points"):
        run("pixels", "digits", ["ac_without_c"], n_samples=400, max_memory="1MB",
            params={"ac_without_c": {"linkage": "average"}}, store=tmp_path, progress=False)
    with pytest.raises(InvalidParameterError, match="max_memory must be a positive size"):
        run("pixels", "digits", ["kmeans"], max_memory="-3", store=tmp_path, progress=False)


def test_profile_passes_max_memory_to_cluster_jobs():
    from zsc import profiles
    from zsc.batch import expand

    base = {"encoders": ["pixels"], "datasets": ["digits"], "clusterers": ["kmeans"],
            "n_samples": 100, "knn": False}
    stages, _ = profiles.stages(profiles.load_profile({**base, "max_memory": "64GiB"}))
    (clu,) = [s for s in stages if s["kind"] == "cluster"]
    assert clu["params"]["max_memory"] == "64GiB"
    jobs, invalid = expand(stages)
    assert not invalid and [j.params["max_memory"] for j in jobs if j.kind == "cluster"] == ["64GiB"]
    stages, _ = profiles.stages(profiles.load_profile(base))
    assert all("max_memory" not in s["params"] for s in stages)
    _, invalid = expand(profiles.stages(profiles.load_profile({**base, "max_memory": -3}))[0])
    assert any("max_memory must be a size" in why for why in invalid.values())


def test_book_summary_lists_deviations(monkeypatch):
    from zsc import analysis
    from zsc.report.prose import summary_markdown

    # the analysis lines are test_book's; here only the rows' deviation column matters
    monkeypatch.setattr(analysis, "rank_per_dataset", lambda res, by: None)
    monkeypatch.setattr(analysis, "mean_rank", lambda r: pd.Series({"x": 1.0}))
    monkeypatch.setattr(analysis, "silhouette_correlation", lambda res: pd.DataFrame())
    prof = {"profile": "t", "encoders": ["pixels"], "datasets": ["digits"],
            "clusterers": ["affinity_propagation"], "n_samples": 100, "seed": 0}
    empty = pd.DataFrame()

    def line(res):
        (out,) = [ln for ln in summary_markdown(prof, (res, empty)).splitlines() if "Deviations" in ln]
        return out

    assert line(empty) == "- Deviations from the paper's computation (memory budget): none."
    res = pd.DataFrame({"encoder": ["pixels", "pixels", "pixels"],
                        "dataset": ["digits", "digits", "digits"],
                        "clusterer": ["affinity_propagation", "kmeans", "hdbscan"],
                        "deviation": ["Affinity Propagation fitted on ...", "", None]})
    assert line(res.iloc[1:]) == "- Deviations from the paper's computation (memory budget): none."
    assert line(res.drop(columns="deviation")).endswith("none.")  # rows from before the column
    assert line(res) == ("- Deviations from the paper's computation (memory budget): 1 of 3 rows: "
                         "`pixels` × `digits` × `affinity_propagation` (each row's `deviation` "
                         "column says how).")
