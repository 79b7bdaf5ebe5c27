"""What a reader of the built book sees, measured in headless Chromium (used by test_book.py).

For each page, a copy with a measuring script is loaded at 1280 px (`--dump-dom` prints the
DOM once the script has written its findings into it), then the page itself is captured full
length into `_build/screenshots/`. `problems` turns the measurements into complaints:

- the page scrolls sideways (`scrollWidth > innerWidth`), with its folded blocks shut or open;
- a table is wider than the text column, or a figure is shrunk so far its text is illegible;
- a chapter page shows a code input before the reader asks for it, or has no figure;
- an error or a traceback is rendered, or a table cell reads "nan" where a value was expected.

Run it on a built site: `python tests/pages.py _build/html` (prints one line per page).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

WIDTH = 1280
MAX_HEIGHT = 16000  # Chromium's screenshot limit is about 16k px
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                        else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=15000"]

MEASURE = r"""
<script>
window.addEventListener("load", () => setTimeout(() => {
  const de = document.documentElement;
  const folded = (el) => {  // inside a shut <details>, other than in its summary
    for (let d = el.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) {
      const summary = d.querySelector(":scope > summary");
      if (!d.open && !(summary && summary.contains(el))) return true;
    }
    return false;
  };
  const shown = (el) => !folded(el) && el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== "hidden";
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const pad = getComputedStyle(article);
  const column = article.clientWidth - parseFloat(pad.paddingLeft) - parseFloat(pad.paddingRight);
  const out = {innerWidth: window.innerWidth, scrollWidth: de.scrollWidth, column: column};
  out.code_inputs_shown = [...document.querySelectorAll(".cell .cell_input")].filter(shown).length;
  out.code_inputs = document.querySelectorAll(".cell .cell_input").length;
  out.errors = [...document.querySelectorAll(".output.traceback, .output.error, .output.stderr")].length
    + (document.body.innerText.includes("Traceback (most recent call last)") ? 1 : 0);
  out.nan_cells = [...article.querySelectorAll("td, th")].map((c) => c.textContent.trim())
    .filter((t) => ["nan", "NaN", "<NA>", "None", "NaT", "inf", "-inf"].includes(t)).length;
  out.height = de.scrollHeight;  // as first seen, for the screenshot
  for (const d of document.querySelectorAll("details")) d.open = true;
  out.scrollWidth_open = de.scrollWidth;
  out.wide_tables = [...article.querySelectorAll("table")]
    .filter((t) => t.getBoundingClientRect().width > column + 1)
    .map((t) => `${Math.round(t.getBoundingClientRect().width)} px: `
      + (t.closest("details")?.querySelector("summary")?.textContent
         || t.querySelector("th")?.textContent || "").trim().slice(0, 60));
  const imgs = [...article.querySelectorAll(".cell_output img, img")].filter((i) => !i.closest("nav"));
  out.figures = imgs.filter((i) => i.naturalWidth > 0).length;
  out.broken_images = imgs.filter((i) => i.naturalWidth === 0).length;
  // a 2x ("retina") figure is meant to be shown at the width its output states, half its pixels
  out.shrunk_figures = imgs.filter((i) => i.naturalWidth > 0
    && i.clientWidth < 0.8 * (parseFloat(i.style.width) || parseFloat(i.getAttribute("width")) || i.naturalWidth)).length;
  const pre = document.createElement("pre");
  pre.id = "zsc-measure";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 300));
</script>
"""


def measure(page: Path, profile_dir: Path, chromium: str | None = CHROMIUM) -> dict[str, Any]:
    """The page's measurements (see MEASURE), from a copy beside it that carries the script."""
    if chromium is None:
        raise RuntimeError("chromium is not installed")
    probe = page.with_name(f".measure-{page.name}")
    text = page.read_text()
    probe.write_text(text.replace("</body>", MEASURE + "</body>") if "</body>" in text
                     else text + MEASURE)
    try:
        out = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile_dir}",
                              f"--window-size={WIDTH},1000", "--dump-dom", probe.as_uri()],
                             capture_output=True, text=True, timeout=120)
    finally:
        probe.unlink(missing_ok=True)
    found = re.search(r'<pre id="zsc-measure"[^>]*>(.*?)</pre>', out.stdout, re.S)
    if not found:
        raise RuntimeError(f"no measurement of {page}: {out.stderr[-500:]}")
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, png: Path, height: int, profile_dir: Path,
               chromium: str | None = CHROMIUM) -> Path:
    """The whole page (up to MAX_HEIGHT px) as the reader first sees it, at WIDTH px."""
    if chromium is None:
        raise RuntimeError("chromium is not installed")
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    size = f"--window-size={WIDTH},{max(800, min(height, MAX_HEIGHT))}"
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile_dir}", size,
                    f"--screenshot={png}", page.as_uri()], capture_output=True, text=True,
                   timeout=120)
    return png


def problems(m: dict[str, Any], chapter: bool) -> list[str]:
    """What is wrong with a page, from its measurements (empty: nothing)."""
    out = []
    if m["scrollWidth"] > m["innerWidth"] or m["scrollWidth_open"] > m["innerWidth"]:
        out.append(f"scrolls sideways ({m['scrollWidth']}/{m['scrollWidth_open']} px wide, shut/"
                   f"open, at {m['innerWidth']} px)")
    if m["wide_tables"]:
        out.append(f"table(s) wider than the text column ({m['column']} px): "
                   + ", ".join(m["wide_tables"]))
    if m["shrunk_figures"]:
        out.append(f"{m['shrunk_figures']} figure(s) shrunk below 80 % of their size")
    if m["broken_images"]:
        out.append(f"{m['broken_images']} image(s) did not load")
    if m["errors"]:
        out.append(f"{m['errors']} error output(s)")
    if m["nan_cells"]:
        out.append(f"{m['nan_cells']} table cell(s) read nan/None")
    if chapter and m["code_inputs_shown"]:
        out.append(f"{m['code_inputs_shown']} of {m['code_inputs']} code inputs shown by default")
    if chapter and not m["figures"]:
        out.append("no figure")
    return out


def check_site(html_dir: Path, shots: Path, chapters: str = "_build/notebooks"
               ) -> dict[str, list[str]]:
    """Measure and capture every page of a built site; {page: problems} for each page."""
    html_dir = html_dir.resolve()
    pages = sorted(html_dir.glob(f"{chapters}/*.html")) + sorted(html_dir.glob("book/*.html"))
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        for page in pages:
            m = measure(page, Path(tmp))
            screenshot(page, shots / f"{page.parent.name}-{page.stem}.png", m["height"], Path(tmp))
            rel = str(page.relative_to(html_dir))
            report[rel] = problems(m, chapter=page.parent == html_dir / chapters)
    return report


if __name__ == "__main__":
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html").resolve()
    found = check_site(site, site.parent / "screenshots")
    for name, bad in found.items():
        print(f"{name}: {'; '.join(bad) or 'ok'}")
    sys.exit(1 if any(found.values()) else 0)
