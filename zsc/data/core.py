"""The dataset registry and its API: specs, loading, splits on disk, fingerprints, subsamples.

`offline` and `paper` register their datasets here; `zsc.data` re-exports this module."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .. import config
from ..errors import DataMissingError, InvalidParameterError, UnknownNameError
from ..io import config_hash
from ..registry import Registry

GROUPS = ("In-domain", "Domain-shift", "Near-OOD", "Fine-grained", "Far-OOD")


@dataclass
class LoadedDataset:
    """One split of a dataset in memory (or lazily, for large image sets)."""

    name: str
    split: str
    images: np.ndarray | Sequence[Any]
    labels: np.ndarray
    class_names: list[str]
    hierarchy: dict[str, np.ndarray] = field(default_factory=dict)  # level -> labels

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


Loader = Callable[[Path, str, str], LoadedDataset]  # (folder, split, name)


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    """A registered dataset: what it is in the paper, which splits it has and how to load them."""

    name: str
    title: str
    group: str  # the paper's group (relative to ImageNet-1k pretraining)
    loader: Loader
    default_split: str = "test"
    splits: tuple[str, ...] = ("test", "train")  # declared splits (the paper's partitions)
    # split -> paths (relative to the folder `source` gives) that must exist for the split
    files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    how_to_get: str = ""
    offline: bool = False  # loads here with no network
    offline_group: str | None = None  # group relative to the offline zoo's Fashion-MNIST domain
    levels: tuple[str, ...] = ()  # taxonomy levels, coarse to fine
    role: str = "evaluation"  # or "hyperparameter"
    paper: dict[str, Any] | None = None  # the paper's table row, if it is one of the 26
    source: Callable[[Path], Path] | None = None  # folder -> where the files really are
    image_size: int | None = None  # native square size, if every image has it (pixels baseline)
    # A dataset with no train split of its own may be probed against another's (the ImageNet
    # variants against ImageNet-1k train, as the paper's kNN): that dataset, and how a label
    # here finds its class there ("index": it is already its index; "name": by class name).
    knn_memory: str | None = None
    knn_label: str = "index"
    # False: the labels are all -1 (a folder of a person's own images): no label metric, no k
    labelled: bool = True
    # Bumped when the loader's images change for the same files (a fixed transform): it enters
    # the data fingerprint and the embedding key, so nothing cached from the old images is reused.
    version: int = 0

    def __post_init__(self) -> None:
        if self.default_split not in self.splits:
            raise ValueError(f"{self.name}: default split {self.default_split!r} not declared")
        if set(self.files) - set(self.splits):
            raise ValueError(f"{self.name}: files given for undeclared splits")

    def root(self, data_dir: str | os.PathLike[str] | None = None) -> Path:
        """The dataset's folder: `data_dir` if given, else $ZSC_DATA_DIR/<name>."""
        return Path(data_dir) if data_dir else config.data_dir() / self.name

    def files_root(self, data_dir: str | os.PathLike[str] | None = None) -> Path:
        """Where the dataset's files really are (the folder, or what `source` makes of it)."""
        root = self.root(data_dir)
        return self.source(root) if self.source else root

    def missing(self, split: str, data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
        """The files or folders `split` needs that are not on disk (empty: the split is here)."""
        src = self.files_root(data_dir)
        need = [src / f for f in self.files.get(split, ())] or [src]
        return [p for p in need if not p.exists()]


DATASETS: Registry[DatasetSpec] = Registry("dataset")
# Datasets named by where they are rather than registered: name -> spec, or None when the name
# is not theirs (`zsc.data.folder` adds the folder of images on import).
RESOLVERS: list[Callable[[str], DatasetSpec | None]] = []


@cache
def paper_table() -> list[dict[str, Any]]:
    """The paper's 26-dataset table (from the talk slides) with, per dataset, the declared splits,
    taxonomy levels, files, how to get them and the paper code they follow."""
    text = resources.files("zsc.resources").joinpath("paper_datasets.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    for r in rows:
        r["n_samples"], r["n_classes"] = int(r["n_samples"]), int(r["n_classes"])
        r["imbalance"] = float(r["imbalance"])
        r["image_size"] = int(r["image_size"]) if r["image_size"] else None
        r["splits"] = tuple(r["splits"].split())
        r["levels"] = tuple(r["levels"].split())
        r["test_files"] = tuple(p for p in r["test_files"].split(";") if p)
        r["train_files"] = tuple(p for p in r["train_files"].split(";") if p)
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
    """The registered dataset, or a folder of images (``folder:PATH``, ``imagefolder:PATH``, or
    an existing folder's path: `zsc.data.folder`)."""
    if name not in DATASETS:
        for resolve in RESOLVERS:
            spec = resolve(name)
            if spec is not None:
                return spec
        raise UnknownNameError(DATASETS.unknown_message(name) + "; or a folder of images: "
                               "folder:PATH (unlabelled) or imagefolder:PATH (labels from its "
                               "sub-folders)")
    return DATASETS.get(name)


def list_datasets(*, offline: bool | None = None, role: str | None = None) -> list[DatasetSpec]:
    return [
        s for _, s in DATASETS.items()
        if (offline is None or s.offline == offline) and (role is None or s.role == role)
    ]


def available_splits(name: str, data_dir: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """The dataset's declared splits whose files are on disk (no file is read or decoded).

    `data_dir` is this dataset's folder; by default $ZSC_DATA_DIR/<name>."""
    spec = get_dataset(name)
    return tuple(s for s in spec.splits if not spec.missing(s, data_dir))


def _check_split(spec: DatasetSpec, split: str) -> None:
    if split not in spec.splits:
        raise InvalidParameterError(
            f"dataset {spec.name!r} has no split {split!r}; its splits are: {', '.join(spec.splits)}"
        )


def load_dataset(
    name: str, split: str | None = None, data_dir: str | os.PathLike[str] | None = None
) -> LoadedDataset:
    """Load one split of a registered dataset (never downloads)."""
    spec = get_dataset(name)
    split = split or spec.default_split
    _check_split(spec, split)
    absent = spec.missing(split, data_dir)
    if absent:
        raise missing_error(name, spec.files_root(data_dir), spec.how_to_get, f"missing {absent[0]}")
    return spec.loader(spec.root(data_dir), split, spec.name)


def fingerprint(name: str, data_dir: str | os.PathLike[str] | None = None,
                split: str | None = None) -> str:
    """Identity of a dataset's files on disk (relative paths, sizes, modification times), cheap
    enough for ImageNet's 1.28 M files: results computed from other data are not reused. With
    `split`, only the files that split declares; else every file under the dataset's folder.
    Computed once per process for each (dataset, folder, split)."""
    spec = get_dataset(name)
    if split is not None:
        _check_split(spec, split)
    return _fingerprint(name, str(spec.files_root(data_dir)), split)


@lru_cache(maxsize=256)
def _fingerprint(name: str, src_dir: str, split: str | None) -> str:
    spec = get_dataset(name)
    src = Path(src_dir)
    paths = [src / f for f in spec.files.get(split, ())] if split else []
    paths = paths or [src]
    entries = []
    for top in paths:
        if top.is_file():
            st = top.stat()
            entries.append((os.path.relpath(top, src) if top != src else top.name,
                            st.st_size, st.st_mtime_ns))
        for dirpath, _, files in os.walk(top):
            for f in sorted(files):
                full = os.path.join(dirpath, f)
                st = os.stat(full)
                entries.append((os.path.relpath(full, src), st.st_size, st.st_mtime_ns))
    if not entries:
        raise missing_error(name, src, spec.how_to_get)
    ident: dict[str, Any] = {"dataset": name, "split": split, "files": sorted(entries)}
    if not split:
        del ident["split"]
    if spec.version:  # version 0 keeps the keys made before versions existed
        ident["version"] = spec.version
    return config_hash(ident)


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


def missing_error(name: str, root: Path, how: str, err: BaseException | str | None = None
                  ) -> DataMissingError:
    """The one error for absent or damaged files: dataset, folder, cause and how to get them."""
    detail = f" ({err})" if err else ""
    return DataMissingError(
        f"dataset {name!r}: files not found or unreadable in {root}{detail}. {how} "
        f"Set ZSC_DATA_DIR (or pass data_dir) to point zsc at another folder."
    )
