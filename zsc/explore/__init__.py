"""Cluster a folder of your own images the way the paper recommends, and say what came out.

`cluster_images(paths)` reads the images (`zsc.data.folder`), embeds them with a pretrained
encoder (cached per file content, so adding ten images embeds ten and a killed run resumes),
reduces with the paper's UMAP (50-d, 30 neighbours, min_dist 0; the neighbour graph found once,
exactly up to 30,000 images, and shared by the 2-D map and the other seeds), builds the ward tree and cuts
it where a label-free rule says (`zsc.cuts`; the paper's silhouette argmax stays in the sweep).
Per image it scores how well it sits in its cluster (silhouette), how far it is from anything
else (outlier score) and which images are near-duplicates of it. `write_report` (in
`zsc.explore.report`) turns the result into `assignments.csv` and one self-contained `report.html`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config
from .._version import __version__
from ..cluster import Agglomerative
from ..cuts import CUT_RULES, DEFAULT_RULE, alternatives, candidate_ks, choose_cut, cut_sweep
from ..data.folder import FolderImages, read_images
from ..embed import check_finite, default_batch_size, default_device, encode
from ..encoders import get_encoder
from ..errors import InvalidParameterError
from ..io import atomic_path, config_hash
from ..malloc import keep_freed_memory
from ..metrics import silhouette_samples_blocked
from ..reduce import UMAP_PAPER, Neighbours, ReducerConfig, neighbour_graph, reduce
from .result import ClusterImagesResult

DEFAULT_ENCODER = "efficientnet_lite0"  # the best encoder that works offline for photos (README)
MIN_IMAGES = 6
DUPLICATE_COSINE = 0.985  # cosine similarity of embeddings above which two images are near-duplicates
OUTLIER_NEIGHBOURS = 5
DUPLICATE_NEIGHBOURS = 30  # an image's near-duplicates are looked for among its 30 nearest (joined transitively)
STAGES = ("reading images", "embedding", "UMAP", "clustering", "agreement across UMAP seeds",
          "other encoders", "writing the report")
STABILITY_SEEDS = 2  # other UMAP seeds the chosen cut is redone with (0: none)


def file_cache_dir(encoder: str) -> Path:
    """Per-file embeddings of one encoder configuration, named by file content (SHA-256)."""
    spec = get_encoder(encoder)
    key = {"encoder": encoder, "weights": spec.weights_id,
           "preprocessing": spec.preprocessing.for_native_size(None).key(), "precision": "fp32",
           "zsc_version": __version__}
    return config.cache_dir() / "files" / encoder / config_hash(key)


def embed_images(folder: FolderImages, encoder: str = DEFAULT_ENCODER, *,
                 batch_size: int | None = None, cache: bool = True, progress: bool = True) -> np.ndarray:
    """Features of every image in `folder`; those already embedded (same bytes, same encoder
    configuration) come from the cache, the rest are embedded and each written as soon as its
    batch is done (so `kill -9` loses one batch at most). Runs in fp32 on the CPU or CUDA;
    `batch_size` defaults to `zsc.embed.default_batch_size`."""
    spec = get_encoder(encoder)
    root = file_cache_dir(encoder)
    feats: list[np.ndarray | None] = [None] * len(folder)
    for i, h in enumerate(folder.sha256):
        f = root / h[:2] / f"{h}.npy"
        if cache and f.is_file():
            try:
                feats[i] = np.load(f, allow_pickle=False)
            except (OSError, ValueError):
                feats[i] = None  # damaged: embed again
    todo = [i for i, v in enumerate(feats) if v is None]
    if todo:
        model = spec.build(None)
        pre = spec.preprocessing.for_native_size(None)
        device = default_device()
        batch_size = batch_size or default_batch_size(device)
        images = folder.images
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc=f"embedding ({encoder})", unit="img", disable=not progress)
        with keep_freed_memory():  # one block over all batches, not one per `encode` call
            for start in range(0, len(todo), batch_size):
                part = todo[start:start + batch_size]
                out = encode(model, [images[i] for i in part], pre, batch_size=batch_size, device=device,
                             precision="fp32", progress=False)
                check_finite(out, f"encoder {encoder!r} on {len(part)} images")
                for i, row in zip(part, out, strict=True):
                    feats[i] = row.astype(np.float32)
                    if cache:
                        _save(root / folder.sha256[i][:2] / f"{folder.sha256[i]}.npy", feats[i])
                bar.update(len(part))
        bar.close()
    return np.stack([np.asarray(v) for v in feats]) if feats else np.zeros((0, spec.dim), np.float32)


def _save(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, arr)


def umap_config(n: int, n_components: int = 50) -> tuple[ReducerConfig, list[str]]:
    """The paper's UMAP, shrunk only where a tiny folder cannot take it (said in the report)."""
    cfg = replace(UMAP_PAPER, n_components=n_components)
    notes = []
    if n - 2 < cfg.n_components:
        cfg = replace(cfg, n_components=max(2, n - 2))
        notes.append(f"UMAP to {cfg.n_components} dimensions, not 50: only {n} images")
    if n - 1 < cfg.n_neighbors:
        cfg = replace(cfg, n_neighbors=max(2, n - 1))
        notes.append(f"UMAP with {cfg.n_neighbors} neighbours, not 30: only {n} images")
    return cfg, notes


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1: Euclidean distances between them give cosine similarity."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cosine_graph(x: np.ndarray, seed: int = 0, cache: bool = True) -> Neighbours:
    """Each image's nearest images by cosine similarity in the encoder's space (the neighbour
    graph of the rows scaled to length 1), for the outlier scores and the near-duplicates: one
    search, exact up to 30,000 images, NN-descent above (not O(n²) at 100,000)."""
    return neighbour_graph(_unit(x), DUPLICATE_NEIGHBOURS + 1, seed=seed, cache=cache)  # + itself


def _others(graph: Neighbours) -> tuple[np.ndarray, np.ndarray]:
    """The graph without each point itself (a row NN-descent left it out of loses its farthest)."""
    n = len(graph.indices)
    keep = graph.indices != np.arange(n)[:, None]
    keep[keep.all(axis=1), -1] = False
    return graph.indices[keep].reshape(n, -1), graph.distances[keep].reshape(n, -1)


def outlier_scores(graph: Neighbours, k: int = OUTLIER_NEIGHBOURS) -> np.ndarray:
    """Mean cosine distance to an image's k nearest other images (`cosine_graph`): high for an
    image unlike anything else in the folder."""
    d = _others(graph)[1][:, :k].astype(np.float64)
    return (d**2 / 2).mean(axis=1)  # squared chord / 2 = cosine distance


def duplicate_groups(graph: Neighbours, sha256: list[str], threshold: float = DUPLICATE_COSINE) -> np.ndarray:
    """Near-duplicate groups (-1: none): identical bytes, or cosine similarity of at least
    `threshold` with one of an image's nearest images (`cosine_graph`), joined transitively."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    idx, d = _others(graph)
    n = len(idx)
    close = d <= np.sqrt(2 * (1 - threshold))
    rows, cols = [np.repeat(np.arange(n), close.sum(axis=1))], [idx[close]]
    first: dict[str, int] = {}
    for i, h in enumerate(sha256):
        j = first.setdefault(h, i)
        if j != i:
            rows.append(np.array([i]))
            cols.append(np.array([j]))
    r, c = np.concatenate(rows), np.concatenate(cols)
    _, comp = connected_components(coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n)).tocsr(), directed=False)
    groups = np.flatnonzero(np.bincount(comp) > 1)
    group_of = np.full(comp.max() + 1, -1)
    group_of[groups] = np.arange(len(groups))  # numbered in order of their first image
    return group_of[comp]


def seed_agreement(x: np.ndarray, cfg: ReducerConfig, labels: np.ndarray, k: int,
                   seeds: Iterable[int], cache: bool = True, neighbours: Neighbours | None = None
                   ) -> pd.DataFrame:
    """How much the clustering depends on UMAP's seed: the same recipe and k with each of
    `seeds`, compared with `labels` by adjusted Rand index (1: the same partition). With
    `neighbours` every seed lays out the same neighbour graph (exact up to 30,000 images)."""
    from sklearn.metrics import adjusted_rand_score

    rows = []
    for s in seeds:
        red = reduce(x, replace(cfg, seed=int(s)), cache=cache, neighbours=neighbours)
        other = Agglomerative(n_clusters=k, linkage="ward").fit(red).labels_
        rows.append({"umap_seed": int(s), "ari": float(adjusted_rand_score(labels, other))})
    return pd.DataFrame(rows, columns=["umap_seed", "ari"])


def check_out(out: str | os.PathLike[str], paths: list[str | os.PathLike[str]]) -> None:
    """Refuse an output folder inside an input folder: nothing under PATH is written, and a
    rerun would cluster the report's own pictures."""
    o = Path(out).expanduser().resolve()
    for p in paths:
        d = Path(os.path.expanduser(str(p))).resolve()
        if d.is_dir() and (o == d or d in o.parents):
            raise InvalidParameterError(f"the output folder {out} is inside the input folder {p}: "
                                        "choose another -o (nothing under PATH is written)")


def _tree_cut(reduced: np.ndarray, k: int | None, rule: str, seed: int
              ) -> tuple[pd.DataFrame, dict[int, np.ndarray], int, str, str | None]:
    """The recipe after UMAP: the ward tree, its label-free sweep and the cut (`k`, or the one
    `rule` picks). Returns the sweep, the cuts, k, how it was chosen and the rule used."""
    model = Agglomerative(n_clusters=2, linkage="ward").fit(reduced)
    sweep, cuts = cut_sweep(model, reduced, candidate_ks(len(reduced)), seed=seed)
    if k is None:
        k = choose_cut(sweep, rule)
        how, used = f"{CUT_RULES.get(rule).description} (rule {rule!r})", rule
    else:
        how, used = "given (--k)", None
    if k not in cuts:
        cuts[k] = model.cut(n_clusters=k)
    return sweep, cuts, k, how, used


def compare_encoders(folder: FolderImages, first: np.ndarray, others: Iterable[str], *,
                     k: int | None, rule: str, seed: int, cache: bool, progress: bool,
                     cfg: ReducerConfig) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The recipe again with each other encoder on the same images: per encoder its k, the mean
    silhouette of its cut in its own UMAP space (the paper's label-free proxy) and the adjusted
    Rand index of its partition with the first encoder's (1: the same clusters)."""
    from sklearn.metrics import adjusted_rand_score

    rows, labels = [], {}
    for name in others:
        x = embed_images(folder, name, cache=cache, progress=progress)
        reduced = reduce(x, cfg, cache=cache, neighbours=neighbour_graph(x, cfg.n_neighbors, seed=cfg.seed,
                                                                         cache=cache))
        _, cuts, kk, _, _ = _tree_cut(reduced, k, rule, seed)
        labels[name] = cuts[kk]
        rows.append({"encoder": name, "k": kk,
                     "silhouette": (float(silhouette_samples_blocked(reduced, cuts[kk]).mean())
                                    if 1 < kk < len(x) else np.nan),
                     "ari_with_first": float(adjusted_rand_score(first, cuts[kk]))})
    return pd.DataFrame(rows, columns=["encoder", "k", "silhouette", "ari_with_first"]), labels


def cluster_images(
    paths: Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None = None,
    *,
    encoder: str | Sequence[str] = DEFAULT_ENCODER,
    k: int | None = None,
    rule: str = DEFAULT_RULE,
    seed: int = 0,
    cache: bool = True,
    progress: bool = True,
    command: str | None = None,
    links: bool = False,
    stability_seeds: int = STABILITY_SEEDS,
    on_stage: Callable[[str], None] | None = None,
) -> ClusterImagesResult:
    """Cluster the images PATHs name; with `out`, write `assignments.csv` and `report.html`
    there. `k` fixes the number of clusters; otherwise `rule` (a `zsc.cuts.CUT_RULES` name)
    picks it from the label-free sweep. `command`: the command line to show in the report;
    `links`: also OUT/clusters/<cluster>/, links to each cluster's files; `stability_seeds`: how
    many other UMAP seeds the chosen cut is redone with (`seed_agreement`). Several encoders:
    the report is the first's, and compares the others with it (`compare_encoders`; their
    clusters are columns ``cluster_<encoder>`` of the table)."""
    encoders = [encoder] if isinstance(encoder, str) else list(dict.fromkeys(encoder))
    if not encoders:
        raise InvalidParameterError("give at least one encoder")
    for name in encoders:
        get_encoder(name)  # an unknown name fails before any file is read
    encoder = encoders[0]
    paths = list(paths)
    if out is not None:
        check_out(out, paths)
    CUT_RULES.get(rule)
    if stability_seeds < 0:
        raise InvalidParameterError(f"--stability must be 0 or more, got {stability_seeds}")
    from tqdm import tqdm

    stages = tqdm(total=len(STAGES) - (len(encoders) == 1), desc="zsc cluster", unit="stage", disable=not progress,
                  bar_format="{desc} (stage {n_fmt}/{total_fmt}, {elapsed})")

    def say(stage: str) -> None:
        """One bar over the stages (those that take long have their own bar too)."""
        stages.set_description(f"zsc cluster: {stage}")
        stages.update(1)
        if on_stage is not None:
            on_stage(stage)

    t: dict[str, float] = {}
    t0 = time.perf_counter()
    say("reading images")
    folder = read_images(paths, progress=progress)
    t["read"] = time.perf_counter() - t0
    say("embedding")
    if len(folder) < MIN_IMAGES:
        raise InvalidParameterError(
            f"found {len(folder)} readable image(s) ({len(folder.skipped)} skipped); clustering needs "
            f"at least {MIN_IMAGES}")
    if k is not None and not 1 <= k <= len(folder):
        raise InvalidParameterError(f"--k must be between 1 and the number of images ({len(folder)}), got {k}")
    t0 = time.perf_counter()
    x = embed_images(folder, encoder, cache=cache, progress=progress)
    t["embed"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cfg, notes = umap_config(len(x))
    cfg = replace(cfg, seed=seed)
    say("UMAP")
    graph = neighbour_graph(x, cfg.n_neighbors, seed=seed, cache=cache)  # one graph, every UMAP below
    reduced = reduce(x, cfg, cache=cache, neighbours=graph)
    coords = reduce(x, replace(cfg, n_components=2, min_dist=0.1), cache=cache, neighbours=graph)
    t["reduce"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("clustering")
    sweep, cuts, k, how, used_rule = _tree_cut(reduced, k, rule, seed)
    labels = cuts[k]
    coarser, finer = alternatives(sweep, k)
    sil = (silhouette_samples_blocked(reduced, labels) if 1 < k < len(x)
           else np.full(len(x), np.nan))  # blocked: O(block) memory at any n
    near = cosine_graph(x, seed, cache)
    outl = outlier_scores(near)
    dup = duplicate_groups(near, folder.sha256)
    t["cluster"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("agreement across UMAP seeds")
    agreement = seed_agreement(x, cfg, labels, k, range(seed + 1, seed + 1 + stability_seeds), cache, graph)
    t["agreement"] = time.perf_counter() - t0
    compared, others = pd.DataFrame(), {}
    if len(encoders) > 1:
        t0 = time.perf_counter()
        say("other encoders")
        compared, others = compare_encoders(folder, labels, encoders[1:], k=k if used_rule is None else None,
                                            rule=rule, seed=seed, cache=cache, progress=progress,
                                            cfg=cfg)
        t["other encoders"] = time.perf_counter() - t0
    table = pd.DataFrame({"path": folder.paths, "cluster": labels, "silhouette": sil,
                          "outlier_score": outl, "duplicate_group": dup,
                          "x": coords[:, 0], "y": coords[:, 1]}
                         | {f"cluster_{name}": lab for name, lab in others.items()})
    res = ClusterImagesResult(folder.paths, labels, table, sweep, k, how, used_rule, coarser, finer,
                              encoder, folder.skipped, folder.thumbnails, x, reduced, cuts, t, notes,
                              agreement, compared)
    if out is not None:
        from .report import write_report

        say("writing the report")
        write_report(res, out, command=command)
        if links:
            from .report import link_clusters

            link_clusters(res, out)
    stages.close()
    return res
