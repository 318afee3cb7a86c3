"""``docs/quickstart.ipynb`` runs top to bottom against the live server (nbclient, a
real IPython kernel in this venv). The repository keeps it without outputs; the
executed copy goes to ``$QUANTRUN_TEST_OUTPUT`` (``.test-output/`` under ``make test``)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[3] / "docs" / "quickstart.ipynb"


def test_the_quickstart_runs_end_to_end(url: str, key: str, tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), (
        "docs/quickstart.ipynb is kept with its outputs stripped"
    )

    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()  # raises CellExecutionError, naming the cell, on any error

    out = Path(os.environ.get("QUANTRUN_TEST_OUTPUT") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out / "quickstart.ipynb")

    kinds = [{k for o in cell.outputs for k in o.get("data", {})} for cell in code]
    chain_table = code[1].outputs[-1]["data"]["text/html"]
    assert chain_table.count("<tr") == 6  # the header and one row per strike
    assert "text/html" in kinds[2] and "succeeded" in code[2].outputs[-1]["data"]["text/html"]
    assert "image/png" in kinds[4]  # the equity chart was drawn
    assert (tmp_path / "quickstart-report.html").stat().st_size > 10_000
