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



def project_root(start: Path | None = None) -> Path | None:
    """The book project around the working directory: the nearest folder (upwards) holding
    `_config.yml` and `notebooks/`, as jupyter-book finds its book. None outside a project."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "notebooks").is_dir():
            return folder
    return None


def base_dir() -> Path:
    """Where relative paths of profiles and shipped grids (`_build/...`) are resolved: the project
    root when inside a book project, else the working directory."""
    return project_root() or Path.cwd()
