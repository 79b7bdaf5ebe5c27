"""A fake data folder with every paper dataset's on-disk layout: tiny images, a few per class.

    from fake_paper_data import make_fake_paper_root  # tests/ is on sys.path under pytest
    info = make_fake_paper_root(tmp_path / "data")      # one folder per dataset name
    monkeypatch.setenv("ZSC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ZSC_FASHION_MNIST_DIR", raising=False)

Every file a split declares (``zsc/resources/paper_datasets.csv``) is written, so
`zsc.data.available_splits` and `zsc.data.fingerprint` see the split, and in its real format
(small enough to load: a few 8x8 images per class), so every loader reads it. torchvision's MD5
checks of CIFAR, SVHN, Places365, Flowers102 and CelebA fail on fake files:
`allow_fake_checksums(monkeypatch)` turns them off.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from zsc.data import paper_table
from zsc.data.paper import BREAKHIS_MAGNIFICATIONS, BREAKHIS_TUMOUR_TYPES

_RNG = np.random.default_rng(0)


def _image(path: Path, size: int = 8) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    arr = _RNG.integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, format="PNG" if path.suffix == ".png" else "JPEG")


def _image_folder(folder: Path, classes: Iterable[str], per_class: int = 2, ext: str = ".jpg") -> int:
    n = 0
    for c in classes:
        for i in range(per_class):
            _image(folder / c / f"img_{i}{ext}")
            n += 1
    return n


def _text(path: Path, lines: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"fake")


def _idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def _pickle(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj))


def _cifar(root: Path, train: bool, coarse: bool) -> None:
    n_cls = 100 if coarse else 10
    folder = root / ("cifar-100-python" if coarse else "cifar-10-batches-py")
    key = "fine_labels" if coarse else "labels"

    def batch(n: int) -> dict[str, Any]:
        return {"data": _RNG.integers(0, 256, (n, 3072), dtype=np.uint8),
                key: [i % n_cls for i in range(n)]}

    if coarse:
        _pickle(folder / "meta", {"fine_label_names": [f"c{i}" for i in range(n_cls)]})
        _pickle(folder / "test", batch(2 * n_cls))
        if train:
            _pickle(folder / "train", batch(2 * n_cls))
    else:
        _pickle(folder / "batches.meta", {"label_names": [f"c{i}" for i in range(n_cls)]})
        _pickle(folder / "test_batch", batch(20))
        if train:
            for i in range(1, 6):
                _pickle(folder / f"data_batch_{i}", batch(10))


def _svhn(root: Path, split: str) -> None:
    from scipy.io import savemat

    root.mkdir(parents=True, exist_ok=True)
    n = 20
    savemat(root / f"{split}_32x32.mat", {
        "X": _RNG.integers(0, 256, (32, 32, 3, n), dtype=np.uint8),
        "y": (np.arange(n) % 10 + 1).reshape(n, 1)})  # SVHN labels 1..10 (10 is digit 0)


def _places365(root: Path, train: bool) -> None:
    cats = ["/a/abbey", "/b/beach", "/c/canyon"]
    _text(root / "categories_places365.txt", [f"{c} {i}" for i, c in enumerate(cats)])
    val = [f"Places365_val_{i:08d}.jpg" for i in range(1, 7)]
    _text(root / "places365_val.txt", [f"{f} {i % 3}" for i, f in enumerate(val)])
    for f in val:
        _image(root / "val_large" / f)
    if train:
        rows = [f"{c}/{i:08d}.jpg" for c in cats for i in range(2)]
        _text(root / "places365_train_standard.txt",
              [f"{r} {cats.index(r.rsplit('/', 1)[0])}" for r in rows])
        for r in rows:
            _image(root / "data_large_standard" / r.lstrip("/"))


def _aircraft(root: Path, train: bool) -> None:
    data = root / "fgvc-aircraft-2013b" / "data"
    variants = ["707-320", "A300B4", "Cessna 172"]
    _text(data / "variants.txt", variants)
    for split in ("test", "train") if train else ("test",):
        ids = [f"{split}{i:05d}" for i in range(len(variants) * 2)]
        _text(data / f"images_variant_{split}.txt",
              [f"{x} {variants[i % len(variants)]}" for i, x in enumerate(ids)])
        for x in ids:
            _image(data / "images" / f"{x}.jpg")


def _stanford_cars(root: Path, train: bool) -> None:
    from scipy.io import savemat

    base = root / "stanford_cars"
    base.joinpath("devkit").mkdir(parents=True, exist_ok=True)
    savemat(base / "devkit" / "cars_meta.mat",
            {"class_names": np.array(["AM General Hummer SUV 2000", "Acura RL Sedan 2012",
                                      "Audi R8 Coupe 2012"], dtype=object)})
    for split, annos in (("test", base / "cars_test_annos_withlabels.mat"),
                         ("train", base / "devkit" / "cars_train_annos.mat")):
        if split == "train" and not train:
            continue
        rows = np.array([(f"{i:05d}.jpg", i % 3 + 1) for i in range(1, 7)],
                        dtype=[("fname", object), ("class", object)])
        savemat(annos, {"annotations": rows})
        for f in rows["fname"]:
            _image(base / f"cars_{split}" / f)


def _flowers102(root: Path) -> None:
    from scipy.io import savemat

    base = root / "flowers-102"
    base.mkdir(parents=True, exist_ok=True)
    savemat(base / "imagelabels.mat", {"labels": np.array([[1, 2, 1, 2, 1, 2, 1, 2, 1]])})
    savemat(base / "setid.mat", {"trnid": np.array([[1, 2, 3]]), "valid": np.array([[4, 5, 6]]),
                                 "tstid": np.array([[7, 8, 9]])})
    for i in range(1, 10):
        _image(base / "jpg" / f"image_{i:05d}.jpg")


def _celeba(root: Path) -> None:
    base = root / "celeba"
    files = [f"{i:06d}.jpg" for i in range(1, 9)]
    partition = [0, 0, 0, 1, 2, 2, 2, 2]  # train, valid, test
    _text(base / "list_eval_partition.txt", [f"{f} {p}" for f, p in zip(files, partition, strict=True)])
    _text(base / "identity_CelebA.txt", [f"{f} {10 + i % 3}" for i, f in enumerate(files)])
    _text(base / "list_bbox_celeba.txt", [str(len(files)), "image_id x_1 y_1 width height"]
          + [f"{f} 1 2 3 4" for f in files])
    _text(base / "list_landmarks_align_celeba.txt", [str(len(files)), " ".join(
        f"p{i}" for i in range(10))] + [f"{f} " + " ".join(["5"] * 10) for f in files])
    _text(base / "list_attr_celeba.txt", [str(len(files)), " ".join(f"a{i}" for i in range(40))]
          + [f"{f} " + " ".join(["1", "-1"] * 20) for f in files])
    for f in files:
        _image(base / "img_align_celeba" / f)


def _nabirds(root: Path) -> None:
    rows = []
    for i in range(12):
        cls = [295, 296, 1010][i % 3]
        rows.append((str(i + 1), f"{cls:04d}/img{i}.jpg", str(cls), "1" if i < 6 else "0"))
    _text(root / "images.txt", [f"{k} {p}" for k, p, _, _ in rows])
    _text(root / "image_class_labels.txt", [f"{k} {c}" for k, _, c, _ in rows])
    _text(root / "train_test_split.txt", [f"{k} {t}" for k, _, _, t in rows])
    for _, p, _, _ in rows:
        _image(root / "images" / p)


def _bioscan(root: Path, train: bool) -> None:
    cols = ["sampleid", "processid", "uri", "phylum", "class", "order", "family", "subfamily",
            "tribe", "genus", "species", "image_file", "chunk_number"]
    taxa = [("Diptera", "Cecidomyiidae", "not_classified", "not_classified", "not_classified",
             "not_classified"),
            ("Diptera", "Sciaridae", "not_classified", "not_classified", "Bradysia",
             "Bradysia sp1"),
            ("Hymenoptera", "Formicidae", "Myrmicinae", "not_classified", "not_classified",
             "Pheidole sp2"),
            ("Diptera", "Asteiidae", "not_classified", "not_classified", "Asteia", "Asteia sp3")]
    lines, ids = ["\t".join(cols)], []
    for i in range(16):
        order, family, subfamily, tribe, genus, species = taxa[i % len(taxa)]
        sid = f"S{i:04d}"
        ids.append(sid)
        chunk = 1 + i % 2
        lines.append("\t".join([sid, f"P{i}", f"BOLD:{i % 5}", "Arthropoda", "Insecta", order,
                                family, subfamily, tribe, genus, species, f"{sid}.jpg",
                                str(chunk)]))
        _image(root / "bioscan" / "images" / "cropped_256" / f"part{chunk}" / f"{sid}.jpg")
    _text(root / "BIOSCAN_Insect_Dataset_metadata.tsv", lines)
    parts = {"train_seen": ids[0:6], "seen_keys": ids[6:8], "test_seen": ids[8:10],
             "test_unseen": ids[10:13], "test_unseen_keys": ids[13:16]}
    for part, keys in parts.items():
        if part == "train_seen" and not train:
            continue
        _text(root / f"{part}.txt", keys)


def _inaturalist(root: Path, train: bool) -> None:
    species = [("Animalia", "Arthropoda", "Insecta", "Lepidoptera", "Nymphalidae", "Vanessa",
                "cardui"),
               ("Animalia", "Chordata", "Aves", "Passeriformes", "Corvidae", "Corvus", "corax"),
               ("Plantae", "Tracheophyta", "Magnoliopsida", "Rosales", "Rosaceae", "Rosa",
                "canina")]
    for version in ("2021_valid", "2021_train") if train else ("2021_valid",):
        for i, s in enumerate(species):
            for j in range(2):
                _image(root / version / f"{i:05d}_{'_'.join(s)}" / f"img{j}.jpg")


def _utkface(root: Path) -> None:
    folder = root / "UTKFace"
    k = 0
    for age, count in [(1, 6), (2, 5), (25, 9), (26, 4), (80, 3), (116, 1)]:
        for _ in range(count):
            k += 1
            _image(folder / f"{age}_{k % 2}_{k % 5}_20170116{k:09d}.jpg.chip.jpg")
    for name in ("39_1_20170116174525125.jpg.chip.jpg",):  # one of the paper's corrupt files
        _image(folder / name)


_BREAKHIS_NAMES = {"A": ("benign", "adenosis"), "F": ("benign", "fibroadenoma"),
                   "PT": ("benign", "phyllodes_tumor"), "TA": ("benign", "tubular_adenoma"),
                   "DC": ("malignant", "ductal_carcinoma"), "LC": ("malignant", "lobular_carcinoma"),
                   "MC": ("malignant", "mucinous_carcinoma"),
                   "PC": ("malignant", "papillary_carcinoma")}


def _breakhis(root: Path) -> None:
    base = root / "BreaKHis_v1" / "histology_slides" / "breast"
    for t in BREAKHIS_TUMOUR_TYPES:
        kind, folder = _BREAKHIS_NAMES[t]
        b = kind[0].upper()
        slide = f"SOB_{b}_{t}_14-{1000 + BREAKHIS_TUMOUR_TYPES.index(t)}"
        for m in BREAKHIS_MAGNIFICATIONS:
            for seq in range(1, 4):
                _image(base / kind / "SOB" / folder / slide / f"{m}X" /
                       f"SOB_{b}_{t}-14-{1000 + BREAKHIS_TUMOUR_TYPES.index(t)}-{m}-{seq:03d}.png")


def _dtd(root: Path, train: bool) -> None:
    data = root / "dtd" / "dtd"
    classes = ["banded", "dotted", "zigzagged"]
    for split in ("test", "train") if train else ("test",):
        rows = [f"{c}/{c}_{split}{i}.jpg" for c in classes for i in range(2)]
        _text(data / "labels" / f"{split}1.txt", rows)
        for r in rows:
            _image(data / "images" / r)


def _mnist(root: Path, compress: bool) -> None:
    for prefix in ("t10k", "train"):
        n = 20
        suffix = ".gz" if compress else ""
        _idx(root / f"{prefix}-images-idx3-ubyte{suffix}",
             _RNG.integers(0, 256, (n, 28, 28)), compress)
        _idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n) % 10, compress)


def make_fake_paper_root(root: Path, splits: Iterable[str] = ("test", "train")
                         ) -> dict[str, dict[str, Any]]:
    """Write all 26 paper datasets under `root/<name>/`. With "train" left out of `splits`, the
    files only a train split needs are not written (datasets whose train split lives in the
    same files as the test split keep it). Returns, per dataset, the splits that should be
    found (``splits``) and whether its loader reads the fake files (``loads``)."""
    root = Path(root)
    train = "train" in tuple(splits)
    wnids = ["n01440764", "n01443537", "n01484850"]
    info: dict[str, dict[str, Any]] = {}
    folders = {"imagenet": ("val", "train"), "in9_original": ("original/val", "original/train"),
               "in9_fg_only": ("only_fg/val", "only_fg/train"),
               "in9_mixed_rand": ("mixed_rand/val", "mixed_rand/train"), "lsun": ("val", "train")}
    for name, (test_dir, train_dir) in folders.items():
        _image_folder(root / name / test_dir, wnids)
        if train:
            _image_folder(root / name / train_dir, wnids)
    _image_folder(root / "imagenet_v2" / "imagenetv2-matched-frequency-format-val", ["0", "1", "10"])
    _image_folder(root / "imagenet_r" / "imagenet-r", wnids[1:])  # -R and -O: 200 of the 1000
    _image_folder(root / "imagenet_sketch" / "sketch", wnids)
    _image_folder(root / "imagenet_o" / "imagenet-o", wnids[1:])
    _cifar(root / "cifar10", train, coarse=False)
    _cifar(root / "cifar100", train, coarse=True)
    _places365(root / "places365", train)
    _aircraft(root / "fgvc_aircraft", train)
    _stanford_cars(root / "stanford_cars", train)
    _flowers102(root / "flowers102")
    _nabirds(root / "nabirds")
    _bioscan(root / "bioscan1m", train)
    _inaturalist(root / "inaturalist2021", train)
    _celeba(root / "celeba")
    _utkface(root / "utkface")
    _breakhis(root / "breakhis")
    _dtd(root / "dtd", train)
    _image_folder(root / "eurosat" / "eurosat" / "2750",
                  ["AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial",
                   "Pasture", "PermanentCrop", "Residential", "River", "SeaLake"], per_class=7)
    _mnist(root / "mnist" / "MNIST" / "raw", compress=False)
    _mnist(root / "fashion_mnist", compress=True)
    _svhn(root / "svhn", "test")
    if train:
        _svhn(root / "svhn", "train")

    same_files = {"flowers102", "nabirds", "utkface", "breakhis", "eurosat", "mnist", "celeba",
                  "fashion_mnist"}  # train and test read the same files
    for row in paper_table():
        name = row["name"]
        present = tuple(s for s in row["splits"]
                        if s == "test" or train or name in same_files)
        info[name] = {"splits": present}
    return info


def allow_fake_checksums(monkeypatch: Any) -> None:
    """torchvision checks the MD5 of CIFAR's, SVHN's, Places365's, Flowers102's and CelebA's
    files: accept fake ones."""
    import torchvision.datasets.celeba as celeba
    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.flowers102 as flowers102
    import torchvision.datasets.places365 as places365
    import torchvision.datasets.svhn as svhn

    for module in (cifar, svhn, places365, flowers102, celeba):
        monkeypatch.setattr(module, "check_integrity", lambda *a, **k: True)
