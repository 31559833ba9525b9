"""Committed notebooks carry no outputs: `make lint` fails on any output or execution count.

Outputs in git make diffs unreadable, bloat the history and can leak data from whichever
database the author ran them on; CI executes the notebooks itself
(tests/integration/test_notebooks.py). Strip a notebook before committing with
`python scripts/check_notebooks.py --strip notebooks/*.ipynb`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _read(path: Path) -> dict[str, Any]:
    notebook: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return notebook


def problems(path: Path) -> list[str]:
    """What is not stripped in one notebook (empty: clean)."""
    found = []
    for index, cell in enumerate(_read(path)["cells"]):
        if cell["cell_type"] != "code":
            continue
        if cell.get("outputs"):
            found.append(f"{path.name}: cell {index} has outputs")
        if cell.get("execution_count") is not None:
            found.append(f"{path.name}: cell {index} has an execution count")
    return found


def strip(path: Path) -> None:
    """Remove every output and execution count, in place (Jupyter's own JSON layout)."""
    notebook = _read(path)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    text = json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Check (or with --strip, clean) the given notebooks, by default all of notebooks/."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strip", action="store_true", help="clean the notebooks in place")
    parser.add_argument("paths", nargs="*", type=Path)
    options = parser.parse_args(argv)
    paths = options.paths or sorted(NOTEBOOKS.glob("*.ipynb"))
    if options.strip:
        for path in paths:
            strip(path)
        return 0
    found = [problem for path in paths for problem in problems(path)]
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        print("strip them: python scripts/check_notebooks.py --strip", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
