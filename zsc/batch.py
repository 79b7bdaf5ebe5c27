"""Batch regeneration: expand a grid file into jobs, run them on local processes or Dask, resume.

    zsc batch GRID.yaml [--jobs N | --scheduler ADDRESS] [--dry-run]

A grid file (YAML) names job stages and their parameter axes::

    name: smoke
    results: _build/results/smoke      # stores: <results>/clustering and <results>/knn
    output: _build/results/smoke/batch # job records, executed notebooks (default: <results>/batch)
    profile: smoke                     # optional: embed / cluster / knn stages from profiles/smoke.yaml
    stages:
      - kind: cluster                  # embed | cluster | knn | notebook
        params: {n_samples: 200, seed: 0}                     # every job of the stage
        product: {encoder: [pixels], clusterer: [kmeans, hdbscan]}  # every combination
        list: [{dataset: digits}, {dataset: fashion_mnist}]   # explicit entries (x product)
      - kind: notebook
        notebook: notebooks/02_embed_and_cluster.md
        product: {showcase_dataset: [digits, fashion_mnist]}

Stages run in order (embeddings first, on a GPU where one is; clustering on CPUs); the jobs of a
stage run in parallel. A job's identity is the hash of its kind, parameters, notebook text,
zsc version and the fingerprint of the datasets it reads. A job is done when its record
`<output>/jobs/<key>.json` exists; the record is written atomically after the job's results rows,
which are themselves atomic and keyed by configuration, so a batch killed at any moment (even
SIGKILL) and run again finishes the remaining jobs with exactly one row per job. A failing job
does not stop the others; the summary lists each failure and the exit status is 1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import re
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import InvalidParameterError, ZscError
from .io import atomic_path, config_hash
from .registry import Registry

ROOT = Path(__file__).resolve().parents[1]
GRIDS = ROOT / "grids"


# --------------------------------------------------------------------------- job kinds
@dataclasses.dataclass(frozen=True)
class JobKind:
    """A kind of job: what it runs and which parameters it accepts."""

    name: str
    run: Callable[[dict[str, Any], Path, Path], dict[str, Any]]  # (params, results, output)
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    device: str = "cpu"  # "gpu": benefits from an accelerator (Dask resource "GPU")


def _run_embed(p: dict[str, Any], results: Path, output: Path) -> dict[str, Any]:
    """Embed one split (cached) and, for the evaluation split, its UMAP-50: the reduction every
    clusterer's reduced-space silhouette uses, computed once here instead of in each job."""
    from .data import get_dataset
    from .embed import embed
    from .reduce import UMAP_PAPER, reduce

    default_split = get_dataset(p["dataset"]).default_split
    split = p.get("split") or default_split
    emb = embed(p["encoder"], p["dataset"], split, n_samples=p.get("n_samples"),
                seed=int(p.get("seed", 0)), device=p.get("device"), progress=False)
    if p.get("umap", split == default_split):
        reduce(emb.features, dataclasses.replace(UMAP_PAPER, seed=int(p.get("seed", 0))),
               input_key=emb.key)
    return {"embedding_key": emb.key, "n": len(emb), "from_cache": emb.from_cache}


def _run_cluster(p: dict[str, Any], results: Path, output: Path) -> dict[str, Any]:
    from .pipeline import run
    from .reduce import ReducerConfig

    red = p.get("reducer")
    reducer = ReducerConfig(**red) if isinstance(red, Mapping) else (ReducerConfig(red) if red else None)
    params = {p["clusterer"]: p["params"]} if p.get("params") else None
    df = run(p["encoder"], p["dataset"], [p["clusterer"]], split=p.get("split"),
             n_samples=p.get("n_samples"), seed=int(p.get("seed", 0)), reducer=reducer,
             params=params, store=results / "clustering", device=p.get("device"), progress=False)
    row = df.iloc[0]
    return {"artifacts": [str(results / "clustering" / f"{row['run_key']}.parquet")],
            "ami": float(row["ami"]), "n_clusters_pred": int(row["n_clusters_pred"])}


def _run_knn(p: dict[str, Any], results: Path, output: Path) -> dict[str, Any]:
    from .metrics import KNN_KS
    from .pipeline import knn

    row = knn(p["encoder"], p["dataset"], n_samples=p.get("n_samples"), n_train=p.get("n_train"),
              seed=int(p.get("seed", 0)), ks=p.get("ks", KNN_KS), store=results / "knn",
              device=p.get("device"), progress=False)
    return {"artifacts": [str(results / "knn" / f"{row['run_key']}.parquet")],
            **{k: v for k, v in row.items() if k.startswith("knn_acc_")}}


def _run_notebook(p: dict[str, Any], results: Path, output: Path) -> dict[str, Any]:
    from .book import execute_notebook

    nb = Path(p["notebook"])
    out = output / "notebooks" / nb.stem / f"{p['slug']}.ipynb"
    execute_notebook(nb if nb.is_absolute() else ROOT / nb, out, p["parameters"])
    return {"artifacts": [str(out)]}


JOB_KINDS: Registry[JobKind] = Registry("job kind")
for _kind in [
    JobKind("embed", _run_embed, ("encoder", "dataset"),
            ("split", "n_samples", "seed", "umap", "device"), device="gpu"),
    JobKind("cluster", _run_cluster, ("encoder", "dataset", "clusterer"),
            ("split", "n_samples", "seed", "reducer", "params", "device")),
    JobKind("knn", _run_knn, ("encoder", "dataset"),
            ("n_samples", "n_train", "seed", "ks", "device"), device="gpu"),
    JobKind("notebook", _run_notebook, ()),
]:
    JOB_KINDS.register(_kind.name, _kind)


# --------------------------------------------------------------------------- grids and jobs
@dataclasses.dataclass(frozen=True)
class Job:
    """One unit of work: a kind, its parameters, and its identity (`key`)."""

    kind: str
    params: dict[str, Any]
    key: str
    slug: str  # path-safe name made of the parameters that vary across the stage
    stage: int

    @property
    def name(self) -> str:
        return f"{self.kind} {self.slug}"


@dataclasses.dataclass
class Grid:
    name: str
    results: Path
    output: Path
    jobs: list[Job]
    skipped: dict[str, str]  # what could not become a job here (encoder / dataset: why)
    invalid: dict[str, str]  # jobs rejected before execution: name -> message


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def expand_stage(stage: Mapping[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(parameters, varying parameters) of every job of one stage: `params`, times the product
    of the `product` axes, times the `list` entries."""
    base = dict(stage.get("params") or {})
    axes = {k: _as_list(v) for k, v in (stage.get("product") or {}).items()}
    entries = [dict(e) for e in stage.get("list") or [{}]]
    out = []
    for combo in itertools.product(*axes.values()):
        point = dict(zip(axes, combo, strict=True))
        for entry in entries:
            out.append(({**base, **point, **entry}, {**point, **entry}))
    return out


def _slug(varying: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    parts = [f"{k}={v if isinstance(v, (str, int, float)) else config_hash({'v': v}, 6)}"
             for k, v in varying.items()] or ["job"]
    text = re.sub(r"[^A-Za-z0-9=.,_-]+", "-", ",".join(parts))
    if len(text) > 120:
        text = text[:100] + "-" + config_hash(dict(params), 8)
    return text


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def job_key(kind: str, params: Mapping[str, Any]) -> str:
    """Hash of (kind, parameters, notebook text, zsc version, fingerprints of the datasets read)."""
    from .data import fingerprint

    datasets = sorted({str(v) for k, v in params.items() if k == "dataset" or k.endswith("_dataset")})
    data = {}
    for d in datasets:
        try:
            data[d] = fingerprint(d)
        except Exception as err:  # unknown or absent: the job itself will fail and say so
            data[d] = f"unavailable: {type(err).__name__}"
    ident: dict[str, Any] = {"kind": kind, "params": dict(params), "zsc_version": __version__,
                             "data": data}
    if kind == "notebook":
        nb = Path(params["notebook"])
        ident["notebook_sha"] = _file_sha(nb if nb.is_absolute() else ROOT / nb)
    return config_hash(ident, length=20)


def _resolve(path: str | os.PathLike[str], base: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else base / p


def find_grid(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.exists():
        return path
    named = GRIDS / f"{name_or_path}.yaml"
    if not path.suffix and named.exists():
        return named
    from .errors import UnknownNameError

    known = ", ".join(sorted(p.stem for p in GRIDS.glob("*.yaml")))
    raise UnknownNameError(f"no grid file {name_or_path!r} (shipped grids: {known})")


def load_grid(name_or_path: str, *, results: str | None = None,
              output: str | None = None) -> Grid:
    """Read a grid file and expand it into jobs (validated, keyed; nothing is run)."""
    import yaml

    path = find_grid(name_or_path)
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise InvalidParameterError(f"grid file {path} is not valid YAML: {err}") from None
    if not isinstance(spec, Mapping):
        raise InvalidParameterError(f"grid file {path} must be a mapping with 'stages'")
    name = str(spec.get("name", path.stem))
    stages = list(spec.get("stages") or [])
    skipped: dict[str, str] = {}
    prof = None
    if spec.get("profile"):
        from .book import load_profile

        prof = load_profile(str(spec["profile"]))
        pstages, skipped = profile_stages(prof)
        stages = pstages + stages
    # paths in the file are relative to the repository (shipped grids) or to the file;
    # paths given on the command line are relative to the working directory
    base = ROOT if path.resolve().is_relative_to(ROOT) else path.parent
    res_dir = spec.get("results") or (prof["results_dir"] if prof else f"_build/results/{name}")
    if not stages:
        raise InvalidParameterError(f"grid file {path} has no stages (and no profile)")
    jobs, invalid = expand(stages)
    res_path = Path(results).resolve() if results else _resolve(res_dir, base)
    out_path = Path(output).resolve() if output else _resolve(spec.get("output") or res_path / "batch", base)
    return Grid(name, res_path, out_path, jobs, skipped, invalid)


def expand(stages: Sequence[Mapping[str, Any]]) -> tuple[list[Job], dict[str, str]]:
    """Jobs of every stage, and the jobs rejected before execution (name -> why)."""
    jobs: list[Job] = []
    invalid: dict[str, str] = {}
    seen: set[str] = set()
    for i, stage in enumerate(stages):
        kind = JOB_KINDS.get(str(stage.get("kind", "")))
        extra = set(stage) - {"kind", "params", "product", "list", "notebook"}
        if extra:
            raise InvalidParameterError(
                f"stage {i + 1} ({kind.name}): unknown key(s) {', '.join(sorted(extra))}; "
                "a stage has kind, params, product, list (and notebook)")
        for j, (params, varying) in enumerate(expand_stage(stage)):
            if kind.name == "notebook":
                params = {"notebook": stage.get("notebook"), "parameters": params}
            slug = _slug(varying, params)
            try:
                check_job(kind, params)
            except ZscError as err:
                invalid[f"stage {i + 1} job {j + 1} ({kind.name} {slug})"] = str(err)
                continue
            if kind.name == "notebook":
                params["slug"] = slug
            key = job_key(kind.name, params)
            if key not in seen:
                seen.add(key)
                jobs.append(Job(kind.name, params, key, slug, i))
    return jobs, invalid


def check_job(kind: JobKind, params: Mapping[str, Any]) -> None:
    """Reject a job before execution: missing or unknown parameters, unknown names, or notebook
    parameters the notebook does not declare or of the wrong type."""
    if kind.name == "notebook":
        from .book import check_notebook_parameters

        nb = params.get("notebook")
        if not nb:
            raise InvalidParameterError("a notebook stage needs 'notebook: PATH'")
        path = Path(nb) if Path(nb).is_absolute() else ROOT / nb
        check_notebook_parameters(path, params["parameters"])
        return
    missing = [k for k in kind.required if k not in params]
    unknown = [k for k in params if k not in kind.required + kind.optional]
    if missing or unknown:
        raise InvalidParameterError(
            f"{kind.name} job: " + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else [])
                + ([f"unknown parameter(s) {', '.join(unknown)}"] if unknown else []))
            + f" (accepted: {', '.join(kind.required + kind.optional)})")
    from .cluster import CLUSTERERS, check_params
    from .data import get_dataset
    from .encoders import get_encoder

    get_encoder(str(params["encoder"]))
    get_dataset(str(params["dataset"]))
    if kind.name == "cluster":
        CLUSTERERS.get(str(params["clusterer"]))
        check_params(str(params["clusterer"]), dict(params.get("params") or {}))


def profile_stages(profile: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The embed, cluster and kNN stages a book profile needs (sample sizes clamped to each
    dataset's split), and what had to be left out here (encoders without weights, absent data)."""
    from .book import available_encoders
    from .data import clamp_samples

    encoders, skipped = available_encoders(profile["encoders"])
    seed, ks = int(profile["seed"]), [int(k) for k in profile["knn_ks"]]
    sizes = {}
    for ds in profile["datasets"]:
        try:
            sizes[ds] = (clamp_samples(ds, profile["n_samples"]),
                         clamp_samples(ds, profile.get("knn_n_train"), "train"))
        except ZscError as err:
            skipped[ds] = str(err).split(". ")[0]
    pairs = [(e, d) for d in sizes for e in encoders]
    knn = bool(profile.get("knn", True))
    embed_list = [{"encoder": e, "dataset": d, "n_samples": sizes[d][0]} for e, d in pairs]
    if knn:
        embed_list += [{"encoder": e, "dataset": d, "split": "train", "n_samples": sizes[d][1]}
                       for e, d in pairs]
    stages = [
        {"kind": "embed", "params": {"seed": seed}, "list": embed_list},
        {"kind": "cluster", "params": {"seed": seed},
         "product": {"clusterer": list(profile["clusterers"])},
         "list": [{"encoder": e, "dataset": d, "n_samples": sizes[d][0]} for e, d in pairs]},
    ]
    if knn:
        stages.append({"kind": "knn", "params": {"seed": seed, "ks": ks},
                       "list": [{"encoder": e, "dataset": d, "n_samples": sizes[d][0],
                                 "n_train": sizes[d][1]} for e, d in pairs]})
    return [s for s in stages if s.get("list")], skipped


# --------------------------------------------------------------------------- running one job
def record_path(output: Path, key: str) -> Path:
    return output / "jobs" / f"{key}.json"


def is_done(output: Path, key: str) -> bool:
    """A job is done when its record reads back as complete and what it wrote (results rows,
    notebook) is still there: a deleted results store is recomputed, not trusted to exist."""
    try:
        rec = json.loads(record_path(output, key).read_text())
    except (OSError, ValueError):
        return False
    arts = (rec.get("outputs") or {}).get("artifacts", [])
    return rec.get("status") == "done" and all(_intact(Path(a)) for a in arts)


def _intact(path: Path) -> bool:
    if path.suffix != ".parquet":
        return path.exists()
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except Exception:  # missing or damaged: the job runs again and rewrites it
        return False
    return True


def execute_job(job: Job, results: str, output: str, threads: int | None = None) -> dict[str, Any]:
    """Run one job and write its record; never raises (a failure is returned, with its message).

    Runs in a worker process (local pool or Dask worker): top-level and picklable."""
    if threads:
        _limit_threads(threads)
    out = Path(output)
    t0 = time.perf_counter()
    status: dict[str, Any] = {"key": job.key, "kind": job.kind, "name": job.name,
                              "params": job.params, "zsc_version": __version__}
    try:
        info = JOB_KINDS.get(job.kind).run(dict(job.params), Path(results), out)
    except Exception as err:  # isolate: report and go on with the other jobs
        status.update(status="failed", seconds=round(time.perf_counter() - t0, 2),
                      error=f"{type(err).__name__}: {err}" if not isinstance(err, ZscError) else str(err),
                      traceback=traceback.format_exc(limit=20))
        if job.kind == "notebook":
            status["partial_notebook"] = str(_partial_notebook(job, out))
        _write_json(out / "failed" / f"{job.key}.json", status)
        return status
    status.update(status="done", seconds=round(time.perf_counter() - t0, 2), outputs=info,
                  finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
    _write_json(record_path(out, job.key), status)
    stale = out / "failed" / f"{job.key}.json"
    stale.unlink(missing_ok=True)
    return status


def _partial_notebook(job: Job, output: Path) -> Path:
    from .book import partial_path

    nb = Path(job.params["notebook"])
    return partial_path(output / "notebooks" / nb.stem / f"{job.slug}.ipynb")


def _write_json(path: Path, obj: Mapping[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, default=str))


_LIMITS: list[Any] = []


def _limit_threads(n: int) -> None:
    """Share the cores among local workers: BLAS/OpenMP, torch and numba threads per worker."""
    if _LIMITS:
        return
    from threadpoolctl import threadpool_limits

    _LIMITS.append(threadpool_limits(n))
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass


# --------------------------------------------------------------------------- executors
def _exit_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the batch that started it is gone (killed with
    SIGKILL, say); an idle pool worker would otherwise wait on its queue forever."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)  # mid-job is safe: every file is written atomically, the job record last

    threading.Thread(target=watch, daemon=True, name="zsc-parent-watch").start()


def _local_executor(n_jobs: int) -> Any:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=n_jobs, mp_context=mp.get_context("spawn"),
                               initializer=_exit_with_parent, initargs=(os.getpid(),))


def _submit_all(jobs: Sequence[Job], grid: Grid, jobs_n: int, scheduler: str | None
                ) -> Iterable[dict[str, Any]]:
    """Yield each job's status as it finishes, stage after stage."""
    stages = sorted({j.stage for j in jobs})
    if scheduler:
        from distributed import Client, as_completed

        with Client(scheduler) as client:
            gpu = any("GPU" in (w.get("resources") or {})
                      for w in client.scheduler_info()["workers"].values())
            for s in stages:
                futs = [client.submit(execute_job, j, str(grid.results), str(grid.output),
                                      key=f"zsc-{j.kind}-{j.key}", pure=False,
                                      resources={"GPU": 1} if gpu and JOB_KINDS.get(j.kind).device == "gpu" else None)
                        for j in jobs if j.stage == s]
                for fut in as_completed(futs):
                    yield fut.result()
        return
    from concurrent.futures import as_completed as cf_completed

    threads = max(1, (os.cpu_count() or 1) // jobs_n)
    with _local_executor(jobs_n) as ex:
        for s in stages:
            futs = [ex.submit(execute_job, j, str(grid.results), str(grid.output), threads)
                    for j in jobs if j.stage == s]
            for fut in cf_completed(futs):
                yield fut.result()


@dataclasses.dataclass
class Summary:
    grid: str
    total: int
    done: int = 0
    skipped: int = 0
    failed: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    not_run: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_run

    def table(self) -> str:
        lines = [f"grid {self.grid}: {self.total} jobs: {self.done} done, {self.skipped} skipped "
                 f"(already done), {len(self.failed)} failed; {self.seconds:.0f} s"]
        for name, why in self.not_run.items():
            lines.append(f"  not run: {name}: {why}")
        for f in self.failed:
            where = f" (partly executed notebook: {f['partial_notebook']})" if f.get("partial_notebook") else ""
            lines.append(f"  FAILED {f['name']}: {f.get('error', '').splitlines()[0] if f.get('error') else ''}{where}")
        return "\n".join(lines)


def run_grid(grid: Grid, *, jobs: int = 1, scheduler: str | None = None, progress: bool = True,
             log: Callable[[str], None] = print) -> Summary:
    """Run every job of `grid` that is not done yet; return the summary (never raises on a job)."""
    from tqdm import tqdm  # a text bar everywhere (no widget warning inside notebooks)

    if jobs < 1:
        raise InvalidParameterError(f"--jobs must be at least 1, got {jobs}")
    t0 = time.perf_counter()
    summary = Summary(grid.name, len(grid.jobs) + len(grid.invalid))
    summary.not_run = {k: f"skipped: {v}" for k, v in grid.skipped.items()}
    for name, why in grid.invalid.items():
        summary.failed.append({"name": name, "error": f"rejected before execution: {why}"})
    todo = [j for j in grid.jobs if not is_done(grid.output, j.key)]
    summary.skipped = len(grid.jobs) - len(todo)
    bar = tqdm(total=summary.total, initial=summary.skipped + len(grid.invalid), unit="job",
               desc=f"zsc batch {grid.name}", disable=not progress, dynamic_ncols=True)

    def post() -> None:
        bar.set_postfix(done=summary.done, failed=len(summary.failed), skipped=summary.skipped)

    post()
    for status in _submit_all(todo, grid, jobs, scheduler) if todo else []:
        if status["status"] == "done":
            summary.done += 1
        else:
            summary.failed.append(status)
            bar.write(f"FAILED {status['name']}: {status['error'].splitlines()[0]}")
        bar.update(1)
        post()
    bar.close()
    summary.seconds = time.perf_counter() - t0
    return summary


def main_batch(args: Any) -> int:
    """`zsc batch` (see zsc.cli)."""
    grid = load_grid(args.grid, results=args.results, output=args.output)
    if args.dry_run:
        for j in grid.jobs:
            state = "done" if is_done(grid.output, j.key) else "todo"
            print(f"{state:4}  {j.key}  {j.name}")
        for name, why in grid.invalid.items():
            print(f"bad   {name}: {why}")
        for name, why in grid.skipped.items():
            print(f"skip  {name}: {why}")
        return 0
    summary = run_grid(grid, jobs=args.jobs, scheduler=args.scheduler, progress=not args.no_progress)
    print(summary.table())
    print(f"results: {grid.results}; job records: {grid.output / 'jobs'}")
    return 0 if summary.ok else 1
