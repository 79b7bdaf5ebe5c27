"""Adding a clusterer is one declaration: registered in one place, it runs through `zsc run`,
gets zsc's defaults (the paper did not run it), its checks and its memory need."""

from __future__ import annotations

import pytest

from zsc import settings
from zsc.cli import main
from zsc.cluster import CLUSTERERS, ClustererSpec, check_params, memory_need
from zsc.errors import InvalidParameterError
from zsc.reduce import UMAP_PAPER
from zsc.results import ResultsStore


def _birch(n_clusters: int, seed: int, **p):  # noqa: ANN003, ANN202
    from sklearn.cluster import Birch

    return Birch(n_clusters=n_clusters, **p)


def _threshold_positive(spec: ClustererSpec, p) -> None:  # noqa: ANN001
    if p["threshold"] <= 0:
        raise InvalidParameterError(f"{spec.title}: threshold must be positive")


@pytest.fixture
def birch(monkeypatch):
    spec = ClustererSpec(name="birch", title="BIRCH", uses_n_clusters=True, factory=_birch,
                         defaults={"threshold": 0.5, "branching_factor": 50},
                         memory=lambda n, d, p, itemsize: 3 * n * d * 8,
                         checks=(_threshold_positive,))
    monkeypatch.setitem(CLUSTERERS._items, "birch", spec)  # the one place: the registry
    return spec


def test_a_clusterer_declared_once_runs_through_zsc_run(birch, tmp_path, capsys):
    assert main(["run", "pixels", "digits", "--clusterer", "birch", "--n-samples", "300",
                 "--results", str(tmp_path)]) == 0
    row = ResultsStore(tmp_path).read().iloc[0]
    assert row["clusterer"] == "birch" and row["clusterer_title"] == "BIRCH"
    assert row["ami"] > 0.3 and row["n_clusters_pred"] == 10
    s = settings.paper_setting("birch", "pixels")  # not in the paper: zsc's defaults
    assert s.reducer == UMAP_PAPER and s.params == birch.defaults and "did not run" in s.source
    assert "birch" not in settings.paper_clusterers()


def test_its_checks_and_memory_come_from_the_declaration(birch, capsys):
    with pytest.raises(InvalidParameterError, match="threshold must be positive"):
        check_params("birch", {"threshold": -1.0})
    assert main(["run", "pixels", "digits", "--clusterer", "birch", "--params",
                 '{"birch": {"threshold": 0}}']) == 2
    assert "threshold must be positive" in capsys.readouterr().err
    assert memory_need("birch", 1000, 10) == 3 * 1000 * 10 * 8


def test_the_papers_clusterers_are_declared_with_their_paper_names():
    assert settings.paper_clusterers() == {
        "kmeans": "KMeans", "spectral": "SpectralClustering", "ac_with_c": "AC w/ C",
        "ac_without_c": "AC w/o C", "affinity_propagation": "AffinityPropagation",
        "hdbscan": "HDBSCAN"}
    with pytest.raises(ValueError, match="together"):
        ClustererSpec(name="x", title="X", uses_n_clusters=False, factory=_birch, paper_name="X")
