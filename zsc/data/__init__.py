"""Stage 1 — datasets: a registry of the paper's evaluation sets, its hyper-parameter sets and
offline sets that work with no network.

Every entry is declared once (`DatasetSpec`): its group, its loader, the splits it has and, per
split, the files that must be on disk. The paper's 26 datasets are declared as data, in
``zsc/resources/paper_datasets.csv`` (see `zsc.data.paper`); the offline sets in
`zsc.data.offline`. Loaders never download: a missing file raises `DataMissingError` naming the
dataset, the path looked for and how to get the files.

Where the files are: each dataset has its own folder, ``$ZSC_DATA_DIR/<name>`` (default
``~/.cache/zsc/data/<name>``); every function's ``data_dir`` argument overrides that one
dataset's folder. `available_splits` tells which declared splits are on disk.

Images come back either as one uint8 array (small sets) or as a lazy sequence of PIL images
(large sets), labels always as an int array.
"""

from __future__ import annotations

from . import folder, offline, paper  # noqa: F401  (registration)
from .core import (
    DATASETS,
    GROUPS,
    DatasetSpec,
    LoadedDataset,
    available_splits,
    clamp_samples,
    dataset_stats,
    fingerprint,
    get_dataset,
    list_datasets,
    load_dataset,
    missing_error,
    paper_table,
    subsample_indices,
)
from .offline import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_COARSE,
    FASHION_MNIST_DEFAULT_DIR,
    FASHION_MNIST_FINE_TO_COARSE,
    fashion_mnist_dir,
)
from .paper import memory_labels

__all__ = [
    "DATASETS", "FASHION_MNIST_CLASSES", "FASHION_MNIST_COARSE", "FASHION_MNIST_DEFAULT_DIR",
    "FASHION_MNIST_FINE_TO_COARSE", "GROUPS", "DatasetSpec", "LoadedDataset", "available_splits",
    "clamp_samples", "dataset_stats", "fashion_mnist_dir", "fingerprint", "get_dataset",
    "list_datasets", "load_dataset", "memory_labels", "missing_error", "paper_table",
    "subsample_indices",
]
