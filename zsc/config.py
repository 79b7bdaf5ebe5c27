"""Where zsc keeps data, caches and results; every root is overridable by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """Root of zsc's own files: $ZSC_HOME, else $XDG_CACHE_HOME/zsc, else ~/.cache/zsc."""
    if os.environ.get("ZSC_HOME"):
        return Path(os.environ["ZSC_HOME"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "zsc"


def data_dir() -> Path:
    """Downloaded datasets live here, one folder per dataset name ($ZSC_DATA_DIR)."""
    return Path(os.environ.get("ZSC_DATA_DIR") or home() / "data").expanduser()


def cache_dir() -> Path:
    """Embeddings and reductions, content-addressed by configuration ($ZSC_CACHE_DIR)."""
    return Path(os.environ.get("ZSC_CACHE_DIR") or home() / "cache").expanduser()


def results_dir() -> Path:
    """The Parquet results store ($ZSC_RESULTS_DIR)."""
    return Path(os.environ.get("ZSC_RESULTS_DIR") or home() / "results").expanduser()


def weights_dir() -> Path:
    """Checkpoints that are fetched by URL rather than through timm/torch.hub ($ZSC_WEIGHTS_DIR)."""
    return Path(os.environ.get("ZSC_WEIGHTS_DIR") or home() / "weights").expanduser()
