import subprocess
import sys

import pytest

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
    (["run", "pixels", "digits", "--params", '{"kmeans": {"n_init_typo": 3}}'], "unsupported parameter"),
    (["embed", "supervised_resnet50", "digits"], "--weights PATH"),
])
def test_errors_are_one_line(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # progress bars may precede it
    assert err.startswith("zsc: error:") and match in err


def test_listings(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "fashion_mnist" in out and "inaturalist2021" in out
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
        assert row[col] == row[col]  # not NaN
    assert "AMI" in proc.stdout
