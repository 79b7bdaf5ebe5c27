"""Executing one chapter: read its jupytext source, check its parameters, run it with papermill.

Knows nothing of grids or profiles: the batch runner and the book build both call it.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from . import config
from .errors import InvalidParameterError, ZscError
from .versions import versions_text

KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


class NotebookError(ZscError, RuntimeError):
    """A chapter failed or could not be executed; the message names the cell and the copy."""


def notebooks_dir() -> Path:
    """The project's `notebooks/` folder (a book is built from a checkout of the project)."""
    root = config.project_root()
    if root is None:
        raise NotebookError(
            f"no book project around {Path.cwd()}: the chapters live in a checkout of zsc "
            "(a folder with _config.yml and notebooks/); run this from inside one")
    return root / "notebooks"


def sources() -> list[Path]:
    """The chapters' sources, in book order."""
    return sorted(notebooks_dir().glob("[0-9][0-9]_*.md"))


def resolve(src: str | os.PathLike[str]) -> Path:
    """A chapter by path, by file name or by name without number (`taxonomy`, `05_taxonomy`)."""
    path = Path(src)
    if path.is_file():
        return path
    if not path.is_absolute() and path.parts[:1] == ("notebooks",):
        path = notebooks_dir().parent / path
        if path.is_file():
            return path
    stem = Path(src).stem
    chapters = sources()
    for c in chapters:
        if stem in (c.stem, c.stem.split("_", 1)[1]):
            return c
    raise InvalidParameterError(f"no notebook {str(src)!r}; chapters: "
                                + ", ".join(c.stem for c in chapters))


def parameter_defaults(src: Path) -> dict[str, Any]:
    """Names and default values of a notebook's `parameters` cell (literals only)."""
    import jupytext

    for cell in jupytext.read(src).cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            out = {}
            for node in ast.parse(cell.source).body:
                if (isinstance(node, ast.Assign) and len(node.targets) == 1
                        and isinstance(node.targets[0], ast.Name)):
                    out[node.targets[0].id] = ast.literal_eval(node.value)
            return out
    return {}


def check_parameters(src: Path, parameters: Mapping[str, Any]) -> None:
    """Refuse, before execution, a parameter the notebook does not declare or one whose type
    differs from its default's (an int may stand for a float; a None default accepts a string)."""
    if not Path(src).exists():
        raise InvalidParameterError(f"notebook {src} does not exist")
    defaults = parameter_defaults(Path(src))
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


# A chapter reads as findings with code on demand: every code cell's input is folded behind a
# toggle unless its cell says otherwise; papermill's injected-parameters cell is removed (its
# values are in the provenance box), like the parameters cell it follows.
KEEP_TAGS = frozenset({"remove-cell", "remove-input", "hide-input", "hide-cell"})


def present(nb: Any) -> Any:
    """Tag the cells of an executed notebook for the book (in place; returns `nb`)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        elif not KEEP_TAGS.intersection(tags):
            tags.append("hide-input")
        cell.metadata["tags"] = tags
    return nb


def stamp(path: Path, prov: Mapping[str, Any] | None) -> None:
    """Tag the cells for the book (`present`) and write provenance into the notebook's metadata
    and a last, visible cell."""
    import nbformat

    nb = present(nbformat.read(path, as_version=4))
    if prov is None:
        nbformat.write(nb, path)
        return
    nb.metadata["zsc_provenance"] = dict(prov)
    text = (
        "```{admonition} Provenance\n:class: note\n"
        f"Built with zsc {prov['zsc_version']} at commit `{prov['git_commit']}`"
        + (" (**from a working tree with uncommitted changes**: this page need not match that "
           "commit)" if str(prov["git_commit"]).endswith("+dirty") else "") + ", profile "
        f"`{prov['profile']}`; results read: {prov['results_rows']} clustering rows "
        f"(hash `{prov['results_hash']}`), {prov['knn_rows']} kNN rows (hash `{prov['knn_hash']}`). "
        f"Parameters: `{json.dumps(prov['parameters'], sort_keys=True)}`."
        + (f" Software: {versions_text(prov['versions'])}." if prov.get("versions") else "")
        + "\n```"
    )
    nb.cells.append(nbformat.v4.new_markdown_cell(text, metadata={"tags": ["provenance"]}))
    nbformat.write(nb, path)


@contextlib.contextmanager
def kernel_stderr_muted() -> Iterator[None]:
    """The kernel inherits this process's stderr: point it elsewhere while the kernel starts
    and runs, so its own chatter (and its tracebacks when Ctrl-C ends the run) never reach
    the terminal; a failing cell is reported by papermill, in one line, as before."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to mute
        yield
        return
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def execute(src: Path, out: Path, parameters: Mapping[str, Any],
            prov: Mapping[str, Any] | None = None, timeout: int = 3600) -> Path:
    """Execute one jupytext notebook with papermill into the file `out`; raise NotebookError on
    failure. It runs into `<out>.partial.ipynb`, renamed to `out` only when it succeeded."""
    import jupytext
    import papermill as pm

    src = Path(src).resolve()
    check_parameters(src, parameters)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(out)
    nb = jupytext.read(src)  # papermill reads JSON only: the MyST text is converted in memory
    nb.metadata["kernelspec"] = dict(KERNEL)
    try:
        with kernel_stderr_muted():
            pm.execute_notebook(nb, str(partial), parameters=dict(parameters),
                                kernel_name=KERNEL["name"], cwd=str(src.parent),
                                progress_bar=False, execution_timeout=timeout)
    except pm.PapermillExecutionError as err:
        raise NotebookError(
            f"notebook {src.name} failed in cell {err.exec_count}: {err.ename}: "
            f"{err.evalue} (partly executed copy: {partial})") from None
    except Exception as err:
        raise NotebookError(f"notebook {src.name} could not be executed: {err} (partly "
                            f"executed copy, if any: {partial})") from err
    stamp(partial, prov)
    os.replace(partial, out)
    return out
