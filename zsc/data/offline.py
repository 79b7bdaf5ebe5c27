"""Datasets that load here with no network: Fashion-MNIST (IDX files), four shifted variants of
it made on the fly, and scikit-learn's bundled 8x8 digits."""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from .core import DATASETS, DatasetSpec, LoadedDataset, missing_error, paper_table

FASHION_MNIST_DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
# Coarse level of the offline taxonomy. A dress is worn from the shoulders, so it is grouped with
# the upper-body garments; trousers are the only lower-body class.
FASHION_MNIST_COARSE = ["upper-body garment", "lower-body garment", "footwear", "bag"]
FASHION_MNIST_FINE_TO_COARSE = np.array([0, 1, 0, 0, 0, 2, 0, 2, 3, 2])


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


def _fashion_files(split: str) -> tuple[str, str]:
    prefix = "t10k" if split == "test" else "train"
    return f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"


def _identity(folder: Path, split: str) -> tuple[tuple[int, int, int], ...]:
    """(inode, size, mtime) of the split's two files: a changed or replaced file is re-read."""
    out = []
    for f in _fashion_files(split):
        st = (folder / f).stat()  # FileNotFoundError names the path
        out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


@lru_cache(maxsize=4)
def _fashion_arrays(folder: str, split: str, identity: tuple = ()) -> tuple[np.ndarray, np.ndarray]:
    """The split's arrays, cached per (folder, split, files' identity): a test that swaps or
    damages the files gets them re-read without clearing anything."""
    images_file, labels_file = _fashion_files(split)
    images = read_idx(Path(folder) / images_file)
    labels = read_idx(Path(folder) / labels_file).astype(np.int64)
    if len(images) != len(labels):
        raise ValueError("image and label files disagree in length")
    return images, labels


_FASHION = next(r for r in paper_table() if r["name"] == "fashion_mnist")
_FASHION_HOW = _FASHION["how_to_get"]
_FASHION_FILES = {"test": _FASHION["test_files"], "train": _FASHION["train_files"]}


def _fashion_variant_dir(root: Path) -> Path:
    """A shifted variant reads Fashion-MNIST's own files (its root is never used)."""
    return fashion_mnist_dir(root.parent / "fashion_mnist")


def _load_fashion(root: Path, split: str, name: str = "fashion_mnist",
                  transform: Callable[[np.ndarray], np.ndarray] | None = None) -> LoadedDataset:
    folder = fashion_mnist_dir(root) if name == "fashion_mnist" else _fashion_variant_dir(root)
    try:
        images, labels = _fashion_arrays(str(folder), split, _identity(folder, split))
    except (OSError, ValueError, EOFError, struct.error) as err:
        raise missing_error(name, folder, _FASHION_HOW, err) from err
    if transform is not None:
        images = transform(images)
    return LoadedDataset(
        name, split, images, labels, list(FASHION_MNIST_CLASSES),
        {"coarse": FASHION_MNIST_FINE_TO_COARSE[labels], "fine": labels},
    )


def _invert(x: np.ndarray) -> np.ndarray:
    return 255 - x


def _sketch(x: np.ndarray) -> np.ndarray:
    """Sobel edge magnitude, dark lines on white: a 'sketch' of each garment.

    Image by image: the Sobel kernels run along the rows and columns of each image only (a 3-D
    `ndimage.sobel` would also smooth across neighbouring images), and each image is scaled by
    its own strongest edge, so an image's sketch never depends on which other images are loaded."""
    from scipy import ndimage

    f = x.astype(np.float32)
    deriv, smooth = [-1.0, 0.0, 1.0], [1.0, 2.0, 1.0]
    gx = ndimage.correlate1d(ndimage.correlate1d(f, deriv, axis=-1), smooth, axis=-2)
    gy = ndimage.correlate1d(ndimage.correlate1d(f, deriv, axis=-2), smooth, axis=-1)
    mag = np.hypot(gx, gy)
    mag /= np.maximum(mag.max(axis=(-2, -1), keepdims=True), 1e-6)
    return (255 - np.clip(mag * 255 * 2, 0, 255)).astype(np.uint8)


def _quarter_turns(image: np.ndarray) -> int:
    """1, 2 or 3 quarter turns, chosen from the image's own pixels (a CRC of its bytes): the same
    image is turned the same way wherever it sits in a stack."""
    return 1 + zlib.crc32(np.ascontiguousarray(image).tobytes()) % 3


def _rotate(x: np.ndarray) -> np.ndarray:
    """Each image rotated by a multiple of 90 degrees chosen by its content (deterministic, and
    independent of its position in the stack)."""
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = np.rot90(x[i], k=_quarter_turns(x[i]))
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
    name="fashion_mnist", title=_FASHION["title"], group=_FASHION["group"], loader=_load_fashion,
    splits=_FASHION["splits"], files=_FASHION_FILES, how_to_get=_FASHION_HOW,
    source=fashion_mnist_dir, offline=True, offline_group="In-domain", levels=("coarse", "fine"),
    paper=_FASHION, image_size=_FASHION["image_size"],
))
# (name, title, transform, data version): a version is bumped whenever its transform's output
# changes, so embeddings and results cached from the old images are not reused. Version 1 of
# sketch and rotated: made image by image (before, a sketch mixed neighbouring images and was
# scaled by the stack's maximum, and a rotation followed the image's index).
_VARIANTS: list[tuple[str, str, Callable[[np.ndarray], np.ndarray], int]] = [
    ("fashion_mnist_inverted", "Fashion MNIST, inverted", _invert, 0),
    ("fashion_mnist_sketch", "Fashion MNIST, edge-map sketch", _sketch, 1),
    ("fashion_mnist_rotated", "Fashion MNIST, rotated", _rotate, 1),
    ("fashion_mnist_lowres", "Fashion MNIST, 7x7 low resolution", _lowres, 0),
]
# name -> transform: each maps a (N, 28, 28) stack image by image (tests check it).
TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {n: f for n, _, f, _ in _VARIANTS}
for _name, _title, _fn, _version in _VARIANTS:
    DATASETS.register(_name, DatasetSpec(
        name=_name, title=_title, group="Far-OOD",
        loader=(lambda root, split, name, _f=_fn: _load_fashion(root, split, name, _f)),
        splits=_FASHION["splits"], files=_FASHION_FILES, how_to_get=_FASHION_HOW,
        source=_fashion_variant_dir, offline=True, offline_group="Domain-shift",
        levels=("coarse", "fine"), image_size=_FASHION["image_size"], version=_version,
    ))
DATASETS.register("digits", DatasetSpec(
    name="digits", title="scikit-learn digits (8x8)", group="Far-OOD", loader=_load_digits,
    splits=("test", "train", "all"), how_to_get="It ships with scikit-learn.", offline=True,
    offline_group="Far-OOD",
    source=lambda root: Path(sklearn_datasets_dir()) / "data" / "digits.csv.gz",
))
