"""A folder of images is a dataset zsc knows: `folder:PATH` (unlabelled) and `imagefolder:PATH`
(labels from sub-folders) go through `embed`, `run`, the CLI and grids like a registered one."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_cluster_cmd import _shape, odd_files

from zsc.cli import main
from zsc.data import get_dataset, load_dataset
from zsc.data.core import _fingerprint
from zsc.data.folder import dataset_name, dataset_slug
from zsc.embed import cache_path, embed, embedding_config
from zsc.errors import DataMissingError, InvalidParameterError, UnknownNameError
from zsc.pipeline import run
from zsc.results import ResultsStore


def classes_folder(root: Path, n: int = 10) -> Path:
    """root/<disc|bars|checker>/ with n small PNGs each, plus a loose file and a text file."""
    for kind, name in enumerate(("disc", "bars", "checker")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(_shape(kind, i)).save(root / name / f"{i:02d}.png")
    Image.fromarray(_shape(0, 99)).save(root / "loose.png")
    (root / "bars" / "README.txt").write_text("not a picture")
    return root


def test_names_are_canonical_absolute_paths(tmp_path, monkeypatch):
    (tmp_path / "photos").mkdir()
    monkeypatch.chdir(tmp_path)
    absolute = str((tmp_path / "photos").resolve())
    assert dataset_name("photos") == f"folder:{absolute}"  # an existing folder alone
    assert dataset_name("folder:./photos/") == f"folder:{absolute}"
    assert dataset_name("imagefolder:photos") == f"imagefolder:{absolute}"
    assert get_dataset("photos").name == f"folder:{absolute}"
    (tmp_path / "digits").mkdir()  # a registered name wins over a folder of that name
    assert get_dataset("digits").name == "digits"
    with pytest.raises(UnknownNameError, match="imagefolder:PATH"):
        get_dataset("no_such_thing")
    slug = dataset_slug(f"folder:{absolute}")
    assert slug.startswith("folder-photos-") and "/" not in slug
    assert dataset_slug("imagefolder:/") .startswith("imagefolder-root-")


def test_imagefolder_labels_come_from_sub_folders(tmp_path):
    root = classes_folder(tmp_path / "shapes")
    with pytest.warns(UserWarning, match="2 file"):  # the loose file and the text file
        d = load_dataset(f"imagefolder:{root}")
    assert d.split == "all" and d.class_names == ["bars", "checker", "disc"]
    assert np.bincount(d.labels).tolist() == [10, 10, 10]
    first = d.images[0]  # lazy: opened when asked, as an upright RGB image
    assert first.mode == "RGB" and first.size == (40, 40)
    with pytest.warns(UserWarning, match="1 file"):
        u = load_dataset(f"folder:{root}")
    assert len(u) == 31 and set(u.labels.tolist()) == {-1} and not get_dataset(u.name).labelled


def test_every_odd_file_loads_or_is_skipped(tmp_path):
    fates = odd_files(tmp_path / "odd")
    with pytest.warns(UserWarning, match="3 file"):
        d = load_dataset(f"folder:{tmp_path / 'odd'}")
    assert len(d) == sum(f == "ok" for f in fates.values())
    assert all(im.mode == "RGB" for im in d.images)


def test_a_folder_with_no_image_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("x")
    with pytest.raises(DataMissingError, match="no readable image"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_dataset(f"folder:{tmp_path / 'empty'}")
    with pytest.raises(DataMissingError, match="not found"):
        load_dataset(f"folder:{tmp_path / 'absent'}")


def test_embedding_is_cached_and_renewed_when_the_folder_changes(tmp_path):
    root = classes_folder(tmp_path / "shapes", n=4)
    (root / "loose.png").unlink()
    name = f"imagefolder:{root}"
    cfg = embedding_config("pixels", dataset_name(name), "all", None, 0, None)
    assert cache_path(cfg).parent.parent.name == dataset_slug(dataset_name(name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = embed("pixels", name, progress=False)
        again = embed("pixels", name, progress=False)
        assert not first.from_cache and again.from_cache and first.dataset == dataset_name(name)
        Image.fromarray(_shape(1, 50)).save(root / "bars" / "new.png")
        _fingerprint.cache_clear()  # a new process would see the new file at once
        grown = embed("pixels", name, progress=False)
    assert not grown.from_cache and len(grown) == len(first) + 1


def test_run_on_unlabelled_images_scores_without_labels(tmp_path):
    root = classes_folder(tmp_path / "shapes", n=20)  # UMAP-50 wants more than 51 images
    store = ResultsStore(tmp_path / "results")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = run("pixels", f"folder:{root}", store=store, progress=False)
        # no labels: only the clusterers that find the number of clusters themselves
        assert set(df["clusterer"]) == {"ac_without_c", "affinity_propagation", "hdbscan"}
        assert df["ami"].isna().all() and df["silhouette_original"].notna().all()
        assert (df["dataset"] == dataset_name(f"folder:{root}")).all()
        with pytest.raises(InvalidParameterError, match="imagefolder:PATH"):
            run("pixels", f"folder:{root}", ["kmeans"], store=store, progress=False)
        labelled = run("pixels", f"imagefolder:{root}", ["kmeans"], store=store, progress=False)
    assert labelled["n_clusters_true"].tolist() == [3] and labelled["ami"].iloc[0] > 0.5
    assert len(store.read()) == 4
    assert labelled["dataset"].iloc[0] != df["dataset"].iloc[0]


def test_cli_and_grid_take_a_folder(tmp_path, monkeypatch, capsys):
    root = classes_folder(tmp_path / "shapes", n=20)
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["run", "pixels", "imagefolder:shapes", "--clusterer", "kmeans",
                     "--results", "res"]) == 0
        out = capsys.readouterr().out
        assert "kmeans" in out and "AMI" in out
        grid = tmp_path / "grid.yaml"
        grid.write_text(f"name: mine\nresults: gridres\nstages:\n  - kind: cluster\n"
                        f"    params: {{encoder: pixels, dataset: 'imagefolder:{root}'}}\n"
                        f"    product: {{clusterer: [kmeans, hdbscan]}}\n")
        assert main(["batch", str(grid), "--no-progress"]) == 0
    rows = pd.concat([pd.read_parquet(p) for p in (tmp_path / "gridres").rglob("*.parquet")
                      if "batch" not in p.parts])
    assert sorted(rows["clusterer"]) == ["hdbscan", "kmeans"]
    assert set(rows["dataset"]) == {dataset_name(f"imagefolder:{root}")}
    shutil.rmtree(root / "disc")  # the folder changed: its jobs are not done any more
    _fingerprint.cache_clear()  # (as in a new process)
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["batch", str(grid), "--dry-run"]) == 0
    states = [line.split()[0] for line in capsys.readouterr().out.splitlines() if "cluster " in line]
    assert states == ["todo", "todo"]
