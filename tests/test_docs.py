"""The documentation in docs/ builds offline with Sphinx, warnings as errors, and stays true:
an API page documents every public module and every name of its ``__all__``, each notebook of
examples/ is rendered with its stored outputs (never run), and every Python example of the
Markdown pages runs (the "Coming from Keras" side-by-side diff too, from its rnnkit side, and the
``test_*`` functions the pages define). The build needs the ``docs`` extra; without it the
build tests skip."""

import html
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rnnkit

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))
MISSING = [name for name in ("sphinx", "myst_nb", "furo") if importlib.util.find_spec(name) is None]
# Any attempt to fetch something (intersphinx, a theme's assets) goes to a closed port and fails.
OFFLINE = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": ""}
OFFLINE |= {key.upper(): value for key, value in OFFLINE.items()}


def _automodules():
    """The modules the API pages document: ``.. automodule::`` targets of docs/api/*.rst."""
    found = set()
    for page in (DOCS / "api").glob("*.rst"):
        found |= set(re.findall(r"^\.\. automodule:: (\S+)", page.read_text(), flags=re.M))
    return found


def _text(page):
    """The text of an HTML page, tags dropped and entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if MISSING:
        pytest.skip(f"building the docs needs {', '.join(MISSING)}: pip install '.[docs]'")
    out = tmp_path_factory.mktemp("docs")
    start = time.perf_counter()
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q", "-d", str(out / "doctrees"),
         str(DOCS), str(out / "html")],
        capture_output=True, text=True, timeout=900, env=os.environ | OFFLINE, cwd=ROOT)
    seconds = time.perf_counter() - start
    assert build.returncode == 0, f"sphinx-build failed after {seconds:.0f} s:\n{build.stdout}\n{build.stderr}"
    print(f"docs built in {seconds:.1f} s")
    return out / "html"


def test_configuration_fetches_nothing():
    conf = (DOCS / "conf.py").read_text()
    assert "sphinx.ext.intersphinx" not in conf and 'nb_execution_mode = "off"' in conf
    assert 'html_theme = "furo"' in conf


def test_every_public_module_has_an_api_page():
    package = ROOT / "python" / "rnnkit"
    public = {f"rnnkit.{path.stem}" for path in package.glob("*.py") if not path.stem.startswith("_")}
    public |= {f"rnnkit.{path.parent.name}" for path in package.glob("*/__init__.py")}
    assert public <= _automodules(), f"no API page for {sorted(public - _automodules())}"
    top_level = (DOCS / "api" / "rnnkit.rst").read_text()
    names = [name for name in rnnkit.__all__ if not isinstance(getattr(rnnkit, name), (type(sys), str))]
    assert [name for name in names if not re.search(rf"\b{name}\b", top_level)] == [], "api/rnnkit.rst lacks names"


def test_api_pages_document_every_public_name(site):
    ids = set()
    for page in (site / "api").glob("*.html"):
        ids |= set(re.findall(r'id="(rnnkit[\w.]*)"', page.read_text()))
    undocumented = []
    for module_name in sorted(_automodules() - {"rnnkit"}):
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            if not isinstance(getattr(module, name), type(sys)) and f"{module_name}.{name}" not in ids:
                undocumented.append(f"{module_name}.{name}")
    assert not undocumented, f"in __all__ but on no API page: {undocumented}"


def test_api_pages_show_shapes_defaults_and_differences(site):
    layers = _text(site / "api" / "layers.html")
    for documented in ("LSTM(units, *, activation='tanh', recurrent_activation='sigmoid'", "recurrent_kernel",
                       "peephole_kernel (3, units)", "reset_after", "bias (2, 3*units)", "Keras 3 drops"):
        assert documented in layers.replace('"', "'"), documented
    models = _text(site / "api" / "models.html")
    assert all(name in models for name in ("compile(", "fit(", "evaluate(", "predict(", "trace(", "summary("))
    assert 'convention="torch"' in _text(site / "api" / "optimizers.html").replace("'", '"')
    assert "from_torch" in _text(site / "api" / "conversion.html")
    assert "GradcheckError" in _text(site / "api" / "gradcheck.html")


def _words(text):
    return " ".join(text.split())


def _expected_fragments(output):
    """What a stored output must show on the page: its first clean line of text (a stream or
    plain text), or the start of its HTML's text; None for a plot (counted apart)."""
    data = output.get("data", {})
    if "image/png" in data:
        return None
    if "text/html" in data:
        return _words(html.unescape(re.sub(r"<[^>]+>", " ", "".join(data["text/html"]))))[:40]
    text = "".join(output.get("text", data.get("text/plain", "")))
    clean = [line for line in text.splitlines() if line.strip() and not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", line)]
    return _words(clean[0]) if clean else None


def test_each_notebook_is_rendered_with_its_stored_outputs(site):
    assert NOTEBOOKS
    for notebook in NOTEBOOKS:
        page = site / "examples" / f"{notebook.stem}.html"
        assert page.exists(), f"{notebook.name} was not rendered"
        cells = json.loads(notebook.read_text())["cells"]
        outputs = [output for cell in cells if cell["cell_type"] == "code" for output in cell.get("outputs", [])]
        assert outputs, f"{notebook.name} has no stored outputs"
        images = sum("image/png" in output.get("data", {}) for output in outputs)
        assert page.read_text().count("<img") >= images, f"{notebook.name}: its plots are missing"
        shown = _words(html.unescape(re.sub(r"<[^>]+>", " ", page.read_text())))
        for fragment in filter(None, map(_expected_fragments, outputs)):
            assert fragment in shown, f"{notebook.name}: its stored output {fragment!r} is missing"


def test_coming_from_pages_and_install_page(site):
    keras = _text(site / "coming_from_keras.html")
    for expected in ("save_keras_model", "softmax", "peephole=False", "reset_after=True", "zero_output_for_mask=False",
                     "Known differences"):
        assert expected in keras, expected
    torch = _text(site / "coming_from_pytorch.html")
    for expected in ("set_torch_layer_weights", "torch_layer_weights", "torch_init", "i, f, g, o", "r, z, n",
                     "bias_ih", "batch_first", 'convention="torch"', "gradcheck"):
        assert expected in torch.replace("'", '"'), expected
    assert (site / "install.html").exists() and (site / "api" / "index.html").exists()


def _run_python_blocks(page, tmp_path, monkeypatch):
    """Runs the page's ```python blocks (and the new side of its ```diff blocks) in one namespace,
    then the test_* functions they define; returns the namespace."""
    text = page.read_text()
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    for diff in re.findall(r"```diff\n(.*?)```", text, flags=re.S):
        code.append("\n".join(line[1:] for line in diff.splitlines() if line[:1] in (" ", "+")))
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs.{page.stem}"}
    exec(compile("\n".join(code), str(page), "exec"), namespace)
    for name, function in list(namespace.items()):
        if name.startswith("test_") and callable(function):
            function()
    return namespace


@pytest.mark.parametrize("page", PAGES, ids=[page.stem for page in PAGES])
def test_code_of_the_pages_runs(page, tmp_path, monkeypatch):
    namespace = _run_python_blocks(page, tmp_path, monkeypatch)
    if page.stem == "coming_from_keras":
        assert namespace["model"].layers[0].count_params() == 2560  # the count the page gives
        assert set(namespace["history"].history) == {"loss", "mae", "val_loss", "val_mae"}
    if page.stem == "coming_from_pytorch":
        assert namespace["torch_kwargs"]["num_layers"] == 2 and namespace["torch_kwargs"]["bidirectional"]
        assert namespace["outputs_time_major"].shape == (7, 2, 4)
        assert {"test_lstm_layer_gradients", "test_masked_model_gradients", "test_my_cell_gradients"} <= set(namespace)


def test_install_page_lists_every_extra():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    install = (DOCS / "install.md").read_text()
    assert [name for name in extras if f"| `{name}` |" not in install] == [], "install.md lacks extras"


def test_install_page_and_readme_give_the_same_commands():
    readme, install = (ROOT / "README.md").read_text(), (DOCS / "install.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", install, flags=re.S)
    assert len(commands) == 3
    for command in commands[:2]:
        assert command in readme, f"README.md lacks {command!r}"
    section = re.search(r"## Documentation\n(.*?)(\n## |\Z)", readme, flags=re.S)
    assert section is not None, "README.md has no Documentation section"
    assert "sphinx -W --keep-going -b html docs docs/_build/html" in section.group(1)
