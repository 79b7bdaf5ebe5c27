import math
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from zsc.cli import main
from zsc.results import ResultsStore


@pytest.mark.parametrize("argv,match", [
    (["run", "pixel", "digits"], "unknown encoder 'pixel'"),
    (["run", "pixels", "digitz"], "unknown dataset 'digitz'"),
    (["run", "pixels", "digits", "--clusterer", "kmean"], "unknown clusterer 'kmean'"),
    (["run", "pixels", "digits", "--reducer", "tsne"], "unknown reducer 'tsne'"),
    (["run", "pixels", "digits", "--n-samples", "5000"], "sample size 5000"),
    (["run", "pixels", "digits", "--clusterer", "affinity_propagation", "--params",
      '{"affinity_propagation": {"damping": 1.2}}'], "damping must be in"),
    (["run", "pixels", "digits", "--params", '{"kmeans": {"n_init_typo": 3}}'],
     "K-Means: unknown parameter(s) n_init_typo"),
    (["run", "pixels", "digits", "--params", '{"kmeans": {"n_init": 3}}'],
     "K-Means: n_init cannot be overridden: zsc sets n_init to 1, as the paper"),
    (["run", "pixels", "digits", "--params", '{"spectral": {"random_state": 3}}'],
     "random_state cannot be overridden: zsc sets random_state to the run's --seed"),
    (["embed", "supervised_resnet50", "digits"], "--weights PATH"),
    (["run", "pixels", "digits", "--params", "not json"], "--params is not valid JSON"),
    (["results", "/no/such/folder"], "no results folder /no/such/folder"),
    (["notebook", "no_such_chapter"], "no notebook 'no_such_chapter'; chapters: 01_datasets"),
])
def test_errors_are_one_line(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # progress bars may precede it
    assert err.startswith("zsc: error:") and match in err


def test_listings(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "fashion_mnist" in out and "inaturalist2021" in out and "splits_here" in out
    assert [ln.split()[0] for ln in out.splitlines() if "test,train" in ln][:1] == ["fashion_mnist"]
    assert main(["encoders"]) == 0
    out = capsys.readouterr().out
    assert "pixels" in out and "random_vitb16" in out and "supervised_resnet50" in out


def test_run_stores_rows(tmp_path, capsys):
    assert main(["run", "pixels", "digits", "--clusterer", "kmeans", "--clusterer", "ac_with_c",
                 "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "kmeans" in out and "AMI" in out
    df = ResultsStore(tmp_path).read()
    assert sorted(df["clusterer"]) == ["ac_with_c", "kmeans"]
    assert (df["ami"] > 0.5).all()  # digits pixels cluster well
    assert {"silhouette_original", "silhouette_umap", "nmi", "ari", "time_cluster"} <= set(df.columns)


@pytest.mark.slow
def test_end_to_end_pixels_fashion_mnist_kmeans(tmp_path):
    """The README's main job: 10,000 test images, K-Means, AMI/ARI/NMI/silhouettes stored."""
    proc = subprocess.run(
        [sys.executable, "-m", "zsc.cli", "run", "pixels", "fashion_mnist", "--clusterer", "kmeans",
         "--results", str(tmp_path)], capture_output=True, text=True, timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr
    row = ResultsStore(tmp_path).read().iloc[0]
    assert row["n_samples"] == 10_000 and row["n_clusters_true"] == 10
    assert 0.3 < row["ami"] < 0.8  # pixels: informative but far from perfect
    for col in ("ari", "nmi", "silhouette_original", "silhouette_umap"):
        assert not math.isnan(row[col])
    assert "AMI" in proc.stdout


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("datasets", "encoders", "embed", "cluster", "run", "results", "batch", "book", "notebook", "zoo"):
        assert f"    {cmd} " in out, cmd


def _grid(tmp_path, **cluster_params):
    stage = {"kind": "cluster", "params": {"encoder": "pixels", "dataset": "digits",
                                           "clusterer": "kmeans", "n_samples": 100, **cluster_params}}
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({"name": "g", "results": str(tmp_path / "res"),
                                    "stages": [{"kind": "embed", "params": {
                                        "encoder": "pixels", "dataset": "digits", "n_samples": 100}},
                                               stage]}))
    return path


@pytest.mark.parametrize("value,match", [
    ({"n_samples": -5}, "n_samples must be a whole number of at least 1, or null for all, got -5"),
    ({"n_samples": 2.5}, "n_samples must be a whole number"),
    ({"seed": -1}, "seed must be a whole number of at least 0, got -1"),
    ({"reducer": {"method": "umap", "n_components": 0}}, "n_components must be positive"),
    ({"reducer": {"method": "umap", "n_comps": 5}}, "n_comps"),
    ({"split": "validation"}, "has no split 'validation'"),
])
def test_grid_values_are_checked_before_any_job_runs(tmp_path, capsys, value, match):
    assert main(["batch", str(_grid(tmp_path, **value)), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("zsc: error: stage 2 job 1") and match in err[0]
    assert not (tmp_path / "res").exists()  # not even the valid embed job ran


def test_knn_ks_are_checked(tmp_path, capsys):
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({"name": "g", "results": str(tmp_path / "res"), "stages": [
        {"kind": "knn", "params": {"encoder": "pixels", "dataset": "digits", "ks": [10, 0]}}]}))
    assert main(["batch", str(path)]) == 2
    assert "ks must be a non-empty list of whole numbers" in capsys.readouterr().err


def test_results_reads_any_folder_zsc_writes_and_exports(tmp_path, capsys):
    path = _grid(tmp_path)
    assert main(["batch", str(path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    printed = out.split("results: ")[1].split(";")[0]  # the folder the batch printed
    for folder in (printed, f"{printed}/clustering", f"{printed}/batch"):
        assert main(["results", folder]) == 0
        out = capsys.readouterr().out
        assert "1 clustering rows" in out and "pixels" in out and "digits" in out, folder
        assert "kmeans" in out.split("rows per clusterer:")[1]
    for fmt, suffix in (("csv", ".csv"), ("parquet", ".parquet"), ("markdown", ".md")):
        out_file = tmp_path / f"export{suffix}"
        assert main(["results", printed, "--format", fmt, "-o", str(out_file)]) == 0
        assert out_file.exists()
    assert pd.read_csv(tmp_path / "export.csv")["clusterer"].tolist() == ["kmeans"]
    assert pd.read_parquet(tmp_path / "export.parquet")["encoder"].tolist() == ["pixels"]
    assert "| pixels" in (tmp_path / "export.md").read_text()


def test_run_max_memory_records_the_deviation(tmp_path, capsys):
    assert main(["run", "pixels", "digits", "--clusterer", "affinity_propagation", "--n-samples",
                 "400", "--max-memory", "1MB", "--results", str(tmp_path)]) == 0
    assert "deviation: Affinity Propagation fitted on a " in capsys.readouterr().out
    (row,) = ResultsStore(tmp_path).read().to_dict("records")
    assert row["deviation"].startswith("Affinity Propagation fitted on a ")
    assert "seeded subsample of 400" in row["deviation"] and row["max_memory"] == 10**6
    assert main(["run", "pixels", "digits", "--max-memory", "lots"]) == 2
    assert "max_memory must be a positive size" in capsys.readouterr().err


@pytest.mark.parametrize("value,ok", [(-3, False), (0, False), ("64XB", False), (True, False),
                                      ("64GiB", True), (10**9, True), (None, True)])
def test_grid_max_memory_is_checked(tmp_path, capsys, value, ok):
    from zsc.batch import load_grid

    grid = load_grid(str(_grid(tmp_path, max_memory=value)))
    assert bool(grid.invalid) is not ok
    if not ok:
        assert main(["batch", str(_grid(tmp_path, max_memory=value)), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert f"max_memory must be a size such as 64GiB, 500MB or 12G, a whole number of bytes, " \
               f"or null for this machine's memory, got {value!r}" in err


def test_batch_lists_an_ac_refusal_as_failed(tmp_path, capsys):
    path = _grid(tmp_path, clusterer="ac_without_c", params={"linkage": "average"},
                 max_memory="1MB", n_samples=400)
    assert main(["batch", str(path), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "1 failed" in out and "FAILED cluster" in out
    assert "average linkage on 400 points needs" in out and "--max-memory" in out
