import dataclasses
import gzip
import math
import shutil

import numpy as np
import pytest
from fake_paper_data import allow_fake_checksums, make_fake_paper_root

from zsc import data
from zsc.data import offline as offline_data
from zsc.data import paper as paper_data
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


@pytest.fixture(scope="module")
def fashion_stack():
    """60 Fashion-MNIST test images, blank and constant images among them (edge cases)."""
    x = data.load_dataset("fashion_mnist").images[:60].copy()
    x[7], x[8] = 0, 200
    return x


@pytest.mark.parametrize("name", sorted(offline_data.TRANSFORMS))
def test_each_transform_works_image_by_image(name, fashion_stack):
    """Transforming a stack equals stacking the transformed images, whichever images are loaded
    with it and in whichever order."""
    f, x = offline_data.TRANSFORMS[name], fashion_stack
    whole = f(x)
    alone = np.stack([f(x[i : i + 1])[0] for i in range(len(x))])
    assert np.array_equal(whole, alone)
    order = np.random.default_rng(0).permutation(len(x))
    assert np.array_equal(f(x[order]), whole[order])
    assert np.array_equal(f(x[:5]), whole[:5]) and np.array_equal(f(x[-3:]), whole[-3:])


def test_sketch_of_an_image_is_its_own(fashion_stack):
    """The old sketch smoothed along the image index and divided by the stack's maximum."""
    sketch = offline_data.TRANSFORMS["fashion_mnist_sketch"]
    x = fashion_stack
    for i in (0, 1, 30, len(x) - 1):
        assert np.array_equal(sketch(x[i][None])[0], sketch(x)[i])
    brighter = x.copy()
    brighter[0] = 255  # a neighbour with a strong edge of its own changes nothing here
    assert np.array_equal(sketch(brighter)[1:], sketch(x)[1:])
    assert (sketch(x[7:8]) == 255).all() and (sketch(x[8:9]) == 255).all()  # no edges: white
    s = sketch(x[:1])[0]
    assert s.min() == 0 and s.dtype == np.uint8  # scaled by its own strongest edge


def test_fixed_transforms_carry_a_data_version(monkeypatch):
    """Caches keyed on the data (job keys via the fingerprint, embedding keys) change with the
    version, so nothing made from the old sketch or rotation is reused."""
    from zsc.embed import embedding_config

    sketch = data.get_dataset("fashion_mnist_sketch")
    assert sketch.version >= 1 and data.get_dataset("fashion_mnist_rotated").version >= 1
    before = data.fingerprint("fashion_mnist_sketch", split="test")
    key = embedding_config("pixels", "fashion_mnist_sketch", "test", None, 0, None)
    assert key["data_version"] == sketch.version
    assert "data_version" not in embedding_config("pixels", "fashion_mnist", "test", None, 0, None)
    monkeypatch.setitem(data.DATASETS._items, "fashion_mnist_sketch",
                        dataclasses.replace(sketch, version=sketch.version + 1))
    data.core._fingerprint.cache_clear()
    assert data.fingerprint("fashion_mnist_sketch", split="test") != before
    data.core._fingerprint.cache_clear()


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
    with pytest.raises(DataMissingError, match="header says"):
        data.load_dataset("fashion_mnist")
    # a gzip stream cut off mid-way is named too
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(
        (data.FASHION_MNIST_DEFAULT_DIR / "t10k-images-idx3-ubyte.gz").read_bytes()[:1000])
    with pytest.raises(DataMissingError, match=str(tmp_path)):
        data.load_dataset("fashion_mnist")


def test_bad_split_is_rejected():
    with pytest.raises(InvalidParameterError, match="splits are"):
        data.load_dataset("fashion_mnist", "validation")


# --------------------------------------------------------------------------- declared splits
PAPER = [r["name"] for r in data.paper_table()]


def test_paper_declarations_are_data_written_once():
    for r in data.paper_table():
        spec = data.get_dataset(r["name"])
        assert spec.splits == r["splits"] and "test" in spec.splits
        assert set(spec.files) == set(spec.splits) and all(spec.files.values())
        assert spec.how_to_get == r["how_to_get"] and spec.how_to_get != (spec.loader.__doc__ or "")
        assert r["paper_code"]
    # the paper's code has no train partition for the ImageNet OOD sets (datasets/api.py)
    test_only = {n for n in PAPER if data.get_dataset(n).splits == ("test",)}
    assert test_only == {"imagenet_v2", "imagenet_r", "imagenet_sketch", "imagenet_o"}
    assert data.get_dataset("bioscan1m").levels == (
        "order", "family", "subfamily", "tribe", "genus", "species")
    assert data.get_dataset("mnist").image_size == data.get_dataset("fashion_mnist").image_size == 28


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper_data")
    return root, make_fake_paper_root(root)


@pytest.fixture
def at_fake_root(fake_root, monkeypatch):
    root, info = fake_root
    monkeypatch.setenv("ZSC_DATA_DIR", str(root))
    monkeypatch.delenv("ZSC_FASHION_MNIST_DIR", raising=False)
    allow_fake_checksums(monkeypatch)
    return root, info


@pytest.mark.parametrize("name", PAPER)
def test_fake_root_has_each_declared_split(name, at_fake_root):
    root, info = at_fake_root
    spec = data.get_dataset(name)
    found = data.available_splits(name)
    assert "test" in found
    assert ("train" in found) == ("train" in spec.splits)
    assert found == info[name]["splits"]
    for split in found:
        assert len(data.fingerprint(name, split=split)) == 16
    if name == "fashion_mnist":  # an absent folder falls back to Debian's package folder
        return
    absent = root / "absent" / name
    assert data.available_splits(name, absent) == ()
    with pytest.raises(DataMissingError, match=str(absent)):
        data.load_dataset(name, data_dir=absent)


@pytest.mark.parametrize("name", PAPER)
def test_fake_root_loads(name, at_fake_root):
    _, info = at_fake_root
    for split in info[name]["splits"]:
        ds = data.load_dataset(name, split)
        assert len(ds) > 0 and ds.labels.dtype == np.int64 and len(ds.images) == len(ds)
        assert np.asarray(ds.images[len(ds) - 1]).size > 0
        for level, codes in ds.hierarchy.items():
            assert len(codes) == len(ds), level


def test_fake_root_without_train_splits(tmp_path, monkeypatch):
    info = make_fake_paper_root(tmp_path, splits=("test",))
    monkeypatch.setenv("ZSC_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ZSC_FASHION_MNIST_DIR", raising=False)
    for name in PAPER:
        assert data.available_splits(name) == info[name]["splits"], name
    assert data.available_splits("imagenet") == ("test",)
    assert data.available_splits("utkface") == ("test", "train")  # one folder, split by rule
    with pytest.raises(DataMissingError, match="train_seen.txt") as err:
        data.load_dataset("bioscan1m", "train")
    assert "CLIBD partition files" in str(err.value)


def test_missing_split_file_is_named(tmp_path, monkeypatch):
    make_fake_paper_root(tmp_path)
    monkeypatch.setenv("ZSC_DATA_DIR", str(tmp_path))
    (tmp_path / "fgvc_aircraft/fgvc-aircraft-2013b/data/images_variant_train.txt").unlink()
    assert data.available_splits("fgvc_aircraft") == ("test",)
    with pytest.raises(DataMissingError, match="images_variant_train.txt"):
        data.load_dataset("fgvc_aircraft", "train")


def test_fingerprint_follows_the_data_folder(tmp_path, monkeypatch):
    make_fake_paper_root(tmp_path / "a")
    make_fake_paper_root(tmp_path / "b")
    (tmp_path / "b/dtd/dtd/dtd/labels/test1.txt").write_text("banded/banded_test0.jpg\n")
    monkeypatch.setenv("ZSC_DATA_DIR", str(tmp_path / "a"))
    a = data.fingerprint("dtd", split="test")
    assert data.fingerprint("dtd", split="train") != a
    monkeypatch.setenv("ZSC_DATA_DIR", str(tmp_path / "b"))
    assert data.fingerprint("dtd", split="test") != a


# --------------------------------------------------------------------------- the paper's splits
def _both(name):
    return data.load_dataset(name, "test"), data.load_dataset(name, "train")


def _paths(ds):
    images, idx = ds.images, range(len(ds))
    if hasattr(images, "base"):  # a subset
        images, idx = images.base, ds.images.indices
    files = images.files if hasattr(images, "files") else [p for p, _ in images.ds.samples]
    return [str(files[i]) for i in idx]


def test_utkface_split(at_fake_root):
    te, tr = _both("utkface")
    files = sorted((at_fake_root[0] / "utkface/UTKFace").iterdir())
    assert len(te) + len(tr) == len(files) - 1  # the paper's corrupt file is dropped
    assert not set(_paths(te)) & set(_paths(tr))
    assert len(te) == int(0.25 * (len(files) - 1))
    assert te.class_names == tr.class_names  # codes over every age: kNN labels agree
    ages = [int(te.class_names[c]) for c in te.labels]
    assert ages == sorted(ages)  # age-sorted order, as the paper's table
    for c in np.unique(tr.labels):
        assert c in tr.labels


def test_utkface_test_mask_every_fourth_and_keeps_rare_ages_in_train():
    ages = np.repeat(np.arange(10), 40)
    test = paper_data.utkface_test_mask(ages)
    assert test.sum() == 100 and np.all(np.diff(np.flatnonzero(test)) <= 5)
    ages = np.array([0, 0, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3])  # age 1 sits at index 2 = a test slot
    test = paper_data.utkface_test_mask(ages)
    assert not test[2] and test.sum() == 2


def test_breakhis_split_is_stratified_40_percent(at_fake_root):
    te, tr = _both("breakhis")
    n = len(te) + len(tr)
    assert n == 32 * 3 and len(te) == math.ceil(0.4 * n)
    assert not set(_paths(te)) & set(_paths(tr))
    assert len(np.unique(te.labels)) == len(np.unique(tr.labels)) == 32
    name = _paths(te)[0].rsplit("/", 1)[1]  # SOB_B_TA-14-1003-400-001.png
    tumour, mag = name.split("_")[-1].split("-")[0], name.split("-")[3]
    assert te.class_names[te.labels[0]] == f"{tumour}-{mag}X"


def test_eurosat_split_is_stratified_15_percent(at_fake_root):
    te, tr = _both("eurosat")
    assert len(te) + len(tr) == 70 and len(te) == math.ceil(0.15 * 70)
    assert len(np.unique(te.labels)) == 10 and not set(_paths(te)) & set(_paths(tr))


def test_bioscan_partitions_and_shared_label_codes(at_fake_root):
    root = at_fake_root[0] / "bioscan1m"
    te, tr = _both("bioscan1m")

    def keys(*parts):
        return {k for p in parts for k in (root / f"{p}.txt").read_text().split()}

    assert {p.rsplit("/", 1)[1][:-4] for p in _paths(te)} == keys(
        "seen_keys", "test_seen", "test_unseen", "test_unseen_keys")
    assert {p.rsplit("/", 1)[1][:-4] for p in _paths(tr)} == keys("train_seen", "test_unseen_keys")
    assert te.class_names == tr.class_names
    meta = paper_data.bioscan_metadata(root / "BIOSCAN_Insect_Dataset_metadata.tsv")
    code = dict(zip(meta["sampleid"], meta["species_index"], strict=True))
    for ds in (te, tr):
        ids = [p.rsplit("/", 1)[1][:-4] for p in _paths(ds)]
        assert ds.labels.tolist() == [code[i] for i in ids]
    row = meta.set_index("sampleid")
    assert row.loc["S0002", "genus"] == "Pheidole"  # genus from the species name
    assert row.loc["S0002", "tribe"] == "unassigned Myrmicinae"
    assert row.loc["S0003", "tribe"] == "Asteiini"
    assert row.loc["S0000", "species_index"] == -1  # not_classified is missing, as the paper


def test_fashion_mnist_files_replaced_are_reread(tmp_path, monkeypatch):
    from fake_paper_data import _idx

    monkeypatch.setenv("ZSC_FASHION_MNIST_DIR", str(tmp_path))
    for n in (12, 8):
        _idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((n, 28, 28)), compress=True)
        _idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(n) % 10, compress=True)
        assert len(data.load_dataset("fashion_mnist")) == n  # no cache_clear needed


def test_partitions_read_are_the_papers(at_fake_root):
    """kNN memory: FGVC Aircraft 'train' (not trainval), iNat '2021_train' (not train_mini);
    Places365 test: the high-resolution val_large images (small=False)."""
    aircraft = data.load_dataset("fgvc_aircraft", "train").images.ds
    assert aircraft._split == "train"
    assert all(f.rsplit("/", 1)[1].startswith("train") for f in aircraft._image_files)
    assert data.load_dataset("inaturalist2021", "train").images.ds.root.endswith("2021_train")
    places = data.load_dataset("places365", "test").images.ds
    assert not places.small and all("/val_large/" in f for f, _ in places.imgs)
    celeba = data.load_dataset("celeba", "test")
    assert len(celeba) == 4 and set(celeba.labels.tolist()) <= {10, 11, 12}  # identities


def test_imagenet_variants_are_labelled_as_imagenet_for_their_knn_memory(at_fake_root):
    """As the paper's kNN, the ImageNet variants are probed against ImageNet-1k train: ImageNet-R's
    folders (a subset of ImageNet's WordNet ids) find their ImageNet index by name, ImageNet-v2's
    labels already are ImageNet indices; a dataset with a train split keeps its labels."""
    r = data.load_dataset("imagenet_r", "test")
    mapped = data.memory_labels("imagenet_r", r.labels)
    imagenet = data.load_dataset("imagenet", "train").class_names
    assert [imagenet[i] for i in mapped] == [r.class_names[i] for i in r.labels]
    assert set(mapped) == {1, 2}  # its two wnids are ImageNet's second and third
    v2 = data.load_dataset("imagenet_v2", "test")
    assert (data.memory_labels("imagenet_v2", v2.labels) == v2.labels).all()
    c = np.array([0, 1, 1])
    assert data.memory_labels("cifar10", c) is not None and (data.memory_labels("cifar10", c) == c).all()
    assert data.get_dataset("imagenet_o").knn_memory == "imagenet"
