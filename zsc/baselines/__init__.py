"""Baselines: the paper's nearest peers, deep clustering methods that train on the dataset they
cluster (the encoders never see it). They answer how far zero-shot clustering is from clustering
trained on the target.

    run_baseline("n2d", "fashion_mnist", n_samples=1000)     # one results row (AMI, NMI, ACC, ...)

* `n2d` — N2D (McConville et al., ICPR 2020): autoencoder pretrained on all of the dataset,
  UMAP, Gaussian mixture. The autoencoders the book uses ship with zsc (zsc/weights/baselines,
  each with its card); others are pretrained with `zsc baseline train n2d DATASET`.
* `kingdra` — KingdraCluster (Gupta et al., ICLR 2020): ensemble, graph of agreed pairs,
  high-precision pseudo-labels, semi-supervised training, iterated; trained on the very images
  it clusters (seconds on one thread at the book's sizes), its weights cached.

Rows have the clustering rows' columns (`zsc.pipeline`): `encoder` is the baseline's name,
`encoder_family` "baseline", `clusterer` the baseline's final clusterer (gmm, kingdra), plus
what the training cost (`train_seconds`, `train_images_seen`, `trained_on`, ...).
"""

from __future__ import annotations

from typing import Any

__all__ = ["BASELINES", "BaselineSpec", "Fit", "Problem", "Published", "get_baseline",
           "run_baseline"]


def __getattr__(name: str) -> Any:
    """The registry and runner load with their models and pandas on first use (PEP 562), so
    importing the package, as every `zsc` command does for its parser, stays light."""
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
