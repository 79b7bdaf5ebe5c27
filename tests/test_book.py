"""The book: every notebook executes under the smoke profile, parameters are injected, the
jupytext sources round-trip, and (slow) the site builds and every page renders."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import jupytext
import nbformat
import pandas as pd
import papermill as pm
import pytest
import yaml

from zsc import config, notebooks, profiles
from zsc.errors import UnknownNameError
from zsc.profile_results import ProfileResults
from zsc.report import build as book
from zsc.report import prose

ROOT = Path(__file__).resolve().parents[1]
SOURCES = notebooks.sources()
NAMES = [p.stem for p in SOURCES]


def test_every_notebook_is_listed_in_the_toc_once():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]] + [toc["root"]]
    numbered = [part for part in toc["parts"] if part.get("numbered")]
    # the sidebar's numbers are the files' (the prose says "chapter 6")
    assert [int(Path(c["file"]).name[:2]) for c in numbered[0]["chapters"]] == list(
        range(1, len(numbered[0]["chapters"]) + 1)) and len(numbered) == 1
    assert len(files) == len(set(files))
    for name in NAMES:
        assert f"_build/notebooks/{name}" in files
    assert not any(f.startswith("notebooks/") for f in files)  # only the executed copies


def without_tool_version(text: str) -> str:
    """A jupytext text without the version of jupytext that last wrote it (a new release of the
    tool changes that line, not the notebook)."""
    return re.sub(r"(?m)^ *jupytext_version: .*\n", "", text)


def test_without_tool_version_removes_only_that_line():
    head = "jupytext:\n  text_representation:\n    format_version: 0.13\n"
    assert without_tool_version(head + "    jupytext_version: 1.19.6\n") == head
    assert without_tool_version(head + "x = 'jupytext_version: 1'\n") == head + "x = 'jupytext_version: 1'\n"


@pytest.mark.parametrize("src", SOURCES, ids=NAMES)
def test_jupytext_round_trip_leaves_source_unchanged(src):
    text = without_tool_version(src.read_text())
    assert without_tool_version(jupytext.writes(jupytext.read(src), fmt="md:myst")) == text
    exe = shutil.which("jupytext") or str(Path(os.sys.executable).parent / "jupytext")
    out = subprocess.run([exe, "--to", "md", "--output", "-", str(src)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert without_tool_version(out.stdout) == text


@pytest.mark.parametrize("src", SOURCES, ids=NAMES)
def test_parameters_are_injected(src, tmp_path):
    nb = jupytext.read(src)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    out = tmp_path / f"{src.stem}.ipynb"
    pm.execute_notebook(nb, str(out), parameters={"profile": "injected", "results_dir": "/r"},
                        prepare_only=True, kernel_name="python3", progress_bar=False)
    got = nbformat.read(out, as_version=4)
    inj = got.cells[tagged[0] + 1]
    assert "injected-parameters" in inj.metadata.get("tags", [])
    assert 'profile = "injected"' in inj.source and 'results_dir = "/r"' in inj.source
    # for the book: both parameter cells removed, every other code input folded behind a toggle
    notebooks.present(got)
    assert "remove-cell" in inj.metadata["tags"] and "remove-cell" in got.cells[tagged[0]].metadata["tags"]
    for cell in got.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "remove-cell" not in tags:
            assert "hide-input" in tags, cell.source[:80]


def test_present_keeps_a_cells_own_visibility_tag():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("a = 1", metadata={"tags": ["remove-input"]}),
        nbformat.v4.new_code_cell("b = 2", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("c = 3"),
        nbformat.v4.new_markdown_cell("text")])
    tags = [c.metadata.get("tags", []) for c in notebooks.present(nb).cells]
    assert tags == [["remove-input"], ["injected-parameters", "remove-cell"], ["hide-input"], []]


def test_site_configuration_names_no_other_projects_repository():
    """The repository is set in one place; it is never the paper's code, and no repository or
    launch button is on while it is empty (zsc has no public address yet)."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = cfg["repository"]["url"]
    assert "scottclowe" not in url and "zs-ssl-clustering" not in url
    if not url:
        assert not any(v for k, v in cfg["html"].items() if k.startswith("use_") and k.endswith("_button"))
        assert not any(cfg["launch_buttons"].get(k) for k in ("binderhub_url", "jupyterhub_url", "colab_url"))
    assert cfg["execute"]["execute_notebooks"] == "off"


@pytest.mark.parametrize("src", SOURCES, ids=NAMES)
def test_chapters_take_the_profile_not_its_values(src):
    """One parameter names the profile; the values live in the profile (and the provenance)."""
    declared = set(notebooks.parameter_defaults(src))
    assert {"profile", "results_dir"} <= declared
    assert declared <= {"profile", "results_dir", "showcase_encoder", "showcase_dataset",
                        "showcase_clusterer"}
    assert "chapter(profile, results_dir" in src.read_text()


def test_profiles_load_and_name_known_clusterers():
    from zsc.cluster import CLUSTERERS
    from zsc.data import DATASETS

    for name in ("smoke", "offline", "paper"):
        prof = profiles.load_profile(name)
        assert prof["profile"] == name
        assert set(prof["clusterers"]) <= set(CLUSTERERS.names())
        assert all(d in DATASETS for d in prof["datasets"])


def test_unknown_profile_and_unavailable_encoders():
    with pytest.raises(UnknownNameError, match="no profile"):
        profiles.load_profile("nope")
    usable, skipped = profiles.available_encoders(["pixels", "no_such_encoder", "supervised_resnet50"])
    assert usable == ["pixels"]
    assert "no_such_encoder" in skipped and "supervised_resnet50" in skipped
    assert "no_such_encoder" in prose.skip_note(skipped)


def test_outside_a_project_the_book_says_where_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.project_root() is None
    with pytest.raises(notebooks.NotebookError, match="checkout of zsc"):
        book.build("smoke", site=False)


def test_jupyter_book_is_1x():
    assert book.check_jupyter_book().startswith("1.")


def test_jupyter_book_2x_is_refused_loudly(monkeypatch):
    monkeypatch.setattr(book, "jupyter_book_version", lambda: "2.0.1")
    with pytest.raises(book.BuildError, match="needs Jupyter Book 1.x"):
        book.build("smoke")


# --------------------------------------------------------------------------- smoke execution
@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Compute the smoke profile's results in a fresh zsc home and execute every notebook."""
    tmp = tmp_path_factory.mktemp("book")
    prof = profiles.load_profile("smoke")
    prof["results_dir"] = str(tmp / "results")
    path = tmp / "smoke.yaml"
    path.write_text(yaml.safe_dump(prof))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZSC_HOME", str(tmp / "zsc_home"))
        mp.setenv("ZSC_OFFLINE", "1")
        prof = profiles.load_profile(str(path))
        summary = book.compute(prof, log=lambda s: None)
        outs = book.execute_all(prof, out_dir=tmp / "notebooks", log=lambda s: None, jobs=2)
        again = book.compute(prof, log=lambda s: None)
        kept: list[str] = []
        book.execute_all(prof, out_dir=tmp / "notebooks", log=kept.append)
    return {"profile": prof, "summary": summary, "again": again, "outs": outs, "kept": kept}


def test_smoke_results_are_cached(smoke):
    prof = smoke["profile"]
    n = len(prof["encoders"]) * len(prof["datasets"])
    sweep = profiles.stages(prof)[0]  # the reducer sweep's cluster jobs
    sweep = [j for st in sweep if st["kind"] == "cluster" for j in st["list"] if "reducer" in j]
    assert sweep
    n_base = len(prof["baselines"]) * len(prof["baseline_datasets"])  # N2D's are shipped
    # jobs: embed test + train, one per clusterer, one kNN, per encoder x dataset; the sweep;
    # the baselines
    assert smoke["summary"]["computed"] == (n * (2 + len(prof["clusterers"]) + 1) + len(sweep)
                                            + n_base)
    assert smoke["again"]["computed"] == 0
    view = ProfileResults(prof)
    assert len(view.baselines()) == n_base
    res, knn = view.results()  # the paper's reductions only, not the sweep's
    assert len(res) == n * len(prof["clusterers"]) and len(knn) == n
    assert {f"knn_acc_k{k}" for k in prof["knn_ks"]} <= set(knn.columns)
    spec = profiles.reducer_sweep(prof)
    rows = view.sweep()
    assert len(rows) == (len(spec["encoders"]) * len(spec["datasets"]) * len(spec["clusterers"])
                         * len(spec["reducers"]))
    assert set(rows["sweep_reducer"]) == set(spec["reducers"])
    assert rows.groupby(["clusterer", "sweep_reducer"]).size().eq(1).all()
    data = smoke["outs"][0].parent.parent / "data" / prof["profile"]  # what the site carries
    for name, frame in {"clustering": res, "knn": knn, "sweep": view.sweep(), "baselines": view.baselines()}.items():
        assert len(pd.read_parquet(data / f"{name}.parquet")) == len(frame) == len(pd.read_csv(data / f"{name}.csv"))


def test_smoke_rebuild_executes_nothing(smoke):
    """Nothing changed: every chapter keeps its executed copy (the execution cache)."""
    assert not [line for line in smoke["kept"] if "executed" in line]
    assert sum("kept" in line and "unchanged" in line for line in smoke["kept"]) == len(NAMES)


def test_smoke_notebooks_execute_with_figures_and_provenance(smoke):
    assert [p.stem for p in smoke["outs"]] == NAMES
    for out in smoke["outs"]:
        nb = nbformat.read(out, as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        assert not [o for o in outputs if o.get("output_type") == "error"], out.name
        assert any("image/png" in o.get("data", {}) for o in outputs), f"{out.name} has no figure"
        for o in (o for o in outputs if "image/png" in o.get("data", {})):  # 2x, shown at 1x
            png = base64.b64decode(o["data"]["image/png"])
            shown = o.get("metadata", {}).get("image/png", {}).get("width")
            assert shown and abs(int.from_bytes(png[16:20], "big") - 2 * shown) <= 2, out.name
        assert any("**Figure" in o.get("data", {}).get("text/markdown", "") for o in outputs), out.name
        for cell in nb.cells:  # code on demand: no input shown unless the reader asks
            tags = cell.metadata.get("tags", [])
            if cell.cell_type == "code":
                assert {"hide-input", "remove-cell", "remove-input"} & set(tags), (out.name, cell.source[:60])
        prov = nb.metadata["zsc_provenance"]
        assert prov["profile"] == "smoke" and prov["parameters"]["profile"].endswith("smoke.yaml")
        assert prov["results_rows"] > 0 and len(prov["results_hash"]) == 16
        assert "Provenance" in nb.cells[-1].source


def test_failing_notebook_names_itself_and_its_partial_copy(tmp_path, monkeypatch):
    src = tmp_path / "notebooks" / "99_broken.md"
    src.parent.mkdir()
    src.write_text("---\nkernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n"
                   "```{code-cell} ipython3\n:tags: [parameters]\n\nx = 1\n```\n\n"
                   "```{code-cell} ipython3\nraise ValueError('boom')\n```\n")
    with pytest.raises(notebooks.NotebookError) as err:
        notebooks.execute(src, tmp_path / "out" / "99_broken.ipynb", {"x": 2})
    msg = str(err.value)
    partial = tmp_path / "out" / "99_broken.partial.ipynb"
    assert "99_broken.md" in msg and "ValueError" in msg and "boom" in msg
    assert str(partial) in msg and partial.exists()
    assert not (tmp_path / "out" / "99_broken.ipynb").exists()  # never the final name


# --------------------------------------------------------------------------- full site (slow)
@pytest.mark.slow
def test_smoke_book_builds_and_pages_render():
    """Every page as a reader sees it at 1280 px (tests/pages.py): no sideways scrolling, no
    table wider than the text, figures unshrunk, chapters with a figure and no code shown by
    default, no error output, no "nan" in a table; full-length screenshots kept in
    _build/screenshots/ for a person to look at."""
    summary = book.build("smoke", log=lambda s: None)
    html = Path(summary["html"])
    pages = sorted(html.glob("_build/notebooks/*.html")) + sorted(html.glob("book/*.html"))
    assert len(pages) == len(NAMES) + 4
    for page in pages:
        text = page.read_text()
        assert "Traceback" not in text, page
    for page in html.glob("_build/notebooks/*.html"):
        assert "<img" in page.read_text(), f"{page.name} has no figure"
    page = (html / "_build/notebooks/03_encoder_comparison.html").read_text()
    for name in ("clustering.csv", "clustering.parquet", "knn.csv"):  # the rows, downloadable
        assert f'href="../../data/smoke/{name}"' in page and (html / "data" / "smoke" / name).is_file()
    from pages import CHROMIUM, check_site  # tests/pages.py

    if CHROMIUM is None:
        pytest.skip("chromium not installed: pages checked as HTML only, no screenshots")

    shots = ROOT / "_build" / "screenshots"
    found = check_site(html, shots)
    assert set(found) == {str(p.relative_to(html)) for p in pages}
    for page in pages:
        png = shots / f"{page.parent.name}-{page.stem}.png"
        assert png.exists() and png.stat().st_size > 10_000, f"no screenshot of {page}"
    assert not {k: v for k, v in found.items() if v}, found


def test_provenance_says_when_the_tree_was_dirty(tmp_path):
    """A page built from uncommitted changes says so in words, not only with `+dirty`."""
    prov = {"zsc_version": "1", "git_commit": "abc1234", "profile": "smoke", "results_rows": 1,
            "results_hash": "h" * 16, "knn_rows": 0, "knn_hash": "k" * 16, "parameters": {}}
    for commit, said in (("abc1234", False), ("abc1234+dirty", True)):
        path = tmp_path / "x.ipynb"
        nbformat.write(nbformat.v4.new_notebook(), path)
        notebooks.stamp(path, prov | {"git_commit": commit})
        last = nbformat.read(path, as_version=4).cells[-1].source
        assert commit in last and ("uncommitted changes" in last) == said
