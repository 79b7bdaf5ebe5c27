"""Run a zoo member end to end: split the train split, train (resumably), export the backbone,
evaluate it with zsc's own embedding pipeline and write its model card.

Splits (all of Fashion-MNIST's train split, 60,000 images):

* held-out part: 5,000 images (``subsample_indices(labels, 5000, seed=HELDOUT_SEED)``) — the
  learning curve's kNN queries; never trained on;
* training part: the other 55,000 — what the members train on, and the curve's kNN memory.

The card's headline kNN@20 is the old protocol: the whole train split (60,000) as the memory,
the test split (10,000) as the queries, through ``zsc.embed`` and ``zsc.metrics.knn_accuracy``.
The test split is only used for that final figure, never for stopping.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..encoders.zoo import WEIGHTS_DIR, get_member, is_trainable, models
from .recipes import HELDOUT_N, HELDOUT_SEED, KNN_K, RECIPES

# the reproducibility check of a card's figure (tests/test_zoo.py): the whole train split as
# the memory, a seeded stratum-free subsample of the test split as the queries
CHECK_N_TEST = 2000
CHECK_SEED = 0
CHECK_SIGMAS = 3.0


def ckpt_root() -> Path:
    """Where training checkpoints live: $ZSC_ZOO_CKPT_DIR, else <zsc home>/zoo-ckpt."""
    from ..config import home

    return Path(os.environ.get("ZSC_ZOO_CKPT_DIR") or home() / "zoo-ckpt").expanduser()


def split_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(training part, held-out part) of the train split, as sorted index arrays."""
    from ..data import subsample_indices

    held = subsample_indices(labels, HELDOUT_N, seed=HELDOUT_SEED)
    mask = np.ones(len(labels), dtype=bool)
    mask[held] = False
    return np.flatnonzero(mask), held


def check_tolerance(p: float, n_test: int = CHECK_N_TEST, n_total: int = 10_000) -> float:
    """The error a card states for its kNN@20 measured on `n_test` of the `n_total` test images
    (same memory): CHECK_SIGMAS binomial standard errors, with the finite-population correction
    (the subsample is drawn without replacement from the very images the card's figure used)."""
    se = math.sqrt(max(p * (1 - p), 1e-4) / n_test * (1 - n_test / n_total))
    return round(CHECK_SIGMAS * se, 4)


def save_backbone(backbone: nn.Module, path: str | Path) -> Path:
    """Write the backbone's state dict as safetensors (atomically)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in backbone.state_dict().items()}
    tmp = path.with_suffix(path.suffix + ".part")
    save_file(state, str(tmp), metadata={"format": "pt"})
    tmp.chmod(0o644)  # package data: readable by all
    tmp.replace(path)
    return path


def evaluate_knn(name: str, weights: str | Path | None = None, *, ks: Sequence[int] = (1, KNN_K, 200),
                 progress: bool = True, n_train: int | None = None,
                 n_test: int | None = None, seed: int = 0,
                 check_n_test: int | None = None) -> dict[Any, float]:
    """Weighted kNN accuracy of member `name`: Fashion-MNIST train embeddings vote for the test
    split's, through zsc's own embedding pipeline (no cache). With `check_n_test`, the result
    also holds key "check": kNN@20 of the test images subsample_indices(check_n_test,
    CHECK_SEED) picks (the rows zsc.embed(n_samples=check_n_test, seed=CHECK_SEED) embeds)."""
    from ..data import subsample_indices
    from ..embed import embed
    from ..metrics import knn_accuracy

    kw = dict(weights=str(weights) if weights else None, cache=False, device="cpu", progress=progress,
              batch_size=512, seed=seed)
    tr = embed(name, "fashion_mnist", "train", n_samples=n_train, **kw)
    te = embed(name, "fashion_mnist", "test", n_samples=n_test, **kw)
    out: dict[Any, float] = dict(knn_accuracy(tr.features, tr.labels, te.features, te.labels,
                                              ks=ks, device="cpu"))
    if check_n_test:
        rows = subsample_indices(te.labels, check_n_test, CHECK_SEED)
        out["check"] = knn_accuracy(tr.features, tr.labels, te.features[rows], te.labels[rows],
                                    ks=(KNN_K,), device="cpu")[KNN_K]
    return out


def train_member(name: str, *, ckpt_dir: str | Path | None = None, resume: bool = True,
                 progress: bool = True, threads: int = 1, steps: int | None = None,
                 max_seconds: float | None = None, stop_at_step: int | None = None,
                 curve: bool = True):
    """Train member `name` on the training part with the held-out learning curve; checkpoints
    go to `ckpt_dir` (default: ckpt_root()/NAME)."""
    from ..data import load_dataset
    from .trainer import train

    recipe = RECIPES[name]
    data = load_dataset("fashion_mnist", "train")
    train_idx, held_idx = split_indices(data.labels)
    if recipe.n_images is not None:
        rng = np.random.default_rng(recipe.seed)
        train_idx = np.sort(rng.choice(train_idx, size=recipe.n_images, replace=False))
    heldout = (data.images[held_idx], data.labels[held_idx]) if curve else None
    folder = Path(ckpt_dir) if ckpt_dir is not None else ckpt_root() / name
    return train(recipe, data.images[train_idx], data.labels[train_idx], heldout=heldout,
                 steps=steps, ckpt_dir=folder, resume=resume, progress=progress, threads=threads,
                 max_seconds=max_seconds, stop_at_step=stop_at_step)


def result_from_checkpoint(name: str, ckpt_dir: str | Path | None = None):
    """A TrainResult from member `name`'s checkpoint without training (finished or not): its
    best curve point's backbone (the latest one when there is no curve yet)."""
    from .trainer import CHECKPOINT_NAME, TrainResult, load_checkpoint

    recipe = RECIPES[name]
    path = (Path(ckpt_dir) if ckpt_dir is not None else ckpt_root() / name) / CHECKPOINT_NAME
    if not path.exists():
        raise FileNotFoundError(f"{name}: no checkpoint at {path}; train it first")
    st = load_checkpoint(path)
    backbone = models.build_backbone(recipe.kind)
    if st["best"] is not None:
        backbone.load_state_dict(st["best"]["state"])
        best = {"value": round(st["best"]["value"], 4), **st["best"]["point"]}
    else:  # no curve point after step 0 yet: the method's current exported backbone
        from .methods import METHOD_CLASSES

        method = METHOD_CLASSES[recipe.method](backbone, models.BACKBONE_DIMS[recipe.kind], recipe)
        method.load_state_dict(st["method"])
        backbone, best = method.export(), None
    return TrainResult(recipe, backbone.eval(), {}, st["seconds"], st["step"], st["seen"],
                       list(st["losses"]), list(st["curve"]), best, bool(st["done"]),
                       st["stop_reason"] if st["done"] else "unfinished" + (
                           f" ({st['stop_reason']})" if st["stop_reason"] else ""),
                       st["eval_seconds"], list(st["sessions"]), st.get("cooldown"),
                       st.get("cpu_seconds", 0.0))


def heldout_knn(name: str, weights: str | Path | None = None) -> float:
    """The learning curve's measure (held-out kNN@20 against the training part) for member
    `name` with `weights` (default: the shipped ones): compares shipped weights with a run."""
    from ..data import load_dataset
    from ..encoders.zoo import get_member
    from .trainer import curve_knn

    data = load_dataset("fashion_mnist", "train")
    train_idx, held_idx = split_indices(data.labels)
    model = get_member(name).build(str(weights) if weights else None)
    return curve_knn(model, (data.images[train_idx], data.labels[train_idx]),
                     (data.images[held_idx], data.labels[held_idx]))


def already_released(name: str, out_dir: str | Path | None = None,
                     ckpt_dir: str | Path | None = None) -> bool:
    """Is member `name`'s card in `out_dir` the release of its finished checkpoint (or, for a
    random member, complete)? Then `train --resume` has nothing left to do for it."""
    from ..encoders.zoo import read_card
    from .trainer import CHECKPOINT_NAME, load_checkpoint

    card = read_card(name, out_dir)
    if card is None or not card.get("knn_check"):
        return False
    if not is_trainable(name):
        return True
    path = (Path(ckpt_dir) if ckpt_dir is not None else ckpt_root() / name) / CHECKPOINT_NAME
    if not path.exists() or card.get("stop_reason") is None:
        return False
    st = load_checkpoint(path)
    if st["stop_reason"] == "plateau" and st.get("cooldown") is None \
            and RECIPES[name].cooldown_epochs > 0:
        return False  # stopped flat before cool-downs existed: resuming gives it one
    return bool(st["done"]) and st["step"] == card.get("steps")


def release_member(name: str, out_dir: str | Path | None = None, *, result: Any = None,
                   evaluate: bool = True, progress: bool = True, threads: int = 1,
                   command: str | None = None) -> dict[str, Any]:
    """Write member `name`'s weights (from `result`, a TrainResult; None for a random member)
    and its model card, with the test-split kNN unless `evaluate` is False."""
    from .cards import make_card, write_card

    out = Path(out_dir) if out_dir else WEIGHTS_DIR
    weights_path = save_backbone(result.backbone, out / f"{name}.safetensors") if result else None
    knn: dict[int, float] | None = None
    check: dict[str, Any] | None = None
    eval_seconds = None
    if evaluate:
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        try:
            knn = evaluate_knn(name, weights_path, progress=progress, check_n_test=CHECK_N_TEST)
            eval_seconds = time.perf_counter() - t0
            sub = knn.pop("check")
        finally:
            torch.set_num_threads(old)
        check = _check(knn[KNN_K], sub)
        print(f"{name}: kNN@{KNN_K} = {knn[KNN_K]:.4f} (test subsample {sub:.4f})", file=sys.stderr)
    card = make_card(get_member(name), RECIPES.get(name), result, weights_path, knn, eval_seconds,
                     command or f"zsc zoo train {name}", threads, check=check)
    write_card(card, out)
    return card


def recheck_card(name: str, folder: str | Path | None = None, *, progress: bool = True,
                 threads: int = 1, note: str | None = None) -> dict[str, Any]:
    """Re-measure member `name`'s test-split kNN from the weights in `folder` (default: the
    shipped ones) and record it, with the subsample check, in its existing card; the weights
    and everything else in the card stay as they are."""
    from ..encoders.zoo import read_card
    from ..io import sha256_file
    from .cards import write_card

    out = Path(folder) if folder else WEIGHTS_DIR
    card = read_card(name, out)
    if card is None:
        raise FileNotFoundError(f"{name}: no model card in {out}")
    weights = out / f"{name}.safetensors" if is_trainable(name) else None
    if weights is not None and card.get("weights_sha256") != sha256_file(weights):
        raise ValueError(f"{name}: {weights} is not the file its card describes")
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    try:
        knn = evaluate_knn(name, weights, progress=progress, check_n_test=CHECK_N_TEST)
    finally:
        torch.set_num_threads(old)
    sub = knn.pop("check")
    previous = card.get(f"knn_accuracy_k{KNN_K}")
    card[f"knn_accuracy_k{KNN_K}"] = round(knn[KNN_K], 4)
    card["knn_accuracy"] = {str(k): round(v, 4) for k, v in knn.items()}
    card["eval_seconds"] = round(time.perf_counter() - t0, 1)
    card["knn_check"] = _check(knn[KNN_K], sub)
    if note:
        card["note"] = note
    write_card(card, out)
    print(f"{name}: kNN@{KNN_K} = {knn[KNN_K]:.4f} (card had {previous}), test subsample "
          f"{sub:.4f}", file=sys.stderr)
    return card


def _check(full: float, sub: float) -> dict[str, Any]:
    return {"memory": "fashion_mnist train (60,000)",
            "queries": f"fashion_mnist test, subsample_indices(n={CHECK_N_TEST}, seed={CHECK_SEED})",
            "n_test": CHECK_N_TEST, "seed": CHECK_SEED, f"knn_accuracy_k{KNN_K}": round(sub, 4),
            "tolerance": check_tolerance(full),
            "tolerance_rule": f"{CHECK_SIGMAS:g} binomial standard errors of a {CHECK_N_TEST}-image "
                              "subsample of the 10,000 test images (finite-population corrected)"}


def run_member(name: str, out_dir: str | Path | None = None, *, evaluate: bool = True,
               progress: bool = True, threads: int = 1, command: str | None = None,
               steps: int | None = None, ckpt_dir: str | Path | None = None, resume: bool = True,
               max_seconds: float | None = None, curve: bool = True) -> dict[str, Any] | None:
    """Train (or, for a random member, only evaluate) one member, then write its weights and
    card. Returns the card, or None when training stopped unfinished (time limit or signal):
    its checkpoint is kept, and the shipped weights are left alone."""
    result = None
    if is_trainable(name):
        result = train_member(name, ckpt_dir=ckpt_dir, resume=resume, progress=progress,
                              threads=threads, steps=steps, max_seconds=max_seconds, curve=curve)
        if not result.finished:
            print(f"{name}: stopped at step {result.steps} ({result.stop_reason}); resume with "
                  f"`zsc zoo train {name} --resume`", file=sys.stderr)
            return None
        print(f"{name}: trained {result.steps} steps in {result.seconds:.0f} s "
              f"({result.stop_reason})", file=sys.stderr)
    return release_member(name, out_dir, result=result, evaluate=evaluate, progress=progress,
                          threads=threads, command=command)


__all__ = ["HELDOUT_N", "HELDOUT_SEED", "already_released", "check_tolerance", "ckpt_root",
           "evaluate_knn", "heldout_knn", "recheck_card", "release_member", "result_from_checkpoint", "run_member", "save_backbone", "split_indices", "train_member",
           "models"]
