"""Build the companion book: compute the profile's results, execute every notebook, build the site.

    python -m zsc.book build [--profile offline|paper|smoke] [--no-site] [--no-compute]

1. Results: every encoder x dataset of the profile is run through `zsc.pipeline.run` (rows whose
   configuration is already in the store are skipped), and kNN accuracy is stored per
   encoder x dataset in a second store (`<results_dir>/knn`). Encoders whose weights are not
   available here are skipped with a note.
2. Notebooks: each `notebooks/*.md` (jupytext MyST) is executed by papermill with the profile as
   parameters into `_build/notebooks/<name>.ipynb`; provenance (zsc version, git commit,
   parameters, hash of the results read) goes into the notebook's metadata and a final cell.
   A failing notebook fails the build, naming it and its partly executed copy.
3. Site: `jupyter-book build` (1.x only; 2.x is refused) into `_build/html`, warnings as errors.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__
from .errors import InvalidParameterError, UnknownNameError, ZscError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PROFILES = ROOT / "profiles"
BUILD = ROOT / "_build"
DEFAULT_KS = (1, 10, 20, 100, 200)


class BuildError(ZscError, RuntimeError):
    """The book could not be built; the message says which step and where to look."""


class UnknownProfileError(BuildError, UnknownNameError):
    """No profile of that name; the message lists the known ones and the closest match."""


# --------------------------------------------------------------------------- profiles
def load_profile(name_or_path: str) -> dict[str, Any]:
    """A profile (parameter file) by name (`profiles/<name>.yaml`) or path, with defaults."""
    import yaml

    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILES / f"{name_or_path}.yaml"
    if not path.exists():
        import difflib

        names = sorted(p.stem for p in PROFILES.glob("*.yaml"))
        close = difflib.get_close_matches(str(name_or_path), names, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownProfileError(f"no profile {name_or_path!r}.{hint} Known profiles: "
                                  f"{', '.join(names)} (or give the path of a .yaml file)")
    prof = yaml.safe_load(path.read_text()) or {}
    prof.setdefault("profile", path.stem)
    prof.setdefault("seed", 0)
    prof.setdefault("knn_ks", list(DEFAULT_KS))
    prof.setdefault("knn_n_train", prof.get("n_samples"))
    prof.setdefault("results_dir", f"_build/results/{prof['profile']}")
    missing = [k for k in ("encoders", "datasets", "clusterers", "n_samples") if k not in prof]
    if missing:
        raise BuildError(f"profile {path} lacks {', '.join(missing)}")
    return prof


def results_paths(profile: Mapping[str, Any]) -> tuple[Path, Path]:
    """(clustering store, kNN store) of a profile; relative results_dir is under the repo root."""
    base = Path(profile["results_dir"])
    base = base if base.is_absolute() else ROOT / base
    return base / "clustering", base / "knn"


def available_encoders(names: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(usable encoder names, {skipped name: why}) — unregistered or weights not local."""
    from .encoders import ENCODERS

    usable, skipped = [], {}
    for name in names:
        try:
            spec = ENCODERS.get(name)
        except Exception:
            skipped[name] = "not registered in this version of zsc"
            continue
        try:
            ok = bool(spec.weights_available())
        except Exception as err:  # a probe that fails is treated as unavailable
            ok, why = False, f"weights check failed ({err})"
        else:
            why = "weights not available here"
        if ok:
            usable.append(name)
        else:
            skipped[name] = why
    return usable, skipped


def skip_note(skipped: Mapping[str, str]) -> str:
    if not skipped:
        return "All encoders of the profile were available."
    return "Skipped encoders (not in these results): " + "; ".join(
        f"{k} ({v})" for k, v in skipped.items())


# --------------------------------------------------------------------------- results
def ensure_results(profile: Mapping[str, Any], *, encoders: Sequence[str] | None = None,
                   datasets: Sequence[str] | None = None, knn: bool = True, jobs: int = 1,
                   progress: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the profile's batch grid (embed, cluster, kNN jobs; done jobs are skipped) and return
    a summary. Failed jobs fail the build, naming each job and its message."""
    from .batch import Grid, expand, profile_stages, run_grid

    prof = dict(profile, knn=knn)
    if encoders is not None:
        prof["encoders"] = list(encoders)
    if datasets is not None:
        prof["datasets"] = list(datasets)
    stages, skipped = profile_stages(prof)
    for name, why in skipped.items():
        log(f"[zsc.book] skipping {name}: {why}")
    jobs_, invalid = expand(stages)
    clu_path, knn_path = results_paths(profile)
    grid = Grid(str(profile["profile"]), clu_path.parent, clu_path.parent / "batch", jobs_,
                skipped, invalid)
    summary = run_grid(grid, jobs=jobs, progress=progress)
    log(f"[zsc.book] results: {summary.done} job(s) run, {summary.skipped} already done, "
        f"in {summary.seconds:.0f}s")
    if summary.failed:
        raise BuildError("results could not be computed:\n" + summary.table())
    return {"computed": summary.done, "skipped": skipped, "clustering_store": str(clu_path),
            "knn_store": str(knn_path)}


def load_results(profile: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(clustering rows, kNN rows) of the profile's stores, restricted to the profile's
    encoders, datasets, clusterers and seed (a store shared by profiles stays correct)."""
    from .results import ResultsStore

    clu_path, knn_path = results_paths(profile)
    res, knn = ResultsStore(clu_path).read(), ResultsStore(knn_path).read()

    def keep(df: pd.DataFrame, clusterers: bool) -> pd.DataFrame:
        if df.empty:
            return df
        m = df["encoder"].isin(profile["encoders"]) & df["dataset"].isin(profile["datasets"])
        m &= df["seed"] == int(profile["seed"])
        if clusterers:
            m &= df["clusterer"].isin(profile["clusterers"])
        return df[m].reset_index(drop=True)

    return keep(res, True), keep(knn, False)


# --------------------------------------------------------------------------- provenance
def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "zsc",
                                "notebooks", "profiles"], capture_output=True, text=True, timeout=10)
        sha = out.stdout.strip() or "unknown"
        return sha + ("+dirty" if dirty.stdout.strip() else "")
    except Exception:
        return "unknown"


def provenance(profile: Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    from .analysis import frame_hash

    res, knn = load_results(profile)
    return {
        "zsc_version": __version__,
        "git_commit": git_commit(),
        "profile": profile["profile"],
        "parameters": dict(parameters),
        "results_rows": int(len(res)),
        "results_hash": frame_hash(res),
        "knn_rows": int(len(knn)),
        "knn_hash": frame_hash(knn),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _stamp(path: Path, prov: Mapping[str, Any]) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata["zsc_provenance"] = dict(prov)
    text = (
        "```{admonition} Provenance\n:class: note\n"
        f"Built with zsc {prov['zsc_version']} at commit `{prov['git_commit']}`, profile "
        f"`{prov['profile']}`; results read: {prov['results_rows']} clustering rows "
        f"(hash `{prov['results_hash']}`), {prov['knn_rows']} kNN rows (hash `{prov['knn_hash']}`). "
        f"Parameters: `{json.dumps(prov['parameters'], sort_keys=True)}`.\n```"
    )
    nb.cells.append(nbformat.v4.new_markdown_cell(text, metadata={"tags": ["provenance"]}))
    nbformat.write(nb, path)


# --------------------------------------------------------------------------- notebooks
def notebook_parameters(profile: Mapping[str, Any]) -> dict[str, Any]:
    show = profile.get("showcase", {})
    return {
        "profile": str(profile["profile"]),
        "encoders": list(profile["encoders"]),
        "datasets": list(profile["datasets"]),
        "clusterers": list(profile["clusterers"]),
        "n_samples": profile["n_samples"],
        "seed": int(profile["seed"]),
        "results_dir": str(profile["results_dir"]),  # relative paths are to the repo root
        "knn_ks": [int(k) for k in profile["knn_ks"]],
        "showcase_encoder": show.get("encoder", profile["encoders"][0]),
        "showcase_dataset": show.get("dataset", profile["datasets"][0]),
        "showcase_clusterer": show.get("clusterer", profile["clusterers"][0]),
    }


def notebook_sources() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md"))


def notebook_parameter_defaults(src: Path) -> dict[str, Any]:
    """Names and default values of a notebook's `parameters` cell (literals only)."""
    import ast

    import jupytext

    nb = jupytext.read(src)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            out = {}
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    out[node.targets[0].id] = ast.literal_eval(node.value)
            return out
    return {}


def check_notebook_parameters(src: Path, parameters: Mapping[str, Any]) -> None:
    """Refuse, before execution, a parameter the notebook does not declare or one whose type
    differs from its default's (an int may stand for a float; None accepts anything)."""
    if not Path(src).exists():
        raise InvalidParameterError(f"notebook {src} does not exist")
    defaults = notebook_parameter_defaults(Path(src))
    name = Path(src).name
    for key, value in parameters.items():
        if key not in defaults:
            raise InvalidParameterError(
                f"notebook {name}: unknown parameter {key!r} (its parameters: {', '.join(defaults)})")
        want = defaults[key]
        if want is None or value is None:
            continue
        ok = isinstance(value, type(want)) or (isinstance(want, float) and isinstance(value, int)
                                              and not isinstance(value, bool))
        if isinstance(want, bool) != isinstance(value, bool):
            ok = False
        if not ok:
            raise InvalidParameterError(
                f"notebook {name}: parameter {key!r} must be {type(want).__name__} like its "
                f"default {want!r}, got {type(value).__name__} {value!r}")


def partial_path(out: Path) -> Path:
    """Where a notebook being executed (or one that failed) is kept: never the final name."""
    return out.with_name(out.stem + ".partial.ipynb")


def execute_notebook(src: Path, out: Path, parameters: Mapping[str, Any],
                     prov: Mapping[str, Any] | None = None, timeout: int = 3600) -> Path:
    """Execute one jupytext notebook with papermill into the file `out`; raise BuildError on
    failure. It runs into `<out>.partial.ipynb`, renamed to `out` only when it succeeded."""
    import jupytext
    import papermill as pm

    check_notebook_parameters(src, parameters)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(out)
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    where = src.relative_to(ROOT) if src.is_relative_to(ROOT) else src
    try:
        pm.execute_notebook(nb, str(partial), parameters=dict(parameters), kernel_name="python3",
                            cwd=str(NOTEBOOKS), progress_bar=False, execution_timeout=timeout)
    except pm.PapermillExecutionError as err:
        raise BuildError(
            f"notebook {where} failed in cell {err.exec_count}: {err.ename}: "
            f"{err.evalue}\n  partly executed copy: {partial}") from None
    except Exception as err:
        raise BuildError(f"notebook {where} could not be executed: {err}\n"
                         f"  partly executed copy (if any): {partial}") from err
    if prov is not None:
        _stamp(partial, prov)
    os.replace(partial, out)
    return out


def execute_all(profile: Mapping[str, Any], out_dir: Path | None = None,
                log: Callable[[str], None] = print) -> list[Path]:
    out_dir = out_dir or BUILD / "notebooks"
    params = notebook_parameters(profile)
    write_summary(profile, out_dir / "_summary.md")
    outs = []
    for src in notebook_sources():
        t0 = time.perf_counter()
        prov = provenance(profile, params)  # results as this notebook reads them
        outs.append(execute_notebook(src, out_dir / f"{src.stem}.ipynb", params, prov))
        log(f"[zsc.book] executed {src.name} in {time.perf_counter() - t0:.0f}s")
    return outs


def summary_markdown(profile: Mapping[str, Any]) -> str:
    """What this build computed, in a few sentences (for the book's introduction)."""
    from . import analysis

    res, knn = load_results(profile)
    usable, skipped = available_encoders(profile["encoders"])
    lines = [
        f"This build used profile **`{profile['profile']}`**: {profile.get('description', '')}",
        "",
        f"- Encoders: {', '.join(f'`{e}`' for e in usable) or 'none'}.",
        f"- Datasets: {', '.join(f'`{d}`' for d in profile['datasets'])}; "
        f"{profile['n_samples'] or 'all'} test images each, seed {profile['seed']}.",
        f"- Clusterers: {', '.join(f'`{c}`' for c in profile['clusterers'])}.",
        f"- Results read: {len(res)} clustering rows, {len(knn)} kNN rows.",
    ]
    if skipped:
        lines.append(f"- {skip_note(skipped)}")
    if not res.empty:
        best_enc = analysis.mean_rank(analysis.rank_per_dataset(res, by="encoder"))
        best_clu = analysis.mean_rank(analysis.rank_per_dataset(res, by="clusterer"))
        lines.append(f"- Best encoder by mean AMI rank over datasets: `{best_enc.index[0]}` "
                     f"(rank {best_enc.iloc[0]:.1f}); best clusterer: {best_clu.index[0]} "
                     f"(rank {best_clu.iloc[0]:.1f}).")
        sc = analysis.silhouette_correlation(res)
        if not sc.empty:
            med = sc.groupby("space")["spearman"].median()
            lines.append("- Median Spearman correlation of silhouette with AMI over clusterers: "
                         + ", ".join(f"{k} space {v:.2f}" for k, v in med.items()) + ".")
        if not knn.empty:
            corr = analysis.spearman_ami_knn(res, knn, by=None)
            if not corr.empty and corr["spearman"].notna().any():
                lines.append(f"- Median Spearman correlation of AMI with kNN accuracy, all "
                             f"encoders pooled: {corr['spearman'].median():.2f} (the paper, per "
                             "backbone: 0.33–0.54).")
    lines += ["", "These numbers are this build's, on its small offline datasets and sample "
              "sizes; they are not the paper's and need not agree with them."]
    return "\n".join(lines) + "\n"


def write_summary(profile: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(summary_markdown(profile))
    return path


# --------------------------------------------------------------------------- site
def jupyter_book_version() -> str:
    exe = shutil.which("jupyter-book", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                             os.environ.get("PATH", "")]))
    if exe is None:
        raise BuildError("jupyter-book is not installed: pip install 'jupyter-book>=1.0.4,<2'")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True)
    text = out.stdout + out.stderr
    for line in text.splitlines():
        if line.lower().startswith("jupyter book"):
            return line.split(":", 1)[-1].strip()
    return text.strip().split()[-1] if text.strip() else "unknown"


def check_jupyter_book() -> str:
    ver = jupyter_book_version()
    major = ver.lstrip("v").split(".")[0]
    if not major.isdigit() or int(major) != 1:
        raise BuildError(
            f"jupyter-book {ver} found, but this book needs Jupyter Book 1.x "
            "(pip install 'jupyter-book>=1.0.4,<2'); 2.x (mystmd) cannot build a _config.yml "
            "book offline and has been seen to exit green with no HTML")
    return ver


def build_site(log: Callable[[str], None] = print) -> Path:
    check_jupyter_book()
    exe = str(Path(sys.executable).parent / "jupyter-book")
    if not Path(exe).exists():
        exe = "jupyter-book"
    cmd = [exe, "build", str(ROOT), "--builder", "html", "-W", "-n", "--keep-going"]
    log("[zsc.book] " + " ".join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True)
    html = BUILD / "html"
    if out.returncode != 0 or not (html / "index.html").exists():
        lines = (out.stdout + out.stderr).splitlines()
        problems = [ln for ln in lines if "WARNING" in ln or "ERROR" in ln or "Error" in ln]
        tail = "\n".join(problems[:30] + ["..."] + lines[-10:])
        raise BuildError(f"jupyter-book build failed (exit {out.returncode}):\n{tail}")
    return html


def build(profile_name: str = "offline", *, compute: bool = True, site: bool = True,
          log: Callable[[str], None] = print) -> dict[str, Any]:
    t0 = time.perf_counter()
    if site:
        check_jupyter_book()  # fail before any expensive work
    profile = load_profile(profile_name)
    summary: dict[str, Any] = {"profile": profile["profile"]}
    if compute:
        summary.update(ensure_results(profile, log=log))
    summary["notebooks"] = [str(p) for p in execute_all(profile, log=log)]
    if site:
        summary["html"] = str(build_site(log=log))
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m zsc.book", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="compute results, execute notebooks, build the site")
    b.add_argument("--profile", default="offline", help="offline | paper | smoke | path to a .yaml")
    b.add_argument("--no-compute", action="store_true", help="only read the existing results")
    b.add_argument("--no-site", action="store_true", help="execute notebooks, skip jupyter-book")
    args = ap.parse_args(argv)
    try:
        summary = build(args.profile, compute=not args.no_compute, site=not args.no_site)
    except BuildError as err:
        print(f"zsc.book: error: {err}", file=sys.stderr)
        return 2
    print(f"[zsc.book] done in {summary['seconds']}s; site: {summary.get('html', '(not built)')}")
    return 0



# --------------------------------------------------------------------------- notebook helpers
def caption(number: str, text: str, *, profile: str, data: str, **params: Any) -> Any:
    """A figure caption (Markdown) stating the profile, its parameters and the data shown."""
    from IPython.display import Markdown

    ps = ", ".join(f"{k}={v}" for k, v in params.items())
    return Markdown(f"**Figure {number}.** {text} *Profile* `{profile}`"
                    + (f"; *parameters*: {ps}" if ps else "") + f"; *data*: {data}.")


if __name__ == "__main__":
    sys.exit(main())
