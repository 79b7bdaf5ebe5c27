"""The book's sentences about a build: what it read, what it left out, what it found.

Kept apart from the build's mechanics (`zsc.report.build`: cache keys, executing chapters) and
from a chapter's setup (`zsc.report.chapter`), which both call in here: a sentence changes
without touching what decides when a chapter runs again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import notebooks, profiles

LOCK_FILE = "requirements.lock.txt"  # the locked environment (scripts/lock.sh)


def seeds_text(profile: Mapping[str, Any], seeds: Sequence[int] | None = None) -> str:
    """", clustering seeds 0, 1, 2" where the main grid (or `seeds`: those a figure's rows
    hold) clusters with more than the image seed."""
    seeds = list(seeds if seeds is not None else profile.get("cluster_seeds") or [profile["seed"]])
    if not seeds or seeds == [profile["seed"]]:  # none: the figure shows no clustering
        return ""
    return f", clustering seed{'s' if len(seeds) > 1 else ''} " + ", ".join(map(str, seeds))


def skip_note(skipped: Mapping[str, str]) -> str:
    """What a profile had to leave out here, and why (`profiles.stages`' or
    `profiles.available_encoders`' reasons), in one sentence."""
    if not skipped:
        return "All encoders and datasets of the profile were available."
    return "Left out (not in these results): " + "; ".join(f"{k} ({v})" for k, v in skipped.items())


def summary_markdown(profile: Mapping[str, Any], results: tuple[Any, ...] | None = None) -> str:
    """What this build computed, in a few sentences (for the book's introduction), and the
    paper's claims with this build's verdicts. `results`: (clustering rows, kNN rows[, sweep])."""
    from .. import analysis
    from ..versions import lock_status, versions_text

    if results is None:
        from ..profile_results import ProfileResults

        view = ProfileResults(profile)
        results = (*view.results(), view.sweep())
    res, knn = (profiles.fold_replicates(f, profile) for f in results[:2])
    sweep = profiles.fold_replicates(results[2], profile) if len(results) > 2 else res.iloc[:0]
    usable, skipped = profiles.available_encoders(profile["encoders"])
    env = lock_status(notebooks.notebooks_dir().parent / LOCK_FILE)  # the book project's
    lines = [
        f"This build used profile **`{profile['profile']}`**: {profile.get('description', '')}",
        "",
        f"- Encoders: {', '.join(f'`{e}`' for e in usable) or 'none'}.",
        f"- Datasets: {', '.join(f'`{d}`' for d in profile['datasets'])}; "
        f"{profile['n_samples'] or 'all'} test images each, drawn with seed {profile['seed']}"
        f"{seeds_text(profile)}.",
        f"- Clusterers: {', '.join(f'`{c}`' for c in profile['clusterers'])}.",
        f"- Results read: {len(res)} clustering rows, {len(knn)} kNN rows.",
        f"- Software: {versions_text()}; environment: {env}.",
    ]
    if skipped:
        lines.append(f"- {skip_note(skipped)}")
    dev = res[res["deviation"].fillna("").astype(str) != ""] if "deviation" in res else res[:0]
    which = "; ".join(f"`{r.encoder}` × `{r.dataset}` × `{r.clusterer}`" for r in dev.itertuples())
    lines.append("- Deviations from the paper's computation (memory budget): " + (
        f"{len(dev)} of {len(res)} rows: {which} (each row's `deviation` column says how)."
        if len(dev) else "none."))
    if not res.empty:
        best_enc = analysis.mean_rank(analysis.rank_per_dataset(res, by="encoder"))
        best_clu = analysis.mean_rank(analysis.rank_per_dataset(res, by="clusterer"))
        lines.append(f"- Best encoder by mean AMI rank over datasets: `{best_enc.index[0]}` "
                     f"(rank {best_enc.iloc[0]:.1f}); best clusterer: {best_clu.index[0]} "
                     f"(rank {best_clu.iloc[0]:.1f}).")
        lines += ["", *correlation_summary(res, knn)]
    lines += ["", *verdict_summary(res, knn, sweep)]
    lines += ["", "These numbers are this build's, on its small offline datasets and sample "
              "sizes; they are not the paper's and need not agree with them."]
    return "\n".join(lines) + "\n"


def verdict_summary(res: Any, knn: Any, sweep: Any) -> list[str]:
    """The paper's claims against this build (`zsc.claims`): verdict, value with its 95 %
    interval, and a link to the chapter that shows the evidence."""
    from .. import claims
    from ..metrics import IMAGE_DRAWS

    vs = claims.verdicts(claims.Evidence(res, knn, sweep), deferred={
        "cut_gap": "needs a silhouette sweep of candidate cuts per encoder × dataset, computed in "
                   "the chapter"})
    counts = ", ".join(f"{sum(v.verdict == k for v in vs)} {k}" for k in (*claims.VERDICTS, claims.DEFERRED))
    return ["### The paper's claims in this build", "",
            f"Each claim of the paper, decided from this build's results ({counts}): a verdict is "
            "*reproduced* or *contradicted* when the 95 % bootstrap interval — over encoder × dataset "
            f"pairs and over images, each resample of the pairs scored on one of the {IMAGE_DRAWS} "
            "image resamples every row stores (where a value says *pairs only*, its rows have "
            "none) and, where encoders were trained with several seeds, over those seeds — lies wholly on one side of the claim's rule, *inconclusive* when it does not, "
            "*not testable* when this profile lacks the rows (`zsc/resources/claims.yaml` holds each "
            "claim, its source in the paper and its rule; the thresholds are this project's).", "",
            *claims.verdict_table(vs, link=_chapter_link)]


def _chapter_link(stem: str) -> str:
    """A link from the introduction to a chapter (its executed copy is the page)."""
    return f"{{doc}}`chapter {int(stem[:2])} </_build/notebooks/{stem}>`"


def correlation_summary(res: Any, knn: Any, k: int = 20) -> list[str]:
    """The build's correlations per clusterer as a small Markdown table, each with its 95 %
    interval and n (or "too few pairs"): silhouette with AMI in both spaces, AMI with kNN@k
    over all encoders pooled, each on the paper's rows (`analysis.paper_selection`), as the
    chapters."""
    from .. import analysis

    cols: dict[str, dict[str, str]] = {}
    title = analysis.clusterer_column(res)
    sc = analysis.silhouette_correlation(analysis.paper_selection(res, "silhouette_ami"))
    for space, g in sc.groupby("space", sort=False) if len(sc) else ():
        name = f"silhouette ({'UMAP' if space == 'umap' else space} space) vs AMI"
        cols[name] = dict(zip(g[title].astype(str), analysis.corr_labels(g), strict=True))
    sel = analysis.paper_selection(res, "ami_knn")
    corr = analysis.spearman_ami_knn(sel, knn, by=None) if not knn.empty else knn
    at_k = corr[corr["k"] == k] if len(corr) else corr
    if len(at_k):
        cols[f"AMI vs kNN@{k} accuracy"] = dict(zip(at_k[title].astype(str), analysis.corr_labels(at_k),
                                                    strict=True))
    if not cols:
        return []
    rows = sorted({c for col in cols.values() for c in col})
    head = ["clusterer", *cols]
    sel_text = "; ".join(f"{w}: {analysis.PAPER_SELECTIONS[k].says}" for k, w in
                         (("silhouette_ami", "silhouette"), ("ami_knn", "kNN")))
    return ["Spearman correlations per clusterer over encoder × dataset pairs (95 % interval by "
            f"Fisher z; {sel_text}; chapters 6 and 7 show every k and the scatter behind each):", "",
            "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join([c, *(col.get(c, "–") for col in cols.values())]) + " |"
              for c in rows)]
