"""`zsc baseline ...`: list the deep-clustering baselines, run one on a dataset (one results row),
pretrain N2D's autoencoder (resumable) and release it with its card.

The top-level CLI wires this with ``add_baseline_subcommand(subparsers)``; each leaf parser sets
``func(args) -> int``; errors are zsc errors, printed as one line by ``zsc.cli.main`` (exit 2).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError
from ..io import parse_literal


def add_baseline_subcommand(subparsers: Any) -> argparse.ArgumentParser:
    base = subparsers.add_parser(
        "baseline", help="deep-clustering peers trained on the target (N2D, KingdraCluster)",
        description="Baselines that train on the dataset they cluster, for comparison with "
                    "zero-shot clustering of pretrained encoders.")
    sub = base.add_subparsers(dest="baseline_command", metavar="{list,run,train}")
    sub.required = True

    s = sub.add_parser("list", help="the registered baselines, their published numbers and weights")
    s.set_defaults(func=_list)

    s = sub.add_parser("run", help="cluster a dataset with a baseline and store its results row")
    s.add_argument("baseline")
    s.add_argument("dataset")
    s.add_argument("--split", default=None)
    s.add_argument("--n-samples", type=int, default=None, help="seeded subsample size")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--train", action="store_true",
                   help="N2D: pretrain the autoencoder now if none is shipped or cached "
                        "(published: 1000 epochs on all images, hours on a CPU)")
    s.add_argument("--option", nargs=2, action="append", metavar=("KEY", "VALUE"),
                   help="a baseline option (repeatable; `zsc baseline list` names them)")
    s.add_argument("--results", default=None,
                   help="results store folder (default: $ZSC_RESULTS_DIR, as `zsc run`)")
    s.set_defaults(func=_run)

    s = sub.add_parser("train", help="pretrain a baseline's model (N2D), resumable",
                       description="Pretrain on all images of DATASET, checkpointing every epoch "
                                   "(a second call resumes); with --release, evaluate the "
                                   "learning curve and write the weights and their card.")
    s.add_argument("baseline")
    s.add_argument("dataset")
    s.add_argument("--epochs", type=int, default=None, help="target epochs (default: published)")
    s.add_argument("--max-minutes", type=float, default=None,
                   help="stop (checkpointed) before this session passes M minutes of wall time")
    s.add_argument("--max-cpu-minutes", type=float, default=None,
                   help="stop (checkpointed) before the run passes M minutes of CPU time in all")
    s.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    s.add_argument("--release", default=None, metavar="DIR",
                   help="write weights + card here (the package's: zsc/weights/baselines)")
    s.add_argument("--no-curve", action="store_true", help="no learning curve in the card")
    s.set_defaults(func=_train)
    return base


def _list(args: argparse.Namespace) -> int:
    from . import BASELINES

    for name, spec in BASELINES.items():
        print(f"{name}: {spec.title} — {spec.paper}; clusterer column {spec.clusterer!r}")
        print(f"  settings: {spec.code}")
        for p in spec.published:
            nums = ", ".join(f"{k.upper()} {v:.3f}" for k, v in p.metrics.items())
            print(f"  published (theirs): {p.dataset}, {p.images}: {nums}")
        for opt, what in spec.options.items():
            print(f"  option {opt}: {what}")
        if spec.simplified:
            print(f"  departs from the publication: {spec.simplified}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from . import run_baseline

    options = {k: parse_literal(v) for k, v in args.option or []}
    row = run_baseline(args.baseline, args.dataset, split=args.split, n_samples=args.n_samples,
                       seed=args.seed, train=args.train, options=options, store=args.results)
    seen = row.get("train_images_seen")
    print(f"{args.baseline} on {args.dataset}/{row['split']} ({row['n_samples']} images): "
          f"ACC {row['acc']:.4f}  NMI {row['nmi']:.4f}  AMI {row['ami']:.4f}  ARI {row['ari']:.4f}  "
          f"clusters {row['n_clusters_pred']}")
    print(f"  model: {row['weights_source']}, trained on {row['trained_on']}"
          + (f", {seen:,} images seen" if seen else "")
          + (f", {row['train_seconds']:.0f} s of training" if row.get("train_seconds") else "")
          + f"; this run {row['time_total']:.1f} s; row {row['run_key']}")
    return 0


def _train(args: argparse.Namespace) -> int:
    import torch

    from . import get_baseline

    spec = get_baseline(args.baseline)
    if spec.pretrain is None:
        raise InvalidParameterError(
            f"{spec.name} has no separate pretraining: it trains on the images it clusters "
            f"(`zsc baseline run {spec.name} {args.dataset}`)")
    torch.set_num_threads(max(1, args.threads))
    command = "zsc " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else ""
    print(spec.pretrain(args.dataset, epochs=args.epochs, max_minutes=args.max_minutes,
                        max_cpu_minutes=args.max_cpu_minutes,
                        release_to=Path(args.release) if args.release else None,
                        curve=not args.no_curve, command=command,
                        log=lambda s: print(s, flush=True)))
    return 0
