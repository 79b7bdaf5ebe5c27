"""JupyterLab for this project: `jupyter lab --config=jupyter_lab_config.py` (from the checkout).

The chapters are jupytext MyST notebooks (`notebooks/*.md`). jupytext's server extension, which
`pip install jupytext` enables, reads and saves them as notebooks; JupyterLab still opens a
`.md` file in its text editor on a double click unless the file type's default viewer is
"Jupytext Notebook". These settings defaults (`.jupyter/lab/settings/overrides.json`) make it
so for Markdown and MyST files, for this project only; a user's own settings still win.
"""

from pathlib import Path

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
c.LabApp.app_settings_dir = str(Path(__file__).resolve().parent / ".jupyter" / "lab" / "settings")
