"""The notebooks in examples/ run top to bottom in a fresh kernel (with the small settings of
RNNKIT_EXAMPLES_QUICK=1), and are stored with the outputs of a complete run."""

import os
from pathlib import Path

import pytest

import rnnkit

pytestmark = pytest.mark.slow  # runs every notebook in a kernel

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_there_are_the_six_stories():
    assert [path.stem[:2] for path in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06"]


@pytest.fixture
def kernel_name(tmp_path, monkeypatch):
    """A kernel spec running this very interpreter, found before any other on JUPYTER_PATH,
    and importing the rnnkit under test (an installed one, or the source tree's)."""
    kernelspec.write_kernel_spec(tmp_path / "kernels" / "rnnkit-tests")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    package_parent = str(Path(rnnkit.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
    return "rnnkit-tests"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, kernel_name, tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_EXAMPLES_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, kernel_name=kernel_name, timeout=300, record_timing=False,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_stored_with_the_outputs_of_one_complete_run(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))  # in order, from a fresh kernel
    outputs = [output for cell in code for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs)
