"""Stage 1 — datasets: a registry of the paper's evaluation sets, its hyper-parameter sets and
offline sets that work with no network.

Every entry is declared once (`DatasetSpec`) with the paper's group and a loader. Loaders never
download: a missing file raises `DataMissingError` naming the dataset, the folder looked in and
how to get the files. Images come back either as one uint8 array (small sets) or as a lazy
sequence of PIL images (large sets), labels always as an int array.
"""

from __future__ import annotations

import csv
import gzip
import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from . import config
from .errors import DataMissingError, InvalidParameterError
from .io import config_hash
from .registry import Registry

GROUPS = ("In-domain", "Domain-shift", "Near-OOD", "Fine-grained", "Far-OOD")
FASHION_MNIST_DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
# Coarse level of the offline taxonomy. A dress is worn from the shoulders, so it is grouped with
# the upper-body garments; trousers are the only lower-body class.
FASHION_MNIST_COARSE = ["upper-body garment", "lower-body garment", "footwear", "bag"]
FASHION_MNIST_FINE_TO_COARSE = np.array([0, 1, 0, 0, 0, 2, 0, 2, 3, 2])


@dataclass
class LoadedDataset:
    """One split of a dataset in memory (or lazily, for large image sets)."""

    name: str
    split: str
    images: np.ndarray | Sequence[Any]
    labels: np.ndarray
    class_names: list[str]
    hierarchy: dict[str, np.ndarray] = field(default_factory=dict)  # coarse -> fine

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> LoadedDataset:
        """The same split restricted to `indices` (order kept)."""
        indices = np.asarray(indices)
        if isinstance(self.images, np.ndarray):
            images: np.ndarray | Sequence[Any] = self.images[indices]
        else:
            images = _Subset(self.images, indices)
        return LoadedDataset(
            self.name, self.split, images, self.labels[indices], self.class_names,
            {k: v[indices] for k, v in self.hierarchy.items()},
        )


class _Subset(Sequence[Any]):
    def __init__(self, base: Sequence[Any], indices: np.ndarray) -> None:
        self.base, self.indices = base, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:  # type: ignore[override]
        return self.base[int(self.indices[i])]


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: what it is in the paper and how to load it."""

    name: str
    title: str
    group: str  # the paper's group (relative to ImageNet-1k pretraining)
    loader: Callable[[Path, str, str], LoadedDataset]  # (root, split, name)
    default_split: str = "test"
    splits: tuple[str, ...] = ("train", "test")
    how_to_get: str = ""
    offline: bool = False  # loads here with no network
    offline_group: str | None = None  # group relative to the offline zoo's Fashion-MNIST domain
    levels: tuple[str, ...] = ()  # taxonomy levels, coarse to fine
    role: str = "evaluation"  # or "hyperparameter"
    paper: dict[str, Any] | None = None  # the paper's table row, if it is one of the 26
    source: Callable[[Path], Path] | None = None  # root -> where the files really are

    def root(self, data_dir: str | os.PathLike[str] | None = None) -> Path:
        return Path(data_dir) if data_dir else config.data_dir() / self.name


DATASETS: Registry[DatasetSpec] = Registry("dataset")


@cache
def paper_table() -> list[dict[str, Any]]:
    """The paper's 26-dataset table (from the talk slides), as rows."""
    text = resources.files("zsc.resources").joinpath("paper_datasets.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    for r in rows:
        r["n_samples"], r["n_classes"] = int(r["n_samples"]), int(r["n_classes"])
        r["imbalance"] = float(r["imbalance"])
    return rows


def dataset_stats(labels: np.ndarray) -> dict[str, float | int]:
    """Samples, classes and imbalance ρ (largest class / smallest class), as in the paper."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    return {
        "n_samples": int(counts.sum()),
        "n_classes": int(len(counts)),
        "imbalance": float(counts.max() / counts.min()) if len(counts) else float("nan"),
    }


def get_dataset(name: str) -> DatasetSpec:
    return DATASETS.get(name)


def list_datasets(*, offline: bool | None = None, role: str | None = None) -> list[DatasetSpec]:
    return [
        s for _, s in DATASETS.items()
        if (offline is None or s.offline == offline) and (role is None or s.role == role)
    ]


def load_dataset(
    name: str, split: str | None = None, data_dir: str | os.PathLike[str] | None = None
) -> LoadedDataset:
    """Load one split of a registered dataset (never downloads)."""
    spec = get_dataset(name)
    split = split or spec.default_split
    if split not in spec.splits:
        raise InvalidParameterError(
            f"dataset {name!r} has no split {split!r}; its splits are: {', '.join(spec.splits)}"
        )
    return spec.loader(spec.root(data_dir), split, spec.name)


@cache
def fingerprint(name: str, data_dir: str | None = None) -> str:
    """Identity of a dataset's files on disk (relative paths, sizes, modification times), cheap
    enough for ImageNet's 1.28 M files: results computed from other data are not reused."""
    spec = get_dataset(name)
    root = spec.root(data_dir)
    src = spec.source(root) if spec.source else root
    entries = []
    if src.is_file():
        st = src.stat()
        entries.append((src.name, st.st_size, st.st_mtime_ns))
    for dirpath, _, files in os.walk(src):
        for f in sorted(files):
            st = os.stat(os.path.join(dirpath, f))
            entries.append((os.path.relpath(os.path.join(dirpath, f), src), st.st_size, st.st_mtime_ns))
    if not entries:
        raise _missing(name, src, spec.how_to_get)
    return config_hash({"dataset": name, "files": sorted(entries)})


def clamp_samples(name: str, n: int | None, split: str | None = None) -> int | None:
    """A profile's sample size `n` clamped to the split's size (None: the whole split). Loads the
    split, so a dataset that is absent here fails now, with its message."""
    total = len(load_dataset(name, split).labels)
    return None if n is None else min(int(n), total)


def subsample_indices(labels: np.ndarray, n: int | None, seed: int = 0) -> np.ndarray:
    """Seeded random subset of `n` indices, sorted; all indices when n is None."""
    total = len(labels)
    if n is None or n == total:
        return np.arange(total)
    if not 0 < n <= total:
        raise InvalidParameterError(
            f"sample size {n} is not between 1 and the dataset's {total} samples; pass at most "
            f"{total} (--n-samples), or none to use them all"
        )
    return np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))


def _missing(spec_name: str, root: Path, how: str, err: BaseException | None = None) -> DataMissingError:
    detail = f" ({err})" if err else ""
    return DataMissingError(
        f"dataset {spec_name!r}: files not found or unreadable in {root}{detail}. {how} "
        f"Set ZSC_DATA_DIR (or pass data_dir) to point zsc at another folder."
    )


# --------------------------------------------------------------------------- offline datasets
def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped), checking its length against its header."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise
    except (OSError, EOFError) as err:  # a gzip stream cut off mid-way, or corrupt
        raise ValueError(f"{path.name} is truncated or damaged ({err})") from err
    if len(data) < 4:
        raise ValueError(f"{path.name} is too short for an IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError("not an unsigned-byte IDX file")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    body = data[4 + 4 * ndim :]
    expected = int(np.prod(shape))
    if len(body) != expected:
        raise ValueError(f"{path.name} is truncated: its IDX body holds {len(body)} bytes, "
                         f"header says {expected}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def fashion_mnist_dir(root: Path | None = None) -> Path:
    """$ZSC_FASHION_MNIST_DIR, else <data dir>/fashion_mnist if it exists, else Debian's folder."""
    if os.environ.get("ZSC_FASHION_MNIST_DIR"):
        return Path(os.environ["ZSC_FASHION_MNIST_DIR"])
    if root is not None and root.exists():
        return root
    return FASHION_MNIST_DEFAULT_DIR


@cache
def _fashion_arrays(folder: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = "t10k" if split == "test" else "train"
    images = read_idx(Path(folder) / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(Path(folder) / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    if len(images) != len(labels):
        raise ValueError("image and label files disagree in length")
    return images, labels


_FASHION_HOW = (
    "Install Debian's package (apt-get install dataset-fashion-mnist) or put the four "
    "*-idx*-ubyte.gz files in that folder (or set ZSC_FASHION_MNIST_DIR)."
)


def _fashion_variant_dir(root: Path) -> Path:
    """A shifted variant reads Fashion-MNIST's own files (its root is never used)."""
    return fashion_mnist_dir(root.parent / "fashion_mnist")


def _load_fashion(root: Path, split: str, name: str = "fashion_mnist",
                  transform: Callable[[np.ndarray], np.ndarray] | None = None) -> LoadedDataset:
    folder = fashion_mnist_dir(root) if name == "fashion_mnist" else _fashion_variant_dir(root)
    try:
        images, labels = _fashion_arrays(str(folder), split)
    except (OSError, ValueError, EOFError, struct.error) as err:
        raise _missing(name, folder, _FASHION_HOW, err) from err
    if transform is not None:
        images = transform(images)
    return LoadedDataset(
        name, split, images, labels, list(FASHION_MNIST_CLASSES),
        {"coarse": FASHION_MNIST_FINE_TO_COARSE[labels], "fine": labels},
    )


def _invert(x: np.ndarray) -> np.ndarray:
    return 255 - x


def _sketch(x: np.ndarray) -> np.ndarray:
    """Sobel edge magnitude, dark lines on white: a 'sketch' of each garment."""
    from scipy import ndimage

    f = x.astype(np.float32)
    gx = ndimage.sobel(f, axis=2)
    gy = ndimage.sobel(f, axis=1)
    mag = np.hypot(gx, gy)
    mag /= max(float(mag.max()), 1e-6)
    return (255 - np.clip(mag * 255 * 2, 0, 255)).astype(np.uint8)


def _rotate(x: np.ndarray) -> np.ndarray:
    """Each image rotated by a multiple of 90 degrees chosen by its index (deterministic)."""
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = np.rot90(x[i], k=1 + i % 3)
    return out


def _lowres(x: np.ndarray) -> np.ndarray:
    """Down to 7x7 by block averaging, back up to 28x28 by repetition."""
    n = len(x)
    small = x.reshape(n, 7, 4, 7, 4).mean(axis=(2, 4))
    return np.repeat(np.repeat(small, 4, axis=1), 4, axis=2).round().astype(np.uint8)


def sklearn_datasets_dir() -> str:
    import sklearn.datasets

    return os.path.dirname(sklearn.datasets.__file__)


def _load_digits(root: Path, split: str, name: str = "") -> LoadedDataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)
    labels = d.target.astype(np.int64)
    if split != "all":
        # A fixed, class-stratified half/half split so kNN has a reference set.
        order = np.random.default_rng(0).permutation(len(labels))
        in_train = np.zeros(len(labels), bool)
        for c in np.unique(labels):
            idx = order[labels[order] == c]
            in_train[idx[: len(idx) // 2]] = True
        keep = in_train if split == "train" else ~in_train
        images, labels = images[keep], labels[keep]
    return LoadedDataset("digits", split, images, labels, [str(i) for i in range(10)])


DATASETS.register("fashion_mnist", DatasetSpec(
    "fashion_mnist", "Fashion MNIST", "Far-OOD", _load_fashion, how_to_get=_FASHION_HOW,
    source=fashion_mnist_dir, offline=True, offline_group="In-domain", levels=("coarse", "fine"),
    paper=next(r for r in paper_table() if r["name"] == "fashion_mnist"),
))
for _name, _title, _fn in [
    ("fashion_mnist_inverted", "Fashion MNIST, inverted", _invert),
    ("fashion_mnist_sketch", "Fashion MNIST, edge-map sketch", _sketch),
    ("fashion_mnist_rotated", "Fashion MNIST, rotated", _rotate),
    ("fashion_mnist_lowres", "Fashion MNIST, 7x7 low resolution", _lowres),
]:
    DATASETS.register(_name, DatasetSpec(
        _name, _title, "Far-OOD",
        (lambda root, split, name, _f=_fn: _load_fashion(root, split, name, _f)),
        how_to_get=_FASHION_HOW, source=_fashion_variant_dir,
        offline=True, offline_group="Domain-shift",
        levels=("coarse", "fine"),
    ))
DATASETS.register("digits", DatasetSpec(
    "digits", "scikit-learn digits (8x8)", "Far-OOD", _load_digits, splits=("train", "test", "all"),
    how_to_get="It ships with scikit-learn.", offline=True, offline_group="Far-OOD",
    source=lambda root: Path(sklearn_datasets_dir()) / "data" / "digits.csv.gz",
))


# --------------------------------------------------------------------------- the paper's datasets
def _targets(ds: Any) -> np.ndarray:
    """Labels of a torchvision-style dataset without decoding its images."""
    for attr in ("targets", "_labels", "labels", "y"):
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


def _wrap(name: str, split: str, ds: Any, labels: np.ndarray | None = None,
          classes: list[str] | None = None, hierarchy: dict[str, np.ndarray] | None = None) -> LoadedDataset:
    labels = _targets(ds) if labels is None else labels
    classes = classes or [str(c) for c in getattr(ds, "classes", sorted(set(labels.tolist())))]
    return LoadedDataset(name, split, _RGB(ds), labels, classes, hierarchy or {})


def _tv(cls_name: str, split_map: dict[str, dict[str, Any]], how: str, **fixed: Any):
    """Loader for a torchvision dataset class, with download disabled."""

    def load(root: Path, split: str, name: str) -> LoadedDataset:
        import inspect

        import torchvision.datasets as tvd

        cls = getattr(tvd, cls_name)
        kwargs = dict(fixed, **split_map[split])
        if "download" in inspect.signature(cls).parameters:
            kwargs["download"] = False
        try:
            ds = cls(str(root), **kwargs)
        except (RuntimeError, FileNotFoundError, OSError) as err:
            raise _missing(name, root, how, err) from err
        return _wrap(name, split, ds)

    return load


def _folder(subdirs: dict[str, str], how: str, int_class_names: bool = False):
    """Loader for a documented `<root>/<subdir>/<class>/<image>` layout."""

    def load(root: Path, split: str, name: str) -> LoadedDataset:
        from torchvision.datasets import ImageFolder

        path = root / subdirs[split]
        try:
            ds = ImageFolder(str(path))
        except (FileNotFoundError, OSError) as err:
            raise _missing(name, path, how, err) from err
        labels = _targets(ds)
        classes = list(ds.classes)
        if int_class_names:  # ImageNet-v2 names folders 0..999: keep the ImageNet index
            remap = np.array([int(c) for c in classes])
            labels, classes = remap[labels], [str(i) for i in range(int(remap.max()) + 1)]
        return LoadedDataset(name, split, _RGB(ds), labels, classes)

    return load


def _inaturalist(root: Path, split: str, name: str = "") -> LoadedDataset:
    import torchvision.datasets as tvd

    levels = ("kingdom", "phylum", "class", "order", "family", "genus", "full")
    version = {"test": "2021_valid", "train": "2021_train_mini"}[split]
    how = ("Download the iNaturalist-2021 'val' (and 'train_mini') archives from the competition "
           "site and extract them so that <root>/2021_valid/ holds the category folders.")
    try:
        ds = tvd.INaturalist(str(root), version=version, target_type=list(levels), download=False)
    except (RuntimeError, FileNotFoundError, OSError) as err:
        raise _missing("inaturalist2021", root, how, err) from err
    cats = [ds.categories_map[c] for c, _ in ds.index]
    hierarchy = {lv: np.array([c[lv] for c in cats], dtype=np.int64) for lv in levels}
    hierarchy["species"] = hierarchy.pop("full")
    return LoadedDataset("inaturalist2021", split, _RGB(ds), hierarchy["species"],
                         [str(i) for i in range(10000)], hierarchy)


def _bioscan(root: Path, split: str, name: str = "") -> LoadedDataset:
    levels = ("order", "family", "subfamily", "tribe", "genus", "species")
    how = ("pip install bioscan-dataset, then download BIOSCAN-1M's metadata and cropped "
           "256px images into this folder (see the bioscan-dataset documentation).")
    try:
        from bioscan_dataset import BIOSCAN1M
    except ImportError as err:
        raise _missing("bioscan1m", root, how, err) from err
    try:
        ds = BIOSCAN1M(str(root), split=split, target_type=list(levels), download=False)
    except (RuntimeError, FileNotFoundError, OSError) as err:
        raise _missing("bioscan1m", root, how, err) from err
    meta = ds.metadata
    hierarchy = {}
    for lv in levels:
        codes, _ = _factorize(meta[lv].astype(str).to_numpy())
        hierarchy[lv] = codes
    return LoadedDataset("bioscan1m", split, _RGB(ds), hierarchy["species"],
                         sorted(set(meta["species"].astype(str))), hierarchy)


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64), uniq


def _nabirds(root: Path, split: str, name: str = "") -> LoadedDataset:
    from PIL import Image

    how = ("Download NABirds from the Cornell Lab and extract it so that <root>/images/ and "
           "<root>/images.txt, image_class_labels.txt, train_test_split.txt exist.")
    try:
        paths = dict(line.split() for line in (root / "images.txt").read_text().splitlines())
        labels = dict(line.split() for line in (root / "image_class_labels.txt").read_text().splitlines())
        is_train = dict(line.split() for line in (root / "train_test_split.txt").read_text().splitlines())
    except OSError as err:
        raise _missing("nabirds", root, how, err) from err
    keep = [k for k in paths if (is_train[k] == "1") == (split == "train")]
    codes, uniq = _factorize(np.array([labels[k] for k in keep]))
    files = [root / "images" / paths[k] for k in keep]
    return LoadedDataset("nabirds", split, _Files(files, Image), codes, [str(u) for u in uniq])


class _Files(Sequence[Any]):
    def __init__(self, files: list[Path], image_module: Any) -> None:
        self.files, self.Image = files, image_module

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Any:  # type: ignore[override]
        return self.Image.open(self.files[i]).convert("RGB")


def _utkface(root: Path, split: str, name: str = "") -> LoadedDataset:
    """UTKFace: age (0-116, 101 distinct in the paper's set) parsed from `age_gender_race_*.jpg`."""
    from PIL import Image

    how = "Download UTKFace's aligned & cropped faces and extract the .jpg files into this folder."
    files = sorted(p for p in root.glob("**/*.jpg") if p.name.split("_")[0].isdigit())
    if not files:
        raise _missing("utkface", root, how)
    ages = np.array([int(p.name.split("_")[0]) for p in files])
    codes, uniq = _factorize(ages)
    return LoadedDataset("utkface", split, _Files(files, Image), codes, [str(a) for a in uniq])


def _breakhis(root: Path, split: str, name: str = "") -> LoadedDataset:
    """BreakHis: 8 tumour subtypes x 4 magnifications = 32 classes, from the folder layout."""
    from PIL import Image

    how = ("Download BreaKHis_v1 and extract it so that <root>/BreaKHis_v1/histology_slides/breast/"
           "{benign,malignant}/SOB/<subtype>/<patient>/<mag>X/*.png exist.")
    files = sorted(root.glob("**/SOB/*/*/*X/*.png"))
    if not files:
        raise _missing("breakhis", root, how)
    names = np.array([f"{p.parts[-4]}_{p.parts[-2]}" for p in files])
    codes, uniq = _factorize(names)
    return LoadedDataset("breakhis", split, _Files(files, Image), codes, [str(u) for u in uniq])


def _eurosat(root: Path, split: str, name: str = "") -> LoadedDataset:
    """EuroSAT RGB has no official split: a seeded 15 % class-stratified test subset (4,050)."""
    base = _tv("EuroSAT", {"test": {}, "train": {}},
               "Download EuroSAT (RGB) and extract it so that <root>/eurosat/2750/<class>/ exists.")(root, split, "eurosat")
    rng = np.random.default_rng(0)
    test = np.zeros(len(base), bool)
    for c in np.unique(base.labels):
        idx = np.flatnonzero(base.labels == c)
        test[rng.choice(idx, size=round(0.15 * len(idx)), replace=False)] = True
    return base.subset(np.flatnonzero(test if split == "test" else ~test))


_TV_HOW = "Download it with torchvision (download=True) on a machine with a network, or copy its files here."


def _register_paper() -> None:
    rows = {r["name"]: r for r in paper_table()}
    tt = {"train": {"train": True}, "test": {"train": False}}
    sp = {"train": {"split": "train"}, "test": {"split": "test"}}
    in9_how = ("Download ImageNet-9 'backgrounds challenge' data (bg_challenge) and extract it so "
               "that <root>/{original,only_fg,mixed_rand}/val/<class>/ exist.")
    ood_how = "Download it and extract it so that <root>/<wnid>/<image> exists."
    entries: dict[str, tuple[Callable[[Path, str, str], LoadedDataset], tuple[str, ...], str]] = {
        "imagenet": (_tv("ImageNet", {"test": {"split": "val"}, "train": {"split": "train"}},
                         "Download ILSVRC2012 (devkit + val tar) into this folder."), ("train", "test"), ""),
        "imagenet_v2": (_folder({"test": "imagenetv2-matched-frequency-format-val"},
                                "Download ImageNet-V2 matched-frequency and extract it here.",
                                int_class_names=True), ("test",), ""),
        "cifar10": (_tv("CIFAR10", tt, _TV_HOW), ("train", "test"), ""),
        "cifar100": (_tv("CIFAR100", tt, _TV_HOW), ("train", "test"), ""),
        "in9_original": (_folder({"test": "original/val", "train": "original/train"}, in9_how), ("train", "test"), ""),
        "in9_fg_only": (_folder({"test": "only_fg/val", "train": "only_fg/train"}, in9_how), ("train", "test"), ""),
        "in9_mixed_rand": (_folder({"test": "mixed_rand/val", "train": "mixed_rand/train"}, in9_how), ("train", "test"), ""),
        "imagenet_r": (_folder({"test": "imagenet-r"}, ood_how), ("test",), ""),
        "imagenet_sketch": (_folder({"test": "sketch"}, ood_how), ("test",), ""),
        "imagenet_o": (_folder({"test": "imagenet-o"}, ood_how), ("test",), ""),
        "lsun": (_folder({"test": "val", "train": "train"},
                         "Export the 10 LSUN scene categories' images to <root>/{train,val}/<category>/."),
                 ("train", "test"), ""),
        "places365": (_tv("Places365", {"test": {"split": "val"}, "train": {"split": "train-standard"}},
                          _TV_HOW, small=True), ("train", "test"), ""),
        "fgvc_aircraft": (_tv("FGVCAircraft", {"test": {"split": "test"}, "train": {"split": "trainval"}},
                              _TV_HOW, annotation_level="variant"), ("train", "test"), ""),
        "stanford_cars": (_tv("StanfordCars", sp, "Download Stanford Cars (devkit, cars_train, cars_test "
                              "and the test annotations) into <root>/stanford_cars/."), ("train", "test"), ""),
        "flowers102": (_tv("Flowers102", sp, _TV_HOW), ("train", "test"), ""),
        "nabirds": (_nabirds, ("train", "test"), ""),
        "bioscan1m": (_bioscan, ("train", "test"), ""),
        "inaturalist2021": (_inaturalist, ("train", "test"), ""),
        "celeba": (_tv("CelebA", sp, _TV_HOW, target_type="identity"), ("train", "test"), ""),
        "utkface": (_utkface, ("test",), ""),
        "breakhis": (_breakhis, ("test",), ""),
        "dtd": (_tv("DTD", sp, _TV_HOW, partition=1), ("train", "test"), ""),
        "eurosat": (_eurosat, ("train", "test"), ""),
        "mnist": (_tv("MNIST", tt, _TV_HOW), ("train", "test"), ""),
        "svhn": (_tv("SVHN", sp, _TV_HOW), ("train", "test"), ""),
    }
    levels = {
        "inaturalist2021": ("kingdom", "phylum", "class", "order", "family", "genus", "species"),
        "bioscan1m": ("order", "family", "subfamily", "tribe", "genus", "species"),
    }
    for name, (loader, splits, _) in entries.items():
        row = rows[name]
        DATASETS.register(name, DatasetSpec(
            name, row["title"], row["group"], loader, splits=splits, paper=row,
            levels=levels.get(name, ()), how_to_get=getattr(loader, "__doc__", "") or "",
        ))
    for name, title, loader in [
        ("imagenette", "Imagenette", _tv("Imagenette", {"test": {"split": "val"}, "train": {"split": "train"}},
                                         _TV_HOW, size="full")),
        ("imagewoof", "Imagewoof", _folder({"test": "imagewoof2/val", "train": "imagewoof2/train"},
                                           "Download imagewoof2 and extract it here.")),
    ]:
        DATASETS.register(name, DatasetSpec(name, title, "In-domain", loader, role="hyperparameter"))
    # ImageNet-1k is both an evaluation set and the main hyper-parameter set.


_register_paper()
