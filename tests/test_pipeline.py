"""`zsc.pipeline.run` scores each row where the paper's code scored it."""

from __future__ import annotations

import numpy as np
import pytest

from zsc import pipeline
from zsc.metrics import silhouette_exact
from zsc.reduce import ReducerConfig
from zsc.settings import SILHOUETTE_UMAP_SEED


def test_umap_silhouette_is_in_the_runs_own_umap_space_else_the_seed_42_one(monkeypatch):
    """As the paper's cluster.py and extract_silhouette.py: a run that clustered on UMAP is scored
    in the space it clustered (its own seed), another run in the separate seed-42 UMAP-50."""
    spaces: dict[str, np.ndarray] = {}
    real = pipeline.score_clustering

    def keep(y, pred, *, spaces: dict, **kw):  # noqa: ANN001, ANN003
        keep.spaces.append(spaces["umap"])
        keep.shared.append(spaces.get("umap42"))
        return real(y, pred, spaces=spaces, **kw)

    keep.spaces, keep.shared = [], []
    monkeypatch.setattr(pipeline, "score_clustering", keep)
    own = pipeline.run("pixels", "digits", ["kmeans"], n_samples=200, seed=3, progress=False,
                       reducer=ReducerConfig("umap", 5), silhouette_max_samples=None)
    other = pipeline.run("pixels", "digits", ["kmeans"], n_samples=200, seed=3, progress=False,
                         reducer=ReducerConfig("pca", 5), silhouette_max_samples=None)
    spaces["own"], spaces["other"] = keep.spaces
    assert spaces["own"].shape[1] == 5 and spaces["other"].shape[1] == 50
    assert own["silhouette_umap_seed"].item() == 3
    assert other["silhouette_umap_seed"].item() == SILHOUETTE_UMAP_SEED
    # the number in the row is the silhouette of the row's labels in that space
    labels = pipeline.cluster(spaces["own"], "kmeans", 10, seed=3).labels
    assert own["silhouette_umap"].item() == pytest.approx(silhouette_exact(spaces["own"], labels))
    # and in the shared seed-42 UMAP-50 too (zsc's space before; chapter 7 compares the two):
    # measured for the UMAP run, the same numbers as its `umap` ones for the other
    shared = keep.shared[0]
    assert shared.shape[1] == 50 and keep.shared[1] is None
    assert np.allclose(shared, spaces["other"])
    assert own["silhouette_umap42"].item() == pytest.approx(silhouette_exact(shared, labels))
    assert other["silhouette_umap42"].item() == other["silhouette_umap"].item()
    assert other["silhouette_umap42_n"].item() == other["silhouette_umap_n"].item()


def test_knn_of_an_imagenet_variant_uses_imagenet_train_as_memory(tmp_path, monkeypatch):
    """As the paper's probing: ImageNet-R's test embedding against ImageNet-1k train's, its labels
    matched to ImageNet's by class name; the row says which memory it used."""
    from fake_paper_data import make_fake_paper_root

    make_fake_paper_root(tmp_path / "data")
    monkeypatch.setenv("ZSC_DATA_DIR", str(tmp_path / "data"))
    seen = {}
    real = pipeline.knn_correct

    def spy(train_x, train_y, test_x, test_y, ks, **kw):  # noqa: ANN001, ANN003
        seen.update(train=len(train_y), test_labels=set(test_y.tolist()))
        return real(train_x, train_y, test_x, test_y, ks, **kw)

    monkeypatch.setattr(pipeline, "knn_correct", spy)
    row = pipeline.knn("pixels", "imagenet_r", ks=[1], store=tmp_path / "knn", progress=False)
    assert row["knn_memory"] == "imagenet" and 0 <= row["knn_acc_k1"] <= 1
    assert seen["train"] == 6  # the fake ImageNet train split: 3 classes x 2 images
    assert seen["test_labels"] == {1, 2}  # ImageNet-R's two wnids, as ImageNet indices


def test_cluster_at_levels_asks_each_levels_k_and_scores_every_level():
    from zsc.analysis import level_members
    from zsc.data import FASHION_MNIST_CLASSES
    from zsc.metrics import ami

    df = pipeline.cluster_at_levels("pixels", "fashion_mnist", ["kmeans", "hdbscan"], n_samples=200)
    assert set(df["clusterer"]) == {"kmeans"}  # hdbscan finds its own k
    assert sorted(zip(df["k_level"], df["k"], df["level"], strict=True)) == [
        ("coarse", 4, "coarse"), ("coarse", 4, "fine"), ("fine", 10, "coarse"), ("fine", 10, "fine")]
    one = pipeline.cluster_one("pixels", "fashion_mnist", "kmeans", n_samples=200)  # k = the classes
    fine = df[(df.k_level == "fine") & (df.level == "fine")]["ami"].item()
    assert fine == pytest.approx(ami(one.embedding.labels, one.result.labels))
    members = level_members("fashion_mnist", "coarse", "fine")
    assert len(members) == 4 and members.iloc[3] == "Bag"
    assert sorted(", ".join(members).split(", ")) == sorted(FASHION_MNIST_CLASSES)
