"""N2D, "(Not Too) Deep Clustering" (McConville, Santos-Rodriguez, Piechocki, Craddock; ICPR
2020): an autoencoder trained on the dataset itself, UMAP of its embedding, a Gaussian mixture.

Settings are the authors' code's, github.com/rymc/n2d @ 6c35936 (n2d.py, run.sh, datasets.py):

* data: every image of the dataset, train and test concatenated (datasets.py `load_fashion`),
  flattened and divided by 255;
* autoencoder: dense [d, 500, 500, 2000, n_clusters] (n2d.py `shape`), ReLU on the hidden
  layers, linear embedding and output (`autoencoder`), Keras `Dense` defaults (Glorot-uniform
  weights, zero biases); MSE, Adam with Keras's defaults (lr 0.001, epsilon 1e-7), batch 256,
  shuffled each epoch, 1000 pretraining epochs (`--pretrain_epochs`; their weights file is
  `fashion-1000-ae_weights.h5`);
* manifold: UMAP to as many dimensions as clusters (run.sh `--umap_dim=10`), 20 neighbours
  (`--umap_neighbors=20`), min_dist 0.00, euclidean (`--umap_metric` default), random_state 0;
* clusterer: `GaussianMixture(covariance_type='full', n_components=n_clusters,
  random_state=0)`, each point to its most probable component.

Training is resumable: every epoch the whole state is checkpointed atomically, and since the
learning rate is constant, the first E epochs of a longer run are exactly a run of E epochs
(the checkpoint is keyed without the epoch count). Encoder snapshots at `CURVE_EPOCHS` give the
learning curve (ACC / NMI against epochs) that the weights' card records.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import config
from ..data import get_dataset, load_dataset
from ..errors import WeightsUnavailableError, ZscError
from ..io import atomic_path, config_hash
from . import weights as wts
from .common import BaselineSpec, Fit, Problem, Published, one_thread, pixels

NAME = "n2d"
SOURCE = "github.com/rymc/n2d @ 6c35936 (n2d.py, run.sh, datasets.py)"
PUBLISHED_EPOCHS = 1000
CURVE_EPOCHS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
AE_SEED = 0  # the published code seeds everything with 0; the run's seed moves UMAP and the GMM


@dataclasses.dataclass(frozen=True)
class N2DConfig:
    """The published settings (module docstring); `epochs` is what a run trained for."""

    hidden: tuple[int, ...] = (500, 500, 2000)
    epochs: int = PUBLISHED_EPOCHS
    batch_size: int = 256
    lr: float = 1e-3
    adam_eps: float = 1e-7
    ae_seed: int = AE_SEED
    umap_neighbors: int = 20
    umap_min_dist: float = 0.0
    umap_metric: str = "euclidean"
    covariance_type: str = "full"

    def dims(self, n_features: int, n_clusters: int) -> list[int]:
        return [int(n_features), *self.hidden, int(n_clusters)]

    def training(self, dataset: str, n_features: int, n_clusters: int, n_train: int,
                 *, with_epochs: bool = True) -> dict[str, Any]:
        """What decides the trained weights (their key); without the epochs: the checkpoint's."""
        out = {"baseline": NAME, "dataset": dataset, "data": training_splits(dataset),
               "n_train": int(n_train), "dims": self.dims(n_features, n_clusters),
               "activation": "relu", "init": "glorot_uniform", "loss": "mse",
               "optimizer": {"name": "adam", "lr": self.lr, "eps": self.adam_eps},
               "batch_size": self.batch_size, "seed": self.ae_seed}
        return {**out, "epochs": int(self.epochs)} if with_epochs else out


# --------------------------------------------------------------------------- data
def training_splits(dataset: str) -> list[str]:
    """The splits N2D trains on: all of the dataset, as the published code (train + test), or
    the dataset's own 'all' split where it has one (scikit-learn's digits)."""
    splits = get_dataset(dataset).splits
    return ["all"] if "all" in splits else sorted(splits, key=lambda s: (s != "train", s != "test", s))


def _training_parts(dataset: str) -> list[Any]:
    return [load_dataset(dataset, s) for s in dict.fromkeys(training_splits(dataset))]


def training_data(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """(pixels, labels) of every image N2D trains on; the labels only score the curve."""
    parts = _training_parts(dataset)
    x = np.concatenate([pixels(p.images, dataset) for p in parts])
    return x, np.concatenate([p.labels for p in parts])


# --------------------------------------------------------------------------- model
def _mlp(dims: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        lin = nn.Linear(a, b)
        nn.init.xavier_uniform_(lin.weight)  # Keras Dense: glorot_uniform, zero bias
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class AutoEncoder(nn.Module):
    """The published dense autoencoder: encoder to the embedding, mirrored decoder."""

    def __init__(self, dims: Sequence[int]) -> None:
        super().__init__()
        self.encoder = _mlp(dims)
        self.decoder = _mlp(list(dims)[::-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def build_encoder(state: dict[str, torch.Tensor]) -> nn.Sequential:
    """The encoder of a saved state dict (its layer sizes read from the weights)."""
    n = len([k for k in state if k.endswith(".weight")])
    shapes = [state[f"{2 * i}.weight"].shape for i in range(n)]
    enc = _mlp([int(shapes[0][1]), *(int(s[0]) for s in shapes)])
    enc.load_state_dict(state)
    return enc.eval()


@torch.inference_mode()
def encode(encoder: nn.Module, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    out = [encoder(torch.from_numpy(x[s:s + batch_size])).numpy()
           for s in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float32)


# --------------------------------------------------------------------------- clustering
def cluster_embedding(h: np.ndarray, n_clusters: int, cfg: N2DConfig, seed: int) -> np.ndarray:
    """UMAP of the autoencoded embedding to `n_clusters` dims, then the full-covariance GMM."""
    from sklearn.mixture import GaussianMixture

    from ..reduce import reduce

    u = reduce(h, umap_config(cfg, n_clusters, seed)).astype(np.float64)
    gmm = GaussianMixture(n_components=int(n_clusters), covariance_type=cfg.covariance_type,
                          random_state=seed)
    return gmm.fit(u).predict_proba(u).argmax(axis=1)


# --------------------------------------------------------------------------- training
def ckpt_root() -> Path:
    """Training checkpoints ($ZSC_BASELINE_CKPT_DIR, else <cache>/baselines-ckpt)."""
    env = os.environ.get("ZSC_BASELINE_CKPT_DIR")
    return Path(env).expanduser() if env else config.cache_dir() / "baselines-ckpt"


@dataclasses.dataclass
class TrainState:
    """Where a training run is: its folder, epochs done, time used, the per-epoch losses."""

    folder: Path
    epoch: int = 0
    images_seen: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    losses: list[float] = dataclasses.field(default_factory=list)
    sessions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    stop_reason: str = ""

    def snapshot(self, epoch: int) -> Path:
        return self.folder / f"encoder-e{epoch:04d}.safetensors"

    def snapshots(self) -> dict[int, Path]:
        return {int(p.stem.split("-e")[1]): p for p in sorted(self.folder.glob("encoder-e*.safetensors"))}


def run_folder(dataset: str, cfg: N2DConfig, n_features: int, n_clusters: int, n_train: int,
               root: Path | None = None) -> Path:
    ident = cfg.training(dataset, n_features, n_clusters, n_train, with_epochs=False)
    return (root or ckpt_root()) / NAME / dataset / config_hash(ident)


def train(dataset: str, cfg: N2DConfig = N2DConfig(), *, max_minutes: float | None = None,
          max_cpu_minutes: float | None = None, curve_epochs: Sequence[int] = CURVE_EPOCHS,
          ckpt_dir: Path | None = None, checkpoint_seconds: float = 30.0,
          log: Callable[[str], None] = print) -> TrainState:
    """Pretrain the autoencoder on all of `dataset` to `cfg.epochs`, resuming its checkpoint.

    The checkpoint is written after every epoch that ends `checkpoint_seconds` or more after
    the last one (every epoch of Fashion-MNIST's; every few of the 1,797 digits', whose 31 MB
    state would otherwise be written twice a second), at curve epochs and at the end. Stops
    early (checkpointed, resumable) before an epoch that would take the run past
    `max_cpu_minutes` of CPU time in all (its sessions together) or this session past
    `max_minutes` of wall time; `stop_reason` says which."""
    x, y = training_data(dataset)
    k = len(np.unique(y))
    folder = run_folder(dataset, cfg, x.shape[1], k, len(x), ckpt_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(
        cfg.training(dataset, x.shape[1], k, len(x), with_epochs=False), indent=2) + "\n")
    ckpt = folder / "checkpoint.pt"
    torch.manual_seed(cfg.ae_seed)
    model = AutoEncoder(cfg.dims(x.shape[1], k))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
    st = TrainState(folder)
    if ckpt.exists():
        saved = torch.load(ckpt, weights_only=True)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optim"])
        for f in ("epoch", "images_seen", "seconds", "cpu_seconds", "losses", "sessions"):
            setattr(st, f, saved[f])
        log(f"[n2d] resumed {dataset} at epoch {st.epoch} ({folder})")
    session = {"start_epoch": st.epoch, "threads": torch.get_num_threads(),
               "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    xt = torch.from_numpy(x)
    t_wall = saved = time.perf_counter()
    last = st.cpu_seconds / st.epoch if st.epoch else 0.0  # the next epoch's cost, as so far
    wall_last = st.seconds / st.epoch if st.epoch else 0.0

    def checkpoint() -> None:
        with atomic_path(ckpt) as tmp:
            torch.save({"model": model.state_dict(), "optim": opt.state_dict(),
                        **{f: getattr(st, f) for f in ("epoch", "images_seen", "seconds",
                                                       "cpu_seconds", "losses")},
                        "sessions": [*st.sessions, {**session, "end_epoch": st.epoch}]}, tmp)

    while st.epoch < cfg.epochs:
        if max_cpu_minutes is not None and st.cpu_seconds + last > max_cpu_minutes * 60:
            st.stop_reason = f"cpu budget ({max_cpu_minutes:g} min)"
            break
        if max_minutes is not None and time.perf_counter() - t_wall + wall_last > max_minutes * 60:
            st.stop_reason = f"wall budget ({max_minutes:g} min this session)"
            break
        e0, c0 = time.perf_counter(), time.process_time()
        gen = torch.Generator().manual_seed(cfg.ae_seed * 100_003 + st.epoch)
        perm = torch.randperm(len(xt), generator=gen)
        model.train()
        total = 0.0
        for s in range(0, len(xt), cfg.batch_size):
            xb = xt[perm[s:s + cfg.batch_size]]
            loss = nn.functional.mse_loss(model(xb), xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(xb)
        st.epoch += 1
        st.images_seen += len(xt)
        st.losses.append(round(total / len(xt), 6))
        st.seconds += time.perf_counter() - e0
        last = time.process_time() - c0
        wall_last = time.perf_counter() - e0
        st.cpu_seconds += last
        marked = st.epoch in curve_epochs or st.epoch == cfg.epochs
        if marked:
            wts.save(st.snapshot(st.epoch), model.encoder.state_dict(),
                     {"epoch": st.epoch, "images_seen": st.images_seen})
        if marked or time.perf_counter() - saved >= checkpoint_seconds:
            checkpoint()
            saved = time.perf_counter()
        log(f"[n2d] {dataset} epoch {st.epoch}/{cfg.epochs} loss {st.losses[-1]:.5f} "
            f"({time.perf_counter() - e0:.1f} s wall, {last:.1f} s cpu; {st.cpu_seconds / 60:.1f} cpu-min in all)")
    if st.epoch > session["start_epoch"]:
        checkpoint()  # the epochs since the last checkpoint
        st.sessions.append({**session, "end_epoch": st.epoch})
    st.stop_reason = st.stop_reason or "epochs"
    if st.epoch and not st.snapshot(st.epoch).exists():  # the point a release exports
        wts.save(st.snapshot(st.epoch), model.encoder.state_dict(),
                 {"epoch": st.epoch, "images_seen": st.images_seen})
    return st


# --------------------------------------------------------------------------- weights, runs, card
@functools.lru_cache(maxsize=8)
def training_shape(dataset: str) -> tuple[int, int, int]:
    """(images, features, classes) of N2D's training data, read once per process and counted
    without converting it (`pixels` of one image checks that the images are one array)."""
    parts = _training_parts(dataset)
    features = pixels(parts[0].images[:1], dataset).shape[1]
    labels = np.concatenate([p.labels for p in parts])
    return len(labels), int(features), len(np.unique(labels))


def config_for(dataset: str, epochs: int | None = None) -> N2DConfig:
    """The published settings at `epochs`; by default at the shipped weights' epochs for this
    dataset (the book's), else the published 1000."""
    if epochs is None:
        card = wts.shipped_card(NAME, dataset)
        epochs = int(card["epochs"]) if card else PUBLISHED_EPOCHS
    return N2DConfig(epochs=int(epochs))


def training_of(dataset: str, cfg: N2DConfig) -> dict[str, Any]:
    n, d, k = training_shape(dataset)
    return cfg.training(dataset, d, k, n)


def umap_config(cfg: N2DConfig, n_clusters: int, seed: int) -> Any:
    from ..reduce import ReducerConfig

    return ReducerConfig("umap", int(n_clusters), n_neighbors=cfg.umap_neighbors,
                         min_dist=cfg.umap_min_dist, metric=cfg.umap_metric, seed=seed)


def export(dataset: str, cfg: N2DConfig, st: TrainState, folder: Path | None = None) -> Path:
    """The encoder at the run's last epoch, as the weights of `cfg` at that many epochs (the
    cache, or `folder` under the shipped name), with what its training cost as metadata."""
    training = training_of(dataset, dataclasses.replace(cfg, epochs=st.epoch))
    key = wts.weights_key(training)
    state, _ = wts.load(st.snapshot(st.epoch))
    meta = {"training": training, "weights_key": key, "epoch": st.epoch,
            "images_seen": st.images_seen, "train_seconds": round(st.seconds, 1),
            "train_cpu_seconds": round(st.cpu_seconds, 1),
            "threads": sorted({s["threads"] for s in st.sessions}), "stop_reason": st.stop_reason}
    path = wts.shipped_paths(NAME, dataset, folder)[0] if folder else wts.cache_path(NAME, dataset, key)
    return wts.save(path, state, meta)


def unavailable(dataset: str) -> str | None:
    """Why N2D cannot cluster `dataset` here without pretraining (None: it can): no weights,
    shipped or cached, for its default configuration (`config_for`), or images it cannot use."""
    try:
        cfg = config_for(dataset)
        key = wts.weights_key(training_of(dataset, cfg))
    except ZscError as err:
        return str(err).split(". ")[0]
    if wts.find(NAME, dataset, key) is not None:
        return None
    return (f"no pretrained N2D autoencoder for {dataset} at {cfg.epochs} epochs (shipped ones: "
            f"{', '.join(shipped_datasets()) or 'none'}); `zsc baseline train n2d {dataset}` "
            "pretrains one")


def shipped_datasets() -> list[str]:
    return sorted(p.stem[len(NAME) + 1:] for p in wts.SHIPPED_DIR.glob(f"{NAME}_*.json"))


def fit_problem(problem: Problem) -> Fit:
    """Encode the images with the dataset's pretrained autoencoder (shipped, cached, or trained
    now when `problem.train`), then UMAP and the Gaussian mixture, seeded by the run's seed."""
    cfg = config_for(problem.dataset, problem.options.get("epochs"))
    training = training_of(problem.dataset, cfg)
    key = wts.weights_key(training)
    t0 = time.perf_counter()
    path = wts.find(NAME, problem.dataset, key)
    source = "shipped" if path is not None and path.parent == wts.SHIPPED_DIR else "cache"
    if path is None:
        if not problem.train:
            raise WeightsUnavailableError(
                f"no pretrained N2D autoencoder for {problem.dataset} at {cfg.epochs} epochs here "
                f"(shipped or cached); `zsc baseline train n2d {problem.dataset} --epochs "
                f"{cfg.epochs}` pretrains it on all {training['n_train']:,} images (resumable), "
                "or give --train to train it within this run")
        with one_thread():
            st = train(problem.dataset, cfg, log=lambda s: None)
        path, source = export(problem.dataset, cfg, st), "trained"
    time_train = time.perf_counter() - t0 if source == "trained" else 0.0
    state, meta = wts.load(path)
    t1 = time.perf_counter()
    h = encode(build_encoder(state), problem.x)
    labels = cluster_embedding(h, problem.n_clusters, cfg, problem.seed)
    red = umap_config(cfg, problem.n_clusters, problem.seed)
    n = training["n_train"]
    return Fit(
        labels=labels,
        clusterer_params={"covariance_type": cfg.covariance_type, "n_components": problem.n_clusters,
                          "random_state": problem.seed, "autoencoder_key": key,
                          "autoencoder_epochs": cfg.epochs, "autoencoder_dims": training["dims"]},
        reducer=red.label, reducer_params=red.key(), embedding_dim=int(h.shape[1]),
        reduced_dim=int(problem.n_clusters), weights_key=key, weights_source=source,
        trained_on=f"all of {problem.dataset} ({'+'.join(training['data'])}, {n:,} images)",
        cost={"train_seconds": meta.get("train_seconds"), "train_cpu_seconds": meta.get("train_cpu_seconds"),
              "train_images_seen": meta.get("images_seen"), "train_epochs": meta.get("epoch"),
              "train_threads": ",".join(map(str, meta.get("threads", [])))},
        time_train=time_train, time_cluster=time.perf_counter() - t1)


def learning_curve(dataset: str, st: TrainState, cfg: N2DConfig, *, seed: int = 0,
                   log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """ACC / NMI / AMI / ARI of every encoder snapshot up to the run's epoch, each clustered as
    the published protocol does: all of the training images, UMAP, GMM (seed 0). Kept in the
    run's folder, so a point is computed once."""
    from .common import scores

    x, y = training_data(dataset)
    k = len(np.unique(y))
    path = st.folder / "curve.json"
    done = {p["epoch"]: p for p in json.loads(path.read_text())} if path.exists() else {}
    for epoch, snap in st.snapshots().items():
        if epoch > st.epoch or epoch in done:
            continue
        state, meta = wts.load(snap)
        t0, c0 = time.perf_counter(), time.process_time()
        pred = cluster_embedding(encode(build_encoder(state), x), k, cfg, seed)
        done[epoch] = {"epoch": epoch, "images_seen": meta["images_seen"], **scores(y, pred),
                       "eval_seconds": round(time.perf_counter() - t0, 1),
                       "eval_cpu_seconds": round(time.process_time() - c0, 1)}
        log(f"[n2d] curve {dataset} epoch {epoch}: {done[epoch]}")
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps([done[e] for e in sorted(done)], indent=1) + "\n")
    return [done[e] for e in sorted(done) if e <= st.epoch]


def seed_spread(dataset: str, st: TrainState, cfg: N2DConfig, seeds: Sequence[int] = (1, 2, 3, 4),
                log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """The final encoder clustered as the curve's points are, with other UMAP and GMM seeds:
    how much of a gap to a single published run the seed alone can make (kept in the run's
    folder, per epoch and seed)."""
    from .common import scores

    path = st.folder / "seeds.json"
    done = {(p["epoch"], p["seed"]): p for p in json.loads(path.read_text())} if path.exists() else {}
    todo = [s for s in seeds if (st.epoch, s) not in done]
    if todo:
        x, y = training_data(dataset)
        state, _ = wts.load(st.snapshot(st.epoch))
        h = encode(build_encoder(state), x)
        for seed in todo:
            pred = cluster_embedding(h, len(np.unique(y)), cfg, seed)
            done[(st.epoch, seed)] = {"epoch": st.epoch, "seed": seed, **scores(y, pred)}
            log(f"[n2d] {dataset} epoch {st.epoch}, seed {seed}: {done[(st.epoch, seed)]}")
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(list(done.values()), indent=1) + "\n")
    return [done[(st.epoch, s)] for s in seeds]


PUBLISHED = {"fashion_mnist": {"acc": 0.672, "nmi": 0.684}}  # N2D paper, Table (Fashion, 70k)
CHECK = {"split": "test", "n_samples": 1000, "seed": 0}  # the card's subsample check (the book's)


def subsample_check(dataset: str, weights: Path) -> dict[str, Any]:
    """The clustering of a profile-sized subsample with these weights (tests reproduce it)."""
    from ..data import subsample_indices
    from .common import scores

    state, _ = wts.load(weights)
    data = load_dataset(dataset, CHECK["split"] if CHECK["split"] in get_dataset(dataset).splits else None)
    n = min(CHECK["n_samples"], len(data.labels))
    idx = subsample_indices(data.labels, n, CHECK["seed"])
    k = len(np.unique(data.labels[idx]))
    pred = cluster_embedding(encode(build_encoder(state), pixels(data.images[idx], dataset)), k,
                             N2DConfig(), CHECK["seed"])
    return {**CHECK, "split": data.split, "n_samples": n, **scores(data.labels[idx], pred)}


def gap_note(card: dict[str, Any]) -> str:
    """The card's distance to the published numbers, in words made of its own numbers: at seed
    0, over the seeds, and along the curve (is it the budget or the seed?)."""
    pub, rng, mean = card["published"], card["seed_range"], card["seed_mean"]
    late = [p for p in card["curve"] if p["epoch"] >= 20]
    parts = [f"After {card['epochs']} of the published {card['published_epochs']} epochs, seed 0 "
             f"gives " + ", ".join(f"{m.upper()} {card['final'][m]:.3f} ({card['gap'][m]:+.3f})"
                                   for m in pub if m in card["gap"]) + "."]
    for m in (m for m in ("acc", "nmi") if m in card["gap"]):
        where = ("inside" if rng[m][0] <= pub[m] <= rng[m][1] else
                 "above" if pub[m] > rng[m][1] else "below")
        parts.append(
            f"{m.upper()}: over {1 + len(card.get('final_other_seeds') or [])} UMAP/GMM seeds "
            f"{rng[m][0]:.3f}-{rng[m][1]:.3f} (mean {mean[m]:.3f}); the published {pub[m]:.3f} is "
            f"{where} that range; along the curve from epoch 20 (seed 0) "
            f"{min(p[m] for p in late):.3f}-{max(p[m] for p in late):.3f}.")
    return " ".join(parts)


def release(dataset: str, cfg: N2DConfig, st: TrainState, curve: list[dict[str, Any]],
            folder: Path, command: str, seeds: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Write the encoder and its card (`n2d_<dataset>.safetensors` / `.json`) into `folder`."""
    import sklearn
    import umap

    from .._version import __version__
    from ..io import sha256_file

    weights = export(dataset, cfg, st, folder)
    training = training_of(dataset, dataclasses.replace(cfg, epochs=st.epoch))
    final = next((p for p in curve if p["epoch"] == st.epoch), None)
    n_enc = sum(v.numel() for v in wts.load(weights)[0].values())
    published = PUBLISHED.get(dataset)
    card: dict[str, Any] = {
        "name": f"{NAME}_{dataset}",
        "baseline": NAME,
        "paper": "McConville et al., N2D: (Not Too) Deep Clustering via Clustering the Local "
                 "Manifold of an Autoencoded Embedding, ICPR 2020 (arXiv 1908.05968)",
        "settings_source": SOURCE,
        "architecture": {"dims": training["dims"], "hidden_activation": "relu",
                         "embedding": f"linear, {training['dims'][-1]}-d",
                         "decoder": "mirror of the encoder, linear output"},
        "shipped": "the encoder half (all N2D clusters with); the decoder stays in the "
                   "training checkpoint",
        "n_parameters_encoder": n_enc,
        "training": training,
        "training_data": f"all of {dataset} ({' + '.join(training['data'])} "
                         f"split{'s' if len(training['data']) > 1 else ''}), "
                         f"{training['n_train']:,} images (labels unused)",
        "epochs": st.epoch,
        "published_epochs": PUBLISHED_EPOCHS,
        "images_seen": st.images_seen,
        "train_seconds": round(st.seconds, 1),
        "train_cpu_seconds": round(st.cpu_seconds, 1),
        "threads": sorted({s["threads"] for s in st.sessions}),
        "device": "cpu",
        "sessions": st.sessions,
        "stop_reason": st.stop_reason,
        "loss_per_epoch": st.losses,
        "curve_protocol": f"every image N2D trained on, encoded, UMAP ({cfg.umap_neighbors} "
                          f"neighbours, min_dist {cfg.umap_min_dist}, {cfg.umap_metric}, to "
                          f"{training['dims'][-1]} dims, seed 0), full-covariance GMM (seed 0)",
        "curve": curve,
        "final": final,
        "final_other_seeds": seeds,
        "published": ({**published, "images": f"all {training['n_train']:,} images",
                       "note": "theirs: the N2D paper's Fashion-MNIST row (1000 epochs)"}
                      if published else None),
        "check": subsample_check(dataset, weights),
        "command": command,
        "weights_file": weights.name,
        "weights_sha256": sha256_file(weights),
        "weights_key": wts.weights_key(training),
        "versions": {"zsc": __version__, "torch": torch.__version__,
                     "umap-learn": umap.__version__, "scikit-learn": sklearn.__version__},
    }
    if final:
        runs = [final, *(seeds or [])]
        card["seed_range"] = {m: [min(r[m] for r in runs), max(r[m] for r in runs)]
                              for m in ("acc", "nmi", "ami", "ari")}
        card["seed_mean"] = {m: round(float(np.mean([r[m] for r in runs])), 4)
                             for m in ("acc", "nmi", "ami", "ari")}
    if published and final:
        card["gap"] = {m: round(final[m] - v, 4) for m, v in published.items()}
        card["gap_note"] = gap_note(card)
    with atomic_path(wts.shipped_paths(NAME, dataset, folder)[1]) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    return card




def pretrain(dataset: str, *, epochs: int | None = None, max_minutes: float | None = None,
             max_cpu_minutes: float | None = None, release_to: Path | None = None,
             curve: bool = True, command: str = "", log: Callable[[str], None] = print) -> str:
    """`zsc baseline train n2d DATASET`: pretrain (resuming), export the weights to the cache,
    and with `release_to` evaluate the learning curve and write the weights and card there."""
    cfg = N2DConfig(epochs=int(epochs or PUBLISHED_EPOCHS))
    st = train(dataset, cfg, max_minutes=max_minutes, max_cpu_minutes=max_cpu_minutes, log=log)
    if not st.epoch:
        return f"n2d on {dataset}: no epoch trained ({st.stop_reason})"
    path = export(dataset, cfg, st)
    what = (f"n2d on {dataset}: {st.epoch} of {cfg.epochs} epochs ({st.stop_reason}), "
            f"{st.images_seen:,} images seen, {st.seconds / 60:.1f} min wall, "
            f"{st.cpu_seconds / 60:.1f} cpu-min; weights {path}")
    if release_to is not None:
        points = learning_curve(dataset, st, cfg, log=log) if curve else []
        spread = seed_spread(dataset, st, cfg, log=log) if curve else []
        card = release(dataset, cfg, st, points, Path(release_to), command, spread)
        final = card.get("final") or {}
        what += (f"; released to {release_to} (ACC {final.get('acc')}, NMI {final.get('nmi')} "
                 f"on all {card['training']['n_train']:,} images)")
    return what


SPEC = BaselineSpec(
    name=NAME, title="N2D (autoencoder + UMAP + GMM)",
    paper="McConville et al., ICPR 2020", clusterer="gmm", code=SOURCE, fit=fit_problem,
    options={"epochs": "pretraining epochs of the autoencoder (default: the shipped weights')"},
    published=(Published("Fashion-MNIST", "all 70,000 (train + test)", PUBLISHED["fashion_mnist"],
                         "fashion_mnist", "N2D paper (ICPR 2020), results table"),),
    simplified="none in the method; on CPU the autoencoder trains for fewer than the published "
               "1000 epochs (its card gives the epochs, the budget and the learning curve)",
    unavailable=unavailable,
    pretrain=pretrain,
)
