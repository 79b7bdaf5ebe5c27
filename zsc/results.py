"""Stage 7 — results: a Parquet store with one row per run, keyed by the run's full configuration.

The store is a folder of one-row Parquet files named by the hash of the run's configuration.
Each is written to a temporary name and renamed into place, so an append is atomic, a re-run of
the same configuration replaces its row instead of duplicating it, and a crash mid-write leaves
only a temporary file that readers never look at. Unreadable files are skipped with a warning.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import config
from ._version import __version__
from .errors import DataMissingError
from .io import atomic_path, check_writable, config_hash
from .versions import versions

CONFIG_COLUMNS = (
    "encoder", "dataset", "split", "n_samples", "seed", "reducer", "reducer_params",
    "clusterer", "clusterer_params",
)


def run_key(cfg: Mapping[str, Any]) -> str:
    """The identity of a run: hash of its configuration columns (not of its results).

    The images are drawn with the run's seed unless `sample_seed` says otherwise (a profile
    with several clustering seeds on one subsample); only then is it part of the key, so the
    keys of every other row stay as they were."""
    key = {k: cfg.get(k) for k in CONFIG_COLUMNS}
    if cfg.get("sample_seed") is not None and cfg.get("sample_seed") != cfg.get("seed"):
        key["sample_seed"] = int(cfg["sample_seed"])
    return config_hash(key, length=20)


def foreign(table: Any, stem: str) -> str:
    """Why a Parquet table is not one row this store wrote under the name `stem` ("" if it is):
    zsc names each file by its row's run key."""
    missing = [c for c in (*CONFIG_COLUMNS, "run_key") if c not in table.column_names]
    if missing:
        return f"no column(s) {', '.join(missing)}"
    keys = table.column("run_key").to_pylist()
    if keys != [stem]:
        return f"its run_key {keys[:2]!r} is not its file name {stem!r}"
    return ""


class ResultsStore:
    """Append rows (dicts) atomically; read them back as a tidy DataFrame."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path else config.results_dir()

    def append(self, row: Mapping[str, Any]) -> str:
        """Write one run's row; returns its key. The same configuration overwrites its row."""
        row = dict(row)
        for k in ("reducer_params", "clusterer_params"):
            if isinstance(row.get(k), Mapping):
                row[k] = json.dumps(row[k], sort_keys=True, default=str)
        key = run_key(row)
        for c in CONFIG_COLUMNS:  # every row it writes is one `read` recognises as its own
            row.setdefault(c, None)
        row.setdefault("zsc_version", __version__)
        # The software that made the numbers (numpy, scikit-learn, umap-learn, torch, ...).
        row.setdefault("versions", json.dumps(versions(), sort_keys=True))
        row.setdefault("timestamp", time.strftime("%Y-%m-%dT%H:%M:%S"))
        row["run_key"] = key
        df = pd.DataFrame([row])
        with atomic_path(self.path / f"{key}.parquet") as tmp:
            df.to_parquet(tmp, index=False)
        return key

    def check_writable(self) -> None:
        """Fail before any work if rows cannot be written here (read-only, a file, ...)."""
        check_writable(self.path, "the results store")

    def keys(self) -> set[str]:
        return {p.stem for p in self.path.glob("*.parquet")}

    def __contains__(self, key: str) -> bool:
        """Is this run's row stored *and readable*? A damaged file does not count as done."""
        p = self.path / f"{key}.parquet"
        if not p.exists():
            return False
        try:
            pd.read_parquet(p, columns=["run_key"])
        except Exception as err:
            warnings.warn(f"results file {p} is unreadable ({err}); its run will be recomputed",
                          stacklevel=2)
            return False
        return True

    def read(self) -> pd.DataFrame:
        """All complete rows, one per configuration, as a DataFrame (empty if none).

        Rows are read as Arrow tables and joined before one conversion to pandas (6x faster
        than a DataFrame per file at a thousand rows); a column missing or all-null in some rows
        is null there. The joined table is kept in the cache, named by the store's listing (each
        file's name, inode, size and modification time): every chapter reads the same store,
        and one file reads in ~0.05 s where a thousand take ~2.5 s."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = sorted(self.path.glob("*.parquet"))
        snapshot = self._snapshot_path(files)
        table = _read_snapshot(snapshot) if snapshot else None
        if table is None:
            tables, skipped = [], []
            for p in files:
                try:
                    t = pq.ParquetFile(p).read(use_threads=False).replace_schema_metadata(None)
                except Exception as err:  # a damaged file: report, skip, never trust
                    skipped.append(f"results file {p} is unreadable ({err}); its row is skipped (run "
                                   "that configuration again to replace it, or delete the file)")
                    continue
                why = foreign(t, p.stem)
                if why:  # another program's file (or a renamed one): not a row of this store
                    skipped.append(f"{p} is not a zsc results row ({why}); it is skipped (move it out "
                                   "of the store)")
                    continue
                tables.append(t)
            table = (pa.concat_tables(tables, promote_options="permissive") if tables else None)
            if table is not None:
                table = table.replace_schema_metadata({_SKIPPED: json.dumps(skipped)})
                if snapshot:
                    _write_snapshot(snapshot, table)
        skipped = json.loads((table.schema.metadata or {}).get(_SKIPPED.encode(), b"[]")) if table else skipped
        for message in skipped:  # said on every read, from a snapshot too
            warnings.warn(message, stacklevel=2)
        if table is None:
            return pd.DataFrame(columns=[*CONFIG_COLUMNS, "run_key"])
        df = table.replace_schema_metadata(None).to_pandas()
        return df.sort_values(["encoder", "dataset", "clusterer"], kind="stable").reset_index(drop=True)

    def _snapshot_path(self, files: list[Path]) -> Path | None:
        if len(files) < SNAPSHOT_MIN_ROWS:
            return None
        listing = []
        for p in files:
            try:
                st = p.stat()
            except OSError:  # removed while listing: no snapshot this time
                return None
            listing.append((p.name, st.st_ino, st.st_size, st.st_mtime_ns))
        key = {"store": str(self.path.resolve()), "files": listing, "zsc_version": __version__}
        return config.cache_dir() / "results" / f"{config_hash(key)}.parquet"

    def __len__(self) -> int:
        return len(self.keys())


SNAPSHOT_MIN_ROWS = 50  # below this the files read as fast as one snapshot
_SKIPPED = "zsc_skipped_files"


def _read_snapshot(path: Path) -> Any:
    """The joined table kept for this listing, or None (absent or damaged: read the files)."""
    import pyarrow.parquet as pq

    if not path.exists():
        return None
    try:
        return pq.read_table(path, use_threads=False)
    except Exception as err:
        warnings.warn(f"results snapshot {path} is damaged ({err}); the store's files are read "
                      "instead", stacklevel=3)
        return None


def _write_snapshot(path: Path, table: Any) -> None:
    """Keep the joined table; a cache that cannot be written is only slower, never an error."""
    import pyarrow.parquet as pq

    try:
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
    except OSError:
        pass


def find_stores(path: str | os.PathLike[str] | None = None) -> tuple[ResultsStore, ResultsStore | None]:
    """(clustering store, kNN store or None) of any folder zsc writes results to: a store itself
    (`zsc run --results DIR`), a folder holding `clustering/` and `knn/` (a profile's or a
    batch's results), or a batch's output folder (`.../batch`, holding `jobs/`)."""
    if path is None:
        return ResultsStore(), None
    p = Path(path).expanduser()
    if not p.is_dir():
        raise DataMissingError(f"no results folder {p}")
    def has_stores(d: Path) -> bool:
        return (d / "clustering").is_dir() or (d / "knn").is_dir()

    if (p / "jobs").is_dir() and has_stores(p.parent):  # a batch's output: stores beside it
        p = p.parent
    if has_stores(p):
        knn = p / "knn"
        return ResultsStore(p / "clustering"), ResultsStore(knn) if knn.is_dir() else None
    if p.name == "clustering" and (p.parent / "knn").is_dir():
        return ResultsStore(p), ResultsStore(p.parent / "knn")
    if p.name == "knn":
        return ResultsStore(p.parent / "clustering"), ResultsStore(p)
    return ResultsStore(p), None
