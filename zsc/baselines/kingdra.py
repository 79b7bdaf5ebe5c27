"""KingdraCluster, "Unsupervised Clustering using Pseudo-semi-supervised Learning" (Gupta,
Ramjee, Kwatra, Sivathanu; ICLR 2020): an ensemble of clustering networks votes on which
pairs of points belong together; from that graph a few large, mutually distant groups of
points every member agrees on become high-precision pseudo-labels; a semi-supervised model
is trained on them (and on everything, unsupervised), and the loop repeats.

Followed from the authors' code, github.com/divamgupta/deep-clustering-kingdra @ c16d3e1
(kingdra_cluster.py, unsup_ens_utils.py, mi_ladder_unsup.py, configs/*_mnist.json):

* ensemble of `n_models` = 10 networks (`n_en`), softmax over `n_clusters` outputs;
* graph (`get_en_clus`): a strong edge joins two points when more than `t_high` = 9 members
  put them in the same cluster (all ten), from a point every member is more than `thresh` =
  0.9 confident about; a weak edge when more than `t_low` = 1 member does. Greedily, the
  point of highest strong degree gives a pseudo-class (its strong neighbours), and every point
  weakly joined to that class leaves the graph, until there are `n_clusters` classes;
* classes are mapped to the members' output indices by Hungarian matching on the pseudo-class
  members (`get_bucket_modelwrt_ind`, one common mapping), and oversampled to a balanced set as
  large as the data (`get_training_from_buckets`);
* each member's loss (`get_mi_ladder_model`): information maximisation on clean and noisy
  passes (weight 0.1, mu 4: mean entropy of p minus 4 x entropy of the mean p), KL from the
  clean to the noisy prediction (weight 1, Gaussian noise std 0.3 on the input and on every
  batch-normalised layer), and, once pseudo-labels exist, cross-entropy on them (weight 1);
  Adam lr 0.002, batch 64, 5 epochs per member per iteration;
* the prediction is the argmax of the members' mean probability.

Simplified here, to keep a run to seconds on one CPU thread (about 15 CPU-seconds for 1,000
Fashion-MNIST images; the card, zsc/weights/baselines/kingdra.json, records the budget): the members are 2x256 MLPs instead of 2x1200 ladder networks (the ladder's denoising
decoder, one of the loss terms, is dropped: what remains is the published code's own
information-maximisation and noise-consistency terms); 6 iterations of 2 epochs (the first 5)
instead of 50 of 5; where the published weak-edge threshold t_low = 1 leaves the graph short of
a full set of classes (small subsamples), it is raised until the set is full
(`full_pseudo_labels`); the strong graph counts a pair only when both points are confident (the
published code checks one); the ensemble trains as one batched network (each member with its
own initialisation, noise and batch order). The input is the flattened pixels in [0, 1].
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ..io import array_hash
from . import weights as wts
from .common import BaselineSpec, Fit, Problem, Published, one_thread

NAME = "kingdra"
SOURCE = ("github.com/divamgupta/deep-clustering-kingdra @ c16d3e1 (kingdra_cluster.py, "
          "unsup_ens_utils.py, mi_ladder_unsup.py, configs/kingdra_ladder_im_mnist.json)")


@dataclasses.dataclass(frozen=True)
class KingdraConfig:
    """Published values (module docstring) except where the simplification says otherwise."""

    n_models: int = 10
    hidden: tuple[int, ...] = (256, 256)  # published: (1200, 1200), ladder network
    iterations: int = 6  # published: 50 (MNIST)
    epochs_first: int = 5  # unsupervised epochs before the first graph (published 5)
    epochs: int = 2  # epochs per later iteration (published 5)
    t_low: int = 1
    adaptive_t_low: bool = True  # raise t_low until the graph gives every class (not published)
    t_high: int = 9  # more than 9 of 10 members agree: all of them
    thresh: float = 0.9
    batch_size: int = 64
    lr: float = 0.002
    mi_weight: float = 0.1
    mi_mu: float = 4.0
    noise_std: float = 0.3
    noise_kl_weight: float = 1.0
    sup_weight: float = 1.0

    def __post_init__(self) -> None:
        from ..errors import InvalidParameterError

        if self.t_high != self.n_models - 1:
            raise InvalidParameterError(
                f"KingdraCluster: t_high must be n_models - 1 (a strong edge is a pair all "
                f"members agree on, as the published setting), got t_high={self.t_high} with "
                f"n_models={self.n_models}")
        if not 0 <= self.t_low < self.t_high:
            raise InvalidParameterError(f"KingdraCluster: t_low must be in [0, t_high), got {self.t_low}")


# --------------------------------------------------------------------------- pseudo-labels
def pseudo_labels(probs: np.ndarray, cfg: KingdraConfig, n_classes: int,
                  t_low: int | None = None) -> list[np.ndarray]:
    """High-precision pseudo-classes from the members' probabilities (M, n, K): lists of point
    indices, at most `n_classes`, in the order the graph gives them (`get_en_clus`).

    With t_high = M - 1 a strong edge joins points whose whole vote vector is equal, so the
    strong degree of a point is the size of its vote group; a weak edge between a point and a
    class is an agreement of more than t_low members with the class's vote vector."""
    t_low = cfg.t_low if t_low is None else t_low
    votes = probs.argmax(-1).T  # (n, M)
    alive = (probs.max(-1) > cfg.thresh).all(axis=0)  # every member confident
    out: list[np.ndarray] = []
    while len(out) < n_classes and alive.any():
        groups, counts = np.unique(votes[alive], axis=0, return_counts=True)
        top = groups[int(np.argmax(counts))]
        out.append(np.flatnonzero(alive & (votes == top).all(axis=1)))
        alive &= ~((votes == top).sum(axis=1) > t_low)  # everything weakly joined leaves
    return out


def full_pseudo_labels(probs: np.ndarray, cfg: KingdraConfig,
                       n_classes: int) -> tuple[list[np.ndarray], int]:
    """(pseudo-classes, t_low used): the published t_low, raised one member at a time (below
    t_high) until the graph gives all `n_classes` classes. On 70,000 images the published
    t_low = 1 does; on a profile's 1,000 images the members are weaker, every class is weakly
    joined to another and the published rule stops short, leaving the loop unsupervised.
    Label-free: it looks only at how many classes the graph gives."""
    best: tuple[list[np.ndarray], int] = ([], cfg.t_low)
    for t in range(cfg.t_low, cfg.t_high if cfg.adaptive_t_low else cfg.t_low + 1):
        classes = pseudo_labels(probs, cfg, n_classes, t)
        if len(classes) == n_classes:
            return classes, t
        best = max(best, (classes, t), key=lambda b: len(b[0]))
    return best


def align(classes: list[np.ndarray], member_votes: np.ndarray, n_classes: int) -> np.ndarray:
    """Output index of each pseudo-class: Hungarian matching between the classes and one
    member's clusters on the pseudo-labelled points (`get_bucket_modelwrt_ind`)."""
    from scipy.optimize import linear_sum_assignment

    counts = np.zeros((len(classes), n_classes), dtype=np.int64)
    for c, idx in enumerate(classes):
        np.add.at(counts[c], member_votes[idx], 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return cols[np.argsort(rows)]


def balanced(classes: list[np.ndarray], targets: np.ndarray, n: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(indices, labels) of n points cycling through the classes, each class cycling through
    its members (`get_training_from_buckets`), shuffled."""
    k = len(classes)
    per = [np.resize(c, -(-n // k)) for c in classes]
    idx = np.stack(per, axis=1).ravel()[:n]
    lab = np.tile(targets, -(-n // k))[:n]
    order = rng.permutation(n)
    return idx[order], lab[order]


# --------------------------------------------------------------------------- the ensemble
class Ensemble(nn.Module):
    """M independent MLPs as batched weights (M, in, out): one matmul per layer for all.
    Layers as the published ladder encoder: no bias, batch norm (but not on the last layer),
    Gaussian noise after it, a learned shift (`AddBeta`), ReLU on hidden layers."""

    def __init__(self, n_models: int, dims: list[int], noise_std: float) -> None:
        super().__init__()
        self.noise_std = noise_std
        self.weights = nn.ParameterList()
        self.betas = nn.ParameterList()
        self.bns = nn.ModuleList()
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            w = torch.empty(n_models, a, b)
            for m in range(n_models):
                nn.init.xavier_normal_(w[m].T)  # Keras glorot_normal
            self.weights.append(nn.Parameter(w))
            self.betas.append(nn.Parameter(torch.zeros(n_models, 1, b)))
            last = i == len(dims) - 2
            self.bns.append(nn.Identity() if last else nn.BatchNorm1d(n_models * b, affine=False))

    def forward(self, x: torch.Tensor, noisy: bool) -> torch.Tensor:
        """Logits (M, B, K) of inputs (M, B, d)."""
        h = x + self.noise_std * torch.randn_like(x) if noisy else x
        for i, (w, beta, bn) in enumerate(zip(self.weights, self.betas, self.bns, strict=True)):
            z = torch.bmm(h, w)
            if not isinstance(bn, nn.Identity):  # per member and unit: one BatchNorm1d
                m, b, u = z.shape
                z = bn(z.permute(1, 0, 2).reshape(b, m * u)).reshape(b, m, u).permute(1, 0, 2)
            if noisy:
                z = z + self.noise_std * torch.randn_like(z)
            h = z + beta
            if i < len(self.weights) - 1:
                h = torch.relu(h)
        return h


def _im_loss(logits: torch.Tensor, mu: float) -> torch.Tensor:
    """Information maximisation per member, summed: E[H(p)] - mu H(E[p]) (`mut_inf_loss`)."""
    p = logits.softmax(-1)
    ent = -(p * torch.log(p + 1e-16)).sum(-1).mean(-1)
    avg = p.mean(1)
    return (ent - mu * -(avg * torch.log(avg + 1e-16)).sum(-1)).sum()


def _kl(clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    p, logp, logq = clean.softmax(-1), clean.log_softmax(-1), noisy.log_softmax(-1)
    return (p * (logp - logq)).sum(-1).mean(-1).sum()


@torch.inference_mode()
def predict_proba(model: Ensemble, x: torch.Tensor, batch: int = 2048) -> np.ndarray:
    """Members' probabilities (M, n, K), clean pass, batch-norm running statistics."""
    model.eval()
    m = len(model.weights[0])
    out = [model(x[s:s + batch].expand(m, -1, -1), noisy=False).softmax(-1)
           for s in range(0, len(x), batch)]
    return torch.cat(out, dim=1).numpy()


@dataclasses.dataclass
class KingdraResult:
    labels: np.ndarray
    state: dict[str, torch.Tensor]
    history: list[dict[str, Any]]  # per iteration: pseudo-labelled points, smallest class
    seconds: float
    cpu_seconds: float
    images_seen: int  # member-images: points through one member's training step
    supervised: bool  # did any iteration train on pseudo-labels


def train_cluster(x: np.ndarray, n_clusters: int, cfg: KingdraConfig = KingdraConfig(), *, seed: int = 0,
        y: np.ndarray | None = None, log: Callable[[str], None] | None = None) -> KingdraResult:
    """Train the ensemble on `x` (n, d) and cluster it. `y`, if given, only annotates the
    history with the pseudo-labels' precision (never used for training)."""
    t0, c0 = time.perf_counter(), time.process_time()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    n, M, bs = len(xt), cfg.n_models, cfg.batch_size
    model = Ensemble(M, [x.shape[1], *cfg.hidden, n_clusters], cfg.noise_std)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history: list[dict[str, Any]] = []
    best: tuple[int, list[np.ndarray], np.ndarray] | None = None  # largest smallest class
    current: tuple[int, list[np.ndarray], np.ndarray] | None = None  # what the next iteration uses
    supervised = False
    seen = 0
    for it in range(cfg.iterations):
        sup = None
        if current is not None:
            sup_idx, sup_lab = balanced(current[1], current[2], n, rng)
            sup = (torch.from_numpy(sup_idx), torch.from_numpy(sup_lab))
            supervised = True
        for _ in range(cfg.epochs_first if it == 0 else cfg.epochs):
            model.train()
            perms = torch.stack([torch.randperm(n) for _ in range(M)])  # each member's order
            for s in range(0, n, bs):
                xb = xt[perms[:, s:s + bs]]  # (M, B, d)
                clean, noisy = model(xb, noisy=False), model(xb, noisy=True)
                loss = cfg.mi_weight * (_im_loss(clean, cfg.mi_mu) + _im_loss(noisy, cfg.mi_mu))
                loss = loss + cfg.noise_kl_weight * _kl(clean.detach(), noisy)
                if sup is not None:
                    rows = perms[:, s:s + bs]  # the pseudo-labelled set, in the same order
                    si, sl = sup[0][rows], sup[1][rows]
                    logits = model(xt[si], noisy=True)
                    loss = loss + cfg.sup_weight * nn.functional.cross_entropy(
                        logits.reshape(-1, n_clusters), sl.reshape(-1), reduction="mean") * M
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                seen += xb.shape[0] * xb.shape[1] * (1 if sup is None else 2)
        probs = predict_proba(model, xt)
        classes, t_low = full_pseudo_labels(probs, cfg, n_clusters)
        smallest = min((len(c) for c in classes), default=0) if len(classes) == n_clusters else 0
        if smallest > 0:  # a full set of classes: use it, and keep the best one seen
            current = (smallest, classes, align(classes, probs[0].argmax(-1), n_clusters))
            best = current if best is None or smallest > best[0] else best
        else:  # a class is missing: fall back on the best set so far (if any)
            current = best
        rec: dict[str, Any] = {"iteration": it, "pseudo_labelled": int(sum(map(len, classes))),
                               "classes": len(classes), "smallest_class": int(smallest),
                               "t_low": t_low}
        if y is not None and classes:
            rec["pseudo_label_precision"] = round(precision(classes, y), 4)
        history.append(rec)
        if log:
            log(f"[kingdra] iteration {it}: {rec}")
    probs = predict_proba(model, xt)
    return KingdraResult(vote(probs, supervised), model.state_dict(), history,
                         time.perf_counter() - t0, time.process_time() - c0, seen, supervised)


def vote(probs: np.ndarray, supervised: bool) -> np.ndarray:
    """The ensemble's clustering: the argmax of the members' mean probability once pseudo-labels
    have aligned their outputs; before that (no iteration found a full set of classes) the
    members' cluster indices mean nothing to each other and the first member answers."""
    return probs.mean(0).argmax(-1) if supervised else probs[0].argmax(-1)


def precision(classes: list[np.ndarray], y: np.ndarray) -> float:
    """Fraction of pseudo-labelled points in their class's majority true label (the paper's
    pseudo-label precision)."""
    hits = sum(int(np.bincount(y[c]).max()) for c in classes if len(c))
    return hits / max(1, sum(len(c) for c in classes))


OPTIONS = {"iterations": "pseudo-label iterations (default 6; published 50)",
           "epochs": "epochs per member per later iteration (default 2; published 5)",
           "n_models": "members of the ensemble (default 10, as published; t_high follows)"}


def config_from(options: dict[str, Any]) -> KingdraConfig:
    opts = dict(options)
    if "n_models" in opts:
        opts["t_high"] = int(opts["n_models"]) - 1
    return KingdraConfig(**opts)


def fit_problem(problem: Problem) -> Fit:
    """Train the ensemble on the images it clusters (its weights cached by configuration and
    by the images' content: a second run of the same job only predicts)."""
    cfg = config_from(dict(problem.options))
    k = problem.n_clusters
    ident = {"baseline": NAME, "config": dataclasses.asdict(cfg), "data": array_hash(problem.x),
             "n_clusters": k, "seed": problem.seed, "threads": 1}  # the result depends on it
    key = wts.weights_key(ident)
    path = wts.cache_path(NAME, problem.dataset, key)
    xt = torch.from_numpy(np.ascontiguousarray(problem.x, dtype=np.float32))
    if path.is_file():
        state, meta = wts.load(path)
        t1 = time.perf_counter()
        model = Ensemble(cfg.n_models, [problem.x.shape[1], *cfg.hidden, k], cfg.noise_std)
        model.load_state_dict(state)
        labels = vote(predict_proba(model, xt), bool(meta["supervised"]))
        source, time_train, time_cluster = "cache", 0.0, time.perf_counter() - t1
    else:
        with torch.random.fork_rng(devices=[]), one_thread():
            res = train_cluster(problem.x, k, cfg, seed=problem.seed, y=problem.labels)
        meta = {"ident": ident, "train_seconds": round(res.seconds, 1),
                "train_cpu_seconds": round(res.cpu_seconds, 1),
                "images_seen": res.images_seen, "supervised": res.supervised,
                "history": res.history, "threads": 1}
        wts.save(path, res.state, meta)
        labels, source = res.labels, "trained"
        time_train, time_cluster = res.seconds, 0.0
    return Fit(
        labels=labels,
        clusterer_params={**dataclasses.asdict(cfg), "ensemble_key": key},
        reducer="none", reducer_params={"method": "none"}, embedding_dim=None, reduced_dim=k,
        weights_key=key, weights_source=source,
        trained_on=f"the {len(problem.x):,} images it clusters ({problem.dataset}/{problem.split})",
        cost={"train_seconds": meta["train_seconds"],
              "train_cpu_seconds": meta.get("train_cpu_seconds"),
              "train_images_seen": meta["images_seen"], "train_epochs": None,
              "train_threads": str(meta["threads"])},
        time_train=time_train, time_cluster=time_cluster, history=list(meta["history"]))


SPEC = BaselineSpec(
    name=NAME, title="KingdraCluster (ensemble pseudo-labels + semi-supervised MLPs)",
    paper="Gupta et al., ICLR 2020", clusterer="kingdra", code=SOURCE, fit=fit_problem,
    options=OPTIONS,
    published=(Published("CIFAR-10", "the paper's CIFAR-10 setting", {"acc": 0.546}, None,
                         "KingdraCluster paper (ICLR 2020), abstract"),
               Published("20 Newsgroups", "the paper's 20news setting", {"acc": 0.439}, None,
                         "KingdraCluster paper (ICLR 2020), abstract")),
    simplified="smaller members (2x256 MLPs, no ladder decoder), 6 iterations of 2 epochs "
               "instead of 50 of 5, and the weak-edge threshold raised where the published one "
               "leaves the graph short of a full set of classes: a run takes seconds on one "
               "thread (module docstring of zsc.baselines.kingdra)",
)

