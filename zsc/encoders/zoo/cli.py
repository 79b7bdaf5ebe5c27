"""`zsc zoo ...`: train the offline zoo, list its members, regenerate its README.

The lead CLI wires this with ``add_zoo_subcommand(subparsers)``; every leaf parser sets
``func(args) -> int``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_zoo_subcommand(subparsers: Any) -> argparse.ArgumentParser:
    """Add `zoo` (with `train`, `list`, `readme`) to an argparse subparsers object."""
    from .train import add_train_arguments

    zoo = subparsers.add_parser(
        "zoo", help="the offline zoo: small encoders pretrained on Fashion-MNIST",
        description="Train, list or document the offline zoo (tier 2 encoders).",
    )
    sub = zoo.add_subparsers(dest="zoo_command", metavar="{train,list,readme}")
    sub.required = True
    train = sub.add_parser("train", help="train members (default: all) and write weights + cards",
                           description="Train zoo members on the Fashion-MNIST train split, one "
                                       "after another, then regenerate the README table.")
    add_train_arguments(train)
    train.set_defaults(func=_train)
    lst = sub.add_parser("list", help="members, their weights and kNN accuracy")
    lst.add_argument("--dir", default=None, help="weights/cards folder (default: the package's)")
    lst.set_defaults(func=_list)
    readme = sub.add_parser("readme", help="regenerate README.md from the model cards")
    readme.add_argument("--dir", default=None, help="weights/cards folder (default: the package's)")
    readme.set_defaults(func=_readme)
    return zoo


def _train(args: argparse.Namespace) -> int:
    from .train import run_from_args

    return run_from_args(args, prog="zsc zoo train")


def _folder(args: argparse.Namespace) -> Path:
    from . import WEIGHTS_DIR

    return Path(args.dir) if args.dir else WEIGHTS_DIR


def _list(args: argparse.Namespace) -> int:
    from .cards import read_cards, readme_table

    print(readme_table(read_cards(_folder(args))), end="")
    return 0


def _readme(args: argparse.Namespace) -> int:
    from .cards import write_readme

    print(write_readme(_folder(args)))
    return 0
