"""Build the companion book: compute the profile's results, execute every chapter, build the site.

    zsc book build [--profile offline|paper|smoke|FILE.yaml] [--no-site] [--no-compute] [--force]

1. Results: the profile's batch grid (embed, cluster, kNN jobs; jobs already done are skipped).
2. Chapters: each `notebooks/*.md` (jupytext MyST) is executed by papermill with the profile's
   name into `_build/notebooks/<name>.ipynb`, with provenance (zsc version, git commit,
   parameters, hashes of the results read) in its metadata and a final cell. A failing
   chapter fails the build, naming it and its partly executed copy.
   Execution is cached by content: a chapter is executed again only when its execution key
   changes — the hash of its source text, its parameters, the profile, the results it reads,
   zsc's version and the zsc package's source. A copy executed by `zsc notebook` (its
   metadata says so) is kept, and rendered, until its source changes or `--force`.
3. Site: `jupyter-book build` (1.x only; 2.x is refused) into `_build/html`, warnings as errors;
   Sphinx's build is incremental (pages whose notebook did not change are not re-read).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .. import notebooks, profiles
from .._version import __version__
from ..errors import ZscError, exit_quietly_on_interrupt
from ..io import atomic_path, config_hash, sha256_file
from ..profile_results import ProfileResults
from . import prose
from .chapter import DATA_DIR, DATA_FORMATS, DATA_FRAMES

MANUAL = "zsc notebook"  # `executed_by` of a copy run by hand: the build keeps it (see execute_all)
# Chapters that compute something of their own start first, so that the short ones fill the other
# workers meanwhile: chapter 10 clusters a folder of images (~45 s; the others take 5-13 s each).
STARTS_FIRST = ("10_own_images",)


class BuildError(ZscError, RuntimeError):
    """The book could not be built; the message says which step and where to look."""


def project() -> Path:
    """The book project's root (where `_config.yml` is); a clear error outside one."""
    return notebooks.notebooks_dir().parent


def compute(profile: Mapping[str, Any], *, jobs: int = 1, progress: bool = True,
            log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the profile's batch grid (done jobs are skipped); fail naming every failed job."""
    from ..batch import Grid, expand, run_grid

    stages, skipped = profiles.stages(profile)
    for name, why in skipped.items():
        log(f"[zsc book] left out {name}: {why}")
    jobs_, invalid = expand(stages)
    clu_path, knn_path = ProfileResults(profile).paths  # the stores the chapters read
    grid = Grid(str(profile["profile"]), clu_path.parent, clu_path.parent / "batch", jobs_,
                skipped, invalid)
    summary = run_grid(grid, jobs=jobs, progress=progress)
    log(f"[zsc book] results: {summary.done} job(s) run, {summary.skipped} already done, "
        f"in {summary.seconds:.0f}s" + (f" ({summary.time_text()})" if summary.done else ""))
    if summary.failed:
        raise BuildError("results could not be computed:\n" + summary.table())
    return {"computed": summary.done, "skipped": skipped, "clustering_store": str(clu_path),
            "knn_store": str(knn_path), "results_seconds": round(summary.seconds, 1),
            "job_seconds": {k: round(sum(v), 1) for k, v in summary.by_kind.items()}}


# --------------------------------------------------------------------------- provenance
def git_commit() -> str:
    """The project's commit, `+dirty` when zsc, notebooks or resources have local changes."""
    try:
        root = str(project())
        out = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "zsc",
                                "notebooks"], capture_output=True, text=True, timeout=10)
        sha = out.stdout.strip() or "unknown"
        return sha + ("+dirty" if dirty.stdout.strip() else "")
    except Exception:
        return "unknown"


def provenance(profile: Mapping[str, Any], parameters: Mapping[str, Any],
               results: tuple[Any, Any, Any, Any] | None = None) -> dict[str, Any]:
    """What a chapter was built from: versions, commit, parameters, hashes of the rows read."""
    from ..analysis import frame_hash
    from ..versions import versions

    res, knn, sweep, base = results if results is not None else ProfileResults(profile).all()
    return {
        "zsc_version": __version__,
        "versions": versions(),
        "git_commit": git_commit(),
        "profile": profile["profile"],
        "parameters": dict(parameters),
        "results_rows": int(len(res)),
        "results_hash": frame_hash(res),
        "knn_rows": int(len(knn)),
        "knn_hash": frame_hash(knn),
        "sweep_rows": int(len(sweep)),
        "sweep_hash": frame_hash(sweep),
        "baselines_rows": int(len(base)),
        "baselines_hash": frame_hash(base),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# --------------------------------------------------------------------------- execution cache
@functools.lru_cache(maxsize=1)
def package_hash() -> str:
    """Hash of the zsc package's files (code, resources, zoo weights): a chapter calls into zsc,
    so any change to it may change what the chapter shows."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            h.update(path.relative_to(root).as_posix().encode() + b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def source_hash(src: Path) -> str:
    return sha256_file(src)[:16]


def execution_key(src: Path, parameters: Mapping[str, Any], profile: Mapping[str, Any],
                  prov: Mapping[str, Any]) -> str:
    """What a chapter's executed copy depends on; the same key means the same notebook."""
    return config_hash({
        "source": source_hash(src), "parameters": dict(parameters), "profile": dict(profile),
        "results": {k: prov[k] for k in ("results_hash", "knn_hash", "sweep_hash", "baselines_hash")},
        "zsc_version": __version__, "zsc_package": package_hash(),
        "versions": prov.get("versions"),
    })


def executed_state(out: Path) -> dict[str, Any] | None:
    """The provenance of an executed copy, or None when it is absent or unreadable (a copy
    that cannot be read is executed again, never trusted). Read as JSON: importing nbformat
    alone costs seconds (its validator's grammars)."""
    import json

    try:
        nb = json.loads(out.read_text())
        prov = nb["metadata"]["zsc_provenance"]
        if nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
            return None
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    return dict(prov) if isinstance(prov, Mapping) else None


def keep_reason(src: Path, state: Mapping[str, Any] | None, key: str) -> str | None:
    """Why the executed copy may be kept as it is (None: execute the chapter).

    The rule: a copy whose execution key is this build's is up to date; a copy executed by
    `zsc notebook` (other parameters, by hand) is kept as long as its chapter's source is the
    one it was executed from. `zsc book build --force` executes every chapter regardless."""
    if state is None:
        return None
    if state.get("execution_key") == key:
        return "unchanged"
    if state.get("executed_by") == MANUAL and state.get("source_sha") == source_hash(src):
        return (f"executed by `{MANUAL}` with {state.get('parameters')}; kept until its source "
                "changes or --force")
    return None


def execute_all(profile: Mapping[str, Any], out_dir: Path | None = None,
                log: Callable[[str], None] = print, *, force: bool = False, jobs: int = 1
                ) -> list[Path]:
    """Execute the chapters whose execution key changed (every chapter with `force`) with the
    profile into `out_dir` (default `_build/notebooks`); the others keep their copy. `jobs`
    chapters at a time (each in its own kernel; they share nothing but the results they read)."""
    out_dir = out_dir or project() / "_build" / "notebooks"
    params = profiles.notebook_parameters(profile)
    results = ProfileResults(profile).all()  # chapters read, they do not compute
    write_summary(profile, out_dir / "_summary.md", results[:3])
    write_data(results, out_dir.parent / "data" / str(profile["profile"]))
    prov = provenance(profile, params, results)
    outs, todo = [], []
    for src in notebooks.sources():
        out = out_dir / f"{src.stem}.ipynb"
        outs.append(out)
        key = execution_key(src, params, profile, prov)
        why = None if force else keep_reason(src, executed_state(out), key)
        if why is not None:
            log(f"[zsc book] kept {out.name}: {why}")
            continue
        todo.append((src, out, params, {**prov, "execution_key": key, "source_sha": source_hash(src),
                                        "executed_by": "zsc book build"}))
    todo.sort(key=lambda job: job[0].stem not in STARTS_FIRST)  # stable: the rest in book order
    if jobs > 1 and len(todo) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        from ..batch.run import threads_per_worker
        from ..errors import start_workers_quietly, stop_workers

        n = min(jobs, len(todo))
        ex = start_workers_quietly(ProcessPoolExecutor(
            n, mp_context=mp.get_context("spawn"), initializer=_chapter_worker,
            initargs=(threads_per_worker(n),)), n)
        try:
            for name, seconds in ex.map(_execute_timed, *zip(*todo, strict=True)):
                log(f"[zsc book] executed {name} in {seconds:.0f}s")
        except KeyboardInterrupt:  # Ctrl-C: end the chapters now, not when they finish
            stop_workers(ex)
            raise
        ex.shutdown(wait=True)
    else:
        for job in todo:
            name, seconds = _execute_timed(*job)
            log(f"[zsc book] executed {name} in {seconds:.0f}s")
    for out in outs:  # every chapter is good now: a failed run's partial copy is stale
        notebooks.partial_path(out).unlink(missing_ok=True)
    return outs


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _chapter_worker(threads: int) -> None:
    """Initializer of a process that executes chapters: its kernels get their share of the
    cores (BLAS, OpenMP, torch and numba threads; a variable the user set is kept). Kernels
    that each use every core slow each other down: chapter 10's embedding took 104 s beside
    the other chapters, against ~45 s when it had a core of its own."""
    exit_quietly_on_interrupt()
    for var in THREAD_VARIABLES:
        os.environ.setdefault(var, str(threads))


def _execute_timed(src: Path, out: Path, params: Mapping[str, Any], stamp: Mapping[str, Any]
                   ) -> tuple[str, float]:
    t0 = time.perf_counter()
    notebooks.execute(src, out, params, stamp)
    return src.name, time.perf_counter() - t0


def execute_one(name: str | os.PathLike[str], parameters: Mapping[str, Any],
                out: Path | None = None) -> Path:
    """`zsc notebook`: execute one chapter with these parameters (checked before anything
    runs) into `out` (default `_build/notebooks/<chapter>.ipynb`, which the next build keeps
    and renders), its provenance marking it as executed by hand."""
    src = notebooks.resolve(name)
    notebooks.check_parameters(src, parameters)
    params = {**notebooks.parameter_defaults(src), **parameters}
    profile = profiles.load_profile(str(params.get("profile") or "offline"))
    if params.get("results_dir"):
        profile["results_dir"] = str(params["results_dir"])
    prov = provenance(profile, params)
    prov.update(execution_key=None, source_sha=source_hash(src), executed_by=MANUAL)
    out = out or project() / "_build" / "notebooks" / f"{src.stem}.ipynb"
    return notebooks.execute(src, Path(out).resolve(), dict(parameters), prov)


def write_summary(profile: Mapping[str, Any], path: Path,
                  results: tuple[Any, Any] | None = None) -> Path:
    """Write the summary atomically, and only when it changed: Sphinx re-reads the pages that
    include a file whose time stamp moved."""
    text = prose.summary_markdown(profile, results)
    if not (path.is_file() and path.read_text() == text):
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    return path


def write_data(results: tuple[Any, ...], folder: Path) -> Path:
    """The rows the chapters read (`ProfileResults.all()`), as CSV and Parquet in `folder`
    (the build's: `chapter.data_folder`): the site carries them, each chapter links them. A
    frame without rows has no file."""
    for name, frame in zip(DATA_FRAMES, results, strict=True):
        for ext in DATA_FORMATS:  # pandas writes each with `to_<ext>`
            path = folder / f"{name}.{ext}"
            if frame.empty:
                path.unlink(missing_ok=True)
                continue
            with atomic_path(path) as tmp:
                getattr(frame, f"to_{ext}")(tmp, index=False)
    return folder


# --------------------------------------------------------------------------- site
@functools.lru_cache(maxsize=1)
def jupyter_book_version() -> str:
    """The version the `jupyter-book` executable reports (asked once per process: a second)."""
    exe = shutil.which("jupyter-book", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                             os.environ.get("PATH", "")]))
    if exe is None:
        raise BuildError("jupyter-book is not installed: pip install 'jupyter-book>=1.0.4,<2'")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True)
    text = out.stdout + out.stderr
    for line in text.splitlines():
        if line.lower().startswith("jupyter book"):
            return line.split(":", 1)[-1].strip()
    return text.strip().split()[-1] if text.strip() else "unknown"


def check_jupyter_book() -> str:
    ver = jupyter_book_version()
    major = ver.lstrip("v").split(".")[0]
    if not major.isdigit() or int(major) != 1:
        raise BuildError(
            f"jupyter-book {ver} found, but this book needs Jupyter Book 1.x "
            "(pip install 'jupyter-book>=1.0.4,<2'); 2.x (mystmd) cannot build a _config.yml "
            "book offline and has been seen to exit green with no HTML")
    return ver


def build_site(log: Callable[[str], None] = print, *, all_pages: bool = False) -> Path:
    """`jupyter-book build`, incremental: Sphinx keeps `_build/html` and its environment and
    re-reads only the pages whose source changed (`all_pages`: every page)."""
    check_jupyter_book()
    root = project()
    exe = str(Path(sys.executable).parent / "jupyter-book")
    if not Path(exe).exists():
        exe = "jupyter-book"
    cmd = [exe, "build", str(root), "--builder", "html", "-W", "-n", "--keep-going",
           *(["--all"] if all_pages else [])]
    log("[zsc book] " + " ".join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True)
    html = root / "_build" / "html"
    if out.returncode != 0 or not (html / "index.html").exists():
        lines = (out.stdout + out.stderr).splitlines()
        problems = [ln for ln in lines if "WARNING" in ln or "ERROR" in ln or "Error" in ln]
        tail = "\n".join(problems[:30] + ["..."] + lines[-10:])
        raise BuildError(f"jupyter-book build failed (exit {out.returncode}):\n{tail}")
    data = root / DATA_DIR  # the rows the chapters read (write_data), for download
    if data.is_dir():
        shutil.copytree(data, html / "data", dirs_exist_ok=True)
    reread = [ln for ln in out.stdout.splitlines() if "updating environment" in ln]
    if reread:  # Sphinx's own count of the pages it read again
        log("[zsc book] site: " + re.sub(r"\x1b\[[0-9;]*m", "", reread[-1]).strip())
    return html


def build(profile_name: str = "offline", *, compute_results: bool = True, site: bool = True,
          jobs: int | None = None, force: bool = False, log: Callable[[str], None] = print
          ) -> dict[str, Any]:
    """Results, chapters, site: the whole book for one profile (`force`: execute every chapter
    and rebuild every page, whatever the caches say), `jobs` workers at a time (default: the
    usable CPU cores, at most 4)."""
    from ..batch.run import default_jobs

    t0 = time.perf_counter()
    jobs = default_jobs() if jobs is None else jobs
    project()  # fail outside a book project before any expensive work
    if site:
        check_jupyter_book()
    profile = profiles.load_profile(profile_name)
    summary: dict[str, Any] = {"profile": profile["profile"]}
    if compute_results:
        summary.update(compute(profile, jobs=jobs, log=log))
    t1 = time.perf_counter()
    summary["notebooks"] = [str(p) for p in execute_all(profile, log=log, force=force, jobs=jobs)]
    summary["chapters_seconds"] = round(time.perf_counter() - t1, 1)
    log(f"[zsc book] chapters in {summary['chapters_seconds']:.0f}s")
    if site:
        t1 = time.perf_counter()
        summary["html"] = str(build_site(log=log, all_pages=force))
        summary["site_seconds"] = round(time.perf_counter() - t1, 1)
        log(f"[zsc book] site in {summary['site_seconds']:.0f}s")
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    log(f"[zsc book] {time_line(summary)}")
    return summary


def time_line(summary: Mapping[str, Any]) -> str:
    """Where a build's time went: per stage, and the results' job time per job kind."""
    stages = ", ".join(f"{what} {summary[f'{what}_seconds']:.0f}s" for what in ("results", "chapters", "site")
                       if f"{what}_seconds" in summary)
    kinds = sorted(summary.get("job_seconds", {}).items(), key=lambda kv: -kv[1])
    return (f"{summary['seconds']:.0f}s in all: {stages}"
            + ("; job time by kind: " + ", ".join(f"{k} {v:.0f}s" for k, v in kinds) if kinds else ""))
