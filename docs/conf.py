"""Sphinx configuration of rnnkit's documentation: the API pages from the docstrings (autodoc,
Google-style docstrings through napoleon), the pages in Markdown (MyST) and the notebooks of
examples/ rendered with their stored outputs (myst-nb, never executed). Nothing is fetched from
the network: no intersphinx, and the furo theme ships its own assets.

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path

import rnnkit  # the installed package (pip install ".[docs]"): autodoc imports it, with its C++ extension

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

project = "rnnkit"
release = rnnkit.__version__
version = ".".join(release.split(".")[:2])

sys.path.insert(0, str(DOCS / "_ext"))
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode", "myst_nb", "rnnkit_docs"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# The notebooks of examples/ keep the outputs of a full run: they are shown as stored.
nb_execution_mode = "off"
nb_merge_streams = True
myst_heading_anchors = 3  # links to the sections of the Markdown pages (#known-differences)

# Docstrings: Google style (Args:, Returns:, Raises:), the members in each module's __all__ order.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Signatures show the arguments and their defaults as the source writes them; the types go to
# the descriptions of the documented arguments.
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_preserve_defaults = True
add_module_names = False

html_theme = "furo"
html_title = f"rnnkit {release}"
html_static_path = []
html_show_sourcelink = False


def _copy_notebooks() -> None:
    """docs/examples/ holds copies of examples/*.ipynb (not kept in git), refreshed when they
    change, so the notebooks have one source. Each copy is written to a temporary file and
    renamed into place, so concurrent builds never read half a notebook."""
    target = DOCS / "examples"
    target.mkdir(exist_ok=True)
    sources = sorted((ROOT / "examples").glob("*.ipynb"))
    for stale in set(target.glob("*.ipynb")) - {target / s.name for s in sources}:
        stale.unlink(missing_ok=True)
    for source in sources:
        copy = target / source.name
        if copy.exists() and filecmp.cmp(source, copy, shallow=False):
            continue
        handle, temporary = tempfile.mkstemp(dir=target, suffix=".tmp")
        os.close(handle)
        shutil.copyfile(source, temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, copy)


_copy_notebooks()
