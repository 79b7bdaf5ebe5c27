"""Smoke test of benchmarks/cluster_vs_peer.py (and the helpers cluster_scale.py shares): the
folder export with its odd formats and hidden labels, a `zsc cluster` subprocess on it, and the
scoring, at a tiny size with the peer skipped and the cheap `pixels` encoder (about 30 s)."""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import cluster_scale as S  # noqa: E402
from benchmarks import cluster_vs_peer as V  # noqa: E402


def test_odd_formats_are_what_they_claim(tmp_path):
    from PIL import Image

    a = (np.arange(28 * 28).reshape(28, 28) % 256).astype(np.uint8)
    modes = {}
    for fmt in V.ODD_FORMATS:
        p = V.write_image(a, tmp_path / fmt, fmt)
        with Image.open(p) as im:
            modes[fmt] = (p.suffix, im.mode)
    assert modes["jpeg_cmyk"] == (".jpg", "CMYK")
    assert modes["png_palette"] == (".png", "P")
    assert modes["png16"] == (".png", "I;16") and modes["tiff16"] == (".tif", "I;16")
    assert modes["webp_rgba"] == (".webp", "RGBA")
    assert modes["gif"][0] == ".gif" and modes["bmp"][0] == ".bmp"


def test_score_counts_read_images_and_ami():
    truth = {"/a": "x", "/b": "x", "/c": "y", "/d": "y"}
    assert V.score({"/a": 0, "/b": 0, "/c": 1, "/d": 1}, truth) == (4, 2, pytest.approx(1.0))
    read, k, _ = V.score({"/a": 3, "/c": 5, "/zz": 5}, truth)
    assert (read, k) == (3, 2)


def test_vs_peer_quick_without_peer(tmp_path):
    out_json = tmp_path / "r.json"
    rc = V.main(["--quick", "--no-peer", "--folders", "mixture", "--encoder", "pixels",
                 "--work", str(tmp_path / "w"), "--json", str(out_json)])
    assert rc == 0
    folder = tmp_path / "w" / "folders" / "mixture-quick"
    labels = tmp_path / "w" / "labels" / "mixture-quick.csv"
    assert labels.is_file() and not any(p.suffix == ".csv" for p in folder.rglob("*"))  # labels kept out
    with open(labels, newline="") as f:
        rows = list(csv.DictReader(f))
    n_fm, n_dg = V.QUICK["mixture"]
    assert len(rows) == n_fm + n_dg
    assert all(re.fullmatch(r"batch_[ab]/\d{5}\.\w+", r["path"]) for r in rows)  # names say nothing
    suffixes = {Path(r["path"]).suffix for r in rows}
    assert {".jpg", ".png", ".tif", ".webp", ".gif", ".bmp"} <= suffixes
    res = json.loads(out_json.read_text())
    (row,) = res["rows"]
    z = row["zsc"]
    assert z["ok"], z["error"]
    assert row["files"] == n_fm + n_dg + len(V.UNREADABLE) and z["read"] == n_fm + n_dg
    assert z["k"] >= 2 and 0 < z["ami"] <= 1 and z["seconds"] > 0 and z["peak_gib"] > 0.05
    assert set(z["extra"]["stages"]) >= {"read", "embed", "reduce", "cluster"}
    assert row["peer"] is None
    same = S.same_assignments(tmp_path / "w" / "out" / "mixture-zsc", tmp_path / "w" / "out" / "mixture-zsc")
    assert same == {"same_paths": True, "identical": True, "ari": 1.0}
