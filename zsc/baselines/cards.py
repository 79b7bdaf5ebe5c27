"""Cards of the baselines that ship no weights (KingdraCluster trains on the images it clusters):
what a run costs and scores, measured by running it through `run_baseline` (so this module sits
above the package, which never imports it)."""

from __future__ import annotations

import dataclasses
from typing import Any

CARD_RUNS = (("fashion_mnist", 1000), ("digits", 901), ("fashion_mnist", 10000))  # book sizes + one 10x

# torch's CPU kernels differ by vector width (AVX2, AVX-512), and KingdraCluster's training follows
# them: the same seed gives another result on another CPU. The card is made with the kernels every
# x86-64 machine here has, set before torch loads, so any machine can reproduce it.
CPU_CAPABILITY = "AVX2"
CAPABILITY_ENV = "ATEN_CPU_CAPABILITY"


def write_kingdra_card(folder: str, seeds: tuple[int, ...] = (0, 1, 2)) -> dict[str, Any]:
    """KingdraCluster's card (`kingdra.json`): its settings, what is simplified and why, and its
    scores and cost on Fashion-MNIST and digits (test-split subsamples, several seeds) — the
    budget a run takes on one thread. Nothing is shipped but the card: each run trains on the
    images it clusters."""
    import json
    import tempfile
    from pathlib import Path

    import torch

    from ..io import atomic_path
    from ..versions import versions
    from . import run_baseline
    from .kingdra import NAME, SOURCE, SPEC, KingdraConfig

    have = torch.backends.cpu.get_cpu_capability()
    if have != CPU_CAPABILITY:
        raise RuntimeError(f"the card is made with torch's {CPU_CAPABILITY} kernels, this process "
                           f"uses {have}: run it with {CAPABILITY_ENV}={CPU_CAPABILITY.lower()}")
    torch.set_num_threads(1)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, n in CARD_RUNS:
            for seed in seeds:
                row = run_baseline(NAME, dataset, n_samples=n, seed=seed, store=Path(tmp))
                runs.append({"dataset": dataset, "split": row["split"], "n_samples": n,
                             "seed": seed, **{m: round(float(row[m]), 4) for m in ("acc", "nmi", "ami", "ari")},
                             "train_seconds": row["train_seconds"],
                             "train_cpu_seconds": row["train_cpu_seconds"],
                             "images_seen": int(row["train_images_seen"]),
                             "pseudo_labelled": row["pseudo_labelled"],
                             "pseudo_label_precision": row["pseudo_label_precision"],
                             "weights_source": row["weights_source"]})
    card = {
        "name": NAME, "baseline": NAME,
        "paper": "Gupta, Ramjee, Kwatra, Sivathanu: Unsupervised Clustering using "
                 "Pseudo-semi-supervised Learning, ICLR 2020",
        "settings_source": SOURCE,
        "config": dataclasses.asdict(KingdraConfig()),
        "published_config": {"n_models": 10, "hidden": [1200, 1200], "network": "ladder (IM + "
                             "denoising)", "iterations": 50, "epochs_first": 5, "epochs": 5},
        "simplified": SPEC.simplified,
        "why": "the book builds on 2 CPU cores within minutes; the published schedule (50 "
               "iterations x 10 ladder networks x 5 epochs) is of the order of GPU-hours",
        "input": "flattened pixels in [0, 1] of the images it clusters (labels unused; they only "
                 "annotate the pseudo-labels' precision)",
        "threads": 1, "device": "cpu", "cpu_capability": have,
        "cost": "train_cpu_seconds is a run's cost; train_seconds is wall time, longer when the "
                "machine is shared with other work",
        "runs": runs,
        "published": [{"dataset": p.dataset, **p.metrics, "source": p.source} for p in SPEC.published],
        "command": f"{CAPABILITY_ENV}={CPU_CAPABILITY.lower()} python -c \"from zsc.baselines "
                   f"import cards; cards.write_kingdra_card('{folder}')\"",
        "versions": versions(),
    }
    path = Path(folder) / f"{NAME}.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    return card
