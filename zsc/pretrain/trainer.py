"""The zoo's training loop: seeded, resumable from a checkpoint, with a learning curve.

`train` runs one recipe (``methods.py``) on uint8 images. With `heldout` it records a learning
curve — weighted kNN@20 of a held-out part of the train split, with the training part as the
kNN memory (the test split is never used for stopping) — at step 0 and every
``recipe.eval_every`` epochs, keeps the best point's backbone and stops once the curve has not
improved by ``recipe.min_delta`` for ``recipe.patience`` points (or at ``recipe.epochs``).

With `ckpt_dir` the whole state (method and heads, optimiser, step, the epoch's permutation and
position in it, torch's RNG state, losses, curve, best backbone, time used) is written atomically
(temporary file, then rename) after every curve point and every `ckpt_every_s` seconds, and on
SIGTERM; `resume=True` continues from it exactly (same batches, same random draws), so a session
or machine may end mid-way. Training runs on the CPU with `threads` torch threads (default one).
"""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..encoders.zoo import models
from .augment import normalize, to_unit
from .methods import METHOD_CLASSES
from .recipes import KNN_K, Recipe

__all__ = ["CHECKPOINT_NAME", "TrainResult", "curve_knn", "features", "load_checkpoint", "train"]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_VERSION = 1
CKPT_EVERY_S = 120.0


@dataclass
class TrainResult:
    recipe: Recipe
    backbone: nn.Module  # exported backbone (the best curve point's when there is a curve), eval
    initial_state: dict[str, torch.Tensor]  # of the exported backbone, before the first step
    seconds: float  # training wall time over all sessions (curve evaluations excluded)
    steps: int
    images_seen: int
    losses: list[float]
    curve: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None  # the curve point whose backbone is exported
    finished: bool = True  # False: stopped early by a time limit or signal; resume later
    stop_reason: str = "steps"  # plateau | max_epochs | steps | time_limit | signal
    eval_seconds: float = 0.0  # learning-curve evaluations over all sessions
    sessions: list[dict[str, Any]] = field(default_factory=list)
    cooldown: dict[str, Any] | None = None  # {"start", "end", "lr"}: where the curve went flat
    cpu_seconds: float = 0.0  # CPU time of those training steps (all threads), over all sessions


def _lr_at(step: int, total: int, recipe: Recipe) -> float:
    warm = max(1, round(recipe.warmup_fraction * total))
    if step < warm:
        return recipe.lr * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return recipe.lr * 0.5 * (1 + math.cos(math.pi * t))


def _param_groups(module: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """No weight decay on biases, norms, tokens and position embeddings (1-d or token params)."""
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim <= 1 or name.endswith(("cls_token", "pos_embed", "mask_token")):
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def features(model: nn.Module, images: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Pooled features of uint8 (N, 28, 28) images: the zoo's preprocessing for 28 px input (what
    zsc.embed does per image, batched; tests check they agree)."""
    x = normalize(to_unit(images))
    with torch.inference_mode():
        return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)]).numpy()


def curve_knn(model: nn.Module, memory: tuple[np.ndarray, np.ndarray],
              query: tuple[np.ndarray, np.ndarray], k: int = KNN_K) -> float:
    """Weighted kNN@k accuracy (zsc.metrics.knn_accuracy) of `query` against `memory`."""
    from ..metrics import knn_accuracy

    was_training = model.training
    model.eval()
    try:
        mem, q = features(model, memory[0]), features(model, query[0])
    finally:
        model.train(was_training)
    return float(knn_accuracy(mem, memory[1], q, query[1], ks=(k,), device="cpu")[k])


def _recipe_key(recipe: Recipe) -> str:
    """What a checkpoint must match to be resumed. The cool-down length is left out: it only
    acts after the curve has flattened, so a run checkpointed before that is the same run (and a
    finished run that stopped flat without a cool-down can be given one)."""
    fields = recipe.card_fields()
    fields.pop("cooldown_epochs", None)
    return json.dumps(fields, sort_keys=True, default=list)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A training checkpoint, unpickled safely: tensors, containers and primitives only (and
    torch's version string, which checkpoints of earlier runs carry)."""
    from torch.torch_version import TorchVersion

    with torch.serialization.safe_globals([TorchVersion]):
        return torch.load(path, map_location="cpu", weights_only=True)


def _save_atomic(state: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    torch.save(state, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class _Stop:
    """SIGTERM/SIGINT -> stop at the next step boundary, checkpoint, then re-raise the signal
    (SIGTERM ends the process as usual, SIGINT raises KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None:  # a second signal: give up at once
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        if self.signal is not None and exc[0] is None:
            # the checkpoint is written: now let the signal do what it would have done
            signal.raise_signal(self.signal)


def init_backbone(recipe: Recipe) -> nn.Module:
    """The shipped backbone of `recipe.init_from`, in training mode (its weights must exist: a
    fine-tuned member is trained after the member it starts from is released)."""
    from ..encoders.zoo import load_backbone, weights_path

    return load_backbone(recipe.kind, weights_path(str(recipe.init_from)), who=recipe.init_from or "").train()


def train(recipe: Recipe, images: np.ndarray, labels: np.ndarray | None = None, *,
          heldout: tuple[np.ndarray, np.ndarray] | None = None, steps: int | None = None,
          ckpt_dir: str | os.PathLike[str] | None = None, resume: bool = False,
          progress: bool = True, threads: int | None = 1, max_seconds: float | None = None,
          stop_at_step: int | None = None, ckpt_every_s: float = CKPT_EVERY_S,
          log: Callable[[str], None] | None = None) -> TrainResult:
    """Train `recipe` on uint8 images (N, 28, 28); seeded, leaves the global RNG untouched.

    `heldout` (images, labels): the learning curve's kNN queries, with (`images`, `labels`) as
    the memory. `steps` overrides the recipe's length (smoke runs, tests). `max_seconds` (this
    session's training time) and `stop_at_step` stop early with a checkpoint, unfinished.
    `threads` sets torch's intra-op threads for the run (None: leave them)."""
    from tqdm.auto import tqdm

    if not recipe.trainable:
        raise ValueError(f"{recipe.name} is a random-init member; there is nothing to train")
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    ckpt = Path(ckpt_dir) / CHECKPOINT_NAME if ckpt_dir is not None else None
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with torch.random.fork_rng(devices=[]), _Stop() as stop:
            torch.manual_seed(recipe.seed)
            backbone = models.build_backbone(recipe.kind)
            if recipe.init_from:  # fine-tuning: start from that member's shipped backbone
                backbone = init_backbone(recipe)
            method = METHOD_CLASSES[recipe.method](backbone, models.BACKBONE_DIMS[recipe.kind], recipe)
            initial = {k: v.detach().clone() for k, v in method.export().state_dict().items()}
            if recipe.kind == "resnet":  # conv nets run ~20 % faster channels-last on the CPU
                method.to(memory_format=torch.channels_last)
            n = len(images)
            per_epoch = n // recipe.batch_size if n >= recipe.batch_size else 1
            total = steps if steps is not None else max(1, round(recipe.epochs * per_epoch))
            eval_interval = max(1, round(recipe.eval_every * per_epoch))
            opt = torch.optim.AdamW(_param_groups(method, recipe.weight_decay), lr=recipe.lr,
                                    betas=recipe.betas)
            y_all = torch.from_numpy(np.array(labels if labels is not None else np.zeros(n), dtype=np.int64))
            x_all = torch.from_numpy(np.array(images, dtype=np.uint8))
            memory = (np.asarray(images), np.asarray(labels)) if heldout is not None else None

            st: dict[str, Any] = {
                "step": 0, "epoch": 0, "pos": 0, "order": None, "seen": 0, "seconds": 0.0, "cpu_seconds": 0.0,
                "eval_seconds": 0.0, "losses": [], "curve": [], "best": None, "ref": -math.inf,
                "since": 0, "done": False, "stop_reason": None, "sessions": [],
                "cooldown": None,  # {"start", "end", "lr"} once the curve has flattened
            }
            if resume and ckpt is not None and ckpt.exists():
                saved = load_checkpoint(ckpt)
                if saved.get("recipe_key") != _recipe_key(recipe) or saved.get("total") != total:
                    raise ValueError(
                        f"{recipe.name}: the checkpoint {ckpt} was made with another recipe or "
                        "length; train without --resume to start over")
                method.load_state_dict(saved["method"])
                opt.load_state_dict(saved["opt"])
                torch.set_rng_state(saved["rng"])
                st.update({k: saved[k] for k in st if k in saved})
                say(f"{recipe.name}: resumed at step {st['step']}/{total} (epoch {st['epoch']}, "
                    f"{st['seconds']:.0f} s trained)")
            session = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "start_step": st["step"], "seconds": 0.0, "device": "cpu",
                       "threads": torch.get_num_threads(), "host_cpu": platform.processor() or
                       platform.machine(), "torch": str(torch.__version__)}
            cooldown_steps = max(1, round(recipe.cooldown_epochs * per_epoch))

            def start_cooldown() -> None:
                """The curve has flattened: decay the learning rate linearly to 0 over the next
                `cooldown_epochs`, then stop (a cosine schedule cut short stops at a high rate)."""
                st["cooldown"] = {"start": st["step"], "end": st["step"] + cooldown_steps,
                                  "lr": _lr_at(st["step"], total, recipe)}
                say(f"{recipe.name}: curve flat at step {st['step']}: cool-down to step "
                    f"{st['cooldown']['end']}")

            if (st["done"] and st["stop_reason"] == "plateau" and st["cooldown"] is None
                    and recipe.cooldown_epochs > 0 and st["step"] < total):
                st["done"], st["stop_reason"] = False, None
                start_cooldown()
            if not st["done"]:
                st["sessions"].append(session)

            def snapshot() -> dict[str, Any]:
                return {"version": CHECKPOINT_VERSION, "name": recipe.name,
                        "recipe_key": _recipe_key(recipe), "total": total,
                        "method": method.state_dict(), "opt": opt.state_dict(),
                        "rng": torch.get_rng_state(), **st}

            def checkpoint() -> None:
                if ckpt is not None:
                    _save_atomic(snapshot(), ckpt)

            def exported_state() -> dict[str, torch.Tensor]:
                return {k: v.detach().clone().contiguous()
                        for k, v in method.export().state_dict().items()}

            def evaluate() -> None:
                t = time.perf_counter()
                acc = curve_knn(method.export(), memory, heldout)
                dt = time.perf_counter() - t
                st["eval_seconds"] += dt
                point = {"epoch": round(st["step"] / per_epoch, 3), "step": st["step"],
                         "images_seen": st["seen"], f"knn_k{KNN_K}": round(acc, 4),
                         "train_seconds": round(st["seconds"], 1),
                         "loss": round(float(np.mean(st["losses"][-50:])), 5) if st["losses"] else None}
                st["curve"].append(point)
                if st["step"] == 0:  # improvements are measured from the initial backbone's point
                    st["ref"] = acc
                else:
                    if st["best"] is None or acc > st["best"]["value"]:
                        st["best"] = {"value": acc, "point": point, "state": exported_state()}
                    if acc >= st["ref"] + recipe.min_delta:
                        st["ref"], st["since"] = acc, 0
                    else:
                        st["since"] += 1
                say(f"{recipe.name}: epoch {point['epoch']:g} step {st['step']}/{total} "
                    f"loss {point['loss']} heldout kNN@{KNN_K} {acc:.4f} "
                    f"(best {st['best']['value'] if st['best'] else float('nan'):.4f}, "
                    f"{st['since']} without +{recipe.min_delta}) train {st['seconds']:.0f} s, "
                    f"eval {dt:.0f} s")

            if heldout is not None and not st["curve"]:
                evaluate()
                checkpoint()
            method.train()
            bar = tqdm(total=total, initial=st["step"], desc=recipe.name, unit="step",
                       disable=not progress, dynamic_ncols=True)
            t_session = time.perf_counter()
            t_last_ckpt = time.perf_counter()
            def end() -> int:
                return min(total, st["cooldown"]["end"]) if st["cooldown"] else total

            def lr_now() -> float:
                cd = st["cooldown"]
                if cd is None:
                    return _lr_at(st["step"], total, recipe)
                return cd["lr"] * max(0.0, 1 - (st["step"] - cd["start"]) / (cd["end"] - cd["start"]))

            while not st["done"] and st["step"] < end():
                reason = ("signal" if stop.signal is not None else
                          "stop_at_step" if stop_at_step is not None and st["step"] >= stop_at_step
                          else "time_limit" if max_seconds is not None
                          and time.perf_counter() - t_session >= max_seconds else None)
                if reason:
                    st["stop_reason"] = reason
                    break
                if st["order"] is None:
                    st["order"] = torch.randperm(n)
                t0, c0 = time.perf_counter(), time.process_time()
                s = st["pos"]
                idx = st["order"][s * recipe.batch_size:(s + 1) * recipe.batch_size]
                for g in opt.param_groups:
                    g["lr"] = lr_now()
                loss = method.loss(to_unit(x_all[idx]), y_all[idx], st["step"] / max(1, total),
                                   st["epoch"])
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"{recipe.name}: loss became {loss.item()} at step {st['step']}")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if recipe.option("clip_grad", None):
                    nn.utils.clip_grad_norm_(method.parameters(), recipe.option("clip_grad", None))
                method.before_step(st["epoch"])
                opt.step()
                method.after_step((st["step"] + 1) / total)
                st["losses"].append(float(loss.detach()))
                st["step"] += 1
                st["seen"] += len(idx)
                st["pos"] += 1
                if st["pos"] >= per_epoch:
                    st["epoch"] += 1
                    st["pos"], st["order"] = 0, None
                dt = time.perf_counter() - t0
                st["seconds"] += dt
                st["cpu_seconds"] += time.process_time() - c0
                session["seconds"] += dt
                bar.update(1)
                if st["step"] % 10 == 0 or st["step"] == total:
                    bar.set_postfix(loss=f"{np.mean(st['losses'][-10:]):.4f}", epoch=st["epoch"])
                if heldout is not None and (st["step"] % eval_interval == 0 or st["step"] == end()):
                    method.eval()
                    evaluate()
                    method.train()
                    if st["cooldown"] is not None and st["step"] >= st["cooldown"]["end"]:
                        st["done"], st["stop_reason"] = True, "plateau"
                    elif st["since"] >= recipe.patience and st["cooldown"] is None:
                        if recipe.cooldown_epochs > 0:
                            start_cooldown()
                        else:
                            st["done"], st["stop_reason"] = True, "plateau"
                    checkpoint()
                    t_last_ckpt = time.perf_counter()
                elif time.perf_counter() - t_last_ckpt >= ckpt_every_s:
                    checkpoint()
                    t_last_ckpt = time.perf_counter()
            bar.close()
            if st["step"] >= total and not st["done"]:
                st["done"] = True
                st["stop_reason"] = "steps" if steps is not None else "max_epochs"
            if session in st["sessions"]:  # this call trained (a finished checkpoint is left alone)
                checkpoint()
            if st["best"] is not None and st["done"]:
                backbone_out = models.build_backbone(recipe.kind)
                backbone_out.load_state_dict(st["best"]["state"])
            else:
                backbone_out = method.export()
            exported = backbone_out.to(memory_format=torch.contiguous_format).eval()
    finally:
        torch.set_num_threads(old_threads)
    best = ({"value": round(st["best"]["value"], 4), **st["best"]["point"]}
            if st["best"] is not None else None)
    return TrainResult(recipe, exported, initial, st["seconds"], st["step"], st["seen"],
                       list(st["losses"]), list(st["curve"]), best, bool(st["done"]),
                       st["stop_reason"] or "steps", st["eval_seconds"], list(st["sessions"]),
                       st["cooldown"], st["cpu_seconds"])
