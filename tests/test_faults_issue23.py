"""Issue #23 — every bad input one line (exit 2) before any work, files a team can share, two
runners that share a grid's work. One section per item of the issue; where an item is a class
of input (every `--params` shape, every path that cannot be written), the class is tested.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

import zsc
from zsc import io as zio
from zsc.cli import main
from zsc.errors import InvalidParameterError, UnwritablePathError
from zsc.results import ResultsStore

ROW = {"encoder": "pixels", "dataset": "digits", "split": "test", "n_samples": 10, "seed": 0,
       "reducer": "none", "reducer_params": {}, "clusterer": "kmeans", "clusterer_params": {},
       "ami": 0.5}


def cli_error(capsys, argv) -> str:
    """Run the CLI, assert exit 2 and one `zsc: error:` line (no traceback); return that line."""
    assert main(argv) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.startswith("zsc: error:")]
    assert len(errs) == 1 and errs[0] == lines[-1], lines
    assert not any("Traceback" in ln for ln in lines), lines
    return errs[0]


def nothing_embedded() -> bool:
    cache = zsc.config.cache_dir()
    return not cache.exists() or not any(cache.rglob("*.npz"))


# --------------------------------------------------------------------------- unwritable paths
# Each way a folder cannot be written. Read-only folders are simulated where the tests run as
# root (root writes anywhere): creating a folder or a file under one fails as the OS would.
UNWRITABLE = ["read-only", "read-only file system", "a file", "under a file"]


def unwritable(kind: str, tmp_path: Path, monkeypatch) -> Path:
    """A folder path of this kind that files cannot be created in."""
    if kind == "a file":
        p = tmp_path / "taken"
        p.write_text("not a folder")
        return p
    if kind == "under a file":
        (tmp_path / "file").write_text("x")
        return tmp_path / "file" / "sub"
    ro = tmp_path / "ro"
    ro.mkdir()
    code = errno.EACCES if kind == "read-only" else errno.EROFS
    if os.geteuid() != 0 and kind == "read-only":
        ro.chmod(0o555)
        return ro / "sub"
    real_mkstemp, real_mkdir = tempfile.mkstemp, os.mkdir

    def inside(d) -> bool:
        return d is not None and Path(d).resolve().is_relative_to(ro.resolve())

    def mkstemp(*a, dir=None, **kw):  # noqa: A002 - tempfile's own name
        if inside(dir):
            raise OSError(code, os.strerror(code), str(dir))
        return real_mkstemp(*a, dir=dir, **kw)

    def mkdir(path, *a, **kw):
        if inside(path):
            raise OSError(code, os.strerror(code), str(path))
        return real_mkdir(path, *a, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(os, "mkdir", mkdir)
    return ro / "sub"


@pytest.mark.parametrize("kind", UNWRITABLE)
def test_1_check_writable_refuses_every_kind(kind, tmp_path, monkeypatch):
    p = unwritable(kind, tmp_path, monkeypatch)
    with pytest.raises(UnwritablePathError, match=f"cannot write the store {p}"):
        zio.check_writable(p, "the store")
    with pytest.raises(UnwritablePathError):
        zio.check_writable(p, "the store", create=False)
    with pytest.raises(UnwritablePathError), zio.atomic_path(p / "f.txt") as tmp:
        tmp.write_text("never")


@pytest.mark.parametrize("kind", UNWRITABLE)
@pytest.mark.parametrize("where", ["run --results", "ZSC_HOME", "results -o", "batch --results",
                                   "batch --output"])
def test_1_every_unwritable_path_is_one_line_before_any_work(kind, where, capsys, tmp_path,
                                                             monkeypatch):
    store = tmp_path / "store"
    ResultsStore(store).append(ROW)
    bad = unwritable(kind, tmp_path, monkeypatch)
    argv = {
        "run --results": ["run", "pixels", "digits", "--clusterer", "kmeans", "--n-samples", "30",
                          "--results", str(bad)],
        "ZSC_HOME": ["run", "pixels", "digits", "--clusterer", "kmeans", "--n-samples", "30",
                     "--results", str(tmp_path / "ok")],
        "results -o": ["results", str(store), "-o", str(bad / "x.csv")],
        "batch --results": ["batch", "smoke", "--results", str(bad), "--no-progress"],
        "batch --output": ["batch", "smoke", "--output", str(bad), "--no-progress"],
    }[where]
    if where == "ZSC_HOME":
        monkeypatch.setenv("ZSC_HOME", str(bad))
    line = cli_error(capsys, argv)
    assert "cannot write" in line and str(bad) in line
    assert nothing_embedded()
    if where.startswith("batch"):  # the dry run says the same
        assert cli_error(capsys, [*argv, "--dry-run"]) == line


# --------------------------------------------------------------------------- 1. --params etc.
PARAMS = [
    ('{"kmeans": {"n_clusters": "ten"}}', "n_clusters cannot be overridden"),
    ('{"kmeans": {"n_clusters": 5}}', "n_clusters cannot be overridden"),
    ('{"kmeans": {"random_state": 3}}', "random_state cannot be overridden"),
    ('{"hdbscan": {"min_cluster_size": "ten"}}', "min_cluster_size must be a whole number"),
    ('{"hdbscan": {"min_cluster_size": 2.5}}', "min_cluster_size must be a whole number"),
    ('{"hdbscan": {"cluster_selection_method": "x"}}', "cluster_selection_method"),
    ('{"kmeans": {"max_iter": -1}}', "max_iter"),
    ('{"kmeans": {"max_iter": true}}', "max_iter must be a whole number"),
    ('{"spectral": {"affinity": "banana"}}', "affinity"),
    ('{"ac_with_c": {"linkage": "banana"}}', "banana"),
    ('{"affinity_propagation": {"damping": "high"}}', "damping must be a number"),
    ('{"affinity_propagation": {"damping": 2}}', "damping must be in [0.5, 1)"),
    ('{"kmeans": {"bogus": 1}}', "unknown parameter(s) bogus"),
    ('{"kmean": {}}', "unknown clusterer 'kmean'"),
    ('{"kmeans": 5}', "the parameters must be a mapping"),
    ('{"kmeans": [1, 2]}', "the parameters must be a mapping"),
    ('{"kmeans": "x"}', "the parameters must be a mapping"),
    ("[1, 2]", "must map clusterer names to their parameters"),
    ("5", "must map clusterer names to their parameters"),
    ('"kmeans"', "must map clusterer names to their parameters"),
    ("{kmeans: 1}", "--params is not valid JSON"),
]


@pytest.mark.parametrize("text,why", PARAMS)
def test_1_every_params_shape_is_one_line_before_any_work(text, why, capsys):
    line = cli_error(capsys, ["run", "pixels", "digits", "--clusterer", "kmeans",
                              "--n-samples", "30", "--params", text])
    assert why in line
    assert nothing_embedded()


@pytest.mark.parametrize("text,why", PARAMS[:-1])
def test_1_every_params_shape_is_refused_by_the_api_too(text, why):
    import json

    from zsc.pipeline import run

    with pytest.raises(zsc.errors.ZscError, match=None) as err:
        run("pixels", "digits", ["kmeans"], n_samples=30, params=json.loads(text), progress=False)
    assert why in str(err.value)
    assert nothing_embedded()


@pytest.mark.parametrize("argv,why", [
    (["--seed", "-1"], "seed must be a whole number of at least 0, got -1"),
    (["--device", "banana"], "unknown device 'banana'"),
    (["--device", "cuda:x"], "unknown device 'cuda:x'"),
    (["--device", "cuda:99"], "not available on this machine"),
    (["--device", "meta"], "unsupported device 'meta'"),
])
@pytest.mark.parametrize("command", ["run", "embed"])
def test_1_seed_and_device_are_one_line_before_any_work(command, argv, why, capsys):
    line = cli_error(capsys, [command, "pixels", "digits", "--n-samples", "30", *argv])
    assert why in line
    assert nothing_embedded()


def test_1_cuda_without_a_gpu_is_one_line(capsys, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    line = cli_error(capsys, ["run", "pixels", "digits", "--device", "cuda"])
    assert "device 'cuda' is not available on this machine (0 cuda device(s))" in line


def test_1_sample_seed_is_checked_by_the_api():
    from zsc.pipeline import run

    with pytest.raises(InvalidParameterError, match="sample seed must be"):
        run("pixels", "digits", ["kmeans"], n_samples=30, sample_seed=-2, progress=False)


# --------------------------------------------------------------------------- 1-2. grid values
def grid_file(tmp: Path, stages: list[dict]) -> Path:
    path = tmp / "g.yaml"
    path.write_text(yaml.safe_dump({"name": "g", "results": str(tmp / "results"),
                                    "stages": stages}))
    return path


@pytest.mark.parametrize("params,why", [
    ({"n_clusters": "five"}, "n_clusters cannot be overridden"),
    ({"min_cluster_size": "ten"}, "min_cluster_size must be a whole number"),
    ({"metric": "nope"}, "metric"),
    ([1, 2], "a mapping of clusterer parameters"),
])
def test_2_grid_cluster_values_are_bad_in_the_dry_run_and_the_run(params, why, tmp_path, capsys):
    clusterer = "kmeans" if "n_clusters" in params else "hdbscan"
    path = grid_file(tmp_path, [{"kind": "cluster", "params": {
        "encoder": "pixels", "dataset": "digits", "n_samples": 30, "clusterer": clusterer,
        "params": params}}])
    assert main(["batch", str(path), "--dry-run"]) == 2  # as the run: nothing runs
    out = capsys.readouterr()
    assert "todo" not in out.out and why in out.out and "Traceback" not in out.err
    assert main(["batch", str(path), "--no-progress"]) == 2
    assert why in capsys.readouterr().err
    assert nothing_embedded()


# --------------------------------------------------------------------------- 5. foreign files
@pytest.mark.parametrize("foreign", [
    pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}),  # another program's table
    pd.DataFrame([{**ROW, "run_key": "somethingelse", "reducer_params": "{}",
                   "clusterer_params": "{}"}]),  # a zsc row under another name (copied)
])
def test_5_a_foreign_parquet_file_is_named_and_skipped(foreign, tmp_path, capsys):
    store = ResultsStore(tmp_path)
    store.append(ROW)
    foreign.to_parquet(tmp_path / "other.parquet")
    with pytest.warns(UserWarning, match=r"other\.parquet is not a zsc results row"):
        df = store.read()
    assert len(df) == 1 and "x" not in df
    assert main(["results", str(tmp_path), "-o", str(tmp_path / "out.csv")]) == 0
    out = pd.read_csv(tmp_path / "out.csv")
    assert len(out) == 1 and "x" not in out
    assert "1 rows written" in capsys.readouterr().out


# --------------------------------------------------------------------------- 7. umask
@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_7_files_honour_the_umask(mask, tmp_path):
    import numpy as np

    old = os.umask(mask)
    try:
        ResultsStore(tmp_path / "res").append(ROW)
        zio.save_arrays(tmp_path / "cache" / "a.npz", {"v": 1}, a=np.arange(3))
        with zio.atomic_path(tmp_path / "jobs" / "r.json") as tmp:
            tmp.write_text("{}")
    finally:
        os.umask(old)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 3
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask, p


# --------------------------------------------------------------------------- 9. smaller ones
@pytest.mark.parametrize("n", ["0", "50", "0.9"])
def test_9_n_components_without_a_reducer_is_refused(n, capsys):
    line = cli_error(capsys, ["run", "pixels", "digits", "--n-components", n])
    assert "--n-components is the size of the --reducer's output; give --reducer too" in line


def test_9_n_components_zero_with_a_reducer_is_refused(capsys):
    line = cli_error(capsys, ["run", "pixels", "digits", "--reducer", "pca", "--n-components", "0"])
    assert "n_components must be positive" in line


def test_9_warnings_are_one_line_without_python_source(tmp_path):
    import subprocess
    import sys

    store = ResultsStore(tmp_path)
    store.append(ROW)
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "other.parquet")
    done = subprocess.run([sys.executable, "-m", "zsc.cli", "results", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    err = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(err) == 2, err
    assert err[0].startswith("zsc: warning: results file ") and "broken.parquet" in err[0]
    assert err[1].startswith("zsc: warning: ") and "other.parquet" in err[1]
    assert "1 clustering rows" in done.stdout


# --------------------------------------------------------------------------- 8. two runners
CLUSTERERS = ["kmeans", "spectral", "ac_with_c", "ac_without_c", "affinity_propagation", "hdbscan"]


def small_stages(n: int = 60) -> list[dict]:
    common = {"encoder": "pixels", "dataset": "digits", "n_samples": n}
    return [
        {"kind": "embed", "params": common, "product": {"seed": [0, 1]}},
        {"kind": "cluster", "params": common, "product": {"seed": [0, 1], "clusterer": CLUSTERERS}},
        {"kind": "knn", "params": {**common, "n_train": n, "ks": [1, 10]}, "product": {"seed": [0, 1]}},
    ]


def test_8_a_held_job_is_left_at_once_and_come_back_to(tmp_path):
    import threading

    from filelock import FileLock

    from zsc import batch
    from zsc.batch.run import execute_job, lock_path

    grid = batch.load_grid(str(grid_file(tmp_path, [{"kind": "embed", "params": {
        "encoder": "pixels", "dataset": "digits", "n_samples": 40, "umap": False},
        "product": {"seed": [0, 1]}}])))
    job = grid.jobs[0]
    lock = lock_path(grid.output, job.key)
    lock.parent.mkdir(parents=True)
    other = FileLock(str(lock), thread_local=False)
    other.acquire()  # another runner is on this job
    st = execute_job(job, str(grid.results), str(grid.output), wait=False)
    assert st["status"] == "held" and not batch.is_done(grid.output, job.key)
    threading.Timer(2.0, other.release).start()  # ... and lets it go unfinished
    summary = batch.run_grid(grid, jobs=1, progress=False)
    assert summary.ok and summary.done == 2  # the held job was come back to and run
    assert all(batch.is_done(grid.output, j.key) for j in grid.jobs)


def _runner(path: Path):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "zsc.cli", "batch", str(path), "--jobs", "1", "--no-progress"]
    return subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=dict(os.environ))


def _counts(out: str) -> tuple[int, int]:
    line = next(ln for ln in out.splitlines() if ln.startswith("grid "))
    return (int(line.split(" jobs: ")[1].split(" done")[0]),
            int(line.split(" done, ")[1].split(" skipped")[0]))


def test_8_two_runners_each_execute_part_of_the_grid_every_job_once(tmp_path):
    path = grid_file(tmp_path, small_stages(60))
    a, b = _runner(path), _runner(path)
    out_a, out_b = a.communicate(timeout=900)[0], b.communicate(timeout=900)[0]
    assert a.returncode == 0 and b.returncode == 0, (out_a, out_b)
    (done_a, skip_a), (done_b, skip_b) = _counts(out_a), _counts(out_b)
    assert done_a + done_b == 16 and done_a + skip_a == 16 and done_b + skip_b == 16
    assert done_a >= 3 and done_b >= 3, (done_a, done_b)  # both worked: neither only waited
    df = ResultsStore(tmp_path / "results" / "clustering").read()
    assert len(df) == 12 and df["run_key"].is_unique


# --------------------------------------------------------------------------- 3. notebook jobs
def test_3_results_override_reaches_the_grids_notebook_job(tmp_path):
    from zsc import batch

    grid = batch.load_grid("smoke", results=str(tmp_path / "mine"), output=str(tmp_path / "o"))
    nb = [j for j in grid.jobs if j.kind == "notebook"]
    assert len(nb) == 1 and nb[0].params["parameters"]["results_dir"] == str(tmp_path / "mine")
    default = batch.load_grid("smoke")
    assert [j for j in default.jobs if j.kind == "notebook"][0].params["parameters"][
        "results_dir"] == str(default.results)


@pytest.mark.parametrize("folder", ["missing", "empty", "other profile"])
def test_3_a_chapter_with_no_results_says_so_in_one_line(folder, tmp_path):
    from zsc.errors import DataMissingError
    from zsc.report.chapter import chapter

    path = tmp_path / "res"
    if folder != "missing":
        (path / "clustering").mkdir(parents=True)
    if folder == "other profile":  # rows, but none of the profile's encoders
        ResultsStore(path / "clustering").append({**ROW, "encoder": "someone_else"})
    with pytest.raises(DataMissingError, match=r"^no clustering results of profile 'smoke' in "):
        chapter("smoke", str(path), quiet=True)
    chapter("smoke", str(path), quiet=True, need_results=False)  # the datasets chapter


# --------------------------------------------------------------------------- 4. wheel layout
def test_4_outside_a_checkout_the_shipped_grid_runs_without_its_notebook(tmp_path, monkeypatch,
                                                                         capsys):
    from zsc import batch

    monkeypatch.chdir(tmp_path)  # as an installed package: no book project around
    grid = batch.load_grid("smoke")
    assert not grid.invalid and {j.kind for j in grid.jobs} == {"embed", "cluster", "knn"}
    assert len(grid.notes) == 1 and "no book project around" in next(iter(grid.notes.values()))
    assert grid.results == tmp_path / "_build" / "results" / "batch-smoke"
    assert main(["batch", "smoke", "--dry-run"]) == 0  # the dry run agrees with the run
    out = capsys.readouterr().out
    assert "bad " not in out and "note  stage 4 (notebook" in out and out.count("todo") == 16


# --------------------------------------------------------------------------- 9. partial copies
# (a recovered build leaves no partial copy: tests/test_book_cache.py, on its fake book)
def test_9_partial_notebooks_are_never_read_by_the_site():
    cfg = yaml.safe_load((Path(zsc.__file__).resolve().parents[1] / "_config.yml").read_text())
    assert "**/*.partial.ipynb" in cfg["sphinx"]["config"]["exclude_patterns"]


# --------------------------------------------------------------------------- 6. Ctrl-C
SLEEPY_CHAPTER = ("---\nkernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n# Sleep\n\n"
                  "```{code-cell} ipython3\n:tags: [parameters]\n\nseconds = 120\n```\n\n"
                  "```{code-cell} ipython3\nimport time\ntime.sleep(seconds)\n```\n")


def _interrupted(argv: list[str], after: float, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Ctrl-C on the terminal: SIGINT to the command's whole process group after `after` s."""
    import signal
    import subprocess
    import sys
    import time

    # Ctrl-C live in the child whatever the runner had (a job started in the background by a
    # non-interactive shell ignores SIGINT, and so would everything it starts)
    p = subprocess.Popen([sys.executable, "-m", "zsc.cli", *argv], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env=env or dict(os.environ),
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(after)
    os.killpg(p.pid, signal.SIGINT)
    err = p.communicate(timeout=180)[1]
    return p.returncode, [ln for ln in err.splitlines() if ln.strip()]


def test_6_ctrl_c_during_a_chapter_is_one_line(tmp_path):
    src = tmp_path / "99_sleep.md"
    src.write_text(SLEEPY_CHAPTER)
    code, lines = _interrupted(["notebook", str(src), "-o", str(tmp_path / "out.ipynb")], 20)
    assert code in (130, -2) and lines == ["zsc: interrupted"], lines  # -2: the shell's 130


@pytest.mark.parametrize("after", [4, 12])
def test_6_ctrl_c_during_a_grid_is_one_line(after, tmp_path):
    code, lines = _interrupted(["batch", "smoke", "--jobs", "2", "--no-progress", "--results",
                                str(tmp_path / "r")], after)
    assert code in (130, -2) and lines == ["zsc: interrupted"], lines


@pytest.mark.parametrize("chapter_name", ["embed_and_cluster", "taxonomy"])
def test_3_zsc_notebook_on_a_folder_without_results_is_one_line(chapter_name, tmp_path, capsys,
                                                                 monkeypatch):
    root = str(Path(zsc.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    line = cli_error(capsys, ["notebook", chapter_name, "-p", "results_dir", str(tmp_path / "nope"),
                              "-o", str(tmp_path / "out.ipynb")])
    assert "DataMissingError: no clustering results of profile '" in line
    assert str(tmp_path / "nope") in line and not (tmp_path / "out.ipynb").exists()


def _sigint_handler() -> object:
    import signal

    return signal.getsignal(signal.SIGINT)


def test_6_every_worker_starts_with_ctrl_c_ignored():
    """A spawning pool starts a process per submit while none is idle: all of them start under
    the ignored Ctrl-C at once, not a second one later with Ctrl-C live (it printed a traceback
    when interrupted while still importing)."""
    import multiprocessing as mp
    import signal
    from concurrent.futures import ProcessPoolExecutor

    from zsc.errors import start_workers_quietly

    runner = signal.signal(signal.SIGINT, signal.default_int_handler)  # live, whatever it was
    ex = start_workers_quietly(ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")), 2)
    try:
        assert len(ex._processes) == 2  # both started now
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # ours is restored
        assert {ex.submit(_sigint_handler).result() for _ in range(6)} == {signal.SIG_IGN}
    finally:
        ex.shutdown()
        signal.signal(signal.SIGINT, runner)
