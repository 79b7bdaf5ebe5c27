"""The paper's 26 evaluation datasets and its two hyper-parameter sets.

What each dataset is, which splits it has, which files each split needs, its taxonomy levels, how
to get it and which part of the paper's code (github.com/scottclowe/zs-ssl-clustering at 5cb58bd)
its splits follow is data: ``zsc/resources/paper_datasets.csv`` (columns ``splits``, ``levels``,
``test_files``/``train_files`` — ';'-separated paths relative to the dataset's folder,
``how_to_get``, ``image_size`` — the native size from the paper code's ``image_dataset_sizes``,
and ``paper_code``). This module holds only the loaders, one per dataset.

Splits the paper's code builds itself, reproduced here:

* UTKFace — ``datasets/utkface.py:185-274``: 3 corrupt files dropped, images sorted by age (ties
  in file-name order, the order the code's comment relies on), every 4th to test (5,925).
* BreakHis — ``datasets/breakhis.py:235-293`` and ``datasets/api.py:812-847,964-1021``: 32 classes
  (tumour type x magnification), ``train_test_split(test_size=0.40, random_state=0)`` stratified.
* EuroSAT — ``datasets/api.py:787-811``: the same helper with ``test_size=0.15``.
* BIOSCAN-1M — ``datasets/bioscan.py:161-240``: test = seen_keys ∪ test_seen ∪ test_unseen ∪
  test_unseen_keys, train = train_seen ∪ test_unseen_keys (the paper's code puts
  test_unseen_keys in both); label codes from the full metadata, so train and test agree.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataMissingError
from .core import (
    DATASETS,
    DatasetSpec,
    LoadedDataset,
    Loader,
    get_dataset,
    missing_error,
    paper_table,
)

_LOAD_ERRORS = (RuntimeError, FileNotFoundError, OSError, ValueError, KeyError)


def _targets(ds: Any) -> np.ndarray:
    """Labels of a torchvision-style dataset without decoding its images."""
    for attr in ("targets", "_labels", "labels", "y", "identity"):  # identity: CelebA
        t = getattr(ds, attr, None)
        if t is not None:
            return np.asarray(t, dtype=np.int64).reshape(len(ds), -1)[:, 0]
    samples = getattr(ds, "_samples", None) or getattr(ds, "samples", None)
    if samples is not None:
        return np.asarray([s[1] for s in samples], dtype=np.int64)
    raise TypeError(f"cannot read labels of {type(ds).__name__} without decoding")


class _RGB(Sequence[Any]):
    """A torchvision dataset viewed as a sequence of RGB PIL images."""

    def __init__(self, ds: Any) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> Any:  # type: ignore[override]
        img = self.ds[i][0]
        return img.convert("RGB") if hasattr(img, "convert") else img


class _Files(Sequence[Any]):
    """Image files opened lazily as RGB PIL images."""

    def __init__(self, files: Sequence[Path]) -> None:
        self.files = list(files)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Any:  # type: ignore[override]
        from PIL import Image

        return Image.open(self.files[i]).convert("RGB")


def _fail(name: str, root: Path, err: BaseException) -> Exception:
    return missing_error(name, root, get_dataset(name).how_to_get, err)


def _split_files(name: str, split: str) -> tuple[str, ...]:
    return get_dataset(name).files[split]


def _tv(cls_name: str, split_kwargs: dict[str, dict[str, Any]], **fixed: Any) -> Loader:
    """Loader for a torchvision dataset class, with download disabled."""

    def load(root: Path, split: str, name: str) -> LoadedDataset:
        import torchvision.datasets as tvd

        cls = getattr(tvd, cls_name)
        kwargs = dict(fixed, **split_kwargs[split])
        if "download" in inspect.signature(cls).parameters:
            kwargs["download"] = False
        try:
            ds = cls(str(root), **kwargs)
        except Exception as err:  # noqa: BLE001 - torchvision's own errors, reported with the path
            raise _fail(name, root, err) from err
        labels = _targets(ds)
        classes = [str(c) for c in getattr(ds, "classes", sorted(set(labels.tolist())))]
        return LoadedDataset(name, split, _RGB(ds), labels, classes)

    return load


def _image_folder(root: Path, name: str, subdir: str) -> Any:
    from torchvision.datasets import ImageFolder

    try:
        return ImageFolder(str(root / subdir))
    except _LOAD_ERRORS as err:
        raise _fail(name, root / subdir, err) from err


def _folder(int_class_names: bool = False) -> Loader:
    """Loader for `<folder>/<split's first file entry>/<class>/<image>` (torchvision ImageFolder:
    classes in sorted folder-name order, as the paper's code)."""

    def load(root: Path, split: str, name: str) -> LoadedDataset:
        ds = _image_folder(root, name, _split_files(name, split)[0])
        labels = _targets(ds)
        classes = list(ds.classes)
        if int_class_names:  # ImageNet-v2 names folders 0..999: keep the ImageNet index
            remap = np.array([int(c) for c in classes])
            labels, classes = remap[labels], [str(i) for i in range(int(remap.max()) + 1)]
        return LoadedDataset(name, split, _RGB(ds), labels, classes)

    return load


def _train_test_split(labels: np.ndarray, split: str, test_size: float) -> np.ndarray:
    """The paper's ``create_train_val_split`` (datasets/api.py:964-1021): sklearn's stratified
    ``train_test_split`` of the sample indices, seed 0; indices in the order it returns them."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(np.arange(len(labels)), test_size=test_size, random_state=0,
                                   stratify=labels)
    return test if split == "test" else train


def _eurosat(root: Path, split: str, name: str = "eurosat") -> LoadedDataset:
    ds = _image_folder(root, name, _split_files(name, split)[0])
    labels = _targets(ds)
    full = LoadedDataset(name, split, _RGB(ds), labels, list(ds.classes))
    return full.subset(_train_test_split(labels, split, 0.15))


BREAKHIS_TUMOUR_TYPES = ("A", "F", "PT", "TA", "DC", "LC", "MC", "PC")
BREAKHIS_MAGNIFICATIONS = (40, 100, 200, 400)


def _breakhis(root: Path, split: str, name: str = "breakhis") -> LoadedDataset:
    """32 classes: magnification index x 8 + tumour-type index, parsed from
    ``SOB_<B|M>_<type>-<year>-<slide>-<mag>-<seq>.png`` (the paper's breakhis.py:235-293)."""
    base = root / _split_files(name, split)[0]
    files = sorted(
        os.path.relpath(os.path.join(d, f), base)
        for d, _, fs in os.walk(base) for f in fs if f.startswith("SOB_") and f.endswith(".png")
    )
    if not files:
        raise _fail(name, base, FileNotFoundError("no SOB_*.png images"))
    labels = []
    for f in files:
        tumour, _, _, mag = os.path.basename(f).split("_")[-1].split("-")[:4]
        labels.append(BREAKHIS_MAGNIFICATIONS.index(int(mag)) * len(BREAKHIS_TUMOUR_TYPES)
                      + BREAKHIS_TUMOUR_TYPES.index(tumour))
    classes = [f"{t}-{m}X" for m in BREAKHIS_MAGNIFICATIONS for t in BREAKHIS_TUMOUR_TYPES]
    full = LoadedDataset(name, split, _Files([base / f for f in files]),
                         np.asarray(labels, dtype=np.int64), classes)
    return full.subset(_train_test_split(full.labels, split, 0.40))


UTKFACE_CORRUPT = (  # no race field in the name (the paper's utkface.py:70-74)
    "39_1_20170116174525125.jpg.chip.jpg",
    "61_1_20170109142408075.jpg.chip.jpg",
    "61_1_20170109150557335.jpg.chip.jpg",
)


def utkface_test_mask(ages: np.ndarray) -> np.ndarray:
    """The paper's UTKFace test partition (utkface.py:240-265) over images already sorted by
    age: every 4th (np.linspace from 2 to n-3, n//4 points, rounded), then, for each age with no
    training image left, its first image moved back to train."""
    n = len(ages)
    split_rate = 0.25
    margin = int(0.5 / split_rate)
    test = np.zeros(n, bool)
    test[np.round(np.linspace(margin, n - 1 - margin, int(split_rate * n))).astype(int)] = True
    for age in dict.fromkeys(ages.tolist()):  # ages in order of appearance, as pandas' unique
        if not np.any((ages == age) & ~test):
            test[np.flatnonzero(ages == age)[0]] = False
    return test


def _utkface(root: Path, split: str, name: str = "utkface") -> LoadedDataset:
    """Age classes. The paper sorted the file names, then the table by age with pandas'
    default (unstable) quicksort; here ties keep file-name order (a stable sort), which is what
    the paper's comment intends and does not depend on the machine's numpy build."""
    folder = root / _split_files(name, split)[0]
    try:
        names = sorted(f for f in os.listdir(folder)
                       if f.endswith(".jpg") and f not in UTKFACE_CORRUPT)
    except OSError as err:
        raise _fail(name, folder, err) from err
    if not names:
        raise _fail(name, folder, FileNotFoundError("no *.jpg images"))
    ages_all = np.array([int(f.split(".")[0].strip().split("_")[0]) for f in names])
    order = np.argsort(ages_all, kind="stable")
    ages = ages_all[order]
    test = utkface_test_mask(ages)
    keep = test if split == "test" else ~test
    uniq, codes = np.unique(ages, return_inverse=True)  # codes over every age: splits agree
    return LoadedDataset(name, split, _Files([folder / names[i] for i in order[keep]]),
                         codes[keep].astype(np.int64), [str(a) for a in uniq])


BIOSCAN_PARTITIONS = {  # the paper's bioscan.py:215-240
    "train": ("train_seen", "test_unseen_keys"),
    "test": ("seen_keys", "test_seen", "test_unseen", "test_unseen_keys"),
}
_BIOSCAN_LABELS = ("phylum", "class", "order", "family", "subfamily", "tribe", "genus", "species",
                   "uri")


def bioscan_metadata(tsv: Path) -> Any:
    """BIOSCAN-1M's metadata with the paper's label fixes (bioscan.py:161-213): 'not_classified'
    as missing, three tribes completed, genus from the species name, placeholder tribes and
    subfamilies; every label a pandas category over the *full* table, codes in `<level>_index`."""
    import pandas as pd

    df = pd.read_csv(tsv, sep="\t", dtype=str, usecols=[
        "sampleid", "uri", "phylum", "class", "order", "family", "subfamily", "tribe", "genus",
        "species", "image_file", "chunk_number"])
    df = df.mask(df == "not_classified")
    for genus, tribe in (("Asteia", "Asteiini"), ("Nemorilla", "Winthemiini"),
                         ("Philaenus", "Philaenini")):
        df.loc[df["genus"].notna() & (df["genus"] == genus), "tribe"] = tribe
    sel = df["genus"].isna() & df["species"].notna()
    df.loc[sel, "genus"] = df.loc[sel, "species"].apply(lambda x: x.split(" ")[0])
    sel = df["tribe"].isna() & df["genus"].notna()
    sel2 = df["subfamily"].notna()
    df.loc[sel & sel2, "tribe"] = "unassigned " + df.loc[sel, "subfamily"]
    df.loc[sel & ~sel2, "tribe"] = "unassigned " + df.loc[sel, "family"]
    sel = df["subfamily"].isna() & df["tribe"].notna()
    df.loc[sel, "subfamily"] = "unassigned " + df.loc[sel, "family"]
    for c in _BIOSCAN_LABELS:
        df[c] = df[c].astype("category")
        df[c + "_index"] = df[c].cat.codes.astype(np.int64)
    return df


def _bioscan(root: Path, split: str, name: str = "bioscan1m") -> LoadedDataset:
    files = _split_files(name, split)
    try:
        df = bioscan_metadata(root / files[0])
        keys: list[str] = []
        for part in BIOSCAN_PARTITIONS[split]:
            keys += [x.rstrip() for x in (root / f"{part}.txt").read_text().splitlines()]
    except _LOAD_ERRORS as err:
        raise _fail(name, root, err) from err
    df = df.loc[df["sampleid"].isin(keys)]
    images = root / files[-1]
    paths = [images / f"part{int(c)}" / f for c, f in zip(df["chunk_number"], df["image_file"],
                                                           strict=True)]
    levels = get_dataset(name).levels
    hierarchy = {lv: df[f"{lv}_index"].to_numpy() for lv in levels}
    return LoadedDataset(name, split, _Files(paths), hierarchy["species"],
                         [str(c) for c in df["species"].cat.categories], hierarchy)


def _inaturalist(root: Path, split: str, name: str = "inaturalist2021") -> LoadedDataset:
    import torchvision.datasets as tvd

    version = _split_files(name, split)[0]  # 2021_valid / 2021_train (the paper: not train_mini)
    levels = get_dataset(name).levels[:-1]  # kingdom ... genus; species is the category itself
    try:
        ds = tvd.INaturalist(str(root), version=version, target_type=list(levels),
                             download=False)
    except Exception as err:  # noqa: BLE001 - torchvision's own errors, reported with the path
        raise _fail(name, root, err) from err
    species = np.array([c for c, _ in ds.index], dtype=np.int64)
    hierarchy = {lv: np.array([ds.categories_map[c][lv] for c in species], dtype=np.int64)
                 for lv in levels}
    hierarchy["species"] = species
    return LoadedDataset(name, split, _RGB(ds), species,
                         [str(c) for c in ds.all_categories], hierarchy)


def _nabirds(root: Path, split: str, name: str = "nabirds") -> LoadedDataset:
    def table(f: str) -> dict[str, str]:
        return dict(line.split() for line in (root / f).read_text().splitlines() if line.strip())

    try:
        paths, labels, is_train = (table(f) for f in _split_files(name, split)[:3])
    except _LOAD_ERRORS as err:
        raise _fail(name, root, err) from err
    uniq = sorted(set(labels.values()), key=int)  # codes over every image: splits agree
    code = {c: i for i, c in enumerate(uniq)}
    keep = [k for k in paths if (is_train[k] == "1") == (split == "train")]
    images = root / _split_files(name, split)[3]
    return LoadedDataset(name, split, _Files([images / paths[k] for k in keep]),
                         np.array([code[labels[k]] for k in keep], dtype=np.int64), uniq)


_TT = {"test": {"train": False}, "train": {"train": True}}
_SPLIT = {"test": {"split": "test"}, "train": {"split": "train"}}

LOADERS: dict[str, Loader] = {
    "imagenet": _folder(),
    "imagenet_v2": _folder(int_class_names=True),
    "cifar10": _tv("CIFAR10", _TT),
    "cifar100": _tv("CIFAR100", _TT),
    "in9_original": _folder(),
    "in9_fg_only": _folder(),
    "in9_mixed_rand": _folder(),
    "imagenet_r": _folder(),
    "imagenet_sketch": _folder(),
    "imagenet_o": _folder(),
    "lsun": _folder(),
    # the paper's code leaves torchvision's default small=False: the high-resolution images
    "places365": _tv("Places365", {"test": {"split": "val"}, "train": {"split": "train-standard"}},
                     small=False),
    "fgvc_aircraft": _tv("FGVCAircraft", _SPLIT, annotation_level="variant"),
    "stanford_cars": _tv("StanfordCars", _SPLIT),
    "flowers102": _tv("Flowers102", _SPLIT),
    "nabirds": _nabirds,
    "bioscan1m": _bioscan,
    "inaturalist2021": _inaturalist,
    "celeba": _tv("CelebA", _SPLIT, target_type="identity"),
    "utkface": _utkface,
    "breakhis": _breakhis,
    "dtd": _tv("DTD", _SPLIT, partition=1),
    "eurosat": _eurosat,
    "mnist": _tv("MNIST", _TT),
    "svhn": _tv("SVHN", _SPLIT),
}


# The paper's kNN probes ImageNet-v2, -R, -Sketch and -O with ImageNet-1k train as the memory
# (zs_ssl_probing/generate_eval_scripts.py: `imagenet_alternatives`). zsc keeps ImageNet-v2's
# folders 0..999 as ImageNet indices; the others name their folders by WordNet id, a subset of
# ImageNet's for -R and -O (200 classes), so their labels are matched by that name.
KNN_MEMORY = {"imagenet_v2": ("imagenet", "index"), "imagenet_r": ("imagenet", "name"),
              "imagenet_sketch": ("imagenet", "name"), "imagenet_o": ("imagenet", "name")}


def folder_classes(name: str, split: str, data_dir: str | os.PathLike[str] | None = None
                   ) -> list[str]:
    """The class names of an image-folder split (its sorted sub-folders, as ImageFolder reads
    them), without reading the images."""
    spec = get_dataset(name)
    top = spec.files_root(data_dir) / spec.files[split][0]
    try:
        return sorted(e.name for e in os.scandir(top) if e.is_dir())
    except OSError as err:
        raise _fail(name, top, err) from err


def memory_labels(name: str, labels: np.ndarray, data_dir: str | os.PathLike[str] | None = None,
                  memory_dir: str | os.PathLike[str] | None = None) -> np.ndarray:
    """`labels` of `name`'s test split as labels of its kNN memory (`DatasetSpec.knn_memory`):
    unchanged for a dataset probed against its own train split."""
    spec = get_dataset(name)
    labels = np.asarray(labels)
    if spec.knn_memory is None or spec.knn_label == "index":
        return labels
    mine = folder_classes(name, "test", data_dir)
    theirs = {c: i for i, c in enumerate(folder_classes(spec.knn_memory, "train", memory_dir))}
    missing = sorted(set(mine) - set(theirs))
    if missing:
        raise DataMissingError(f"{name}: {len(missing)} of its classes are not classes of "
                               f"{spec.knn_memory}'s train split (e.g. {missing[0]}); its kNN "
                               "memory cannot label them")
    return np.array([theirs[c] for c in mine])[labels]


def _register() -> None:
    for row in paper_table():
        name = row["name"]
        if name == "fashion_mnist":  # loads offline: registered by zsc.data.offline
            continue
        files = {s: row[f"{s}_files"] for s in row["splits"]}
        DATASETS.register(name, DatasetSpec(
            name=name, title=row["title"], group=row["group"], loader=LOADERS[name],
            splits=row["splits"], files=files, how_to_get=row["how_to_get"], paper=row,
            levels=row["levels"], image_size=row["image_size"],
            **({"knn_memory": KNN_MEMORY[name][0], "knn_label": KNN_MEMORY[name][1]}
               if name in KNN_MEMORY else {}),
        ))
    # The paper's hyper-parameter sets (its ImageNet-1k is also an evaluation set, above):
    # imagenette2 / imagewoof2 "full size", <set>/{train,val}/<wnid>/ (datasets/api.py:353-387).
    for name, title in [("imagenette", "Imagenette"), ("imagewoof", "Imagewoof")]:
        DATASETS.register(name, DatasetSpec(
            name=name, title=title, group="In-domain", loader=_folder(), role="hyperparameter",
            files={"test": (f"{name}2/val",), "train": (f"{name}2/train",)},
            how_to_get=f"Download {name}2 (full size) and extract it so that "
                       f"<root>/{name}2/val/<wnid>/ and <root>/{name}2/train/<wnid>/ exist.",
        ))


_register()
