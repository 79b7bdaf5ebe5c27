"""What a chapter starts from, in one call: its profile, the results it reads, what was left out.

    ch = chapter(profile, results_dir)
    ch.res, ch.knn                                  # clustering and kNN rows of the profile
    ch.baselines                                    # rows of the baselines trained on the target
    ch.figure(fig, "3.1", "AMI of every encoder and clusterer.")   # figure, then its caption
    ch.reading(f"The best encoder is {best}.")      # a sentence computed from the data
    ch.table(df, "All values")                      # a rounded table, folded away
    ch.verdicts("ami_knn_moderate")                 # the paper's claim and this build's verdict

Notebooks hold parameters, calls into zsc, figures and prose; this is their shared setup, and
the one place where a chapter's look (figure theme, table format) is decided.
"""

from __future__ import annotations

import dataclasses
import functools
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .. import claims, profiles
from ..profile_results import ProfileResults
from . import prose


@dataclasses.dataclass
class Chapter:
    profile: dict[str, Any]
    res: pd.DataFrame  # clustering rows
    knn: pd.DataFrame  # kNN rows
    encoders: list[str]  # the profile's encoders whose weights are here
    skipped: dict[str, str]  # left out, with why

    # The profile's values a chapter reads, typed (an editor sees them; a typo is an error).
    @property
    def datasets(self) -> list[str]:
        return list(self.profile["datasets"])

    @property
    def clusterers(self) -> list[str]:
        return list(self.profile["clusterers"])

    @property
    def n_samples(self) -> int | None:
        return self.profile.get("n_samples")

    @property
    def seed(self) -> int:
        return int(self.profile["seed"])

    @property
    def knn_n_train(self) -> int | None:
        return self.profile.get("knn_n_train")

    @property
    def showcase(self) -> dict[str, str]:
        """The encoder, dataset and clusterer a chapter shows in detail (the profile's choice)."""
        show = self.profile.get("showcase") or {}
        return {"encoder": show.get("encoder", self.profile["encoders"][0]),
                "dataset": show.get("dataset", self.profile["datasets"][0]),
                "clusterer": show.get("clusterer", self.profile["clusterers"][0])}

    @functools.cached_property
    def baselines(self) -> pd.DataFrame:
        """Rows of the deep-clustering baselines (trained on the target) the profile names."""
        return ProfileResults(self.profile).baselines()

    @functools.cached_property
    def sweep(self) -> pd.DataFrame:
        """The reducer sweep's rows (`ProfileResults.sweep`; empty without a sweep)."""
        return profiles.fold_replicates(ProfileResults(self.profile).sweep(), self.profile)

    @functools.cached_property
    def cuts(self) -> tuple[pd.DataFrame, dict[tuple[str, str], pd.DataFrame]]:
        """The silhouette-chosen cut against the AMI-best cut of the recommended AC-ward tree, per
        encoder × dataset (`cut_choices`), and each pair's sweep of candidate cuts."""
        picks, sweeps = cut_choices(self.profile, self.encoders)
        return profiles.fold_replicates(picks, self.profile), sweeps  # as `res` and `knn` are

    def verdicts(self, *ids: str) -> None:
        """Show the paper's claims `ids` and this build's verdict on each (`zsc.claims`),
        computed from the rows this chapter reads; a chapter opens with this."""
        from IPython.display import Markdown, display

        needs = {claims.get_claim(i).analysis for i in ids}
        ev = claims.Evidence(self.res, self.knn,
                             sweep=self.sweep if "umap_gain" in needs else pd.DataFrame(),
                             cuts=self.cuts[0] if "cut_gap" in needs else pd.DataFrame())
        for i in ids:
            display(Markdown(claims.verdict(i, ev).markdown(self.profile)))

    @property
    def data(self) -> str:
        return "results store, " + ", ".join(self.profile["datasets"])

    def caption(self, number: str, text: str, data: str | None = None,
                seeds: Sequence[int] | None = None) -> Any:
        """A figure caption (Markdown) naming the profile, its sample size and seeds (`seeds`:
        the clustering seeds of the figure's rows, default the profile's), the data."""
        from IPython.display import Markdown

        p = self.profile
        return Markdown(f"**Figure {number}.** {text} *Profile* `{p['profile']}` "
                        f"(n_samples={p['n_samples']}, seed={p['seed']}"
                        f"{prose.seeds_text(p, seeds)}); *data*: {data or self.data}.")

    def figure(self, fig: Any, number: str, text: str, data: str | None = None,
               seeds: Sequence[int] | None = None) -> None:
        """Show a figure once (closed after, so the inline backend does not repeat it) and its
        caption under it."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        display(fig)
        plt.close(fig)
        display(self.caption(number, text, data, seeds))

    @staticmethod
    def reading(text: str) -> None:
        """What this build's figure shows, in a sentence or three computed from its data
        (kept apart from the paper's claims, which the chapter's text quotes as the paper's)."""
        from IPython.display import Markdown, display

        display(Markdown(f"**In this build:** {text}"))

    @staticmethod
    def table(df: pd.DataFrame, summary: str | None = None, digits: int = 3,
              index: bool = True) -> Any:
        """A narrow, rounded HTML table; folded into a `<details>` block titled `summary` if
        one is given (long tables must not push the findings down). A missing value is "–",
        never "nan"."""
        from IPython.display import HTML

        body = df.to_html(index=index, na_rep="–", border=0, classes="zsc-table",
                          float_format=lambda v: f"{v:.{digits}f}")
        if summary is None:
            return HTML(body)
        return HTML(f"<details class=\"zsc-details\"><summary>{html.escape(summary)}</summary>\n"
                    f"{body}\n</details>")

    def note(self) -> Any:
        """What the chapter read and what the profile had to leave out (for its details), with
        links to the rows themselves where the build wrote them (`data_folder`)."""
        from html import escape

        from IPython.display import HTML

        folder = data_folder(self.profile)
        # raw links: a Markdown link to a file outside the book's sources is a Sphinx warning
        files = [f'<a href="{DATA_LINK}/{folder.name}/{f.name}" download>{f.name}</a>'
                 for f in data_files(folder)]
        return HTML(f"<p>{escape(prose.skip_note(self.skipped))} {len(self.res)} clustering rows and "
                    f"{len(self.knn)} kNN rows read from <code>{escape(str(self.profile['results_dir']))}</code>."
                    + (f" The rows this build's chapters read: {', '.join(files)}." if files else "")
                    + "</p>")


# The rows a build's chapters read, as CSV and Parquet (`zsc.report.build.write_data`): written to
# `_build/data/<profile>/`, copied into the site's `data/` folder, linked from each chapter's note
# (a chapter page lives at `_build/notebooks/` in the site, two folders below its root).
DATA_FRAMES = ("clustering", "knn", "sweep", "baselines")  # ProfileResults.all()'s order
DATA_FORMATS = ("csv", "parquet")
DATA_DIR = Path("_build", "data")  # in the book project; the site's copy is `data/`
DATA_LINK = "../../data"


def data_folder(profile: Mapping[str, Any]) -> Path:
    """Where `zsc book build` wrote the rows of `profile` (beside `_build/notebooks`)."""
    from ..config import base_dir

    return base_dir() / DATA_DIR / str(profile["profile"])


def data_files(folder: Path) -> list[Path]:
    """The data files in `folder`, in `DATA_FRAMES` then `DATA_FORMATS` order."""
    return [f for n in DATA_FRAMES for e in DATA_FORMATS if (f := folder / f"{n}.{e}").is_file()]


def cut_choices(profile: dict[str, Any], encoders: Sequence[str]
                ) -> tuple[pd.DataFrame, dict[tuple[str, str], pd.DataFrame]]:
    """For each encoder × dataset of the profile: the paper's recommended AC-ward tree on the
    UMAP-50 embedding (`zsc.recommended`), its cut chosen by silhouette against its AMI-best cut
    (`recipe.choice_vs_best`), and the sweep of candidate cuts. Embeddings, UMAPs and sweeps come
    from the caches the batch filled (labels only score the cuts, never choose them)."""
    import numpy as np

    from ..data import clamp_samples
    from ..embed import embed
    from ..recipe import choice_vs_best, recommended

    picks, sweeps = [], {}
    for ds in profile["datasets"]:
        n = clamp_samples(ds, profile["n_samples"])  # as the batch does
        for enc in encoders:
            emb = embed(enc, ds, n_samples=n, seed=profile["seed"], progress=False)
            rec = recommended(emb.features, seed=profile["seed"], input_key=emb.key,
                              labels_true=emb.labels)
            sweeps[enc, ds] = rec.sweep
            picks.append({"encoder": enc, "dataset": ds, "k_true": len(np.unique(emb.labels)),
                          **choice_vs_best(rec.sweep)})
    return pd.DataFrame(picks), sweeps


def chapter(profile: str = "offline", results_dir: str | None = None, *,
            quiet: bool = False, need_results: bool = True) -> Chapter:
    """Load a profile (a shipped name or a path) and the results its chapters read. A chapter
    that reads results (`need_results`) stops with one line when the folder has none of the
    profile's rows, instead of failing on a missing column or reporting on nothing."""
    from ..errors import DataMissingError
    from .figures import theme

    theme()
    prof = profiles.load_profile(profile)
    if results_dir:
        prof["results_dir"] = results_dir
    usable, skipped = profiles.available_encoders(prof["encoders"])
    res, knn = (profiles.fold_replicates(f, prof) for f in ProfileResults(prof).results())
    if need_results and res.empty:
        raise DataMissingError(
            f"no clustering results of profile {prof['profile']!r} in {prof['results_dir']}: "
            f"compute them first (zsc book build --profile {prof['profile']}, or zsc batch), "
            "or give the results_dir that holds them")
    if not quiet:
        print(prose.skip_note(skipped))
        print(f"{len(res)} clustering rows, {len(knn)} kNN rows read from {prof['results_dir']}")
    return Chapter(prof, res, knn, usable, skipped)
