import pandas as pd
import pytest

from zsc.results import ResultsStore, run_key

ROW = {"encoder": "pixels", "dataset": "digits", "split": "test", "n_samples": 100, "seed": 0,
       "reducer": "umap50", "reducer_params": {"method": "umap"}, "clusterer": "kmeans",
       "clusterer_params": {"max_iter": 1000}, "ami": 0.5}


def test_append_and_read(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(ROW)
    store.append({**ROW, "clusterer": "hdbscan", "ami": 0.3})
    df = store.read()
    assert len(df) == 2 and set(df["clusterer"]) == {"kmeans", "hdbscan"}
    assert df.loc[df.clusterer == "kmeans", "ami"].item() == 0.5
    assert {"zsc_version", "timestamp", "run_key"} <= set(df.columns)


def test_same_configuration_replaces_its_row(tmp_path):
    store = ResultsStore(tmp_path)
    k1 = store.append(ROW)
    k2 = store.append({**ROW, "ami": 0.7})
    assert k1 == k2 and len(store) == 1
    assert store.read()["ami"].item() == 0.7
    assert run_key(ROW) != run_key({**ROW, "seed": 1})


def test_partial_write_is_never_read(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(ROW)
    # a crash mid-write leaves only a temporary file, which readers ignore
    (tmp_path / ".abc.parquet.x1.tmp").write_bytes(b"PAR1 half a file")
    # a damaged row file (e.g. disk trouble) is skipped with a warning, the rest survive
    (tmp_path / "deadbeef.parquet").write_bytes(b"PAR1 garbage")
    with pytest.warns(UserWarning, match="unreadable"):
        df = store.read()
    assert len(df) == 1


def test_empty_store(tmp_path):
    df = ResultsStore(tmp_path / "none").read()
    assert isinstance(df, pd.DataFrame) and df.empty
