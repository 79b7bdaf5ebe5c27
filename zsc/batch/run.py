"""Running a grid: job records, worker processes or a Dask cluster, resumption, the summary.

Stages run in order (embeddings first, on a GPU where one is; clustering on CPUs); the jobs of a
stage run in parallel. A job is done when its record `<output>/jobs/<key>.json` exists; the
record is written atomically after the job's results rows, which are themselves atomic and keyed
by configuration, so a batch killed at any moment (even SIGKILL) and run again finishes the
remaining jobs with exactly one row per job. A failing job does not stop the others; the summary
lists each failure.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import notebooks
from .._version import __version__
from ..errors import (
    InvalidParameterError,
    ZscError,
    exit_quietly_on_interrupt,
    start_workers_quietly,
    stop_workers,
)
from ..io import atomic_path
from .grid import Grid, Job
from .jobs import JOB_KINDS, notebook_out


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


def lock_path(output: Path, key: str) -> Path:
    return output / "locks" / f"{key}.lock"


def execute_job(job: Job, results: str, output: str, threads: int | None = None, *,
                wait: bool = True) -> dict[str, Any]:
    """Run one job under its lock and write its record; never raises (a failure is returned).

    The lock (an OS file lock, `<output>/locks/<key>.lock`) makes runners that share an output
    folder cooperate: a job another runner holds is waited for (`wait`), then skipped if that
    runner finished it; with `wait=False` it is left at once (status "held") so the runner
    takes its next job and comes back to this one later: two runners share the work. The OS
    releases the lock of a killed process, so none is ever left stale.
    Runs in a worker process (local pool or Dask worker): top-level and picklable."""
    from filelock import FileLock, Timeout

    out = Path(output)
    lock = lock_path(out, job.key)
    lock.parent.mkdir(parents=True, exist_ok=True)
    held = FileLock(str(lock))
    try:
        held.acquire(timeout=-1 if wait else 0)
    except Timeout:
        return {"key": job.key, "kind": job.kind, "name": job.name, "status": "held"}
    try:
        if is_done(out, job.key):  # another runner did it while this one waited
            return {"key": job.key, "kind": job.kind, "name": job.name, "status": "skipped"}
        return _execute(job, results, out, threads)
    finally:
        held.release()


def _execute(job: Job, results: str, out: Path, threads: int | None) -> dict[str, Any]:
    if threads:
        _limit_threads(threads)
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
    return notebooks.partial_path(notebook_out(job.params, output))


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
    SIGKILL, say; an idle pool worker would otherwise wait on its queue forever), and quietly
    on Ctrl-C (the batch reports it)."""
    import threading

    exit_quietly_on_interrupt()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)  # mid-job is safe: every file is written atomically, the job record last

    threading.Thread(target=watch, daemon=True, name="zsc-parent-watch").start()


def default_jobs() -> int:
    """Local workers when none are named: the usable CPU cores, at most 4 (each worker holds
    its own models and caches in memory)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def threads_per_worker(n_workers: int) -> int:
    """Each of `n_workers` local processes' share of the cores (at least one thread)."""
    return max(1, (os.cpu_count() or 1) // n_workers)


def _local_executor(n_jobs: int) -> Any:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    return start_workers_quietly(ProcessPoolExecutor(
        max_workers=n_jobs, mp_context=mp.get_context("spawn"), initializer=_exit_with_parent,
        initargs=(os.getpid(),)), n_jobs)


HELD_RETRY_S = 0.5  # how long a runner waits before it comes back to jobs another one holds


def _rounds(stage_jobs: Sequence[Job], submit: Callable[[Job], Any],
            completed: Callable[[list[Any]], Iterable[Any]]) -> Iterable[dict[str, Any]]:
    """Yield each job's status; a job another runner holds ("held") is taken up again after
    the others, until that runner has finished it (then it is "skipped") or let it go."""
    pending = list(stage_jobs)
    by_key = {j.key: j for j in pending}
    while pending:
        held = []
        for fut in completed([submit(j) for j in pending]):
            status = fut.result()
            if status["status"] == "held":
                held.append(by_key[status["key"]])
            else:
                yield status
        if held:
            time.sleep(HELD_RETRY_S)
        pending = held


def _submit_all(jobs: Sequence[Job], grid: Grid, jobs_n: int, scheduler: str | None
                ) -> Iterable[dict[str, Any]]:
    """Yield each job's status as it finishes, stage after stage. A job held by another runner
    sharing the output folder is skipped for now and come back to (see `execute_job`)."""
    stages = sorted({j.stage for j in jobs})
    if scheduler:
        from distributed import Client, as_completed

        with Client(scheduler) as client:
            gpu = any("GPU" in (w.get("resources") or {})
                      for w in client.scheduler_info()["workers"].values())

            def submit_dask(j: Job) -> Any:
                return client.submit(
                    execute_job, j, str(grid.results), str(grid.output), wait=False,
                    key=f"zsc-{j.kind}-{j.key}-{time.monotonic_ns()}", pure=False,
                    resources={"GPU": 1} if gpu and JOB_KINDS.get(j.kind).device == "gpu" else None)

            for s in stages:
                yield from _rounds([j for j in jobs if j.stage == s], submit_dask, as_completed)
        return
    from concurrent.futures import as_completed as cf_completed

    threads = threads_per_worker(jobs_n)
    ex = _local_executor(jobs_n)

    def submit_local(j: Job) -> Any:
        return ex.submit(execute_job, j, str(grid.results), str(grid.output), threads,
                         wait=False)

    try:
        for s in stages:
            yield from _rounds([j for j in jobs if j.stage == s], submit_local, cf_completed)
    except BaseException:  # Ctrl-C (or the caller stopped): end the workers, do not wait
        stop_workers(ex)
        raise
    ex.shutdown(wait=True)


@dataclasses.dataclass
class Summary:
    grid: str
    total: int
    done: int = 0
    skipped: int = 0
    failed: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    not_run: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: dict[str, str] = dataclasses.field(default_factory=dict)  # left out on purpose
    by_kind: dict[str, list[float]] = dataclasses.field(default_factory=dict)  # kind -> job seconds

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_run

    def time_text(self) -> str:
        """Where the jobs' time went, per job kind (worker seconds: with several workers their
        sum exceeds the wall time)."""
        return ", ".join(f"{kind} {len(t)} job(s) {sum(t):.0f} s" for kind, t in
                         sorted(self.by_kind.items(), key=lambda kv: -sum(kv[1]))) or "no job run"

    def table(self) -> str:
        lines = [f"grid {self.grid}: {self.total} jobs: {self.done} done, {self.skipped} skipped "
                 f"(already done), {len(self.failed)} failed; {self.seconds:.0f} s"]
        if self.by_kind:
            lines.append(f"  time by job kind: {self.time_text()}")
        for name, why in self.not_run.items():
            lines.append(f"  not run: {name}: {why}")
        for name, why in self.notes.items():
            lines.append(f"  note: {name}: {why}")
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
    summary.notes = dict(grid.notes)
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
            summary.by_kind.setdefault(status["kind"], []).append(float(status.get("seconds", 0.0)))
        elif status["status"] == "skipped":  # done by another runner on the same output
            summary.skipped += 1
        else:
            summary.failed.append(status)
            bar.write(f"FAILED {status['name']}: {status['error'].splitlines()[0]}")
        bar.update(1)
        post()
    bar.close()
    summary.seconds = time.perf_counter() - t0
    return summary
