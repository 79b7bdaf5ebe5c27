"""Model cards of the offline zoo: one JSON per member next to its weights, and a README table
generated from them (never edited by hand)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..base import EncoderSpec
    from .recipes import Recipe
    from .train import TrainResult

README_NAME = "README.md"


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    import timm
    import torch

    from ... import __version__

    out = {"zsc": __version__, "torch": torch.__version__, "timm": timm.__version__}
    try:
        import lightly

        out["lightly"] = lightly.__version__
    except ImportError:  # random members need no lightly
        pass
    return out


def make_card(spec: EncoderSpec, recipe: Recipe, result: TrainResult | None,
              weights_path: Path | None, knn: dict[int, float] | None, eval_seconds: float | None,
              command: str, threads: int) -> dict[str, Any]:
    """Everything needed to know what a member is, how it was made and how good it is."""
    from . import models
    from .recipes import KNN_K

    backbone = spec.build(str(weights_path) if weights_path else None)
    sha = sha256_file(weights_path) if weights_path else None
    n_images = recipe.n_images or 60_000
    card: dict[str, Any] = {
        "name": spec.name,
        "tier": spec.tier,
        "family": spec.family,
        "method": spec.method,
        "backbone": models.BACKBONE_DESCRIPTIONS[recipe.kind],
        "dim": spec.dim,
        "n_parameters": models.n_parameters(backbone),
        "preprocessing": spec.preprocessing.key(),
        "pretraining_data": "fashion_mnist/train" if recipe.trainable else None,
        "n_train_images": n_images if recipe.trainable else 0,
        "epochs": recipe.epochs if result is None or not recipe.trainable else
        round(result.images_seen / n_images, 3),
        "steps": result.steps if result else 0,
        "batch_size": recipe.batch_size if recipe.trainable else None,
        "images_seen": result.images_seen if result else 0,
        "train_seconds": round(result.seconds, 1) if result else 0.0,
        "final_loss": round(sum(result.losses[-20:]) / len(result.losses[-20:]), 5)
        if result and result.losses else None,
        f"knn_accuracy_k{KNN_K}": round(knn[KNN_K], 4) if knn else None,
        "knn_accuracy": {str(k): round(v, 4) for k, v in knn.items()} if knn else None,
        "knn_protocol": "weighted kNN (cosine, T=0.07) of zsc.metrics.knn_accuracy; "
                        "train = fashion_mnist train (60,000), test = fashion_mnist test (10,000)",
        "eval_seconds": round(eval_seconds, 1) if eval_seconds is not None else None,
        "seed": recipe.seed,
        "threads": threads,
        "device": "cpu",
        "command": command,
        "weights_file": weights_path.name if weights_path else None,
        "weights_sha256": sha,
        "weights_id": f"zoo:{spec.name}:{sha[:16]}" if sha else spec.weights_id,
        "exported": ("teacher backbone (EMA)" if recipe.method == "dino" else
                     "online backbone" if recipe.trainable else "seeded random init"),
        "recipe": recipe.card_fields() if recipe.trainable else {"seed": recipe.seed},
        "versions": _versions(),
    }
    return card


def write_card(card: dict[str, Any], folder: str | os.PathLike[str]) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{card['name']}.json"
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    tmp.replace(path)
    return path


def read_cards(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Cards in the zoo's member order (unknown extra cards last, by name)."""
    from .recipes import RECIPES

    cards = {}
    for p in sorted(Path(folder).glob("*.json")):
        card = json.loads(p.read_text())
        if isinstance(card, dict) and "name" in card:
            cards[card["name"]] = card
    order = [n for n in RECIPES if n in cards] + sorted(n for n in cards if n not in RECIPES)
    return [cards[n] for n in order]


def _fmt(v: Any, spec: str = "") -> str:
    if v is None:
        return "–"
    return format(v, spec) if spec else str(v)


def readme_table(cards: list[dict[str, Any]]) -> str:
    head = ("| member | family | method | params | epochs | images seen | train time (s) "
            "| kNN acc. k=20 | weights sha256[:16] |\n"
            "|---|---|---|---:|---:|---:|---:|---:|---|\n")
    rows = []
    for c in cards:
        sha = c.get("weights_sha256")
        rows.append(
            f"| `{c['name']}` | {c['family']} | {c['method']} | {_fmt(c.get('n_parameters'), ',')} "
            f"| {_fmt(c.get('epochs'))} | {_fmt(c.get('images_seen'), ',')} "
            f"| {_fmt(c.get('train_seconds'), '.0f')} | {_fmt(c.get('knn_accuracy_k20'), '.4f')} "
            f"| {sha[:16] if sha else '(random init, no file)'} |"
        )
    return head + "\n".join(rows) + "\n"


def readme_text(cards: list[dict[str, Any]]) -> str:
    return (
        "# Offline zoo (tier 2 encoders)\n\n"
        "Small ResNets and ViTs pretrained on the Fashion-MNIST train split (60,000 28x28 grayscale\n"
        "images) with the paper's training methods, a laptop-scale analog of its ImageNet zoo.\n"
        "Each `<member>.safetensors` holds the backbone only (no heads); each `<member>.json` is its\n"
        "model card (recipe, seed, wall time, kNN accuracy and the exact command that made it).\n"
        "Training ran on the CPU with one torch thread; kNN accuracy is zsc's weighted kNN (k=20,\n"
        "cosine, T=0.07) with the train split's embeddings voting for the test split's.\n\n"
        "This file is generated from the cards by `zsc.encoders.zoo.cards.write_readme`; do not\n"
        "edit it by hand. Retrain a member with `zsc zoo train NAME` or\n"
        "`python -m zsc.encoders.zoo.train NAME`.\n\n"
        + readme_table(cards)
    )


def write_readme(folder: str | os.PathLike[str]) -> Path:
    path = Path(folder) / README_NAME
    path.write_text(readme_text(read_cards(folder)))
    return path
