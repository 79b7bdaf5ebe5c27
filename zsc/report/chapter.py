"""What a chapter starts from, in one call: its profile, the results it reads, what was left out.

    ch = chapter(profile, results_dir)
    ch.res, ch.knn          # clustering and kNN rows of the profile
    ch.baselines            # rows of the baselines trained on the target (N2D, KingdraCluster)
    ch.caption("3.1", "AMI of every encoder and clusterer.")

Notebooks hold parameters, calls into zsc, figures and prose; this is their shared setup.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import pandas as pd

from .. import profiles


@dataclasses.dataclass
class Chapter:
    profile: dict[str, Any]
    res: pd.DataFrame  # clustering rows
    knn: pd.DataFrame  # kNN rows
    encoders: list[str]  # the profile's encoders whose weights are here
    skipped: dict[str, str]  # left out, with why

    def __getattr__(self, key: str) -> Any:  # ch.datasets, ch.seed, ... from the profile
        try:
            return self.__dict__["profile"][key]
        except KeyError:
            raise AttributeError(key) from None

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
        return profiles.load_baselines(self.profile)

    @property
    def data(self) -> str:
        return "results store, " + ", ".join(self.profile["datasets"])

    def caption(self, number: str, text: str, data: str | None = None) -> Any:
        """A figure caption (Markdown) naming the profile, its sample size and seed, the data."""
        from IPython.display import Markdown

        p = self.profile
        return Markdown(f"**Figure {number}.** {text} *Profile* `{p['profile']}` "
                        f"(n_samples={p['n_samples']}, seed={p['seed']}); "
                        f"*data*: {data or self.data}.")


def chapter(profile: str = "offline", results_dir: str | None = None, *,
            quiet: bool = False) -> Chapter:
    """Load a profile (a shipped name or a path) and the results its chapters read."""
    import matplotlib

    matplotlib.rcParams["figure.dpi"] = 80
    prof = profiles.load_profile(profile)
    if results_dir:
        prof["results_dir"] = results_dir
    usable, skipped = profiles.available_encoders(prof["encoders"])
    res, knn = profiles.load_results(prof)
    if not quiet:
        print(profiles.skip_note(skipped))
        print(f"{len(res)} clustering rows, {len(knn)} kNN rows read from {prof['results_dir']}")
    return Chapter(prof, res, knn, usable, skipped)
