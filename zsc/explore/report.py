"""`zsc cluster`'s outputs: `assignments.csv` and one self-contained `report.html`.

The report is a single file a person can mail or open from `file://` years later: no script, no
external style, font or image; every picture is an inline base64 PNG/JPEG. It shows what the
clusters contain (montages of the most typical and least certain members), where they lie (a
thumbnail map), how the cut was chosen (the selection curve with a coarser and a finer
alternative), and what needs a look (near-duplicates, outliers, skipped files).
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import numpy as np

from .. import gallery
from ..cuts import choose_cut
from ..io import atomic_path
from ..versions import versions_text
from .result import ClusterImagesResult

TYPICAL = 8
UNCERTAIN = 4
MAX_CLUSTERS_SHOWN = 60
MAX_DUPLICATE_GROUPS = 30
MAX_DUPLICATES_SHOWN = 24  # thumbnails per near-duplicate group (the report stays small at 100k images)
N_OUTLIERS = 12

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.9rem;max-width:100%}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
.wrap{overflow-x:auto;max-width:100%}
img.fig{max-width:100%;height:auto;display:block}
.thumbs{display:flex;flex-wrap:wrap;gap:4px;margin:.25rem 0}
.thumbs figure{margin:0;width:100px;font-size:.7rem;text-align:center;overflow-wrap:anywhere}
.thumbs img{width:96px;height:96px;object-fit:contain;background:#fff;border:1px solid #ccc}
.cluster{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:.5rem .75rem;margin:.75rem 0}
.bar{background:#4c78a8;height:.8rem;display:inline-block}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f0f0f0;padding:.5rem;font-size:.8rem}
code{overflow-wrap:anywhere}.muted{color:#666}
"""


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _jpeg(thumb: object) -> str:
    buf = io.BytesIO()
    thumb.save(buf, format="JPEG", quality=85)  # type: ignore[attr-defined]
    return data_uri(buf.getvalue(), "image/jpeg")


def _fig(fig: object, alt: str) -> tuple[str, bytes]:
    png = gallery.figure_png(fig)  # type: ignore[arg-type]
    return f'<img class="fig" alt="{html.escape(alt)}" src="{data_uri(png, "image/png")}">', png


def selection_curve(res: ClusterImagesResult) -> object:
    """Silhouette of every candidate cut, the chosen one and its alternatives marked."""
    import matplotlib.pyplot as plt

    sw = res.sweep
    fig, ax = plt.subplots(figsize=(gallery.WIDTH, 3.2), dpi=gallery.DPI)
    ax.plot(sw["n_clusters"], sw["silhouette"], "o-", ms=3, color="0.3", label="silhouette (UMAP space)")
    paper = choose_cut(sw, "silhouette")
    marks = [(res.k, "C3", f"chosen: k = {res.k}"), (paper, "C1", f"highest silhouette (paper): k = {paper}")]
    if res.coarser:
        marks.append((res.coarser, "C0", f"coarser: k = {res.coarser}"))
    if res.finer:
        marks.append((res.finer, "C2", f"finer: k = {res.finer}"))
    for k, c, lab in marks:
        ax.axvline(k, color=c, ls="--" if c != "C3" else "-", lw=1.5, label=lab)
    ax.set_xscale("log")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ticks = [t for t in (2, 3, 5, 10, 20, 30, 50, 100, 200, 500, 1000, 2000, 5000)
             if t <= sw["n_clusters"].max() and not 1 / 1.3 < t / res.k < 1.3]  # none printed over k's
    ax.set_xticks(sorted(set(ticks) | {res.k}))
    ax.set_xlabel("number of clusters k (log scale)")
    ax.set_ylabel("silhouette")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def _thumbs(res: ClusterImagesResult, idx: list[int] | np.ndarray, caption: str = "silhouette") -> str:
    tab = res.table
    cells = []
    for i in idx:
        name = os.path.basename(res.paths[i])
        extra = {"silhouette": f"s={tab['silhouette'].iat[i]:.2f}",
                 "outlier": f"o={tab['outlier_score'].iat[i]:.3f}", "none": ""}[caption]
        title = html.escape(f"{res.paths[i]}  cluster {tab['cluster'].iat[i]}  {extra}")
        cells.append(f'<figure><img alt="{html.escape(name)}" title="{title}" '
                     f'src="{_jpeg(res.thumbnails[i])}"><figcaption>{html.escape(name[:28])}'
                     f'<br>{extra}</figcaption></figure>')
    return f'<div class="thumbs">{"".join(cells)}</div>'


def _members(res: ClusterImagesResult, c: int) -> tuple[list[int], list[int]]:
    """A cluster's most typical members (highest silhouette) and least certain (lowest)."""
    idx = np.flatnonzero(res.labels == c)
    order = idx[np.argsort(-np.nan_to_num(res.table["silhouette"].to_numpy()[idx], nan=0.0), kind="stable")]
    typical = list(order[:TYPICAL])
    rest = [i for i in order[::-1] if i not in typical][:UNCERTAIN]
    return typical, rest


def _mean_silhouette(res: ClusterImagesResult) -> float:
    return float(np.nanmean(res.table["silhouette"])) if res.table["silhouette"].notna().any() else float("nan")


def render_html(res: ClusterImagesResult, command: str | None, figures: dict[str, str]) -> str:
    tab = res.table
    sizes = tab["cluster"].value_counts().sort_index()
    e = html.escape
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>zsc cluster: {len(tab)} images, {res.k} clusters</title><style>{CSS}</style>"
             f"</head><body><main><h1>zsc cluster: {len(tab)} images in {res.k} clusters</h1>"]
    summary = [("images clustered", f"{len(tab):,}"), ("files skipped", f"{len(res.skipped):,}"),
               ("encoder", res.encoder), ("clusters (k)", str(res.k)), ("how k was chosen", res.how),
               ("coarser / finer alternative", f"{res.coarser or '–'} / {res.finer or '–'}"),
               ("near-duplicate groups", str(int(tab['duplicate_group'].max() + 1))),
               ("recipe", "UMAP to 50-d (30 neighbours, min_dist 0), agglomerative ward "
                          "(arXiv 2406.02465)"),
               ("time", ", ".join(f"{k} {v:.1f} s" for k, v in res.seconds.items()))]
    if len(res.agreement):
        a = res.agreement["ari"]
        summary.append(("agreement across UMAP seeds",
                        f"ARI {a.mean():.2f} (from {a.min():.2f} to {a.max():.2f}) with "
                        f"{len(a)} other layout seed(s) of the same neighbour graph, same k"))
    summary += [("note", n) for n in res.notes]
    parts.append("<h2>Summary</h2><div class='wrap'><table>" + "".join(
        f"<tr><th>{e(a)}</th><td>{e(b)}</td></tr>" for a, b in summary) + "</table></div>")
    if len(res.compared):
        parts.append("<h2>Encoders compared</h2><p>The same recipe on the same images with each "
                     "encoder asked for. Without labels nothing says which is right; a higher "
                     "silhouette (in the encoder's own UMAP space) is the paper's label-free hint of "
                     "better-separated clusters, and the adjusted Rand index says how alike two "
                     "partitions are (here: each with this report's; 1: the same clusters, 0: "
                     "chance). Each encoder's clusters are a column of assignments.csv.</p><div class='wrap'><table><tr><th>encoder</th>"
                     "<th>k</th><th>silhouette</th><th>ARI</th></tr>"
                     + f"<tr><td>{e(res.encoder)} (this report)</td><td>{res.k}</td>"
                     f"<td>{_mean_silhouette(res):.3f}</td><td>1</td></tr>" + "".join(
                         f"<tr><td>{e(r.encoder)}</td><td>{r.k}</td><td>{r.silhouette:.3f}</td>"
                         f"<td>{r.ari_with_first:.2f}</td></tr>" for r in res.compared.itertuples())
                     + "</table></div>")
    parts.append("<h2>How many clusters</h2><p>Each candidate cut of the ward tree, scored by its "
                 "silhouette in the UMAP space without any labels. The paper keeps the highest; that "
                 "often means two clusters, so the default rule takes the best cut of at least five "
                 "(measured on labelled data: README, “Clustering your own images”). To see the "
                 "coarser or finer alternative, rerun with <code>--k</code>.</p>" + figures["curve"])
    parts.append("<h2>Cluster sizes</h2><div class='wrap'><table style='width:100%;max-width:600px'><tr><th>cluster</th><th>images</th>"
                 "<th></th></tr>" + "".join(
                     f"<tr><td>{c}</td><td>{n}</td><td style='width:60%'><span class='bar' "
                     f"style='width:{max(1, round(100 * n / sizes.max()))}%'></span></td></tr>"
                     for c, n in sizes.items()) + "</table></div>")
    parts.append("<h2>Map</h2><p>The images in two dimensions (UMAP of the same embeddings), coloured "
                 "by cluster, with thumbnails of a sample.</p>" + figures["map"])
    parts.append("<h2>Clusters</h2><p>Per cluster: its most typical members (highest silhouette) and "
                 "its least certain ones (lowest), with s = silhouette. Hover for the path.</p>")
    shown = sizes.sort_values(ascending=False).index[:MAX_CLUSTERS_SHOWN]
    for c in sorted(shown):
        typical, unsure = _members(res, int(c))
        parts.append(f"<div class='cluster'><h3>cluster {c} <span class='muted'>({sizes[c]} images)"
                     f"</span></h3><div>most typical</div>{_thumbs(res, typical)}"
                     + (f"<div>least certain</div>{_thumbs(res, unsure)}" if unsure else "") + "</div>")
    if len(sizes) > len(shown):
        parts.append(f"<p class='muted'>{len(sizes) - len(shown)} smaller clusters not shown "
                     "(see assignments.csv).</p>")
    groups = [g for g in sorted(tab["duplicate_group"].unique()) if g >= 0]
    parts.append(f"<h2>Near-duplicates</h2><p>{len(groups)} group(s) of images that are identical or "
                 "nearly so in the encoder's space.</p>")
    for g in groups[:MAX_DUPLICATE_GROUPS]:
        members = list(np.flatnonzero(tab["duplicate_group"] == g))
        more = len(members) - MAX_DUPLICATES_SHOWN  # a group can chain thousands of images together
        parts.append(f"<div>group {g} ({len(members)} images)</div>"
                     + _thumbs(res, members[:MAX_DUPLICATES_SHOWN], "none")
                     + (f"<p class='muted'>{more} more in this group (assignments.csv, duplicate_group "
                        f"{g}).</p>" if more > 0 else ""))
    out_idx = list(np.argsort(-tab["outlier_score"].to_numpy())[:N_OUTLIERS])
    parts.append("<h2>Outliers</h2><p>The images least like any other in the folder (o = mean cosine "
                 "distance to their 5 nearest neighbours).</p>" + _thumbs(res, out_idx, "outlier"))
    parts.append(f"<h2>Skipped files ({len(res.skipped)})</h2>")
    if res.skipped:
        parts.append("<div class='wrap'><table><tr><th>file</th><th>reason</th></tr>" + "".join(
            f"<tr><td><code>{e(s.path)}</code></td><td>{e(s.reason)}</td></tr>" for s in res.skipped)
            + "</table></div>")
    else:
        parts.append("<p>None: every file was read.</p>")
    parts.append("<h2>Provenance</h2><p>To rerun:</p><pre>" + e(command or "(called from Python)")
                 + "</pre><p>Package versions:</p><pre>" + e(versions_text()) + "</pre>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def write_report(res: ClusterImagesResult, out: str | os.PathLike[str], *, command: str | None = None
                 ) -> Path:
    """Write `assignments.csv`, `report.html` and the montage and map PNGs into `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "assignments.csv") as tmp:
        res.table.to_csv(tmp, index=False)
    figures, pngs = {}, {}
    figures["curve"], pngs["selection.png"] = _fig(selection_curve(res), "selection curve")
    n_thumbs = min(250, len(res.paths))
    figures["map"], pngs["map.png"] = _fig(gallery.thumbnail_map(
        res.thumbnails, res.table[["x", "y"]].to_numpy(), res.labels, n_thumbs=n_thumbs), "2-D map")
    sil = np.nan_to_num(res.table["silhouette"].to_numpy(), nan=0.0)
    _, pngs["montage.png"] = _fig(gallery.cluster_montage(
        res.thumbnails, res.labels, order=np.argsort(-sil, kind="stable")), "montage")
    for name, png in pngs.items():
        with atomic_path(out / name) as tmp:
            tmp.write_bytes(png)
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(render_html(res, command, figures), encoding="utf-8")
    return out / "report.html"


def link_clusters(res: ClusterImagesResult, out: str | os.PathLike[str]) -> Path:
    """OUT/clusters/<cluster>/ with a symbolic link to each member (a copy where the file system
    has no links), so a file manager shows the clusters; the originals are never touched. Names
    keep the file's own, prefixed by its row in assignments.csv (two folders may share a name)."""
    import shutil

    root = Path(out) / "clusters"
    if root.exists():
        shutil.rmtree(root)  # only zsc's own links from an earlier run
    for i, (path, c) in enumerate(zip(res.paths, res.labels, strict=True)):
        d = root / str(int(c))
        d.mkdir(parents=True, exist_ok=True)
        target = d / f"{i:06d}_{os.path.basename(path)}"
        try:
            target.symlink_to(Path(path).resolve())
        except OSError:
            shutil.copy2(path, target)
    return root
