"""`zsc zoo ...`: train the offline zoo (resumably), export checkpoints, list members,
regenerate the README.

The top-level CLI wires this with ``add_zoo_subcommand(subparsers)``; every leaf parser sets
``func(args) -> int``. ``main(argv)`` (also ``python -m zsc.pretrain``) runs the same commands
standalone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROG = "zsc zoo"


def add_zoo_arguments(zoo: argparse.ArgumentParser, prog: str = PROG) -> None:
    """The `train`, `export`, `check`, `list` and `readme` subcommands, on parser `zoo`."""
    from ..encoders.zoo import MEMBERS

    sub = zoo.add_subparsers(dest="zoo_command", metavar="{train,export,check,list,readme}")
    sub.required = True
    train = sub.add_parser(
        "train", help="train members (default: all) and write weights + cards",
        description="Train zoo members on the Fashion-MNIST train split, one after another, with a "
                    "held-out learning curve and plateau stopping; release each finished member "
                    "(weights, card) and regenerate the README. Checkpoints make it resumable.")
    train.add_argument("names", nargs="*", metavar="NAME",
                       help=f"members to train (default: all): {', '.join(MEMBERS)}")
    train.add_argument("--all", action="store_true", help="every member, most important first")
    train.add_argument("--resume", action="store_true",
                       help="continue from each member's checkpoint (a finished one is only "
                            "released); without it training starts over")
    train.add_argument("--out", default=None,
                       help="folder for weights and cards (default: the package's zsc/weights/zoo)")
    train.add_argument("--ckpt-dir", default=None,
                       help="checkpoint root, one folder per member (default: $ZSC_ZOO_CKPT_DIR, "
                            "else ~/.cache/zsc/zoo-ckpt)")
    train.add_argument("--max-minutes", type=float, default=None,
                       help="stop (checkpointed, resumable) after this many minutes of training in "
                            "this run, over all members")
    train.add_argument("--no-eval", action="store_true",
                       help="skip the test-split kNN evaluation (the card then has no accuracy)")
    train.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    train.add_argument("--steps", type=int, default=None,
                       help="train for exactly this many steps instead of the recipe's epochs "
                            "(smoke runs only)")
    train.add_argument("--no-curve", action="store_true",
                       help="no held-out learning curve (smoke runs only: no plateau stop)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=lambda a: _train(a, prog))
    export = sub.add_parser("export", help="release members from their checkpoints (best point)",
                            description="Write weights + card of members from their checkpoints, "
                                        "finished or not (the best held-out curve point).")
    export.add_argument("names", nargs="+", metavar="NAME")
    export.add_argument("--out", default=None, help="folder for weights and cards")
    export.add_argument("--ckpt-dir", default=None, help="checkpoint root")
    export.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    export.add_argument("--if-better", action="store_true",
                        help="only members whose checkpoint's best held-out kNN@20 beats the "
                             "weights now in the output folder on the same held-out images")
    export.add_argument("--quiet", action="store_true", help="no progress bars")
    export.set_defaults(func=lambda a: _export(a, prog))
    check = sub.add_parser(
        "check", help="re-measure shipped members' kNN and record the subsample check",
        description="Re-measure the test-split kNN@20 of members' weights (default: every member) "
                    "and record it with the 2,000-image subsample check in their cards; weights "
                    "are not touched.")
    check.add_argument("names", nargs="*", metavar="NAME")
    check.add_argument("--dir", default=None, help="weights/cards folder (default: the package's)")
    check.add_argument("--note", default=None, help="a note to record in the cards")
    check.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    check.add_argument("--quiet", action="store_true", help="no progress bars")
    check.set_defaults(func=_check)
    lst = sub.add_parser("list", help="members, their weights and kNN accuracy")
    lst.add_argument("--dir", default=None, help="weights/cards folder (default: the package's)")
    lst.set_defaults(func=_list)
    readme = sub.add_parser("readme", help="regenerate README.md from the model cards")
    readme.add_argument("--dir", default=None, help="weights/cards folder (default: the package's)")
    readme.set_defaults(func=_readme)


def add_zoo_subcommand(subparsers: Any) -> argparse.ArgumentParser:
    """Add `zoo` (with `train`, `export`, `check`, `list`, `readme`) to an argparse subparsers
    object."""
    zoo = subparsers.add_parser(
        "zoo", help="the offline zoo: small encoders pretrained on Fashion-MNIST",
        description="Train, export, list or document the offline zoo (tier 2 encoders).",
    )
    add_zoo_arguments(zoo, PROG)
    return zoo


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m zsc.pretrain") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    add_zoo_arguments(parser, prog)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def _ckpt(args: argparse.Namespace, name: str) -> Path | None:
    return Path(args.ckpt_dir) / name if args.ckpt_dir else None


def command_line(prog: str, args: argparse.Namespace, name: str) -> str:
    """The command that (re)makes member `name` with these options."""
    parts = [f"{prog} train"]  # --out, --ckpt-dir, --resume, --max-minutes: where and when only
    if args.no_eval:
        parts.append("--no-eval")
    if args.threads != 1:
        parts += ["--threads", str(args.threads)]
    if args.steps is not None:
        parts += ["--steps", str(args.steps)]
    if args.no_curve:
        parts.append("--no-curve")
    return " ".join([*parts, name])


def _names(args: argparse.Namespace) -> list[str]:
    from ..encoders.zoo import MEMBERS
    from .recipes import TRAIN_ORDER

    unknown = [n for n in args.names if n not in MEMBERS]
    if unknown:
        raise SystemExit(f"unknown zoo member(s) {', '.join(unknown)}; known: {', '.join(MEMBERS)}")
    if args.names and getattr(args, "all", False):
        raise SystemExit("name members or pass --all, not both")
    return list(args.names) or list(TRAIN_ORDER)


def _train(args: argparse.Namespace, prog: str) -> int:
    import time

    from ..encoders.zoo import WEIGHTS_DIR
    from .cards import write_readme
    from .release import already_released, run_member

    t0 = time.perf_counter()
    pending = []
    for name in _names(args):
        left = None
        if args.max_minutes is not None:
            left = args.max_minutes * 60 - (time.perf_counter() - t0)
            if left <= 0:
                pending.append(name)
                continue
        if args.resume and not args.no_eval and args.steps is None and \
                already_released(name, args.out, _ckpt(args, name)):
            print(f"{name}: finished and released already", file=sys.stderr)
            continue
        card = run_member(name, args.out, evaluate=not args.no_eval, progress=not args.quiet,
                          threads=args.threads, command=command_line(prog, args, name),
                          steps=args.steps, ckpt_dir=_ckpt(args, name), resume=args.resume,
                          max_seconds=left, curve=not args.no_curve)
        if card is None:
            pending.append(name)
        else:
            write_readme(Path(args.out) if args.out else WEIGHTS_DIR)
    if pending:
        print(f"unfinished: {', '.join(pending)}; continue with `{prog} train --resume "
              f"{' '.join(pending)}`", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace, prog: str) -> int:
    from ..encoders.zoo import WEIGHTS_DIR
    from .cards import write_readme
    from .release import release_member, result_from_checkpoint

    for name in args.names:
        result = result_from_checkpoint(name, _ckpt(args, name))
        if args.if_better:
            from .release import heldout_knn

            out = Path(args.out) if args.out else WEIGHTS_DIR
            current = out / f"{name}.safetensors"
            now = heldout_knn(name, current) if current.exists() else float("-inf")
            new = result.best["value"] if result.best else float("-inf")
            print(f"{name}: held-out kNN@20 {now:.4f} now, {new:.4f} in the checkpoint "
                  f"(step {result.steps}, {result.stop_reason})", file=sys.stderr)
            if new <= now:
                continue
        release_member(name, args.out, result=result, progress=not args.quiet,
                       threads=args.threads, command=f"{prog} train --resume {name}")
    write_readme(Path(args.out) if args.out else WEIGHTS_DIR)
    return 0


def _check(args: argparse.Namespace) -> int:
    from ..encoders.zoo import MEMBERS
    from .cards import write_readme
    from .release import recheck_card

    for name in args.names or MEMBERS:
        recheck_card(name, args.dir, progress=not args.quiet, threads=args.threads, note=args.note)
    write_readme(_folder(args))
    return 0


def _folder(args: argparse.Namespace) -> Path:
    from ..encoders.zoo import WEIGHTS_DIR

    return Path(args.dir) if args.dir else WEIGHTS_DIR


def _list(args: argparse.Namespace) -> int:
    from .cards import read_cards, readme_table

    print(readme_table(read_cards(_folder(args))), end="")
    return 0


def _readme(args: argparse.Namespace) -> int:
    from .cards import write_readme

    print(write_readme(_folder(args)))
    return 0
