"""Trained weights of the baselines, stored as embeddings are: content-addressed by the training
configuration, written atomically, and looked up first among the weights zsc ships
(`zsc/weights/baselines/<baseline>_<dataset>.safetensors` with its JSON card), so the book
clusters with them instead of retraining."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import config
from ..io import atomic_path, config_hash, sha256_file

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "weights" / "baselines"


def weights_key(cfg: Mapping[str, Any]) -> str:
    """The identity of trained weights: the hash of everything that decides them."""
    return config_hash(cfg, length=20)


def shipped_paths(baseline: str, dataset: str, folder: Path | None = None) -> tuple[Path, Path]:
    """(weights, card) of a shipped model."""
    base = (folder or SHIPPED_DIR) / f"{baseline}_{dataset}"
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def shipped_card(baseline: str, dataset: str) -> dict[str, Any] | None:
    """The card of the weights shipped for this baseline and dataset, if any."""
    return card(f"{baseline}_{dataset}")


def card(name: str) -> dict[str, Any] | None:
    """A shipped card by file name (`kingdra` for `kingdra.json`), if there is one."""
    path = SHIPPED_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def cache_path(baseline: str, dataset: str, key: str,
               cache_dir: str | os.PathLike[str] | None = None) -> Path:
    root = Path(cache_dir) if cache_dir else config.cache_dir()
    return root / "baselines" / baseline / dataset / f"{key}.safetensors"


def find(baseline: str, dataset: str, key: str,
         cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The weights of this configuration: the shipped file if its card has this key and its
    bytes match the card's hash, else the cached file, else None."""
    path, _ = shipped_paths(baseline, dataset)
    card = shipped_card(baseline, dataset)
    if card and card.get("weights_key") == key and path.is_file():
        if sha256_file(path) == card.get("weights_sha256"):
            return path
        warnings.warn(f"shipped weights {path} do not match their card's sha256; ignored",
                      stacklevel=2)
    cached = cache_path(baseline, dataset, key, cache_dir)
    return cached if cached.is_file() else None


def save(path: Path, tensors: Mapping[str, Any], meta: Mapping[str, Any]) -> Path:
    """Write a state dict as safetensors, atomically, with its configuration as metadata."""
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(tmp),
                  metadata={"zsc": json.dumps(dict(meta), sort_keys=True, default=str)})
    return path


def load(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state dict, metadata) of a file `save` wrote."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as fh:
        meta = json.loads((fh.metadata() or {}).get("zsc", "{}"))
    return load_file(str(path)), meta
