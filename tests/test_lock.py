"""The locked environment: the lock covers what pyproject.toml asks for, within its ranges, with
hashes; environment.yml holds the same pins; results rows and chapters name the versions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml
from packaging.requirements import Requirement

from zsc import notebooks, versions
from zsc.results import ResultsStore

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock.txt"
EXTRAS = ("dev", "book", "zoo", "dask")  # what scripts/setup.sh and scripts/lock.sh install


def project_requirements() -> list[Requirement]:
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in EXTRAS:
        reqs += meta["optional-dependencies"][extra]
    return [Requirement(r) for r in reqs]


def test_lock_pins_every_requirement_within_its_range():
    pins = versions.read_lock(LOCK)
    assert len(pins) > 50  # the whole environment, not only the direct requirements
    for req in project_requirements():
        name = versions.normalise(req.name)
        assert name in pins, f"{req.name} is required by pyproject.toml but not locked"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"{req.name}=={pins[name]} in the lock is outside pyproject.toml's {req.specifier}"


def test_every_locked_package_carries_a_hash():
    blocks = re.split(r"(?m)^(?=[A-Za-z0-9])", LOCK.read_text())
    pinned = [b for b in blocks if "==" in b.splitlines()[0]]
    assert pinned and all("--hash=sha256:" in b for b in pinned), \
        [b.splitlines()[0] for b in pinned if "--hash" not in b]


def test_environment_yml_holds_the_locks_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = {versions.normalise(n): v for n, v in (p.split("==") for p in pip if "==" in p)}
    assert pins == versions.read_lock(LOCK)
    assert any(p.startswith("-e") for p in pip)  # and zsc itself


def test_lock_status_says_whether_the_environment_is_the_lock(tmp_path):
    have = versions.installed()
    same = tmp_path / "same.txt"
    same.write_text(f"numpy=={have['numpy']} \\\n    --hash=sha256:00\n    # via zsc\n")
    assert versions.lock_differences(versions.read_lock(same)) == {}
    assert "every package at its locked version" in versions.lock_status(same)
    other = tmp_path / "other.txt"
    other.write_text("numpy==0.0.1\nnot-a-package-zsc==1.0\n")
    diff = versions.lock_differences(versions.read_lock(other))
    assert diff == {"numpy": ("0.0.1", have["numpy"]), "not-a-package-zsc": ("1.0", "absent")}
    assert versions.lock_status(other).startswith("not the lock: 2 package(s)")
    assert "no lock file" in versions.lock_status(tmp_path / "missing.txt")


def test_versions_name_what_decides_the_numbers():
    v = versions.versions()
    assert {"zsc", "numpy", "scipy", "scikit-learn", "umap-learn", "numba", "pacmap", "torch",
            "timm"} <= set(v)
    assert v["numpy"] == np.__version__
    assert versions.versions_text(v).startswith("zsc ")


def test_a_results_row_records_the_versions(tmp_path):
    store = ResultsStore(tmp_path)
    store.append({"encoder": "pixels", "dataset": "digits", "clusterer": "kmeans", "ami": 0.5})
    row = store.read().iloc[0]
    assert json.loads(row["versions"])["numpy"] == np.__version__


@pytest.mark.parametrize("with_versions", [True, False])
def test_the_provenance_box_names_the_versions(tmp_path, with_versions):
    path = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), path)
    prov = {"zsc_version": "0", "git_commit": "abc", "profile": "p", "results_rows": 0,
            "results_hash": "h", "knn_rows": 0, "knn_hash": "h", "parameters": {}}
    if with_versions:
        prov["versions"] = versions.versions()
    notebooks.stamp(path, prov)
    box = nbformat.read(path, as_version=4).cells[-1].source
    assert ("Software: zsc" in box and f"numpy {np.__version__}" in box) is with_versions
