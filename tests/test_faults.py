"""Issue #6 — bad input and faults: every failure is one clear message (what went wrong, what to
do), a non-zero exit from the CLI, and never a partial file that is left behind or trusted.

One test (or a few) per case of the issue; cases 9 and 11 belong to the batch runner's tests.
"""

from __future__ import annotations

import ast
import errno
import gzip
import struct
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import zsc
from zsc import data
from zsc import embed as E
from zsc import io as zio
from zsc.cli import main
from zsc.cluster import AffinityPropagation, cluster, make_clusterer
from zsc.errors import (
    DataMissingError,
    DiskFullError,
    InvalidEmbeddingError,
    InvalidParameterError,
    UnknownNameError,
    WeightsUnavailableError,
    ZscError,
)
from zsc.metrics import score_clustering
from zsc.reduce import ReducerConfig
from zsc.results import ResultsStore, run_key

ZSC_DIR = Path(zsc.__file__).resolve().parent


def cli_error(capsys, argv) -> str:
    """Run the CLI, assert exit 2 and one `zsc: error:` line; return that line."""
    assert main(argv) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.startswith("zsc: error:")]
    assert len(errs) == 1 and errs[0] == lines[-1], lines  # progress bars may precede it
    return errs[0]


def tmp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith((".tmp", ".part"))]


# --------------------------------------------------------------------------- 1. unknown names
@pytest.mark.parametrize("argv,kind,name,close", [
    (["embed", "pixelz", "digits"], "encoder", "pixelz", "pixels"),
    (["embed", "pixels", "digitz"], "dataset", "digitz", "digits"),
    (["run", "pixels", "digits", "--clusterer", "kmean"], "clusterer", "kmean", "kmeans"),
    (["run", "pixels", "digits", "--reducer", "umpa"], "reducer", "umpa", "umap"),
])
def test_1_unknown_name_lists_known_names_and_closest(capsys, argv, kind, name, close):
    line = cli_error(capsys, argv)
    assert f"unknown {kind} {name!r}. Did you mean {close!r}? Known {kind}s: " in line
    with pytest.raises(UnknownNameError):  # --debug shows the traceback instead
        main(["--debug", *argv])


def test_1_unknown_profile(capsys):
    from zsc import book, profiles

    with pytest.raises(UnknownNameError) as err:
        profiles.load_profile("ofline")
    assert isinstance(err.value, ZscError)
    assert str(err.value) == ("no profile 'ofline'. Did you mean 'offline'? Shipped profiles: "
                              "offline, offline_full, paper, smoke (or give the path of a .yaml file)")
    assert book.main(["build", "--profile", "ofline", "--no-site"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"zsc: error: {err.value}"]


# --------------------------------------------------------------------------- 2. invalid numbers
def test_2_n_clusters_outside_2_to_n_samples():
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    for k in (1, 0, -3, 51):
        with pytest.raises(InvalidParameterError,
                           match=rf"K-Means: n_clusters must be between 2 and the number of samples "
                                 rf"\(50\), got {k}; ask for fewer clusters"):
            cluster(X, "kmeans", k)
    with pytest.raises(InvalidParameterError, match="needs n_clusters"):
        make_clusterer("ac_with_c")


@pytest.mark.parametrize("method,n", [("pca", 0), ("pca", -5), ("umap", 0), ("pacmap", -1.0)])
def test_2_non_positive_components(method, n):
    with pytest.raises(InvalidParameterError, match=rf"{method}: n_components must be positive, "
                                                    rf"got {n}; give a number of components"):
        ReducerConfig(method, n)


def test_2_non_positive_components_cli(capsys):
    line = cli_error(capsys, ["run", "pixels", "digits", "--reducer", "pca", "--n-components", "-5",
                              "--clusterer", "kmeans"])
    assert "pca: n_components must be positive, got -5" in line


@pytest.mark.parametrize("damping", [0.0, 0.49, 1.0, 1.5])
def test_2_damping_outside_half_to_one(damping):
    with pytest.raises(InvalidParameterError, match=r"Affinity Prop.: damping must be in \[0.5, 1\)"):
        make_clusterer("affinity_propagation", damping=damping)
    with pytest.raises(InvalidParameterError, match=r"damping must be in \[0.5, 1\)"):
        AffinityPropagation(damping=damping).fit(np.eye(5))


@pytest.mark.parametrize("n", ["5000", "0", "-1"])
def test_2_sample_size_larger_than_dataset(capsys, n):
    line = cli_error(capsys, ["embed", "pixels", "digits", "--n-samples", n])
    assert f"sample size {n} is not between 1 and the dataset's 901 samples; pass at most 901" in line
    assert not (zsc.config.cache_dir() / "embeddings").exists()  # nothing cached


# --------------------------------------------------------------------------- 3. NaN / infinity
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_3_non_finite_embeddings_are_refused_before_clustering(bad):
    X = np.random.default_rng(0).normal(size=(30, 4))
    X[[3, 7], 1] = bad
    with pytest.raises(InvalidEmbeddingError, match="2 rows contain NaN or infinity; refusing to "
                                                    "cluster. Check the encoder"):
        cluster(X, "kmeans", 3)
    with pytest.raises(InvalidEmbeddingError, match="2 of 30 embeddings contain NaN or infinity"):
        E.check_finite(X, "test")


def test_3_nan_from_the_encoder_is_neither_cached_nor_clustered(monkeypatch):
    def broken(model, images, pre, **kw):
        return np.full((len(images), 4), np.nan, np.float32)

    monkeypatch.setattr(E, "encode", broken)
    with pytest.raises(InvalidEmbeddingError, match="encoder 'pixels' on digits/test: 901 of 901 "
                                                    "embeddings contain NaN or infinity"):
        E.embed("pixels", "digits", progress=False)
    assert not (zsc.config.cache_dir() / "embeddings").exists()


# --------------------------------------------------------------------------- 4. dataset files
def _idx_gz(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_fashion(tmp_path, monkeypatch):
    """A 12-image Fashion-MNIST in $ZSC_DATA_DIR/fashion_mnist (the spec's root)."""
    folder = tmp_path / "data" / "fashion_mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix in ("t10k", "train"):
        _idx_gz(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (12, 28, 28)))
        _idx_gz(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(12) % 10)
    monkeypatch.delenv("ZSC_FASHION_MNIST_DIR", raising=False)
    monkeypatch.setenv("ZSC_DATA_DIR", str(tmp_path / "data"))
    return folder  # the arrays' cache is keyed by the files' identity: nothing to clear


def test_4_truncated_idx_gz_names_the_file(tiny_fashion, capsys):
    assert len(data.load_dataset("fashion_mnist")) == 12  # the copy is read from ZSC_DATA_DIR
    f = tiny_fashion / "t10k-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # a download cut off mid-way
    with pytest.raises(DataMissingError) as err:
        data.load_dataset("fashion_mnist")
    msg = str(err.value)
    assert f"dataset 'fashion_mnist': files not found or unreadable in {tiny_fashion}" in msg
    assert "t10k-images-idx3-ubyte.gz is truncated or damaged" in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "\n" not in msg
    line = cli_error(capsys, ["embed", "pixels", "fashion_mnist"])
    assert str(tiny_fashion) in line and "truncated" in line


def test_4_idx_body_shorter_than_its_header(tiny_fashion):
    raw = gzip.open(tiny_fashion / "t10k-labels-idx1-ubyte.gz").read()
    with gzip.open(tiny_fashion / "t10k-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(raw[:-3])
    with pytest.raises(DataMissingError, match="t10k-labels-idx1-ubyte.gz is truncated: its IDX body "
                                               "holds 9 bytes, header says 12"):
        data.load_dataset("fashion_mnist")


def test_4_missing_file_names_the_path(tiny_fashion):
    (tiny_fashion / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataMissingError, match=str(tiny_fashion / "train-labels-idx1-ubyte.gz")):
        data.load_dataset("fashion_mnist", "train")


# --------------------------------------------------------------------------- 5. weights files
ZOO = "zoo_mocov3_resnet"


@pytest.fixture
def zoo_file(tmp_path):
    from safetensors.torch import save_file

    from zsc.encoders.zoo import models

    state = models.build_backbone("resnet").state_dict()
    path = tmp_path / "good.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path, state


def test_5_missing_weights_file(capsys, tmp_path):
    missing = tmp_path / "nowhere.safetensors"
    with pytest.raises(WeightsUnavailableError, match=f"weights file {missing} does not exist"):
        E.embed(ZOO, "digits", weights=str(missing), progress=False)
    line = cli_error(capsys, ["embed", ZOO, "digits", "--weights", str(missing)])
    assert str(missing) in line and "--weights" in line


def test_5_truncated_weights_never_give_a_random_model(zoo_file, tmp_path):
    good, _ = zoo_file
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(WeightsUnavailableError, match=rf"weights file {cut} is unreadable .* it may be "
                                                      r"truncated — delete it and download it again"):
        E.embed(ZOO, "digits", weights=str(cut), progress=False)
    pth = tmp_path / "cut.pth"
    torch.save({"a": torch.zeros(1000)}, pth)
    pth.write_bytes(pth.read_bytes()[:500])
    with pytest.raises(WeightsUnavailableError, match=f"weights file {pth} is unreadable"):
        E.embed("dino_resnet50", "digits", weights=str(pth), progress=False)
    assert not (zsc.config.cache_dir() / "embeddings").exists()


def test_5_wrong_keys_or_shapes_name_the_file(zoo_file, tmp_path):
    from safetensors.torch import save_file

    good, state = zoo_file
    E.embed(ZOO, "digits", n_samples=8, weights=str(good), progress=False)  # the right file loads
    renamed = tmp_path / "renamed.safetensors"
    save_file({f"backbone.{k}": v.contiguous() for k, v in state.items()}, str(renamed))
    with pytest.raises(WeightsUnavailableError) as err:
        E.embed(ZOO, "digits", weights=str(renamed), progress=False)
    assert f"{ZOO}: weights file {renamed} does not fit the model: missing keys" in str(err.value)
    assert "Pass the checkpoint made for this encoder" in str(err.value)
    reshaped = tmp_path / "reshaped.safetensors"
    save_file({k: (v[:1] if v.ndim else v).contiguous() for k, v in state.items()}, str(reshaped))
    with pytest.raises(WeightsUnavailableError) as err:
        E.embed(ZOO, "digits", weights=str(reshaped), progress=False)
    msg = str(err.value)
    assert f"{ZOO}: weights file {reshaped} does not fit the model (size mismatch for " in msg
    assert "Pass the checkpoint made for this encoder" in msg and "\n" not in msg


def test_5_weights_for_an_encoder_without_weights_are_refused(zoo_file, capsys):
    good, _ = zoo_file
    with pytest.raises(InvalidParameterError, match="pixels has no weights to load"):
        E.embed("pixels", "digits", weights=str(good), progress=False)
    line = cli_error(capsys, ["embed", "random_resnet50", "digits", "--weights", str(good)])
    assert "the random-init resnet50 has no weights to load" in line and "would be ignored" in line


# --------------------------------------------------------------------------- 6. no network
def test_6_hub_download_offline_fails_fast_naming_the_folder(tmp_path, monkeypatch):
    from zsc.encoders import get_encoder, hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    t0 = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as err:
        get_encoder("dino_resnet50").build(None)
    assert time.perf_counter() - t0 < 2.0
    msg = str(err.value)
    assert f"dino_resnet50: weights file dino_resnet50_pretrain.pth is not in {folder}" in msg
    assert f"save it as {folder / 'dino_resnet50_pretrain.pth'}" in msg and "--weights PATH" in msg

    import huggingface_hub.constants as hfc

    monkeypatch.setattr(hfc, "HF_HUB_CACHE", str(tmp_path / "hf"))
    t0 = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as err:
        hub.fetch_hf("timm/resnet50.a1_in1k", who="x")
    assert time.perf_counter() - t0 < 2.0
    assert f"is not in the cache {tmp_path / 'hf'} and the hub cannot be reached" in str(err.value)


def test_6_unreachable_host_is_probed_with_a_timeout(monkeypatch):
    from zsc.encoders import hub

    monkeypatch.delenv("ZSC_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    seen = []

    def no_route(addr, timeout=None):
        seen.append(timeout)
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(hub.socket, "create_connection", no_route)
    assert not hub.reachable("https://dl.fbaipublicfiles.com/x.pth")
    assert seen == [hub.PROBE_TIMEOUT_S] and hub.PROBE_TIMEOUT_S <= 5


# --------------------------------------------------------------------------- 7. damaged cache
def test_7_cache_file_with_flipped_bytes_is_rebuilt_with_a_warning():
    first = E.embed("pixels", "digits", n_samples=100, progress=False)
    path = E.cache_path(E.embedding_config("pixels", "digits", "test", 100, 0, None, False))
    raw = bytearray(path.read_bytes())
    mid = len(raw) // 2
    raw[mid : mid + 16] = bytes(b ^ 0xFF for b in raw[mid : mid + 16])
    path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match=rf"cache file {path} is damaged \(.*\); it will be rebuilt"):
        again = E.embed("pixels", "digits", n_samples=100, progress=False)
    assert not again.from_cache
    np.testing.assert_array_equal(first.features, again.features)
    np.testing.assert_array_equal(first.labels, again.labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert E.embed("pixels", "digits", n_samples=100, progress=False).from_cache


def test_7_truncated_cache_file_is_rebuilt_with_a_warning():
    first = E.embed("pixels", "digits", n_samples=100, progress=False)
    path = E.cache_path(E.embedding_config("pixels", "digits", "test", 100, 0, None, False))
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.warns(UserWarning, match="is damaged .* it will be rebuilt"):
        again = E.embed("pixels", "digits", n_samples=100, progress=False)
    np.testing.assert_array_equal(first.features, again.features)


# --------------------------------------------------------------------------- 8. results store
ROW = {"encoder": "pixels", "dataset": "digits", "split": "test", "n_samples": 10, "seed": 0,
       "reducer": "none", "reducer_params": {}, "clusterer": "kmeans", "clusterer_params": {},
       "ami": 0.5}


def test_8_partial_trailing_write_is_dropped_with_a_warning(tmp_path):
    store = ResultsStore(tmp_path)
    good = store.append(ROW)
    store.append({**ROW, "seed": 1, "ami": 0.6})
    partial_row = {**ROW, "seed": 2, "ami": 0.7}
    key = store.append(partial_row)
    p = tmp_path / f"{key}.parquet"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])  # the last write was cut off
    with pytest.warns(UserWarning, match=rf"results file {p} is unreadable .* its row is skipped"):
        df = store.read()
    assert sorted(df["seed"]) == [0, 1] and sorted(df["ami"]) == [0.5, 0.6]
    with pytest.warns(UserWarning, match="its run will be recomputed"):
        assert key not in store  # a damaged row never counts as done
    assert good in store
    store.append(partial_row)  # re-running that configuration replaces the damaged file
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sorted(store.read()["seed"]) == [0, 1, 2]


def test_8_leftover_temporary_files_are_ignored(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(ROW)
    (tmp_path / f".{run_key({**ROW, 'seed': 5})}.parquet.k2j3.tmp").write_bytes(b"PAR1 half")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a warning: temporary files are never read
        df = store.read()
    assert len(df) == 1 and len(store) == 1


# --------------------------------------------------------------------------- 10. disk full
def _fills_the_disk_after(nbytes: int):
    def write(target, *args, **kwargs):
        with open(target, "wb") if not hasattr(target, "write") else _nullcontext(target) as fh:
            fh.write(b"\0" * nbytes)
        raise OSError(errno.ENOSPC, "No space left on device")

    return write


class _nullcontext:
    def __init__(self, fh):
        self.fh = fh

    def __enter__(self):
        return self.fh

    def __exit__(self, *exc):
        return False


def test_10_disk_full_while_writing_a_cache_file(tmp_path, monkeypatch):
    path = tmp_path / "cache" / "x.npz"
    zio.save_arrays(path, {"v": 1}, a=np.arange(5))
    monkeypatch.setattr(zio.np, "savez", _fills_the_disk_after(4096))
    with pytest.raises(DiskFullError) as err:
        zio.save_arrays(path, {"v": 2}, a=np.arange(7))
    assert isinstance(err.value, OSError) and err.value.errno == errno.ENOSPC
    assert str(err.value).startswith(f"the disk is full (no space left on device) while writing {path}")
    assert f"Free space in {path.parent}" in str(err.value)
    monkeypatch.undo()
    meta, arrays = zio.load_arrays(path)
    assert meta["v"] == 1 and arrays["a"].tolist() == list(range(5))  # the good file survives
    assert tmp_files(tmp_path) == []


def test_10_disk_full_while_writing_a_results_file(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    key = store.append(ROW)
    monkeypatch.setattr(pd.DataFrame, "to_parquet",
                        lambda self, target, **kw: _fills_the_disk_after(100)(target))
    with pytest.raises(DiskFullError, match=rf"while writing {tmp_path / key}\.parquet"):
        store.append({**ROW, "ami": 0.9})
    monkeypatch.undo()
    assert store.read()["ami"].tolist() == [0.5] and tmp_files(tmp_path) == []


def test_10_disk_full_from_the_cli_is_one_line(capsys, monkeypatch):
    monkeypatch.setattr(zio.np, "savez", _fills_the_disk_after(10))
    line = cli_error(capsys, ["embed", "pixels", "digits", "--n-samples", "20"])
    assert "zsc: error: the disk is full (no space left on device) while writing " in line
    assert str(zsc.config.cache_dir()) in line
    assert tmp_files(zsc.config.cache_dir()) == []


def test_10_other_write_errors_are_not_disguised(tmp_path):
    folder = tmp_path / "out"
    with pytest.raises(PermissionError) as err, zio.atomic_path(folder / "f.bin") as tmp:
        tmp.write_bytes(b"half")
        raise PermissionError(errno.EACCES, "Permission denied")
    assert not isinstance(err.value, ZscError)
    assert list(folder.iterdir()) == []


# --------------------------------------------------------------------------- 12. degenerate
def test_12_all_noise_clustering_is_scored_without_crashing():
    X = np.random.default_rng(0).uniform(size=(60, 3))
    y = np.arange(60) % 3
    res = cluster(X, "hdbscan", min_cluster_size=50, max_cluster_frac=None)
    assert (res.labels == -1).all() and res.n_clusters == 0
    row = score_clustering(y, res.labels, spaces={"original": X}, hierarchy={"fine": y})
    assert row["ami"] == 0.0 and np.isfinite(row["ari"]) and np.isfinite(row["nmi"])
    assert row["n_clusters_pred"] == 0 and row["ratio_clustered"] == 0.0
    assert np.isnan(row["ami_clustered"])
    assert np.isnan(row["silhouette_original"])
    assert row["silhouette_original_reason"] == "all points are noise"
    assert abs(row["ami_level_fine"]) < 1e-12  # defined (≈ 0), not NaN


@pytest.mark.parametrize("name,kw", [
    ("ac_without_c", {"distance_threshold": 1e9}),
    ("kmeans", {"n_clusters": 3}),  # identical points: one distinct cluster
    ("affinity_propagation", {}),
])
def test_12_one_cluster_is_scored_without_crashing(name, kw):
    X = np.ones((30, 4)) if name != "ac_without_c" else np.random.default_rng(1).normal(size=(30, 4))
    y = np.arange(30) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn says so too
        res = cluster(X, name, **kw)
    assert res.n_clusters == 1
    row = score_clustering(y, res.labels, spaces={"original": X})
    assert row["ami"] == 0.0 and row["ari"] == 0.0 and row["n_clusters_pred"] == 1
    assert np.isnan(row["silhouette_original"])
    assert row["silhouette_original_reason"] == "only one cluster"
    assert score_clustering(np.zeros(30), res.labels)["ami"] == 1.0  # one class, one cluster


# --------------------------------------------------------------------------- safety
def _calls(attr: str, owners: set[str]):
    for path in sorted(ZSC_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == attr and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in owners):
                yield path, node


def _kw(node: ast.Call, name: str):
    return next((k.value.value for k in node.keywords
                 if k.arg == name and isinstance(k.value, ast.Constant)), "absent")


def test_safety_torch_load_only_with_weights_only():
    calls = list(_calls("load", {"torch"}))
    assert calls, "expected hub.load_state_dict's torch.load"
    bad = [f"{p}:{n.lineno}" for p, n in calls if _kw(n, "weights_only") is not True]
    assert not bad, f"torch.load without weights_only=True: {bad}"


def test_safety_np_load_never_unpickles():
    bad = [f"{p}:{n.lineno}" for p, n in _calls("load", {"np", "numpy"})
           if _kw(n, "allow_pickle") is not False]
    assert not bad, f"np.load without allow_pickle=False: {bad}"


def test_safety_no_unsafe_deserialisers():
    for attr, owners in [("load", {"yaml", "pickle", "joblib", "dill", "cloudpickle"}),
                         ("unsafe_load", {"yaml"}), ("full_load", {"yaml"}),
                         ("loads", {"pickle", "dill", "cloudpickle"}), ("read_pickle", {"pd", "pandas"})]:
        bad = [f"{p}:{n.lineno}" for p, n in _calls(attr, owners)]
        assert not bad, f"{'/'.join(sorted(owners))}.{attr}: {bad}"
    assert list(_calls("safe_load", {"yaml"}))  # profiles are read with yaml.safe_load


def test_safety_names_cannot_leave_the_cache_root(tmp_path):
    cache = tmp_path / "cache"
    digits = data.load_dataset("digits").subset(np.arange(10))
    for name in ("../escape", "a/b", ".hidden", ""):
        evil = data.LoadedDataset(name, "test", digits.images, digits.labels, digits.class_names)
        with pytest.raises(InvalidParameterError, match="cannot name a cache folder"):
            E.embed("pixels", evil, cache_dir=cache, progress=False)
    with pytest.raises(InvalidParameterError, match="split name '../../x' cannot name a cache folder"):
        E.embed("pixels", "digits", "../../x", cache_dir=cache, progress=False)
    assert not tmp_path.joinpath("escape").exists() and not cache.exists()
