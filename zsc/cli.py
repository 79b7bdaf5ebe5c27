"""The `zsc` command line: list what is registered, embed, cluster, run and store results.

Errors print one line (`zsc: error: ...`) and exit 2; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from .errors import ZscError


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import list_datasets

    rows = []
    for s in list_datasets(offline=True if args.offline else None):
        p = s.paper or {}
        rows.append({"name": s.name, "title": s.title, "group": s.group,
                     "offline": "yes" if s.offline else "", "role": s.role,
                     "paper_samples": p.get("n_samples", ""), "paper_classes": p.get("n_classes", ""),
                     "levels": ",".join(s.levels)})
    print(_table(rows, ["name", "title", "group", "offline", "role", "paper_samples",
                        "paper_classes", "levels"]))
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
    from .embed import embed

    e = embed(args.encoder, args.dataset, args.split, n_samples=args.n_samples, seed=args.seed,
              batch_size=args.batch_size, device=args.device, weights=args.weights)
    how = "from cache" if e.from_cache else f"in {e.seconds:.1f} s"
    print(f"{args.encoder} on {e.dataset}/{e.split}: {e.features.shape[0]} x {e.features.shape[1]} "
          f"embeddings ({how}), key {e.key}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .pipeline import run
    from .reduce import ReducerConfig

    reducer = None
    if args.reducer:
        n: int | float | None = args.n_components
        reducer = ReducerConfig(args.reducer, n if args.reducer != "none" else None)
    params = json.loads(args.params) if args.params else None
    t0 = time.perf_counter()

    def show(row: dict[str, Any]) -> None:
        print(f"{row['clusterer']:<21} AMI {row['ami']:.4f}  ARI {row['ari']:.4f}  "
              f"NMI {row['nmi']:.4f}  clusters {row['n_clusters_pred']:>4}  "
              f"silhouette original {row['silhouette_original']:.4f}  umap {row['silhouette_umap']:.4f}  "
              f"({row['reducer']}, {row['time_cluster']:.1f} s)", flush=True)

    df = run(args.encoder, args.dataset, args.clusterer or None, split=args.split,
             n_samples=args.n_samples, seed=args.seed, reducer=reducer, params=params,
             store=args.results, device=args.device, weights=args.weights, on_row=show)
    from .results import ResultsStore

    store = ResultsStore(args.results)
    print(f"{len(df)} row(s) stored in {store.path} ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from .results import ResultsStore

    df = ResultsStore(args.results).read()
    cols = [c for c in ["encoder", "dataset", "n_samples", "reducer", "clusterer", "ami", "ari",
                        "nmi", "silhouette_umap"] if c in df.columns]
    print(df[cols].to_string(index=False) if len(df) else "no results yet")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import main_batch

    return main_batch(args)


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
        s.add_argument("dataset")
        s.add_argument("--split", default=None)
        s.add_argument("--n-samples", type=int, default=None, help="seeded subsample size")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA if present)")
        s.add_argument("--weights", default=None, help="read the encoder's checkpoint from this file")

    s = sub.add_parser("embed", help="embed a dataset split (cached)")
    common(s)
    s.add_argument("--batch-size", type=int, default=128)
    s.set_defaults(func=cmd_embed)

    for name, helptext in [("run", "embed, reduce, cluster, score and store results rows"),
                           ("cluster", "alias of run")]:
        s = sub.add_parser(name, help=helptext)
        common(s)
        s.add_argument("--clusterer", action="append",
                       help="clusterer name (repeatable; default: all six)")
        s.add_argument("--reducer", default=None, help="override the paper's reduction: none/pca/umap/pacmap")
        s.add_argument("--n-components", type=float, default=50)
        s.add_argument("--params", default=None,
                       help='JSON of per-clusterer overrides, e.g. \'{"hdbscan": {"min_cluster_size": 10}}\'')
        s.add_argument("--results", default=None, help="results store folder (default: $ZSC_RESULTS_DIR)")
        s.set_defaults(func=cmd_run)

    s = sub.add_parser("results", help="show the results store")
    s.add_argument("--results", default=None)
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

    try:
        from .encoders.zoo.cli import add_zoo_subcommand
    except ImportError:
        pass
    else:
        add_zoo_subcommand(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
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
        print("zsc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `zsc ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
