"""Sphinx configuration of genprior's documentation site (``make docs`` builds it into build/docs/html).

Sphinx with sphinx-gallery, as DeepInverse and SCICO use: the gallery's examples are
executed at every build, so their figures and numbers are current; autodoc/autosummary
generate the API reference from the docstrings, a small directive of our own
(_ext/genprior_docs.py) the CLI reference from the commands themselves, and myst-parser renders the Markdown pages (the paper's REPORT.md and
benchmarks/RESULTS.md as they are committed).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE / "_ext"))

project = "genprior"
author = "the genprior developers"
copyright = "the genprior developers (MIT licence)"
release = version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "sphinx-mathjax-offline",   # MathJax 3 served from the site itself: formulas render offline
    "genprior_docs",            # every code block is executed somewhere (see _ext/genprior_docs.py)
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "**/README.txt", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# -- API reference -----------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autosummary_mock_imports = ["genprior.__main__"]  # importing it would run the CLI
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True

# -- doctest: the doctest builder runs every >>> block of the pages and docstrings -----
doctest_global_setup = "import torch\nimport genprior as gp\ntorch.manual_seed(0)\n"

# -- gallery: examples/plot_*.py, executed at every build (a failing example fails the build) --
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "reset_modules": ("matplotlib", "genprior_docs.reset_registries"),
    "reset_modules_order": "both",
    "image_scrapers": ("matplotlib",),
    "min_reported_time": 0,
    "show_memory": False,
    "capture_repr": (),  # the examples print what they mean to show
}

# -- HTML ---------------------------------------------------------------------------------
html_theme = "furo"
html_title = "genprior"
html_static_path: list[str] = []
html_show_sourcelink = False
pygments_style = "sphinx"

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MPLBACKEND", "Agg")
