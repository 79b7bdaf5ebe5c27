"""`zsc cluster`: a folder of odd image files in, assignments and a self-contained report out."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from zsc.cli import main
from zsc.cuts import CUT_RULES, DEFAULT_RULE, alternatives, choose_cut
from zsc.data.folder import find_files, open_image, read_images

CHROMIUM = shutil.which("chromium") or (("/usr/bin/chromium") if Path("/usr/bin/chromium").exists() else None)
COLUMNS = ["path", "cluster", "silhouette", "outlier_score", "duplicate_group", "x", "y"]


def _shape(kind: int, i: int, size: int = 40) -> np.ndarray:
    """Three visibly different kinds of picture (disc, bars, checker), a little varied."""
    rng = np.random.default_rng(i)
    yy, xx = np.mgrid[:size, :size]
    if kind == 0:
        r = 10 + i % 5
        m = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < r * r
        img = np.stack([m * 230, m * 40, m * 40], -1)
    elif kind == 1:
        m = (xx // (4 + i % 3)) % 2 == 0
        img = np.stack([m * 30, m * 200, m * 60], -1)
    else:
        m = ((xx // 8) + (yy // 8)) % 2 == 0
        img = np.stack([m * 40, m * 60, m * 220], -1)
    return np.clip(img + rng.integers(0, 25, img.shape), 0, 255).astype(np.uint8)


def odd_files(root: Path) -> dict[str, str]:
    """Every kind of file a real folder holds, made with Pillow; returns name -> expected fate
    ("ok" or the start of the skip reason)."""
    (root / "sub" / "deeper").mkdir(parents=True)
    rgb = Image.fromarray(_shape(0, 1))
    rgba = rgb.convert("RGBA")
    rgba.putalpha(128)
    frames = [Image.fromarray(_shape(1, 2)), Image.fromarray(_shape(2, 3))]
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view: stored 20 wide, shown 60 wide
    deep = Image.fromarray((np.arange(40 * 40).reshape(40, 40) * 40).astype(np.uint16))
    writers = {
        "plain.png": lambda p: rgb.save(p),
        "cmyk.jpg": lambda p: rgb.convert("CMYK").save(p),
        "photo.webp": lambda p: rgb.save(p),
        "scan.tiff": lambda p: rgb.save(p),
        "old.bmp": lambda p: rgb.save(p),
        "sub/deeper/anim.gif": lambda p: frames[0].save(p, save_all=True, append_images=frames[1:]),
        "palette.png": lambda p: rgb.convert("P", palette=Image.Palette.ADAPTIVE).save(p),
        "alpha.png": lambda p: rgba.save(p),
        "deep16.png": lambda p: deep.save(p),
        "grey.png": lambda p: rgb.convert("L").save(p),
        "rotated.jpg": lambda p: Image.fromarray(np.zeros((60, 20, 3), np.uint8)).save(p, exif=exif),
    }
    fates = {}
    for name, write in writers.items():
        write(root / name)
        fates[name] = "ok"
    good = (root / "plain.png").read_bytes()
    bad = {"empty.png": (b"", "empty"), "truncated.png": (good[: len(good) // 2], "corrupt"),
           "notes.txt.jpg": (b"this is not a picture", "not an image")}
    for name, (data, fate) in bad.items():
        (root / name).write_bytes(data)
        fates[name] = fate
    (root / ".hidden.png").write_bytes(good)  # hidden: ignored, neither read nor skipped
    return fates


def shapes_folder(root: Path, n: int = 12) -> Path:
    """3 kinds x n small PNGs, plus one exact duplicate."""
    root.mkdir(parents=True, exist_ok=True)
    for kind in range(3):
        for i in range(n):
            Image.fromarray(_shape(kind, i)).save(root / f"k{kind}_{i:02d}.png")
    shutil.copy(root / "k0_00.png", root / "copy_of_k0_00.png")
    return root


def _digest(root: Path) -> dict[str, tuple[str, float]]:
    return {str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_odd_file_is_read_or_skipped_with_its_reason(tmp_path):
    fates = odd_files(tmp_path)
    before = _digest(tmp_path)
    folder = read_images([tmp_path], progress=False)
    read = {str(Path(p).relative_to(tmp_path)) for p in folder.paths}
    assert read == {k for k, v in fates.items() if v == "ok"}
    reasons = {str(Path(s.path).relative_to(tmp_path)): s.reason for s in folder.skipped}
    assert set(reasons) == {k for k, v in fates.items() if v != "ok"}
    for name, reason in reasons.items():
        assert reason.startswith(fates[name]), (name, reason)
    assert all(t.mode == "RGB" for t in folder.thumbnails)
    assert _digest(tmp_path) == before  # nothing under PATH modified


def test_modes_and_orientation_come_out_as_seen(tmp_path):
    odd_files(tmp_path)
    assert open_image(tmp_path / "rotated.jpg").size == (60, 20)  # EXIF orientation applied
    alpha = np.asarray(open_image(tmp_path / "alpha.png"))
    assert alpha.mean() > 128  # transparent over white, not black
    deep = np.asarray(open_image(tmp_path / "deep16.png"))
    assert deep.max() == 255 and deep.min() == 0  # 16-bit scaled, not clipped
    cmyk = np.asarray(open_image(tmp_path / "cmyk.jpg")).astype(int)
    plain = np.asarray(open_image(tmp_path / "plain.png")).astype(int)
    assert np.abs(cmyk - plain).mean() < 20


def test_paths_globs_and_lists(tmp_path):
    shapes_folder(tmp_path / "imgs", n=2)
    files, _ = find_files([str(tmp_path / "imgs" / "k1_*.png")])
    assert [f.name for f in files] == ["k1_00.png", "k1_01.png"]
    lst = tmp_path / "list.txt"
    lst.write_text("# my picks\nimgs/k0_00.png\nimgs/missing.png\n")
    files, skipped = find_files([lst, tmp_path / "imgs" / "k0_00.png"])  # the same file once
    assert [f.name for f in files] == ["k0_00.png"]
    assert skipped[0].reason.startswith("listed in list.txt")


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["cluster", str(tmp_path / "nope"), "-o", str(tmp_path / "out")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "few").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "few" / "one.png")
    assert main(["cluster", str(tmp_path / "few"), "-o", str(tmp_path / "out")]) == 2
    assert "needs at least" in capsys.readouterr().err
    assert main(["cluster", str(tmp_path / "few"), "-o", str(tmp_path / "few" / "out")]) == 2
    assert "inside the input folder" in capsys.readouterr().err
    assert main(["cluster", str(tmp_path / "few"), "--encoder", "nope"]) == 2
    assert main(["cluster", str(tmp_path / "few"), "--rule", "nope"]) == 2
    assert main(["cluster", str(tmp_path / "few"), "--stability", "-1"]) == 2
    assert "--stability must be 0 or more" in capsys.readouterr().err


def test_cut_rules_read_no_labels_and_offer_alternatives():
    sweep = pd.DataFrame({"n_clusters": [2, 3, 4, 5, 6, 8, 10, 15],
                          "silhouette": [0.6, 0.5, 0.4, 0.45, 0.5, 0.42, 0.4, 0.3],
                          "calinski_harabasz": np.arange(8.0), "davies_bouldin": np.arange(8.0)})
    assert choose_cut(sweep, "silhouette") == 2
    assert choose_cut(sweep, "silhouette_min5") == 6
    assert alternatives(sweep, 6) == (2, 10)
    assert DEFAULT_RULE in CUT_RULES


@pytest.fixture(scope="module")
def pixels_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    folder = shapes_folder(root / "imgs")
    odd = root / "imgs" / "odd"
    odd.mkdir()
    (odd / "empty.jpg").write_bytes(b"")
    (odd / "readme.md").write_text("# not an image")
    before = _digest(folder)
    out = root / "out"
    with pytest.MonkeyPatch.context() as mp:  # module-scoped: the autouse home is not set yet
        mp.setenv("ZSC_HOME", str(root / "zsc_home"))
        mp.delenv("ZSC_CACHE_DIR", raising=False)
        rc = main(["cluster", str(folder), "-o", str(out), "--encoder", "pixels", "--no-progress",
                   "--links"])
    assert rc == 0
    assert (root / "zsc_home" / "cache" / "files" / "pixels").is_dir()
    # one neighbour graph for the run's four UMAPs (50-d, the 2-D map, two stability seeds),
    # one by cosine for the outliers and near-duplicates
    assert len(list((root / "zsc_home" / "cache" / "neighbours").glob("*.npz"))) == 2
    assert len(list((root / "zsc_home" / "cache" / "reduced").glob("umap*.npz"))) == 4
    assert _digest(folder) == before
    return out, folder


def test_command_end_to_end(pixels_run):
    out, folder = pixels_run
    df = pd.read_csv(out / "assignments.csv")
    assert list(df.columns) == COLUMNS
    assert len(df) == 37  # 3 x 12 + the copy; the two odd files skipped
    assert df["cluster"].nunique() >= 2
    # the three kinds are found (each kind inside one cluster) when k = 3 is asked for
    dup = df[df["path"].str.contains("k0_00")]["duplicate_group"]
    assert (dup >= 0).all() and dup.nunique() == 1
    assert (out / "montage.png").stat().st_size > 1000 and (out / "map.png").exists()
    linked = sorted((out / "clusters").rglob("*.png"))  # --links: a folder per cluster
    assert len(linked) == 37 and all(p.resolve().parent == folder.resolve() for p in linked)
    assert {p.parent.name for p in linked} == {str(c) for c in df["cluster"].unique()}


def test_report_is_self_contained_and_lists_skipped(pixels_run):
    out, _ = pixels_run
    text = (out / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<script" not in text and "@import" not in text and "url(" not in text
    uris = re.findall(r'src="data:image/(png|jpeg);base64,([A-Za-z0-9+/=]+)"', text)
    assert len(uris) > 10 and len(uris) == text.count("<img ")  # every picture inline ...
    for _, data in uris:  # ... and every one decodes
        Image.open(io.BytesIO(base64.b64decode(data))).load()
    for must in ("empty file", "readme.md", "not an image", "How many clusters", "zsc cluster ",
                 "pixels", "numpy", "Near-duplicates", "Outliers", "agreement across UMAP seeds",
                 "with 2 other layout seed(s)", "--stability 2"):
        assert must in text, must


def test_given_k_and_three_kinds(tmp_path):
    from zsc.explore import cluster_images

    folder = shapes_folder(tmp_path / "imgs", n=8)
    res = cluster_images([folder], encoder="pixels", k=3, progress=False)
    assert res.k == 3 and res.how == "given (--k)"
    kinds = [Path(p).name[:2] for p in res.paths]
    table = pd.crosstab(pd.Series(kinds, name="kind"), pd.Series(res.labels, name="c"))
    assert ((table > 0).sum(axis=1) == 1).sum() >= 2  # at least two kinds kept whole


def test_default_encoder_and_cache(tmp_path, monkeypatch):
    """EfficientNet-Lite0 (the default) end to end; a second run embeds nothing new."""
    from zsc import explore

    monkeypatch.setenv("ZSC_CACHE_DIR", str(tmp_path / "cache"))
    folder = shapes_folder(tmp_path / "imgs", n=4)
    res = explore.cluster_images([folder], tmp_path / "out", progress=False)
    assert res.encoder == "efficientnet_lite0" and res.embeddings.shape == (13, 1280)
    calls = []
    monkeypatch.setattr(explore, "encode", lambda *a, **k: calls.append(1))
    again = explore.cluster_images([folder], progress=False)
    assert calls == [] and np.allclose(again.embeddings, res.embeddings)


def test_gallery_takes_arrays_and_paths(tmp_path):
    """The montage and map functions the report (and the book) draw with."""
    from matplotlib.figure import Figure

    from zsc import gallery

    arrays = np.stack([_shape(i % 3, i) for i in range(9)])
    folder = shapes_folder(tmp_path, n=2)
    paths = sorted(folder.glob("k*.png"))
    for images in (arrays, paths, arrays[..., 0]):
        fig = gallery.montage(images, titles=[str(i) for i in range(len(images))], ncol=4)
        assert isinstance(fig, Figure) and len(gallery.figure_png(fig)) > 1000
    fig = gallery.cluster_montage(arrays, np.arange(9) % 3, per_cluster=3)
    assert sum(ax.has_data() for ax in fig.axes) == 9
    xy = np.random.default_rng(0).normal(size=(9, 2))
    fig = gallery.thumbnail_map(arrays, xy, np.arange(9) % 3, n_thumbs=5)
    assert len(fig.axes) == 1 and len(fig.axes[0].artists) == 5  # five thumbnails drawn
    assert gallery.figure_png(fig)
    panels = [(arrays, xy, np.arange(9) % 3, "a"), (paths, xy[:len(paths)], None, "b"),
              (arrays, -xy, np.arange(9) % 3, "c")]
    fig = gallery.thumbnail_maps(panels, ncol=2, n_thumbs=4)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c", ""]
    assert [len(ax.artists) for ax in fig.axes] == [4, 4, 4, 0] and not fig.axes[3].axison


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
@pytest.mark.parametrize("size", ["1280,2000", "390,1600"])
def test_report_renders_in_chromium(pixels_run, tmp_path, size):
    out, _ = pixels_run
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", f"--window-size={size}", (out / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    img = np.asarray(Image.open(shot).convert("L"))
    assert img.shape[1] == int(size.split(",")[0]) and (img < 200).mean() > 0.01  # drawn, not blank


def test_seed_agreement_is_one_for_the_same_seed_and_lower_for_noise():
    """The agreement is the chosen partition against the recipe redone with another UMAP seed:
    the run's own seed gives ARI 1; well separated blobs stay near 1 with other seeds."""
    from sklearn.datasets import make_blobs

    from zsc.cluster import Agglomerative
    from zsc.explore import seed_agreement, umap_config
    from zsc.reduce import reduce

    x, _ = make_blobs(n_samples=120, centers=4, n_features=10, cluster_std=0.5, random_state=0)
    cfg, _ = umap_config(len(x), 5)
    labels = Agglomerative(n_clusters=4, linkage="ward").fit(reduce(x, cfg, cache=False)).labels_
    a = seed_agreement(x, cfg, labels, 4, [cfg.seed, 7], cache=False)
    assert a["umap_seed"].tolist() == [cfg.seed, 7]
    assert a["ari"].iloc[0] == pytest.approx(1.0) and a["ari"].iloc[1] > 0.9


def test_several_encoders_are_compared_in_one_report(tmp_path, capsys):
    folder = shapes_folder(tmp_path / "imgs")
    out = tmp_path / "out"
    assert main(["cluster", str(folder), "-o", str(out), "--encoder", "pixels", "--encoder",
                 "zoo_random_resnet", "--no-progress", "--stability", "0"]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out / "assignments.csv")
    other = table["cluster_zoo_random_resnet"]
    assert set(COLUMNS) < set(table.columns) and other.notna().all()
    line = next(s for s in printed.splitlines() if s.strip().startswith("zoo_random_resnet:"))
    k = int(re.search(r"(\d+) clusters", line).group(1))
    assert other.nunique() == k  # the printed k is the column's
    ari = float(re.search(r"ARI with pixels's (-?[\d.]+)", line).group(1))
    from sklearn.metrics import adjusted_rand_score

    assert abs(adjusted_rand_score(table["cluster"], other) - ari) < 0.006  # as printed (2 decimals)
    page = (out / "report.html").read_text()
    assert "Encoders compared" in page and "zoo_random_resnet" in page
    assert "--encoder pixels --encoder zoo_random_resnet" in page  # the command to rerun


def test_a_large_duplicate_group_shows_a_bounded_number_of_thumbnails(tmp_path, monkeypatch):
    """Near-duplicates chain into groups of thousands at 100k images (Fashion-MNIST with the
    pixels encoder: one group of 721 at 20k); the report shows a few of each, not all."""
    from zsc.explore import cluster_images
    from zsc.explore import report as R

    monkeypatch.setattr(R, "MAX_DUPLICATES_SHOWN", 4)
    folder = shapes_folder(tmp_path / "in", n=6)
    for i in range(9):  # 10 identical files, one group
        shutil.copy(folder / "k1_00.png", folder / f"again_{i}.png")
    cluster_images([folder], tmp_path / "out", encoder="pixels", k=3, stability_seeds=0, progress=False)
    text = (tmp_path / "out" / "report.html").read_text()
    section = text.split("<h2>Near-duplicates</h2>")[1].split("<h2>")[0]
    df = pd.read_csv(tmp_path / "out" / "assignments.csv")
    sizes = df.loc[df["duplicate_group"] >= 0, "duplicate_group"].value_counts()
    assert sizes.max() >= 10
    assert section.count("<img ") == sum(min(4, s) for s in sizes)
    assert f"{sizes.max() - 4} more in this group" in section


def test_outliers_and_near_duplicates_from_one_cosine_graph(tmp_path, monkeypatch):
    """The scores from the cosine neighbour graph equal the brute-force ones: mean cosine distance
    to the 5 nearest others; groups of images within cosine 0.985 (here smaller than the 30
    neighbours looked at), and identical files grouped whatever their embeddings."""
    from scipy.sparse.csgraph import connected_components
    from sklearn.metrics import adjusted_rand_score
    from sklearn.metrics.pairwise import cosine_distances

    from zsc.explore import DUPLICATE_COSINE, cosine_graph, duplicate_groups, outlier_scores

    monkeypatch.setenv("ZSC_CACHE_DIR", str(tmp_path))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 16)).astype(np.float32)
    x[100:104] = x[100] + rng.normal(scale=0.01, size=(4, 16))  # a group of 4 near-copies
    x[200] = x[201] * 3  # the same direction: cosine 1
    sha = [f"h{i}" for i in range(400)]
    sha[300] = sha[5]  # the same bytes, different (here random) embeddings
    graph = cosine_graph(x)
    cos = cosine_distances(x)
    np.fill_diagonal(cos, np.inf)
    np.testing.assert_allclose(outlier_scores(graph), np.sort(cos, axis=1)[:, :5].mean(axis=1), atol=1e-5)
    groups = duplicate_groups(graph, sha)
    adj = cos <= 1 - DUPLICATE_COSINE
    adj[5, 300] = True
    _, ref = connected_components(adj, directed=False)
    in_group = np.bincount(ref)[ref] > 1
    np.testing.assert_array_equal(groups >= 0, in_group)
    assert adjusted_rand_score(groups[in_group], ref[in_group]) == 1.0
    assert sorted(np.bincount(groups[groups >= 0])) == [2, 2, 4]
