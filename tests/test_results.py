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


def test_a_large_store_is_read_from_its_snapshot(tmp_path, monkeypatch):
    """A store of many rows is joined once and kept under its listing: the next read takes the
    snapshot (not the files), a new row makes a new one, a damaged snapshot is never trusted,
    and a skipped file is still reported on every read."""
    import pyarrow.parquet as pq

    from zsc import config, results

    store = ResultsStore(tmp_path / "store")
    for seed in range(results.SNAPSHOT_MIN_ROWS):
        store.append({**ROW, "seed": seed, "ami": seed / 100})
    (store.path / "deadbeef.parquet").write_bytes(b"PAR1 garbage")
    with pytest.warns(UserWarning, match="unreadable"):
        first = store.read()
    snapshots = list((config.cache_dir() / "results").glob("*.parquet"))
    assert len(snapshots) == 1 and len(first) == results.SNAPSHOT_MIN_ROWS
    with monkeypatch.context() as mp:  # the second read never opens a row file
        mp.setattr(pq, "ParquetFile", lambda *a, **k: 1 / 0)
        with pytest.warns(UserWarning, match="unreadable"):  # the damaged file, said again
            again = store.read()
    pd.testing.assert_frame_equal(first, again)
    store.append({**ROW, "seed": 999, "ami": 0.9})  # another listing: read afresh
    with pytest.warns(UserWarning, match="unreadable"):
        assert 0.9 in set(store.read()["ami"])
    (store.path / "deadbeef.parquet").unlink()
    store.read()
    newest = max((config.cache_dir() / "results").glob("*.parquet"), key=lambda p: p.stat().st_mtime_ns)
    newest.write_bytes(b"PAR1 half")
    with pytest.warns(UserWarning, match="snapshot .* is damaged"):
        damaged = store.read()
    assert len(damaged) == results.SNAPSHOT_MIN_ROWS + 1
