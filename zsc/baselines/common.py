"""What every baseline shares: its spec, the problem it is handed, what it hands back, and the
numbers its paper published (theirs, kept apart from ours)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..errors import InvalidParameterError


@dataclasses.dataclass(frozen=True)
class Published:
    """A result the baseline's paper reports: their number, on their images."""

    dataset: str  # the paper's name for it
    images: str  # which images it clustered
    metrics: Mapping[str, float]  # e.g. {"acc": 0.672, "nmi": 0.684}
    zsc_dataset: str | None = None  # the zsc dataset it corresponds to, if there is one
    source: str = ""


@dataclasses.dataclass(frozen=True)
class Problem:
    """One clustering job: the images (flattened pixels in [0, 1]) and how many clusters."""

    dataset: str
    split: str
    x: np.ndarray
    labels: np.ndarray  # only to annotate a training history (precision); never to fit
    n_clusters: int
    seed: int
    train: bool  # may a missing pretrained model be trained now (N2D's hours of pretraining)
    options: Mapping[str, Any]


@dataclasses.dataclass
class Fit:
    """What a baseline returns: the clustering, how it was made and what its training cost."""

    labels: np.ndarray
    clusterer_params: dict[str, Any]
    reducer: str  # the row's reducer label (umap10, none)
    reducer_params: dict[str, Any]
    embedding_dim: int | None
    reduced_dim: int
    weights_key: str
    weights_source: str  # shipped | cache | trained
    trained_on: str  # which images the model was trained on
    cost: dict[str, Any]  # train_seconds, train_cpu_seconds, train_images_seen, train_epochs, ...
    time_train: float  # seconds spent training in this call (0 when the weights were stored)
    time_cluster: float  # seconds of the clustering itself (inference, UMAP, GMM)
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class BaselineSpec:
    """A registered baseline: how it clusters a `Problem`, what its paper reports, and (for
    those with a separate pretraining, N2D) why it cannot run on a dataset here."""

    name: str
    title: str
    paper: str
    clusterer: str  # the row's clusterer column
    code: str  # the published code whose settings it follows
    fit: Callable[[Problem], Fit]
    options: Mapping[str, str]  # option -> what it does (anything else is rejected)
    published: tuple[Published, ...] = ()
    simplified: str = ""  # how it departs from the publication, and why
    unavailable: Callable[[str], str | None] = lambda dataset: None
    pretrain: Callable[..., str] | None = None  # a separate pretraining (`zsc baseline train`)

    def check_options(self, options: Mapping[str, Any]) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(self.options) or "none"
            raise InvalidParameterError(f"{self.name}: unknown option(s) {', '.join(unknown)} "
                                        f"(its options: {known})")


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Train on one torch thread, whatever the caller set (a batch worker may set more): the
    cost the cards state is one thread's, and KingdraCluster's result depends on the thread
    count through the order of floating-point sums."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def pixels(images: Any, dataset: str) -> np.ndarray:
    """Flattened pixels in [0, 1] (float32), as both peers' code feeds its networks."""
    if not isinstance(images, np.ndarray):
        raise InvalidParameterError(
            f"the deep-clustering baselines cluster the flattened pixels of equally sized "
            f"images; dataset {dataset!r} does not hold its images as one array")
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """ACC, NMI, AMI, ARI: the peers' metrics and the paper's (rounded, for their cards)."""
    from ..metrics import score_clustering

    row = score_clustering(y, pred)
    return {m: round(float(row[m]), 5) for m in ("acc", "nmi", "ami", "ari")}
