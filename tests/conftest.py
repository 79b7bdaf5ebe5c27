"""Shared fixtures: every test gets its own zsc home (cache, results), never the user's."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)  # the book project is found from the working directory, as jupyter-book does


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSC_HOME", str(tmp_path / "zsc_home"))
    for var in ("ZSC_CACHE_DIR", "ZSC_RESULTS_DIR", "ZSC_DATA_DIR", "ZSC_WEIGHTS_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ZSC_OFFLINE", "1")  # hub probes answer 'unreachable' at once


@pytest.fixture
def blobs():
    """Three well separated Gaussian blobs in 8-d: a clustering every method should get right."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=300, centers=3, n_features=8, cluster_std=0.6, random_state=0)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def torch_one_thread():
    """One torch thread: on a shared 2-core machine two threads are slower for the zoo's small nets."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
