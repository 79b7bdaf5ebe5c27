"""Grid files: stages of jobs and their parameter axes, expanded into keyed jobs (nothing runs).

A grid file (YAML) names job stages and their parameter axes::

    name: smoke
    results: _build/results/smoke      # stores: <results>/clustering and <results>/knn
    output: _build/results/smoke/batch # job records, executed notebooks (default: <results>/batch)
    profile: smoke                     # optional: embed / cluster / knn stages of a book profile
    stages:
      - kind: cluster                  # embed | cluster | knn | notebook | baseline
        params: {n_samples: 200, seed: 0}                     # every job of the stage
        product: {encoder: [pixels], clusterer: [kmeans, hdbscan]}  # every combination
        list: [{dataset: digits}, {dataset: fashion_mnist}]   # explicit entries (x product)
      - kind: notebook
        notebook: notebooks/02_embed_and_cluster.md
        product: {showcase_dataset: [digits, fashion_mnist]}

A job's identity is the hash of its kind, parameters, notebook text, zsc version and the
fingerprint of the datasets it reads.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import config, notebooks, profiles, resources
from .._version import __version__
from ..errors import InvalidParameterError, ZscError
from ..io import config_hash
from .jobs import JOB_KINDS, JobKind


@dataclasses.dataclass(frozen=True)
class Job:
    """One unit of work: a kind, its parameters, and its identity (`key`)."""

    kind: str
    params: dict[str, Any]
    key: str
    slug: str  # path-safe name made of the parameters that vary across the stage
    stage: int

    @property
    def name(self) -> str:
        return f"{self.kind} {self.slug}"


@dataclasses.dataclass
class Grid:
    name: str
    results: Path
    output: Path
    jobs: list[Job]
    skipped: dict[str, str]  # what could not become a job here (encoder / dataset: why)
    invalid: dict[str, str]  # jobs rejected before execution: name -> message
    # left out on purpose where the grid runs (not a failure): what -> why
    notes: dict[str, str] = dataclasses.field(default_factory=dict)


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def expand_stage(stage: Mapping[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(parameters, varying parameters) of every job of one stage: `params`, times the product
    of the `product` axes, times the `list` entries."""
    base = dict(stage.get("params") or {})
    axes = {k: _as_list(v) for k, v in (stage.get("product") or {}).items()}
    entries = [dict(e) for e in stage.get("list") or [{}]]
    out = []
    for combo in itertools.product(*axes.values()):
        point = dict(zip(axes, combo, strict=True))
        for entry in entries:
            out.append(({**base, **point, **entry}, {**point, **entry}))
    return out


def _slug(varying: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    parts = [f"{k}={v if isinstance(v, (str, int, float)) else config_hash({'v': v}, 6)}"
             for k, v in varying.items()] or ["job"]
    text = re.sub(r"[^A-Za-z0-9=.,_-]+", "-", ",".join(parts))
    if len(text) > 120:
        text = text[:100] + "-" + config_hash(dict(params), 8)
    return text


def job_key(kind: str, params: Mapping[str, Any]) -> str:
    """Hash of (kind, parameters, notebook text, zsc version, fingerprints of the datasets read,
    the encoder's weights id)."""
    from ..data import fingerprint

    datasets = sorted({str(v) for k, v in params.items() if k == "dataset" or k.endswith("_dataset")})
    data = {}
    for d in datasets:
        try:
            data[d] = fingerprint(d)
        except Exception as err:  # unknown or absent: the job itself will fail and say so
            data[d] = f"unavailable: {type(err).__name__}"
    ident: dict[str, Any] = {"kind": kind, "params": dict(params), "zsc_version": __version__,
                             "data": data}
    if "encoder" in params:  # new weights under an old name (a retrained zoo member) rerun its jobs
        ident["weights"] = _weights_id(str(params["encoder"]))
    hook = JOB_KINDS.get(kind).ident
    if hook is not None:  # what else the kind's result depends on (a notebook's text, ...)
        ident.update(hook(params))
    return config_hash(ident, length=20)


def _weights_id(encoder: str) -> str:
    from ..encoders import get_encoder

    try:
        return get_encoder(encoder).weights_id
    except Exception as err:  # unknown encoder: the job itself fails and says so
        return f"unavailable: {type(err).__name__}"


def _resolve(path: str | os.PathLike[str], base: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else base / p


def find_grid(name_or_path: str) -> Path:
    """A grid file by path, or a shipped grid by name (`zsc/resources/grids/<name>.yaml`)."""
    return resources.find("grids", name_or_path, "grid")


def load_grid(name_or_path: str, *, results: str | None = None,
              output: str | None = None) -> Grid:
    """Read a grid file and expand it into jobs (validated, keyed; nothing is run)."""
    import yaml

    path = find_grid(name_or_path)
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise InvalidParameterError(f"grid file {path} is not valid YAML: {err}") from None
    if not isinstance(spec, Mapping):
        raise InvalidParameterError(f"grid file {path} must be a mapping with 'stages'")
    name = str(spec.get("name", path.stem))
    stages = list(spec.get("stages") or [])
    skipped: dict[str, str] = {}
    prof = None
    if spec.get("profile"):
        prof = profiles.load_profile(str(spec["profile"]))
        pstages, skipped = profiles.stages(prof)
        stages = pstages + stages
    # paths in a shipped grid are relative to the book project (or the working directory
    # outside one), in a grid file to the file; paths given on the command line to the
    # working directory
    shipped = path.resolve().is_relative_to(resources.path("grids").resolve())
    base = config.base_dir() if shipped else path.parent
    res_dir = spec.get("results") or (prof["results_dir"] if prof else f"_build/results/{name}")
    if not stages:
        raise InvalidParameterError(f"grid file {path} has no stages (and no profile)")
    res_path = Path(results).resolve() if results else _resolve(res_dir, base)
    out_path = Path(output).resolve() if output else _resolve(spec.get("output") or res_path / "batch", base)
    notes: dict[str, str] = {}
    if shipped and config.project_root() is None:  # an installed package: no chapters here
        for i, st in enumerate(stages):
            if st.get("kind") == "notebook":
                notes[f"stage {i + 1} (notebook {st.get('notebook')})"] = (
                    f"not run: no book project around {Path.cwd()} (the chapters come with a "
                    "checkout of zsc, not with the package); run inside a checkout to execute it")
        stages = [st for st in stages if st.get("kind") != "notebook"]
    stages = [_reads_grid_results(st, str(res_dir), res_path) for st in stages]
    jobs, invalid = expand(stages)
    return Grid(name, res_path, out_path, jobs, skipped, invalid, notes)


def _reads_grid_results(stage: Mapping[str, Any], written: str, res_path: Path) -> Mapping[str, Any]:
    """A notebook stage whose `results_dir` names the grid's own results folder reads the
    folder the grid writes (so `--results DIR` reaches the chapter, not only the jobs)."""
    if stage.get("kind") != "notebook":
        return stage
    params = dict(stage.get("params") or {})
    if params.get("results_dir") not in (None, "") and str(params["results_dir"]) == written:
        params["results_dir"] = str(res_path)
        return {**stage, "params": params}
    return stage


def expand(stages: Sequence[Mapping[str, Any]]) -> tuple[list[Job], dict[str, str]]:
    """Jobs of every stage, and the jobs rejected before execution (name -> why)."""
    jobs: list[Job] = []
    invalid: dict[str, str] = {}
    seen: set[str] = set()
    for i, stage in enumerate(stages):
        kind = JOB_KINDS.get(str(stage.get("kind", "")))
        extra = set(stage) - {"kind", "params", "product", "list", "notebook"}
        if extra:
            raise InvalidParameterError(
                f"stage {i + 1} ({kind.name}): unknown key(s) {', '.join(sorted(extra))}; "
                "a stage has kind, params, product, list (and notebook)")
        for j, (params, varying) in enumerate(expand_stage(stage)):
            if kind.name == "notebook":
                params = {"notebook": stage.get("notebook"), "parameters": params}
            slug = _slug(varying, params)
            try:
                check_job(kind, params)
            except ZscError as err:
                invalid[f"stage {i + 1} job {j + 1} ({kind.name} {slug})"] = str(err)
                continue
            if kind.name == "notebook":
                params["slug"] = slug
            key = job_key(kind.name, params)
            if key not in seen:
                seen.add(key)
                jobs.append(Job(kind.name, params, key, slug, i))
    return jobs, invalid


def check_job(kind: JobKind, params: Mapping[str, Any]) -> None:
    """Reject a job before execution: missing or unknown parameters, unknown names, or notebook
    parameters the notebook does not declare or of the wrong type."""
    if kind.name == "notebook":
        nb = params.get("notebook")
        if not nb:
            raise InvalidParameterError("a notebook stage needs 'notebook: PATH'")
        notebooks.check_parameters(notebooks.resolve(nb), params["parameters"])
        return
    missing = [k for k in kind.required if k not in params]
    unknown = [k for k in params if k not in kind.required + kind.optional]
    if missing or unknown:
        raise InvalidParameterError(
            f"{kind.name} job: " + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else [])
                + ([f"unknown parameter(s) {', '.join(unknown)}"] if unknown else []))
            + f" (accepted: {', '.join(kind.required + kind.optional)})")
    from ..data import get_dataset
    from ..encoders import get_encoder

    if "encoder" in kind.required:
        get_encoder(str(params["encoder"]))
    spec = get_dataset(str(params["dataset"]))
    check_values(kind.name, params)
    if params.get("split") is not None and params["split"] not in spec.splits:
        raise InvalidParameterError(f"{kind.name} job: dataset {spec.name!r} has no split "
                                    f"{params['split']!r} (its splits: {', '.join(spec.splits)})")
    if kind.check is not None:
        kind.check(params)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _positive(v: Any) -> bool:
    return _is_int(v) and v >= 1


def _is_size(v: Any) -> bool:
    from ..cluster.memory import is_size

    return is_size(v)


# Each value a grid may set, with the rule it must follow (checked before any job runs).
_VALUE_RULES: dict[str, tuple[Any, str]] = {
    "n_samples": (lambda v: v is None or _positive(v), "a whole number of at least 1, or null for all"),
    "n_train": (lambda v: v is None or _positive(v), "a whole number of at least 1, or null for all"),
    "seed": (lambda v: _is_int(v) and v >= 0, "a whole number of at least 0"),
    "ks": (lambda v: isinstance(v, list) and bool(v) and all(_positive(k) for k in v),
           "a non-empty list of whole numbers of at least 1, e.g. [1, 10, 20]"),
    "umap": (lambda v: isinstance(v, bool), "true or false"),
    "split": (lambda v: v is None or isinstance(v, str), "a split name such as test or train"),
    "device": (lambda v: v is None or isinstance(v, str), "a device name such as cpu or cuda:0"),
    "params": (lambda v: v is None or isinstance(v, Mapping), "a mapping of clusterer parameters"),
    "options": (lambda v: v is None or isinstance(v, Mapping), "a mapping of baseline options"),
    "train": (lambda v: isinstance(v, bool), "true or false"),
    "precision": (lambda v: v in (None, "fp32", "fp16", "bf16"), "fp32, fp16 or bf16"),
    "max_memory": (lambda v: v is None or _is_size(v),
                   "a size such as 64GiB, 500MB or 12G, a whole number of bytes, or null for "
                   "this machine's memory"),
}


def check_values(kind: str, params: Mapping[str, Any]) -> None:
    """Type and range of every value of a job (one line naming the value and the rule)."""
    for key, value in params.items():
        rule = _VALUE_RULES.get(key)
        if rule and not rule[0](value):
            raise InvalidParameterError(f"{kind} job: {key} must be {rule[1]}, got {value!r}")
    red = params.get("reducer")
    if red is not None:
        from ..reduce import ReducerConfig

        if not isinstance(red, (str, Mapping)):
            raise InvalidParameterError(f"{kind} job: reducer must be a name (none, pca, umap, "
                                        f"pacmap) or a mapping like {{method: umap, n_components: "
                                        f"50}}, got {red!r}")
        try:
            ReducerConfig(**red) if isinstance(red, Mapping) else ReducerConfig(red)
        except TypeError as err:
            raise InvalidParameterError(f"{kind} job: reducer {dict(red)!r}: {err}") from None
