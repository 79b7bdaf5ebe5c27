"""`zsc batch`: grids expand, run locally and on Dask with the same rows, resume after SIGKILL,
isolate a failing job, and reject bad notebook parameters before execution."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from zsc import batch, profiles
from zsc.cli import main
from zsc.errors import InvalidParameterError, UnknownNameError
from zsc.results import ResultsStore

CLUSTERERS = ["kmeans", "spectral", "ac_with_c", "ac_without_c", "affinity_propagation", "hdbscan"]
METRICS = ["run_key", "encoder", "dataset", "seed", "clusterer", "reducer", "ami", "ari", "nmi",
           "n_clusters_pred", "silhouette_original", "silhouette_umap"]


def grid_file(tmp: Path, stages: list[dict], name: str = "t") -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "results": str(tmp / "results"),
                                    "stages": stages}))
    return path


def small_stages(n: int = 120) -> list[dict]:
    """2 embeddings + 12 clusterings (6 clusterers x 2 seeds) of 120 digits + 2 kNN = 16 jobs."""
    common = {"encoder": "pixels", "dataset": "digits", "n_samples": n}
    return [
        {"kind": "embed", "params": common, "product": {"seed": [0, 1]}},
        {"kind": "cluster", "params": common, "product": {"seed": [0, 1], "clusterer": CLUSTERERS}},
        {"kind": "knn", "params": {**common, "n_train": n, "ks": [1, 10]}, "product": {"seed": [0, 1]}},
    ]


def rows(results: Path) -> pd.DataFrame:
    df = ResultsStore(results / "clustering").read()
    return df[METRICS].sort_values("run_key").reset_index(drop=True)


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory):
    """One zsc home (embedding / UMAP caches) for the module: runs differ only in their stores."""
    home = tmp_path_factory.mktemp("zsc_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZSC_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, shared_home):
    tmp = tmp_path_factory.mktemp("local")
    path = grid_file(tmp, small_stages())
    code = main(["batch", str(path), "--jobs", "2", "--no-progress"])
    return tmp, path, code


# --------------------------------------------------------------------------- expansion
def test_grid_expands_product_and_list(tmp_path):
    stage = {"kind": "cluster", "params": {"encoder": "pixels", "n_samples": 50},
             "product": {"seed": [0, 1], "clusterer": ["kmeans", "hdbscan"]},
             "list": [{"dataset": "digits"}, {"dataset": "fashion_mnist"}]}
    jobs, invalid = batch.expand([stage])
    assert not invalid and len(jobs) == 8
    assert len({j.key for j in jobs}) == 8
    assert {j.params["dataset"] for j in jobs} == {"digits", "fashion_mnist"}
    assert all(j.params["n_samples"] == 50 for j in jobs)
    # the key follows the parameters, the data and the zsc version, not the order of the file
    again, _ = batch.expand([dict(reversed(list(stage.items())))])
    assert {j.key for j in again} == {j.key for j in jobs}


def test_unknown_names_are_refused_before_running(tmp_path):
    stages = [{"kind": "cluster", "params": {"encoder": "pixel", "dataset": "digits",
                                             "clusterer": "kmeans"}},
              {"kind": "cluster", "params": {"encoder": "pixels", "dataset": "digits",
                                             "clusterer": "kmeans", "n_sample": 5}}]
    jobs, invalid = batch.expand(stages)
    assert not jobs
    msgs = list(invalid.values())
    assert "pixels" in msgs[0]  # closest match named
    assert "unknown parameter(s) n_sample" in msgs[1]
    with pytest.raises(UnknownNameError, match="embed"):
        batch.expand([{"kind": "embedd"}])
    with pytest.raises(UnknownNameError, match="smoke"):
        batch.load_grid("no_such_grid")


def test_shipped_grids_expand():
    smoke = batch.load_grid("smoke")
    assert len(smoke.jobs) >= 12 and not smoke.invalid
    assert {j.kind for j in smoke.jobs} == {"embed", "cluster", "knn", "notebook"}
    offline = batch.load_grid("offline")
    kinds = pd.Series([j.kind + ("-sweep" if "reducer" in j.params else "")
                       for j in offline.jobs]).value_counts()
    seeds = len(profiles.load_profile("offline")["cluster_seeds"])  # one kNN per pair, any seed
    assert kinds["cluster"] == 6 * seeds * kinds["knn"] and kinds["embed"] == 2 * kinds["knn"]
    assert kinds["cluster-sweep"] > 0  # chapter 8's reducer sweep
    paper = batch.load_grid("paper")  # no weights or data here: everything listed as not run
    assert "supervised_resnet50" in paper.skipped and "imagenet" in paper.skipped


# --------------------------------------------------------------------------- running
def test_local_grid_runs_every_job_once(local_run):
    tmp, path, code = local_run
    assert code == 0
    df = rows(tmp / "results")
    assert len(df) == 12 and df["run_key"].is_unique
    assert set(df["clusterer"]) == set(CLUSTERERS) and set(df["seed"]) == {0, 1}
    assert len(ResultsStore(tmp / "results" / "knn").read()) == 2
    records = list((tmp / "results" / "batch" / "jobs").glob("*.json"))
    assert len(records) == 16
    assert all(json.loads(p.read_text())["status"] == "done" for p in records)


def test_rerun_skips_done_jobs_and_redoes_deleted_results(local_run, capsys):
    tmp, path, _ = local_run
    before = rows(tmp / "results")
    deleted, damaged = sorted((tmp / "results" / "clustering").glob("*.parquet"))[:2]
    deleted.unlink()
    damaged.write_bytes(damaged.read_bytes()[:100])  # cut off: not trusted as done
    capsys.readouterr()
    assert main(["batch", str(path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "16 jobs: 2 done, 14 skipped" in out
    after = rows(tmp / "results")
    pd.testing.assert_frame_equal(before, after)


def test_dask_cluster_gives_identical_rows(local_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    tmp, _, _ = local_run
    path = grid_file(tmp_path, small_stages())
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        code = main(["batch", str(path), "--scheduler", cluster.scheduler_address, "--no-progress"])
    assert code == 0
    pd.testing.assert_frame_equal(rows(tmp / "results"), rows(tmp_path / "results"))


def test_failing_job_fails_alone(shared_home, tmp_path, capsys):
    stages = small_stages()[:2]
    stages[1] = {**stages[1], "product": {"seed": [0], "clusterer": ["kmeans", "hdbscan"]}}
    stages.append({"kind": "cluster", "params": {"encoder": "pixels", "dataset": "digits",
                                                 "clusterer": "kmeans", "n_samples": 10**6}})
    code = main(["batch", str(grid_file(tmp_path, stages)), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1
    assert "1 failed" in out and "FAILED cluster" in out and "sample size 1000000" in out
    assert len(rows(tmp_path / "results")) == 2  # the others ran
    failed = list((tmp_path / "results" / "batch" / "failed").glob("*.json"))
    assert len(failed) == 1 and "Traceback" in json.loads(failed[0].read_text())["traceback"]


def test_notebook_parameters_are_checked_before_execution(tmp_path, capsys):
    nb = "notebooks/02_embed_and_cluster.md"
    stages = [{"kind": "notebook", "notebook": nb, "params": {"showcase_dataset": 3}},
              {"kind": "notebook", "notebook": nb, "params": {"n_sample": 100}}]
    jobs, invalid = batch.expand(stages)
    assert not jobs
    a, b = invalid.values()
    assert "02_embed_and_cluster.md" in a and "'showcase_dataset' must be str" in a and "3" in a
    assert "unknown parameter 'n_sample'" in b and "profile" in b
    code = main(["batch", str(grid_file(tmp_path, stages)), "--no-progress"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 2 and all(e.startswith("zsc: error: stage") for e in err)
    assert not (tmp_path / "results" / "batch" / "notebooks").exists()  # nothing was executed


def _children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(p.name))
        except (OSError, IndexError, ValueError):
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_kill_9_then_resume_leaves_one_row_per_job(shared_home, tmp_path):
    path = grid_file(tmp_path, small_stages())
    jobs_dir = tmp_path / "results" / "batch" / "jobs"
    cmd = [sys.executable, "-m", "zsc.cli", "batch", str(path), "--jobs", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ))
    deadline = time.time() + 300
    while time.time() < deadline and len(list(jobs_dir.glob("*.json"))) < 4:
        assert proc.poll() is None, "the batch ended before it could be killed"
        time.sleep(0.05)
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)  # the batch itself, mid-way, as `kill -9 PID` would
    proc.wait()
    done_at_kill = len(list(jobs_dir.glob("*.json")))
    deadline = time.time() + 20  # its pool workers notice and end, instead of idling forever
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert workers and not any(_alive(w) for w in workers)
    assert 4 <= done_at_kill < 16
    assert main(["batch", str(path), "--no-progress"]) == 0
    df = rows(tmp_path / "results")
    assert len(df) == 12 and df["run_key"].is_unique
    assert len(list(jobs_dir.glob("*.json"))) == 16
    assert len(ResultsStore(tmp_path / "results" / "knn").read()) == 2


def _runner(path: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "zsc.cli", "batch", str(path), "--jobs", "1", "--no-progress"]
    return subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=dict(os.environ))


def _counts(out: str) -> tuple[int, int]:
    """(jobs this runner executed, jobs it found done) from its summary line."""
    line = next(ln for ln in out.splitlines() if ln.startswith("grid "))
    done = int(line.split(" jobs: ")[1].split(" done")[0])
    skipped = int(line.split(" done, ")[1].split(" skipped")[0])
    return done, skipped


def test_two_runners_on_one_output_execute_each_job_once(shared_home, tmp_path):
    path = grid_file(tmp_path, small_stages(60))
    a, b = _runner(path), _runner(path)
    out_a, out_b = a.communicate(timeout=900)[0], b.communicate(timeout=900)[0]
    assert a.returncode == 0 and b.returncode == 0, (out_a, out_b)
    (done_a, skip_a), (done_b, skip_b) = _counts(out_a), _counts(out_b)
    assert done_a + done_b == 16  # every job executed exactly once, by one runner or the other
    assert done_a + skip_a == 16 and done_b + skip_b == 16
    df = rows(tmp_path / "results")
    assert len(df) == 12 and df["run_key"].is_unique
    assert len(ResultsStore(tmp_path / "results" / "knn").read()) == 2


def test_a_runner_killed_mid_way_leaves_no_lock_that_blocks_the_other(shared_home, tmp_path):
    path = grid_file(tmp_path, small_stages(80))
    jobs_dir = tmp_path / "results" / "batch" / "jobs"
    first, second = _runner(path), _runner(path)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(jobs_dir.glob("*.json"))) < 3:
        assert first.poll() is None, "the first runner ended before it could be killed"
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)  # mid-way, holding a job's lock
    first.wait()
    out = second.communicate(timeout=900)[0]
    assert second.returncode == 0, out
    assert len(list(jobs_dir.glob("*.json"))) == 16
    df = rows(tmp_path / "results")
    assert len(df) == 12 and df["run_key"].is_unique


def test_bad_jobs_option():
    with pytest.raises(InvalidParameterError, match="at least 1"):
        batch.run_grid(batch.Grid("g", Path("."), Path("."), [], {}, {}), jobs=0)


def test_paper_grid_clusters_every_dataset_and_knn_where_a_train_split_is(tmp_path, monkeypatch):
    """Against a fake data folder holding every paper dataset in its real layout, with every
    encoder's weights taken as present: 26 datasets x every paper encoder x 6 clusterers."""
    from fake_paper_data import make_fake_paper_root

    from zsc.data import DATASETS, paper_table
    from zsc.encoders.paper import PAPER_ENCODERS

    info = make_fake_paper_root(tmp_path / "data")
    monkeypatch.setenv("ZSC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ZSC_FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(profiles, "available_encoders", lambda names: (list(names), {}))
    grid = batch.load_grid("paper", results=str(tmp_path / "results"))
    prof = profiles.load_profile("paper")
    paper_datasets = {r["name"] for r in paper_table()}
    assert len(paper_datasets) == 26 and set(prof["datasets"]) == paper_datasets
    assert set(PAPER_ENCODERS) <= set(prof["encoders"])  # MAE (avg) included

    def jobs(kind: str) -> list:
        return [j for j in grid.jobs if j.kind == kind]

    cluster = [j for j in jobs("cluster") if "reducer" not in j.params]  # not the reducer sweep's
    assert not grid.invalid
    assert {j.params["dataset"] for j in cluster} == paper_datasets
    assert len(cluster) == 26 * len(prof["encoders"]) * len(prof["clusterers"])
    assert len(prof["clusterers"]) == 6 and all(j.params["seed"] == 1 for j in cluster)
    with_train = {d for d in paper_datasets if "train" in info[d]["splits"]}
    assert with_train == {d for d in paper_datasets if "train" in DATASETS.get(d).splits}
    test_only = {"imagenet_v2", "imagenet_r", "imagenet_sketch", "imagenet_o"}
    assert test_only.isdisjoint(with_train) and not grid.skipped
    # the ImageNet variants are probed against ImageNet-1k train, as the paper's kNN
    assert {j.params["dataset"] for j in jobs("knn")} == with_train | test_only
    assert len(jobs("knn")) == (len(with_train) + 4) * len(prof["encoders"])
    train_embeds = [j for j in jobs("embed") if j.params.get("split") == "train"]
    assert {j.params["dataset"] for j in train_embeds} == with_train  # ImageNet's, once each
    assert len(jobs("embed")) == (26 + len(with_train)) * len(prof["encoders"])


def test_paper_grid_without_train_files_still_clusters(tmp_path, monkeypatch):
    from fake_paper_data import make_fake_paper_root


    make_fake_paper_root(tmp_path / "data", splits=("test",))
    monkeypatch.setenv("ZSC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ZSC_FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(profiles, "available_encoders", lambda names: (list(names), {}))
    grid = batch.load_grid("paper", results=str(tmp_path / "results"))
    clustered = {j.params["dataset"] for j in grid.jobs if j.kind == "cluster"}
    probed = {j.params["dataset"] for j in grid.jobs if j.kind == "knn"}
    assert len(clustered) == 26
    assert "cifar10" in clustered and "cifar10" not in probed
    assert "cifar10 (kNN)" in grid.skipped and "no train split" in grid.skipped["cifar10 (kNN)"]


def test_job_key_follows_the_encoders_weights(monkeypatch):
    """A retrained member keeps its name: its jobs must not count as done with the old weights."""
    import dataclasses

    from zsc import encoders
    from zsc.batch import grid

    params = {"encoder": "pixels", "dataset": "digits", "clusterer": "kmeans"}
    before = grid.job_key("cluster", params)
    assert grid.job_key("cluster", params) == before
    spec = encoders.get_encoder("pixels")
    monkeypatch.setattr(encoders, "get_encoder",
                        lambda name: dataclasses.replace(spec, weights_id="retrained"))
    assert grid.job_key("cluster", params) != before


def test_profile_cluster_seeds_cluster_one_subsample_with_each_seed(tmp_path):
    """`cluster_seeds`: the same images (seed 0) reduced and clustered with seeds 0, 1, 2; the
    profile reads the three rows (error bars over seeds) and the image seed's row keeps its key."""
    from zsc import analysis
    from zsc.profile_results import ProfileResults
    from zsc.report import build, prose
    from zsc.results import run_key

    prof = profiles.load_profile({"encoders": ["pixels"], "datasets": ["digits"],
                                  "clusterers": ["kmeans"], "n_samples": 150, "knn": False,
                                  "cluster_seeds": [2, 0, 1], "results_dir": str(tmp_path / "r")})
    assert prof["cluster_seeds"] == [0, 1, 2]
    # captions: the profile's seeds, or those of a figure's own rows (none: no clustering shown)
    assert prose.seeds_text(prof) == ", clustering seeds 0, 1, 2"
    assert prose.seeds_text(prof, [0]) == "" and prose.seeds_text(prof, []) == ""
    assert prose.seeds_text(prof, [1]) == ", clustering seed 1"
    (embed,) = [s for s in profiles.stages(prof)[0] if s["kind"] == "embed"]
    assert embed["params"]["umap_seeds"] == [0, 1, 2]  # the clustering seeds' UMAPs, embedded once
    summary = build.compute(prof, progress=False, log=lambda s: None)
    assert summary["computed"] == 1 + 3  # one embedding, three clusterings
    res, _ = ProfileResults(prof).results()
    assert sorted(res["seed"]) == [0, 1, 2] and set(res["sample_seed"]) == {0}
    assert res["embedding_key"].nunique() == 1 and res["run_key"].nunique() == 3
    assert analysis.n_seeds(res) == 3
    row0 = res[res["seed"] == 0].iloc[0].to_dict()
    plain = {k: v for k, v in row0.items() if k != "sample_seed"}  # a row of before the column
    assert row0["run_key"] == run_key(plain)
    assert run_key({**plain, "seed": 1, "sample_seed": 0}) != run_key({**plain, "seed": 1})
    # a profile clustering only with seed 0 reads one of them; another image seed reads none
    assert len(ProfileResults({**prof, "cluster_seeds": [0]}).results()[0]) == 1
    assert ProfileResults({**prof, "seed": 5, "cluster_seeds": [0, 1, 2]}).results()[0].empty


@pytest.mark.parametrize("bad", [[], [0.5], "0,1", [True]])
def test_profile_rejects_bad_cluster_seeds(bad):
    with pytest.raises(InvalidParameterError, match="cluster_seeds must be a non-empty list"):
        profiles.load_profile({"encoders": ["pixels"], "datasets": ["digits"],
                               "clusterers": ["kmeans"], "n_samples": 100, "cluster_seeds": bad})


def test_the_time_is_said_per_job_kind_and_stage():
    from zsc.batch.run import Summary
    from zsc.report.build import time_line

    s = Summary("g", 4, done=4, by_kind={"embed": [10.0, 20.0], "cluster": [1.0, 2.5]})
    assert s.time_text() == "embed 2 job(s) 30 s, cluster 2 job(s) 4 s"  # the largest first
    assert "time by job kind: embed 2 job(s) 30 s" in s.table()
    assert "time by job kind" not in Summary("g", 0).table()
    line = time_line({"seconds": 100.0, "results_seconds": 60.0, "chapters_seconds": 35.0,
                      "site_seconds": 5.0, "job_seconds": {"cluster": 3.5, "embed": 30.0}})
    assert line == "100s in all: results 60s, chapters 35s, site 5s; job time by kind: embed 30s, cluster 4s"
    assert time_line({"seconds": 9.0, "chapters_seconds": 9.0}) == "9s in all: chapters 9s"


def test_a_profile_extends_another(tmp_path):
    """offline_full states only what it adds to offline (a third seed, the fine-tuned members and
    the training-seed replicates, whole train splits as the kNN memory of every encoder but
    EfficientNet-Lite0, its own results folder); a profile file
    may extend a shipped one; a cycle is refused."""
    from zsc.encoders import zoo

    base, full = profiles.load_profile("offline"), profiles.load_profile("offline_full")
    assert full["profile"] == "offline_full" and full["results_dir"] == "_build/results/offline_full"
    assert full["cluster_seeds"] == [0, 1, 2] and base["cluster_seeds"] == [0, 1]
    assert full["knn_n_train"] is None and base["knn_n_train"] == 1000  # None: the whole split
    assert full["knn_skip"] == ["efficientnet_lite0"]
    assert set(full["encoders"]) - set(base["encoders"]) == {
        "zoo_mocov3_ft_resnet", "zoo_dino_ft_resnet", "zoo_vicreg_ft_resnet", *zoo.REPLICATE_OF}
    same = {k for k in base if k not in ("profile", "description", "cluster_seeds", "knn_n_train", "results_dir",
                                         "encoders")}
    assert same and all(full[k] == base[k] for k in same)
    mine = tmp_path / "mine.yaml"
    mine.write_text("extends: smoke\nn_samples: 100\n")
    prof = profiles.load_profile(str(mine))
    assert prof["profile"] == "mine" and prof["n_samples"] == 100
    assert prof["encoders"] == profiles.load_profile("smoke")["encoders"]
    assert prof["results_dir"] == "_build/results/mine"  # not the parent's folder
    loop = tmp_path / "loop.yaml"
    loop.write_text(f"extends: {loop}\n")
    with pytest.raises(InvalidParameterError, match="a cycle"):
        profiles.load_profile(str(loop))


def test_knn_skip_limits_the_knn_jobs_and_says_so():
    """`knn_skip` leaves the encoders it names out of kNN (and their train-split embeddings);
    they are clustered and named as left out of kNN; a name outside the profile is refused."""
    smoke = profiles.load_profile("smoke")
    prof = dict(smoke, knn_skip=[e for e in smoke["encoders"] if e != "pixels"], knn_n_train=None)
    stages, skipped = profiles.stages(prof)
    by: dict = {}
    for s in stages:  # the main grid's stage of each kind (a reducer sweep adds a second cluster stage)
        by.setdefault(s["kind"], s)
    assert {j["encoder"] for j in by["knn"]["list"]} == {"pixels"}
    trains = [j for j in by["embed"]["list"] if j.get("split") == "train"]
    assert trains and {j["encoder"] for j in trains} == {"pixels"}
    assert {j["encoder"] for j in by["cluster"]["list"]} == set(prof["encoders"])
    assert "knn_skip" in skipped["zoo_random_resnet (kNN)"]
    with pytest.raises(InvalidParameterError, match="knn_skip: nope"):
        profiles.stages(dict(prof, knn_skip=["nope"]))
