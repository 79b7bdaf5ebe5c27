"""The paper's claims and this build's verdict on each, computed from the results, never typed.

The claims are data (``zsc/resources/claims.yaml``): what the paper says and where, the analysis
that tests it, the statistic, a decision rule on an interval and the profiles it is meant for.
`verdicts(evidence)` runs each claim's analysis on the results frames and decides:

- **reproduced** / **contradicted**: the 95 % interval lies wholly on one side of the rule;
- **inconclusive**: the interval straddles the rule's threshold (the data do not decide);
- **not testable**: the rows the analysis needs are not in this profile's results.

The interval is a seeded bootstrap over encoder × dataset pairs (each pair's values averaged over
clustering seeds first) and over images: each resample of the pairs takes its scores from one of
the image resamples every row stores (`zsc.metrics.image_draws`, the same images resampled alike
in every row), so it carries the spread between encoders, datasets and images, not only the
clustering seeds'. Where encoders were trained with several seeds (`analysis.fold_replicates`),
each image resample comes with a resample of the training seeds as well. Rows without those
draws (made before zsc stored them) give the pairs' interval alone, and say so. Like `zsc.analysis`, nothing here reads files except the shipped
registry.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from . import analysis

VERDICTS = ("reproduced", "contradicted", "inconclusive", "not testable")
# Shown, not decided, where a page leaves a costly claim to its chapter (`verdicts(deferred=)`).
DEFERRED = "decided in its chapter"
SSL_METHODS = ("mocov3", "dino", "vicreg", "mae", "clip")
FINE_TUNED = "_ft_"  # in an encoder's name: fine-tuned with labels (e.g. mae_ft_vitb16)
N_BOOT = 500
LEVEL = 0.95
UNIT = ["encoder", "dataset"]  # what the bootstrap resamples
# Fewer pairs than this give no interval (resampling 1-4 pairs gives a spuriously narrow one).
MIN_UNITS = 5
OVER_PAIRS = "encoder × dataset pairs"
OVER_IMAGES = "encoder × dataset pairs and images"
OVER_TRAINING = "encoder × dataset pairs, images and training seeds"


@dataclasses.dataclass(frozen=True)
class Evidence:
    """The frames the analyses read: clustering rows (`ResultsStore` / `ProfileResults.results`),
    kNN rows, the reducer sweep's rows (`ProfileResults.sweep`) and the silhouette cut choices
    (`recipe.choice_vs_best` per encoder × dataset); any may be empty."""

    res: pd.DataFrame
    knn: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    sweep: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    cuts: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)


@dataclasses.dataclass(frozen=True)
class Claim:
    id: str
    claim: str
    where: str
    analysis: str
    statistic: str
    rule: dict[str, Any]
    profiles: tuple[str, ...]
    chapter: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    if_contradicted: str = ""  # what differs from the paper, checked first (profile fields in braces)


@dataclasses.dataclass(frozen=True)
class Verdict:
    claim: Claim
    verdict: str
    value: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    n: int = 0  # encoder × dataset pairs behind the value
    reason: str = ""  # why not testable, or what the value is
    over: str = OVER_PAIRS  # what the bootstrap resampled

    @property
    def interval(self) -> str:
        """The value with its interval, as the book prints it ("–" when not testable)."""
        if not np.isfinite(self.value):
            return "–"
        ci = (f" [{self.ci_low:.2f}, {self.ci_high:.2f}]"
              if np.isfinite(self.ci_low) and np.isfinite(self.ci_high) else "")
        return f"{self.value:.2f}{ci}, n = {self.n}"

    def markdown(self, profile: Mapping[str, Any] | None = None) -> str:
        """The claim as the paper's, then this build's verdict and its evidence; when the data
        contradict the claim, the likely cause this build checks (filled from `profile`)."""
        c = self.claim
        head = f"**The paper's claim:** {c.claim} — *{c.where}*"
        if self.verdict == "not testable":
            return f"{head}\n\n**Verdict in this build: not testable here** — {self.reason}"
        how = self.reason or f"95 % bootstrap interval over {self.over}"
        text = (f"{head}\n\n**Verdict in this build: {self.verdict}** — {c.statistic}: "
                f"{self.interval} ({how}; {rule_text(c.rule)}).")
        if self.verdict == "contradicted" and c.if_contradicted:
            text += f"\n\n**Likely cause:** {c.if_contradicted.format_map(_Fields(profile or {}))}"
        return text


class _Fields(dict):  # type: ignore[type-arg]
    """A profile for `str.format_map`: a field the profile lacks reads "?" rather than failing."""

    def __missing__(self, key: str) -> str:
        return "?"


# --------------------------------------------------------------------------- the registry
@cache
def claims() -> tuple[Claim, ...]:
    """The shipped registry of the paper's claims, in the book's order."""
    import yaml

    from .resources import path

    rows = yaml.safe_load(path("claims.yaml").read_text())
    return tuple(Claim(**{**r, "profiles": tuple(r["profiles"]), "params": r.get("params") or {}})
                 for r in rows)


def get_claim(claim_id: str) -> Claim:
    by_id = {c.id: c for c in claims()}
    if claim_id not in by_id:
        raise KeyError(f"unknown claim {claim_id!r}; known: {', '.join(by_id)}")
    return by_id[claim_id]


# --------------------------------------------------------------------------- decision rules
def _greater(low: float, high: float, t: float) -> str:
    return "reproduced" if low > t else "contradicted" if high < t else "inconclusive"


def _less(low: float, high: float, t: float) -> str:
    return "reproduced" if high < t else "contradicted" if low > t else "inconclusive"


def _between(low: float, high: float, t: list[float]) -> str:
    a, b = t
    if a <= low and high <= b:
        return "reproduced"
    return "contradicted" if high < a or low > b else "inconclusive"


RULES: dict[str, Callable[[float, float, Any], str]] = {
    "greater_than": _greater, "less_than": _less, "between": _between}
RULE_TEXT: dict[str, Callable[[Any], str]] = {
    "greater_than": lambda t: f"reproduced if the interval lies above {t:g}",
    "less_than": lambda t: f"reproduced if the interval lies below {t:g}",
    "between": lambda t: f"reproduced if the interval lies within [{t[0]:g}, {t[1]:g}]",
}


def rule_text(rule: Mapping[str, Any]) -> str:
    ((kind, arg),) = rule.items()
    return RULE_TEXT[kind](arg)


def decide(rule: Mapping[str, Any], low: float, high: float) -> str:
    """The verdict of an interval under a rule (inconclusive when the interval is undefined)."""
    ((kind, arg),) = rule.items()
    if not (np.isfinite(low) and np.isfinite(high)):
        return "inconclusive"
    return RULES[kind](low, high, arg)


# --------------------------------------------------------------------------- analyses
# Each analysis: `prepare(evidence, params)` gives unit-level rows (one per encoder × dataset
# pair and whatever else the statistic needs; averaged over clustering seeds) or a string saying
# why the claim cannot be tested; `statistic(rows, params)` reduces them to one number. The
# bootstrap resamples the pairs and recomputes the statistic.
Prepared = pd.DataFrame | str


def _ssl_delta(ev: Evidence, fine_tuned: bool) -> Prepared:
    """ΔAMI of the self-supervised encoders, fine-tuned ones (name marked `FINE_TUNED`) or the
    others, per encoder × dataset with the dataset's group."""
    res = ev.res
    if res.empty or "encoder_method" not in res:
        return "no clustering rows"
    d = analysis.delta_ami(res)
    tuned = d["encoder"].astype(str).str.contains(FINE_TUNED, regex=False)
    d = d[d["encoder_method"].isin(SSL_METHODS) & (tuned == fine_tuned)]
    if d.empty:
        return ("no fine-tuned encoder with its supervised reference in this profile" if fine_tuned
                else "no self-supervised encoder with its supervised reference in this profile")
    d = d.assign(group=d[analysis.group_column(d)])
    return d.groupby([*UNIT, "group"], as_index=False)["delta_ami"].mean()


def _prep_delta_group(ev: Evidence, p: Mapping[str, Any]) -> Prepared:
    d = _ssl_delta(ev, False)
    if isinstance(d, str):
        return d
    d = d[d["group"] == p["group"]]
    return d if len(d) else f"no {p['group']} dataset in this profile"


def _stat_delta_group(d: pd.DataFrame, p: Mapping[str, Any]) -> float:
    return float(d["delta_ami"].mean())


def _prep_finetuned(ev: Evidence, p: Mapping[str, Any]) -> Prepared:
    d = _ssl_delta(ev, True)
    if isinstance(d, str):
        return d
    d = d[d["group"].isin(["In-domain", "Far-OOD"])]
    return d if d["group"].nunique() == 2 else "fine-tuned rows lack an in-domain or far-OOD dataset"


def _stat_finetuned(d: pd.DataFrame, p: Mapping[str, Any]) -> float:
    g = d.groupby("group")["delta_ami"].mean()
    return float(g.get("In-domain", np.nan) - g.get("Far-OOD", np.nan))


def _prep_umap_gain(ev: Evidence, p: Mapping[str, Any]) -> Prepared:
    s = ev.sweep
    if s.empty or not {"umap", "none"} <= set(s["sweep_reducer"]):
        return "no reducer sweep with UMAP and no reduction in this profile"
    title = analysis.clusterer_column(s)
    m = s.groupby([*UNIT, title, "sweep_reducer"])["ami"].mean().unstack("sweep_reducer")
    gain = (m["umap"] - m["none"]).dropna().rename("gain").reset_index()
    gain = gain.rename(columns={title: "clusterer_title"})
    return gain[~gain["clusterer_title"].isin(p.get("except", []))]


def _stat_umap_gain(d: pd.DataFrame, p: Mapping[str, Any]) -> float:
    return float(d.groupby("clusterer_title")["gain"].mean().min())


def _prep_margin(ev: Evidence, p: Mapping[str, Any]) -> Prepared:
    res = ev.res
    if res.empty:
        return "no clustering rows"
    title = analysis.clusterer_column(res)
    m = res.groupby([*UNIT, title], as_index=False)["ami"].mean()
    m = m.rename(columns={title: "clusterer_title"})
    if p["clusterer"] not in set(m["clusterer_title"]) or m["clusterer_title"].nunique() < 2:
        return f"{p['clusterer']} and another clusterer are not both in this profile"
    return m


def _stat_margin(d: pd.DataFrame, p: Mapping[str, Any]) -> float:
    means = d.groupby("clusterer_title")["ami"].mean()
    return float(means[p["clusterer"]] - means.drop(p["clusterer"]).max())


def _median_spearman(d: pd.DataFrame, x: str, y: str) -> float:
    rho = [analysis.correlation(g[x], g[y]) for _, g in d.groupby("clusterer_title")
           if len(g) >= analysis.MIN_PAIRS]
    rho = [r for r in rho if np.isfinite(r)]
    return float(np.median(rho)) if rho else float("nan")


def _enough_pairs(d: pd.DataFrame) -> Prepared:
    n = int(d.groupby("clusterer_title").size().max()) if len(d) else 0
    return d if n >= analysis.MIN_PAIRS else f"too few encoder × dataset pairs ({n}) for a correlation"


def _prep_knn(ev: Evidence, p: Mapping[str, Any]) -> Prepared:
    if ev.res.empty or ev.knn.empty:
        return "no kNN rows in this profile"
    sel = analysis.paper_selection(ev.res, "ami_knn")
    pairs = analysis.ami_knn_pairs(sel, ev.knn)
    pairs = pairs[pairs["k"] == p["k"]].rename(columns={analysis.clusterer_column(sel): "clusterer_title"})
    return _enough_pairs(pairs)


def _stat_knn(d: pd.DataFrame, p: Mapping[str, Any]) -> float:
    return _median_spearman(d, "ami", "knn_acc")


def _prep_silhouette(ev: Evidence, p: Mapping[str, Any]) -> Prepared:
    col = f"silhouette_{p['space']}"
    if ev.res.empty or col not in ev.res:
        return f"no {col} column in the results"
    sel = analysis.paper_selection(ev.res, "silhouette_ami")
    pairs = analysis.pair_means(sel, [col, "ami"])
    return _enough_pairs(pairs.rename(columns={analysis.clusterer_column(sel): "clusterer_title"}))


def _stat_silhouette(d: pd.DataFrame, p: Mapping[str, Any]) -> float:
    return _median_spearman(d, f"silhouette_{p['space']}", "ami")


def _prep_cuts(ev: Evidence, p: Mapping[str, Any]) -> Prepared:
    if ev.cuts.empty:
        return "no silhouette cut choices were computed (chapter 7 computes them)"
    return ev.cuts[[*UNIT, "ami_gap"]]


def _stat_cuts(d: pd.DataFrame, p: Mapping[str, Any]) -> float:
    return float(d["ami_gap"].median())


def _prep_levels(ev: Evidence, p: Mapping[str, Any]) -> Prepared:
    lv = analysis.level_table(ev.res) if not ev.res.empty else pd.DataFrame()
    if lv.empty or lv.groupby("dataset")["level"].nunique().max() < 2:
        return "no dataset with two taxonomy levels in this profile"
    lv = lv[lv.groupby("dataset")["level"].transform("nunique") >= 2]
    first = lv.loc[lv.groupby(UNIT)["depth"].idxmin()].set_index(UNIT)["ami"]
    last = lv.loc[lv.groupby(UNIT)["depth"].idxmax()].set_index(UNIT)["ami"]
    return (last - first).rename("gain").reset_index()


def _stat_levels(d: pd.DataFrame, p: Mapping[str, Any]) -> float:
    return float(d["gain"].mean())


def _median_spearman_draws(rows: pd.DataFrame, x: str, y: str, picks: np.ndarray) -> np.ndarray:
    """`_median_spearman` of every resample at once: the pairs as a pairs × clusterers matrix,
    resampled, ranked along the pairs (ties averaged, as `scipy.stats.spearmanr`), correlated."""
    from scipy import stats

    wide = rows.pivot_table(index=UNIT, columns="clusterer_title", values=[x, y], dropna=False)
    wx, wy = wide[x].to_numpy(float), wide[y].to_numpy(float)
    bx, by = wx[picks], wy[picks]  # resamples × pairs × clusterers
    ok = np.isfinite(bx) & np.isfinite(by)
    bx, by = np.where(ok, bx, np.nan), np.where(ok, by, np.nan)
    rx = stats.rankdata(bx, axis=1, nan_policy="omit")
    ry = stats.rankdata(by, axis=1, nan_policy="omit")
    dx = rx - np.nanmean(rx, axis=1, keepdims=True)
    dy = ry - np.nanmean(ry, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.nansum(dx * dy, axis=1) / np.sqrt(np.nansum(dx * dx, axis=1) * np.nansum(dy * dy, axis=1))
    rho[ok.sum(axis=1) < analysis.MIN_PAIRS] = np.nan
    out = np.full(len(picks), np.nan)
    some = np.isfinite(rho).any(axis=1)
    out[some] = np.nanmedian(rho[some], axis=1)
    return out


def _column_means_draws(rows: pd.DataFrame, value: str, picks: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Mean `value` per clusterer of every resample (resamples × clusterers) and the clusterers:
    each pair weighs once per time it is drawn, as in the loop's `groupby().mean()`."""
    wide = rows.pivot_table(index=UNIT, columns="clusterer_title", values=value, dropna=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a clusterer absent from a resample
        return np.nanmean(wide.to_numpy(float)[picks], axis=1), list(wide.columns)


def _fast_margin(d: pd.DataFrame, p: Mapping[str, Any], picks: np.ndarray) -> np.ndarray:
    means, cols = _column_means_draws(d, "ami", picks)
    target = cols.index(p["clusterer"])
    return means[:, target] - np.delete(means, target, axis=1).max(axis=1)


def _fast_umap_gain(d: pd.DataFrame, p: Mapping[str, Any], picks: np.ndarray) -> np.ndarray:
    return _column_means_draws(d, "gain", picks)[0].min(axis=1)


def _fast_knn(d: pd.DataFrame, p: Mapping[str, Any], picks: np.ndarray) -> np.ndarray:
    return _median_spearman_draws(d, "ami", "knn_acc", picks)


def _fast_silhouette(d: pd.DataFrame, p: Mapping[str, Any], picks: np.ndarray) -> np.ndarray:
    return _median_spearman_draws(d, f"silhouette_{p['space']}", "ami", picks)


@dataclasses.dataclass(frozen=True)
class Analysis:
    prepare: Callable[[Evidence, Mapping[str, Any]], Prepared]
    statistic: Callable[[pd.DataFrame, Mapping[str, Any]], float]
    reads: tuple[str, ...]  # the `Evidence` frames it reads (their image draws resample it)
    # every resample's statistic at once (the correlations: a loop would cost seconds a build)
    fast: Callable[[pd.DataFrame, Mapping[str, Any], np.ndarray], np.ndarray] | None = None


ANALYSES: dict[str, Analysis] = {
    "delta_group": Analysis(_prep_delta_group, _stat_delta_group, ("res",)),
    "finetuned_trend": Analysis(_prep_finetuned, _stat_finetuned, ("res",)),
    "umap_gain": Analysis(_prep_umap_gain, _stat_umap_gain, ("sweep",), _fast_umap_gain),
    "clusterer_margin": Analysis(_prep_margin, _stat_margin, ("res",), _fast_margin),
    "ami_knn_spearman": Analysis(_prep_knn, _stat_knn, ("res", "knn"), _fast_knn),
    "silhouette_spearman": Analysis(_prep_silhouette, _stat_silhouette, ("res",), _fast_silhouette),
    "cut_gap": Analysis(_prep_cuts, _stat_cuts, ("cuts",)),
    "level_gain": Analysis(_prep_levels, _stat_levels, ("res",)),
}


# --------------------------------------------------------------------------- image resamples
def _replicated_rows(a: Analysis, evidence: Evidence, params: Mapping[str, Any],
                     rows: pd.DataFrame) -> tuple[list[pd.DataFrame] | None, str]:
    """`a.prepare`'s rows once per image resample of the frames it reads (each with a resample
    of the training seeds where encoders have several), and what was resampled; None when one
    of them has no draws or a resample changes which pairs there are."""
    reps = {name: analysis.image_replicates(getattr(evidence, name)) for name in a.reads}
    if any(r is None for r in reps.values()):
        return None, OVER_PAIRS
    n_draws = min(len(r) for r in reps.values() if r is not None)
    seeds = analysis.training_seed_resamples(getattr(evidence, a.reads[0]), n_draws)
    out = []
    pairs = sorted(rows.groupby(UNIT).groups)
    for i in range(n_draws):
        frames = {name: r[i] for name, r in reps.items() if r is not None}
        if seeds is not None:
            frames = {name: analysis.resample_training_seeds(f, seeds[i])
                      if analysis.TRAINING_SEED in f.columns else f for name, f in frames.items()}
        r = a.prepare(dataclasses.replace(evidence, **frames), params)
        if isinstance(r, str) or sorted(r.groupby(UNIT).groups) != pairs:
            return None, OVER_PAIRS
        out.append(r)
    return out, OVER_IMAGES if seeds is None else OVER_TRAINING


# --------------------------------------------------------------------------- bootstrap
def bootstrap(rows: pd.DataFrame, statistic: Callable[[pd.DataFrame], float], *,
              n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL,
              fast: Callable[[pd.DataFrame, np.ndarray], np.ndarray] | None = None,
              replicates: list[pd.DataFrame] | None = None) -> tuple[float, float]:
    """Percentile interval of `statistic` over resamples of the encoder × dataset pairs (a pair
    drawn twice counts twice; its rows go together). Seeded: the same rows give the same interval.
    `fast(rows, picks)` computes the statistic of every resample at once (`picks`: resamples ×
    pairs, indices into the pairs in sorted order), the same numbers without a loop.
    `replicates`: `rows` once per image resample (the same pairs); each resample of the pairs
    then reads one of them at random, so the interval carries the images' spread too."""
    n_units = rows.groupby(UNIT, sort=True).ngroups
    if n_units < MIN_UNITS:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n_units, (n_boot, n_units))

    def stats_of(r: pd.DataFrame, p: np.ndarray) -> np.ndarray:
        if fast is not None:
            return fast(r, p)
        idx = list(r.groupby(UNIT, sort=True).indices.values())
        return np.array([statistic(r.iloc[np.concatenate([idx[i] for i in pick])]) for pick in p])

    if replicates:
        which = rng.integers(0, len(replicates), n_boot)
        draws = np.full(n_boot, np.nan)
        for i, r in enumerate(replicates):
            if (which == i).any():
                draws[which == i] = stats_of(r, picks[which == i])
    else:
        draws = stats_of(rows, picks)
    draws = draws[np.isfinite(draws)]
    if len(draws) < n_boot / 2:  # most resamples undefined: no interval
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def verdict(claim: Claim | str, evidence: Evidence, *, n_boot: int = N_BOOT, seed: int = 0
            ) -> Verdict:
    """This build's verdict on one claim, with its value and bootstrap interval."""
    c = get_claim(claim) if isinstance(claim, str) else claim
    a = ANALYSES[c.analysis]
    try:
        rows = a.prepare(evidence, c.params)
    except KeyError as err:  # a results frame without a column the analysis reads
        rows = f"the results have no column {err}"
    if isinstance(rows, str):
        where = ", ".join(f"`{p}`" for p in c.profiles) or "no shipped profile"
        return Verdict(c, "not testable", reason=f"{rows}; meant for: {where}.")
    value = a.statistic(rows, c.params)
    n = int(rows.groupby(UNIT).ngroups)
    fast = (lambda r, picks: a.fast(r, c.params, picks)) if a.fast else None
    reps, over = _replicated_rows(a, evidence, c.params, rows) if n >= MIN_UNITS else (None, OVER_PAIRS)
    low, high = bootstrap(rows, lambda r: a.statistic(r, c.params), n_boot=n_boot, seed=seed,
                          fast=fast, replicates=reps)
    why = (f"only {n} encoder × dataset pair{'s' if n != 1 else ''}, too few for an interval"
           if n < MIN_UNITS else "")
    return Verdict(c, decide(c.rule, low, high), value, low, high, n, why, over)


def verdicts(evidence: Evidence, *, n_boot: int = N_BOOT, seed: int = 0,
             deferred: Mapping[str, str] | None = None) -> list[Verdict]:
    """Every claim's verdict, in the registry's order. `deferred`: analysis -> why a page leaves
    its claims to their chapter (e.g. the cut sweep, which embeds every pair), shown as such."""
    deferred = deferred or {}
    return [Verdict(c, DEFERRED, reason=deferred[c.analysis]) if c.analysis in deferred
            else verdict(c, evidence, n_boot=n_boot, seed=seed) for c in claims()]


def verdict_table(vs: list[Verdict], link: Callable[[str], str] = lambda ch: ch) -> list[str]:
    """A Markdown table: claim, where the paper says it, verdict, value [interval], chapter."""
    lines = ["| the paper's claim | where in the paper | verdict here | statistic: value [95 % interval] | chapter |",
             "|---|---|---|---|---|"]
    for v in vs:
        notes = [x for x in (v.reason, "pairs only" if v.over == OVER_PAIRS and np.isfinite(v.ci_low) else "")
                 if x]
        value = (v.reason if v.verdict in ("not testable", DEFERRED)
                 else f"{v.interval}{' (' + '; '.join(notes) + ')' if notes else ''}")
        lines.append(f"| {v.claim.claim} | {v.claim.where} | **{v.verdict}** | "
                     f"{v.claim.statistic}: {value} | {link(v.claim.chapter)} |")
    return lines
