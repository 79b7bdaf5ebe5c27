import gzip
import shutil

import numpy as np
import pytest

from zsc import data
from zsc.errors import DataMissingError, InvalidParameterError, UnknownNameError


def test_fashion_mnist_matches_paper_table():
    ds = data.load_dataset("fashion_mnist")
    stats = data.dataset_stats(ds.labels)
    paper = data.get_dataset("fashion_mnist").paper
    assert stats == {"n_samples": 10_000, "n_classes": 10, "imbalance": 1.0}
    assert (stats["n_samples"], stats["n_classes"]) == (paper["n_samples"], paper["n_classes"])
    assert stats["imbalance"] == pytest.approx(paper["imbalance"])
    assert ds.images.shape == (10_000, 28, 28) and ds.images.dtype == np.uint8


def test_fashion_mnist_hierarchy_is_a_taxonomy():
    ds = data.load_dataset("fashion_mnist")
    coarse, fine = ds.hierarchy["coarse"], ds.hierarchy["fine"]
    assert np.array_equal(fine, ds.labels)
    # every fine class maps to exactly one coarse class
    for c in np.unique(fine):
        assert len(np.unique(coarse[fine == c])) == 1
    assert data.dataset_stats(coarse)["n_classes"] == 4
    names = dict(zip(data.FASHION_MNIST_CLASSES, data.FASHION_MNIST_FINE_TO_COARSE, strict=True))
    assert data.FASHION_MNIST_COARSE[names["Sneaker"]] == "footwear"
    assert data.FASHION_MNIST_COARSE[names["Trouser"]] == "lower-body garment"
    assert data.FASHION_MNIST_COARSE[names["Bag"]] == "bag"


def test_paper_table_is_registered():
    rows = data.paper_table()
    assert len(rows) == 26
    assert {r["group"] for r in rows} == set(data.GROUPS)
    for r in rows:
        spec = data.get_dataset(r["name"])
        assert spec.group == r["group"] and spec.paper["n_classes"] == r["n_classes"]
    assert data.get_dataset("inaturalist2021").levels[-1] == "species"
    assert {s.name for s in data.list_datasets(role="hyperparameter")} == {"imagenette", "imagewoof"}


def test_offline_variants_are_deterministic_and_differ():
    base = data.load_dataset("fashion_mnist").images
    for name in ["fashion_mnist_inverted", "fashion_mnist_sketch", "fashion_mnist_rotated",
                 "fashion_mnist_lowres"]:
        a, b = data.load_dataset(name), data.load_dataset(name)
        assert np.array_equal(a.images, b.images)
        assert a.images.shape == base.shape and not np.array_equal(a.images, base)
        assert data.get_dataset(name).offline_group == "Domain-shift"
    assert np.array_equal(data.load_dataset("fashion_mnist_inverted").images, 255 - base)


def test_digits_splits_partition_the_data():
    tr, te, al = (data.load_dataset("digits", s) for s in ("train", "test", "all"))
    assert len(tr) + len(te) == len(al) == 1797
    assert te.images.max() == 255 and te.images.dtype == np.uint8


def test_subsample_indices():
    labels = np.arange(100)
    idx = data.subsample_indices(labels, 10, seed=1)
    assert len(idx) == 10 and np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, data.subsample_indices(labels, 10, seed=1))
    with pytest.raises(InvalidParameterError, match="between 1 and"):
        data.subsample_indices(labels, 101)


def test_unknown_dataset_lists_known_names():
    with pytest.raises(UnknownNameError) as err:
        data.load_dataset("fashion_mnsit")
    assert "fashion_mnist" in str(err.value) and "Did you mean" in str(err.value)


def test_missing_files_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSC_FASHION_MNIST_DIR", str(tmp_path / "nowhere"))
    data._fashion_arrays.cache_clear()
    with pytest.raises(DataMissingError, match="nowhere") as err:
        data.load_dataset("fashion_mnist")
    assert "apt-get install dataset-fashion-mnist" in str(err.value)
    with pytest.raises(DataMissingError, match="cifar10"):
        data.load_dataset("cifar10", data_dir=tmp_path / "cifar")


def test_truncated_idx_file_is_detected(tmp_path, monkeypatch):
    for f in data.FASHION_MNIST_DEFAULT_DIR.glob("*.gz"):
        shutil.copy(f, tmp_path / f.name)
    raw = gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz").read()
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(raw[: len(raw) // 2])
    monkeypatch.setenv("ZSC_FASHION_MNIST_DIR", str(tmp_path))
    data._fashion_arrays.cache_clear()
    with pytest.raises(DataMissingError, match="header says"):
        data.load_dataset("fashion_mnist")
    # a gzip stream cut off mid-way is named too
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(
        (data.FASHION_MNIST_DEFAULT_DIR / "t10k-images-idx3-ubyte.gz").read_bytes()[:1000])
    data._fashion_arrays.cache_clear()
    with pytest.raises(DataMissingError, match=str(tmp_path)):
        data.load_dataset("fashion_mnist")
    data._fashion_arrays.cache_clear()


def test_bad_split_is_rejected():
    with pytest.raises(InvalidParameterError, match="splits are"):
        data.load_dataset("fashion_mnist", "validation")
