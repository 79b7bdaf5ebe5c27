"""The `zsc` command line: list what is registered, embed, cluster, run grids, build the book.

Errors print one line (`zsc: error: ...`) and exit 2; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import InvalidParameterError, ZscError
from .io import parse_literal


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import available_splits, list_datasets

    rows = []
    for s in list_datasets(offline=True if args.offline else None):
        p = s.paper or {}
        rows.append({"name": s.name, "title": s.title, "group": s.group,
                     "offline": "yes" if s.offline else "", "role": s.role,
                     "paper_samples": p.get("n_samples", ""), "paper_classes": p.get("n_classes", ""),
                     "splits_here": ",".join(available_splits(s.name)) or "-",
                     "levels": ",".join(s.levels)})
    print(_table(rows, ["name", "title", "group", "offline", "role", "paper_samples",
                        "paper_classes", "splits_here", "levels"]))
    return 0


def cmd_encoders(args: argparse.Namespace) -> int:
    from .encoders import list_encoders

    rows = []
    for s in list_encoders(tier=args.tier):
        try:
            available = s.weights_available()
        except Exception:
            available = False
        rows.append({"name": s.name, "family": s.family, "method": s.method, "tier": s.tier,
                     "dim": s.dim, "weights": "local" if available else "missing",
                     "optional": "yes" if s.optional else "", "source": s.source})
    print(_table(rows, ["name", "family", "method", "tier", "dim", "weights", "optional", "source"]))
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from .embed import check_device, check_run_values, embed

    check_run_values(seed=args.seed)
    check_device(args.device)

    e = embed(args.encoder, args.dataset, args.split, n_samples=args.n_samples, seed=args.seed,
              batch_size=args.batch_size, device=args.device, weights=args.weights,
              precision=args.precision)
    how = "from cache" if e.from_cache else f"in {e.seconds:.1f} s"
    print(f"{args.encoder} on {e.dataset}/{e.split}: {e.features.shape[0]} x {e.features.shape[1]} "
          f"embeddings ({how}), key {e.key}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .cluster import check_param_table
    from .embed import check_device, check_run_values
    from .pipeline import run
    from .reduce import ReducerConfig

    if args.n_components is not None and not args.reducer:
        raise InvalidParameterError("--n-components is the size of the --reducer's output; give "
                                    "--reducer too (without it each clusterer uses the paper's "
                                    "reduction)")
    reducer = None
    if args.reducer:
        n: int | float | None = 50 if args.n_components is None else args.n_components
        reducer = ReducerConfig(args.reducer, n if args.reducer != "none" else None)
    # every input once, before any work: parameters, seed, device, where the rows go
    params = check_param_table(_json_arg("--params", args.params)) if args.params else None
    check_run_values(seed=args.seed)
    check_device(args.device)
    from .results import ResultsStore

    ResultsStore(args.results).check_writable()
    t0 = time.perf_counter()

    def show(row: dict[str, Any]) -> None:
        labels = ("" if row["ami"] != row["ami"] else  # NaN: unlabelled images
                  f"AMI {row['ami']:.4f}  ARI {row['ari']:.4f}  NMI {row['nmi']:.4f}  ")
        print(f"{row['clusterer']:<21} {labels}clusters {row['n_clusters_pred']:>4}  "
              f"silhouette original {row['silhouette_original']:.4f}  umap {row['silhouette_umap']:.4f}  "
              f"({row['reducer']}, {row['time_cluster']:.1f} s)", flush=True)
        if row.get("deviation"):
            print(f"{'':<21} deviation: {row['deviation']}", flush=True)

    df = run(args.encoder, args.dataset, args.clusterer or None, split=args.split,
             n_samples=args.n_samples, seed=args.seed, reducer=reducer, params=params,
             store=args.results, device=args.device, weights=args.weights, on_row=show,
             max_memory=args.max_memory)
    store = ResultsStore(args.results)
    print(f"{len(df)} row(s) stored in {store.path} ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from .results import find_stores

    if args.output:  # before reading: a read-only target fails at once
        from .io import check_writable

        check_writable(Path(args.output).expanduser().parent, "the export")
    clu, knn = find_stores(args.folder or args.results)
    df = clu.read()
    if args.output:
        return _export(df, args.format, Path(args.output))
    if df.empty:
        print(f"no results yet in {clu.path}")
        return 0
    print(f"{len(df)} clustering rows in {clu.path}" + (f"; {len(knn.read())} kNN rows in {knn.path}"
                                                         if knn is not None else ""))
    print("\nAMI (mean over clusterers and seeds), encoder x dataset:")
    print(df.pivot_table(index="encoder", columns="dataset", values="ami", aggfunc="mean")
          .round(3).to_string())
    print("\nrows per clusterer:")
    print(df.groupby("clusterer").size().rename("rows").to_string())
    return 0


def _export(df: Any, fmt: str | None, out: Path) -> int:
    fmt = fmt or {".csv": "csv", ".parquet": "parquet", ".md": "markdown"}.get(out.suffix)
    if fmt is None:
        raise InvalidParameterError(f"cannot tell the format of {out}: give --format csv, "
                                    "parquet or markdown")
    from .io import atomic_path

    with atomic_path(out) as tmp:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        elif fmt == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            tmp.write_text(df.to_markdown(index=False) + "\n")
    print(f"{len(df)} rows written to {out} ({fmt})")
    return 0


def _json_arg(flag: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidParameterError(f"{flag} is not valid JSON ({err.msg} at character "
                                    f"{err.pos}): {text!r}") from None


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import is_done, load_grid, run_grid
    from .io import check_writable

    grid = load_grid(args.grid, results=args.results, output=args.output)
    if grid.invalid and not args.dry_run:  # nothing runs until every job is valid
        for name, why in grid.invalid.items():
            print(f"zsc: error: {name}: {why}", file=sys.stderr)
        return 2
    for folder, what in ((grid.results, "the grid's results"), (grid.output, "the grid's output")):
        check_writable(folder, what, create=not args.dry_run)  # before any job, in both modes
    if args.dry_run:
        for j in grid.jobs:
            state = "done" if is_done(grid.output, j.key) else "todo"
            print(f"{state:4}  {j.key}  {j.name}")
        for name, why in grid.invalid.items():
            print(f"bad   {name}: {why}")
        for name, why in grid.skipped.items():
            print(f"skip  {name}: {why}")
        for name, why in grid.notes.items():
            print(f"note  {name}: {why}")
        return 2 if grid.invalid else 0  # as the run, which refuses to start
    summary = run_grid(grid, jobs=args.jobs, scheduler=args.scheduler,
                       progress=not args.no_progress)
    print(summary.table())
    print(f"results: {grid.results}; job records: {grid.output / 'jobs'}")
    return 0 if summary.ok else 1


def cmd_book_build(args: argparse.Namespace) -> int:
    from .report.build import build

    summary = build(args.profile, compute_results=not args.no_compute, site=not args.no_site,
                    jobs=args.jobs, force=args.force)
    print(f"[zsc book] done in {summary['seconds']}s; site: {summary.get('html', '(not built)')}")
    return 0


def cmd_notebook(args: argparse.Namespace) -> int:
    from .report.build import execute_one

    params = {k: parse_literal(v) for k, v in args.parameter or []}
    t0 = time.perf_counter()
    out = execute_one(args.name, params, Path(args.output) if args.output else None)
    print(f"{out.name} executed in {time.perf_counter() - t0:.0f}s: {out}"
          + ("" if args.output else "; the next `zsc book build` renders it (until its source "
             "changes or --force)"))
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    import shlex

    from .cuts import DEFAULT_RULE
    from .explore import DEFAULT_ENCODER, STABILITY_SEEDS, cluster_images

    out = Path(args.output)
    stability = STABILITY_SEEDS if args.stability is None else args.stability
    encoders, rule = args.encoder or [DEFAULT_ENCODER], args.rule or DEFAULT_RULE
    command = f"cd {shlex.quote(os.getcwd())} && zsc cluster " + " ".join(shlex.quote(str(a)) for a in (
        *args.path, "-o", str(out), *(x for name in encoders for x in ("--encoder", name)),
        *(("--k", str(args.k)) if args.k else ("--rule", rule)), "--seed", str(args.seed),
        "--stability", str(stability),
        *(("--links",) if args.links else ())))
    res = cluster_images(args.path, out, encoder=encoders, k=args.k, rule=rule,
                         seed=args.seed, progress=not args.no_progress, command=command,
                         links=args.links, stability_seeds=stability)
    alt = ", ".join(f"{w} k = {v}" for w, v in (("coarser", res.coarser), ("finer", res.finer)) if v)
    print(f"{len(res.paths)} images in {res.k} clusters ({res.how}"
          + (f"; {alt}" if alt else "") + f"); {len(res.skipped)} file(s) skipped")
    for r in res.compared.itertuples():
        print(f"  {r.encoder}: {r.k} clusters, silhouette {r.silhouette:.3f}, ARI with "
              f"{res.encoder}'s {r.ari_with_first:.2f}")
    print(f"report: {out / 'report.html'}\nassignments: {out / 'assignments.csv'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zsc", description=__doc__.splitlines()[0])
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("datasets", help="list registered datasets")
    s.add_argument("--offline", action="store_true", help="only those that load with no network")
    s.set_defaults(func=cmd_datasets)

    s = sub.add_parser("encoders", help="list registered encoders and whether weights are local")
    s.add_argument("--tier", choices=["baseline", "paper", "package", "zoo"])
    s.set_defaults(func=cmd_encoders)

    def common(s: argparse.ArgumentParser) -> None:
        s.add_argument("encoder")
        s.add_argument("dataset", help="a registered dataset (`zsc datasets`), or a folder of "
                       "images: PATH or folder:PATH (unlabelled), imagefolder:PATH (labelled by "
                       "sub-folder, PATH/<class>/...)")
        s.add_argument("--split", default=None)
        s.add_argument("--n-samples", type=int, default=None, help="seeded subsample size")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA if present)")
        s.add_argument("--weights", default=None, help="read the encoder's checkpoint from this file")

    s = sub.add_parser("embed", help="embed a dataset split (cached)")
    common(s)
    s.add_argument("--batch-size", type=int, default=None, help="images per batch (default: 16 on the "
                   "CPU, 128 on CUDA)")
    s.add_argument("--precision", choices=["fp32", "fp16", "bf16"], default=None,
                   help="override the paper's precision (fp32; CLIP fp16 on CUDA): a deviation")
    s.set_defaults(func=cmd_embed)

    s = sub.add_parser("run", help="embed, reduce, cluster, score and store results rows")
    common(s)
    s.add_argument("--clusterer", action="append",
                   help="clusterer name (repeatable; default: all six)")
    s.add_argument("--reducer", default=None, help="override the paper's reduction: none/pca/umap/pacmap")
    s.add_argument("--n-components", type=float, default=None,
                   help="output size of --reducer (default 50; a fraction < 1: PCA's variance)")
    s.add_argument("--params", default=None,
                   help='JSON of per-clusterer overrides, e.g. \'{"hdbscan": {"min_cluster_size": 10}}\'')
    s.add_argument("--results", default=None, help="results store folder (default: $ZSC_RESULTS_DIR)")
    s.add_argument("--max-memory", default=None, metavar="SIZE",
                   help="memory budget of Affinity Propagation and average/complete-linkage AC, "
                   "e.g. 64GiB, 500MB (default: this machine's memory). Over it AP is fitted on "
                   "a seeded subsample and such AC is refused; the row records any deviation")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("results", help="summarise or export results (any folder zsc writes)",
                       description="FOLDER: a results store, a profile's or batch's results "
                       "folder, or a batch's output folder (default: $ZSC_RESULTS_DIR).")
    s.add_argument("folder", nargs="?", default=None)
    s.add_argument("--results", default=None, help=argparse.SUPPRESS)  # the former option
    s.add_argument("--format", choices=["csv", "parquet", "markdown"], default=None,
                   help="export format (default: from the file name)")
    s.add_argument("-o", "--output", default=None, help="export every row to this file")
    s.set_defaults(func=cmd_results)

    s = sub.add_parser("batch", help="run a grid of jobs / notebooks (resumable; local or Dask)",
                       description="Expand GRID (a grid file or a shipped grid: smoke, offline, "
                       "paper) into jobs and run those not done yet. Exit status 1 if any failed.")
    s.add_argument("grid", help="grid YAML file, or the name of a shipped grid")
    s.add_argument("--jobs", "-j", type=int, default=1, help="local worker processes (default 1)")
    s.add_argument("--scheduler", default=None,
                   help="Dask scheduler address (tcp://host:8786); default: local processes")
    s.add_argument("--results", default=None, help="override the grid's results folder")
    s.add_argument("--output", default=None, help="override the grid's output folder")
    s.add_argument("--dry-run", action="store_true", help="list the jobs and their state; run nothing")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_batch)

    s = sub.add_parser("cluster", help="cluster a folder of your own images; write a report",
                       description="Cluster the images PATHs name (folders, recursively; globs; "
                       "text files of paths) with the paper's recipe: a pretrained encoder, UMAP "
                       "to 50-d, agglomerative ward, the cut chosen without labels. Writes "
                       "OUT/assignments.csv and one self-contained OUT/report.html; files that "
                       "cannot be read are skipped and listed. Nothing under PATH is modified.")
    s.add_argument("path", nargs="+", metavar="PATH")
    s.add_argument("-o", "--output", default="zsc-cluster", metavar="OUT",
                   help="output folder (default: ./zsc-cluster)")
    s.add_argument("--encoder", action="append", default=None,
                   help="a registered encoder (`zsc encoders`; default: efficientnet_lite0, the "
                   "best that works offline for photos); repeat it to compare several (the "
                   "report is the first's, with a table of the others)")
    s.add_argument("--k", type=int, default=None, help="the number of clusters (default: chosen)")
    s.add_argument("--rule", default=None,
                   help="how k is chosen without labels: a rule of zsc.cuts.CUT_RULES (default: "
                   "the one measured best, README; `silhouette` is the paper's)")
    s.add_argument("--seed", type=int, default=0, help="UMAP seed")
    s.add_argument("--stability", type=int, default=None, metavar="N",
                   help="redo the chosen cut with N other UMAP seeds and report the agreement "
                   "(adjusted Rand index; default 2, 0: skip)")
    s.add_argument("--links", action="store_true",
                   help="also make OUT/clusters/<cluster>/ with links to each cluster's files "
                   "(copies where links are not possible); the originals are not touched")
    s.add_argument("--no-progress", action="store_true", help="no progress bars")
    s.set_defaults(func=cmd_cluster)

    book = sub.add_parser("book", help="build the companion book (results, chapters, site)")
    bsub = book.add_subparsers(dest="book_command", required=True)
    s = bsub.add_parser("build", help="compute a profile's results, execute every chapter, build the site",
                        description="Run inside a checkout of the project (the folder with _config.yml).")
    s.add_argument("--profile", default="offline", help="a shipped profile (offline, paper, smoke) or a .yaml path")
    s.add_argument("--no-compute", action="store_true", help="only read the results already there")
    s.add_argument("--no-site", action="store_true", help="execute the chapters, skip jupyter-book")
    s.add_argument("--jobs", "-j", type=int, default=None,
                   help="local worker processes for the results and the chapters (default: the "
                   "usable CPU cores, at most 4)")
    s.add_argument("--force", action="store_true",
                   help="execute every chapter and rebuild every page (default: only what changed; "
                   "a chapter run by `zsc notebook` is kept)")
    s.set_defaults(func=cmd_book_build)

    s = sub.add_parser("notebook", help="re-execute one chapter with other parameters (papermill)",
                       description="Execute one chapter (e.g. 05_taxonomy or taxonomy) into "
                       "_build/notebooks/, where the next `zsc book build` keeps and renders it "
                       "until the chapter's source changes or --force. Parameters of an unknown "
                       "name or of the wrong type are refused before anything runs.")
    s.add_argument("name", help="chapter name or path of its .md source")
    s.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"),
                   help="a parameter of the chapter (repeatable); VALUE is read as a literal")
    s.add_argument("-o", "--output", default=None, help="the executed notebook (.ipynb)")
    s.set_defaults(func=cmd_notebook)

    from .pretrain.cli import add_zoo_subcommand

    add_zoo_subcommand(sub)

    from .baselines.cli import add_baseline_subcommand

    add_baseline_subcommand(sub)
    return p


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      line: str | None = None) -> str:
    """A warning is one line for the user (`zsc: warning: ...`), not Python's source line."""
    return f"zsc: warning: {message}\n"


def _interrupted() -> int:
    """Ctrl-C: one line. A chapter's cell still awaited by papermill's event loop ends when its
    kernel dies, and asyncio would log "Task exception was never retrieved" at exit: not here."""
    import logging

    logging.getLogger("asyncio").disabled = True
    print("zsc: interrupted", file=sys.stderr)
    return 130


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    before = warnings.formatwarning
    warnings.formatwarning = _one_line_warning  # type: ignore[assignment]
    try:
        return _main(argv)
    except KeyboardInterrupt:  # also while the parser is built (its imports take seconds)
        return _interrupted()
    finally:
        warnings.formatwarning = before


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "n_components", None) is not None and float(args.n_components).is_integer():
        args.n_components = int(args.n_components)
    try:
        return int(args.func(args) or 0)
    except ZscError as err:
        if args.debug:
            raise
        print(f"zsc: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return _interrupted()
    except BrokenPipeError:  # `zsc ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
