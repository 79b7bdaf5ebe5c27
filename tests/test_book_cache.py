"""The book's execution cache and `zsc notebook`: a chapter is executed again only when its
execution key changes; a copy run by hand is kept until its source changes or --force; bad
parameters are refused before anything runs. And the reducer sweep a profile asks for."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from zsc import notebooks, profiles
from zsc.cli import main
from zsc.errors import InvalidParameterError
from zsc.profile_results import ProfileResults
from zsc.report import build as book
from zsc.report import prose
from zsc.settings import PAPER_REDUCERS

CHAPTER = "---\nkernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n# {title}\n\n" \
          "```{{code-cell}} ipython3\n:tags: [parameters]\n\nprofile = \"smoke\"\nresults_dir = \"\"\n```\n"


@pytest.fixture
def fake_book(tmp_path, monkeypatch):
    """Two one-cell chapters, no results, and an `execute` that records its calls (no kernel)."""
    src = tmp_path / "notebooks"
    src.mkdir()
    for name in ("01_one", "02_two"):
        (src / f"{name}.md").write_text(CHAPTER.format(title=name))
    calls: list[str] = []

    def execute(src_: Path, out: Path, parameters, prov=None, timeout=0):
        calls.append(Path(src_).stem)
        nb = nbformat.v4.new_notebook(metadata={"zsc_provenance": dict(prov or {})})
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
        return out

    empty = pd.DataFrame(columns=["encoder", "dataset", "clusterer"])
    monkeypatch.setattr(notebooks, "sources", lambda: sorted(src.glob("*.md")))
    monkeypatch.setattr(notebooks, "execute", execute)
    monkeypatch.setattr(ProfileResults, "all", lambda self: (empty, empty, empty, empty))
    monkeypatch.setattr(book, "write_summary", lambda *a, **k: None)
    prof = profiles.load_profile("smoke")
    out = tmp_path / "out"
    return {"src": src, "out": out, "calls": calls, "profile": prof,
            "run": lambda **kw: book.execute_all(prof, out_dir=out, log=lambda s: None, **kw)}


def test_unchanged_chapters_are_not_executed_again(fake_book):
    fake_book["run"]()
    assert fake_book["calls"] == ["01_one", "02_two"]
    fake_book["run"]()
    assert fake_book["calls"] == ["01_one", "02_two"]  # both kept
    (fake_book["src"] / "02_two.md").write_text(CHAPTER.format(title="two, edited"))
    fake_book["run"]()
    assert fake_book["calls"][2:] == ["02_two"]  # only the edited chapter
    fake_book["run"](force=True)
    assert fake_book["calls"][3:] == ["01_one", "02_two"]


def test_a_chapter_that_computes_starts_first(fake_book, monkeypatch):
    assert all((book.project() / "notebooks" / f"{name}.md").exists() for name in book.STARTS_FIRST)
    monkeypatch.setattr(book, "STARTS_FIRST", ("02_two",))
    fake_book["run"]()
    assert fake_book["calls"] == ["02_two", "01_one"]  # the rest in book order


def test_a_changed_profile_or_zsc_executes_every_chapter(fake_book, monkeypatch):
    fake_book["run"]()
    fake_book["profile"]["seed"] = 7
    fake_book["run"]()
    assert fake_book["calls"][2:] == ["01_one", "02_two"]
    monkeypatch.setattr(book, "package_hash", lambda: "another zsc")
    fake_book["run"]()
    assert fake_book["calls"][4:] == ["01_one", "02_two"]


def test_changed_baseline_rows_execute_every_chapter(fake_book, monkeypatch):
    """Chapter 9 reads the baselines' store: new baseline rows are new results to show."""
    fake_book["run"]()
    empty = pd.DataFrame(columns=["encoder", "dataset", "clusterer"])
    base = pd.DataFrame([{"encoder": "n2d", "dataset": "digits", "clusterer": "gmm", "ami": 0.8}])
    monkeypatch.setattr(ProfileResults, "all", lambda self: (empty, empty, empty, base))
    fake_book["run"]()
    assert fake_book["calls"][2:] == ["01_one", "02_two"]


def test_an_unreadable_copy_is_executed_again(fake_book):
    fake_book["run"]()
    (fake_book["out"] / "01_one.ipynb").write_text('{"cells": [')  # cut short
    fake_book["run"]()
    assert fake_book["calls"][2:] == ["01_one"]
    assert book.executed_state(fake_book["out"] / "missing.ipynb") is None


def test_a_copy_executed_by_zsc_notebook_is_kept_until_its_source_changes(fake_book):
    fake_book["run"]()
    out = fake_book["out"] / "02_two.ipynb"
    book.execute_one(fake_book["src"] / "02_two.md", {"results_dir": "/elsewhere"}, out)
    state = book.executed_state(out)
    assert state["executed_by"] == book.MANUAL and state["parameters"]["results_dir"] == "/elsewhere"
    fake_book["run"]()
    assert fake_book["calls"] == ["01_one", "02_two", "02_two"]  # the manual copy was kept
    assert book.executed_state(out)["executed_by"] == book.MANUAL
    fake_book["run"](force=True)
    assert book.executed_state(out)["executed_by"] == "zsc book build"
    book.execute_one(fake_book["src"] / "02_two.md", {"results_dir": "/elsewhere"}, out)
    (fake_book["src"] / "02_two.md").write_text(CHAPTER.format(title="two, edited"))
    fake_book["run"]()
    assert book.executed_state(out)["executed_by"] == "zsc book build"


@pytest.mark.parametrize("argv,match", [
    (["notebook", "taxonomy", "-p", "profil", "offline"], "unknown parameter 'profil'"),
    (["notebook", "taxonomy", "-p", "profile", "3"], "parameter 'profile' must be str"),
    (["notebook", "taxonomy", "-p", "results_dir", "[1, 2]"], "parameter 'results_dir' must be str"),
])
def test_zsc_notebook_refuses_bad_parameters_before_running(argv, match, capsys, monkeypatch):
    def never(*a, **k):
        raise AssertionError("executed despite a bad parameter")

    monkeypatch.setattr(notebooks, "execute", never)
    monkeypatch.setattr(ProfileResults, "all", never)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("zsc: error:") and match in err[0]


def test_execute_one_refuses_before_loading_anything(monkeypatch):
    monkeypatch.setattr(profiles, "load_profile", lambda *a: pytest.fail("profile loaded"))
    with pytest.raises(InvalidParameterError, match="unknown parameter 'nope'"):
        book.execute_one("taxonomy", {"nope": 1})


def test_summary_is_rewritten_only_when_it_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(prose, "summary_markdown", lambda profile, results=None: "text\n")
    path = tmp_path / "_summary.md"
    book.write_summary({}, path)
    stamp = path.stat().st_mtime_ns
    book.write_summary({}, path)
    assert path.stat().st_mtime_ns == stamp and path.read_text() == "text\n"


def test_provenance_is_json(fake_book):
    fake_book["run"]()
    nb = json.loads((fake_book["out"] / "01_one.ipynb").read_text())
    prov = nb["metadata"]["zsc_provenance"]
    assert len(prov["execution_key"]) == 16 and prov["executed_by"] == "zsc book build"


# --------------------------------------------------------------------------- reducer sweep
def test_reducer_sweep_is_part_of_the_grid():
    prof = profiles.load_profile("smoke")
    sweep = profiles.reducer_sweep(prof)
    assert list(sweep["reducers"]) == ["none", "pca", "umap", "pacmap"]
    assert sweep["reducers"]["umap"] == PAPER_REDUCERS["umap"]
    assert sweep["clusterers"] == prof["clusterers"]  # default: the profile's
    with pytest.raises(InvalidParameterError, match="not among the profile's encoders"):
        profiles.reducer_sweep({**prof, "reducer_sweep": {"encoders": ["zoo_dino_resnet"]}})
    with pytest.raises(InvalidParameterError, match="unknown reducer 'tsne'"):
        profiles.reducer_sweep({**prof, "reducer_sweep": {"reducers": ["tsne"]}})
    custom = profiles.reducer_sweep({**prof, "reducer_sweep": {
        "reducers": [{"name": "pca10", "method": "pca", "n_components": 10}]}})
    assert custom["reducers"]["pca10"].n_components == 10
    assert profiles.reducer_sweep(profiles.load_profile("paper")) is not None


def test_sweep_jobs_skip_the_paper_own_reduction():
    """A sweep job whose reducer is the paper's for its clusterer and encoder would write the
    row the regular stage writes: it is left out; every other combination is a job."""
    prof = profiles.load_profile("smoke")
    (stage,) = profiles.sweep_stages(prof, ["pixels"], {"digits": 300})
    jobs = stage["list"]
    sweep = profiles.reducer_sweep(prof)
    assert len(jobs) < len(sweep["clusterers"]) * len(sweep["reducers"])
    # pixels: K-Means with the paper's z-PCA 90% is the regular row, not a sweep job
    assert not [j for j in jobs if j["clusterer"] == "kmeans" and j["reducer"]["method"] == "pca"]
    assert [j for j in jobs if j["clusterer"] == "kmeans" and j["reducer"]["method"] == "umap"]
    assert profiles.sweep_stages({**prof, "reducer_sweep": None}, ["pixels"], {"digits": 300}) == []


def test_jupyterlab_opens_the_chapters_as_notebooks():
    """`jupyter lab --config=jupyter_lab_config.py`: jupytext's contents manager is installed and
    Markdown/MyST files open in the notebook viewer on a double click."""
    import importlib.util

    from traitlets.config.loader import PyFileConfigLoader

    root = Path(__file__).resolve().parents[1]
    cfg = PyFileConfigLoader("jupyter_lab_config.py", path=str(root)).load_config()
    overrides = json.loads((Path(cfg.LabApp.app_settings_dir) / "overrides.json").read_text())
    viewers = overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers == {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}
    assert importlib.util.find_spec("jupyterlab_jupytext") is not None  # jupytext's server extension


def test_a_recovered_build_leaves_no_partial_notebook(fake_book):
    """Issue 23, item 9: a failed build's `*.partial.ipynb` is removed once the chapter is
    executed again, and also when nothing needs executing."""
    out = fake_book["out"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "01_one.partial.ipynb").write_text("{}")  # the failed build's copy
    fake_book["run"]()
    assert (out / "01_one.ipynb").exists() and not list(out.glob("*.partial.ipynb"))
    (out / "02_two.partial.ipynb").write_text("{}")
    fake_book["run"]()  # everything current: executes nothing, still cleans up
    assert fake_book["calls"] == ["01_one", "02_two"] and not list(out.glob("*.partial.ipynb"))


def test_chapter_kernels_get_their_share_of_the_cores(monkeypatch):
    for var in book.THREAD_VARIABLES:  # set, then removed: monkeypatch restores each after the test
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's choice is kept
    monkeypatch.setattr("signal.signal", lambda *a: None)
    book._chapter_worker(1)
    assert [os.environ[v] for v in book.THREAD_VARIABLES] == ["3", "1", "1", "1"]
