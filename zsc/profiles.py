"""Book profiles: one parameter file names what a build computes and what its chapters read.

A profile (``zsc/resources/profiles/<name>.yaml``, or any ``.yaml`` path) lists encoders,
datasets, clusterers, sample sizes, seeds and the results folder. `seed` draws the images (and
seeds kNN, the reducer sweep and the baselines); `cluster_seeds` (default: `[seed]`) are the
seeds the main grid reduces and clusters each subsample with, the spread shown as error bars.
From it come the batch stages that compute its results (`stages`) and the parameters its
chapters are executed with (`notebook_parameters`). Reading its results back is
`zsc.profile_results`; the sentences that describe it are `zsc.report.prose`'s.
Relative folders are resolved against the book project (`zsc.config.base_dir`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import config, resources
from .errors import InvalidParameterError, UnknownNameError, ZscError

DEFAULT_KS = (1, 10, 20, 100, 200)
REQUIRED = ("encoders", "datasets", "clusterers", "n_samples")


class UnknownProfileError(UnknownNameError):
    """No profile of that name; the message lists the shipped ones and the closest match."""


def load_profile(name_or_path: str | Mapping[str, Any]) -> dict[str, Any]:
    """A profile by shipped name or path (a mapping is taken as it is), with its defaults."""
    if isinstance(name_or_path, Mapping):
        prof = dict(name_or_path)
        stem = str(prof.get("profile", "custom"))
    else:
        path = _find(str(name_or_path))
        prof, stem = _read(path), path.stem
        if path.resolve() != resources.path("profiles", path.name).resolve():
            prof.setdefault("path", str(path.resolve()))  # chapters re-read it from here
    prof = _extend(prof, seen=(stem,))
    prof.setdefault("profile", stem)
    prof.setdefault("seed", 0)
    prof["cluster_seeds"] = _seeds(prof.get("cluster_seeds", [prof["seed"]]), prof)
    prof.setdefault("knn_ks", list(DEFAULT_KS))
    prof.setdefault("knn_n_train", prof.get("n_samples"))
    prof.setdefault("results_dir", f"_build/results/{prof['profile']}")
    missing = [k for k in REQUIRED if k not in prof]
    if missing:
        raise InvalidParameterError(f"profile {prof['profile']!r} lacks {', '.join(missing)}")
    return prof


def _find(name_or_path: str) -> Any:
    try:
        return resources.find("profiles", name_or_path, "profile")
    except UnknownNameError as err:
        raise UnknownProfileError(str(err)) from None


def _read(path: Any) -> dict[str, Any]:
    import yaml

    prof = yaml.safe_load(path.read_text()) or {}
    if not isinstance(prof, dict):
        raise InvalidParameterError(f"profile {path} is not a mapping of settings")
    return prof


def _extend(prof: dict[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    """`extends: NAME`: the shipped (or path) profile NAME's settings, overridden by this one's
    (a heavier variant states only what it changes). The name and the results folder are not
    inherited: rows of two profiles never share a store (a kNN row's key has no memory size)."""
    base = prof.pop("extends", None)
    if base is None:
        return prof
    if not isinstance(base, str) or base in seen:
        raise InvalidParameterError(f"profile {seen[0]!r}: extends must name another profile, got "
                                    f"{base!r}" + (" (a cycle)" if base in seen else ""))
    parent = _extend(_read(_find(base)), (*seen, base))
    for own in ("profile", "results_dir", "path"):
        parent.pop(own, None)
    return {**parent, **prof}


def _seeds(value: Any, prof: Mapping[str, Any]) -> list[int]:
    if (not isinstance(value, list | tuple) or not value
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in value)):
        raise InvalidParameterError(f"profile {prof.get('profile')!r}: cluster_seeds must be a "
                                    f"non-empty list of integers, got {value!r}")
    return sorted(set(value))


def available_encoders(names: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(usable encoder names, {skipped name: why}) — unregistered or weights not local."""
    from .encoders import ENCODERS

    usable, skipped = [], {}
    for name in names:
        try:
            spec = ENCODERS.get(name)
        except UnknownNameError:
            skipped[name] = "not registered in this version of zsc"
            continue
        try:
            ok, why = bool(spec.weights_available()), "weights not available here"
        except Exception as err:  # a probe that fails is treated as unavailable
            ok, why = False, f"weights check failed ({err})"
        if ok:
            usable.append(name)
        else:
            skipped[name] = why
    return usable, skipped


def training_replicates(names: Sequence[str]) -> dict[str, tuple[str, int]]:
    """{name: (the encoder it replicates, its training seed)} for the training-seed replicates
    among registered encoders `names` (`EncoderSpec.replicate_of`; `analysis.fold_replicates`)."""
    from .encoders import ENCODERS

    specs = [ENCODERS.get(n) for n in names if n in ENCODERS]
    return {s.name: (s.replicate_of, s.training_seed) for s in specs if s.replicate_of}


def fold_replicates(frame: Any, profile: Mapping[str, Any]) -> Any:
    """`analysis.fold_replicates` with the profile's replicates: a replicate's rows become its
    encoder's, its training seed beside the clustering seed (what every chapter reads)."""
    from .analysis import fold_replicates as fold

    return fold(frame, training_replicates(profile["encoders"]))


def _split_size(dataset: str, n: int | None, split: str | None) -> int | None:
    """The sample size of a split that is present (None: all of it); raises when it is absent.
    Only files are checked: at the paper's scale, no split is loaded just to be counted."""
    from .data import available_splits, get_dataset, missing_error

    spec = get_dataset(dataset)
    split = split or spec.default_split
    if split not in available_splits(dataset):
        absent = spec.missing(split) if split in spec.splits else [f"split {split!r}"]
        raise missing_error(dataset, spec.files_root(), spec.how_to_get, f"missing {absent[0]}")
    return None if n is None else min(int(n), _split_length(dataset, split))


def _split_length(dataset: str, split: str) -> int:
    """How many samples a split has, cached on disk by the fingerprint of its files: counting
    loads the split, which costs seconds on every build (Fashion-MNIST's sketch variant is
    computed on load)."""
    import json

    from .data import fingerprint, load_dataset
    from .io import atomic_path, config_hash

    key = config_hash({"dataset": dataset, "split": split,
                       "files": fingerprint(dataset, split=split)})
    path = config.cache_dir() / "split_sizes" / f"{dataset}-{split}-{key}.json"
    try:
        return int(json.loads(path.read_text())["n"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    n = len(load_dataset(dataset, split).labels)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"dataset": dataset, "split": split, "n": n}))
    return n


def stages(profile: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The embed, cluster and kNN stages a profile needs, and what had to be left out here.

    Every dataset whose evaluation split is present is clustered; kNN jobs (and the train-split
    embeddings they need) exist where its kNN memory's train split is present too: its own, or,
    for ImageNet-v2/-R/-Sketch/-O, which have none, ImageNet-1k's, as the paper's probing; and
    not for the encoders the profile's `knn_skip` names (`knn_n_train: null`: whole splits).
    Sample sizes are clamped to each split's size."""
    from .data import get_dataset

    encoders, skipped = available_encoders(profile["encoders"])
    seed, ks = int(profile["seed"]), [int(k) for k in profile["knn_ks"]]
    knn = bool(profile.get("knn", True))
    test: dict[str, int | None] = {}
    train: dict[str, int | None] = {}
    memory: dict[str, str] = {}
    for ds in profile["datasets"]:
        try:
            test[ds] = _split_size(ds, profile["n_samples"], None)
        except ZscError as err:
            skipped[ds] = str(err).split(". ")[0]
            continue
        memory[ds] = get_dataset(ds).knn_memory or ds  # the ImageNet variants: ImageNet's
        if knn and "train" not in get_dataset(memory[ds]).splits:
            skipped[f"{ds} (kNN)"] = "clustered; no kNN: the dataset has no train split"
        elif knn:
            try:
                train[ds] = _split_size(memory[ds], profile.get("knn_n_train"), "train")
            except ZscError as err:
                skipped[f"{ds} (kNN)"] = "no train split here: " + str(err).split(". ")[0]
    pairs = [(e, d) for d in test for e in encoders]
    no_knn = set(profile.get("knn_skip") or ())  # clustered, not probed
    unknown = sorted(no_knn - set(profile["encoders"]))
    if unknown:
        raise InvalidParameterError(f"knn_skip: {', '.join(unknown)} not among the profile's encoders")
    skipped.update({f"{e} (kNN)": "clustered; no kNN: in the profile's knn_skip"
                    for e in encoders if e in no_knn and train})
    knn_pairs = [(e, d) for e, d in pairs if d in train and e not in no_knn]
    evals = [{"encoder": e, "dataset": d, "n_samples": test[d]} for e, d in pairs]
    memories = dict.fromkeys((e, memory[d], train[d]) for e, d in knn_pairs)  # each once
    # one evaluation split first, then the kNN memories (no UMAP), then the other evaluation
    # splits: the first job compiles UMAP's kernels into numba's disk cache (~30 s) while the
    # other workers embed memories, instead of every worker compiling the same kernels at once
    embed_list = evals[:1] + [{"encoder": e, "dataset": m, "split": "train", "n_samples": n}
                              for e, m, n in memories] + evals[1:]
    out = [
        {"kind": "embed", "params": {"seed": seed, "umap_seeds": profile["cluster_seeds"]},
         "list": embed_list},
        {"kind": "cluster", "params": {"sample_seed": seed, **({"max_memory": profile["max_memory"]}
                                                              if profile.get("max_memory") is not None else {})},
         "product": {"clusterer": list(profile["clusterers"]), "seed": profile["cluster_seeds"]},
         "list": [{"encoder": e, "dataset": d, "n_samples": test[d]} for e, d in pairs]},
        {"kind": "knn", "params": {"seed": seed, "ks": ks},
         "list": [{"encoder": e, "dataset": d, "n_samples": test[d], "n_train": train[d]}
                  for e, d in knn_pairs]},
    ]
    out += sweep_stages(profile, encoders, test)
    out.append(_baseline_stage(profile, test, skipped))
    return [s for s in out if s["list"]], skipped


# --------------------------------------------------------------------------- reducer sweep
def reducer_sweep(profile: Mapping[str, Any]) -> dict[str, Any] | None:
    """The profile's `reducer_sweep` (None without one), checked and with its defaults: a part
    of the profile's grid (its encoders, datasets and clusterers; by default all of its datasets
    and clusterers) clustered once per reducer. A reducer is a name of
    `zsc.settings.PAPER_REDUCERS` (none, pca, umap, pacmap: the paper's setting of each) or a
    mapping of `ReducerConfig` fields with a `name`."""
    from .reduce import ReducerConfig
    from .settings import PAPER_REDUCERS

    spec = profile.get("reducer_sweep")
    if not spec:
        return None
    if not isinstance(spec, Mapping):
        raise InvalidParameterError("reducer_sweep must be a mapping with encoders and reducers")
    sweep = {k: list(spec.get(k) or profile[k]) for k in ("encoders", "datasets", "clusterers")}
    for k, values in sweep.items():
        extra = [v for v in values if v not in profile[k]]
        if extra:
            raise InvalidParameterError(f"reducer_sweep {k} {', '.join(map(str, extra))} are not "
                                        f"among the profile's {k} (the sweep is part of its grid)")
    reducers: dict[str, ReducerConfig] = {}
    for r in spec.get("reducers") or list(PAPER_REDUCERS):
        if isinstance(r, Mapping):
            fields = {k: v for k, v in r.items() if k != "name"}
            cfg = ReducerConfig(**fields)
            reducers[str(r.get("name", cfg.label))] = cfg
        elif r in PAPER_REDUCERS:
            reducers[str(r)] = PAPER_REDUCERS[r]
        else:
            raise InvalidParameterError(f"reducer_sweep: unknown reducer {r!r} (known: "
                                        f"{', '.join(PAPER_REDUCERS)}, or a mapping of its settings)")
    unknown = set(spec) - {"encoders", "datasets", "clusterers", "reducers"}
    if unknown:
        raise InvalidParameterError(f"reducer_sweep: unknown key(s) {', '.join(sorted(unknown))}")
    return {**sweep, "reducers": reducers}


def sweep_stages(profile: Mapping[str, Any], encoders: Sequence[str],
                 test: Mapping[str, int | None]) -> list[dict[str, Any]]:
    """The cluster jobs of the reducer sweep, less those the regular stage runs already (the
    paper's own reducer for that clusterer and encoder writes the same row)."""
    from dataclasses import replace

    from .encoders import get_encoder
    from .settings import paper_reducer

    sweep = reducer_sweep(profile)
    if sweep is None:
        return []
    seed = int(profile["seed"])
    jobs = []
    for e in (e for e in sweep["encoders"] if e in encoders):
        spec = get_encoder(e)
        for d in (d for d in sweep["datasets"] if d in test):
            for c in sweep["clusterers"]:
                for cfg in sweep["reducers"].values():
                    n = test[d]
                    own = paper_reducer(c, e, spec.family, spec.method, dataset=d, seed=seed,
                                        shape=None if n is None or spec.dim is None else (n, spec.dim))
                    if replace(cfg, seed=seed) == own and seed in profile["cluster_seeds"]:
                        continue  # the main grid's own row
                    red = {k: v for k, v in cfg.key().items() if k != "seed"}
                    jobs.append({"encoder": e, "dataset": d, "n_samples": n, "clusterer": c,
                                 "reducer": red})
    params = {"seed": seed, **({"max_memory": profile["max_memory"]}
                               if profile.get("max_memory") is not None else {})}
    return [{"kind": "cluster", "params": params, "list": jobs}]


def baseline_datasets(profile: Mapping[str, Any]) -> list[str]:
    """The datasets a profile's baselines cluster (`baseline_datasets`, default: its datasets)."""
    names = list(profile.get("baseline_datasets") or profile["datasets"])
    extra = [d for d in names if d not in profile["datasets"]]
    if extra:
        raise InvalidParameterError(f"profile {profile['profile']!r}: baseline_datasets "
                                    f"{', '.join(extra)} are not among its datasets")
    return names


def _baseline_stage(profile: Mapping[str, Any], sizes: Mapping[str, int | None],
                    skipped: dict[str, str]) -> dict[str, Any]:
    """Jobs of the deep-clustering baselines (`baselines: [n2d, kingdra]`), trained on the target:
    each on the same subsample the encoders cluster. A baseline that cannot run on a dataset
    here (N2D without a pretrained autoencoder for it) is left out with its reason."""
    from .baselines import get_baseline

    entries = []
    for name in profile.get("baselines") or []:
        spec = get_baseline(name)
        for ds in baseline_datasets(profile):
            why = spec.unavailable(ds) if ds in sizes else None
            if why:
                skipped[f"{name} on {ds}"] = why
            elif ds in sizes:
                entries.append({"baseline": name, "dataset": ds, "n_samples": sizes[ds]})
    return {"kind": "baseline", "params": {"seed": int(profile["seed"])}, "list": entries}


def notebook_parameters(profile: Mapping[str, Any]) -> dict[str, Any]:
    """What every chapter is executed with: the profile (its values travel in the provenance)."""
    return {"profile": str(profile.get("path", profile["profile"])),
            "results_dir": str(profile["results_dir"])}
